"""Tests for phase1/tracking_basics: one run with params, metrics, a model and artifacts.

Each test calls your functions in a fresh MLflow store and reads back what they logged.
"""

import json

import mlflow
import pandas as pd
import pytest
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import accuracy_score, f1_score

from checks import state

EXPERIMENT = "iris-forest"
# Values that differ from the defaults, so logging fixed numbers is caught. With this seed
# and depth, macro F1 on the test split (0.8977) differs from accuracy (0.9).
ARGUMENTS = {"n_estimators": 20, "max_depth": 2, "random_state": 31}
FEATURES = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]


def trained_run(solution, mlflow_snapshot):
    """Call train_and_log and read back the run it logged.

    The call runs once per module; later tests start from a copy of the store it left.
    """
    run_id = mlflow_snapshot.run_once(
        "train_and_log", lambda: solution.train_and_log(EXPERIMENT, **ARGUMENTS)
    )
    return state.run_from_id(run_id, returned_by="train_and_log")


@pytest.fixture
def splits(solution):
    return solution.load_iris_splits(ARGUMENTS["random_state"])


def predictions_of_logged_model(run, features: pd.DataFrame):
    model = state.single_logged_model(run, name="model")
    return mlflow.pyfunc.load_model(model.model_uri).predict(features)


def forest_test_predictions(splits):
    """Predict the test split with a forest trained as the kata describes."""
    forest = RandomForestClassifier(**ARGUMENTS).fit(splits.X_train, splits.y_train)
    return forest.predict(splits.X_test)


@pytest.mark.task(1)
def test_returns_id_of_finished_run(solution, mlflow_snapshot):
    run = trained_run(solution, mlflow_snapshot)

    state.assert_run_finished(run)


@pytest.mark.task(1)
def test_run_is_only_run_in_named_experiment(solution, mlflow_snapshot):
    run = trained_run(solution, mlflow_snapshot)

    runs = state.experiment_runs(EXPERIMENT)

    state.assert_same_values(
        f"The runs in experiment {EXPERIMENT!r} and the run returned",
        [run.info.run_id],
        [logged.info.run_id for logged in runs],
        why="train_and_log must log exactly one run, in the experiment it was given.",
    )


@pytest.mark.task(1)
def test_second_call_adds_run_to_same_experiment(solution, mlflow_snapshot):
    first = trained_run(solution, mlflow_snapshot)

    try:
        second_id = solution.train_and_log(EXPERIMENT, **ARGUMENTS)
    except Exception as error:  # noqa: BLE001 (the failure is the learner's to see)
        state.fail(
            f"A second call of train_and_log({EXPERIMENT!r}, ...) raised {error!r}.",
            expected="a second run in the existing experiment",
            why="mlflow.set_experiment selects an existing experiment or creates a missing one; "
            "mlflow.create_experiment fails when the name is taken.",
        )

    state.assert_same_values(
        f"The runs in experiment {EXPERIMENT!r} after two calls",
        sorted([first.info.run_id, second_id]),
        sorted(logged.info.run_id for logged in state.experiment_runs(EXPERIMENT)),
        why="Each call must log one new run into the same experiment.",
    )


@pytest.mark.task(2)
def test_hyperparameters_logged_as_params(solution, mlflow_snapshot):
    run = trained_run(solution, mlflow_snapshot)

    state.assert_params(run, ARGUMENTS)


@pytest.mark.task(3)
def test_accuracy_is_on_test_split(solution, mlflow_snapshot, splits):
    run = trained_run(solution, mlflow_snapshot)

    expected = accuracy_score(splits.y_test, forest_test_predictions(splits))

    state.assert_metric_close(
        run,
        "accuracy",
        expected,
        meaning="the accuracy on the test split of a forest trained with the given arguments",
    )


@pytest.mark.task(3)
def test_f1_is_macro_average_on_test_split(solution, mlflow_snapshot, splits):
    run = trained_run(solution, mlflow_snapshot)

    expected = f1_score(splits.y_test, forest_test_predictions(splits), average="macro")

    state.assert_metric_close(
        run,
        "f1_macro",
        expected,
        meaning="the macro-averaged F1 (average='macro') on the test split",
    )


@pytest.mark.task(4)
def test_model_is_logged_model_of_run(solution, mlflow_snapshot):
    run = trained_run(solution, mlflow_snapshot)

    model = state.single_logged_model(run, name="model")

    assert model.source_run_id == run.info.run_id, (
        f"The LoggedModel {model.model_id} names run {model.source_run_id} as its source, "
        f"not {run.info.run_id}. Log the model inside the training run."
    )


@pytest.mark.task(4)
def test_logged_model_uses_given_hyperparameters(solution, mlflow_snapshot):
    run = trained_run(solution, mlflow_snapshot)

    model = state.single_logged_model(run, name="model")
    forest = mlflow.sklearn.load_model(model.model_uri)

    trained_with = {name: forest.get_params().get(name) for name in ARGUMENTS}
    if trained_with != ARGUMENTS:
        state.fail(
            "The logged forest was not trained with the arguments of train_and_log.",
            expected=ARGUMENTS,
            actual=trained_with,
            why="Pass n_estimators, max_depth and random_state to RandomForestClassifier, "
            "so the params you log describe the model you log.",
        )


@pytest.mark.task(4)
def test_model_signature_lists_feature_columns(solution, mlflow_snapshot):
    run = trained_run(solution, mlflow_snapshot)

    model = state.single_logged_model(run, name="model")
    info = mlflow.models.get_model_info(model.model_uri)

    if info.signature is None:
        state.fail(
            "The logged model has no signature.",
            expected=f"inputs {FEATURES}",
            actual="signature None",
            why="Pass signature=infer_signature(X, predictions) or an input example to log_model.",
        )
    state.assert_same_values(
        "The signature's input columns and the iris features",
        FEATURES,
        info.signature.inputs.input_names(),
    )


@pytest.mark.task(4)
def test_model_has_input_example(solution, mlflow_snapshot):
    run = trained_run(solution, mlflow_snapshot)

    model = state.single_logged_model(run, name="model")
    info = mlflow.models.get_model_info(model.model_uri)

    if info.saved_input_example_info is None:
        state.fail(
            "The logged model has no input example.",
            expected="log_model(..., input_example=X_train.head(5))",
            actual="no input_example.json in the model",
            why="An input example shows users of the model what a request looks like.",
        )


@pytest.mark.task(5)
def test_summary_describes_training_features(solution, mlflow_snapshot, splits):
    run = trained_run(solution, mlflow_snapshot)

    path = state.download_artifact(run, "exploration/summary.json")
    summary = json.loads(path.read_text())

    state.assert_same_values("The features in summary.json", sorted(FEATURES), sorted(summary))
    for feature in FEATURES:
        for statistic in ("mean", "std", "min", "max"):
            if statistic not in summary[feature]:
                state.fail(
                    f"summary.json has no {statistic!r} for {feature!r}.",
                    expected="mean, std, min and max per feature",
                    actual=f"{feature}: {state.names(summary[feature])}",
                )
        expected_mean = splits.X_train[feature].mean()
        if summary[feature]["mean"] != pytest.approx(expected_mean, rel=1e-6):
            state.fail(
                f"The mean of {feature!r} in summary.json is not the training split's.",
                expected=f"{expected_mean:.6g} (the mean over X_train)",
                actual=summary[feature]["mean"],
                why="Explore the training data only: statistics of the test rows leak them.",
            )


@pytest.mark.task(5)
def test_feature_plot_is_png_with_content(solution, mlflow_snapshot):
    run = trained_run(solution, mlflow_snapshot)

    path = state.download_artifact(run, "exploration/feature_distributions.png")

    state.assert_png(path)


@pytest.mark.task(6)
def test_run_carries_dataset_and_model_tags(solution, mlflow_snapshot):
    run = trained_run(solution, mlflow_snapshot)

    state.assert_tags(run, {"dataset": "iris", "model_type": "random_forest"})


@pytest.mark.task(8)
def test_holdout_scores_logged_on_same_run(solution, mlflow_snapshot):
    run = trained_run(solution, mlflow_snapshot)

    solution.evaluate_logged_model(run.info.run_id, random_state=ARGUMENTS["random_state"])

    all_runs = mlflow.search_runs(search_all_experiments=True, output_format="list")
    state.assert_same_values(
        "The runs in the store before and after the evaluation",
        [run.info.run_id],
        [logged.info.run_id for logged in all_runs],
        why="Resume the training run with mlflow.start_run(run_id=...), not a new run.",
    )
    after = mlflow.get_run(run.info.run_id)
    state.assert_metric_names(after, ["holdout_accuracy", "holdout_f1_macro"])


@pytest.mark.task(7)
def test_holdout_scores_come_from_loaded_model(solution, splits):
    # A run whose model always predicts class 0 scores 1/3 on the balanced holdout split. A
    # function that retrains a forest instead of loading this model scores far higher.
    # start_run(experiment_id=...) leaves the active experiment unset, as it is when a
    # learner calls evaluate_logged_model on a run made earlier.
    experiment_id = mlflow.MlflowClient().create_experiment(EXPERIMENT)
    with mlflow.start_run(experiment_id=experiment_id) as constant_run:
        constant = DummyClassifier(strategy="constant", constant=0).fit(
            splits.X_train, splits.y_train
        )
        mlflow.sklearn.log_model(constant, name="model", input_example=splits.X_train.head(2))

    scores = solution.evaluate_logged_model(
        constant_run.info.run_id, random_state=ARGUMENTS["random_state"]
    )

    expected = accuracy_score(splits.y_holdout, constant.predict(splits.X_holdout))
    if not isinstance(scores, dict) or scores.get("holdout_accuracy") != pytest.approx(expected):
        state.fail(
            "evaluate_logged_model did not score the model that the run logged.",
            expected=f"holdout_accuracy={expected:.4g} for a model that always predicts class 0",
            actual=scores,
            why="Load the run's LoggedModel with mlflow.pyfunc.load_model(model.model_uri).",
        )


@pytest.mark.task(8)
def test_returned_scores_match_logged_metrics(solution, mlflow_snapshot, splits):
    run = trained_run(solution, mlflow_snapshot)

    scores = solution.evaluate_logged_model(run.info.run_id, random_state=ARGUMENTS["random_state"])

    predictions = predictions_of_logged_model(run, splits.X_holdout)
    expected = {
        "holdout_accuracy": accuracy_score(splits.y_holdout, predictions),
        "holdout_f1_macro": f1_score(splits.y_holdout, predictions, average="macro"),
    }
    state.assert_same_values("The returned score names", sorted(expected), sorted(scores or {}))
    after = mlflow.get_run(run.info.run_id)
    for name, value in expected.items():
        state.assert_metric_close(after, name, value, meaning=f"{name} of the logged model")
        assert scores[name] == pytest.approx(value, rel=1e-6), (
            f"evaluate_logged_model returned {name}={scores[name]}, "
            f"but the logged model scores {value:.6g}."
        )


@pytest.mark.task(8)
def test_holdout_predictions_logged_as_csv(solution, mlflow_snapshot, splits):
    run = trained_run(solution, mlflow_snapshot)

    solution.evaluate_logged_model(run.info.run_id, random_state=ARGUMENTS["random_state"])

    path = state.download_artifact(run, "evaluation/holdout_predictions.csv")
    table = pd.read_csv(path)

    state.assert_same_values(
        "The columns of holdout_predictions.csv",
        [*FEATURES, "target", "prediction"],
        list(table.columns),
    )
    state.assert_same_values(
        "The target column and the holdout labels, row by row,",
        splits.y_holdout.tolist(),
        table["target"].tolist(),
        why="Keep the holdout rows in their order so each prediction sits beside its label.",
    )
    state.assert_same_values(
        "The prediction column and the logged model's holdout predictions, row by row,",
        predictions_of_logged_model(run, splits.X_holdout).tolist(),
        table["prediction"].tolist(),
        why="The prediction column holds what the loaded model predicted for each row.",
    )
