"""Mutant: metric_differences reads the active run instead of the run whose id it receives.

Rejected by: test_differences_read_named_run
Message: Another run was active during the call
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import mlflow
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from mlflow.models import infer_signature
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
    # BEGIN SOLUTION: Write TODO(1) of log_precision_recall_f1.
    # TODO(1): Compute precision, recall and F1 for each class code in order, and their
    #   macro averages, then log them under the names the docstring lists.
    codes = list(range(len(class_names)))
    precision, recall, f1, _ = precision_recall_fscore_support(
        y_true, y_pred, labels=codes, zero_division=0
    )
    metrics = {}
    for code, name in enumerate(class_names):
        metrics[f"precision_{name}"] = float(precision[code])
        metrics[f"recall_{name}"] = float(recall[code])
        metrics[f"f1_{name}"] = float(f1[code])

    # Macro averaging gives every class the same weight, so a small class that the model gets
    # wrong pulls the average down as much as a large one. Micro averaging pools all rows, so
    # with one label per row it equals the accuracy and hides exactly that.
    macro_precision, macro_recall, macro_f1, _ = precision_recall_fscore_support(
        y_true, y_pred, labels=codes, average="macro", zero_division=0
    )
    metrics["precision_macro"] = float(macro_precision)
    metrics["recall_macro"] = float(macro_recall)
    metrics["f1_macro"] = float(macro_f1)
    mlflow.log_metrics(metrics)
    # END SOLUTION


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
    # BEGIN SOLUTION: Write TODO(2) of log_confusion_matrix.
    # TODO(2): Count the matrix with rows for true classes and columns for predicted ones,
    #   both in code order, log it with its labels as CONFUSION_MATRIX_JSON, then draw it on a
    #   figure and log that as CONFUSION_MATRIX_PLOT.
    # Passing labels fixes the order of rows and columns, and keeps a class that happens to
    # be missing from both y_true and y_pred as a row of zeros instead of dropping it.
    codes = list(range(len(class_names)))
    matrix = confusion_matrix(y_true, y_pred, labels=codes)
    mlflow.log_dict({"labels": list(class_names), "matrix": matrix.tolist()}, CONFUSION_MATRIX_JSON)

    figure = Figure(figsize=(5, 4))
    axes = figure.subplots()
    # The display draws on the axes it is given. Without ax= it would open a pyplot figure of
    # its own, and the figure logged below would stay empty.
    ConfusionMatrixDisplay(matrix, display_labels=list(class_names)).plot(ax=axes, colorbar=False)
    axes.set_title("Confusion matrix (rows: true class)")
    figure.tight_layout()
    mlflow.log_figure(figure, CONFUSION_MATRIX_PLOT)
    # END SOLUTION


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
    # BEGIN SOLUTION: Write TODO(3) of log_roc_curves.
    # TODO(3): Predict class probabilities. For each class, score its probability column
    #   against "is this class" and draw its ROC curve, then log the per-class and macro AUC
    #   and the figure.
    # AUC measures how well the scores rank the rows of a class above the others. Hard
    # predictions are 0 or 1, so they give only one point of the curve, not the whole of it.
    probabilities = model.predict_proba(X)
    y_true = np.asarray(y_true)

    figure = Figure(figsize=(6, 5))
    axes = figure.subplots()
    metrics = {}
    for code, name in enumerate(class_names):
        is_class = y_true == code
        metrics[f"roc_auc_{name}"] = float(roc_auc_score(is_class, probabilities[:, code]))
        RocCurveDisplay.from_predictions(is_class, probabilities[:, code], name=name, ax=axes)
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="chance")
    axes.set_xlabel("false positive rate")
    axes.set_ylabel("true positive rate")
    axes.set_title("ROC curves, one class against the rest")
    axes.legend(loc="lower right")

    metrics["roc_auc_macro"] = float(
        roc_auc_score(y_true, probabilities, multi_class="ovr", average="macro")
    )
    mlflow.log_metrics(metrics)
    mlflow.log_figure(figure, ROC_CURVES_PLOT)
    # END SOLUTION


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
    # BEGIN SOLUTION: Write TODO(4) of log_learning_curve.
    # TODO(4): Compute the learning curve, log the mean training and validation accuracy at
    #   each size with step= the number of training rows, and log a plot of both curves.
    sizes, train_scores, validation_scores = learning_curve(
        model, X, y, train_sizes=LEARNING_CURVE_SIZES, cv=LEARNING_CURVE_FOLDS
    )
    train_means = train_scores.mean(axis=1)
    validation_means = validation_scores.mean(axis=1)
    # A metric logged with steps keeps every value as its history, and the MLflow UI charts
    # it against the step, so the run page shows the learning curve as well.
    for size, train_mean, validation_mean in zip(sizes, train_means, validation_means, strict=True):
        mlflow.log_metric(LEARNING_CURVE_TRAIN_METRIC, float(train_mean), step=int(size))
        mlflow.log_metric(LEARNING_CURVE_VALIDATION_METRIC, float(validation_mean), step=int(size))

    figure = Figure(figsize=(6, 4))
    axes = figure.subplots()
    axes.plot(sizes, train_means, marker="o", label="training")
    axes.plot(sizes, validation_means, marker="o", label="validation")
    axes.set_xlabel("training rows")
    axes.set_ylabel("accuracy")
    axes.set_title(f"Learning curve, {LEARNING_CURVE_FOLDS}-fold cross-validation")
    axes.legend(loc="lower right")
    figure.tight_layout()
    mlflow.log_figure(figure, LEARNING_CURVE_PLOT)
    # END SOLUTION


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

    # BEGIN SOLUTION: Write TODO(5) to TODO(7) of evaluate_classifier.
    # TODO(5): Select the experiment and start a run. Fit the model on the training split and
    #   log it as a LoggedModel named MODEL_NAME with a signature. Then log the reports of
    #   tasks 1 to 3 on the test split, and the learning curve of an unfitted
    #   build_model(random_state) on the training split.
    mlflow.set_experiment(experiment_name)
    with mlflow.start_run() as run:
        model.fit(split.X_train, split.y_train)
        signature = infer_signature(split.X_train, model.predict(split.X_train))
        model_info = mlflow.sklearn.log_model(
            model, name=MODEL_NAME, signature=signature, skops_trusted_types=TRUSTED_TYPES
        )

        predictions = model.predict(split.X_test)
        log_precision_recall_f1(split.y_test, predictions, CLASS_NAMES)
        log_confusion_matrix(split.y_test, predictions, CLASS_NAMES)
        log_roc_curves(model, split.X_test, split.y_test, CLASS_NAMES)
        log_learning_curve(build_model(random_state), split.X_train, split.y_train)

        # TODO(6): Evaluate the LoggedModel by its model URI with mlflow.models.evaluate on the
        #   test split (features plus a "target" column), as a classifier, in this same run.
        #   Make it average per-class metrics with "macro", as tasks 1 and 3 do.
        # evaluate logs into the active run. Its default average for more than two classes is
        # "weighted", which weighs each class by its number of rows, so without "macro" its
        # precision_score would not match precision_macro. SHAP is not installed, and the
        # explanations would take longer than everything else here, so they are turned off.
        mlflow.models.evaluate(
            model_info.model_uri,
            split.X_test.assign(target=split.y_test),
            targets="target",
            model_type="classifier",
            evaluator_config={"average": "macro", "log_model_explainability": False},
        )

        # TODO(7): Compare the two sets of metrics with metric_differences (below), set
        #   AGREEMENT_TAG, and return an EvaluationSummary.
        differences = metric_differences(run.info.run_id)
        agrees = max(differences.values()) <= AGREEMENT_TOLERANCE
        mlflow.set_tag(AGREEMENT_TAG, "true" if agrees else "false")

    return EvaluationSummary(run.info.run_id, model_info.model_id, differences)
    # END SOLUTION


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
    # BEGIN SOLUTION: Write TODO(7) of metric_differences.
    # TODO(7): Read the run's metrics by its id, check that every metric of the pairs is
    #   there, and return the absolute difference of each pair under your metric's name.
    # MUTANT: the run id is ignored, and the active run is read instead.
    metrics = mlflow.get_run(mlflow.active_run().info.run_id).data.metrics
    missing = [name for pair in MLFLOW_METRIC_NAMES.items() for name in pair if name not in metrics]
    if missing:
        raise LookupError(f"The run {run_id} has no metric {', '.join(missing)}.")
    return {
        ours: abs(metrics[ours] - metrics[theirs]) for ours, theirs in MLFLOW_METRIC_NAMES.items()
    }
    # END SOLUTION
