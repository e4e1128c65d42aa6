"""Mutant: evaluate_logged_model logs in a new run instead of resuming the training run.

Rejected by: test_holdout_scores_logged_on_same_run, test_holdout_predictions_logged_as_csv
Message: Resume the training run with mlflow.start_run(run_id=...)
"""

from __future__ import annotations

from dataclasses import dataclass

import mlflow
import pandas as pd
from matplotlib.figure import Figure
from mlflow.models import infer_signature
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import train_test_split

# The tags every training run carries (task 6).
RUN_TAGS = {"dataset": "iris", "model_type": "random_forest"}

# A random forest stores its trees as sklearn.tree._tree.Tree objects. MLflow 3 saves
# scikit-learn models in the skops format, which loads only the types you declare trusted.
TRUSTED_TYPES = ["sklearn.tree._tree.Tree"]


@dataclass(frozen=True)
class IrisSplits:
    """Iris split three ways: train the model, test it, and keep a holdout for later."""

    X_train: pd.DataFrame
    y_train: pd.Series
    X_test: pd.DataFrame
    y_test: pd.Series
    X_holdout: pd.DataFrame
    y_holdout: pd.Series


def load_iris_splits(random_state: int = 42) -> IrisSplits:
    """Split iris 60/20/20 into train, test and holdout sets, stratified by species.

    Given code: use it as it is. The same ``random_state`` always gives the same split.
    """
    features, target = load_iris(return_X_y=True, as_frame=True)
    X_train, X_rest, y_train, y_rest = train_test_split(
        features, target, test_size=0.4, stratify=target, random_state=random_state
    )
    X_test, X_holdout, y_test, y_holdout = train_test_split(
        X_rest, y_rest, test_size=0.5, stratify=y_rest, random_state=random_state
    )
    return IrisSplits(X_train, y_train, X_test, y_test, X_holdout, y_holdout)


def _feature_histograms(features: pd.DataFrame) -> Figure:
    """Draw one histogram per feature column on a 2x2 grid."""
    figure = Figure(figsize=(8, 6))
    for index, column in enumerate(features.columns, start=1):
        axes = figure.add_subplot(2, 2, index)
        axes.hist(features[column], bins=15)
        axes.set_title(column)
    figure.subplots_adjust(hspace=0.4, wspace=0.3)
    return figure


def train_and_log(
    experiment_name: str,
    n_estimators: int = 50,
    max_depth: int = 3,
    random_state: int = 42,
) -> str:
    """Train a random forest on iris and record everything about it in one MLflow run.

    Args:
        experiment_name: The MLflow experiment to log into; create it if it does not exist.
        n_estimators: Number of trees in the forest.
        max_depth: Maximum depth of each tree.
        random_state: Seed for both the data split and the forest.

    Returns:
        The id of the finished run, which holds:

        - params ``n_estimators``, ``max_depth`` and ``random_state``;
        - metrics ``accuracy`` and ``f1_macro`` on the test split;
        - a LoggedModel named ``model`` with a signature and an input example;
        - artifacts ``exploration/summary.json`` and ``exploration/feature_distributions.png``;
        - the tags in ``RUN_TAGS``.

    Example:
        >>> run_id = train_and_log("iris-forest")
        >>> mlflow.get_run(run_id).data.metrics["accuracy"]  # doctest: +SKIP
        0.9666666666666667
    """
    splits = load_iris_splits(random_state)

    # BEGIN SOLUTION: Write TODO(1) to TODO(6) of train_and_log.
    # TODO(1): Select the experiment and start a run that ends when the function returns.
    mlflow.set_experiment(experiment_name)
    with mlflow.start_run() as run:
        # TODO(2): Log the three hyperparameters as params.
        mlflow.log_params(
            {"n_estimators": n_estimators, "max_depth": max_depth, "random_state": random_state}
        )

        # TODO(3): Train the forest on the training split, then log accuracy and macro F1
        #   on the test split.
        model = RandomForestClassifier(
            n_estimators=n_estimators, max_depth=max_depth, random_state=random_state
        )
        model.fit(splits.X_train, splits.y_train)
        predictions = model.predict(splits.X_test)
        mlflow.log_metrics(
            {
                "accuracy": accuracy_score(splits.y_test, predictions),
                "f1_macro": f1_score(splits.y_test, predictions, average="macro"),
            }
        )

        # TODO(4): Log the model as a LoggedModel named "model", with a signature and an
        #   input example.
        # The signature records the column names and types that the model accepts, so a
        # scoring server can reject malformed input before it reaches the model.
        signature = infer_signature(splits.X_train, model.predict(splits.X_train))
        mlflow.sklearn.log_model(
            model,
            name="model",
            signature=signature,
            input_example=splits.X_train.head(5),
            skops_trusted_types=TRUSTED_TYPES,
        )

        # TODO(5): Log summary statistics of the training features as JSON and a plot of
        #   their distributions as PNG, under exploration/.
        summary = splits.X_train.describe().loc[["mean", "std", "min", "max"]]
        mlflow.log_dict(summary.to_dict(), "exploration/summary.json")
        mlflow.log_figure(
            _feature_histograms(splits.X_train), "exploration/feature_distributions.png"
        )

        # TODO(6): Tag the run with RUN_TAGS.
        mlflow.set_tags(RUN_TAGS)

    return run.info.run_id
    # END SOLUTION


def evaluate_logged_model(run_id: str, random_state: int = 42) -> dict[str, float]:
    """Load the model that ``run_id`` logged, score it on the holdout split, log the scores.

    Args:
        run_id: A run made by ``train_and_log``; it logged exactly one model.
        random_state: The seed that run used, so the holdout split is the same one.

    Returns:
        ``{"holdout_accuracy": ..., "holdout_f1_macro": ...}``, the scores of the loaded
        model's predictions on the holdout split. The same two metrics are logged on the
        run ``run_id`` (not a new run) and linked to its LoggedModel, and the predictions
        are logged as the artifact ``evaluation/holdout_predictions.csv`` with the holdout
        features and the columns ``target`` and ``prediction``.
    """
    splits = load_iris_splits(random_state)

    # BEGIN SOLUTION: Write TODO(7) and TODO(8) of evaluate_logged_model.
    # TODO(7): Find the LoggedModel that the run produced, load it by its model URI, and
    #   predict the holdout split.
    run = mlflow.get_run(run_id)
    [logged_model] = mlflow.search_logged_models(
        experiment_ids=[run.info.experiment_id],
        filter_string=f"source_run_id = '{run_id}'",
        output_format="list",
    )
    model = mlflow.pyfunc.load_model(logged_model.model_uri)
    predictions = model.predict(splits.X_holdout)

    # TODO(8): Log the scores on the same run, linked to the LoggedModel, and log the
    #   predictions as a CSV artifact.
    scores = {
        "holdout_accuracy": float(accuracy_score(splits.y_holdout, predictions)),
        "holdout_f1_macro": float(f1_score(splits.y_holdout, predictions, average="macro")),
    }
    table = splits.X_holdout.assign(target=splits.y_holdout, prediction=predictions)
    # MUTANT: a bare start_run() starts a second run instead of adding to run_id.
    with mlflow.start_run():
        mlflow.log_metrics(scores, model_id=logged_model.model_id)
        mlflow.log_text(table.to_csv(index=False), "evaluation/holdout_predictions.csv")
    return scores
    # END SOLUTION
