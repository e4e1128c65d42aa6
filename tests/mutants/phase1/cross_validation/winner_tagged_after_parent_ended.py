"""Mutant: the winner tags are set after the parent's with-block, which starts a new run.

Rejected by: test_comparison_nests_run_per_model, test_parent_tags_winner
Message: tagging after the with-block has closed
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import mlflow
import numpy as np
import pandas as pd
from mlflow.tracking import MlflowClient
from sklearn.base import ClassifierMixin
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import StratifiedKFold
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

# The model names that build_model accepts.
MODEL_NAMES = ("logistic_regression", "decision_tree", "knn")

# The metrics logged once per fold, as metric histories with step = fold number (task 3).
METRICS = ("accuracy", "f1_macro")

# The fold of every row, an artifact of each cross-validation run (task 2).
FOLDS_ARTIFACT = "folds.csv"

# The summary metric that decides which model wins a comparison, where higher is better
# (task 6).
SELECTION_METRIC = "accuracy_mean"


def load_breast_cancer_data() -> tuple[pd.DataFrame, pd.Series]:
    """Return the breast cancer features and labels, with rows numbered 0 to 568.

    Given code: use it as it is.
    """
    return load_breast_cancer(return_X_y=True, as_frame=True)


def build_model(name: str, random_state: int = 42) -> ClassifierMixin:
    """Return a new, unfitted classifier for a name in MODEL_NAMES.

    Given code: use it as it is. Call it once per fold, so that no fold's model has seen
    another fold's training rows. Logistic regression and k-nearest neighbours sit behind a
    StandardScaler, because the features range from below 0.01 to over 1000. The scaler
    learns its means and deviations from the rows the pipeline is fitted on.
    """
    if name == "logistic_regression":
        return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    if name == "decision_tree":
        return DecisionTreeClassifier(max_depth=3, random_state=random_state)
    if name == "knn":
        return make_pipeline(StandardScaler(), KNeighborsClassifier(n_neighbors=5))
    raise ValueError(f"Unknown model {name!r}: use one of {', '.join(MODEL_NAMES)}.")


def assign_folds(target: pd.Series, n_splits: int = 5, random_state: int = 42) -> pd.Series:
    """Assign every row to the fold whose test part contains it, with stratified k-fold.

    Args:
        target: The class labels, one per row.
        n_splits: The number of folds.
        random_state: Seed for shuffling the rows before they are dealt into folds.

    Returns:
        A Series with the same index as ``target`` that gives each row the number of its
        fold, from 0 to ``n_splits - 1``. Fold ``k`` is the test part of the ``k``-th split
        that ``StratifiedKFold(n_splits, shuffle=True, random_state=random_state)`` yields,
        so every fold keeps the class proportions of the whole data set, and the same seed
        always gives the same folds.

    Example:
        >>> features, target = load_breast_cancer_data()
        >>> folds = assign_folds(target, n_splits=5, random_state=42)
        >>> folds.value_counts().sort_index().tolist()
        [114, 114, 114, 114, 113]
    """
    # BEGIN SOLUTION: Write TODO(1) of assign_folds.
    # TODO(1): Split with a shuffling StratifiedKFold seeded with random_state, and record
    #   for each row the number of the split whose test part contains it.
    splitter = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=random_state)
    folds = pd.Series(-1, index=target.index, name="fold")
    # split() takes the row count from its first argument and stratifies by the second.
    for fold, (_, test_rows) in enumerate(splitter.split(np.zeros(len(target)), target)):
        folds.iloc[test_rows] = fold
    return folds
    # END SOLUTION


def cross_validate_model(
    experiment_name: str,
    model_name: str = "logistic_regression",
    n_splits: int = 5,
    random_state: int = 42,
) -> str:
    """Cross-validate one model on the breast cancer data and record it in one MLflow run.

    Args:
        experiment_name: The MLflow experiment to log into, created if it does not exist.
        model_name: A name in MODEL_NAMES.
        n_splits: The number of folds.
        random_state: Seed for the folds and for the model.

    Returns:
        The id of the finished run. The run is named ``model_name`` and is started with
        ``nested=True``, so it is a top-level run when no run is active and a child of the
        active run otherwise. It holds:

        - params ``model``, ``n_splits`` and ``random_state``;
        - the artifact ``folds.csv`` with the columns ``row`` (the row's index in the data
          set) and ``fold`` (its fold from ``assign_folds``), one line per row;
        - metrics ``accuracy`` and ``f1_macro`` (macro-averaged F1) logged once per fold
          with step = fold number, each scored on the fold's rows by a model fitted on all
          other rows, so that ``MlflowClient().get_metric_history`` returns one value per
          fold;
        - metrics ``accuracy_mean``, ``accuracy_std``, ``f1_macro_mean`` and
          ``f1_macro_std``: the mean and the population standard deviation (``ddof=0``)
          of each metric's fold scores.

    Example:
        >>> run_id = cross_validate_model("breast-cancer-cv", "decision_tree")
        >>> mlflow.get_run(run_id).data.metrics["accuracy_mean"]  # doctest: +SKIP
        0.9244527247321844
    """
    features, target = load_breast_cancer_data()
    folds = assign_folds(target, n_splits, random_state)

    # BEGIN SOLUTION: Write TODO(2) to TODO(4) of cross_validate_model.
    # TODO(2): Select the experiment and start a run named after the model, with
    #   nested=True because task 5 calls this function inside a parent run. Log the params
    #   model, n_splits and random_state, and the fold of every row as FOLDS_ARTIFACT.
    mlflow.set_experiment(experiment_name)
    with mlflow.start_run(run_name=model_name, nested=True) as run:
        mlflow.log_params({"model": model_name, "n_splits": n_splits, "random_state": random_state})
        fold_table = folds.rename_axis("row").reset_index(name="fold")
        mlflow.log_text(fold_table.to_csv(index=False), FOLDS_ARTIFACT)

        # TODO(3): For each fold, fit a new model on the rows of the other folds and score
        #   it on the fold's own rows. Log accuracy and f1_macro with step set to the fold
        #   number, so that each metric gets one value per fold in its history.
        fold_scores = []
        for fold in range(n_splits):
            held_out = folds == fold
            model = build_model(model_name, random_state)
            model.fit(features[~held_out], target[~held_out])
            predictions = model.predict(features[held_out])
            scores = {
                "accuracy": float(accuracy_score(target[held_out], predictions)),
                "f1_macro": float(f1_score(target[held_out], predictions, average="macro")),
            }
            # Without step, every value lands on step 0 and the UI cannot chart the folds.
            mlflow.log_metrics(scores, step=fold)
            fold_scores.append(scores)

        # TODO(4): Log the mean and the population standard deviation (ddof=0) of each
        #   metric's fold scores as <metric>_mean and <metric>_std.
        # One row per fold, one column per metric, so each summary runs down a column.
        score_table = pd.DataFrame(fold_scores, columns=list(METRICS))
        for metric in METRICS:
            mlflow.log_metrics(
                {
                    f"{metric}_mean": float(score_table[metric].mean()),
                    f"{metric}_std": float(score_table[metric].std(ddof=0)),
                }
            )

    return run.info.run_id
    # END SOLUTION


@dataclass(frozen=True)
class CrossValidationComparison:
    """The runs that one comparison logged and the model that won it."""

    parent_run_id: str
    child_run_ids: dict[str, str]
    winner: str


def compare_by_cross_validation(
    experiment_name: str,
    model_names: Sequence[str] = ("logistic_regression", "decision_tree"),
    n_splits: int = 5,
    random_state: int = 42,
) -> CrossValidationComparison:
    """Cross-validate several models on the same folds and tag the one with the best mean.

    Args:
        experiment_name: The MLflow experiment to log into, created if it does not exist.
        model_names: The models to compare, names in MODEL_NAMES.
        n_splits: The number of folds, the same for every model.
        random_state: Seed for the folds and the models, the same for every model, so that
            every model is scored on the same folds.

    Returns:
        A CrossValidationComparison with the parent run's id, each model's child run id and
        the winner. The experiment then contains one finished parent run named
        ``comparison`` with params ``n_splits`` and ``random_state`` and, nested under it,
        one run per model as ``cross_validate_model`` logs it. The winner is the model
        whose run has the highest ``accuracy_mean``, the first in ``model_names`` on a tie.
        The parent carries the tags ``winner`` (the model's name) and ``winner_run_id``.

    Example:
        >>> result = compare_by_cross_validation("breast-cancer-comparison")
        >>> result.winner  # doctest: +SKIP
        'logistic_regression'
    """
    # BEGIN SOLUTION: Write TODO(5) and TODO(6) of compare_by_cross_validation.
    # TODO(5): Select the experiment and start a parent run named "comparison" that logs
    #   the params n_splits and random_state. Inside it, call cross_validate_model for
    #   each model with the same n_splits and random_state, so that every model is scored
    #   on the same folds.
    mlflow.set_experiment(experiment_name)
    with mlflow.start_run(run_name="comparison") as parent:
        mlflow.log_params({"n_splits": n_splits, "random_state": random_state})
        # The parent is active here, so each cross_validate_model run starts as its child.
        child_run_ids = {
            name: cross_validate_model(experiment_name, name, n_splits, random_state)
            for name in model_names
        }

        # TODO(6): Read each child run's SELECTION_METRIC back from MLflow, pick the model
        #   with the highest value (the first one on a tie), and tag the parent with winner
        #   and winner_run_id. Return what the comparison logged.
        client = MlflowClient()
        means = {
            name: client.get_run(run_id).data.metrics[SELECTION_METRIC]
            for name, run_id in child_run_ids.items()
        }
        # max() keeps the first of equal values, so a tie goes to the earlier model.
        winner = max(means, key=means.__getitem__)

    mlflow.set_tags({"winner": winner, "winner_run_id": child_run_ids[winner]})
    return CrossValidationComparison(parent.info.run_id, child_run_ids, winner)
    # END SOLUTION
