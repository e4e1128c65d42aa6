"""Tests for phase2/model_registry: versions, descriptions, tags, aliases and stages.

Each test calls your functions in a fresh MLflow store and reads back the state of the model
registry. Tasks 1 and 2 train and register real models. The tests of tasks 3 to 7 build the
registry state they need themselves, so each task's tests judge that task's code only.
"""

import warnings
from pathlib import Path

import mlflow
import numpy as np
import pytest
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from sklearn.datasets import load_iris
from sklearn.dummy import DummyClassifier
from sklearn.metrics import accuracy_score

from checks import state

MODEL_NAME = "iris-logreg"
OTHER_MODEL_NAME = "wine-logreg"
# A seed and C values that differ from the defaults, so fixed numbers in the code are caught.
SEED = 11
FIRST_C = 0.3
C_VALUES = [0.01, 1.0, 0.1]

CHAMPION = "champion"
CHALLENGER = "challenger"
LIFECYCLE_TAG = "lifecycle"
STAGING = "staging"
PRODUCTION = "production"
ARCHIVED = "archived"

# MlflowClient's stage methods warn on every call. The tests of task 7 that move versions
# between stages themselves ignore the notice, and test_stage_transition_warns_deprecated
# checks that your transition_stage emits it.
STAGE_DEPRECATION = r"ignore:.*is deprecated since 2\.9\.0:FutureWarning"
ignore_stage_deprecation = pytest.mark.filterwarnings(STAGE_DEPRECATION)


# -- reading the registry ----------------------------------------------------------------------


def registry_versions(name: str) -> list:
    """Return every version of a registered model, read one by one, oldest first.

    search_model_versions returns versions without their aliases, so each is read again
    with get_model_version, which includes them.
    """
    client = MlflowClient()
    found = client.search_model_versions(f"name = '{name}'")
    numbers = sorted(int(version.version) for version in found)
    return [client.get_model_version(name, str(number)) for number in numbers]


def format_version(version) -> str:
    """Summarize one ModelVersion's aliases, legacy stage and tags on one line."""
    aliases = ", ".join(sorted(version.aliases)) or "none"
    return (
        f"version {version.version}: aliases [{aliases}], stage {version.current_stage}, "
        f"tags {state.format_mapping(version.tags)}"
    )


def describe_registry(name: str) -> str:
    """List a registered model's versions on indented lines, for failure messages."""
    versions = registry_versions(name)
    if not versions:
        return f"registered model {name!r} has no versions"
    return "\n" + "\n".join(f"    {format_version(version)}" for version in versions)


def alias_target(name: str, alias: str) -> int | None:
    """Return the version number an alias points at, or None if it is not set."""
    target = MlflowClient().get_registered_model(name).aliases.get(alias)
    return None if target is None else int(target)


def lifecycle_of(name: str, version: int) -> str | None:
    return MlflowClient().get_model_version(name, str(version)).tags.get(LIFECYCLE_TAG)


def assert_alias_on(name: str, alias: str, expected: int, *, why: str) -> None:
    """Check that an alias points at the expected version, showing every version's aliases."""
    target = alias_target(name, alias)
    if target == expected:
        return
    if target is None:
        headline = f"The alias {alias!r} is not set, but the kata expects it on version {expected}."
    else:
        headline = (
            f"Version {target} carries the alias {alias!r}, but it belongs on version {expected}."
        )
    state.fail(
        headline,
        expected=f"{alias} -> version {expected}",
        actual=describe_registry(name),
        why=why,
    )


def assert_lifecycle(name: str, version: int, expected: str, *, why: str) -> None:
    """Check a version's lifecycle tag, showing every version's tags."""
    found = lifecycle_of(name, version)
    if found != expected:
        state.fail(
            f"Version {version} has the tag {LIFECYCLE_TAG}={found}, but the kata expects "
            f"{expected}.",
            expected=f"{LIFECYCLE_TAG}={expected} on version {version}",
            actual=describe_registry(name),
            why=why,
        )


def assert_returned_version(returned: object, function: str, name: str, version: int) -> None:
    """Check that a function returned the named ModelVersion as it is in the registry now."""
    if not all(hasattr(returned, field) for field in ("name", "version", "aliases", "tags")):
        state.fail(
            f"{function} returned {returned!r}, but it must return a ModelVersion.",
            expected=f"the ModelVersion of {name!r} version {version}",
            actual=f"{type(returned).__name__} {returned!r}",
        )
    if returned.name != name or int(returned.version) != version:
        state.fail(
            f"{function} returned version {returned.version} of {returned.name!r}.",
            expected=f"version {version} of {name!r}",
            actual=f"version {returned.version} of {returned.name!r}",
        )

    fresh = MlflowClient().get_model_version(name, str(version))
    fields = {
        "aliases": (sorted(returned.aliases), sorted(fresh.aliases)),
        "tags": (dict(returned.tags), dict(fresh.tags)),
        "current_stage": (returned.current_stage, fresh.current_stage),
        "description": (returned.description, fresh.description),
    }
    stale = {field: pair for field, pair in fields.items() if pair[0] != pair[1]}
    if stale:
        state.fail(
            f"{function} returned a ModelVersion whose {' and '.join(stale)} are out of date.",
            expected="; ".join(f"{field} {now}" for field, (_, now) in stale.items()),
            actual="; ".join(f"{field} {then}" for field, (then, _) in stale.items()),
            why=(
                "A ModelVersion is a copy of the registry at the moment it was read, and it "
                "does not change when the registry does. After the last change, read the "
                "version again with MlflowClient().get_model_version(name, version) and "
                "return that."
            ),
        )


# -- registry state that the tests build themselves ------------------------------------------


def register_placeholders(name: str, metrics: list[dict[str, float]]) -> None:
    """Register one version of ``name`` per entry, each from a run that logged those metrics.

    The versions point at a folder without a model. They are cheap to make, and the tests
    that use them never load a model.
    """
    client = MlflowClient()
    client.create_registered_model(name)
    source = str(Path.cwd() / "placeholder-model")
    for values in metrics:
        with mlflow.start_run() as run:
            if values:
                mlflow.log_metrics(values)
        client.create_model_version(name, source, run_id=run.info.run_id)


def register_constant_models(name: str) -> None:
    """Register three models that always predict one class: version k predicts k - 1."""
    features, target = load_iris(return_X_y=True, as_frame=True)
    for species in range(3):
        model = DummyClassifier(strategy="constant", constant=species).fit(features, target)
        with mlflow.start_run():
            logged = mlflow.sklearn.log_model(model, name="model", input_example=features.head(2))
        mlflow.register_model(logged.model_uri, name)


def move_to_stage(name: str, version: int, stage: str) -> None:
    """Move a version to a legacy stage as setup, without archiving any other version."""
    MlflowClient().transition_model_version_stage(name, str(version), stage)


# -- task 1: train, log and register one version -----------------------------------------------


def first_version(solution, mlflow_snapshot):
    """Call train_and_register once per module and return what it returned."""
    return mlflow_snapshot.run_once(
        "train_and_register",
        lambda: solution.train_and_register(MODEL_NAME, C=FIRST_C, random_state=SEED),
    )


def run_of_version(name: str, version: int):
    """Return the run that produced a registered version, failing if it has none."""
    model_version = MlflowClient().get_model_version(name, str(version))
    if not model_version.run_id:
        state.fail(
            f"Version {version} of {name!r} names no run.",
            expected="a version registered from a model logged in a run",
            actual=f"run_id {model_version.run_id!r}, source {model_version.source!r}",
            why="Register the LoggedModel that log_model returned, so the version keeps its run.",
        )
    return MlflowClient().get_run(model_version.run_id)


@pytest.mark.task(1)
def test_returns_first_version_of_model(solution, mlflow_snapshot):
    returned = first_version(solution, mlflow_snapshot)

    versions = registry_versions(MODEL_NAME)

    state.assert_same_values(
        f"The versions of {MODEL_NAME!r} in the registry",
        [1],
        [int(version.version) for version in versions],
        why="One call registers one model, and the registry numbers a name's versions from 1.",
    )
    assert_returned_version(returned, "train_and_register", MODEL_NAME, 1)


@pytest.mark.task(1)
def test_version_source_is_logged_model(solution, mlflow_snapshot):
    first_version(solution, mlflow_snapshot)

    run = run_of_version(MODEL_NAME, 1)
    logged = state.single_logged_model(run, name="model")
    version = MlflowClient().get_model_version(MODEL_NAME, "1")

    if version.source != f"models:/{logged.model_id}":
        state.fail(
            f"Version 1 of {MODEL_NAME!r} was registered from {version.source!r}, not from "
            "the LoggedModel of its run.",
            expected=f"source models:/{logged.model_id}",
            actual=f"source {version.source}",
            why=(
                "In MLflow 3 a version points at a LoggedModel. Register it by the URI that "
                "log_model returned: mlflow.register_model(f'models:/{model_id}', name)."
            ),
        )


@pytest.mark.task(1)
def test_run_logs_c_and_test_accuracy(solution, mlflow_snapshot):
    first_version(solution, mlflow_snapshot)

    run = run_of_version(MODEL_NAME, 1)
    split = solution.load_iris_split(SEED)
    model = solution.build_classifier(FIRST_C).fit(split.X_train, split.y_train)

    state.assert_run_finished(run)
    state.assert_params(run, {"C": FIRST_C})
    state.assert_metric_close(
        run,
        "accuracy",
        accuracy_score(split.y_test, model.predict(split.X_test)),
        meaning=f"the test accuracy of build_classifier({FIRST_C}) with random_state={SEED}",
        why="set_champion_and_challenger (task 4) ranks versions by the metrics of their runs.",
    )


@pytest.mark.task(1)
def test_version_loads_model_trained_with_c(solution, mlflow_snapshot):
    first_version(solution, mlflow_snapshot)

    loaded = mlflow.sklearn.load_model(f"models:/{MODEL_NAME}/1")

    trained_with = loaded.get_params().get("C")
    if trained_with != FIRST_C:
        state.fail(
            f"Version 1 of {MODEL_NAME!r} is a model trained with C={trained_with}.",
            expected=f"C={FIRST_C}, the value train_and_register received",
            actual=f"C={trained_with}",
            why="Pass C to build_classifier, so the version is the model that its run describes.",
        )


# -- task 2: further versions under the same name ---------------------------------------------


def three_versions(solution, mlflow_snapshot):
    """Call register_versions once per module and return what it returned."""
    return mlflow_snapshot.run_once(
        "register_versions",
        lambda: solution.register_versions(MODEL_NAME, C_VALUES, random_state=SEED),
    )


@pytest.mark.task(2)
def test_each_c_value_gets_next_version(solution, mlflow_snapshot):
    returned = three_versions(solution, mlflow_snapshot)

    versions = registry_versions(MODEL_NAME)
    c_by_version = {
        int(version.version): run_of_version(MODEL_NAME, int(version.version)).data.params.get("C")
        for version in versions
    }

    state.assert_same_values(
        f"The C param of the runs behind versions 1 to {len(C_VALUES)} of {MODEL_NAME!r}",
        [str(value) for value in C_VALUES],
        [c_by_version.get(number) for number in range(1, len(C_VALUES) + 1)],
        why="Register every version under the same name, one per C value, in the given order.",
    )
    state.assert_same_values(
        "The version numbers that register_versions returned",
        list(range(1, len(C_VALUES) + 1)),
        [int(version.version) for version in returned or []],
    )


@pytest.mark.task(2)
def test_versions_come_from_separate_runs(solution, mlflow_snapshot):
    three_versions(solution, mlflow_snapshot)

    versions = registry_versions(MODEL_NAME)

    sources = {int(version.version): version.source for version in versions}
    runs = {int(version.version): version.run_id for version in versions}
    if len(set(runs.values())) != len(versions) or len(set(sources.values())) != len(versions):
        state.fail(
            "Some versions share a run or a model.",
            expected=f"{len(C_VALUES)} versions, each from its own run and LoggedModel",
            actual="; ".join(
                f"version {number}: run {runs[number]}, source {sources[number]}"
                for number in sorted(runs)
            ),
            why="Each version is a model of its own, trained and logged in its own run.",
        )


@pytest.mark.task(2)
def test_second_call_continues_numbering(solution, mlflow_snapshot):
    three_versions(solution, mlflow_snapshot)

    try:
        returned = solution.register_versions(MODEL_NAME, [0.5], random_state=SEED)
    except MlflowException as error:
        state.fail(
            f"A second call of register_versions({MODEL_NAME!r}, ...) raised {error}.",
            expected=f"version {len(C_VALUES) + 1} of the existing registered model",
            why=(
                "mlflow.register_model creates a missing registered model and adds a version "
                "to an existing one. MlflowClient.create_registered_model fails when the name "
                "is taken."
            ),
        )

    state.assert_same_values(
        "The versions in the registry after a second call",
        list(range(1, len(C_VALUES) + 2)),
        [int(version.version) for version in registry_versions(MODEL_NAME)],
    )
    state.assert_same_values(
        "The version numbers that the second call returned",
        [len(C_VALUES) + 1],
        [int(version.version) for version in returned or []],
    )


# -- task 3: descriptions and tags ------------------------------------------------------------

MODEL_DESCRIPTION = "Predicts the iris species from four flower measurements."
MODEL_TAGS = {"team": "botany", "task": "classification"}
VERSION_DESCRIPTION = "Logistic regression with C=1.0 on the 70/30 split."
VERSION_TAGS = {"validation_status": "approved", "reviewer": "ana"}


@pytest.mark.task(3)
def test_model_description_and_tags_set(solution):
    register_placeholders(MODEL_NAME, [{}, {}])

    solution.describe_model(MODEL_NAME, MODEL_DESCRIPTION, MODEL_TAGS)

    model = MlflowClient().get_registered_model(MODEL_NAME)
    if model.description != MODEL_DESCRIPTION:
        state.fail(
            f"The registered model {MODEL_NAME!r} has the description {model.description!r}.",
            expected=MODEL_DESCRIPTION,
            actual=model.description,
            why="MlflowClient.update_registered_model(name, description=...) sets it.",
        )
    missing = {key: value for key, value in MODEL_TAGS.items() if model.tags.get(key) != value}
    if missing:
        state.fail(
            f"The registered model {MODEL_NAME!r} lacks tags it was given.",
            expected=state.format_mapping(MODEL_TAGS),
            actual=f"tags {state.format_mapping(model.tags)}",
            why="Set each tag with MlflowClient.set_registered_model_tag(name, key, value).",
        )


@pytest.mark.task(3)
def test_describe_model_returns_fresh_model(solution):
    register_placeholders(MODEL_NAME, [{}])

    returned = solution.describe_model(MODEL_NAME, MODEL_DESCRIPTION, MODEL_TAGS)

    fresh = MlflowClient().get_registered_model(MODEL_NAME)
    returned_description = getattr(returned, "description", None)
    returned_tags = dict(getattr(returned, "tags", None) or {})
    if returned_description != fresh.description or returned_tags != fresh.tags:
        state.fail(
            "describe_model returned a RegisteredModel whose description or tags are out of date.",
            expected=f"description {fresh.description!r}, tags {state.format_mapping(fresh.tags)}",
            actual=(
                f"description {returned_description!r}, tags {state.format_mapping(returned_tags)}"
            ),
            why=(
                "An entity object does not follow later changes in the registry. Read the "
                "model again with MlflowClient().get_registered_model(name) after the last "
                "change."
            ),
        )


@pytest.mark.task(3)
def test_version_description_and_tags_set(solution):
    register_placeholders(MODEL_NAME, [{}, {}, {}])

    solution.describe_version(MODEL_NAME, 2, VERSION_DESCRIPTION, VERSION_TAGS)

    client = MlflowClient()
    version = client.get_model_version(MODEL_NAME, "2")
    if version.description != VERSION_DESCRIPTION:
        state.fail(
            f"Version 2 of {MODEL_NAME!r} has the description {version.description!r}.",
            expected=VERSION_DESCRIPTION,
            actual=version.description,
            why="MlflowClient.update_model_version(name, version, description=...) sets it.",
        )
    missing = {key: value for key, value in VERSION_TAGS.items() if version.tags.get(key) != value}
    if missing:
        model_tags = client.get_registered_model(MODEL_NAME).tags
        on_model = all(model_tags.get(key) == value for key, value in missing.items())
        where = " The registered model carries them instead." if on_model else ""
        registry = describe_registry(MODEL_NAME)
        state.fail(
            f"Version 2 of {MODEL_NAME!r} lacks the tags it was given.{where}",
            expected=f"tags {state.format_mapping(VERSION_TAGS)} on version 2",
            actual=f"{registry}\n    registered model tags {state.format_mapping(model_tags)}",
            why=(
                "A registered model's tags describe every version at once. Tags such as a "
                "validation status belong to one version: "
                "MlflowClient.set_model_version_tag(name, version, key, value)."
            ),
        )


@pytest.mark.task(3)
def test_version_tags_stay_on_that_version(solution):
    register_placeholders(MODEL_NAME, [{}, {}, {}])

    solution.describe_version(MODEL_NAME, 2, VERSION_DESCRIPTION, VERSION_TAGS)

    tagged = [
        int(version.version)
        for version in registry_versions(MODEL_NAME)
        if any(key in version.tags for key in VERSION_TAGS)
    ]
    state.assert_same_values(
        "The versions that carry the given tags",
        [2],
        tagged,
        why="describe_version describes the version it is given and leaves the others alone.",
    )


@pytest.mark.task(3)
def test_describe_version_returns_fresh_version(solution):
    register_placeholders(MODEL_NAME, [{}, {}])

    returned = solution.describe_version(MODEL_NAME, 2, VERSION_DESCRIPTION, VERSION_TAGS)

    assert_returned_version(returned, "describe_version", MODEL_NAME, 2)


# -- task 4: champion and challenger aliases, and loading by alias ----------------------------

# By recall, version 2 is best although it is neither the first nor the newest, and version
# 3 is second. By accuracy, version 1 is best. So a champion picked by another metric, by
# position or by age is wrong, and so is a challenger picked as the runner-up.
RANKED_VERSIONS = [
    {"recall": 0.70, "accuracy": 0.97},
    {"recall": 0.95, "accuracy": 0.80},
    {"recall": 0.85, "accuracy": 0.85},
    {"recall": 0.80, "accuracy": 0.90},
]
RANKING_METRIC = "recall"


def describe_scores(metrics: list[dict[str, float]], metric: str) -> str:
    return ", ".join(
        f"version {number}: {values.get(metric, 'none')}"
        for number, values in enumerate(metrics, start=1)
    )


@pytest.mark.task(4)
def test_champion_is_version_with_best_metric(solution):
    register_placeholders(MODEL_NAME, RANKED_VERSIONS)

    solution.set_champion_and_challenger(MODEL_NAME, metric=RANKING_METRIC)

    assert_alias_on(
        MODEL_NAME,
        CHAMPION,
        2,
        why=(
            f"The champion is the version whose run logged the highest {RANKING_METRIC} "
            f"({describe_scores(RANKED_VERSIONS, RANKING_METRIC)}), not the newest version, "
            "and not the best by another metric."
        ),
    )


@pytest.mark.task(4)
def test_challenger_is_newest_other_version(solution):
    register_placeholders(MODEL_NAME, RANKED_VERSIONS)

    solution.set_champion_and_challenger(MODEL_NAME, metric=RANKING_METRIC)

    assert_alias_on(
        MODEL_NAME,
        CHALLENGER,
        4,
        why=(
            "The challenger is the newest version that is not the champion: the latest "
            "candidate to compare with the model in service, not the runner-up by score."
        ),
    )


@pytest.mark.task(4)
def test_challenger_when_champion_is_newest(solution):
    scores = [{"recall": 0.70}, {"recall": 0.80}, {"recall": 0.90}]
    register_placeholders(MODEL_NAME, scores)

    solution.set_champion_and_challenger(MODEL_NAME, metric=RANKING_METRIC)

    assert_alias_on(
        MODEL_NAME,
        CHAMPION,
        3,
        why=f"Version 3 has the highest recall ({describe_scores(scores, RANKING_METRIC)}).",
    )
    assert_alias_on(
        MODEL_NAME,
        CHALLENGER,
        2,
        why=(
            "When the newest version is the champion, the challenger is the newest of the "
            "others, version 2. One version cannot be its own challenger."
        ),
    )


@pytest.mark.task(4)
def test_tied_champion_is_oldest_version(solution):
    scores = [{"recall": 0.70}, {"recall": 0.90}, {"recall": 0.90}]
    register_placeholders(MODEL_NAME, scores)

    solution.set_champion_and_challenger(MODEL_NAME, metric=RANKING_METRIC)

    assert_alias_on(
        MODEL_NAME,
        CHAMPION,
        2,
        why=(
            f"Versions 2 and 3 tie on recall ({describe_scores(scores, RANKING_METRIC)}), and "
            "of tied versions the oldest stays champion: a newer version has to be better, "
            "not equal, to replace it."
        ),
    )


@pytest.mark.task(4)
def test_single_version_gets_no_challenger(solution):
    register_placeholders(MODEL_NAME, [{"recall": 0.80}])

    solution.set_champion_and_challenger(MODEL_NAME, metric=RANKING_METRIC)

    assert_alias_on(MODEL_NAME, CHAMPION, 1, why="The only version is the best one.")
    if alias_target(MODEL_NAME, CHALLENGER) is not None:
        state.fail(
            "A model with one version has a challenger alias.",
            expected="no challenger alias",
            actual=describe_registry(MODEL_NAME),
            why="The champion cannot challenge itself, so leave the challenger alias unset.",
        )


@pytest.mark.task(4)
def test_missing_metric_raises_lookup_error(solution):
    register_placeholders(MODEL_NAME, [{"accuracy": 0.90}, {"accuracy": 0.95}])

    try:
        returned = solution.set_champion_and_challenger(MODEL_NAME, metric=RANKING_METRIC)
    except LookupError:
        return

    state.fail(
        f"set_champion_and_challenger(metric={RANKING_METRIC!r}) returned for a model whose "
        f"versions' runs logged no {RANKING_METRIC}.",
        expected="LookupError",
        actual=f"returned {returned!r}{describe_registry(MODEL_NAME)}",
        why="Without scores there is no best version, and an alias set anyway would mislead.",
    )


@pytest.mark.task(4)
def test_returns_fresh_champion_version(solution):
    register_placeholders(MODEL_NAME, RANKED_VERSIONS)

    returned = solution.set_champion_and_challenger(MODEL_NAME, metric=RANKING_METRIC)

    assert_returned_version(returned, "set_champion_and_challenger", MODEL_NAME, 2)


@pytest.mark.task(4)
def test_champion_alias_loads_champion_version(solution):
    register_constant_models(MODEL_NAME)
    # Version 2 predicts class 1; versions 1 and 3, the oldest and the newest, predict 0 and 2.
    MlflowClient().set_registered_model_alias(MODEL_NAME, CHAMPION, "2")
    features, _ = load_iris(return_X_y=True, as_frame=True)
    rows = features.sample(10, random_state=SEED)

    predictions = solution.predict_with_champion(MODEL_NAME, rows)

    predicted = sorted({int(value) for value in np.asarray(predictions).ravel()})
    if len(np.asarray(predictions).ravel()) != len(rows) or predicted != [1]:
        by_class = {species: f"version {species + 1}" for species in range(3)}
        state.fail(
            "predict_with_champion did not predict with the version the champion alias points at.",
            expected=f"{len(rows)} predictions of class 1, the prediction of version 2",
            actual=(
                f"{len(np.asarray(predictions).ravel())} predictions of classes {predicted}"
                f" ({', '.join(by_class.get(value, '?') for value in predicted)} predicts that)"
            ),
            why=(
                f"Load models:/{MODEL_NAME}@{CHAMPION} with mlflow.pyfunc.load_model. The alias "
                "follows the champion wherever it moves, while the latest version is only the "
                "newest one."
            ),
        )


# -- task 5: search versions by tag -----------------------------------------------------------

VALIDATION = "validation_status"


def tag_versions(name: str, tags_by_version: dict[int, dict[str, str]]) -> None:
    client = MlflowClient()
    for version, tags in tags_by_version.items():
        for key, value in tags.items():
            client.set_model_version_tag(name, str(version), key, value)


@pytest.fixture
def tagged_registry():
    """Register two models whose versions carry validation and reviewer tags."""
    register_placeholders(MODEL_NAME, [{}] * 5)
    tag_versions(
        MODEL_NAME,
        {
            1: {VALIDATION: "approved"},
            2: {VALIDATION: "rejected", "reviewer": "ana"},
            3: {VALIDATION: "approved"},
            4: {"reviewer": "ana"},
            5: {VALIDATION: "approved", "reviewer": "bo"},
        },
    )
    register_placeholders(OTHER_MODEL_NAME, [{}] * 4)
    tag_versions(
        OTHER_MODEL_NAME,
        {2: {VALIDATION: "approved"}, 4: {VALIDATION: "approved", "reviewer": "ana"}},
    )


@pytest.mark.task(5)
def test_search_returns_matching_versions_in_order(solution, tagged_registry):
    found = solution.find_versions_by_tag(MODEL_NAME, VALIDATION, "approved")

    state.assert_same_values(
        f"The versions of {MODEL_NAME!r} tagged {VALIDATION}=approved",
        [1, 3, 5],
        list(found or []),
        why="Return the numbers of the named model's matching versions as ints, ascending.",
    )


@pytest.mark.task(5)
def test_search_ignores_other_models(solution, tagged_registry):
    found = solution.find_versions_by_tag(MODEL_NAME, "reviewer", "ana")

    if list(found or []) != [2, 4]:
        other = [
            int(version.version)
            for version in MlflowClient().search_model_versions(f"name = '{OTHER_MODEL_NAME}'")
            if version.tags.get("reviewer") == "ana"
        ]
        state.fail(
            f"find_versions_by_tag({MODEL_NAME!r}, 'reviewer', 'ana') returned {found!r}.",
            expected=f"[2, 4], the versions of {MODEL_NAME!r} with that tag",
            actual=f"{found!r}, while versions {other} of {OTHER_MODEL_NAME!r} carry the tag too",
            why=(
                "search_model_versions searches the versions of every registered model, so "
                "versions of other registered models match a tag filter too. Filter on the "
                f"name as well: \"name = '{MODEL_NAME}' and tag.reviewer = 'ana'\"."
            ),
        )


@pytest.mark.task(5)
def test_search_without_match_returns_empty_list(solution, tagged_registry):
    found = solution.find_versions_by_tag(MODEL_NAME, VALIDATION, "pending")

    if found is None or list(found) != []:
        state.fail(
            f"No version of {MODEL_NAME!r} is tagged {VALIDATION}=pending, but "
            f"find_versions_by_tag returned {found!r}.",
            expected="[]",
            actual=repr(found),
        )


# -- task 6: the lifecycle with aliases and tags ----------------------------------------------


def stage_by_hand(name: str, version: int, lifecycle: str) -> None:
    """Put a version in a lifecycle stage as setup: the alias of that name and the tag."""
    client = MlflowClient()
    client.set_registered_model_alias(name, lifecycle, str(version))
    client.set_model_version_tag(name, str(version), LIFECYCLE_TAG, lifecycle)


@pytest.mark.task(6)
def test_staging_alias_and_tag_on_version(solution):
    register_placeholders(MODEL_NAME, [{}, {}, {}])

    solution.promote_to_staging(MODEL_NAME, 2)

    assert_alias_on(
        MODEL_NAME,
        STAGING,
        2,
        why="The staging environment loads models:/<name>@staging, the version the alias picks.",
    )
    assert_lifecycle(
        MODEL_NAME,
        2,
        STAGING,
        why=f"The {LIFECYCLE_TAG} tag records each version's stage, which aliases cannot do.",
    )


@pytest.mark.task(6)
def test_staging_keeps_earlier_candidate(solution):
    register_placeholders(MODEL_NAME, [{}, {}, {}])
    stage_by_hand(MODEL_NAME, 1, STAGING)

    solution.promote_to_staging(MODEL_NAME, 2)

    assert_alias_on(
        MODEL_NAME,
        STAGING,
        2,
        why="Setting the alias on version 2 moves it there from version 1.",
    )
    assert_lifecycle(
        MODEL_NAME,
        1,
        STAGING,
        why=(
            "Several candidates may be tested in staging at once, so version 1 stays in "
            "staging although the alias now names version 2. Only a move to production "
            "archives a version."
        ),
    )


@pytest.mark.task(6)
def test_staging_returns_fresh_version(solution):
    register_placeholders(MODEL_NAME, [{}, {}])

    returned = solution.promote_to_staging(MODEL_NAME, 2)

    assert_returned_version(returned, "promote_to_staging", MODEL_NAME, 2)


@pytest.mark.task(6)
def test_production_alias_and_tag_on_version(solution):
    register_placeholders(MODEL_NAME, [{}, {}, {}])

    solution.promote_to_production(MODEL_NAME, 2)

    assert_alias_on(
        MODEL_NAME,
        PRODUCTION,
        2,
        why="Production loads models:/<name>@production, so the alias decides what it serves.",
    )
    assert_lifecycle(
        MODEL_NAME,
        2,
        PRODUCTION,
        why=f"Tag the version {LIFECYCLE_TAG}={PRODUCTION} as well as moving the alias.",
    )


@pytest.mark.task(6)
def test_production_archives_previous_version(solution):
    register_placeholders(MODEL_NAME, [{}, {}, {}])
    stage_by_hand(MODEL_NAME, 1, PRODUCTION)

    solution.promote_to_production(MODEL_NAME, 3)

    assert_alias_on(
        MODEL_NAME,
        PRODUCTION,
        3,
        why="An alias points at one version, so setting it again moves it from version 1.",
    )
    assert_lifecycle(
        MODEL_NAME,
        1,
        ARCHIVED,
        why=(
            f"Version 1 was in production until version 3 replaced it. Find the old version "
            f"before moving the alias, for example from "
            f"MlflowClient().get_registered_model(name).aliases, and tag it "
            f"{LIFECYCLE_TAG}={ARCHIVED}, so no two versions claim to be in production."
        ),
    )


@pytest.mark.task(6)
def test_repeat_promotion_keeps_production(solution):
    register_placeholders(MODEL_NAME, [{}, {}])
    stage_by_hand(MODEL_NAME, 2, PRODUCTION)

    solution.promote_to_production(MODEL_NAME, 2)

    assert_lifecycle(
        MODEL_NAME,
        2,
        PRODUCTION,
        why=(
            "Version 2 was in production already, so it replaces no other version. Archive "
            "the previous version only when it is another one."
        ),
    )


@pytest.mark.task(6)
def test_production_removes_staging_alias(solution):
    register_placeholders(MODEL_NAME, [{}, {}, {}])
    stage_by_hand(MODEL_NAME, 3, STAGING)

    solution.promote_to_production(MODEL_NAME, 3)

    target = alias_target(MODEL_NAME, STAGING)
    if target == 3:
        state.fail(
            f"The alias {STAGING!r} still points at version 3, which is now in production.",
            expected=f"no {STAGING} alias on version 3",
            actual=describe_registry(MODEL_NAME),
            why=(
                "The version has left staging, and the staging environment should not keep "
                "testing it. Delete the alias with "
                "MlflowClient.delete_registered_model_alias(name, 'staging')."
            ),
        )
    assert_lifecycle(
        MODEL_NAME, 3, PRODUCTION, why="The lifecycle tag follows the version into production."
    )


@pytest.mark.task(6)
def test_production_keeps_other_staging_alias(solution):
    register_placeholders(MODEL_NAME, [{}, {}, {}])
    stage_by_hand(MODEL_NAME, 2, STAGING)

    solution.promote_to_production(MODEL_NAME, 3)

    assert_alias_on(
        MODEL_NAME,
        STAGING,
        2,
        why=(
            "Version 3 went to production without passing through staging, so the version "
            "in staging, version 2, stays there."
        ),
    )


@pytest.mark.task(6)
def test_production_returns_fresh_version(solution):
    register_placeholders(MODEL_NAME, [{}, {}])
    stage_by_hand(MODEL_NAME, 1, PRODUCTION)

    returned = solution.promote_to_production(MODEL_NAME, 2)

    assert_returned_version(returned, "promote_to_production", MODEL_NAME, 2)


# -- task 7: the same lifecycle with the deprecated registry stages ---------------------------


def versions_in_stage(name: str, stage: str) -> list[int]:
    return [
        int(version.version)
        for version in registry_versions(name)
        if version.current_stage == stage
    ]


@pytest.mark.task(7)
def test_stage_transition_warns_deprecated(solution):
    register_placeholders(MODEL_NAME, [{}])

    # Recorded rather than checked with pytest.warns, so that an exception from
    # transition_stage reaches the report as it is.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        solution.transition_stage(MODEL_NAME, 1, "Staging")

    notices = [
        str(warning.message)
        for warning in caught
        if issubclass(warning.category, FutureWarning)
        and "transition_model_version_stage" in str(warning.message)
    ]
    if not notices:
        state.fail(
            "transition_stage emitted no FutureWarning about transition_model_version_stage.",
            expected="MLflow's notice that the stage API is deprecated since 2.9.0",
            actual=f"warnings {state.names(str(warning.message)[:80] for warning in caught)}",
            why=(
                "Task 7 practises the legacy stage API on purpose: call "
                "MlflowClient().transition_model_version_stage, and do not silence its warning, "
                "which tells every reader of the logs to move to aliases."
            ),
        )


@pytest.mark.task(7)
@ignore_stage_deprecation
def test_version_moves_to_requested_stage(solution):
    register_placeholders(MODEL_NAME, [{}, {}])

    solution.transition_stage(MODEL_NAME, 2, "Staging")

    state.assert_same_values(
        "The versions in the stage Staging",
        [2],
        versions_in_stage(MODEL_NAME, "Staging"),
        why="Move the version it is given to the stage it is given.",
    )


@pytest.mark.task(7)
@ignore_stage_deprecation
def test_production_archives_previous_production(solution):
    register_placeholders(MODEL_NAME, [{}, {}, {}])
    move_to_stage(MODEL_NAME, 1, "Production")

    solution.transition_stage(MODEL_NAME, 3, "Production")

    in_production = versions_in_stage(MODEL_NAME, "Production")
    if in_production != [3]:
        state.fail(
            f"After moving version 3 to Production, {len(in_production)} versions are in "
            "Production.",
            expected="version 3 in Production and version 1 in Archived",
            actual=describe_registry(MODEL_NAME),
            why=(
                "Only one version serves production. Pass archive_existing_versions=True to "
                "transition_model_version_stage when the stage is Production, so the version "
                "it replaces moves to Archived."
            ),
        )
    state.assert_same_values(
        "The versions in the stage Archived", [1], versions_in_stage(MODEL_NAME, "Archived")
    )


@pytest.mark.task(7)
@ignore_stage_deprecation
def test_staging_keeps_other_versions(solution):
    register_placeholders(MODEL_NAME, [{}, {}, {}])
    move_to_stage(MODEL_NAME, 1, "Staging")
    move_to_stage(MODEL_NAME, 3, "Production")

    solution.transition_stage(MODEL_NAME, 2, "Staging")

    expected = {1: "Staging", 2: "Staging", 3: "Production"}
    stages = {
        version: MlflowClient().get_model_version(MODEL_NAME, str(version)).current_stage
        for version in expected
    }
    changed = [version for version in (1, 3) if stages[version] != expected[version]]
    if changed:
        state.fail(
            f"Moving version 2 to Staging changed the stage of another version: {changed}.",
            expected="version 1 Staging, version 2 Staging, version 3 Production",
            actual=describe_registry(MODEL_NAME),
            why=(
                "Several candidates may be tested in Staging at once. Archive existing "
                "versions only when the new stage is Production."
            ),
        )
    state.assert_same_values(
        "The versions in the stage Staging", [1, 2], versions_in_stage(MODEL_NAME, "Staging")
    )


@pytest.mark.task(7)
@ignore_stage_deprecation
def test_stage_transition_returns_fresh_version(solution):
    register_placeholders(MODEL_NAME, [{}, {}])

    returned = solution.transition_stage(MODEL_NAME, 2, "Production")

    assert_returned_version(returned, "transition_stage", MODEL_NAME, 2)
