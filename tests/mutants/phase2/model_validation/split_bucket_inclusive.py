"""Mutant: the challenger also gets the bucket equal to challenger_share, so share 0 is not 0.

Rejected by: test_split_matches_sha256_buckets[share-0], test_ab_run_counts_requests_per_variant
Message: routes ids to other variants than their SHA-256 buckets
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import mlflow
import pandas as pd
from mlflow.models import EvaluationResult, MetricThreshold, infer_signature
from mlflow.models.evaluation.validation import ModelValidationFailedException
from mlflow.tracking import MlflowClient
from sklearn.base import ClassifierMixin
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import RidgeClassifier
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

# The registered model's aliases: the version in production and the one that wants its place.
CHAMPION_ALIAS = "champion"
CHALLENGER_ALIAS = "challenger"

# The experiment that register_candidates logs its training runs into.
TRAINING_EXPERIMENT = "cancer-training"

# The labels column in every frame that carries labels: the held-out set, the A/B requests
# and the monitored traffic.
TARGET_COLUMN = "target"

# The name of the held-out dataset that both evaluations record as their input (task 1).
HOLDOUT_DATASET_NAME = "cancer-holdout"

# SHAP is not installed, and its explanations would take longer than the rest of an
# evaluation, so this config turns them off in mlflow.models.evaluate (task 1).
EVALUATOR_CONFIG = {"log_model_explainability": False}

# The metric that the gate compares, as mlflow.models.evaluate names it (task 2).
GATE_METRIC = "accuracy_score"

# The model version tags that record the gate's decision on the challenger (task 2).
VALIDATION_STATUS_TAG = "validation_status"
VALIDATION_REASON_TAG = "validation_reason"
PASSED_REASON = "The challenger met every threshold."

# The request id column of the A/B requests (task 3).
REQUEST_ID_COLUMN = "request_id"

# The time column of the monitored traffic, and the metric logged once per window (task 4).
TIMESTAMP_COLUMN = "timestamp"
WINDOW_METRIC = "window_accuracy"


@dataclass(frozen=True)
class CancerSplit:
    """Breast cancer data split into a training set and a held-out set."""

    X_train: pd.DataFrame
    y_train: pd.Series
    X_test: pd.DataFrame
    y_test: pd.Series


def load_cancer_split(random_state: int = 42) -> CancerSplit:
    """Split the breast cancer data 70/30 into training and held-out sets, by diagnosis.

    Given code: use it as it is. The same ``random_state`` always gives the same split.
    """
    features, target = load_breast_cancer(return_X_y=True, as_frame=True)
    X_train, X_test, y_train, y_test = train_test_split(
        features, target, test_size=0.3, stratify=target, random_state=random_state
    )
    return CancerSplit(X_train, y_train, X_test, y_test)


def build_candidates() -> dict[str, ClassifierMixin]:
    """Return the unfitted champion and challenger classifiers by alias.

    Given code: use it as it is. The champion is a linear support vector classifier on
    standardized features. The challenger, a ridge classifier on the raw features, is about
    two points less accurate on this data, so a working gate blocks it. Neither has
    ``predict_proba``, so mlflow.models.evaluate skips the metrics and plots that need
    probabilities, which keeps each evaluation fast.
    """
    return {
        CHAMPION_ALIAS: make_pipeline(StandardScaler(), LinearSVC()),
        CHALLENGER_ALIAS: RidgeClassifier(),
    }


def register_candidates(model_name: str, random_state: int = 42) -> dict[str, str]:
    """Fit both candidates, register them as two versions of ``model_name`` and set aliases.

    Given code: use it as it is. The tests call it before your code, so that the registered
    model exists. Each candidate is fitted on the training split of
    ``load_cancer_split(random_state)`` and logged in its own run of TRAINING_EXPERIMENT.

    Returns:
        The version number, as a string, that each alias points to.
    """
    split = load_cancer_split(random_state)
    client = MlflowClient()
    mlflow.set_experiment(TRAINING_EXPERIMENT)
    versions = {}
    for alias, model in build_candidates().items():
        model.fit(split.X_train, split.y_train)
        signature = infer_signature(split.X_train, model.predict(split.X_train))
        with mlflow.start_run(run_name=alias):
            info = mlflow.sklearn.log_model(
                model, name="model", signature=signature, registered_model_name=model_name
            )
        version = str(info.registered_model_version)
        client.set_registered_model_alias(model_name, alias, version)
        versions[alias] = version
    return versions


@dataclass(frozen=True)
class EvaluationPair:
    """The evaluation runs of the champion and the challenger, and what evaluate returned."""

    champion_run_id: str
    challenger_run_id: str
    champion: EvaluationResult
    challenger: EvaluationResult


def evaluate_champion_and_challenger(
    model_name: str, experiment_name: str, random_state: int = 42
) -> EvaluationPair:
    """Evaluate the champion and the challenger version on one held-out set.

    Args:
        model_name: A registered model whose aliases CHAMPION_ALIAS and CHALLENGER_ALIAS
            point to the two versions to compare.
        experiment_name: The MLflow experiment to log into, created if it does not exist.
        random_state: Seed for ``load_cancer_split``; the held-out set is its test split.

    Returns:
        An EvaluationPair with both run ids and the two EvaluationResults of
        ``mlflow.models.evaluate``. The experiment then contains two finished runs, named
        after the aliases, each with:

        - the param ``model_version``: the version that the alias points to;
        - the metrics that ``mlflow.models.evaluate`` logs for a classifier, such as
          ``accuracy_score``, ``precision_score``, ``recall_score`` and ``f1_score``,
          computed on the held-out set;
        - the held-out set as a dataset input named HOLDOUT_DATASET_NAME: the held-out
          features plus a TARGET_COLUMN column with the labels. Both runs log this one
          dataset, so both inputs have the same digest.

    Example:
        >>> pair = evaluate_champion_and_challenger("cancer-screening", "cancer-validation")
        >>> round(pair.champion.metrics["accuracy_score"], 3)  # doctest: +SKIP
        0.965
    """
    split = load_cancer_split(random_state)
    client = MlflowClient()

    # BEGIN SOLUTION: Write TODO(1) of evaluate_champion_and_challenger.
    # TODO(1): Build one MLflow dataset from the held-out features plus a TARGET_COLUMN
    #   column, named HOLDOUT_DATASET_NAME. Then, for each alias, start a run named after it,
    #   log the version the alias points to as the param model_version, and evaluate that
    #   version on the dataset with mlflow.models.evaluate as a classifier, passing
    #   EVALUATOR_CONFIG.
    # One dataset object for both evaluations: equal digests on the two runs are the record
    # that the numbers the gate compares came from the same rows.
    holdout = mlflow.data.from_pandas(
        split.X_test.assign(**{TARGET_COLUMN: split.y_test}),
        targets=TARGET_COLUMN,
        name=HOLDOUT_DATASET_NAME,
    )

    mlflow.set_experiment(experiment_name)
    run_ids: dict[str, str] = {}
    results: dict[str, EvaluationResult] = {}
    for alias in (CHAMPION_ALIAS, CHALLENGER_ALIAS):
        # Resolve the alias once and evaluate that version: an alias can move while this
        # runs, and the param then names exactly the version that was scored.
        version = client.get_model_version_by_alias(model_name, alias).version
        with mlflow.start_run(run_name=alias) as run:
            mlflow.log_param("model_version", version)
            results[alias] = mlflow.models.evaluate(
                f"models:/{model_name}/{version}",
                holdout,
                model_type="classifier",
                evaluator_config=EVALUATOR_CONFIG,
            )
        run_ids[alias] = run.info.run_id

    return EvaluationPair(
        champion_run_id=run_ids[CHAMPION_ALIAS],
        challenger_run_id=run_ids[CHALLENGER_ALIAS],
        champion=results[CHAMPION_ALIAS],
        challenger=results[CHALLENGER_ALIAS],
    )
    # END SOLUTION


@dataclass(frozen=True)
class GateDecision:
    """Whether the challenger may replace the champion, and why."""

    passed: bool
    reason: str


def gate_challenger(
    model_name: str,
    champion_result: EvaluationResult,
    challenger_result: EvaluationResult,
    min_accuracy: float = 0.9,
    min_gain: float = 0.01,
) -> GateDecision:
    """Decide with MLflow's model validation whether the challenger beats the champion.

    Args:
        model_name: The registered model whose CHALLENGER_ALIAS version is being judged.
        champion_result: The champion's EvaluationResult, the baseline.
        challenger_result: The challenger's EvaluationResult, the candidate.
        min_accuracy: The lowest GATE_METRIC the challenger may have.
        min_gain: How much higher than the champion's the challenger's GATE_METRIC must be,
            in absolute terms; a positive number.

    Returns:
        GateDecision(passed=True, reason=PASSED_REASON) when the challenger's GATE_METRIC is
        at least ``min_accuracy`` and at least the champion's plus ``min_gain``. Otherwise
        GateDecision(passed=False, reason=...) with the message of MLflow's
        ModelValidationFailedException, which names every check that failed. The version
        that CHALLENGER_ALIAS points to then carries the tags VALIDATION_STATUS_TAG
        (``"passed"`` or ``"failed"``) and VALIDATION_REASON_TAG (the reason).

    Example:
        >>> pair = evaluate_champion_and_challenger("cancer-screening", "cancer-validation")
        >>> gate_challenger("cancer-screening", pair.champion, pair.challenger).passed
        False
    """
    # BEGIN SOLUTION: Write TODO(2) of gate_challenger.
    # TODO(2): Describe the two rules as a MetricThreshold for GATE_METRIC, where greater is
    #   better, and check them with mlflow.validate_evaluation_results, the challenger as
    #   the candidate and the champion as the baseline. It raises
    #   ModelValidationFailedException when a check fails. Tag the challenger's version with
    #   the decision, and return it.
    thresholds = {
        GATE_METRIC: MetricThreshold(
            threshold=min_accuracy, min_absolute_change=min_gain, greater_is_better=True
        )
    }
    try:
        mlflow.validate_evaluation_results(
            thresholds, candidate_result=challenger_result, baseline_result=champion_result
        )
        decision = GateDecision(passed=True, reason=PASSED_REASON)
    except ModelValidationFailedException as error:
        # The message lists each failed check with the candidate's and baseline's values.
        decision = GateDecision(passed=False, reason=error.message)

    # The tags go on the model version, where a promotion step reads them before it moves
    # the champion alias.
    client = MlflowClient()
    version = client.get_model_version_by_alias(model_name, CHALLENGER_ALIAS).version
    status = "passed" if decision.passed else "failed"
    client.set_model_version_tag(model_name, version, VALIDATION_STATUS_TAG, status)
    client.set_model_version_tag(model_name, version, VALIDATION_REASON_TAG, decision.reason)
    return decision
    # END SOLUTION


def assign_variant(request_id: str, challenger_share: int) -> str:
    """Route a request to the champion or the challenger by a hash of its id.

    Args:
        request_id: The request's id, for example a customer id.
        challenger_share: The percentage of ids routed to the challenger, from 0 to 100.

    Returns:
        CHALLENGER_ALIAS when the id's bucket is below ``challenger_share``, otherwise
        CHAMPION_ALIAS. The bucket is the SHA-256 digest of the id's UTF-8 bytes, read as a
        hexadecimal number, modulo 100. The same id therefore gets the same variant in every
        process, on every machine.

    Raises:
        ValueError: If ``challenger_share`` is not between 0 and 100.

    Example:
        >>> assign_variant("customer-17", 100)
        'challenger'
    """
    if not 0 <= challenger_share <= 100:
        raise ValueError(f"challenger_share must be between 0 and 100, not {challenger_share}.")

    # BEGIN SOLUTION: Write TODO(3) of assign_variant.
    # TODO(3): Compute the id's bucket from its SHA-256 digest with hashlib, and route the
    #   buckets below challenger_share to the challenger.
    # Python's built-in hash() of a string changes with every process (PYTHONHASHSEED), so
    # the same customer could see another model after a restart. SHA-256 never changes.
    digest = hashlib.sha256(request_id.encode("utf-8")).hexdigest()
    bucket = int(digest, 16) % 100
    return CHALLENGER_ALIAS if bucket <= challenger_share else CHAMPION_ALIAS
    # END SOLUTION


@dataclass(frozen=True)
class ABTestResult:
    """The run of one A/B test and the variant each request was routed to."""

    run_id: str
    assignments: dict[str, str]


def run_ab_test(
    model_name: str, requests: pd.DataFrame, experiment_name: str, challenger_share: int = 10
) -> ABTestResult:
    """Route labelled requests between champion and challenger and log each variant's results.

    Args:
        model_name: A registered model with CHAMPION_ALIAS and CHALLENGER_ALIAS versions.
        requests: One row per request: REQUEST_ID_COLUMN, the model's feature columns and
            TARGET_COLUMN with the label that later turned out to be true.
        experiment_name: The MLflow experiment to log into, created if it does not exist.
        challenger_share: The percentage of request ids routed to the challenger.

    Returns:
        An ABTestResult with the run id and each request id's variant (an alias), as
        ``assign_variant`` routes it. The experiment then contains one finished run with the
        param ``challenger_share`` and the metrics ``champion_requests`` and
        ``challenger_requests`` (how many requests each variant served) and
        ``champion_accuracy`` and ``challenger_accuracy`` (the accuracy of each alias's
        version on the requests it served). A variant that served no request logs no
        accuracy.

    Example:
        >>> result = run_ab_test("cancer-screening", requests, "cancer-ab-test", 20)
        >>> result.assignments["customer-17"]  # doctest: +SKIP
        'champion'
    """
    # BEGIN SOLUTION: Write TODO(3) of run_ab_test.
    # TODO(3): Route every request with assign_variant. In one run, log the param
    #   challenger_share and, per alias, the metrics <alias>_requests and <alias>_accuracy:
    #   load the alias's version with mlflow.pyfunc and score it on the requests it served.
    variants = requests[REQUEST_ID_COLUMN].map(
        lambda request_id: assign_variant(request_id, challenger_share)
    )
    features = requests.drop(columns=[REQUEST_ID_COLUMN, TARGET_COLUMN])

    mlflow.set_experiment(experiment_name)
    with mlflow.start_run(run_name="ab-test") as run:
        mlflow.log_param("challenger_share", challenger_share)
        for alias in (CHAMPION_ALIAS, CHALLENGER_ALIAS):
            served = variants == alias
            mlflow.log_metric(f"{alias}_requests", int(served.sum()))
            if not served.any():
                continue
            model = mlflow.pyfunc.load_model(f"models:/{model_name}@{alias}")
            predictions = model.predict(features[served])
            accuracy = accuracy_score(requests.loc[served, TARGET_COLUMN], predictions)
            mlflow.log_metric(f"{alias}_accuracy", float(accuracy))

    return ABTestResult(
        run.info.run_id, dict(zip(requests[REQUEST_ID_COLUMN], variants, strict=True))
    )
    # END SOLUTION


def monitor_champion(
    model_name: str, traffic: pd.DataFrame, experiment_name: str, window_minutes: int = 60
) -> str:
    """Score the champion on labelled traffic window by window, as one metric history.

    Args:
        model_name: A registered model with a CHAMPION_ALIAS version.
        traffic: One row per request, in any order: TIMESTAMP_COLUMN (timezone-aware
            datetimes), the model's feature columns and TARGET_COLUMN.
        experiment_name: The MLflow experiment to log into, created if it does not exist.
        window_minutes: The width of each window in minutes.

    Returns:
        The id of the run it logged. The experiment then contains one finished run with the
        param ``window_minutes`` and the metric WINDOW_METRIC. Window ``i`` contains the
        requests from ``start + i * width`` up to but not including ``start + (i + 1) *
        width``, where ``start`` is the earliest timestamp. Each window logs one value with
        ``step=i`` and the window's start as its timestamp, in milliseconds since the Unix
        epoch. A window without requests logs nothing, so steps can skip.

    Example:
        >>> run_id = monitor_champion("cancer-screening", traffic, "cancer-monitoring", 30)
    """
    # BEGIN SOLUTION: Write TODO(4) of monitor_champion.
    # TODO(4): Load the champion with mlflow.pyfunc and predict every request. Number the
    #   windows from the earliest timestamp, and in one run log the param window_minutes and
    #   each window's accuracy as WINDOW_METRIC with step=<window index> and
    #   timestamp=<window start in milliseconds>.
    width = pd.Timedelta(minutes=window_minutes)
    start = traffic[TIMESTAMP_COLUMN].min()
    model = mlflow.pyfunc.load_model(f"models:/{model_name}@{CHAMPION_ALIAS}")
    scored = traffic.assign(
        prediction=model.predict(traffic.drop(columns=[TIMESTAMP_COLUMN, TARGET_COLUMN])),
        window=(traffic[TIMESTAMP_COLUMN] - start) // width,
    )

    mlflow.set_experiment(experiment_name)
    with mlflow.start_run(run_name="monitoring") as run:
        mlflow.log_param("window_minutes", window_minutes)
        for window, rows in scored.groupby("window"):
            window_start = start + window * width
            # One metric name with a step per window makes a history, which the UI draws as
            # a curve. The timestamp places each point at its window's start on a time axis.
            mlflow.log_metric(
                WINDOW_METRIC,
                float(accuracy_score(rows[TARGET_COLUMN], rows["prediction"])),
                step=int(window),
                timestamp=int(window_start.timestamp() * 1000),
            )
    return run.info.run_id
    # END SOLUTION
