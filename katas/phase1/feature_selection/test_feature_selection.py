"""Tests for phase1/feature_selection: importances, a selection and a retrained model in MLflow.

Each test calls your functions in a fresh MLflow store and reads back what they logged.
"""

import json
import math

import mlflow
import pandas as pd
import pytest
from mlflow.entities import Run
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID
from sklearn.feature_selection import SelectKBest, f_classif
from sklearn.inspection import permutation_importance
from sklearn.metrics import accuracy_score, f1_score

from checks import state

EXPERIMENT = "cancer-features"
# Arguments that differ from the defaults, so hard-coded values are caught. With this seed
# and k, scikit-learn 1.9 selects three different sets of five features when SelectKBest is
# fitted on the training split, on the test split and on all rows, so the tests can tell
# which rows chose the features.
SEED = 24
K = 5
N_REPEATS = 2
ARGUMENTS = {"k": K, "random_state": SEED, "n_repeats": N_REPEATS}

BASELINE_RUN = "all_features"
SELECTED_RUN = "selected_features"
CHILD_RUNS = [BASELINE_RUN, SELECTED_RUN]
IMPORTANCES_ARTIFACT = "importances/feature_importances.csv"
IMPORTANCE_PLOT_ARTIFACT = "importances/feature_importances.png"
TABLE_COLUMNS = ["feature", "impurity", "permutation"]
SELECTED_FEATURES_PARAM = "selected_features"
SELECTED_FEATURES_ARTIFACT = "selection/selected_features.json"
MODEL_NAME = "model"
# The breast cancer data set has 30 feature columns.
FEATURE_COUNT = 30
# Importances are compared to values the test computes with the same seed. Both sides run
# the same scikit-learn code, so only floating-point noise can differ.
IMPORTANCE_TOLERANCE = 1e-9


# -- the call and the runs it logged ---------------------------------------------------------


def run_selection(solution, mlflow_snapshot):
    """Call run_feature_selection and return what it returned.

    The call runs once per module, and later tests start from a copy of the store it left.
    """
    return mlflow_snapshot.run_once(
        "run_feature_selection",
        lambda: solution.run_feature_selection(EXPERIMENT, **ARGUMENTS),
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


def logged_runs() -> tuple[Run, dict[str, Run]]:
    """Return the experiment's parent run and its two child runs by name.

    Fails unless the experiment contains exactly one top-level run with the two named
    children nested under it.
    """
    runs = state.experiment_runs(EXPERIMENT)
    top_level = [run for run in runs if MLFLOW_PARENT_RUN_ID not in run.data.tags]
    if len(top_level) != 1:
        state.fail(
            f"The experiment {EXPERIMENT!r} has {len(top_level)} top-level runs, but the kata "
            "expects one parent run with the two child runs nested under it.",
            expected=f"1 top-level run, with the children {state.names(CHILD_RUNS)} under it",
            actual=describe_runs(runs),
            why=(
                "Start each child with mlflow.start_run(run_name=..., nested=True) inside the "
                "parent's with-block, so the UI shows the two models side by side under it."
            ),
        )
    parent = top_level[0]
    children = {
        run.info.run_name: run
        for run in runs
        if run.data.tags.get(MLFLOW_PARENT_RUN_ID) == parent.info.run_id
    }
    if sorted(children) != sorted(CHILD_RUNS) or len(runs) != 1 + len(CHILD_RUNS):
        state.fail(
            "The parent run does not have exactly the two child runs the kata expects.",
            expected=f"child runs {state.names(CHILD_RUNS)}, and no other runs",
            actual=describe_runs(runs),
            why=(
                "Pass run_name=BASELINE_RUN and run_name=SELECTED_RUN to mlflow.start_run, so "
                "the UI and the tests can tell the all-features model from the selected one."
            ),
        )
    return parent, children


def parent_and_children(solution, mlflow_snapshot) -> tuple[Run, dict[str, Run]]:
    """Call run_feature_selection and return its parent run and child runs by name."""
    run_selection(solution, mlflow_snapshot)
    return logged_runs()


def download_parent_artifact(parent: Run, children: dict[str, Run], path: str):
    """Download one artifact of the parent run, saying so when a child has it instead."""
    present = state.artifact_paths(parent.info.run_id)
    if path not in present:
        holders = [
            name
            for name, child in children.items()
            if path in state.artifact_paths(child.info.run_id)
        ]
        where = f" The child run {state.names(holders)} has it instead." if holders else ""
        state.fail(
            f"The parent run has no artifact {path!r}.{where}",
            expected=f"{path} on the parent run {parent.info.run_id}",
            actual=f"parent artifacts {state.names(present)}",
            why=(
                "mlflow.log_text, log_dict and log_figure write to the active run. Log the "
                "parent's artifacts after a child's with-block has ended, when the parent is "
                "the active run again."
            ),
        )
    return state.download_artifact(parent, path)


def selected_param(parent: Run) -> list[str]:
    """Return the parent's selected_features param split into names, failing if it is missing."""
    if SELECTED_FEATURES_PARAM not in parent.data.params:
        state.fail(
            f"The parent run has no param {SELECTED_FEATURES_PARAM!r}.",
            expected=f"{SELECTED_FEATURES_PARAM}=<name>,<name>,... with {K} feature names",
            actual=f"params {state.names(parent.data.params)}",
            why="A param records which features went into the retrained model.",
        )
    return parent.data.params[SELECTED_FEATURES_PARAM].split(",")


@pytest.fixture
def split(solution):
    return solution.load_cancer_split(SEED)


def fitted_baseline(solution, split):
    """Fit the given forest on every training feature, as the all_features child does."""
    return solution.build_forest(SEED).fit(split.X_train, split.y_train)


def describe_columns(columns: list[str]) -> str:
    """Show a list of column names, shortened after the first few."""
    if len(columns) <= 2 * K:
        return str(columns)
    return f"{len(columns)} columns: {', '.join(columns[:K])}, ... and {len(columns) - K} more"


def k_best(X: pd.DataFrame, y: pd.Series) -> list[str]:
    """Return the K features that SelectKBest(f_classif) keeps on these rows, in column order."""
    return list(SelectKBest(f_classif, k=K).fit(X, y).get_feature_names_out())


def assert_test_scores(
    run: Run, model, X_test: pd.DataFrame, y_test: pd.Series, model_description: str
):
    """Check a child's accuracy and f1_macro against the test's own model on the test split."""
    predictions = model.predict(X_test)
    state.assert_metric_close(
        run,
        "accuracy",
        accuracy_score(y_test, predictions),
        meaning=f"the accuracy on the test split of {model_description}",
    )
    state.assert_metric_close(
        run,
        "f1_macro",
        f1_score(y_test, predictions, average="macro"),
        meaning=f"the macro F1 on the test split of {model_description}",
    )


# -- task 1: a parent run with two nested child runs -----------------------------------------


@pytest.mark.task(1)
def test_parent_has_two_nested_children(solution, mlflow_snapshot):
    run_selection(solution, mlflow_snapshot)

    _, children = logged_runs()

    state.assert_same_values(
        "The child runs of the parent and the kata's two runs",
        sorted(CHILD_RUNS),
        sorted(children),
    )


@pytest.mark.task(1)
def test_runs_finished(solution, mlflow_snapshot):
    run_selection(solution, mlflow_snapshot)

    runs = state.experiment_runs(EXPERIMENT)

    assert runs, f"run_feature_selection logged no runs in the experiment {EXPERIMENT!r}."
    for run in runs:
        state.assert_run_finished(run)


@pytest.mark.task(1)
def test_parent_logs_arguments_as_params(solution, mlflow_snapshot):
    parent, _ = parent_and_children(solution, mlflow_snapshot)

    state.assert_params(parent, ARGUMENTS)


# -- task 2: the baseline child trains on every feature --------------------------------------


@pytest.mark.task(2)
def test_baseline_trains_on_every_feature(solution, mlflow_snapshot):
    _, children = parent_and_children(solution, mlflow_snapshot)

    state.assert_params(children[BASELINE_RUN], {"n_features": FEATURE_COUNT})


@pytest.mark.task(2)
def test_baseline_metrics_on_test_split(solution, mlflow_snapshot, split):
    _, children = parent_and_children(solution, mlflow_snapshot)

    baseline = fitted_baseline(solution, split)

    assert_test_scores(
        children[BASELINE_RUN],
        baseline,
        split.X_test,
        split.y_test,
        "build_forest(random_state) fitted on every training feature",
    )


# -- task 3: the importance table and its plot -----------------------------------------------


def importance_table(parent: Run, children: dict[str, Run]) -> pd.DataFrame:
    """Read the parent's importance table, failing if it is missing or lacks columns."""
    table = pd.read_csv(download_parent_artifact(parent, children, IMPORTANCES_ARTIFACT))
    missing = [column for column in TABLE_COLUMNS if column not in table.columns]
    if missing:
        state.fail(
            f"{IMPORTANCES_ARTIFACT} has no column {state.names(missing)}.",
            expected=f"columns {', '.join(TABLE_COLUMNS)}",
            actual=f"columns {', '.join(map(str, table.columns))}",
            why="The tests find each importance by its column name, as a reader of the CSV would.",
        )
    return table


def misaligned_features(
    table: pd.DataFrame, column: str, expected: dict[str, float]
) -> dict[str, tuple[float, float]]:
    """Return the features whose value in ``column`` differs from ``expected``."""
    logged = dict(zip(table["feature"], table[column], strict=True))
    return {
        feature: (logged[feature], value)
        for feature, value in expected.items()
        if feature in logged
        and not math.isclose(logged[feature], value, abs_tol=IMPORTANCE_TOLERANCE)
    }


def describe_misaligned(wrong: dict[str, tuple[float, float]]) -> str:
    listed = list(wrong.items())[:4]
    lines = [
        f"    {feature}: logged {logged:.4g}, expected {value:.4g}"
        for feature, (logged, value) in listed
    ]
    if len(wrong) > len(listed):
        lines.append(f"    ... and {len(wrong) - len(listed)} more")
    return "\n" + "\n".join(lines)


@pytest.mark.task(3)
def test_importance_table_lists_every_feature(solution, mlflow_snapshot, split):
    parent, children = parent_and_children(solution, mlflow_snapshot)

    table = importance_table(parent, children)

    state.assert_same_values(
        f"The feature column of {IMPORTANCES_ARTIFACT} and the data set's features",
        sorted(split.X_train.columns),
        sorted(table["feature"]),
        why="The table has one row per feature the baseline forest was trained on.",
    )


@pytest.mark.task(3)
def test_impurity_importances_match_features(solution, mlflow_snapshot, split):
    parent, children = parent_and_children(solution, mlflow_snapshot)

    table = importance_table(parent, children)
    baseline = fitted_baseline(solution, split)

    expected = dict(zip(split.X_train.columns, baseline.feature_importances_, strict=True))
    wrong = misaligned_features(table, "impurity", expected)
    if wrong:
        state.fail(
            f"{len(wrong)} features in {IMPORTANCES_ARTIFACT} do not have the impurity "
            "importance of the baseline forest.",
            expected="each feature's value from feature_importances_ of the all_features forest",
            actual=describe_misaligned(wrong),
            why=(
                "feature_importances_[i] belongs to the i-th training column. Build the table "
                "from the column names and the importances together, then sort the whole "
                "table; sorting the values alone pairs them with the wrong names."
            ),
        )


@pytest.mark.task(3)
def test_permutation_importances_on_test_split(solution, mlflow_snapshot, split):
    parent, children = parent_and_children(solution, mlflow_snapshot)

    table = importance_table(parent, children)
    baseline = fitted_baseline(solution, split)

    result = permutation_importance(
        baseline, split.X_test, split.y_test, n_repeats=N_REPEATS, random_state=SEED
    )
    expected = dict(zip(split.X_test.columns, result.importances_mean, strict=True))
    wrong = misaligned_features(table, "permutation", expected)
    if wrong:
        on_training = permutation_importance(
            baseline, split.X_train, split.y_train, n_repeats=N_REPEATS, random_state=SEED
        )
        training_values = dict(
            zip(split.X_train.columns, on_training.importances_mean, strict=True)
        )
        diagnosis = (
            " The logged values are those of the training split."
            if not misaligned_features(table, "permutation", training_values)
            else ""
        )
        state.fail(
            f"{len(wrong)} features in {IMPORTANCES_ARTIFACT} do not have the permutation "
            f"importance of the baseline forest on the test split.{diagnosis}",
            expected=(
                f"importances_mean of permutation_importance(forest, X_test, y_test, "
                f"n_repeats={N_REPEATS}, random_state={SEED})"
            ),
            actual=describe_misaligned(wrong),
            why=(
                "Permutation importance measures how much the test score drops when a column "
                "is shuffled. On the training split it measures what the forest memorised. "
                "Pass the function's n_repeats and random_state, so the values can be repeated."
            ),
        )


@pytest.mark.task(3)
def test_importance_table_sorted_by_permutation(solution, mlflow_snapshot):
    parent, children = parent_and_children(solution, mlflow_snapshot)

    table = importance_table(parent, children)

    values = list(table["permutation"])
    if values != sorted(values, reverse=True):
        state.fail(
            f"The rows of {IMPORTANCES_ARTIFACT} are not ordered by permutation importance, "
            "highest first.",
            expected="permutation from highest to lowest",
            actual=", ".join(f"{value:.3g}" for value in values),
            why="A reader looks for the features that matter most in the top rows.",
        )


@pytest.mark.task(3)
def test_importance_plot_is_png(solution, mlflow_snapshot):
    parent, children = parent_and_children(solution, mlflow_snapshot)

    path = download_parent_artifact(parent, children, IMPORTANCE_PLOT_ARTIFACT)

    state.assert_png(path)


# -- task 4: the selection, fitted on the training split -------------------------------------


@pytest.mark.task(4)
def test_selected_features_param_lists_k_names(solution, mlflow_snapshot, split):
    parent, _ = parent_and_children(solution, mlflow_snapshot)

    selected = selected_param(parent)

    unknown = [name for name in selected if name not in split.X_train.columns]
    if len(selected) != K or unknown or len(set(selected)) != len(selected):
        state.fail(
            f"The param {SELECTED_FEATURES_PARAM} does not list {K} distinct feature names.",
            expected=f"{K} column names of the data set, joined by commas",
            actual=f"{SELECTED_FEATURES_PARAM}={parent.data.params[SELECTED_FEATURES_PARAM]!r}"
            + (f"; not feature names: {unknown}" if unknown else ""),
            why=(
                "Log the names the selector keeps (get_feature_names_out), not their positions, "
                "and as many as the k the function received."
            ),
        )


@pytest.mark.task(4)
def test_selection_fitted_on_training_split(solution, mlflow_snapshot, split):
    parent, _ = parent_and_children(solution, mlflow_snapshot)

    selected = selected_param(parent)

    expected = k_best(split.X_train, split.y_train)
    if selected == expected:
        return
    if sorted(selected) == sorted(expected):
        state.fail(
            f"The param {SELECTED_FEATURES_PARAM} has the right features in another order.",
            expected=",".join(expected),
            actual=",".join(selected),
            why=(
                "List the names in the data set's column order, as get_feature_names_out "
                "returns them, so the retrained forest sees its columns in the usual order."
            ),
        )
    all_rows = pd.concat([split.X_train, split.X_test])
    all_labels = pd.concat([split.y_train, split.y_test])
    diagnosis = ""
    if selected == k_best(split.X_test, split.y_test):
        diagnosis = " They are the features a selector fitted on the test split keeps."
    elif selected == k_best(all_rows, all_labels):
        diagnosis = " They are the features a selector fitted on all rows keeps."
    state.fail(
        f"The param {SELECTED_FEATURES_PARAM} does not name the {K} features that "
        f"SelectKBest(f_classif, k={K}) keeps when fitted on the training split.{diagnosis}",
        expected=",".join(expected),
        actual=",".join(selected),
        why=(
            "Fit the selector on the training rows only. Test rows that choose the features "
            "leak their labels into the model, so its test scores are no longer an honest "
            "estimate of how it does on new data."
        ),
    )


@pytest.mark.task(4)
def test_selected_features_json_matches_param(solution, mlflow_snapshot):
    parent, children = parent_and_children(solution, mlflow_snapshot)

    path = download_parent_artifact(parent, children, SELECTED_FEATURES_ARTIFACT)
    listed = json.loads(path.read_text(encoding="utf-8"))

    state.assert_same_values(
        f"The names in {SELECTED_FEATURES_ARTIFACT} and the param {SELECTED_FEATURES_PARAM}",
        selected_param(parent),
        listed if isinstance(listed, list) else [listed],
        why=(
            "The artifact is the same list as a JSON array, which code can read back without "
            "splitting a string: mlflow.log_dict(names, path) writes a list as JSON."
        ),
    )


# -- task 5: the retrained model on the selected features ------------------------------------


def column_mismatch(subject: str, columns: list[str], expected: list[str]) -> str:
    """Describe how a model's input columns differ from the selection, as a headline."""
    if len(columns) != len(expected):
        return (
            f"{subject} {len(columns)} input columns, but the retrained model should take "
            f"only the {len(expected)} selected features."
        )
    if sorted(columns) == sorted(expected):
        return f"{subject} the selected features, but not in the data set's column order."
    return f"{subject} {len(columns)} input columns, but not the selected features."


def selected_model(children: dict[str, Run]):
    """Return the one LoggedModel of the selected_features child run."""
    return state.single_logged_model(children[SELECTED_RUN], name=MODEL_NAME)


@pytest.mark.task(5)
def test_selected_run_trains_on_k_features(solution, mlflow_snapshot):
    _, children = parent_and_children(solution, mlflow_snapshot)

    state.assert_params(children[SELECTED_RUN], {"n_features": K})


@pytest.mark.task(5)
def test_model_signature_has_selected_columns(solution, mlflow_snapshot, split):
    _, children = parent_and_children(solution, mlflow_snapshot)

    info = mlflow.models.get_model_info(selected_model(children).model_uri)

    expected = k_best(split.X_train, split.y_train)
    if info.signature is None:
        state.fail(
            "The retrained model has no signature.",
            expected=f"inputs {expected}",
            actual="signature None",
            why="Pass signature=infer_signature(X, predictions) to log_model.",
        )
    columns = info.signature.inputs.input_names()
    if columns != expected:
        state.fail(
            column_mismatch("The retrained model's signature has", columns, expected),
            expected=describe_columns(expected),
            actual=describe_columns(columns),
            why=(
                "Fit the forest on X_train[selected] and infer the signature from the same "
                "columns. A signature with every column means callers must send features the "
                "selection was meant to drop."
            ),
        )


@pytest.mark.task(5)
def test_model_fitted_on_selected_columns(solution, mlflow_snapshot, split):
    _, children = parent_and_children(solution, mlflow_snapshot)

    forest = mlflow.sklearn.load_model(selected_model(children).model_uri)

    expected = k_best(split.X_train, split.y_train)
    fitted_on = [str(name) for name in getattr(forest, "feature_names_in_", [])]
    if fitted_on != expected:
        state.fail(
            column_mismatch("The retrained forest was fitted on", fitted_on, expected),
            expected=f"feature_names_in_ {describe_columns(expected)}",
            actual=f"feature_names_in_ {describe_columns(fitted_on)}",
            why=(
                "Retrain a new forest on X_train[selected]. A forest fitted on every column "
                "still uses the features the selection dropped, and scores like the baseline."
            ),
        )


@pytest.mark.task(5)
def test_selected_metrics_on_test_split(solution, mlflow_snapshot, split):
    _, children = parent_and_children(solution, mlflow_snapshot)

    expected = k_best(split.X_train, split.y_train)
    forest = solution.build_forest(SEED).fit(split.X_train[expected], split.y_train)

    assert_test_scores(
        children[SELECTED_RUN],
        forest,
        split.X_test[expected],
        split.y_test,
        f"build_forest(random_state) fitted on the {K} selected training columns",
    )


# -- task 6: run_feature_selection returns what it logged ------------------------------------


def returned_fields(result) -> tuple[str, str, str, list[str]]:
    """Read the four fields of a SelectionResult, failing clearly on another value."""
    fields = ("parent_run_id", "baseline_run_id", "selected_run_id", "selected_features")
    if not all(hasattr(result, field) for field in fields):
        state.fail(
            f"run_feature_selection returned {type(result).__name__} {result!r}.",
            expected=(
                "SelectionResult(parent_run_id=..., baseline_run_id=..., selected_run_id=..., "
                "selected_features=[...])"
            ),
            actual=repr(result),
        )
    return tuple(getattr(result, field) for field in fields)


@pytest.mark.task(6)
def test_returned_ids_match_runs(solution, mlflow_snapshot):
    result = run_selection(solution, mlflow_snapshot)

    parent, children = logged_runs()
    parent_id, baseline_id, selected_id, _ = returned_fields(result)

    expected = {
        "parent_run_id": parent.info.run_id,
        "baseline_run_id": children[BASELINE_RUN].info.run_id,
        "selected_run_id": children[SELECTED_RUN].info.run_id,
    }
    returned = {
        "parent_run_id": parent_id,
        "baseline_run_id": baseline_id,
        "selected_run_id": selected_id,
    }
    if returned != expected:
        state.fail(
            "The returned run ids do not match the runs in the store.",
            expected=expected,
            actual=returned,
            why="Take each id from its own run object, such as child.info.run_id.",
        )


@pytest.mark.task(6)
def test_returned_features_match_param(solution, mlflow_snapshot):
    result = run_selection(solution, mlflow_snapshot)

    parent, _ = logged_runs()
    *_, selected_features = returned_fields(result)

    state.assert_same_values(
        f"The returned selected_features and the param {SELECTED_FEATURES_PARAM}",
        selected_param(parent),
        list(selected_features) if isinstance(selected_features, list) else [selected_features],
    )
