"""Tests for phase1/compare_models: five classifiers compared in nested runs under one parent.

Each test calls your functions in a fresh MLflow store and reads back what they logged.
"""

import json

import mlflow
import pandas as pd
import pytest
from mlflow.entities import Dataset, Run
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT, MLFLOW_PARENT_RUN_ID
from sklearn.metrics import accuracy_score, f1_score

from checks import state

EXPERIMENT = "wine-comparison"
# A seed other than the default 42, so a function that ignores random_state is caught. With
# scikit-learn 1.9 this seed makes svm the only best child by f1_macro (1.0) and
# decision_tree the only worst (0.913). A best child picked by the lowest score, or taken
# as the first or the last child, is then the wrong one.
SEED = 23
ALGORITHMS = ["logistic_regression", "svm", "decision_tree", "random_forest", "knn"]
METRICS = ["accuracy", "f1_macro"]
TABLE_COLUMNS = ["algorithm", "run_id", "accuracy", "f1_macro"]
TEST_DATASET_NAME = "wine-test"
COMPARISON_ARTIFACT = "comparison.csv"
BEST_TAG = "best"
PARENT_TAGS = ["best_algorithm", "best_run_id"]


# -- the comparison run and the runs it logged -----------------------------------------------


def run_comparison(solution, mlflow_snapshot):
    """Call compare_models and return what it returned.

    The call runs once per module, and later tests start from a copy of the store it left.
    """
    return mlflow_snapshot.run_once(
        "compare_models", lambda: solution.compare_models(EXPERIMENT, random_state=SEED)
    )


def describe_runs(runs: list[Run]) -> str:
    """List runs with their names and parents, one per indented line."""
    if not runs:
        return "(no runs)"
    lines = []
    for run in runs:
        parent = run.data.tags.get(MLFLOW_PARENT_RUN_ID, "(none)")
        lines.append(f"    run {run.info.run_id} ({run.info.run_name}), parent {parent}")
    return "\n" + "\n".join(lines)


def parent_of(runs: list[Run]) -> Run:
    """Return the experiment's one top-level run, failing when there is not exactly one."""
    top_level = [run for run in runs if MLFLOW_PARENT_RUN_ID not in run.data.tags]
    if len(top_level) != 1:
        state.fail(
            f"The experiment {EXPERIMENT!r} has {len(top_level)} top-level runs, but a "
            "comparison is one parent run with every candidate's run nested under it.",
            expected="1 top-level run, the parent, and one child run per algorithm under it",
            actual=describe_runs(runs),
            why=(
                "Start each child with mlflow.start_run(run_name=..., nested=True) inside the "
                "parent's with-block. nested=True records the parent's id in the child's "
                "mlflow.parentRunId tag, which groups the children under the parent in the UI."
            ),
        )
    return top_level[0]


def children_of(runs: list[Run], parent: Run) -> dict[str, Run]:
    """Return the parent's child runs by run name, failing unless there is one per algorithm."""
    children = [
        run for run in runs if run.data.tags.get(MLFLOW_PARENT_RUN_ID) == parent.info.run_id
    ]
    by_name = {run.info.run_name: run for run in children}
    if len(children) != len(ALGORITHMS) or sorted(by_name) != sorted(ALGORITHMS):
        state.fail(
            f"The parent run has {len(children)} child runs, but the kata expects one per "
            "algorithm, named after it.",
            expected=f"child runs {state.names(ALGORITHMS)}",
            actual=f"child runs {state.names(run.info.run_name for run in children)}",
            why=(
                "Pass run_name=algorithm to mlflow.start_run, so the UI, the comparison table "
                "and the tests can tell the children apart."
            ),
        )
    return by_name


def logged_parent_and_children() -> tuple[Run, dict[str, Run]]:
    """Return the comparison's parent run and its child runs by algorithm."""
    runs = state.experiment_runs(EXPERIMENT)
    parent = parent_of(runs)
    return parent, children_of(runs, parent)


def parent_and_children(solution, mlflow_snapshot) -> tuple[Run, dict[str, Run]]:
    """Call compare_models and return its parent run and child runs by algorithm."""
    run_comparison(solution, mlflow_snapshot)
    return logged_parent_and_children()


def f1_scores(children: dict[str, Run]) -> dict[str, float]:
    """Return each child's logged f1_macro, failing if a child has none."""
    for child in children.values():
        state.assert_metric_names(child, ["f1_macro"])
    return {name: child.data.metrics["f1_macro"] for name, child in children.items()}


def describe_scores(scores: dict[str, float]) -> str:
    return ", ".join(f"{name}={value:.4g}" for name, value in scores.items())


@pytest.fixture
def split(solution):
    return solution.load_wine_split(SEED)


# -- task 1: a parent run with one nested child run per algorithm -------------------------


@pytest.mark.task(1)
def test_each_algorithm_gets_a_child_run(solution, mlflow_snapshot):
    run_comparison(solution, mlflow_snapshot)

    runs = state.experiment_runs(EXPERIMENT)
    parent = parent_of(runs)
    child_names = [
        run.info.run_name
        for run in runs
        if run.data.tags.get(MLFLOW_PARENT_RUN_ID) == parent.info.run_id
    ]

    state.assert_same_values(
        "The names of the parent's child runs and the algorithms",
        sorted(ALGORITHMS),
        sorted(child_names),
        why="Start one child run per candidate, with run_name set to its algorithm.",
    )


@pytest.mark.task(1)
def test_children_are_nested_under_parent(solution, mlflow_snapshot):
    run_comparison(solution, mlflow_snapshot)

    runs = state.experiment_runs(EXPERIMENT)
    parent = parent_of(runs)
    elsewhere = [
        run
        for run in runs
        if run is not parent and run.data.tags.get(MLFLOW_PARENT_RUN_ID) != parent.info.run_id
    ]

    if elsewhere:
        state.fail(
            "Some runs are nested under a run other than the parent.",
            expected=f"every run except the parent has mlflow.parentRunId={parent.info.run_id}",
            actual=describe_runs(elsewhere),
            why="Start the child runs directly in the parent's with-block, one level deep.",
        )


@pytest.mark.task(1)
def test_parent_and_children_finished(solution, mlflow_snapshot):
    run_comparison(solution, mlflow_snapshot)

    runs = state.experiment_runs(EXPERIMENT)

    assert runs, f"compare_models logged no runs in the experiment {EXPERIMENT!r}."
    for run in runs:
        state.assert_run_finished(run)


# -- task 2: every child logs the same test split as a dataset input ----------------------


def context_of(dataset_input) -> str | None:
    """Return the context a dataset input was logged with, such as "test"."""
    for tag in dataset_input.tags:
        if tag.key == MLFLOW_DATASET_CONTEXT:
            return tag.value
    return None


def scored_dataset_of(name: str, child: Run) -> Dataset:
    """Return the one dataset that a child run logged with the context "test"."""
    logged = child.inputs.dataset_inputs
    test_inputs = [dataset_input for dataset_input in logged if context_of(dataset_input) == "test"]
    if len(test_inputs) != 1:
        found = [
            f"{dataset_input.dataset.name} (context {context_of(dataset_input)})"
            for dataset_input in logged
        ]
        state.fail(
            f"The child run {name!r} has {len(test_inputs)} dataset inputs with the context "
            "'test', but the kata expects exactly one.",
            expected=(
                f"mlflow.log_input(dataset, context='test') with a dataset named "
                f"{TEST_DATASET_NAME!r}"
            ),
            actual=f"dataset inputs {state.names(found)}",
            why="A dataset input records which rows a run used, and the context names its purpose.",
        )
    return test_inputs[0].dataset


@pytest.mark.task(2)
def test_children_log_test_split_as_input(solution, mlflow_snapshot, split):
    _, children = parent_and_children(solution, mlflow_snapshot)

    expected_columns = [*split.X_test.columns, "target"]
    for name, child in children.items():
        dataset = scored_dataset_of(name, child)
        if dataset.name != TEST_DATASET_NAME:
            state.fail(
                f"The test dataset of child run {name!r} is named {dataset.name!r}.",
                expected=TEST_DATASET_NAME,
                actual=dataset.name,
                why="Pass name=TEST_DATASET_NAME to mlflow.data.from_pandas, which the UI shows.",
            )
        rows = json.loads(dataset.profile or "{}").get("num_rows")
        if rows != len(split.y_test):
            state.fail(
                f"The test dataset of child run {name!r} has {rows} rows, but the test split "
                f"has {len(split.y_test)}.",
                expected=f"num_rows={len(split.y_test)}",
                actual=f"num_rows={rows}",
                why=(
                    "Log the test split, the rows the metrics are computed on, and not the "
                    "training split or the whole data set."
                ),
            )
        schema = json.loads(dataset.schema or "{}")
        columns = [column.get("name") for column in schema.get("mlflow_colspec", [])]
        state.assert_same_values(
            f"The columns of child run {name!r}'s test dataset and the test features plus 'target'",
            expected_columns,
            columns,
            why=(
                "Build the dataset with mlflow.data.from_pandas from the test features with "
                "the labels in a 'target' column, so it records what the models were scored on."
            ),
        )


@pytest.mark.task(2)
def test_children_evaluated_on_same_test_split(solution, mlflow_snapshot):
    _, children = parent_and_children(solution, mlflow_snapshot)

    digests = {name: scored_dataset_of(name, child).digest for name, child in children.items()}

    if len(set(digests.values())) != 1:
        state.fail(
            "The children's test datasets have different digests, so the models were scored "
            "on different rows.",
            expected="one digest shared by every child run",
            actual=", ".join(f"{name}={digest}" for name, digest in digests.items()),
            why=(
                "A comparison is fair only when every model is scored on the same test rows. "
                "Split the data once, before the loop, and log that one split in every child."
            ),
        )


# -- task 3: every child logs the same metrics, computed on the test split ------------------


@pytest.mark.task(3)
def test_children_share_metric_names(solution, mlflow_snapshot):
    _, children = parent_and_children(solution, mlflow_snapshot)

    incomplete = [
        name for name, child in children.items() if not set(METRICS) <= set(child.data.metrics)
    ]

    if incomplete:
        state.fail(
            f"Not every child run logged the metrics {state.names(METRICS)}.",
            expected=f"metrics {state.names(METRICS)} on every child run",
            actual="\n".join(
                f"    {name}: metrics {state.names(child.data.metrics)}"
                for name, child in children.items()
            ),
            why=(
                "Runs are compared by metric name, so a child that logs 'acc' instead of "
                "'accuracy' drops out of the UI's comparison charts, of search_runs ordering "
                "and of the comparison table."
            ),
        )


@pytest.mark.task(3)
def test_child_metrics_match_their_models(solution, mlflow_snapshot, split):
    _, children = parent_and_children(solution, mlflow_snapshot)

    candidates = solution.build_candidates(SEED)

    for algorithm, child in children.items():
        model = candidates[algorithm].fit(split.X_train, split.y_train)
        predictions = model.predict(split.X_test)
        state.assert_metric_close(
            child,
            "accuracy",
            accuracy_score(split.y_test, predictions),
            meaning=f"the accuracy on the test split of {algorithm} fitted on the training split",
        )
        state.assert_metric_close(
            child,
            "f1_macro",
            f1_score(split.y_test, predictions, average="macro"),
            meaning=f"the macro F1 on the test split of {algorithm} fitted on the training split",
        )


# -- task 4: the comparison table on the parent run ----------------------------------------


def comparison_table(parent: Run, children: dict[str, Run]) -> pd.DataFrame:
    """Read comparison.csv from the parent run, failing if it is missing or lacks columns."""
    present = state.artifact_paths(parent.info.run_id)
    if COMPARISON_ARTIFACT not in present:
        holders = [
            name
            for name, child in children.items()
            if COMPARISON_ARTIFACT in state.artifact_paths(child.info.run_id)
        ]
        where = (
            f" It is on the child runs {state.names(holders)} instead, not on the parent."
            if holders
            else ""
        )
        state.fail(
            f"The parent run has no artifact {COMPARISON_ARTIFACT!r}.{where}",
            expected=f"{COMPARISON_ARTIFACT} on the parent run {parent.info.run_id}",
            actual=f"parent artifacts {state.names(present)}",
            why=(
                "Log the table after the loop, inside the parent's with-block but outside "
                "every child's, because mlflow.log_text writes to the active run."
            ),
        )
    table = pd.read_csv(state.download_artifact(parent, COMPARISON_ARTIFACT))
    missing = [column for column in TABLE_COLUMNS if column not in table.columns]
    if missing:
        state.fail(
            f"{COMPARISON_ARTIFACT} has no column {state.names(missing)}.",
            expected=f"columns {', '.join(TABLE_COLUMNS)}",
            actual=f"columns {', '.join(map(str, table.columns))}",
        )
    return table


@pytest.mark.task(4)
def test_comparison_table_has_row_per_algorithm(solution, mlflow_snapshot):
    parent, children = parent_and_children(solution, mlflow_snapshot)

    table = comparison_table(parent, children)

    state.assert_same_values(
        f"The algorithm column of {COMPARISON_ARTIFACT} and the algorithms",
        sorted(ALGORITHMS),
        sorted(table["algorithm"]),
        why="The table has exactly one row per candidate, so no algorithm is missing or twice.",
    )


@pytest.mark.task(4)
def test_comparison_table_matches_child_metrics(solution, mlflow_snapshot):
    parent, children = parent_and_children(solution, mlflow_snapshot)

    table = comparison_table(parent, children).set_index("algorithm")

    expected_ids = {name: child.info.run_id for name, child in children.items()}
    table_ids = {name: table.loc[name, "run_id"] for name in children if name in table.index}
    if table_ids != expected_ids:
        state.fail(
            f"The run_id column of {COMPARISON_ARTIFACT} does not name each algorithm's child run.",
            expected=", ".join(f"{name}={run_id}" for name, run_id in expected_ids.items()),
            actual=", ".join(f"{name}={run_id}" for name, run_id in table_ids.items()),
            why=(
                "Take the id from the child's own run object (child.info.run_id). After the "
                "child's with-block ends, mlflow.active_run() is the parent again."
            ),
        )
    for name, child in children.items():
        for metric in METRICS:
            logged = child.data.metrics.get(metric)
            listed = float(table.loc[name, metric])
            if logged is None or listed != pytest.approx(logged, rel=1e-6):
                state.fail(
                    f"{COMPARISON_ARTIFACT} lists {metric}={listed:.6g} for {name}, but its "
                    f"child run logged {metric}={logged}.",
                    expected=f"the value the child run {child.info.run_id} logged",
                    actual=f"{metric}={listed:.6g}",
                    why="Fill the table from the same scores you log, so the two never disagree.",
                )


@pytest.mark.task(4)
def test_comparison_table_lists_best_first(solution, mlflow_snapshot):
    parent, children = parent_and_children(solution, mlflow_snapshot)

    table = comparison_table(parent, children)

    scores = list(table["f1_macro"])
    if scores != sorted(scores, reverse=True):
        state.fail(
            f"The rows of {COMPARISON_ARTIFACT} are not ordered by f1_macro, highest first.",
            expected="f1_macro from highest to lowest",
            actual=", ".join(
                f"{row.algorithm}={row.f1_macro:.4g}" for row in table.itertuples(index=False)
            ),
            why="A reader looks for the winner in the top row, so sort by f1_macro, descending.",
        )


# -- task 5: best_child_run_id finds the best child with search_runs ----------------------


def log_parent_with_children(
    experiment_name: str,
    children: dict[str, dict[str, float]],
    parent_metrics: dict[str, float] | None = None,
) -> tuple[str, dict[str, str]]:
    """Log a parent run with one nested child per entry, and return their run ids."""
    mlflow.set_experiment(experiment_name)
    child_ids = {}
    with mlflow.start_run(run_name="parent") as parent:
        if parent_metrics:
            mlflow.log_metrics(parent_metrics)
        for name, metrics in children.items():
            with mlflow.start_run(run_name=name, nested=True) as child:
                if metrics:
                    mlflow.log_metrics(metrics)
            child_ids[name] = child.info.run_id
    return parent.info.run_id, child_ids


def name_of(run_id: object, child_ids: dict[str, str]) -> str:
    """Name the child run that a returned id belongs to, or describe the stray value."""
    for name, child_id in child_ids.items():
        if child_id == run_id:
            return f"the child {name!r}"
    if isinstance(run_id, str):
        try:
            return f"the run {MlflowClient().get_run(run_id).info.run_name!r} ({run_id})"
        except MlflowException:
            pass
    return repr(run_id)


@pytest.mark.task(5)
def test_search_returns_child_with_highest_metric(solution):
    scores = {"first": 0.80, "middle": 0.95, "last": 0.70}
    parent_id, child_ids = log_parent_with_children(
        "search-highest", {name: {"f1_macro": value} for name, value in scores.items()}
    )

    returned = solution.best_child_run_id(parent_id)

    if returned != child_ids["middle"]:
        state.fail(
            f"best_child_run_id returned {name_of(returned, child_ids)}, but the child with "
            "the highest f1_macro is 'middle'.",
            expected=f"the id of 'middle' ({child_ids['middle']})",
            actual=f"{returned!r}; children f1_macro {describe_scores(scores)}",
            why=(
                "Higher F1 is better. Order the search by the metric, highest first: "
                "order_by=['metrics.f1_macro DESC']."
            ),
        )


@pytest.mark.task(5)
def test_search_ranks_by_requested_metric(solution):
    children = {
        "accurate": {"accuracy": 0.96, "f1_macro": 0.80},
        "balanced": {"accuracy": 0.90, "f1_macro": 0.90},
    }
    parent_id, child_ids = log_parent_with_children("search-metric", children)

    returned = solution.best_child_run_id(parent_id, metric="accuracy")

    if returned != child_ids["accurate"]:
        state.fail(
            f"best_child_run_id(parent, metric='accuracy') returned {name_of(returned, child_ids)}"
            ", but the child with the highest accuracy is 'accurate'.",
            expected=f"the id of 'accurate' ({child_ids['accurate']})",
            actual=f"{returned!r}; children {children}",
            why="Order by the metric the caller names, not by a fixed one.",
        )


@pytest.mark.task(5)
def test_search_ignores_parent_and_other_runs(solution):
    parent_id, child_ids = log_parent_with_children(
        "search-others",
        {"weaker": {"f1_macro": 0.60}, "stronger": {"f1_macro": 0.85}},
        parent_metrics={"f1_macro": 0.98},
    )
    log_parent_with_children("search-others", {"other-family": {"f1_macro": 0.97}})

    returned = solution.best_child_run_id(parent_id)

    if returned != child_ids["stronger"]:
        state.fail(
            f"best_child_run_id returned {name_of(returned, child_ids)}, but only the children "
            "of the given parent count, and the best of them is 'stronger'.",
            expected=f"the id of 'stronger' ({child_ids['stronger']})",
            actual=repr(returned),
            why=(
                "The experiment also contains the parent itself, which logged f1_macro too, and "
                "another parent's child. Filter on the parent: "
                "filter_string=\"tags.mlflow.parentRunId = '<parent id>'\"."
            ),
        )


@pytest.mark.task(5)
def test_search_looks_in_parent_experiment(solution):
    parent_id, child_ids = log_parent_with_children(
        "search-elsewhere", {"low": {"f1_macro": 0.5}, "high": {"f1_macro": 0.9}}
    )
    mlflow.set_experiment("another-active-experiment")

    active_experiment_reason = (
        "Without experiment_ids, search_runs searches only the active experiment. Read the "
        "parent's experiment id from mlflow.get_run(parent_run_id) and pass experiment_ids=[...]."
    )
    try:
        returned = solution.best_child_run_id(parent_id)
    except LookupError as error:
        state.fail(
            f"best_child_run_id raised {type(error).__name__} while another experiment was "
            "active, but the parent has two scored children in its own experiment.",
            expected=f"the id of 'high' ({child_ids['high']})",
            actual=f"{type(error).__name__}: {error}",
            why=active_experiment_reason,
        )

    if returned != child_ids["high"]:
        state.fail(
            f"best_child_run_id returned {name_of(returned, child_ids)} while another "
            "experiment was active.",
            expected=f"the id of 'high' ({child_ids['high']}) in the parent's experiment",
            actual=repr(returned),
            why=active_experiment_reason,
        )


@pytest.mark.task(5)
@pytest.mark.parametrize(
    "children",
    [{}, {"unscored": {"accuracy": 0.9}}],
    ids=["no_children", "children_without_metric"],
)
def test_search_rejects_parent_without_scored_children(solution, children):
    parent_id, child_ids = log_parent_with_children("search-empty", children)

    try:
        returned = solution.best_child_run_id(parent_id)
    except (IndexError, KeyError) as error:
        state.fail(
            "best_child_run_id failed on an empty search result instead of checking for one.",
            expected="LookupError with a message that names the parent run and the metric",
            actual=f"{type(error).__name__}: {error}",
            why=(
                "IndexError and KeyError are kinds of LookupError, but raised by accident "
                "(indexing an empty DataFrame) they tell the caller nothing. Check whether the "
                "search found a scored child, and raise LookupError yourself when it did not."
            ),
        )
    except LookupError:
        return

    state.fail(
        "best_child_run_id returned a run for a parent with no child that logged f1_macro.",
        expected="LookupError",
        actual=f"returned {name_of(returned, child_ids)}",
        why=(
            "Raise LookupError rather than return an unscored run, which a caller could "
            "then tag as the best model. Runs without the metric sort last in search_runs."
        ),
    )


# -- task 6: the best child is tagged, and the parent names it -----------------------------


@pytest.mark.task(6)
def test_parent_tags_name_best_child(solution, mlflow_snapshot):
    parent, children = parent_and_children(solution, mlflow_snapshot)

    tags = state.user_tags(parent)
    missing = [key for key in PARENT_TAGS if key not in tags]
    if missing:
        state.fail(
            f"The parent run has no tag {state.names(missing)}.",
            expected=f"tags {', '.join(PARENT_TAGS)}",
            actual=f"tags {state.names(tags)}",
            why="The parent's tags let anyone find the winner without opening every child.",
        )

    if tags["best_algorithm"] not in children:
        state.fail(
            f"The parent's tag best_algorithm is {tags['best_algorithm']!r}, which is not an "
            "algorithm of the comparison.",
            expected=f"one of {state.names(ALGORITHMS)}",
            actual=tags["best_algorithm"],
        )
    named_child = children[tags["best_algorithm"]]
    if tags["best_run_id"] != named_child.info.run_id:
        state.fail(
            "The parent's tags best_algorithm and best_run_id name different runs.",
            expected=(
                f"best_run_id={named_child.info.run_id}, the id of the "
                f"{tags['best_algorithm']} child run"
            ),
            actual=f"best_run_id={tags['best_run_id']}",
        )


@pytest.mark.task(6)
def test_best_child_has_highest_f1(solution, mlflow_snapshot):
    parent, children = parent_and_children(solution, mlflow_snapshot)

    scores = f1_scores(children)
    best_run_id = parent.data.tags.get("best_run_id")
    named = [name for name, child in children.items() if child.info.run_id == best_run_id]
    if not named:
        state.fail(
            "The parent's tag best_run_id names no child run.",
            expected="the id of the child run with the highest f1_macro",
            actual=f"best_run_id={best_run_id}",
        )

    highest = max(scores.values())
    if scores[named[0]] < highest:
        winners = [name for name, value in scores.items() if value == highest]
        state.fail(
            f"The parent names {named[0]} (f1_macro={scores[named[0]]:.4g}) as the best, but "
            f"{state.names(winners)} has the highest f1_macro ({highest:.4g}).",
            expected=f"best_run_id of {state.names(winners)}",
            actual=f"f1_macro {describe_scores(scores)}",
            why="Higher F1 is better, so the best child has the highest f1_macro, not the lowest.",
        )


@pytest.mark.task(6)
def test_best_child_is_tagged(solution, mlflow_snapshot):
    parent, children = parent_and_children(solution, mlflow_snapshot)

    scores = f1_scores(children)
    tagged = [name for name, child in children.items() if child.data.tags.get(BEST_TAG) == "true"]
    if len(tagged) != 1:
        on_parent = parent.data.tags.get(BEST_TAG) == "true"
        state.fail(
            f"{len(tagged)} child runs carry the tag {BEST_TAG}='true'"
            + (", and the parent run carries it instead." if on_parent else "."),
            expected="exactly one, the child with the highest f1_macro",
            actual=f"tagged children {state.names(tagged)}; f1_macro {describe_scores(scores)}",
            why=(
                "mlflow.set_tag tags the active run, which after the children's with-blocks "
                "is the parent. Tag a run by its id: MlflowClient().set_tag(run_id, key, value)."
            ),
        )

    highest = max(scores.values())
    if scores[tagged[0]] < highest:
        state.fail(
            f"The child {tagged[0]!r} carries the tag {BEST_TAG}='true', but its f1_macro "
            "is not the highest.",
            expected=f"the tag on a child with f1_macro={highest:.4g}",
            actual=f"f1_macro {describe_scores(scores)}",
        )


# -- task 7: compare_models returns what it logged --------------------------------------------


def returned_fields(result) -> tuple[str, dict[str, str], str]:
    """Read the three fields of a ComparisonResult, failing clearly on another value."""
    fields = ("parent_run_id", "child_run_ids", "best_algorithm")
    if not all(hasattr(result, field) for field in fields):
        state.fail(
            f"compare_models returned {type(result).__name__} {result!r}.",
            expected="ComparisonResult(parent_run_id=..., child_run_ids={...}, best_algorithm=...)",
            actual=repr(result),
        )
    return result.parent_run_id, result.child_run_ids, result.best_algorithm


@pytest.mark.task(7)
def test_returned_ids_match_runs(solution, mlflow_snapshot):
    result = run_comparison(solution, mlflow_snapshot)

    parent, children = logged_parent_and_children()
    parent_run_id, child_run_ids, _ = returned_fields(result)

    if parent_run_id != parent.info.run_id:
        state.fail(
            "The returned parent_run_id is not the id of the parent run.",
            expected=parent.info.run_id,
            actual=repr(parent_run_id),
        )
    expected_ids = {name: child.info.run_id for name, child in children.items()}
    if not isinstance(child_run_ids, dict) or child_run_ids != expected_ids:
        state.fail(
            "The returned child_run_ids do not map each algorithm to its child run's id.",
            expected=expected_ids,
            actual=child_run_ids,
            why="Record child.info.run_id under the algorithm's name as each child run ends.",
        )


@pytest.mark.task(7)
def test_returned_best_algorithm_has_highest_f1(solution, mlflow_snapshot):
    result = run_comparison(solution, mlflow_snapshot)

    _, children = logged_parent_and_children()
    scores = f1_scores(children)
    _, _, best_algorithm = returned_fields(result)

    winners = [name for name, value in scores.items() if value == max(scores.values())]
    if best_algorithm not in winners:
        state.fail(
            f"compare_models returned best_algorithm={best_algorithm!r}.",
            expected=f"{state.names(winners)}, the highest f1_macro",
            actual=f"f1_macro {describe_scores(scores)}",
        )
