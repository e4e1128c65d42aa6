"""Tests for phase1/cross_validation: stratified k-fold scores as MLflow metric histories.

Each test calls your functions in a fresh MLflow store and reads back what they logged.
"""

import math

import numpy as np
import pandas as pd
import pytest
from mlflow.entities import Metric, Run
from mlflow.tracking import MlflowClient
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import StratifiedKFold

from checks import state

# cross_validate_model is called with values that all differ from its defaults, so a function
# that ignores an argument is caught.
EXPERIMENT = "breast-cancer-cv"
MODEL = "decision_tree"
N_SPLITS = 4
SEED = 7

# With scikit-learn 1.9, these settings give logistic_regression an accuracy_mean of 0.977 and
# knn one of 0.968, but knn scores higher on the last fold (0.979 against 0.974). The winner is
# then the second model, so a winner picked by the lowest mean, taken as the first model, or
# read from the metric accuracy (whose latest value is the last fold's) is the wrong one.
COMPARISON_EXPERIMENT = "breast-cancer-comparison"
COMPARED = ("knn", "logistic_regression")
COMPARISON_SPLITS = 3
COMPARISON_SEED = 37

METRICS = ("accuracy", "f1_macro")
FOLDS_ARTIFACT = "folds.csv"
FOLDS_COLUMNS = ["row", "fold"]
PARENT_TAGS = ["winner", "winner_run_id"]


# -- data, folds and scores the tests compute themselves --------------------------------------


@pytest.fixture
def breast_cancer(solution) -> tuple[pd.DataFrame, pd.Series]:
    return solution.load_breast_cancer_data()


def seeded_folds(target: pd.Series, n_splits: int, seed: int | None, *, shuffle=True) -> pd.Series:
    """Return each row's fold: the number of the StratifiedKFold split that tests it."""
    splitter = StratifiedKFold(n_splits=n_splits, shuffle=shuffle, random_state=seed)
    folds = pd.Series(-1, index=target.index)
    for fold, (_, test_rows) in enumerate(splitter.split(target.to_frame(), target)):
        folds.iloc[test_rows] = fold
    return folds


def fold_scores(solution, data, folds, *, fit_on_every_row=False) -> list[dict[str, float]]:
    """Score MODEL on each fold, fitted on the other folds (or, to name a mistake, on all)."""
    features, target = data
    scores = []
    for fold in sorted(folds.unique()):
        held_out = (folds == fold).to_numpy()
        training = ~held_out | fit_on_every_row
        model = solution.build_model(MODEL, SEED).fit(features[training], target[training])
        predictions = model.predict(features[held_out])
        scores.append(
            {
                "accuracy": accuracy_score(target[held_out], predictions),
                "f1_macro": f1_score(target[held_out], predictions, average="macro"),
            }
        )
    return scores


def rows_in_other_fold(folds: pd.Series, expected: pd.Series) -> int:
    return int((folds.to_numpy() != expected.to_numpy()).sum())


def describe_folds(folds: pd.Series, first_rows=12) -> str:
    """Show the folds of the first rows, such as 'rows 0 to 11 in folds 0, 3, 1, ...'."""
    first = ", ".join(str(fold) for fold in folds.iloc[:first_rows])
    return f"rows 0 to {first_rows - 1} in folds {first}, ..."


def describe_class_counts(folds: pd.Series, target: pd.Series) -> str:
    """List each fold's class counts, such as 'fold 0: 53 of class 0, 90 of class 1'."""
    parts = []
    for fold, labels in target.groupby(folds.to_numpy()):
        counts = ", ".join(
            f"{count} of class {label}" for label, count in sorted(labels.value_counts().items())
        )
        parts.append(f"fold {fold}: {counts}")
    return "; ".join(parts)


# -- task 1: assign_folds deals the rows into stratified, seeded folds -----------------------


def returned_folds(solution, target: pd.Series, n_splits: int, seed: int) -> pd.Series:
    """Call assign_folds and check that it returned one fold number per row of target."""
    folds = solution.assign_folds(target, n_splits=n_splits, random_state=seed)
    if not isinstance(folds, pd.Series) or not folds.index.equals(target.index):
        state.fail(
            f"assign_folds returned {type(folds).__name__}, not a Series with target's index.",
            expected=f"a pandas Series of {len(target)} fold numbers, indexed like target",
            actual=repr(folds)[:200],
            why="Start from pd.Series(-1, index=target.index) and fill in each row's fold.",
        )
    return folds


def folds_mistake(folds: pd.Series, repeated: pd.Series, target: pd.Series, n_splits: int) -> str:
    """Name the likely reason why folds differ from the expected seeded stratified folds.

    ``repeated`` is the result of a second call with the same arguments.
    """
    if rows_in_other_fold(folds, repeated):
        return (
            "A second call with the same arguments returns other folds, so the shuffle has "
            "no seed. Pass random_state=random_state to StratifiedKFold."
        )
    numbers = sorted(folds.unique().tolist())
    if numbers != list(range(n_splits)):
        return (
            f"The fold numbers are {numbers}, but the kata numbers the folds 0 to "
            f"{n_splits - 1}, in the order that split() yields the splits."
        )
    if rows_in_other_fold(folds, seeded_folds(target, n_splits, None, shuffle=False)) == 0:
        return (
            "These are the folds without shuffling, which follow the rows' stored order. "
            "Pass shuffle=True and random_state=random_state to StratifiedKFold."
        )
    share = target.value_counts(normalize=True)
    for _, labels in target.groupby(folds.to_numpy()):
        counts = labels.value_counts().reindex(share.index, fill_value=0)
        if ((counts - share * len(labels)).abs() > 1).any():
            return (
                f"The folds do not keep the class proportions of the data set "
                f"({describe_class_counts(folds, target)}). StratifiedKFold deals each class "
                "into the folds separately: call its split(X, target) with the labels as the "
                "second argument."
            )
    if rows_in_other_fold(folds, seeded_folds(target, n_splits, 42)) == 0:
        return "These are the folds of random_state=42: pass the random_state argument on."
    return (
        "Give each row the number of the split whose test part contains it, with "
        "StratifiedKFold(n_splits, shuffle=True, random_state=random_state)."
    )


@pytest.mark.task(1)
def test_folds_match_stratified_kfold(solution, breast_cancer):
    _, target = breast_cancer

    folds = returned_folds(solution, target, N_SPLITS, SEED)

    expected = seeded_folds(target, N_SPLITS, SEED)
    moved = rows_in_other_fold(folds, expected)
    if moved:
        repeated = returned_folds(solution, target, N_SPLITS, SEED)
        state.fail(
            f"assign_folds(target, n_splits={N_SPLITS}, random_state={SEED}) puts {moved} of "
            f"{len(target)} rows in another fold than StratifiedKFold(n_splits={N_SPLITS}, "
            f"shuffle=True, random_state={SEED}).",
            expected=describe_folds(expected),
            actual=describe_folds(folds),
            why=folds_mistake(folds, repeated, target, N_SPLITS),
        )


@pytest.mark.task(1)
def test_folds_repeat_for_same_seed(solution, breast_cancer):
    _, target = breast_cancer

    first = returned_folds(solution, target, N_SPLITS, SEED)
    second = returned_folds(solution, target, N_SPLITS, SEED)

    moved = rows_in_other_fold(first, second)
    if moved:
        state.fail(
            f"The folds differ between two calls of assign_folds with random_state={SEED}: "
            f"{moved} of {len(target)} rows changed fold.",
            expected="the same fold for every row on every call with the same seed",
            actual=f"first call {describe_folds(first)}\n"
            f"            second call {describe_folds(second)}",
            why=(
                "StratifiedKFold(shuffle=True) without random_state shuffles differently on "
                "every call. Then nobody can reproduce a run's fold scores, and two models "
                "cross-validated one after the other are scored on different folds. Pass "
                "random_state=random_state."
            ),
        )


@pytest.mark.task(1)
def test_folds_change_with_seed(solution, breast_cancer):
    _, target = breast_cancer

    first = returned_folds(solution, target, N_SPLITS, SEED)
    second = returned_folds(solution, target, N_SPLITS, SEED + 1)

    if rows_in_other_fold(first, second) == 0:
        state.fail(
            f"assign_folds returned the same folds for random_state={SEED} and "
            f"random_state={SEED + 1}.",
            expected="a different shuffle, and so different folds, for another seed",
            actual=describe_folds(first),
            why=(
                "The caller's random_state picks the shuffle. Folds that ignore it, through a "
                "fixed seed or no shuffling, cannot be redrawn to check that a result holds "
                "beyond one split."
            ),
        )


# -- task 2: one run with params and the fold of every row ----------------------------------


def run_cross_validation(solution, mlflow_snapshot):
    """Call cross_validate_model and return what it returned.

    The call runs once per module, and later tests start from a copy of the store it left.
    """
    return mlflow_snapshot.run_once(
        "cross_validate_model",
        lambda: solution.cross_validate_model(
            EXPERIMENT, model_name=MODEL, n_splits=N_SPLITS, random_state=SEED
        ),
    )


def cross_validation_run(solution, mlflow_snapshot) -> Run:
    """Call cross_validate_model and return the run whose id it returned."""
    run_id = run_cross_validation(solution, mlflow_snapshot)
    return state.run_from_id(run_id, returned_by="cross_validate_model")


def folds_table(run: Run, where: str) -> pd.DataFrame:
    """Read folds.csv from a run, failing if it is missing or lacks the row and fold columns."""
    table = pd.read_csv(state.download_artifact(run, FOLDS_ARTIFACT))
    missing = [column for column in FOLDS_COLUMNS if column not in table.columns]
    if missing:
        state.fail(
            f"{FOLDS_ARTIFACT} of {where} has no column {state.names(missing)}.",
            expected=f"columns {', '.join(FOLDS_COLUMNS)}",
            actual=f"columns {', '.join(map(str, table.columns))}",
            why=(
                "Name the index 'row' and the values 'fold' before writing the CSV, for "
                "example folds.rename_axis('row').reset_index(name='fold')."
            ),
        )
    return table


def assert_every_row_once(table: pd.DataFrame, target: pd.Series, where: str) -> None:
    """Check that a folds.csv table has one line for each row of the data set."""
    listed = table["row"].tolist()
    if sorted(listed) != target.index.tolist():
        duplicated = sorted(table.loc[table["row"].duplicated(), "row"].unique().tolist())
        missing = sorted(set(target.index) - set(listed))
        state.fail(
            f"{FOLDS_ARTIFACT} of {where} has {len(table)} lines, but it needs one line per "
            f"row of the data set, each of the rows 0 to {len(target) - 1} once.",
            expected=f"{len(target)} lines",
            actual=(
                f"{len(table)} lines; rows listed twice or more: {duplicated[:10] or 'none'}; "
                f"rows missing: {missing[:10] or 'none'}"
            ),
            why="Log the fold of every row, so anyone can rebuild the exact training sets.",
        )


def logged_folds(run: Run, target: pd.Series, where: str) -> pd.Series:
    """Return the fold that folds.csv gives each row, failing unless it lists every row once."""
    table = folds_table(run, where)
    assert_every_row_once(table, target, where)
    return table.set_index("row")["fold"].reindex(target.index)


@pytest.mark.task(2)
def test_returns_id_of_only_run(solution, mlflow_snapshot):
    run = cross_validation_run(solution, mlflow_snapshot)

    runs = state.experiment_runs(EXPERIMENT)

    state.assert_same_values(
        f"The runs of the experiment {EXPERIMENT!r} and the run cross_validate_model returned",
        [run.info.run_id],
        [logged.info.run_id for logged in runs],
        why="Log the whole cross-validation, every fold included, in one run.",
    )
    state.assert_run_finished(run)


@pytest.mark.task(2)
def test_run_named_after_model(solution, mlflow_snapshot):
    run = cross_validation_run(solution, mlflow_snapshot)

    if run.info.run_name != MODEL:
        state.fail(
            f"The run is named {run.info.run_name!r}.",
            expected=MODEL,
            actual=run.info.run_name,
            why="Pass run_name=model_name to mlflow.start_run, so a comparison's runs show "
            "which model each one cross-validated.",
        )


@pytest.mark.task(2)
def test_params_record_model_and_folds(solution, mlflow_snapshot):
    run = cross_validation_run(solution, mlflow_snapshot)

    state.assert_params(run, {"model": MODEL, "n_splits": N_SPLITS, "random_state": SEED})


@pytest.mark.task(2)
def test_folds_csv_lists_every_row_once(solution, mlflow_snapshot, breast_cancer):
    run = cross_validation_run(solution, mlflow_snapshot)
    _, target = breast_cancer

    table = folds_table(run, "the run")

    assert_every_row_once(table, target, "the run")


@pytest.mark.task(2)
def test_folds_csv_matches_seeded_folds(solution, mlflow_snapshot, breast_cancer):
    run = cross_validation_run(solution, mlflow_snapshot)
    _, target = breast_cancer

    folds = logged_folds(run, target, "the run")

    expected = seeded_folds(target, N_SPLITS, SEED)
    moved = rows_in_other_fold(folds, expected)
    if moved:
        state.fail(
            f"{FOLDS_ARTIFACT} puts {moved} of {len(target)} rows in another fold than "
            f"StratifiedKFold(n_splits={N_SPLITS}, shuffle=True, random_state={SEED}).",
            expected=describe_folds(expected),
            actual=describe_folds(folds),
            why=(
                "Log the folds that assign_folds returns for the run's n_splits and "
                "random_state, the folds the scores come from. If they are wrong too, the "
                "task 1 tests say why."
            ),
        )


# -- task 3: one score per fold, as a metric history ------------------------------------------


def fold_history(run: Run, metric: str) -> list[Metric]:
    """Return every value logged for a metric on a run, ordered by step, then by time."""
    history = MlflowClient().get_metric_history(run.info.run_id, metric)
    return sorted(history, key=lambda entry: (entry.step, entry.timestamp))


def describe_history(history: list[Metric]) -> str:
    if not history:
        return "no values"
    return ", ".join(f"step {entry.step}: {entry.value:.4g}" for entry in history)


@pytest.mark.task(3)
def test_fold_metrics_have_one_step_per_fold(solution, mlflow_snapshot):
    run = cross_validation_run(solution, mlflow_snapshot)

    for metric in METRICS:
        history = fold_history(run, metric)
        steps = [entry.step for entry in history]
        if steps != list(range(N_SPLITS)):
            on_step_zero = len(steps) > 1 and set(steps) == {0}
            state.fail(
                f"The history of metric {metric!r} has steps "
                f"{', '.join(map(str, steps)) or '(none)'}.",
                expected=f"{N_SPLITS} values, one per fold, at steps 0 to {N_SPLITS - 1}",
                actual=describe_history(history),
                why=(
                    "Every value sits at step 0 because no step was given. The UI then "
                    "charts one point, and nobody can tell which fold scored what. Pass "
                    "step=fold to mlflow.log_metrics(...)."
                    if on_step_zero
                    else "Log the metric once per fold, inside the loop, with step set to "
                    "the fold number: mlflow.log_metrics(scores, step=fold)."
                ),
            )


@pytest.mark.task(3)
def test_fold_scores_come_from_held_out_rows(solution, mlflow_snapshot, breast_cancer):
    run = cross_validation_run(solution, mlflow_snapshot)
    _, target = breast_cancer

    folds = seeded_folds(target, N_SPLITS, SEED)
    expected = fold_scores(solution, breast_cancer, folds)

    for metric in METRICS:
        history = fold_history(run, metric)
        by_step = {entry.step: entry.value for entry in history}
        if len(history) != N_SPLITS or sorted(by_step) != list(range(N_SPLITS)):
            state.fail(
                f"The history of metric {metric!r} cannot be matched to the folds, because "
                "its steps are not the fold numbers.",
                expected=f"steps 0 to {N_SPLITS - 1}",
                actual=describe_history(history),
                why="test_fold_metrics_have_one_step_per_fold says how to log the steps.",
            )
        wrong = [
            fold
            for fold in range(N_SPLITS)
            if not math.isclose(by_step[fold], expected[fold][metric], rel_tol=1e-6)
        ]
        if not wrong:
            continue

        leaked = fold_scores(solution, breast_cancer, folds, fit_on_every_row=True)
        if all(
            math.isclose(by_step[fold], leaked[fold][metric], rel_tol=1e-6)
            for fold in range(N_SPLITS)
        ):
            reason = (
                "The logged scores are those of a model fitted on every row, the fold's own "
                "rows included, so each fold scores rows the model was trained on and looks "
                "better than it is. Fit on the other folds only: features[folds != fold]."
            )
        else:
            reason = (
                f"For fold k, fit a new build_model({MODEL!r}, random_state) on the rows whose "
                "fold is not k, predict the rows whose fold is k, and score those predictions."
            )
        fold = wrong[0]
        state.fail(
            f"The {metric} at step {fold} is {by_step[fold]:.6g}, but a {MODEL} fitted on the "
            f"other folds scores {expected[fold][metric]:.6g} on fold {fold}.",
            expected=", ".join(f"{scores[metric]:.4g}" for scores in expected),
            actual=", ".join(f"{by_step[step]:.4g}" for step in range(N_SPLITS)),
            why=reason,
        )


# -- task 4: the mean and the spread of the fold scores ----------------------------------------


def fold_values(run: Run, metric: str) -> list[float]:
    """Return a metric's logged fold scores, failing if it has none."""
    values = [entry.value for entry in fold_history(run, metric)]
    if not values:
        state.fail(
            f"The run has no values for metric {metric!r}, so there are no fold scores to "
            "summarize.",
            expected=f"{metric} logged once per fold (task 3)",
            actual=f"metrics {state.names(run.data.metrics)}",
        )
    return values


@pytest.mark.task(4)
def test_mean_is_average_of_fold_scores(solution, mlflow_snapshot):
    run = cross_validation_run(solution, mlflow_snapshot)

    for metric in METRICS:
        values = fold_values(run, metric)
        name = f"{metric}_mean"
        state.assert_metric_names(run, [name])
        expected = float(np.mean(values))
        logged = run.data.metrics[name]
        if not math.isclose(logged, expected, rel_tol=1e-6):
            state.fail(
                f"Metric {name} is {logged:.6g}, but the mean of its fold scores "
                f"({', '.join(f'{value:.4g}' for value in values)}) is {expected:.6g}.",
                expected=f"{name}={expected:.6g}",
                actual=f"{name}={logged:.6g}",
                why=(
                    f"Average the {len(values)} values of {metric}, one per fold. In a table "
                    "with one row per fold and one column per metric, that is the mean down "
                    "a column (axis=0), not across a row."
                ),
            )


@pytest.mark.task(4)
def test_std_is_spread_of_fold_scores(solution, mlflow_snapshot):
    run = cross_validation_run(solution, mlflow_snapshot)

    for metric in METRICS:
        values = fold_values(run, metric)
        name = f"{metric}_std"
        state.assert_metric_names(run, [name])
        expected = float(np.std(values))
        logged = run.data.metrics[name]
        if not math.isclose(logged, expected, rel_tol=1e-6):
            sample = float(np.std(values, ddof=1))
            reason = (
                "That is the sample standard deviation (ddof=1), the default of pandas' "
                "Series.std. The kata logs the population standard deviation (ddof=0), the "
                "default of numpy.std and what scikit-learn's GridSearchCV reports as "
                "std_test_score."
                if math.isclose(logged, sample, rel_tol=1e-6)
                else f"Take the standard deviation of the {len(values)} values of {metric}, "
                "one per fold, with ddof=0."
            )
            state.fail(
                f"Metric {name} is {logged:.6g}, but the population standard deviation of its "
                f"fold scores ({', '.join(f'{value:.4g}' for value in values)}) is "
                f"{expected:.6g}.",
                expected=f"{name}={expected:.6g}",
                actual=f"{name}={logged:.6g}",
                why=reason,
            )


# -- task 5: a parent run with one cross-validated child per model --------------------------


def run_comparison(solution, mlflow_snapshot):
    """Call compare_by_cross_validation once per module and return what it returned."""

    def compare():
        try:
            return solution.compare_by_cross_validation(
                COMPARISON_EXPERIMENT,
                model_names=COMPARED,
                n_splits=COMPARISON_SPLITS,
                random_state=COMPARISON_SEED,
            )
        # mlflow.start_run raises a bare Exception when a run is already active.
        except Exception as error:
            if "is already active" not in str(error):
                raise
            state.fail(
                "compare_by_cross_validation failed: a run started without nested=True while "
                "the parent run was active.",
                expected="each model's cross_validate_model run nested under the parent run",
                actual=f"{type(error).__name__}: {str(error).split('. ')[0]}",
                why=(
                    "Start the run in cross_validate_model with mlflow.start_run(run_name=..., "
                    "nested=True). With nested=True it becomes a child of the active run, and "
                    "a top-level run when no run is active."
                ),
            )

    return mlflow_snapshot.run_once("compare_by_cross_validation", compare)


def describe_runs(runs: list[Run]) -> str:
    """List runs with their names and parents, one per indented line."""
    if not runs:
        return "(no runs)"
    lines = []
    for run in runs:
        parent = run.data.tags.get(MLFLOW_PARENT_RUN_ID, "(none)")
        lines.append(f"    run {run.info.run_id} ({run.info.run_name}), parent {parent}")
    return "\n" + "\n".join(lines)


def comparison_runs(solution, mlflow_snapshot) -> tuple[Run, dict[str, Run]]:
    """Call compare_by_cross_validation and return its parent run and child runs by model."""
    run_comparison(solution, mlflow_snapshot)

    runs = state.experiment_runs(COMPARISON_EXPERIMENT)
    top_level = [run for run in runs if MLFLOW_PARENT_RUN_ID not in run.data.tags]
    parent_ids = {run.data.tags.get(MLFLOW_PARENT_RUN_ID) for run in runs} - {None}
    in_experiment = {run.info.run_id for run in runs}
    if not top_level and parent_ids and not parent_ids <= in_experiment:
        state.fail(
            f"The child runs in {COMPARISON_EXPERIMENT!r} are nested under a parent run that "
            "is not in this experiment.",
            expected=f"the parent run in experiment {COMPARISON_EXPERIMENT!r}",
            actual=describe_runs(runs) + "\n" + state.describe_experiments(),
            why=(
                f"Call mlflow.set_experiment({COMPARISON_EXPERIMENT!r}) (the experiment_name "
                "argument) before you start the parent run; a run starts in the active "
                "experiment, which is Default until you select one."
            ),
        )
    if len(top_level) != 1:
        state.fail(
            f"The experiment {COMPARISON_EXPERIMENT!r} has {len(top_level)} top-level runs, but "
            "a comparison is one parent run with each model's run nested under it.",
            expected="1 top-level run, the parent, with one child run per model",
            actual=describe_runs(runs),
            why=(
                "Call cross_validate_model inside the parent's with-block. Its "
                "start_run(..., nested=True) then records the parent's id in the child's "
                "mlflow.parentRunId tag. An extra top-level run with a generated name often "
                "comes from logging or tagging after the with-block has closed: with no "
                "active run, mlflow.set_tags and mlflow.log_* start a new one."
            ),
        )
    parent = top_level[0]

    children = [
        run for run in runs if run.data.tags.get(MLFLOW_PARENT_RUN_ID) == parent.info.run_id
    ]
    by_name = {run.info.run_name: run for run in children}
    if len(children) != len(COMPARED) or sorted(by_name) != sorted(COMPARED):
        state.fail(
            f"The parent run has {len(children)} child runs, but the comparison expects one "
            "per model, named after it.",
            expected=f"child runs {state.names(COMPARED)}",
            actual=describe_runs(runs),
            why="Call cross_validate_model once for each name in model_names.",
        )
    return parent, by_name


@pytest.mark.task(5)
def test_comparison_nests_run_per_model(solution, mlflow_snapshot):
    parent, children = comparison_runs(solution, mlflow_snapshot)

    if parent.info.run_name != "comparison":
        state.fail(
            f"The parent run is named {parent.info.run_name!r}.",
            expected="comparison",
            actual=parent.info.run_name,
            why="Pass run_name='comparison' to the parent's mlflow.start_run.",
        )
    for run in [parent, *children.values()]:
        state.assert_run_finished(run)


@pytest.mark.task(5)
def test_parent_logs_fold_settings(solution, mlflow_snapshot):
    parent, _ = comparison_runs(solution, mlflow_snapshot)

    state.assert_params(parent, {"n_splits": COMPARISON_SPLITS, "random_state": COMPARISON_SEED})


@pytest.mark.task(5)
def test_children_use_comparison_settings(solution, mlflow_snapshot):
    _, children = comparison_runs(solution, mlflow_snapshot)

    for name, child in children.items():
        expected = {"model": name, "n_splits": COMPARISON_SPLITS, "random_state": COMPARISON_SEED}
        logged = {key: child.data.params.get(key) for key in expected}
        if logged != {key: str(value) for key, value in expected.items()}:
            state.fail(
                f"The child run {name!r} ran with other settings than the comparison.",
                expected=state.format_mapping(expected),
                actual=state.format_mapping(logged),
                why=(
                    "compare_by_cross_validation must pass its own n_splits and random_state "
                    "on to cross_validate_model, so every model is scored on the same folds."
                ),
            )
        history = fold_history(child, "accuracy")
        if len(history) != COMPARISON_SPLITS:
            state.fail(
                f"The child run {name!r} has {len(history)} values of accuracy.",
                expected=f"{COMPARISON_SPLITS}, one per fold",
                actual=describe_history(history),
                why="Each child is a whole cross_validate_model run, with every fold's score.",
            )


@pytest.mark.task(5)
def test_models_share_the_same_folds(solution, mlflow_snapshot, breast_cancer):
    _, children = comparison_runs(solution, mlflow_snapshot)
    _, target = breast_cancer

    folds = {
        name: logged_folds(child, target, f"the child run {name!r}")
        for name, child in children.items()
    }

    first, second = COMPARED
    moved = rows_in_other_fold(folds[first], folds[second])
    if moved:
        state.fail(
            f"The child runs {first!r} and {second!r} were scored on different folds: "
            f"{moved} of {len(target)} rows are in another fold in their {FOLDS_ARTIFACT}.",
            expected="the same fold for every row in every child run",
            actual=f"{first}: {describe_folds(folds[first])}\n"
            f"            {second}: {describe_folds(folds[second])}",
            why=(
                "Fold scores compare two models fairly only when both are scored on the same "
                "rows. Pass the same n_splits and random_state to every cross_validate_model "
                "call."
            ),
        )
    expected = seeded_folds(target, COMPARISON_SPLITS, COMPARISON_SEED)
    if rows_in_other_fold(folds[first], expected):
        state.fail(
            f"The children share folds, but not those of n_splits={COMPARISON_SPLITS} and "
            f"random_state={COMPARISON_SEED}, the values compare_by_cross_validation received.",
            expected=describe_folds(expected),
            actual=describe_folds(folds[first]),
            why="Pass the function's own n_splits and random_state on to cross_validate_model.",
        )


# -- task 6: the winner is tagged on the parent and returned ---------------------------------


def selection_scores(children: dict[str, Run]) -> dict[str, float]:
    """Return each child's logged accuracy_mean, in the order of COMPARED."""
    for child in children.values():
        state.assert_metric_names(child, ["accuracy_mean"])
    return {name: children[name].data.metrics["accuracy_mean"] for name in COMPARED}


def describe_scores(scores: dict[str, float]) -> str:
    return ", ".join(f"{name}={value:.4g}" for name, value in scores.items())


def winner_mistake(chosen: object, children: dict[str, Run]) -> str:
    """Name the likely reason why a comparison chose ``chosen`` as its winner."""
    last_fold = {
        name: child.data.metrics.get("accuracy", math.nan) for name, child in children.items()
    }
    if chosen == max(last_fold, key=last_fold.__getitem__):
        return (
            f"{chosen!r} has the highest accuracy on the last fold "
            f"({describe_scores(last_fold)}). run.data.metrics['accuracy'] holds only the "
            "latest value of the metric's history, the one at the highest step, which is the "
            "last fold's score. Compare the runs by accuracy_mean, the score over every fold."
        )
    return (
        "Higher accuracy is better, so the winner is the model whose child run has the "
        "highest accuracy_mean."
    )


@pytest.mark.task(6)
def test_parent_tags_winner(solution, mlflow_snapshot):
    parent, children = comparison_runs(solution, mlflow_snapshot)

    scores = selection_scores(children)
    winner = max(scores, key=scores.__getitem__)
    tags = state.user_tags(parent)
    missing = [key for key in PARENT_TAGS if key not in tags]
    if missing:
        state.fail(
            f"The parent run has no tag {state.names(missing)}.",
            expected=f"tags {', '.join(PARENT_TAGS)}",
            actual=f"tags {state.names(tags)}",
            why=(
                "The parent's tags let anyone find the winner without opening every child. "
                "Call mlflow.set_tags(...) while the parent run is still active, inside its "
                "with-block, after the children have run."
            ),
        )

    if tags["winner"] != winner:
        state.fail(
            f"The parent's tag winner is {tags['winner']!r}, but {winner!r} has the highest "
            f"accuracy_mean.",
            expected=f"winner={winner}",
            actual=f"winner={tags['winner']}; accuracy_mean {describe_scores(scores)}",
            why=winner_mistake(tags["winner"], children),
        )
    if tags["winner_run_id"] != children[winner].info.run_id:
        state.fail(
            "The parent's tag winner_run_id is not the id of the winner's child run.",
            expected=f"winner_run_id={children[winner].info.run_id}",
            actual=f"winner_run_id={tags['winner_run_id']}",
        )


@pytest.mark.task(6)
def test_returned_result_matches_runs(solution, mlflow_snapshot):
    result = run_comparison(solution, mlflow_snapshot)
    parent, children = comparison_runs(solution, mlflow_snapshot)

    fields = ("parent_run_id", "child_run_ids", "winner")
    if not all(hasattr(result, field) for field in fields):
        state.fail(
            f"compare_by_cross_validation returned {type(result).__name__}.",
            expected="CrossValidationComparison(parent_run_id=..., child_run_ids={...}, "
            "winner=...)",
            actual=repr(result),
        )

    if result.parent_run_id != parent.info.run_id:
        state.fail(
            "The returned parent_run_id is not the id of the parent run.",
            expected=parent.info.run_id,
            actual=repr(result.parent_run_id),
        )
    expected_ids = {name: child.info.run_id for name, child in children.items()}
    if result.child_run_ids != expected_ids:
        state.fail(
            "The returned child_run_ids do not map each model to its child run's id.",
            expected=expected_ids,
            actual=result.child_run_ids,
            why="cross_validate_model returns its run's id: keep it under the model's name.",
        )
    scores = selection_scores(children)
    winner = max(scores, key=scores.__getitem__)
    if result.winner != winner:
        state.fail(
            f"compare_by_cross_validation returned winner={result.winner!r}.",
            expected=f"{winner!r}, the model with the highest accuracy_mean",
            actual=f"accuracy_mean {describe_scores(scores)}",
            why=winner_mistake(result.winner, children),
        )
