"""Tests for phase1/hyperparameter_tuning: a grid search and an Optuna study in nested runs.

Each test calls your functions in a fresh MLflow store and reads back what they logged.
"""

import dataclasses
import functools
import itertools
import math
from collections.abc import Iterator
from contextlib import contextmanager

import mlflow
import optuna
import pytest
from mlflow.entities import Run
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import cross_val_score

from checks import state

GRID_EXPERIMENT = "cancer-grid"
OPTUNA_EXPERIMENT = "cancer-optuna"
OBJECTIVE_EXPERIMENT = "cancer-objective"
# A seed other than the default 42, so a function that ignores random_state is caught. With
# scikit-learn 1.9 and Optuna 5.1 this seed gives each search one best child, which is
# neither its first nor its last: grid candidate-4 (0.9613) and Optuna trial-2 (0.9490).
# The Optuna study's worst child is trial-4 (0.9297), so a study that minimizes picks it.
SEED = 15
# Another trial count than the default 8, so a study that ignores n_trials is caught. It stays
# below TPESampler's 10 random startup trials, which seeded_suggestions relies on.
N_TRIALS = 6
CV_FOLDS = 3
PARAM_GRID = {"max_depth": [2, 4], "n_estimators": [3, 6, 12]}
SEARCH_SPACE = {"max_depth": (2, 6), "n_estimators": (3, 15)}
PARAM_NAMES = sorted(PARAM_GRID)
SCORE_METRIC = "cv_accuracy"
BEST_SCORE_METRIC = "best_cv_accuracy"
RUN_ID_ATTR = "mlflow_run_id"
# The params that the task 4 tests hand to objective through an optuna.trial.FixedTrial.
FIXED_PARAMS = {"max_depth": 3, "n_estimators": 12}
FIXED_TRIAL_NUMBER = 3

NESTED_WHY = (
    "Start each child with mlflow.start_run(run_name=..., nested=True) while the parent run "
    "is active, that is inside the parent's with-block. nested=True records the parent's id "
    "in the child's mlflow.parentRunId tag, which groups the children under the parent in "
    "the UI and lets search_runs find them."
)


@dataclasses.dataclass(frozen=True)
class Search:
    """The experiment, child runs and failure reasons that the tests expect of one search."""

    function: str
    experiment: str
    child_prefix: str
    child_count: int
    count_why: str
    best_why: str

    def child_names(self) -> list[str]:
        return [f"{self.child_prefix}-{index}" for index in range(self.child_count)]


GRID = Search(
    function="grid_search",
    experiment=GRID_EXPERIMENT,
    child_prefix="candidate",
    child_count=math.prod(len(values) for values in PARAM_GRID.values()),
    count_why=(
        "cv_results_ has one row per combination of PARAM_GRID, six in all. Start one child "
        "per row, named candidate-<row>, so the UI and the tests can tell them apart."
    ),
    best_why=(
        "GridSearchCV ranks the candidates by their mean test score, higher is better, and "
        "search.best_score_ and search.best_params_ describe the top-ranked row."
    ),
)

OPTUNA = Search(
    function="optuna_search",
    experiment=OPTUNA_EXPERIMENT,
    child_prefix="trial",
    child_count=N_TRIALS,
    count_why=(
        "optuna_search runs n_trials trials, and objective logs one child run per trial, named "
        "trial-<trial.number>. Pass n_trials on to study.optimize."
    ),
    best_why=(
        "Accuracy is better when higher, but Optuna minimizes unless told otherwise. Create "
        "the study with optuna.create_study(direction='maximize', ...), then study.best_value "
        "and study.best_params describe the trial with the highest accuracy."
    ),
)


# -- the learner calls --------------------------------------------------------------------------


@contextmanager
def unnested_runs_explained(called: str) -> Iterator[None]:
    """Turn MLflow's error for a second top-level run into a failure that explains nesting."""
    try:
        yield
    except Exception as error:
        if "already active" not in str(error):
            raise
        state.fail(
            f"{called} started a run while another run was active, without nested=True, and "
            "MLflow raised.",
            expected="mlflow.start_run(run_name=..., nested=True) for every child run",
            actual=f"{type(error).__name__}: {error}",
            why=NESTED_WHY,
        )


def run_grid(solution, mlflow_snapshot):
    """Call grid_search once per module, and return what it returned."""

    def call():
        with unnested_runs_explained("grid_search"):
            return solution.grid_search(GRID_EXPERIMENT, random_state=SEED)

    return mlflow_snapshot.run_once("grid_search", call)


def run_optuna(solution, mlflow_snapshot):
    """Call optuna_search once per module, and return what it returned."""

    def call():
        with unnested_runs_explained("optuna_search"):
            return solution.optuna_search(OPTUNA_EXPERIMENT, n_trials=N_TRIALS, random_state=SEED)

    return mlflow_snapshot.run_once("optuna_search", call)


@dataclasses.dataclass(frozen=True)
class ObjectiveCall:
    """The value and trial user attributes of one objective call, and the test's parent run."""

    parent_run_id: str
    value: object
    user_attrs: dict


def call_objective(solution, mlflow_snapshot) -> ObjectiveCall:
    """Call objective once per module with a FixedTrial, inside a parent run of the test's."""

    def call() -> ObjectiveCall:
        X, y = solution.load_data()
        trial = optuna.trial.FixedTrial(FIXED_PARAMS, number=FIXED_TRIAL_NUMBER)
        mlflow.set_experiment(OBJECTIVE_EXPERIMENT)
        with (
            mlflow.start_run(run_name="study") as parent,
            unnested_runs_explained("objective"),
            params_outside_space_explained(),
        ):
            value = solution.objective(trial, X, y, random_state=SEED)
        return ObjectiveCall(parent.info.run_id, value, dict(trial.user_attrs))

    return mlflow_snapshot.run_once("objective", call)


@contextmanager
def params_outside_space_explained() -> Iterator[None]:
    """Turn a FixedTrial's error for an unknown param name into a failure that names it."""
    try:
        yield
    except ValueError as error:
        if "is not found" not in str(error):
            raise
        state.fail(
            "objective asked the trial for a param that is not in SEARCH_SPACE.",
            expected=f"trial.suggest_int(name, low, high) for the names {state.names(PARAM_NAMES)}",
            actual=str(error),
            why=(
                "The names the trial suggests become the study's best_params, so they must be "
                "the estimator's own names, as in SEARCH_SPACE."
            ),
        )


@functools.cache
def expected_cv_accuracy(max_depth: int, n_estimators: int) -> float:
    """Return the mean accuracy over the folds of the kata's random forest with these params."""
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    model = RandomForestClassifier(
        random_state=SEED, max_depth=max_depth, n_estimators=n_estimators
    )
    return float(cross_val_score(model, X, y, scoring="accuracy", cv=CV_FOLDS).mean())


@functools.cache
def seeded_suggestions(order: tuple[str, ...]) -> list[dict[str, int]]:
    """Return the params that TPESampler(seed=SEED) suggests in N_TRIALS trials.

    TPESampler samples each param at random for its first 10 trials (n_startup_trials). With
    N_TRIALS below 10, the suggestions depend only on the seed and on the order in which the
    objective requests the params, not on the values it returns.
    """
    sampler = optuna.samplers.TPESampler(seed=SEED)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(
        lambda trial: float(sum(trial.suggest_int(name, *SEARCH_SPACE[name]) for name in order)),
        n_trials=N_TRIALS,
    )
    return [{name: trial.params[name] for name in PARAM_NAMES} for trial in study.trials]


# -- the runs of one search -----------------------------------------------------------------------


def describe_runs(runs: list[Run]) -> str:
    """List runs with their names and parents, one per indented line."""
    if not runs:
        return "(no runs)"
    lines = []
    for run in runs:
        parent = run.data.tags.get(MLFLOW_PARENT_RUN_ID, "(none)")
        lines.append(f"    run {run.info.run_id} ({run.info.run_name}), parent {parent}")
    return "\n" + "\n".join(lines)


def parent_of(search: Search, runs: list[Run]) -> Run:
    """Return the experiment's one top-level run, failing when there is not exactly one."""
    top_level = [run for run in runs if MLFLOW_PARENT_RUN_ID not in run.data.tags]
    if len(top_level) != 1:
        state.fail(
            f"The experiment {search.experiment!r} has {len(top_level)} top-level runs, but "
            f"{search.function} logs one parent run with every candidate's run nested under it.",
            expected=f"1 top-level run, the parent, and {search.child_count} child runs under it",
            actual=describe_runs(runs),
            why=NESTED_WHY,
        )
    return top_level[0]


def children_of(search: Search, runs: list[Run], parent: Run) -> list[Run]:
    """Return the parent's child runs in candidate or trial order, checking their names."""
    children = [
        run for run in runs if run.data.tags.get(MLFLOW_PARENT_RUN_ID) == parent.info.run_id
    ]
    by_name = {run.info.run_name: run for run in children}
    expected = search.child_names()
    if len(children) != search.child_count or sorted(by_name) != sorted(expected):
        state.fail(
            f"The {search.function} parent run has {len(children)} child runs, but the kata "
            f"expects {search.child_count}, named {expected[0]} to {expected[-1]}.",
            expected=f"child runs {', '.join(expected)}",
            actual=f"child runs {state.names(run.info.run_name for run in children)}",
            why=search.count_why,
        )
    return [by_name[name] for name in expected]


def logged_parent_and_children(search: Search) -> tuple[Run, list[Run]]:
    """Return a search's parent run and its child runs in order."""
    runs = state.experiment_runs(search.experiment)
    parent = parent_of(search, runs)
    return parent, children_of(search, runs, parent)


def child_scores(children: list[Run]) -> dict[str, float]:
    """Return each child's cv_accuracy by run name, failing if a child has none."""
    for child in children:
        state.assert_metric_names(child, [SCORE_METRIC])
    return {child.info.run_name: child.data.metrics[SCORE_METRIC] for child in children}


def describe_scores(scores: dict[str, float]) -> str:
    return ", ".join(f"{name}={value:.4f}" for name, value in scores.items())


def describe_logged(params: dict[str, str]) -> str:
    """List every logged param with its value, sorted by name."""
    return ", ".join(f"{name}={value}" for name, value in sorted(params.items())) or "(none)"


def describe_params(params: dict[str, object]) -> str:
    return ", ".join(f"{name}={params.get(name)}" for name in PARAM_NAMES)


def describe_trials(trials: list[dict[str, int]]) -> str:
    """List each trial's params on its own indented line."""
    lines = [
        f"    trial-{number}: {describe_params(params)}" for number, params in enumerate(trials)
    ]
    return "\n" + "\n".join(lines)


def int_params(run: Run) -> dict[str, int]:
    """Read a run's tuned params as integers, failing if one is missing or not an integer."""
    logged = run.data.params
    missing = [name for name in PARAM_NAMES if name not in logged]
    if missing:
        state.fail(
            f"The run {run.info.run_name!r} has no param {state.names(missing)}.",
            expected=f"params {state.names(PARAM_NAMES)}",
            actual=f"params {state.names(logged)}",
            why="Log the params under the estimator's names, as PARAM_GRID and SEARCH_SPACE do.",
        )
    try:
        return {name: int(logged[name]) for name in PARAM_NAMES}
    except ValueError:
        state.fail(
            f"The run {run.info.run_name!r} logged params that are not whole numbers.",
            expected="integers such as max_depth=4",
            actual=describe_params(logged),
        )
    raise AssertionError("unreachable")


def is_close(first: float, second: float) -> bool:
    return math.isclose(first, second, rel_tol=1e-9, abs_tol=1e-12)


# -- checks that both searches share --------------------------------------------------------------


def check_nested(search: Search) -> None:
    runs = state.experiment_runs(search.experiment)
    parent = parent_of(search, runs)
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


def check_finished(search: Search) -> None:
    runs = state.experiment_runs(search.experiment)
    assert runs, f"{search.function} logged no runs in the experiment {search.experiment!r}."
    for run in runs:
        state.assert_run_finished(run)


def check_child_param_names(children: list[Run]) -> None:
    """Check that every child logs the tuned params, and all of them under the same names."""
    listing = "\n".join(
        f"    {child.info.run_name}: params {state.names(child.data.params)}" for child in children
    )
    lacking = [child for child in children if not set(PARAM_NAMES) <= set(child.data.params)]
    if lacking:
        state.fail(
            f"Not every child run logs its params under the names {state.names(PARAM_NAMES)}.",
            expected=f"params {state.names(PARAM_NAMES)} on every child run",
            actual="\n" + listing,
            why=(
                "MLflow lines runs up by param name: the compare view, the parallel "
                "coordinates plot and search_runs(filter_string=\"params.max_depth = '4'\") "
                "all match names exactly. Log the params as the estimator names them."
            ),
        )
    if len({frozenset(child.data.params) for child in children}) > 1:
        state.fail(
            "The child runs log different sets of param names.",
            expected="the same param names on every child run",
            actual="\n" + listing,
            why="A candidate that names a param differently drops out of every comparison.",
        )


def check_child_scores(children: list[Run]) -> None:
    """Check each child's cv_accuracy against the test's own cross-validation of its params."""
    for child in children:
        state.assert_metric_names(child, [SCORE_METRIC])
        params = int_params(child)
        logged = child.data.metrics[SCORE_METRIC]
        expected = expected_cv_accuracy(**params)
        if not is_close(logged, expected):
            model = f"build_model(random_state={SEED}, {describe_params(params)})"
            state.fail(
                f"The child run {child.info.run_name!r} logged {SCORE_METRIC}={logged:.6f}, but "
                f"{model} has a mean accuracy of {expected:.6f} over {CV_FOLDS} folds.",
                expected=f"{SCORE_METRIC}={expected:.6f}",
                actual=f"{SCORE_METRIC}={logged:.6f}",
                why=(
                    "Score each candidate with its own params and the random_state the function "
                    "received, and log the mean over the folds: cross_val_score(...).mean(), or "
                    "cv_results_['mean_test_score'] for a grid search."
                ),
            )


def check_parent_param_names(parent: Run, children: list[Run]) -> None:
    child_names = set().union(*(child.data.params for child in children)) or set(PARAM_NAMES)
    missing = sorted(child_names - set(parent.data.params))
    if missing:
        state.fail(
            "The parent run does not log the best params under the same names as its children.",
            expected=f"params {state.names(child_names)} on the parent, holding the best values",
            actual=(
                f"parent params {state.names(parent.data.params)}; "
                f"child params {state.names(child_names)}"
            ),
            why=(
                "Under the same names, the parent and the best child line up in one column of "
                "the UI's compare view, and one search such as \"params.max_depth = '4'\" finds "
                "both. A prefix such as best_max_depth splits them apart."
            ),
        )


def check_parent_best_score(search: Search, parent: Run, children: list[Run]) -> None:
    state.assert_metric_names(parent, [BEST_SCORE_METRIC])
    best = parent.data.metrics[BEST_SCORE_METRIC]
    scores = child_scores(children)
    highest = max(scores.values())
    lowest = min(scores.values())
    found = f"{BEST_SCORE_METRIC}={best:.4f}; children {SCORE_METRIC}: {describe_scores(scores)}"

    if not any(is_close(best, score) for score in scores.values()):
        state.fail(
            f"The parent's {BEST_SCORE_METRIC} is {best:.4f}, a score that no child run has.",
            expected=f"{highest:.4f}, the highest {SCORE_METRIC} of the children",
            actual=found,
            why=(
                "The best score of a search is the score of its best candidate, so anyone can "
                "open that child run and see where it came from. A number computed another "
                "way, such as the refitted model's accuracy on the rows it was trained on, "
                "belongs to no candidate and overstates the model."
            ),
        )
    if not is_close(best, highest):
        direction = (
            f" {best:.4f} is the lowest child score, so the best was taken from the wrong "
            "direction."
            if is_close(best, lowest)
            else ""
        )
        state.fail(
            f"The parent's {BEST_SCORE_METRIC} is {best:.4f}, but the highest child "
            f"{SCORE_METRIC} is {highest:.4f}.{direction}",
            expected=f"{BEST_SCORE_METRIC}={highest:.4f}",
            actual=found,
            why=search.best_why,
        )


def check_parent_best_params(search: Search, parent: Run, children: list[Run]) -> None:
    scores = child_scores(children)
    highest = max(scores.values())
    lowest = min(scores.values())
    best_children = [child for child in children if is_close(scores[child.info.run_name], highest)]
    parent_params = {name: parent.data.params.get(name) for name in PARAM_NAMES}
    same = [
        child
        for child in children
        if all(child.data.params.get(name) == parent_params[name] for name in PARAM_NAMES)
    ]
    if any(child in best_children for child in same):
        return

    if not same:
        headline = "The parent's params are those of no child run."
    else:
        name = same[0].info.run_name
        score = scores[name]
        headline = (
            f"The parent's params are those of {name} ({SCORE_METRIC}={score:.4f}), not those "
            "of the best child run."
        )
        if is_close(score, lowest):
            headline += (
                f" {name} is the worst child, so the best was taken from the wrong direction."
            )
    top = best_children[0]
    state.fail(
        headline,
        expected=(
            f"{describe_params(top.data.params)}, the params of {top.info.run_name} "
            f"({SCORE_METRIC}={highest:.4f})"
        ),
        actual=f"parent params {describe_params(parent_params)}",
        why=search.best_why,
    )


def check_result(search: Search, result, parent: Run, children: list[Run]) -> None:
    fields = ("parent_run_id", "child_run_ids", "best_params", "best_score")
    if not all(hasattr(result, field) for field in fields):
        state.fail(
            f"{search.function} returned {type(result).__name__} {result!r}.",
            expected="SearchResult(parent_run_id=..., child_run_ids=[...], best_params={...}, "
            "best_score=...)",
            actual=repr(result),
        )

    if result.parent_run_id != parent.info.run_id:
        state.fail(
            f"The parent_run_id that {search.function} returned is not the id of the parent run.",
            expected=parent.info.run_id,
            actual=repr(result.parent_run_id),
        )

    expected_ids = [child.info.run_id for child in children]
    if not isinstance(result.child_run_ids, (list, tuple)):
        state.fail(
            f"The child_run_ids that {search.function} returned are not a list.",
            expected=expected_ids,
            actual=repr(result.child_run_ids),
        )
    state.assert_same_values(
        f"The child_run_ids that {search.function} returned and the ids of "
        f"{search.child_prefix}-0 to {search.child_prefix}-{search.child_count - 1}",
        expected_ids,
        list(result.child_run_ids),
        why="Collect child.info.run_id in candidate or trial order, as each child run ends.",
    )

    scores = child_scores(children)
    highest = max(scores.values())
    best_params = [
        int_params(child) for child in children if is_close(scores[child.info.run_name], highest)
    ]
    returned = result.best_params
    if isinstance(returned, dict):
        returned = {name: returned.get(name) for name in PARAM_NAMES}
    if returned not in best_params:
        state.fail(
            f"The best_params that {search.function} returned are not the best child's params.",
            expected=" or ".join(describe_params(params) for params in best_params),
            actual=repr(result.best_params),
        )
    if not isinstance(result.best_score, float) or not is_close(result.best_score, highest):
        state.fail(
            f"The best_score that {search.function} returned is not the highest child "
            f"{SCORE_METRIC}.",
            expected=f"{highest:.4f} as a float",
            actual=repr(result.best_score),
        )


# -- task 1: the grid search logs one nested child run per candidate --------------------------


@pytest.mark.task(1)
def test_grid_candidates_become_child_runs(solution, mlflow_snapshot):
    run_grid(solution, mlflow_snapshot)

    runs = state.experiment_runs(GRID_EXPERIMENT)
    parent = parent_of(GRID, runs)

    children_of(GRID, runs, parent)


@pytest.mark.task(1)
def test_grid_children_nested_under_parent(solution, mlflow_snapshot):
    run_grid(solution, mlflow_snapshot)

    check_nested(GRID)


@pytest.mark.task(1)
def test_grid_runs_finished(solution, mlflow_snapshot):
    run_grid(solution, mlflow_snapshot)

    check_finished(GRID)


# -- task 2: each grid child logs its params and its cross-validated score --------------------


@pytest.mark.task(2)
def test_grid_children_log_grid_param_names(solution, mlflow_snapshot):
    run_grid(solution, mlflow_snapshot)

    _, children = logged_parent_and_children(GRID)

    check_child_param_names(children)


@pytest.mark.task(2)
def test_grid_children_cover_the_grid(solution, mlflow_snapshot):
    run_grid(solution, mlflow_snapshot)

    _, children = logged_parent_and_children(GRID)
    logged = sorted(tuple(int_params(child).values()) for child in children)

    state.assert_same_values(
        f"The ({', '.join(PARAM_NAMES)}) pairs of the child runs and the grid's combinations",
        sorted(itertools.product(*(PARAM_GRID[name] for name in PARAM_NAMES))),
        logged,
        why="Log cv_results_['params'][row] on the row's child run, one row per child.",
    )


@pytest.mark.task(2)
def test_grid_child_scores_match_their_params(solution, mlflow_snapshot):
    run_grid(solution, mlflow_snapshot)

    _, children = logged_parent_and_children(GRID)

    check_child_scores(children)


# -- task 3: the grid search's parent logs the best child's params and score -----------------


@pytest.mark.task(3)
def test_grid_parent_uses_child_param_names(solution, mlflow_snapshot):
    run_grid(solution, mlflow_snapshot)

    parent, children = logged_parent_and_children(GRID)

    check_parent_param_names(parent, children)


@pytest.mark.task(3)
def test_grid_parent_has_best_score(solution, mlflow_snapshot):
    run_grid(solution, mlflow_snapshot)

    parent, children = logged_parent_and_children(GRID)

    check_parent_best_score(GRID, parent, children)


@pytest.mark.task(3)
def test_grid_parent_has_best_params(solution, mlflow_snapshot):
    run_grid(solution, mlflow_snapshot)

    parent, children = logged_parent_and_children(GRID)

    check_parent_best_params(GRID, parent, children)


@pytest.mark.task(3)
def test_grid_result_matches_runs(solution, mlflow_snapshot):
    result = run_grid(solution, mlflow_snapshot)

    parent, children = logged_parent_and_children(GRID)

    check_result(GRID, result, parent, children)


# -- task 4: the Optuna objective logs its trial as a nested child run -----------------------


def objective_child(call: ObjectiveCall) -> Run:
    """Return the one run that objective nested under the test's parent run."""
    runs = state.experiment_runs(OBJECTIVE_EXPERIMENT)
    others = [run for run in runs if run.info.run_id != call.parent_run_id]
    children = [
        run for run in others if run.data.tags.get(MLFLOW_PARENT_RUN_ID) == call.parent_run_id
    ]
    if len(others) != 1 or len(children) != 1:
        state.fail(
            f"objective logged {len(others)} runs, {len(children)} of them nested under the "
            "run that was active when it was called.",
            expected=f"one child run of {call.parent_run_id}, named trial-{FIXED_TRIAL_NUMBER}",
            actual=describe_runs(runs),
            why=NESTED_WHY,
        )
    return children[0]


@pytest.mark.task(4)
def test_objective_logs_nested_child_run(solution, mlflow_snapshot):
    call = call_objective(solution, mlflow_snapshot)

    child = objective_child(call)

    expected_name = f"trial-{FIXED_TRIAL_NUMBER}"
    if child.info.run_name != expected_name:
        state.fail(
            f"objective named its child run {child.info.run_name!r}.",
            expected=f"{expected_name}, for a trial whose number is {FIXED_TRIAL_NUMBER}",
            actual=child.info.run_name,
            why="Name the run f'trial-{trial.number}', so each run shows which trial it records.",
        )
    state.assert_run_finished(child)


@pytest.mark.task(4)
def test_objective_logs_trial_params(solution, mlflow_snapshot):
    call = call_objective(solution, mlflow_snapshot)

    child = objective_child(call)
    logged = int_params(child)

    if logged != FIXED_PARAMS:
        state.fail(
            "objective logged other params than the trial suggested.",
            expected=describe_params(FIXED_PARAMS),
            actual=describe_params(logged),
            why="Log the values that trial.suggest_int returned: the model was built with them.",
        )


@pytest.mark.task(4)
def test_objective_returns_cv_accuracy(solution, mlflow_snapshot):
    call = call_objective(solution, mlflow_snapshot)

    expected = expected_cv_accuracy(**FIXED_PARAMS)

    if not isinstance(call.value, float) or not is_close(call.value, expected):
        state.fail(
            f"objective returned {call.value!r} for a trial with {describe_params(FIXED_PARAMS)}.",
            expected=(
                f"{expected:.4f} as a float, the mean accuracy over {CV_FOLDS} folds of "
                f"build_model(random_state={SEED}, {describe_params(FIXED_PARAMS)})"
            ),
            actual=repr(call.value),
            why=(
                "The study ranks trials by what the objective returns, so return the score you "
                "log: cross_val_score(...).mean(), as a float."
            ),
        )


@pytest.mark.task(4)
def test_objective_logs_cv_accuracy(solution, mlflow_snapshot):
    call = call_objective(solution, mlflow_snapshot)

    child = objective_child(call)

    state.assert_metric_close(
        child,
        SCORE_METRIC,
        expected_cv_accuracy(**FIXED_PARAMS),
        meaning=(
            f"the mean accuracy over {CV_FOLDS} folds of build_model(random_state={SEED}, "
            f"{describe_params(FIXED_PARAMS)})"
        ),
        rel=1e-9,
        why=(
            "Log the number the objective returns: the mean of cross_val_score over the folds, "
            "for a model built from the trial's params and the random_state it received."
        ),
    )


@pytest.mark.task(4)
def test_objective_links_trial_to_run(solution, mlflow_snapshot):
    call = call_objective(solution, mlflow_snapshot)

    child = objective_child(call)
    stored = call.user_attrs.get(RUN_ID_ATTR)

    if stored != child.info.run_id:
        state.fail(
            f"The trial's user attribute {RUN_ID_ATTR!r} does not hold the child run's id.",
            expected=child.info.run_id,
            actual=f"user attributes {call.user_attrs}",
            why=(
                f"trial.set_user_attr({RUN_ID_ATTR!r}, run.info.run_id) keeps the link in the "
                "study, so a trial found in Optuna leads to its run in MLflow, and "
                "optuna_search can return the child run ids."
            ),
        )


# -- task 5: the Optuna study runs its trials inside one parent run ---------------------------


@pytest.mark.task(5)
def test_optuna_trials_become_child_runs(solution, mlflow_snapshot):
    run_optuna(solution, mlflow_snapshot)

    runs = state.experiment_runs(OPTUNA_EXPERIMENT)
    parent = parent_of(OPTUNA, runs)

    children_of(OPTUNA, runs, parent)


@pytest.mark.task(5)
def test_optuna_children_nested_under_parent(solution, mlflow_snapshot):
    run_optuna(solution, mlflow_snapshot)

    check_nested(OPTUNA)


@pytest.mark.task(5)
def test_optuna_runs_finished(solution, mlflow_snapshot):
    run_optuna(solution, mlflow_snapshot)

    check_finished(OPTUNA)


@pytest.mark.task(5)
def test_optuna_parent_counts_trials(solution, mlflow_snapshot):
    run_optuna(solution, mlflow_snapshot)

    parent = parent_of(OPTUNA, state.experiment_runs(OPTUNA_EXPERIMENT))

    logged = parent.data.params.get("n_trials")
    if logged != str(N_TRIALS):
        state.fail(
            f"The parent run's param n_trials is {logged}, but optuna_search was called with "
            f"n_trials={N_TRIALS}.",
            expected=f"n_trials={N_TRIALS}",
            actual=f"parent params {describe_logged(parent.data.params)}",
            why=(
                "A search's settings are params of its parent run, so a reader can tell a "
                "short study from a long one without counting its child runs."
            ),
        )


@pytest.mark.task(5)
def test_optuna_children_log_search_space_params(solution, mlflow_snapshot):
    run_optuna(solution, mlflow_snapshot)

    _, children = logged_parent_and_children(OPTUNA)
    check_child_param_names(children)

    for child in children:
        params = int_params(child)
        outside = {
            name: value
            for name, value in params.items()
            if not SEARCH_SPACE[name][0] <= value <= SEARCH_SPACE[name][1]
        }
        if outside:
            state.fail(
                f"The child run {child.info.run_name!r} logged params outside SEARCH_SPACE.",
                expected=", ".join(f"{name} in {SEARCH_SPACE[name]}" for name in outside),
                actual=describe_params(params),
                why="Suggest each param with trial.suggest_int(name, low, high) from SEARCH_SPACE.",
            )


@pytest.mark.task(5)
def test_optuna_child_scores_match_their_params(solution, mlflow_snapshot):
    run_optuna(solution, mlflow_snapshot)

    _, children = logged_parent_and_children(OPTUNA)

    check_child_scores(children)


@pytest.mark.task(5)
def test_optuna_sampler_uses_random_state(solution, mlflow_snapshot):
    run_optuna(solution, mlflow_snapshot)

    _, children = logged_parent_and_children(OPTUNA)
    logged = [int_params(child) for child in children]
    accepted = [seeded_suggestions(order) for order in itertools.permutations(PARAM_NAMES)]

    if logged not in accepted:
        state.fail(
            f"The trials' params are not the ones that TPESampler(seed={SEED}) suggests.",
            expected=describe_trials(accepted[0]),
            actual=describe_trials(logged),
            why=(
                "Seed the sampler with the random_state the function received: "
                "optuna.samplers.TPESampler(seed=random_state). The same seed then suggests the "
                "same params on every run, so a search can be rerun and checked. A sampler "
                "without a seed, or with a fixed one such as 42, ignores random_state. An "
                "objective that suggests n_estimators before max_depth gets other values from "
                "the same seed, and the test accepts those too."
            ),
        )


# -- task 6: the Optuna parent logs the study's best params and value -----------------------


@pytest.mark.task(6)
def test_optuna_parent_uses_child_param_names(solution, mlflow_snapshot):
    run_optuna(solution, mlflow_snapshot)

    parent, children = logged_parent_and_children(OPTUNA)

    check_parent_param_names(parent, children)


@pytest.mark.task(6)
def test_optuna_parent_has_best_score(solution, mlflow_snapshot):
    run_optuna(solution, mlflow_snapshot)

    parent, children = logged_parent_and_children(OPTUNA)

    check_parent_best_score(OPTUNA, parent, children)


@pytest.mark.task(6)
def test_optuna_parent_has_best_params(solution, mlflow_snapshot):
    run_optuna(solution, mlflow_snapshot)

    parent, children = logged_parent_and_children(OPTUNA)

    check_parent_best_params(OPTUNA, parent, children)


@pytest.mark.task(6)
def test_optuna_result_matches_runs(solution, mlflow_snapshot):
    result = run_optuna(solution, mlflow_snapshot)

    parent, children = logged_parent_and_children(OPTUNA)

    check_result(OPTUNA, result, parent, children)
