"""Tests for phase2/model_validation: evaluate, gate, A/B split and monitor two model versions.

Before calling your code, each test registers a champion and a challenger version of a breast
cancer classifier with the given ``register_candidates``. Every test then reads back what
your functions left in its own MLflow store.
"""

import hashlib
import json

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.entities import Dataset, Run
from mlflow.models import EvaluationResult
from mlflow.tracking import MlflowClient
from sklearn.metrics import accuracy_score

from checks import state

MODEL_NAME = "breast-cancer-screening"
EXPERIMENT = "cancer-validation"
AB_EXPERIMENT = "cancer-ab-test"
MONITORING_EXPERIMENT = "cancer-monitoring"
# A seed other than the default 42, so a function that ignores random_state is caught. With
# scikit-learn 1.9 it gives the champion an accuracy of 0.971 on the held-out split and the
# challenger 0.953.
SEED = 7
CHAMPION = "champion"
CHALLENGER = "challenger"
ALIASES = [CHAMPION, CHALLENGER]
TARGET_COLUMN = "target"
HOLDOUT_DATASET_NAME = "cancer-holdout"
# Metrics that mlflow.models.evaluate logs in MLflow 3.17 for a binary classifier without
# predict_proba, as both versions are.
EVALUATE_METRICS = [
    "accuracy_score",
    "precision_score",
    "recall_score",
    "f1_score",
    "example_count",
]
GATE_METRIC = "accuracy_score"
VALIDATION_STATUS_TAG = "validation_status"
VALIDATION_REASON_TAG = "validation_reason"
REQUEST_ID_COLUMN = "request_id"
# Not the default of 10, so a function that ignores challenger_share is caught.
AB_SHARE = 40
AB_METRICS = [
    "champion_requests",
    "challenger_requests",
    "champion_accuracy",
    "challenger_accuracy",
]
TIMESTAMP_COLUMN = "timestamp"
WINDOW_METRIC = "window_accuracy"
# Not the default of 60 minutes, so a function that ignores window_minutes is caught.
WINDOW_MINUTES = 30
TRAFFIC_START = pd.Timestamp("2026-03-02 08:00", tz="UTC")
# The windows that receive traffic. Window 3 gets none, as a quiet half hour would, so its
# step must be missing from the history. In windows 4 and 5 a quarter of the labels flip,
# as if the data had drifted away from what the champion learned.
TRAFFIC_WINDOWS = [0, 1, 2, 4, 5]
DRIFTED_WINDOWS = [4, 5]


# -- setup: the registered model and the calls into your code --------------------------------


def register(solution, mlflow_snapshot) -> dict[str, str]:
    """Register the champion and challenger versions and return each alias's version.

    The registration runs once per module, and later tests start from a copy of its store.
    """
    return mlflow_snapshot.run_once(
        "register_candidates",
        lambda: solution.register_candidates(MODEL_NAME, random_state=SEED),
    )


def evaluate_pair(solution, mlflow_snapshot):
    """Call evaluate_champion_and_challenger once per module and return what it returned."""
    register(solution, mlflow_snapshot)
    return mlflow_snapshot.run_once(
        "evaluate_champion_and_challenger",
        lambda: solution.evaluate_champion_and_challenger(
            MODEL_NAME, EXPERIMENT, random_state=SEED
        ),
    )


@pytest.fixture
def split(solution):
    return solution.load_cancer_split(SEED)


def holdout_frame(split) -> pd.DataFrame:
    """Return the held-out features with the labels in a target column."""
    return split.X_test.assign(**{TARGET_COLUMN: split.y_test})


def version_predictions(version: str, features: pd.DataFrame) -> np.ndarray:
    """Predict with one registered version, loaded by its number."""
    model = mlflow.pyfunc.load_model(f"models:/{MODEL_NAME}/{version}")
    return np.asarray(model.predict(features))


# -- registry state and how to show it --------------------------------------------------------


def describe_versions(model_name: str) -> str:
    """List every version of a registered model with its aliases and tags, one per line."""
    client = MlflowClient()
    found = client.search_model_versions(f"name = '{model_name}'")
    if not found:
        return f"registered model {model_name!r} has no versions"
    lines = []
    for listed in sorted(found, key=lambda version: int(version.version)):
        version = client.get_model_version(model_name, listed.version)
        aliases = ", ".join(sorted(version.aliases)) or "(none)"
        lines.append(
            f"    version {version.version}: aliases [{aliases}], "
            f"tags {state.format_mapping(version.tags)}"
        )
    return "\n" + "\n".join(lines)


def version_tags(model_name: str, version: str) -> dict[str, str]:
    return dict(MlflowClient().get_model_version(model_name, version).tags)


# -- task 1: one evaluation run per alias, on one held-out dataset ---------------------------


def evaluation_runs() -> dict[str, Run]:
    """Return the experiment's two evaluation runs by name, failing unless there are two."""
    runs = state.experiment_runs(EXPERIMENT)
    by_name = {run.info.run_name: run for run in runs}
    if len(runs) != len(ALIASES) or sorted(by_name) != sorted(ALIASES):
        state.fail(
            f"The experiment {EXPERIMENT!r} has {len(runs)} runs, but the kata expects one "
            "evaluation run per alias, named after it.",
            expected=f"runs {state.names(ALIASES)}",
            actual="\n" + "\n".join(state.describe_run(run) for run in runs),
            why=(
                "Start a run with mlflow.start_run(run_name=alias) around each "
                "mlflow.models.evaluate call, so each model's metrics land in a run of their own."
            ),
        )
    return by_name


def dataset_inputs_of(name: str, run: Run) -> list[Dataset]:
    """Return the datasets a run logged as inputs, failing unless there is exactly one."""
    datasets = [dataset_input.dataset for dataset_input in run.inputs.dataset_inputs]
    if len(datasets) != 1:
        state.fail(
            f"The {name} run has {len(datasets)} dataset inputs, but an evaluation run "
            "records exactly one: the data mlflow.models.evaluate scored.",
            expected=f"one dataset input named {HOLDOUT_DATASET_NAME!r}",
            actual=f"dataset inputs {state.names(dataset.name for dataset in datasets)}",
            why="mlflow.models.evaluate logs the data it receives as the run's dataset input.",
        )
    return datasets


@pytest.mark.task(1)
def test_each_alias_gets_evaluation_run(solution, mlflow_snapshot):
    evaluate_pair(solution, mlflow_snapshot)

    runs = evaluation_runs()

    for run in runs.values():
        state.assert_run_finished(run)


@pytest.mark.task(1)
def test_runs_record_evaluated_version(solution, mlflow_snapshot):
    versions = register(solution, mlflow_snapshot)
    evaluate_pair(solution, mlflow_snapshot)

    runs = evaluation_runs()

    for alias, run in runs.items():
        state.assert_params(run, {"model_version": versions[alias]})


@pytest.mark.task(1)
def test_runs_log_evaluate_metrics(solution, mlflow_snapshot):
    evaluate_pair(solution, mlflow_snapshot)

    runs = evaluation_runs()

    for alias, run in runs.items():
        missing = [name for name in EVALUATE_METRICS if name not in run.data.metrics]
        if missing:
            state.fail(
                f"The {alias} run lacks the metrics {state.names(missing)} that "
                "mlflow.models.evaluate logs for a classifier.",
                expected=f"metrics {state.names(EVALUATE_METRICS)}, among others",
                actual=f"metrics {state.names(run.data.metrics)}",
                why=(
                    "Call mlflow.models.evaluate(model_uri, dataset, model_type='classifier', "
                    "evaluator_config=EVALUATOR_CONFIG) inside the run; it logs into the "
                    "active run."
                ),
            )


@pytest.mark.task(1)
def test_run_accuracy_matches_its_version(solution, mlflow_snapshot, split):
    versions = register(solution, mlflow_snapshot)
    evaluate_pair(solution, mlflow_snapshot)

    runs = evaluation_runs()

    for alias, run in runs.items():
        predictions = version_predictions(versions[alias], split.X_test)
        state.assert_metric_close(
            run,
            GATE_METRIC,
            accuracy_score(split.y_test, predictions),
            meaning=f"the accuracy of version {versions[alias]} ({alias}) on the held-out split",
            why=(
                "Evaluate the version that the run's alias points to, on the test split of "
                "load_cancer_split(random_state)."
            ),
        )


@pytest.mark.task(1)
def test_evaluations_use_same_dataset(solution, mlflow_snapshot):
    evaluate_pair(solution, mlflow_snapshot)

    runs = evaluation_runs()
    digests = {alias: dataset_inputs_of(alias, run)[0].digest for alias, run in runs.items()}

    if len(set(digests.values())) != 1:
        state.fail(
            "The two evaluation runs have dataset inputs with different digests, so the "
            "champion and the challenger were scored on different rows.",
            expected="one digest on both runs",
            actual=", ".join(f"{alias}={digest}" for alias, digest in digests.items()),
            why=(
                "A gate that compares two accuracies is fair only when both come from the same "
                "rows. Build the held-out dataset once and pass it to both evaluate calls."
            ),
        )


@pytest.mark.task(1)
def test_evaluation_dataset_is_holdout(solution, mlflow_snapshot, split):
    evaluate_pair(solution, mlflow_snapshot)

    runs = evaluation_runs()
    expected = mlflow.data.from_pandas(holdout_frame(split), targets=TARGET_COLUMN)

    for alias, run in runs.items():
        dataset = dataset_inputs_of(alias, run)[0]
        if dataset.name != HOLDOUT_DATASET_NAME:
            state.fail(
                f"The {alias} run's dataset input is named {dataset.name!r}.",
                expected=HOLDOUT_DATASET_NAME,
                actual=dataset.name,
                why=(
                    "Build the dataset with mlflow.data.from_pandas(..., name="
                    "HOLDOUT_DATASET_NAME) and pass it to evaluate. A plain DataFrame is "
                    "logged under the name 'dataset', which tells a reader nothing."
                ),
            )
        rows = json.loads(dataset.profile or "{}").get("num_rows")
        if dataset.digest != expected.digest:
            state.fail(
                f"The {alias} run was evaluated on other rows than the held-out split of "
                f"load_cancer_split({SEED}).",
                expected=f"digest {expected.digest}, {len(split.y_test)} rows",
                actual=f"digest {dataset.digest}, {rows} rows",
                why=(
                    "Use the test split of load_cancer_split(random_state), with the labels "
                    "in a 'target' column, for both models. Rows a model was trained on "
                    "flatter it."
                ),
            )


@pytest.mark.task(1)
def test_returned_results_match_runs(solution, mlflow_snapshot):
    pair = evaluate_pair(solution, mlflow_snapshot)

    runs = evaluation_runs()

    for alias in ALIASES:
        run_id = getattr(pair, f"{alias}_run_id", None)
        if run_id != runs[alias].info.run_id:
            state.fail(
                f"The returned {alias}_run_id is not the id of the {alias} run.",
                expected=runs[alias].info.run_id,
                actual=repr(run_id),
            )
        result = getattr(pair, alias, None)
        returned = getattr(result, "metrics", {}).get(GATE_METRIC)
        logged = runs[alias].data.metrics.get(GATE_METRIC)
        if returned is None or returned != logged:
            state.fail(
                f"The returned {alias} result is not the EvaluationResult of the {alias} run.",
                expected=f"{GATE_METRIC}={logged}",
                actual=f"{GATE_METRIC}={returned}",
                why="Keep the value that mlflow.models.evaluate returns and put it in the pair.",
            )


# -- task 2: the gate, with MetricThreshold and validate_evaluation_results --------------------


def evaluation_result(accuracy: float) -> EvaluationResult:
    """Build an EvaluationResult like the one evaluate returns, with a chosen accuracy."""
    return EvaluationResult(
        metrics={GATE_METRIC: accuracy, "f1_score": accuracy, "example_count": 171},
        artifacts={},
    )


def run_gate(solution, mlflow_snapshot, champion, challenger, min_accuracy, min_gain):
    """Register the versions, call gate_challenger with made-up results and check the return."""
    register(solution, mlflow_snapshot)
    decision = solution.gate_challenger(
        MODEL_NAME,
        evaluation_result(champion),
        evaluation_result(challenger),
        min_accuracy=min_accuracy,
        min_gain=min_gain,
    )
    if not isinstance(getattr(decision, "passed", None), bool):
        state.fail(
            f"gate_challenger returned {decision!r}.",
            expected="GateDecision(passed=True or False, reason=...)",
            actual=repr(decision),
        )
    return decision


def gate_case(champion, challenger, min_accuracy, min_gain) -> str:
    return (
        f"champion {GATE_METRIC}={champion}, challenger {GATE_METRIC}={challenger}, "
        f"min_accuracy={min_accuracy}, min_gain={min_gain}"
    )


@pytest.mark.task(2)
def test_gate_passes_better_challenger(solution, mlflow_snapshot):
    case = (0.90, 0.95, 0.85, 0.02)

    decision = run_gate(solution, mlflow_snapshot, *case)

    if not decision.passed:
        state.fail(
            f"The gate blocked a challenger that meets every rule ({gate_case(*case)}).",
            expected="passed=True",
            actual=f"passed=False, reason {decision.reason!r}",
            why=(
                "Pass the champion's result as baseline_result: without a baseline, "
                "min_absolute_change has nothing to compare with and always fails. "
                "greater_is_better=True, because a higher accuracy is better."
            ),
        )


@pytest.mark.task(2)
def test_gate_blocks_worse_challenger(solution, mlflow_snapshot):
    case = (0.95, 0.90, 0.85, 0.02)

    decision = run_gate(solution, mlflow_snapshot, *case)

    if decision.passed:
        state.fail(
            f"The gate passed a challenger that is worse than the champion ({gate_case(*case)}).",
            expected="passed=False, with MLflow's 'minimum absolute change check failed'",
            actual=f"passed=True, reason {decision.reason!r}",
            why=(
                "Give validate_evaluation_results a MetricThreshold for accuracy_score with "
                "min_absolute_change=min_gain, and return passed=False only when it raises "
                "ModelValidationFailedException; an exception that is swallowed or a missing "
                "threshold lets every model through."
            ),
        )
    if "minimum absolute change check failed" not in decision.reason:
        state.fail(
            "The gate's reason does not name the check that failed.",
            expected="the message of ModelValidationFailedException, which contains "
            "'accuracy_score minimum absolute change check failed'",
            actual=repr(decision.reason),
        )


@pytest.mark.task(2)
def test_gate_blocks_gain_below_minimum(solution, mlflow_snapshot):
    # The gain is 0.015, below min_gain; as a relative change, 0.015 / 0.6 = 0.025, it
    # would pass.
    case = (0.60, 0.615, 0.5, 0.02)

    decision = run_gate(solution, mlflow_snapshot, *case)

    if decision.passed:
        state.fail(
            f"The gate passed a challenger whose gain is below min_gain ({gate_case(*case)}).",
            expected="passed=False: 0.615 is below 0.60 + 0.02",
            actual=f"passed=True, reason {decision.reason!r}",
            why=(
                "min_gain is an absolute difference in accuracy, so it goes to "
                "MetricThreshold(min_absolute_change=...). min_relative_change would compare "
                "the gain with a fraction of the champion's accuracy instead."
            ),
        )


@pytest.mark.task(2)
def test_gate_blocks_challenger_below_floor(solution, mlflow_snapshot):
    case = (0.70, 0.80, 0.85, 0.02)

    decision = run_gate(solution, mlflow_snapshot, *case)

    if decision.passed:
        state.fail(
            "The gate passed a challenger that beats the champion but stays below "
            f"min_accuracy ({gate_case(*case)}).",
            expected="passed=False, with MLflow's 'value threshold check failed'",
            actual=f"passed=True, reason {decision.reason!r}",
            why="Set MetricThreshold(threshold=min_accuracy, ...) as well as the minimum gain.",
        )
    if "value threshold check failed" not in decision.reason:
        state.fail(
            "The gate's reason does not name the check that failed.",
            expected="the message of ModelValidationFailedException, which contains "
            "'accuracy_score value threshold check failed'",
            actual=repr(decision.reason),
        )


@pytest.mark.task(2)
@pytest.mark.parametrize(
    "case, status",
    [((0.95, 0.90, 0.85, 0.02), "failed"), ((0.90, 0.95, 0.85, 0.02), "passed")],
    ids=["blocked", "passed"],
)
def test_gate_tags_challenger_version(solution, mlflow_snapshot, case, status):
    versions = register(solution, mlflow_snapshot)

    decision = run_gate(solution, mlflow_snapshot, *case)

    challenger_tags = version_tags(MODEL_NAME, versions[CHALLENGER])
    expected = {VALIDATION_STATUS_TAG: status, VALIDATION_REASON_TAG: decision.reason}
    if any(challenger_tags.get(key) != value for key, value in expected.items()):
        state.fail(
            f"Version {versions[CHALLENGER]}, which the alias {CHALLENGER!r} points to, does "
            f"not carry the gate's decision ({gate_case(*case)}).",
            expected=f"tags {state.format_mapping(expected)} on version {versions[CHALLENGER]}",
            actual=describe_versions(MODEL_NAME),
            why=(
                "Tag the version with MlflowClient().set_model_version_tag(name, version, key, "
                "value); find it with get_model_version_by_alias(name, 'challenger'). A "
                "promotion step reads these tags before it moves the champion alias."
            ),
        )
    champion_tags = version_tags(MODEL_NAME, versions[CHAMPION])
    if set(expected) & set(champion_tags):
        state.fail(
            f"The champion's version {versions[CHAMPION]} carries the gate's tags, but the "
            "gate judged the challenger.",
            expected=f"no {VALIDATION_STATUS_TAG} or {VALIDATION_REASON_TAG} on version "
            f"{versions[CHAMPION]}",
            actual=describe_versions(MODEL_NAME),
        )


@pytest.mark.task(2)
def test_gate_blocks_evaluated_challenger(solution, mlflow_snapshot):
    versions = register(solution, mlflow_snapshot)
    pair = evaluate_pair(solution, mlflow_snapshot)

    decision = solution.gate_challenger(
        MODEL_NAME, pair.champion, pair.challenger, min_accuracy=0.9, min_gain=0.005
    )

    if getattr(decision, "passed", None) is not False:
        state.fail(
            "The gate passed the evaluated challenger, which is less accurate than the "
            "champion on the held-out split.",
            expected="passed=False",
            actual=f"{decision!r}",
            why="This test needs task 1: it gates the two results that task 1 returned.",
        )
    tags = version_tags(MODEL_NAME, versions[CHALLENGER])
    if tags.get(VALIDATION_STATUS_TAG) != "failed":
        state.fail(
            f"The challenger's version {versions[CHALLENGER]} does not record the failed gate.",
            expected=f"{VALIDATION_STATUS_TAG}=failed on version {versions[CHALLENGER]}",
            actual=describe_versions(MODEL_NAME),
        )


# -- task 3: a deterministic A/B split and per-variant metrics ----------------------------------


REQUEST_IDS = [f"customer-{number}" for number in range(1000, 1200)]


def expected_variant(request_id: str, share: int) -> str:
    """Route a request id the way the kata specifies, computed here independently."""
    bucket = int(hashlib.sha256(request_id.encode("utf-8")).hexdigest(), 16) % 100
    return CHALLENGER if bucket < share else CHAMPION


def describe_mismatches(ids, expected: list[str], actual: list[str]) -> str:
    wrong = [
        f"{request_id}: {got!r} instead of {want!r}"
        for request_id, want, got in zip(ids, expected, actual, strict=True)
        if want != got
    ]
    examples = ", ".join(wrong[:5])
    return f"{len(wrong)} of {len(expected)} ids differ, for example {examples}"


@pytest.mark.task(3)
@pytest.mark.parametrize("share", [0, 25, 100], ids=lambda share: f"share-{share}")
def test_split_matches_sha256_buckets(solution, share):
    expected = [expected_variant(request_id, share) for request_id in REQUEST_IDS]

    actual = [solution.assign_variant(request_id, share) for request_id in REQUEST_IDS]

    if actual != expected:
        state.fail(
            f"assign_variant(request_id, {share}) routes ids to other variants than their "
            "SHA-256 buckets.",
            expected=f"'challenger' when int(sha256(id).hexdigest(), 16) % 100 < {share}",
            actual=describe_mismatches(REQUEST_IDS, expected, actual),
            why=(
                "Every process that routes the same customer must agree, on every restart and "
                "on every replica, so the bucket comes from a fixed hash of the id: "
                "hashlib.sha256(request_id.encode('utf-8')). Python's built-in hash() of a "
                "string is salted with a random seed per process (PYTHONHASHSEED), so it "
                "routes the same id differently in each process."
            ),
        )


@pytest.mark.task(3)
def test_split_is_repeatable(solution):
    share = 50

    first = [solution.assign_variant(request_id, share) for request_id in REQUEST_IDS]
    second = [solution.assign_variant(request_id, share) for request_id in REQUEST_IDS]

    if first != second:
        state.fail(
            "Calling assign_variant twice with the same ids routes some of them to another "
            "variant the second time.",
            expected="every id on the same variant in every call",
            actual=describe_mismatches(REQUEST_IDS, first, second),
            why=(
                "A customer who sees the champion on one request and the challenger on the "
                "next makes both variants' metrics meaningless. Derive the variant from the "
                "id alone, not from a random draw."
            ),
        )


def ab_requests(split) -> pd.DataFrame:
    """Return the held-out rows as labelled requests, each with a customer id."""
    ids = [f"customer-{number}" for number in range(2000, 2000 + len(split.y_test))]
    return holdout_frame(split).assign(**{REQUEST_ID_COLUMN: ids})


def run_ab(solution, mlflow_snapshot, split):
    """Register the versions, then call run_ab_test once per module; return what it returned."""
    register(solution, mlflow_snapshot)
    return mlflow_snapshot.run_once(
        "run_ab_test",
        lambda: solution.run_ab_test(
            MODEL_NAME, ab_requests(split), AB_EXPERIMENT, challenger_share=AB_SHARE
        ),
    )


def ab_run(result) -> Run:
    run = state.run_from_id(getattr(result, "run_id", None), returned_by="run_ab_test")
    state.assert_run_finished(run)
    return run


@pytest.mark.task(3)
def test_ab_run_counts_requests_per_variant(solution, mlflow_snapshot, split):
    result = run_ab(solution, mlflow_snapshot, split)

    run = ab_run(result)
    state.assert_metric_names(run, AB_METRICS)
    requests = ab_requests(split)
    variants = [expected_variant(request_id, AB_SHARE) for request_id in requests.request_id]

    for alias in ALIASES:
        state.assert_metric_close(
            run,
            f"{alias}_requests",
            variants.count(alias),
            meaning=f"the number of requests whose SHA-256 bucket routes them to the {alias}",
            why=f"run_ab_test was called with challenger_share={AB_SHARE}.",
        )


@pytest.mark.task(3)
def test_ab_run_logs_accuracy_per_variant(solution, mlflow_snapshot, split):
    versions = register(solution, mlflow_snapshot)
    result = run_ab(solution, mlflow_snapshot, split)

    run = ab_run(result)
    requests = ab_requests(split)
    routed = requests[REQUEST_ID_COLUMN].map(
        lambda request_id: expected_variant(request_id, AB_SHARE)
    )

    for alias in ALIASES:
        served = requests[routed == alias]
        predictions = version_predictions(versions[alias], served[split.X_test.columns])
        state.assert_metric_close(
            run,
            f"{alias}_accuracy",
            accuracy_score(served[TARGET_COLUMN], predictions),
            meaning=(
                f"the accuracy of version {versions[alias]} ({alias}) on the "
                f"{len(served)} requests routed to it"
            ),
            why=(
                "Score each variant's version only on the requests it served: those are the "
                "answers its users saw."
            ),
        )


@pytest.mark.task(3)
def test_ab_run_logs_challenger_share(solution, mlflow_snapshot, split):
    result = run_ab(solution, mlflow_snapshot, split)

    run = ab_run(result)

    state.assert_params(run, {"challenger_share": AB_SHARE})


@pytest.mark.task(3)
def test_ab_returns_assignments(solution, mlflow_snapshot, split):
    result = run_ab(solution, mlflow_snapshot, split)

    requests = ab_requests(split)
    expected = {
        request_id: expected_variant(request_id, AB_SHARE)
        for request_id in requests[REQUEST_ID_COLUMN]
    }
    returned = getattr(result, "assignments", None)

    if returned != expected:
        ids = list(expected)
        state.fail(
            "The returned assignments do not map each request id to its variant.",
            expected=f"{len(expected)} ids, each mapped to 'champion' or 'challenger'",
            actual=describe_mismatches(
                ids, [expected[key] for key in ids], [(returned or {}).get(key) for key in ids]
            )
            if isinstance(returned, dict)
            else repr(returned),
        )


# -- task 4: the champion's accuracy per time window, as one metric history --------------------


def build_traffic(split) -> pd.DataFrame:
    """Spread the held-out rows over half-hour windows, with drifted labels at the end.

    The rows come back shuffled, so the code under test must order them by time itself.
    """
    generator = np.random.default_rng(SEED)
    count = len(split.y_test)
    windows = generator.choice(TRAFFIC_WINDOWS, size=count)
    seconds = generator.integers(0, WINDOW_MINUTES * 60, size=count)
    # The first row opens window 0, so the earliest timestamp is TRAFFIC_START.
    windows[0], seconds[0] = 0, 0
    timestamps = (
        TRAFFIC_START
        + pd.to_timedelta(windows * WINDOW_MINUTES, unit="min")
        + pd.to_timedelta(seconds, unit="s")
    )
    labels = split.y_test.to_numpy().copy()
    flipped = np.isin(windows, DRIFTED_WINDOWS) & (generator.random(count) < 0.25)
    labels[flipped] = 1 - labels[flipped]
    traffic = split.X_test.assign(**{TARGET_COLUMN: labels})
    traffic.insert(0, TIMESTAMP_COLUMN, timestamps)
    return traffic.sample(frac=1.0, random_state=SEED)


def expected_window_accuracy(split, champion_version: str) -> dict[int, float]:
    """Score the champion's version on each window of the traffic, computed here."""
    traffic = build_traffic(split)
    predictions = version_predictions(champion_version, traffic[split.X_test.columns])
    window = (traffic[TIMESTAMP_COLUMN] - TRAFFIC_START) // pd.Timedelta(minutes=WINDOW_MINUTES)
    correct = pd.Series(predictions == traffic[TARGET_COLUMN].to_numpy(), index=traffic.index)
    return {int(index): float(value) for index, value in correct.groupby(window).mean().items()}


def monitoring_run(solution, mlflow_snapshot, split) -> Run:
    """Register the versions, call monitor_champion once per module and return its run."""
    register(solution, mlflow_snapshot)
    run_id = mlflow_snapshot.run_once(
        "monitor_champion",
        lambda: solution.monitor_champion(
            MODEL_NAME, build_traffic(split), MONITORING_EXPERIMENT, window_minutes=WINDOW_MINUTES
        ),
    )
    run = state.run_from_id(run_id, returned_by="monitor_champion")
    state.assert_run_finished(run)
    return run


def window_history(run: Run):
    """Return the WINDOW_METRIC history sorted by step, failing if the metric is missing."""
    if WINDOW_METRIC not in run.data.metrics:
        state.fail(
            f"The monitoring run has no metric {WINDOW_METRIC!r}; the kata expects one metric "
            "name with one value per window.",
            expected=f"metric {WINDOW_METRIC} logged with step=<window index>",
            actual=f"metrics {state.names(run.data.metrics)}",
            why=(
                "A metric logged under one name at many steps is a history, which the UI "
                "draws as one curve and alerts can watch. A name per window gives separate "
                "metrics with one point each, which nothing can chart over time."
            ),
        )
    history = MlflowClient().get_metric_history(run.info.run_id, WINDOW_METRIC)
    return sorted(history, key=lambda metric: (metric.step, metric.timestamp))


@pytest.mark.task(4)
def test_monitoring_logs_one_metric_history(solution, mlflow_snapshot, split):
    run = monitoring_run(solution, mlflow_snapshot, split)

    history = window_history(run)

    if len(history) != len(TRAFFIC_WINDOWS):
        state.fail(
            f"The metric {WINDOW_METRIC} has {len(history)} values, but the traffic fills "
            f"{len(TRAFFIC_WINDOWS)} windows of {WINDOW_MINUTES} minutes.",
            expected=f"one value per window with traffic, at steps {TRAFFIC_WINDOWS}",
            actual=f"steps {[metric.step for metric in history]}",
            why=(
                f"monitor_champion was called with window_minutes={WINDOW_MINUTES}; windows "
                "start at the earliest timestamp, and an empty window logs nothing."
            ),
        )
    state.assert_params(run, {"window_minutes": WINDOW_MINUTES})


@pytest.mark.task(4)
def test_window_steps_are_window_indexes(solution, mlflow_snapshot, split):
    run = monitoring_run(solution, mlflow_snapshot, split)

    steps = [metric.step for metric in window_history(run)]

    state.assert_same_values(
        f"The steps of {WINDOW_METRIC} and the indexes of the windows with traffic",
        TRAFFIC_WINDOWS,
        steps,
        why=(
            "Log each window's value with step=<window index>, counted from the window that "
            "starts at the earliest timestamp. Without a step every value lands on step 0, "
            "and the UI cannot draw the history as a curve. Window 3 has no traffic, so "
            "step 3 is missing."
        ),
    )


@pytest.mark.task(4)
def test_window_timestamps_are_window_starts(solution, mlflow_snapshot, split):
    run = monitoring_run(solution, mlflow_snapshot, split)

    history = window_history(run)
    start_ms = int(TRAFFIC_START.timestamp() * 1000)
    expected = [start_ms + window * WINDOW_MINUTES * 60_000 for window in TRAFFIC_WINDOWS]

    state.assert_same_values(
        f"The timestamps of {WINDOW_METRIC} and the window starts, in milliseconds",
        expected,
        [metric.timestamp for metric in history],
        why=(
            "Pass timestamp=int(window_start.timestamp() * 1000) to mlflow.log_metric. MLflow "
            "otherwise stamps each value with the time it was logged, which says nothing "
            "about when the traffic happened."
        ),
    )


@pytest.mark.task(4)
def test_window_accuracy_matches_champion(solution, mlflow_snapshot, split):
    versions = register(solution, mlflow_snapshot)
    run = monitoring_run(solution, mlflow_snapshot, split)

    history = {metric.step: metric.value for metric in window_history(run)}
    expected = expected_window_accuracy(split, versions[CHAMPION])

    for window, accuracy in expected.items():
        logged = history.get(window)
        if logged is None or abs(logged - accuracy) > 1e-9:
            state.fail(
                f"The {WINDOW_METRIC} of window {window} is not the champion's accuracy on "
                "the requests of that window.",
                expected=", ".join(f"step {key}: {value:.4f}" for key, value in expected.items()),
                actual=", ".join(f"step {key}: {value:.4f}" for key, value in history.items()),
                why=(
                    f"Score the version behind the alias {CHAMPION!r} on every request, then "
                    f"group the requests into windows of {WINDOW_MINUTES} minutes from the "
                    "earliest timestamp. The labels drift in the last windows, so the "
                    "accuracy falls there."
                ),
            )
