"""Tests for phase1/classification_metrics: per-class metrics, a confusion matrix, ROC and
learning curves, and mlflow.models.evaluate on one wine classifier.

Each test calls your functions in a fresh MLflow store and reads back what they logged.
"""

import json
import math

import matplotlib.image
import mlflow
import numpy as np
import pytest
from mlflow.entities import Run
from mlflow.tracking import MlflowClient
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    precision_recall_fscore_support,
    roc_auc_score,
)
from sklearn.model_selection import learning_curve
from sklearn.naive_bayes import GaussianNB
from sklearn.preprocessing import label_binarize

from checks import state

# MLflow 3.17's evaluation dataset calls DataFrame.drop(..., inplace=False), which pandas 3.1
# deprecates. The warning is about MLflow's code, not the learner's.
pytestmark = pytest.mark.filterwarnings("ignore:The inplace keyword in DataFrame.drop")

EXPERIMENT = "wine-metrics"
# A seed other than the default 42, so code that ignores random_state is caught. With
# scikit-learn 1.9 the forest of this seed gets 48 of the 54 test wines right and its mistakes
# fall in four cells of the confusion matrix, which is not symmetric. Its macro averages then
# differ from the micro and weighted ones, and the AUCs of its probabilities differ from those
# of its hard predictions.
SEED = 7
CLASS_NAMES = ("class_0", "class_1", "class_2")
CODES = [0, 1, 2]
MACRO_METRICS = ["precision_macro", "recall_macro", "f1_macro"]
CONFUSION_MATRIX_JSON = "confusion_matrix.json"
CONFUSION_MATRIX_PLOT = "plots/confusion_matrix.png"
ROC_CURVES_PLOT = "plots/roc_curves.png"
LEARNING_CURVE_PLOT = "plots/learning_curve.png"
LEARNING_CURVE_SIZES = (0.25, 0.5, 1.0)
LEARNING_CURVE_FOLDS = 3
LEARNING_CURVE_METRICS = {
    "learning_curve_train_accuracy": "training",
    "learning_curve_validation_accuracy": "validation",
}
MODEL_NAME = "model"
WINE_FEATURES_COUNT = 13
# What mlflow.models.evaluate logs for a multiclass classifier with predict_proba (MLflow 3.17).
EVALUATE_METRICS = [
    "accuracy_score",
    "precision_score",
    "recall_score",
    "f1_score",
    "roc_auc",
    "log_loss",
    "example_count",
]
EVALUATE_ARTIFACTS = ["confusion_matrix.png", "per_class_metrics.csv", "roc_curve_plot.png"]
MLFLOW_METRIC_NAMES = {
    "precision_macro": "precision_score",
    "recall_macro": "recall_score",
    "f1_macro": "f1_score",
    "roc_auc_macro": "roc_auc",
}
AGREEMENT_TAG = "mlflow_evaluate_agrees"

# Made-up labels for tasks 1 and 2. The class names are not in alphabetical order, class 2
# comes first in Y_TRUE, and the mistakes make the matrix asymmetric and the macro averages of
# precision, recall and F1 differ from the micro and weighted ones.
LEVELS = ("low", "medium", "high")
Y_TRUE = np.array([2, 0, 0, 1, 0, 2, 0, 1, 0, 0, 1, 2])
Y_PRED = np.array([2, 0, 1, 1, 0, 2, 0, 0, 0, 0, 2, 0])


# -- shared helpers ----------------------------------------------------------------------------


def run_logged_by(call) -> str:
    """Start a run, call the learner's function inside it, and return the run's id."""
    with mlflow.start_run() as run:
        call()
    return run.info.run_id


def helper_run(mlflow_snapshot, key: str, call) -> Run:
    """Return the run that one call of a learner's logging function filled.

    The call runs once per module, and later tests start from a copy of the store it left.
    """
    run_id = mlflow_snapshot.run_once(key, lambda: run_logged_by(call))
    return MlflowClient().get_run(run_id)


def download_json(run: Run, path: str) -> dict:
    """Download a JSON artifact of a run and parse it, failing clearly on other content."""
    text = state.download_artifact(run, path).read_text(encoding="utf-8")
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        state.fail(
            f"{path} is not valid JSON: {error}.",
            expected='{"labels": [...], "matrix": [[...], ...]}',
            actual=text[:200],
            why="mlflow.log_dict(dictionary, path) writes a dict as JSON.",
        )
    raise AssertionError("unreachable")


def assert_plot_drawn(run: Run, path: str) -> None:
    """Check that a logged plot is a PNG with data drawn in it, not only an empty frame.

    Matplotlib draws lines, markers and colour maps in colour by default, while axes, ticks
    and text are black on white. A plot counts as drawn when at least 0.1% of its pixels are
    coloured, or when a tenth of it is dark, as a heat map in greys is.
    """
    local = state.download_artifact(run, path)
    state.assert_png(local)
    pixels = matplotlib.image.imread(local)[..., :3]
    coloured = float((pixels.max(axis=2) - pixels.min(axis=2) > 0.2).mean())
    dark = float((pixels.min(axis=2) < 0.9).mean())
    if coloured < 0.001 and dark < 0.1:
        state.fail(
            f"{path} shows axes with nothing drawn in them.",
            expected="curves, markers or matrix cells drawn inside the axes",
            actual=f"{coloured:.2%} coloured pixels, {dark:.1%} dark pixels",
            why=(
                "A scikit-learn display or a pyplot call without ax= draws on a figure of its "
                "own. Pass ax=axes, the axes of the figure you give to mlflow.log_figure, or "
                "call axes.plot(...) on them."
            ),
        )


def describe_metrics(run: Run, names) -> str:
    return ", ".join(f"{name}={run.data.metrics.get(name, 'missing')}" for name in names)


@pytest.fixture
def split(solution):
    return solution.load_wine_split(SEED)


def fitted_forest(solution, split):
    """Fit the kata's forest on the training split, as evaluate_classifier does."""
    return solution.build_model(SEED).fit(split.X_train, split.y_train)


# -- task 1: precision, recall and F1 per class and macro-averaged -----------------------------


def scored_run(solution, mlflow_snapshot) -> Run:
    return helper_run(
        mlflow_snapshot,
        "log_precision_recall_f1",
        lambda: solution.log_precision_recall_f1(Y_TRUE, Y_PRED, LEVELS),
    )


@pytest.mark.task(1)
def test_per_class_metrics_named_by_class(solution, mlflow_snapshot):
    run = scored_run(solution, mlflow_snapshot)

    expected = [f"{metric}_{name}" for metric in ("precision", "recall", "f1") for name in LEVELS]
    by_code = [f"precision_{code}" for code in CODES if f"precision_{code}" in run.data.metrics]
    if by_code:
        state.fail(
            f"The run logged {state.names(by_code)}, named by class code.",
            expected=f"metrics {state.names(expected)}",
            actual=f"metrics {state.names(run.data.metrics)}",
            why=(
                "Name each metric after the class: class_names[code]. Codes mean nothing in the "
                "UI or in a search, and they change when the classes are encoded differently."
            ),
        )
    state.assert_metric_names(run, expected)


@pytest.mark.task(1)
def test_per_class_metrics_match_labels(solution, mlflow_snapshot):
    run = scored_run(solution, mlflow_snapshot)

    precision, recall, f1, _ = precision_recall_fscore_support(
        Y_TRUE, Y_PRED, labels=CODES, zero_division=0
    )
    for code, name in enumerate(LEVELS):
        for metric, values in (("precision", precision), ("recall", recall), ("f1", f1)):
            state.assert_metric_close(
                run,
                f"{metric}_{name}",
                float(values[code]),
                meaning=(
                    f"the {metric} of the class {name!r} (code {code}, the positive class "
                    "against all others)"
                ),
            )


@pytest.mark.task(1)
def test_macro_metrics_average_classes(solution, mlflow_snapshot):
    run = scored_run(solution, mlflow_snapshot)

    state.assert_metric_names(run, MACRO_METRICS)
    averages = {
        average: precision_recall_fscore_support(
            Y_TRUE, Y_PRED, labels=CODES, average=average, zero_division=0
        )[:3]
        for average in ("macro", "micro", "weighted")
    }
    for index, name in enumerate(MACRO_METRICS):
        logged = run.data.metrics[name]
        expected = float(averages["macro"][index])
        if math.isclose(logged, expected, rel_tol=1e-6):
            continue
        matching = [
            average
            for average in ("micro", "weighted")
            if math.isclose(logged, averages[average][index], rel_tol=1e-6)
        ]
        average_note = f", which is the {matching[0]} average" if matching else ""
        state.fail(
            f"Metric {name} is {logged:.6g}{average_note}, but the macro average is "
            f"{expected:.6g}.",
            expected=f"{name}={expected:.6g}, the unweighted mean over the three classes",
            actual=f"{name}={logged:.6g}",
            why=(
                "The micro average pools every row, so it equals the accuracy, and the weighted "
                "average weighs each class by its rows. Both hide a small class that the model "
                "gets wrong. Pass average='macro'."
            ),
        )


# -- task 2: the confusion matrix as JSON and as a picture ------------------------------------


def confusion_run(solution, mlflow_snapshot) -> Run:
    return helper_run(
        mlflow_snapshot,
        "log_confusion_matrix",
        lambda: solution.log_confusion_matrix(Y_TRUE, Y_PRED, LEVELS),
    )


def confusion_document(run: Run) -> dict:
    """Read the confusion matrix JSON, failing when a key is missing."""
    document = download_json(run, CONFUSION_MATRIX_JSON)
    missing = [key for key in ("labels", "matrix") if key not in document]
    if missing:
        state.fail(
            f"{CONFUSION_MATRIX_JSON} has no key {state.names(missing)}.",
            expected='{"labels": [...], "matrix": [[...], ...]}',
            actual=f"keys {state.names(document)}",
        )
    return document


@pytest.mark.task(2)
def test_confusion_json_lists_labels_in_code_order(solution, mlflow_snapshot):
    run = confusion_run(solution, mlflow_snapshot)

    labels = confusion_document(run)["labels"]

    state.assert_same_values(
        f"The labels in {CONFUSION_MATRIX_JSON} and the class names in code order",
        list(LEVELS),
        labels,
        why=(
            "The labels name the rows and columns of the matrix, so they must be class_names "
            "in code order, the order of confusion_matrix(..., labels=[0, 1, 2]). Sorted names "
            "or the order in which classes first appear in y_true describe another matrix."
        ),
    )


@pytest.mark.task(2)
def test_confusion_matrix_rows_are_true_classes(solution, mlflow_snapshot):
    run = confusion_run(solution, mlflow_snapshot)

    matrix = confusion_document(run)["matrix"]
    expected = confusion_matrix(Y_TRUE, Y_PRED, labels=CODES).tolist()

    if matrix == expected:
        return
    if matrix == np.array(expected).T.tolist():
        state.fail(
            "The matrix is transposed, so its rows count the predicted classes.",
            expected=f"{expected} (row i: the rows whose true class is labels[i])",
            actual=matrix,
            why="confusion_matrix takes the true labels first: confusion_matrix(y_true, y_pred).",
        )
    state.fail(
        f"The matrix in {CONFUSION_MATRIX_JSON} does not match its labels. Its rows and columns "
        "are in another order than the labels.",
        expected=(
            f"{expected} (row i: true class {list(LEVELS)}[i]; column j: predicted class "
            f"{list(LEVELS)}[j])"
        ),
        actual=matrix,
        why=(
            "Pass labels=list(range(len(class_names))) to confusion_matrix, so its rows and "
            "columns follow the class codes whatever order the classes appear in."
        ),
    )


@pytest.mark.task(2)
def test_confusion_plot_is_drawn(solution, mlflow_snapshot):
    run = confusion_run(solution, mlflow_snapshot)

    assert_plot_drawn(run, CONFUSION_MATRIX_PLOT)


# -- task 3: one-vs-rest ROC AUC from probabilities -------------------------------------------


def roc_run(solution, mlflow_snapshot, split) -> Run:
    def call():
        model = fitted_forest(solution, split)
        solution.log_roc_curves(model, split.X_test, split.y_test, CLASS_NAMES)

    return helper_run(mlflow_snapshot, "log_roc_curves", call)


def hard_prediction_note(logged: float, hard: float) -> str:
    if math.isclose(logged, hard, rel_tol=1e-6):
        return (
            f" It equals the AUC of the hard predictions ({hard:.6g}). Score predict_proba's "
            "column of the class, not the predicted labels."
        )
    return ""


@pytest.mark.task(3)
def test_roc_auc_named_by_class(solution, mlflow_snapshot, split):
    run = roc_run(solution, mlflow_snapshot, split)

    state.assert_metric_names(run, [*(f"roc_auc_{name}" for name in CLASS_NAMES), "roc_auc_macro"])


@pytest.mark.task(3)
def test_roc_auc_per_class_from_probabilities(solution, mlflow_snapshot, split):
    run = roc_run(solution, mlflow_snapshot, split)

    model = fitted_forest(solution, split)
    probabilities = model.predict_proba(split.X_test)
    predictions = model.predict(split.X_test)
    y_true = split.y_test.to_numpy()
    for code, name in enumerate(CLASS_NAMES):
        metric = f"roc_auc_{name}"
        state.assert_metric_names(run, [metric])
        logged = run.data.metrics[metric]
        expected = roc_auc_score(y_true == code, probabilities[:, code])
        if math.isclose(logged, expected, rel_tol=1e-6):
            continue
        hard = roc_auc_score(y_true == code, predictions == code)
        state.fail(
            f"Metric {metric} is {logged:.6g}, but the one-vs-rest AUC of the class's "
            f"predicted probabilities is {expected:.6g}.{hard_prediction_note(logged, hard)}",
            expected=f"{metric}={expected:.6g}",
            actual=f"{metric}={logged:.6g}",
            why=(
                "AUC measures how well a score ranks the rows of a class above the others, over "
                "every threshold. A hard prediction is 0 or 1, so it gives one point of the "
                "curve and the area under two straight lines."
            ),
        )


@pytest.mark.task(3)
def test_roc_auc_macro_is_one_vs_rest(solution, mlflow_snapshot, split):
    run = roc_run(solution, mlflow_snapshot, split)

    model = fitted_forest(solution, split)
    y_true = split.y_test.to_numpy()
    expected = roc_auc_score(
        y_true, model.predict_proba(split.X_test), multi_class="ovr", average="macro"
    )
    hard = roc_auc_score(
        y_true,
        label_binarize(model.predict(split.X_test), classes=CODES),
        multi_class="ovr",
        average="macro",
    )

    state.assert_metric_names(run, ["roc_auc_macro"])
    logged = run.data.metrics["roc_auc_macro"]
    if not math.isclose(logged, expected, rel_tol=1e-6):
        state.fail(
            f"Metric roc_auc_macro is {logged:.6g}, but the macro average of the one-vs-rest "
            f"AUCs of the predicted probabilities is {expected:.6g}."
            + hard_prediction_note(logged, hard),
            expected=f"roc_auc_macro={expected:.6g}",
            actual=f"roc_auc_macro={logged:.6g}",
            why=(
                "roc_auc_score(y_true, model.predict_proba(X), multi_class='ovr', "
                "average='macro') gives it in one call."
            ),
        )


@pytest.mark.task(3)
def test_roc_plot_is_drawn(solution, mlflow_snapshot, split):
    run = roc_run(solution, mlflow_snapshot, split)

    assert_plot_drawn(run, ROC_CURVES_PLOT)


# -- task 4: the learning curve as metric histories and a picture ----------------------------


def curve_model():
    """Return the classifier the task 4 tests hand to log_learning_curve.

    Naive Bayes fits in about a millisecond, so the tests can compute the expected curve
    themselves. It is not the kata's forest, so a function that ignores its model argument
    logs other scores.
    """
    return GaussianNB()


def expected_learning_curve(split) -> tuple[list[int], dict[str, list[float]]]:
    """Return the training sizes and the mean scores by metric name of the tests' curve."""
    sizes, train_scores, validation_scores = learning_curve(
        curve_model(),
        split.X_train,
        split.y_train,
        train_sizes=LEARNING_CURVE_SIZES,
        cv=LEARNING_CURVE_FOLDS,
    )
    names = list(LEARNING_CURVE_METRICS)
    means = {
        names[0]: train_scores.mean(axis=1).tolist(),
        names[1]: validation_scores.mean(axis=1).tolist(),
    }
    return sizes.tolist(), means


def curve_run(solution, mlflow_snapshot, split) -> Run:
    return helper_run(
        mlflow_snapshot,
        "log_learning_curve",
        lambda: solution.log_learning_curve(curve_model(), split.X_train, split.y_train),
    )


def logged_history(run: Run, name: str) -> list[tuple[int, float]]:
    """Return a metric's (step, value) pairs in step order, failing if the run lacks it."""
    state.assert_metric_names(run, [name])
    return state.metric_history(run, name)


@pytest.mark.task(4)
def test_learning_curve_steps_are_training_sizes(solution, mlflow_snapshot, split):
    run = curve_run(solution, mlflow_snapshot, split)

    sizes, _ = expected_learning_curve(split)
    for name in LEARNING_CURVE_METRICS:
        steps = [step for step, _ in logged_history(run, name)]
        state.assert_same_values(
            f"The steps of metric {name} and the training sizes of the learning curve",
            sizes,
            steps,
            why=(
                "Log one value per training size with step= the number of training rows, the "
                f"sizes that learning_curve returns for train_sizes={LEARNING_CURVE_SIZES} and "
                f"cv={LEARNING_CURVE_FOLDS}. Another cv gives folds of another size."
            ),
        )


@pytest.mark.task(4)
def test_learning_curve_scores_average_folds(solution, mlflow_snapshot, split):
    run = curve_run(solution, mlflow_snapshot, split)

    sizes, means = expected_learning_curve(split)
    for name, scores in LEARNING_CURVE_METRICS.items():
        history = dict(logged_history(run, name))
        for size, expected in zip(sizes, means[name], strict=True):
            logged = history.get(size)
            if logged is None or not math.isclose(logged, expected, rel_tol=1e-6):
                state.fail(
                    f"Metric {name} at step {size} is {logged}, but the mean {scores} accuracy "
                    f"over the {LEARNING_CURVE_FOLDS} folds is {expected:.6g}.",
                    expected=", ".join(
                        f"step {step}: {value:.6g}"
                        for step, value in zip(sizes, means[name], strict=True)
                    ),
                    actual=", ".join(
                        f"step {step}: {value:.6g}" for step, value in sorted(history.items())
                    ),
                    why=(
                        "learning_curve returns one score per size and fold. Log the mean over "
                        "the folds (axis=1) of the training and of the validation scores."
                    ),
                )


@pytest.mark.task(4)
def test_learning_curve_plot_is_drawn(solution, mlflow_snapshot, split):
    run = curve_run(solution, mlflow_snapshot, split)

    assert_plot_drawn(run, LEARNING_CURVE_PLOT)


# -- task 5: one run with the model and every report ------------------------------------------


def evaluated(solution, mlflow_snapshot):
    """Call evaluate_classifier and return what it returned.

    The call runs once per module, and later tests start from a copy of the store it left.
    """
    return mlflow_snapshot.run_once(
        "evaluate_classifier", lambda: solution.evaluate_classifier(EXPERIMENT, random_state=SEED)
    )


def describe_runs(runs: list[Run]) -> str:
    if not runs:
        return "(no runs)"
    return "\n" + "\n".join(state.describe_run(run) for run in runs)


def evaluation_run(solution, mlflow_snapshot) -> Run:
    """Call evaluate_classifier and return the one run in its experiment."""
    evaluated(solution, mlflow_snapshot)
    runs = state.experiment_runs(EXPERIMENT)
    if len(runs) != 1:
        state.fail(
            f"The experiment {EXPERIMENT!r} has {len(runs)} runs, but evaluate_classifier "
            "logs everything in one run.",
            expected="1 run",
            actual=describe_runs(runs),
            why=(
                "mlflow.models.evaluate logs into the active run, and starts a run of its own "
                "when none is active. Call it inside the `with mlflow.start_run():` block."
            ),
        )
    return runs[0]


@pytest.mark.task(5)
def test_one_finished_run_in_experiment(solution, mlflow_snapshot):
    run = evaluation_run(solution, mlflow_snapshot)

    state.assert_run_finished(run)


@pytest.mark.task(5)
def test_run_logs_model_with_signature(solution, mlflow_snapshot):
    run = evaluation_run(solution, mlflow_snapshot)

    model = state.single_logged_model(run, name=MODEL_NAME)
    info = mlflow.models.get_model_info(model.model_uri)

    if info.signature is None or len(info.signature.inputs.input_names()) != WINE_FEATURES_COUNT:
        state.fail(
            "The LoggedModel has no signature listing the 13 wine features.",
            expected="signature=infer_signature(X_train, model.predict(X_train))",
            actual=f"signature {info.signature}",
            why=(
                "The signature records the columns the model accepts, and MLflow checks every "
                "input of the loaded model against it, the evaluation data included."
            ),
        )


@pytest.mark.task(5)
def test_run_holds_every_report(solution, mlflow_snapshot):
    run = evaluation_run(solution, mlflow_snapshot)

    state.assert_metric_names(
        run,
        [
            *(
                f"{metric}_{name}"
                for metric in ("precision", "recall", "f1", "roc_auc")
                for name in CLASS_NAMES
            ),
            *MACRO_METRICS,
            "roc_auc_macro",
            *LEARNING_CURVE_METRICS,
        ],
    )
    present = state.artifact_paths(run.info.run_id)
    expected = [CONFUSION_MATRIX_JSON, CONFUSION_MATRIX_PLOT, ROC_CURVES_PLOT, LEARNING_CURVE_PLOT]
    missing = [path for path in expected if path not in present]
    if missing:
        state.fail(
            f"The run has no artifact {state.names(missing)}.",
            expected=f"artifacts {state.names(expected)}",
            actual=f"artifacts {state.names(present)}",
            why="Call log_confusion_matrix, log_roc_curves and log_learning_curve in the run.",
        )


@pytest.mark.task(5)
def test_run_reports_describe_test_split(solution, mlflow_snapshot, split):
    run = evaluation_run(solution, mlflow_snapshot)

    model = fitted_forest(solution, split)
    predictions = model.predict(split.X_test)
    macro = precision_recall_fscore_support(
        split.y_test, predictions, labels=CODES, average="macro", zero_division=0
    )
    for name, expected in zip(MACRO_METRICS, macro[:3], strict=True):
        state.assert_metric_close(
            run,
            name,
            float(expected),
            meaning=(
                f"the {name} on the test split of build_model({SEED}) fitted on the training split"
            ),
        )
    state.assert_metric_close(
        run,
        "roc_auc_macro",
        roc_auc_score(
            split.y_test, model.predict_proba(split.X_test), multi_class="ovr", average="macro"
        ),
        meaning="the macro one-vs-rest AUC of the fitted forest's probabilities on the test split",
    )
    state.assert_same_values(
        f"The matrix in {CONFUSION_MATRIX_JSON} and the confusion matrix of the test split",
        confusion_matrix(split.y_test, predictions, labels=CODES).tolist(),
        confusion_document(run)["matrix"],
        why="Report on the test split, the rows the model never trained on.",
    )


@pytest.mark.task(5)
def test_run_learning_curve_on_training_split(solution, mlflow_snapshot, split):
    run = evaluation_run(solution, mlflow_snapshot)

    # The training sizes depend only on the number of rows, the sizes and the folds.
    sizes, _ = expected_learning_curve(split)
    for name in LEARNING_CURVE_METRICS:
        steps = [step for step, _ in logged_history(run, name)]
        state.assert_same_values(
            f"The steps of metric {name} and the training sizes of a learning curve on the "
            f"training split ({len(split.y_train)} rows)",
            sizes,
            steps,
            why=(
                "Pass the training split to log_learning_curve. Its cross-validation holds out "
                "folds of the training rows, so the test split stays unseen until the end."
            ),
        )


# -- task 6: mlflow.models.evaluate on the LoggedModel, in the same run ----------------------


def hand_macro_scores(solution, split) -> dict[str, float]:
    """Return the macro metrics of tasks 1 and 3 for the fitted forest on the test split."""
    model = fitted_forest(solution, split)
    predictions = model.predict(split.X_test)
    precision, recall, f1, _ = precision_recall_fscore_support(
        split.y_test, predictions, labels=CODES, average="macro", zero_division=0
    )
    auc = roc_auc_score(
        split.y_test, model.predict_proba(split.X_test), multi_class="ovr", average="macro"
    )
    return {
        "precision_macro": precision,
        "recall_macro": recall,
        "f1_macro": f1,
        "roc_auc_macro": auc,
    }


@pytest.mark.task(6)
def test_evaluate_logs_into_same_run(solution, mlflow_snapshot):
    run = evaluation_run(solution, mlflow_snapshot)

    missing = [name for name in EVALUATE_METRICS if name not in run.data.metrics]
    if missing:
        state.fail(
            f"The run has no metric {state.names(missing)}, which mlflow.models.evaluate logs "
            "for a classifier.",
            expected=f"metrics {state.names(EVALUATE_METRICS)}",
            actual=f"metrics {state.names(run.data.metrics)}",
            why=(
                "Call mlflow.models.evaluate(model_uri, data, targets='target', "
                "model_type='classifier', ...) inside the run. roc_auc and log_loss need "
                "predict_proba, which MLflow finds in a model given by its URI (or loaded as "
                "a PyFuncModel) but not in a plain function."
            ),
        )
    present = state.artifact_paths(run.info.run_id)
    missing = [path for path in EVALUATE_ARTIFACTS if path not in present]
    if missing:
        state.fail(
            f"The run has no artifact {state.names(missing)}, which mlflow.models.evaluate "
            "logs for a classifier.",
            expected=f"artifacts {state.names(EVALUATE_ARTIFACTS)}",
            actual=f"artifacts {state.names(present)}",
        )


@pytest.mark.task(6)
def test_evaluate_scores_test_split(solution, mlflow_snapshot, split):
    run = evaluation_run(solution, mlflow_snapshot)

    state.assert_metric_close(
        run,
        "example_count",
        len(split.y_test),
        meaning="the number of rows in the test split",
    )
    predictions = fitted_forest(solution, split).predict(split.X_test)
    state.assert_metric_close(
        run,
        "accuracy_score",
        accuracy_score(split.y_test, predictions),
        meaning="the accuracy of the logged forest on the test split",
    )


@pytest.mark.task(6)
def test_evaluate_uses_macro_average(solution, mlflow_snapshot, split):
    run = evaluation_run(solution, mlflow_snapshot)

    expected = hand_macro_scores(solution, split)
    wrong = {
        theirs: run.data.metrics.get(theirs)
        for ours, theirs in MLFLOW_METRIC_NAMES.items()
        if theirs not in run.data.metrics
        or not math.isclose(run.data.metrics[theirs], expected[ours], rel_tol=1e-6)
    }
    if wrong:
        state.fail(
            "MLflow's averaged metrics do not equal the macro averages of the test split.",
            expected=", ".join(
                f"{theirs}={expected[ours]:.6g}" for ours, theirs in MLFLOW_METRIC_NAMES.items()
            ),
            actual=describe_metrics(run, MLFLOW_METRIC_NAMES.values()),
            why=(
                "For more than two classes mlflow.models.evaluate averages with 'weighted' by "
                "default, which weighs each class by its number of rows. Pass "
                "evaluator_config={'average': 'macro'} to compare like with like."
            ),
        )


@pytest.mark.task(6)
def test_evaluate_metrics_linked_to_model(solution, mlflow_snapshot):
    run = evaluation_run(solution, mlflow_snapshot)

    model = state.single_logged_model(run, name=MODEL_NAME)
    linked = {metric.key for metric in mlflow.get_logged_model(model.model_id).metrics or []}

    missing = [name for name in EVALUATE_METRICS if name not in linked]
    if missing:
        state.fail(
            f"The LoggedModel {model.model_id} has no linked metric {state.names(missing)}.",
            expected=f"evaluation metrics {state.names(EVALUATE_METRICS)} on the model",
            actual=f"linked metrics {state.names(linked)}",
            why=(
                "Pass the model's URI (model_info.model_uri, models:/<model_id>) to "
                "mlflow.models.evaluate. MLflow 3 then links the evaluation metrics to the "
                "LoggedModel, so the model's page shows how it scored."
            ),
        )


# -- task 7: compare your metrics with MLflow's ----------------------------------------------

# A run as evaluate_classifier leaves it, with made-up values: the pairs differ by 0.05, 0,
# 0.08 (MLflow's value the larger) and 0.05.
LOGGED_PAIRS = {
    "precision_macro": 0.80,
    "precision_score": 0.75,
    "recall_macro": 0.70,
    "recall_score": 0.70,
    "f1_macro": 0.60,
    "f1_score": 0.68,
    "roc_auc_macro": 0.90,
    "roc_auc": 0.95,
    "accuracy_score": 0.50,
}
DIFFERENCES = {
    "precision_macro": 0.05,
    "recall_macro": 0.0,
    "f1_macro": 0.08,
    "roc_auc_macro": 0.05,
}


def log_metrics_run(metrics: dict[str, float]) -> str:
    with mlflow.start_run() as run:
        mlflow.log_metrics(metrics)
    return run.info.run_id


def assert_differences(returned: object, expected: dict[str, float], *, why: str = "") -> None:
    if not isinstance(returned, dict) or sorted(returned) != sorted(expected):
        state.fail(
            "metric_differences did not return one difference per key of MLFLOW_METRIC_NAMES.",
            expected=expected,
            actual=repr(returned),
        )
    wrong = {
        name: value
        for name, value in returned.items()
        if not math.isclose(value, expected[name], abs_tol=1e-9)
    }
    if wrong:
        state.fail(
            "metric_differences returned other differences than the run's metrics give.",
            expected=expected,
            actual=returned,
            why=why,
        )


@pytest.mark.task(7)
def test_differences_compare_each_pair(solution):
    run_id = log_metrics_run(LOGGED_PAIRS)

    returned = solution.metric_differences(run_id)

    assert_differences(
        returned,
        DIFFERENCES,
        why=(
            "Subtract each metric of MLFLOW_METRIC_NAMES from your metric of the same pair and "
            "take the absolute value: a difference of 0.08 is as large whichever side is higher."
        ),
    )


@pytest.mark.task(7)
def test_differences_read_named_run(solution):
    run_id = log_metrics_run(LOGGED_PAIRS)
    agreeing = {name: 0.5 for name in LOGGED_PAIRS}

    with mlflow.start_run():
        mlflow.log_metrics(agreeing)
        returned = solution.metric_differences(run_id)

    assert_differences(
        returned,
        DIFFERENCES,
        why=(
            "Another run was active during the call. Read the run whose id you were given, "
            "with MlflowClient().get_run(run_id) or mlflow.get_run(run_id)."
        ),
    )


@pytest.mark.task(7)
def test_differences_reject_missing_metric(solution):
    incomplete = {name: value for name, value in LOGGED_PAIRS.items() if name != "roc_auc"}
    run_id = log_metrics_run(incomplete)

    try:
        returned = solution.metric_differences(run_id)
    except LookupError:
        return

    state.fail(
        "metric_differences returned a result for a run without the metric roc_auc.",
        expected="LookupError",
        actual=f"returned {returned!r}",
        why=(
            "mlflow.models.evaluate logs no roc_auc when the model has no predict_proba. A "
            "missing metric is not a difference of zero, so raise instead of guessing."
        ),
    )


@pytest.mark.task(7)
def test_agreement_tag_on_run(solution, mlflow_snapshot):
    run = evaluation_run(solution, mlflow_snapshot)

    pairs = describe_metrics(run, [name for pair in MLFLOW_METRIC_NAMES.items() for name in pair])
    tag = run.data.tags.get(AGREEMENT_TAG)
    if tag != "true":
        state.fail(
            f"The run's tag {AGREEMENT_TAG} is {tag!r}.",
            expected=f"{AGREEMENT_TAG}='true': every pair of metrics agrees",
            actual=f"{AGREEMENT_TAG}={tag!r}; {pairs}",
            why=(
                "Set the tag from metric_differences(run_id) after mlflow.models.evaluate, "
                "inside the run. With average='macro' both sides compute the same numbers."
            ),
        )


def summary_fields(summary) -> tuple[str, str, dict]:
    """Read the three fields of an EvaluationSummary, failing clearly on another value."""
    fields = ("run_id", "model_id", "differences")
    if not all(hasattr(summary, field) for field in fields):
        state.fail(
            f"evaluate_classifier returned {type(summary).__name__} {summary!r}.",
            expected="EvaluationSummary(run_id=..., model_id=..., differences={...})",
            actual=repr(summary),
        )
    return summary.run_id, summary.model_id, summary.differences


@pytest.mark.task(7)
def test_summary_names_run_and_model(solution, mlflow_snapshot):
    summary = evaluated(solution, mlflow_snapshot)

    run = evaluation_run(solution, mlflow_snapshot)
    run_id, model_id, _ = summary_fields(summary)
    model = state.single_logged_model(run, name=MODEL_NAME)

    state.assert_same_values(
        "The returned run_id and model_id and the run's ids",
        [run.info.run_id, model.model_id],
        [run_id, model_id],
        why="Return run.info.run_id and the model_id of the ModelInfo that log_model returned.",
    )


@pytest.mark.task(7)
def test_summary_differences_match_run(solution, mlflow_snapshot):
    summary = evaluated(solution, mlflow_snapshot)

    run = evaluation_run(solution, mlflow_snapshot)
    _, _, differences = summary_fields(summary)
    expected = {
        ours: abs(run.data.metrics[ours] - run.data.metrics[theirs])
        for ours, theirs in MLFLOW_METRIC_NAMES.items()
        if ours in run.data.metrics and theirs in run.data.metrics
    }

    assert_differences(
        differences,
        expected,
        why="Return what metric_differences(run.info.run_id) returned after the evaluation.",
    )
