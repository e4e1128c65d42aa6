"""Kata phase1/classification_metrics: report on a wine classifier class by class, then let
mlflow.models.evaluate score the same model and compare its numbers with yours.

Fill in the functions below, task by task, as the kata's README describes. Run the tests with
``pytest katas/phase1/classification_metrics``. The tests point MLflow at a throwaway store, so
do not set a tracking URI here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import mlflow
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from mlflow.models import infer_signature
from mlflow.tracking import MlflowClient
from numpy.typing import ArrayLike
from sklearn.base import ClassifierMixin
from sklearn.datasets import load_wine
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import (
    ConfusionMatrixDisplay,
    RocCurveDisplay,
    confusion_matrix,
    precision_recall_fscore_support,
    roc_auc_score,
)
from sklearn.model_selection import learning_curve, train_test_split

# The wine cultivars, indexed by their class code: the label 0 is "class_0", and so on. Metric
# names and the confusion matrix use these names (tasks 1 to 3).
CLASS_NAMES = ("class_0", "class_1", "class_2")

# The confusion matrix as JSON and as a picture (task 2).
CONFUSION_MATRIX_JSON = "confusion_matrix.json"
CONFUSION_MATRIX_PLOT = "plots/confusion_matrix.png"

# The one-vs-rest ROC curves of every class in one picture (task 3).
ROC_CURVES_PLOT = "plots/roc_curves.png"

# The learning curve: training sizes as fractions of a training fold, the number of folds, the
# two metrics whose history draws the curve, and its picture (task 4).
LEARNING_CURVE_SIZES = (0.25, 0.5, 1.0)
LEARNING_CURVE_FOLDS = 3
LEARNING_CURVE_TRAIN_METRIC = "learning_curve_train_accuracy"
LEARNING_CURVE_VALIDATION_METRIC = "learning_curve_validation_accuracy"
LEARNING_CURVE_PLOT = "plots/learning_curve.png"

# The name of the LoggedModel that evaluate_classifier logs (task 5).
MODEL_NAME = "model"

# A random forest stores its trees as sklearn.tree._tree.Tree objects. MLflow 3 saves
# scikit-learn models in the skops format, which loads only the types you declare trusted.
TRUSTED_TYPES = ["sklearn.tree._tree.Tree"]

# Each macro metric of tasks 1 and 3, and the name under which mlflow.models.evaluate logs the
# same number for a multiclass classifier when it averages with "macro" (tasks 6 and 7).
MLFLOW_METRIC_NAMES = {
    "precision_macro": "precision_score",
    "recall_macro": "recall_score",
    "f1_macro": "f1_score",
    "roc_auc_macro": "roc_auc",
}

# The tag that records whether MLflow's metrics and yours agree, "true" or "false" (task 7).
AGREEMENT_TAG = "mlflow_evaluate_agrees"
AGREEMENT_TOLERANCE = 1e-9


@dataclass(frozen=True)
class WineSplit:
    """Wine split into a training and a test set."""

    X_train: pd.DataFrame
    y_train: pd.Series
    X_test: pd.DataFrame
    y_test: pd.Series


def load_wine_split(random_state: int = 42) -> WineSplit:
    """Split wine 70/30 into training and test sets, stratified by cultivar.

    Given code: use it as it is. The same ``random_state`` always gives the same split. The
    three classes have 59, 71 and 48 wines, so the test split is not balanced either.
    """
    features, target = load_wine(return_X_y=True, as_frame=True)
    X_train, X_test, y_train, y_test = train_test_split(
        features, target, test_size=0.3, stratify=target, random_state=random_state
    )
    return WineSplit(X_train, y_train, X_test, y_test)


def build_model(random_state: int = 42) -> ClassifierMixin:
    """Return the unfitted classifier that this kata reports on.

    Given code: use it as it is. The forest is small and shallow on purpose: it fits in
    milliseconds and makes a few mistakes, so the metrics and plots have something to show.
    """
    return RandomForestClassifier(n_estimators=10, max_depth=2, random_state=random_state)


def log_precision_recall_f1(
    y_true: ArrayLike, y_pred: ArrayLike, class_names: Sequence[str]
) -> None:
    """Log precision, recall and F1 for every class and their macro averages.

    Call it inside an active run, which receives the metrics.

    Args:
        y_true: The true class codes, each an integer from 0 to ``len(class_names) - 1``.
        y_pred: The predicted class codes, one per entry of ``y_true``.
        class_names: The name of each class, indexed by its code.

    Logs, for each class name ``<name>``, the metrics ``precision_<name>``, ``recall_<name>``
    and ``f1_<name>``, which treat that class as the positive one, and ``precision_macro``,
    ``recall_macro`` and ``f1_macro``, the unweighted means over the classes.

    Example:
        >>> with mlflow.start_run():
        ...     log_precision_recall_f1([0, 1, 1], [0, 1, 0], ("red", "white"))
        >>> # The run now has precision_red=0.5, recall_white=0.5, f1_macro=0.6667, ...
    """
    # TODO(1): Compute precision, recall and F1 for each class code in order, and their
    #   macro averages, then log them under the names the docstring lists.
    raise NotImplementedError("Write TODO(1) of log_precision_recall_f1.")


def log_confusion_matrix(y_true: ArrayLike, y_pred: ArrayLike, class_names: Sequence[str]) -> None:
    """Log the confusion matrix as JSON and as a picture.

    Call it inside an active run, which receives the artifacts.

    Args:
        y_true: The true class codes, each an integer from 0 to ``len(class_names) - 1``.
        y_pred: The predicted class codes, one per entry of ``y_true``.
        class_names: The name of each class, indexed by its code.

    Logs ``CONFUSION_MATRIX_JSON``, an object with two keys: ``labels``, the class names in
    code order, and ``matrix``, a list of rows of counts. Row ``i`` counts the rows whose true
    class is ``labels[i]``, and its column ``j`` those of them predicted as ``labels[j]``.
    ``CONFUSION_MATRIX_PLOT`` draws the same matrix with the class names on both axes.
    """
    # TODO(2): Count the matrix with rows for true classes and columns for predicted ones,
    #   both in code order, log it with its labels as CONFUSION_MATRIX_JSON, then draw it on a
    #   figure and log that as CONFUSION_MATRIX_PLOT.
    raise NotImplementedError("Write TODO(2) of log_confusion_matrix.")


def log_roc_curves(
    model: ClassifierMixin, X: pd.DataFrame, y_true: ArrayLike, class_names: Sequence[str]
) -> None:
    """Log one-vs-rest ROC AUC for every class, their macro average and a plot of the curves.

    Call it inside an active run, which receives the metrics and the artifact.

    Args:
        model: A fitted classifier with ``predict_proba``, trained on the class codes
            ``0`` to ``len(class_names) - 1``, so that its probability columns are in code order.
        X: The features to score.
        y_true: The true class code of each row of ``X``.
        class_names: The name of each class, indexed by its code.

    Logs ``roc_auc_<name>`` for each class name: the area under the ROC curve of that class
    against all others, computed from the predicted probabilities. Logs ``roc_auc_macro``, the
    unweighted mean of those areas (``roc_auc_score`` with ``multi_class="ovr"``). Logs
    ``ROC_CURVES_PLOT``, one curve per class on shared axes.
    """
    # TODO(3): Predict class probabilities. For each class, score its probability column
    #   against "is this class" and draw its ROC curve, then log the per-class and macro AUC
    #   and the figure.
    raise NotImplementedError("Write TODO(3) of log_roc_curves.")


def log_learning_curve(model: ClassifierMixin, X: pd.DataFrame, y: ArrayLike) -> None:
    """Log a learning curve as two metric histories and as a picture.

    Call it inside an active run, which receives the metrics and the artifact.

    Args:
        model: An unfitted classifier. ``learning_curve`` fits copies of it, never the model.
        X: The training features.
        y: The training class codes.

    Computes ``learning_curve`` with ``LEARNING_CURVE_SIZES`` and ``LEARNING_CURVE_FOLDS``
    folds, scored by accuracy. For each training size it logs the mean accuracy over the folds
    on the rows each fit trained on, as ``LEARNING_CURVE_TRAIN_METRIC``, and on the fold held
    out, as ``LEARNING_CURVE_VALIDATION_METRIC``, both with ``step`` set to the number of
    training rows. ``LEARNING_CURVE_PLOT`` draws both curves against that number.
    """
    # TODO(4): Compute the learning curve, log the mean training and validation accuracy at
    #   each size with step= the number of training rows, and log a plot of both curves.
    raise NotImplementedError("Write TODO(4) of log_learning_curve.")


@dataclass(frozen=True)
class EvaluationSummary:
    """The run that evaluate_classifier logged, its LoggedModel and the metric differences."""

    run_id: str
    model_id: str
    differences: dict[str, float]


def evaluate_classifier(experiment_name: str, random_state: int = 42) -> EvaluationSummary:
    """Report on the wine classifier by hand and with mlflow.models.evaluate, in one run.

    Args:
        experiment_name: The MLflow experiment to log into, created if it does not exist.
        random_state: Seed for the split and for the forest.

    Returns:
        An EvaluationSummary with the run's id, the id of the LoggedModel it logged and
        ``metric_differences`` of the run. The experiment then contains one finished run
        with:

        - a LoggedModel named ``MODEL_NAME`` with a signature: the forest of
          ``build_model(random_state)`` fitted on the training split;
        - the metrics and artifacts of ``log_precision_recall_f1``, ``log_confusion_matrix``
          and ``log_roc_curves`` on the test split, and of ``log_learning_curve`` on the
          training split;
        - the metrics and artifacts that ``mlflow.models.evaluate`` logs for that LoggedModel
          on the test split, averaged with ``"macro"``;
        - the tag ``AGREEMENT_TAG``: ``"true"`` when every difference is at most
          ``AGREEMENT_TOLERANCE``, otherwise ``"false"``.

    Example:
        >>> summary = evaluate_classifier("wine-metrics")
        >>> summary.differences["f1_macro"]  # doctest: +SKIP
        0.0
    """
    split = load_wine_split(random_state)
    model = build_model(random_state)

    # TODO(5): Select the experiment and start a run. Fit the model on the training split and
    #   log it as a LoggedModel named MODEL_NAME with a signature. Then log the reports of
    #   tasks 1 to 3 on the test split, and the learning curve of an unfitted
    #   build_model(random_state) on the training split.
    # TODO(6): Evaluate the LoggedModel by its model URI with mlflow.models.evaluate on the
    #   test split (features plus a "target" column), as a classifier, in this same run.
    #   Make it average per-class metrics with "macro", as tasks 1 and 3 do.
    # TODO(7): Compare the two sets of metrics with metric_differences (below), set
    #   AGREEMENT_TAG, and return an EvaluationSummary.
    raise NotImplementedError("Write TODO(5) to TODO(7) of evaluate_classifier.")


def metric_differences(run_id: str) -> dict[str, float]:
    """Compare each macro metric of a run with the metric mlflow.models.evaluate logged for it.

    Args:
        run_id: A run that logged both names of every pair in ``MLFLOW_METRIC_NAMES``. It need
            not be the active run, and it may have ended.

    Returns:
        For each key of ``MLFLOW_METRIC_NAMES``, the absolute difference between the run's
        value of that metric and of the metric it maps to, for example
        ``{"precision_macro": abs(precision_macro - precision_score), ...}``.

    Raises:
        LookupError: If the run lacks any metric of those pairs; the message names them.
    """
    # TODO(7): Read the run's metrics by its id, check that every metric of the pairs is
    #   there, and return the absolute difference of each pair under your metric's name.
    raise NotImplementedError("Write TODO(7) of metric_differences.")
