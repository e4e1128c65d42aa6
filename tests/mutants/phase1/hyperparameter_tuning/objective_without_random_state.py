"""Mutant: optuna_search calls objective without random_state, so the forests use the default seed.

Rejected by: test_optuna_child_scores_match_their_params
Message: build_model(random_state=15
"""

from __future__ import annotations

from dataclasses import dataclass

import mlflow
import optuna
import pandas as pd
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import GridSearchCV, cross_val_score

# The number of cross-validation folds that score every candidate, in both searches.
CV_FOLDS = 3

# The grid that GridSearchCV tries: every combination, six candidates (tasks 1 to 3).
PARAM_GRID = {"max_depth": [2, 4], "n_estimators": [3, 6, 12]}

# The ranges that Optuna samples from, as (low, high) integers, both ends included (task 4).
SEARCH_SPACE = {"max_depth": (2, 6), "n_estimators": (3, 15)}

# The metric on every child run: the mean accuracy over the CV_FOLDS folds (tasks 2 and 4).
SCORE_METRIC = "cv_accuracy"

# The metric on each parent run: the best child's SCORE_METRIC (tasks 3 and 6).
BEST_SCORE_METRIC = "best_cv_accuracy"

# The Optuna trial user attribute that stores the id of the trial's child run (task 4).
RUN_ID_ATTR = "mlflow_run_id"


@dataclass(frozen=True)
class SearchResult:
    """The runs that one search logged and the best candidate it found."""

    parent_run_id: str
    child_run_ids: list[str]
    best_params: dict[str, int]
    best_score: float


def load_data() -> tuple[pd.DataFrame, pd.Series]:
    """Return the breast cancer features (569 rows, 30 columns) and labels (0 or 1).

    Given code: use it as it is.
    """
    return load_breast_cancer(return_X_y=True, as_frame=True)


def build_model(random_state: int = 42, **params: int) -> RandomForestClassifier:
    """Return an unfitted random forest with the given hyperparameters.

    Given code: use it as it is. The same ``random_state`` and ``params`` always grow the
    same trees, so a candidate's score can be reproduced from its logged params.
    """
    return RandomForestClassifier(random_state=random_state, **params)


def grid_search(experiment_name: str, random_state: int = 42) -> SearchResult:
    """Search PARAM_GRID with GridSearchCV and log every candidate as a nested child run.

    Args:
        experiment_name: The MLflow experiment to log into, created if it does not exist.
        random_state: Seed for the random forests.

    Returns:
        A SearchResult with the parent run's id, the child run ids in the order of the rows
        of ``cv_results_``, the best params and their score. The experiment then contains
        one finished parent run and, nested under it, one finished child run per grid
        candidate, named ``candidate-<row>``. Each child has the candidate's params, named as
        in PARAM_GRID, and the metric ``cv_accuracy``, its mean accuracy over CV_FOLDS
        folds. The parent has the best candidate's params under the same names and the
        metric ``best_cv_accuracy``, the best child's ``cv_accuracy``.

    Example:
        >>> result = grid_search("cancer-grid")
        >>> result.best_params  # doctest: +SKIP
        {'max_depth': 4, 'n_estimators': 12}
    """
    X, y = load_data()

    # BEGIN SOLUTION: Write TODO(1) to TODO(3) of grid_search.
    # TODO(1): Fit a GridSearchCV of build_model(random_state) over PARAM_GRID, scored by
    #   accuracy with cv=CV_FOLDS. Then select the experiment, start a parent run, and
    #   inside it start one nested child run per row of the search's cv_results_, named
    #   "candidate-<row>".
    search = GridSearchCV(build_model(random_state), PARAM_GRID, scoring="accuracy", cv=CV_FOLDS)
    search.fit(X, y)

    mlflow.set_experiment(experiment_name)
    results = search.cv_results_
    child_run_ids = []
    with mlflow.start_run(run_name="grid-search") as parent:
        for row, params in enumerate(results["params"]):
            # GridSearchCV has already scored every candidate, so each child run records
            # one row of cv_results_ after the fact. Its times are the logging's, not the fit's.
            with mlflow.start_run(run_name=f"candidate-{row}", nested=True) as child:
                # TODO(2): Log the row's params (cv_results_["params"]) and its mean
                #   cross-validated accuracy (cv_results_["mean_test_score"]) as the metric
                #   SCORE_METRIC.
                mlflow.log_params(params)
                mlflow.log_metric(SCORE_METRIC, float(results["mean_test_score"][row]))
            child_run_ids.append(child.info.run_id)

        # TODO(3): Log the search's best params on the parent under the same names as the
        #   children's, and its best score as BEST_SCORE_METRIC. Return a SearchResult.
        # best_score_ is the mean_test_score of the row best_index_, so the parent's number
        # is one that a child run also has.
        mlflow.log_params(search.best_params_)
        mlflow.log_metric(BEST_SCORE_METRIC, float(search.best_score_))

    return SearchResult(
        parent.info.run_id, child_run_ids, dict(search.best_params_), float(search.best_score_)
    )
    # END SOLUTION


def objective(trial: optuna.Trial, X: pd.DataFrame, y: pd.Series, random_state: int = 42) -> float:
    """Score one Optuna trial's random forest and log the trial as a nested child run.

    Call it while the study's parent run is active.

    Args:
        trial: The Optuna trial that suggests the hyperparameters.
        X: The features to cross-validate on.
        y: The labels.
        random_state: Seed for the random forest.

    Returns:
        The mean accuracy over CV_FOLDS folds of ``build_model(random_state, **params)``,
        where ``params`` contains one integer per name in SEARCH_SPACE, suggested by the trial
        within its range. The child run, named ``trial-<trial number>`` and nested under the
        active run, has those params and the returned value as the metric ``cv_accuracy``.
        The trial's user attribute ``mlflow_run_id`` is the child run's id.
    """
    # BEGIN SOLUTION: Write TODO(4) of objective.
    # TODO(4): Start a nested child run named "trial-<trial.number>". In it, suggest one
    #   integer per SEARCH_SPACE entry with trial.suggest_int, score build_model with
    #   cross_val_score (accuracy, cv=CV_FOLDS), log the params and the mean score as
    #   SCORE_METRIC, store the run id in the trial's user attribute RUN_ID_ATTR, and
    #   return the mean score.
    with mlflow.start_run(run_name=f"trial-{trial.number}", nested=True) as child:
        params = {
            name: trial.suggest_int(name, low, high) for name, (low, high) in SEARCH_SPACE.items()
        }
        scores = cross_val_score(
            build_model(random_state, **params), X, y, scoring="accuracy", cv=CV_FOLDS
        )
        score = float(scores.mean())

        mlflow.log_params(params)
        mlflow.log_metric(SCORE_METRIC, score)
        # The attribute leads from the Optuna trial to its MLflow run, and the run's name
        # leads back to the trial number.
        trial.set_user_attr(RUN_ID_ATTR, child.info.run_id)
    return score
    # END SOLUTION


def optuna_search(experiment_name: str, n_trials: int = 8, random_state: int = 42) -> SearchResult:
    """Search SEARCH_SPACE with an Optuna study, one nested child run per trial.

    Args:
        experiment_name: The MLflow experiment to log into, created if it does not exist.
        n_trials: How many trials the study runs.
        random_state: Seed for the study's sampler and for the random forests.

    Returns:
        A SearchResult with the parent run's id, the child run ids in trial order, the
        study's best params and its best value. The experiment then contains one finished
        parent run and, nested under it, the ``n_trials`` child runs that ``objective``
        logged. The parent has the param ``n_trials``, the best trial's params under the
        same names as the children's, and the metric ``best_cv_accuracy``, the study's best
        value, where a higher accuracy is better.

    Example:
        >>> result = optuna_search("cancer-optuna", n_trials=5)
        >>> round(result.best_score, 4)  # doctest: +SKIP
        0.949
    """
    X, y = load_data()

    # BEGIN SOLUTION: Write TODO(5) and TODO(6) of optuna_search.
    # TODO(5): Create a study that maximizes, with a TPESampler seeded by random_state.
    #   Select the experiment, start a parent run, log the param "n_trials", and inside the
    #   run optimize the study for n_trials trials with objective(trial, X, y, random_state).
    # A seeded sampler suggests the same params on every call, so the tests and a colleague
    # who reruns the search see the same trials.
    sampler = optuna.samplers.TPESampler(seed=random_state)
    study = optuna.create_study(direction="maximize", sampler=sampler)

    mlflow.set_experiment(experiment_name)
    with mlflow.start_run(run_name="optuna-search") as parent:
        mlflow.log_param("n_trials", n_trials)
        # The objective runs in this thread while the parent is active, so its
        # nested=True runs become the parent's children.
        study.optimize(lambda trial: objective(trial, X, y), n_trials=n_trials)

        # TODO(6): Log the study's best params on the parent under the same names as the
        #   children's, and its best value as BEST_SCORE_METRIC. Return a SearchResult with
        #   the child run ids read from the trials' user attribute RUN_ID_ATTR.
        mlflow.log_params(study.best_params)
        mlflow.log_metric(BEST_SCORE_METRIC, study.best_value)

    child_run_ids = [trial.user_attrs[RUN_ID_ATTR] for trial in study.trials]
    return SearchResult(
        parent.info.run_id, child_run_ids, dict(study.best_params), float(study.best_value)
    )
    # END SOLUTION
