"""Mutant: best_child_run_id indexes the search result without checking that it contains a child.

Rejected by: test_search_rejects_parent_without_scored_children
Message: failed on an empty search result
"""

from __future__ import annotations

from dataclasses import dataclass

import mlflow
import pandas as pd
from mlflow.tracking import MlflowClient
from sklearn.base import ClassifierMixin
from sklearn.datasets import load_wine
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier

# The algorithms to compare, in the order their child runs start (task 1).
ALGORITHMS = ("logistic_regression", "svm", "decision_tree", "random_forest", "knn")

# The name of the test split's dataset input on every child run (task 2).
TEST_DATASET_NAME = "wine-test"

# The comparison table, an artifact of the parent run (task 4).
COMPARISON_ARTIFACT = "comparison.csv"

# The metric that decides which child is best, where higher is better (tasks 5 and 6).
SELECTION_METRIC = "f1_macro"

# The tag that marks the best child run, with the value "true" (task 6).
BEST_TAG = "best"


@dataclass(frozen=True)
class WineSplit:
    """Wine split into a training and a test set."""

    X_train: pd.DataFrame
    y_train: pd.Series
    X_test: pd.DataFrame
    y_test: pd.Series


def load_wine_split(random_state: int = 42) -> WineSplit:
    """Split wine 70/30 into training and test sets, stratified by cultivar.

    Given code: use it as it is. The same ``random_state`` always gives the same split.
    """
    features, target = load_wine(return_X_y=True, as_frame=True)
    X_train, X_test, y_train, y_test = train_test_split(
        features, target, test_size=0.3, stratify=target, random_state=random_state
    )
    return WineSplit(X_train, y_train, X_test, y_test)


def build_candidates(random_state: int = 42) -> dict[str, ClassifierMixin]:
    """Return one unfitted classifier per name in ALGORITHMS, in that order.

    Given code: use it as it is. SVM and k-nearest neighbours compare distances between
    rows, so without scaling the proline column (values in the hundreds) would outweigh
    every other feature. Their pipelines, and logistic regression's, start with a
    StandardScaler, which learns its means and deviations from the training rows only.
    Trees split one feature at a time and need no scaling.
    """
    return {
        "logistic_regression": make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)),
        "svm": make_pipeline(StandardScaler(), SVC(random_state=random_state)),
        "decision_tree": DecisionTreeClassifier(max_depth=3, random_state=random_state),
        "random_forest": RandomForestClassifier(
            n_estimators=30, max_depth=3, random_state=random_state
        ),
        "knn": make_pipeline(StandardScaler(), KNeighborsClassifier(n_neighbors=5)),
    }


@dataclass(frozen=True)
class ComparisonResult:
    """The runs that one comparison logged and the algorithm that won it."""

    parent_run_id: str
    child_run_ids: dict[str, str]
    best_algorithm: str


def compare_models(experiment_name: str, random_state: int = 42) -> ComparisonResult:
    """Train every candidate on one shared split and compare them in nested MLflow runs.

    Args:
        experiment_name: The MLflow experiment to log into, created if it does not exist.
        random_state: Seed for the split and for the candidates that use randomness.

    Returns:
        A ComparisonResult with the parent run's id, each algorithm's child run id and the
        best algorithm. The experiment then contains one finished parent run and, nested under
        it, one finished child run per name in ALGORITHMS, named after the algorithm. Each
        child has:

        - the test split as a dataset input named TEST_DATASET_NAME with context ``test``:
          the test features plus a ``target`` column with the labels;
        - metrics ``accuracy`` and ``f1_macro`` (macro-averaged F1) on the test split.

        The parent has the artifact ``comparison.csv`` (one row per algorithm with the
        columns ``algorithm``, ``run_id``, ``accuracy`` and ``f1_macro``, highest f1_macro
        first) and the tags ``best_algorithm`` and ``best_run_id``. The best child, the one
        with the highest f1_macro, carries the tag ``best`` with the value ``"true"``.

    Example:
        >>> result = compare_models("wine-comparison")
        >>> result.best_algorithm  # doctest: +SKIP
        'random_forest'
    """
    split = load_wine_split(random_state)
    candidates = build_candidates(random_state)

    # BEGIN SOLUTION: Write TODO(1) to TODO(4), TODO(6) and TODO(7) of compare_models.
    # TODO(1): Select the experiment and start a parent run. Inside it, start one nested
    #   child run per candidate, named after its algorithm.
    mlflow.set_experiment(experiment_name)

    # TODO(2): Describe the test split (features plus a "target" column) as an MLflow
    #   dataset named TEST_DATASET_NAME, and log it as an input of every child run with
    #   the context "test".
    # All children log this one dataset, so their equal digests show that every model was
    # scored on the same rows.
    test_dataset = mlflow.data.from_pandas(
        split.X_test.assign(target=split.y_test), targets="target", name=TEST_DATASET_NAME
    )

    child_run_ids: dict[str, str] = {}
    rows = []
    with mlflow.start_run(run_name="comparison") as parent:
        for algorithm, model in candidates.items():
            # A nested run records the parent's id in its mlflow.parentRunId tag, which is
            # how the UI groups the children and how search_runs finds them.
            with mlflow.start_run(run_name=algorithm, nested=True) as child:
                mlflow.log_input(test_dataset, context="test")

                # TODO(3): Fit the candidate on the training split, then log its accuracy
                #   and macro F1 on the test split as the metrics "accuracy" and "f1_macro".
                model.fit(split.X_train, split.y_train)
                predictions = model.predict(split.X_test)
                scores = {
                    "accuracy": float(accuracy_score(split.y_test, predictions)),
                    "f1_macro": float(f1_score(split.y_test, predictions, average="macro")),
                }
                mlflow.log_metrics(scores)

            child_run_ids[algorithm] = child.info.run_id
            rows.append({"algorithm": algorithm, "run_id": child.info.run_id, **scores})

        # TODO(4): Log a table with one row per algorithm and the columns algorithm, run_id,
        #   accuracy and f1_macro, highest f1_macro first, as COMPARISON_ARTIFACT on the
        #   parent run.
        table = pd.DataFrame(rows).sort_values(SELECTION_METRIC, ascending=False)
        mlflow.log_text(table.to_csv(index=False), COMPARISON_ARTIFACT)

        # TODO(6): Find the best child with best_child_run_id (task 5, below), tag it with
        #   BEST_TAG="true", and tag the parent with best_algorithm and best_run_id.
        best_run_id = best_child_run_id(parent.info.run_id)
        best_algorithm = next(
            algorithm for algorithm, run_id in child_run_ids.items() if run_id == best_run_id
        )
        # The children have ended, so mlflow.set_tag would tag the active run, which is the
        # parent. The client tags the run whose id it receives.
        MlflowClient().set_tag(best_run_id, BEST_TAG, "true")
        mlflow.set_tags({"best_algorithm": best_algorithm, "best_run_id": best_run_id})

    # TODO(7): Return the parent run id, the child run ids by algorithm and the best
    #   algorithm as a ComparisonResult.
    return ComparisonResult(parent.info.run_id, child_run_ids, best_algorithm)
    # END SOLUTION


def best_child_run_id(parent_run_id: str, metric: str = SELECTION_METRIC) -> str:
    """Find the child run of ``parent_run_id`` with the highest ``metric``, with search_runs.

    Args:
        parent_run_id: A run with nested child runs. It may belong to any experiment, not
            only the active one.
        metric: The name of a metric the children logged, where higher values are better.

    Returns:
        The id of the direct child run whose ``metric`` is highest. Runs that are not
        children of ``parent_run_id``, and the parent itself, never count. If children tie,
        any of them may be returned.

    Raises:
        LookupError: If no child run of ``parent_run_id`` logged ``metric``.
    """
    # BEGIN SOLUTION: Write TODO(5) of best_child_run_id.
    # TODO(5): Search the parent's experiment for its children, ordered by the metric with
    #   the highest value first, and return the first one's id.
    parent = mlflow.get_run(parent_run_id)
    children = mlflow.search_runs(
        experiment_ids=[parent.info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{parent_run_id}'",
        order_by=[f"metrics.`{metric}` DESC"],
        max_results=1,
        output_format="list",
    )
    return children[0].info.run_id
    # END SOLUTION
