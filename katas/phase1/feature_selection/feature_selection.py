"""Kata phase1/feature_selection: log feature importances, select features, retrain on them.

Fill in the three functions below, task by task, as the kata's README describes. Run the
tests with ``pytest katas/phase1/feature_selection``. The tests point MLflow at a throwaway
store, so do not set a tracking URI here.
"""

from __future__ import annotations

from dataclasses import dataclass

import mlflow
import pandas as pd
from matplotlib.figure import Figure
from mlflow.models import infer_signature
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import RandomForestClassifier
from sklearn.feature_selection import SelectKBest, f_classif
from sklearn.inspection import permutation_importance
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import train_test_split

# The child runs of the parent run, in the order they start (tasks 1, 2 and 5).
BASELINE_RUN = "all_features"
SELECTED_RUN = "selected_features"

# The importance table and its bar plot, artifacts of the parent run (task 3).
IMPORTANCES_ARTIFACT = "importances/feature_importances.csv"
IMPORTANCE_PLOT_ARTIFACT = "importances/feature_importances.png"

# The selected feature names: a param and a JSON artifact of the parent run (task 4).
SELECTED_FEATURES_PARAM = "selected_features"
SELECTED_FEATURES_ARTIFACT = "selection/selected_features.json"

# The name of the model retrained on the selected features (task 5).
MODEL_NAME = "model"

# A random forest stores its trees as sklearn.tree._tree.Tree objects. MLflow 3 saves
# scikit-learn models in the skops format, which loads only the types you declare trusted.
TRUSTED_TYPES = ["sklearn.tree._tree.Tree"]


@dataclass(frozen=True)
class CancerSplit:
    """The breast cancer data split into a training and a test set."""

    X_train: pd.DataFrame
    y_train: pd.Series
    X_test: pd.DataFrame
    y_test: pd.Series


def load_cancer_split(random_state: int = 42) -> CancerSplit:
    """Split the breast cancer data 70/30 into training and test sets, stratified by diagnosis.

    Given code: use it as it is. The same ``random_state`` always gives the same split.
    """
    features, target = load_breast_cancer(return_X_y=True, as_frame=True)
    X_train, X_test, y_train, y_test = train_test_split(
        features, target, test_size=0.3, stratify=target, random_state=random_state
    )
    return CancerSplit(X_train, y_train, X_test, y_test)


def build_forest(random_state: int = 42) -> RandomForestClassifier:
    """Return the unfitted random forest that both child runs train.

    Given code: use it as it is. The forest is small so that the kata's tests run fast.
    """
    return RandomForestClassifier(n_estimators=10, max_depth=4, random_state=random_state)


def importance_figure(table: pd.DataFrame) -> Figure:
    """Draw the impurity and permutation importance of each feature as side-by-side bars.

    Given code: use it as it is. ``table`` has the columns ``feature``, ``impurity`` and
    ``permutation``, one row per feature. The bars keep the table's row order, top down.
    """
    figure = Figure(figsize=(9, 0.22 * len(table) + 1.2))
    rows = table.iloc[::-1]
    for index, column in enumerate(("impurity", "permutation"), start=1):
        axes = figure.add_subplot(1, 2, index)
        axes.barh(rows["feature"], rows[column])
        axes.set_title(f"{column} importance")
        if index == 2:
            axes.set_yticks([])
    # Fixed margins leave room for the longest feature name, and cost less than tight_layout.
    figure.subplots_adjust(left=0.25, right=0.97, top=0.95, bottom=0.06, wspace=0.08)
    return figure


def importance_table(
    model: RandomForestClassifier,
    X_test: pd.DataFrame,
    y_test: pd.Series,
    n_repeats: int = 3,
    random_state: int = 42,
) -> pd.DataFrame:
    """Tabulate a fitted forest's impurity and permutation importance of each feature.

    Args:
        model: A random forest fitted on every column of ``X_test``.
        X_test: The test features; the permutation importances shuffle these columns.
        y_test: The test labels.
        n_repeats: How many times permutation_importance shuffles each column.
        random_state: Seed for the shuffles.

    Returns:
        A DataFrame with one row per feature and the columns ``feature`` (the column name),
        ``impurity`` (``model.feature_importances_``) and ``permutation``. A permutation
        importance is the mean drop in accuracy on the test split when the column is
        shuffled. The rows are ordered by ``permutation`` from highest to lowest, with a
        fresh 0..n-1 index.
    """
    # TODO(3): Compute the permutation importances on the test split with n_repeats and
    #   random_state, put both importances next to the feature names, and sort the rows by
    #   permutation importance, highest first.
    raise NotImplementedError("Write TODO(3) of importance_table.")


def select_features(X: pd.DataFrame, y: pd.Series, k: int) -> list[str]:
    """Choose the ``k`` features with the highest ANOVA F-score against the labels.

    Args:
        X: The features to choose from.
        y: The labels.
        k: How many features to keep.

    Returns:
        The names of the ``k`` features that ``SelectKBest(f_classif, k=k)`` keeps when
        fitted on ``X`` and ``y``, in the order of the columns of ``X``.
    """
    # TODO(4): Fit SelectKBest with f_classif and k on the rows given, and return the names
    #   of the columns it keeps.
    raise NotImplementedError("Write TODO(4) of select_features.")


@dataclass(frozen=True)
class SelectionResult:
    """The runs that one feature selection logged and the features it chose."""

    parent_run_id: str
    baseline_run_id: str
    selected_run_id: str
    selected_features: list[str]


def run_feature_selection(
    experiment_name: str, k: int = 10, random_state: int = 42, n_repeats: int = 3
) -> SelectionResult:
    """Compare a forest on every feature with one retrained on the ``k`` best, in MLflow.

    Args:
        experiment_name: The MLflow experiment to log into, created if it does not exist.
        k: How many features to select.
        random_state: Seed for the split, the forests and the permutation shuffles.
        n_repeats: How many times the permutation importance shuffles each column.

    Returns:
        A SelectionResult with the ids of the three runs and the selected feature names. The
        experiment then contains one finished parent run with two nested, finished child runs:

        - the parent has the params ``k``, ``random_state``, ``n_repeats`` and
          ``selected_features`` (the names, comma-separated, in the data set's column order),
          and the artifacts ``importances/feature_importances.csv``,
          ``importances/feature_importances.png`` and ``selection/selected_features.json``
          (the names as a JSON list);
        - the child ``all_features`` trains the forest on every feature and logs the param
          ``n_features`` and the metrics ``accuracy`` and ``f1_macro`` on the test split;
        - the child ``selected_features`` retrains the forest on the selected features only
          and logs the same param and metrics, plus a LoggedModel named ``model`` whose
          signature lists the selected features.

    Example:
        >>> result = run_feature_selection("cancer-features", k=5)
        >>> len(result.selected_features)
        5
    """
    split = load_cancer_split(random_state)

    # TODO(1): Select the experiment, start a parent run and log k, random_state and
    #   n_repeats as its params. Inside it, the child runs start with nested=True.
    # TODO(2): In a child run named BASELINE_RUN, fit build_forest(random_state) on every
    #   training feature, then log n_features and the test split's accuracy and f1_macro.
    # TODO(3): Back in the parent run, log the baseline's importance_table (written
    #   above) as IMPORTANCES_ARTIFACT and its importance_figure as IMPORTANCE_PLOT_ARTIFACT.
    # TODO(4): Choose k features with select_features on the training split only, and
    #   log their names as the param SELECTED_FEATURES_PARAM (comma-separated) and as a
    #   JSON list in SELECTED_FEATURES_ARTIFACT.
    # TODO(5): In a child run named SELECTED_RUN, fit a new build_forest(random_state) on
    #   the selected training columns only, log n_features and the same metrics on the
    #   selected test columns, and log the forest as MODEL_NAME with a signature.
    # TODO(6): Return the three run ids and the selected names as a SelectionResult.
    raise NotImplementedError("Write TODO(1) to TODO(6) of run_feature_selection.")
