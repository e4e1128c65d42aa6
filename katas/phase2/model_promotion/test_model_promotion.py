"""Tests for phase2/model_promotion: a candidate replaces the champion only by a clear margin.

Most tests start from a registered model whose versions carry metrics the test chose, call
your functions, and read the aliases and version tags back from the registry.
"""

import math

import mlflow
import pytest
from mlflow.tracking import MlflowClient
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from checks import state

# A model name that appears nowhere in the kata module, so a hard-coded name is caught.
MODEL = "tumour-classifier"
EXPERIMENT = "promotion-candidates"

# The metrics of each version, by version number. The values are multiples of 1/32, which
# floating point represents exactly, so 0.8125 + 0.03125 is exactly 0.84375 and a gain equal
# to the margin is never off by a rounding error. Against version 2, version 3 ties on
# accuracy, version 4 gains 0.03125, version 5 loses 0.03125 and version 1 loses 0.0625.
VERSION_METRICS = {
    "1": {"accuracy": 0.75, "f1_macro": 0.6875, "log_loss": 0.5},
    "2": {"accuracy": 0.8125, "f1_macro": 0.71875, "log_loss": 0.375},
    "3": {"accuracy": 0.8125, "f1_macro": 0.90625, "log_loss": 0.375},
    "4": {"accuracy": 0.84375, "f1_macro": 0.78125, "log_loss": 0.4375},
    "5": {"accuracy": 0.78125, "f1_macro": 0.65625, "log_loss": 0.25},
}

CHAMPION = "champion"
PREVIOUS = "previous_champion"
DECISION_TAG = "promotion.decision"
REASON_TAG = "promotion.reason"
METRIC_TAG = "promotion.metric"
CANDIDATE_VALUE_TAG = "promotion.candidate_value"
CHAMPION_VERSION_TAG = "promotion.champion_version"
CHAMPION_VALUE_TAG = "promotion.champion_value"
MARGIN_TAG = "promotion.margin"
RESTORED_VERSION_TAG = "promotion.restored_version"
REPLACED_VERSION_TAG = "promotion.replaced_version"
ROLLBACK_REASON = "p95 latency doubled after the release"


# -- the registered model the tests start from -----------------------------------------------


def register_versions() -> None:
    """Register one version of MODEL per entry of VERSION_METRICS, each from its own run.

    The test chooses the metrics instead of measuring them, so that ties, wins and losses
    are exact. The fitted model only makes each version a real, loadable model.
    """
    features, target = load_breast_cancer(return_X_y=True, as_frame=True)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    model.fit(features, target)

    mlflow.set_experiment(EXPERIMENT)
    for version, metrics in VERSION_METRICS.items():
        with mlflow.start_run(run_name=f"candidate-{version}"):
            mlflow.log_metrics(metrics)
            mlflow.sklearn.log_model(model, name="model", registered_model_name=MODEL)


def registered_model(mlflow_snapshot) -> None:
    """Give the test the five registered versions, without aliases or tags.

    The versions are registered once per module, and later tests start from a copy.
    """
    mlflow_snapshot.run_once("registered_versions", register_versions)


def set_aliases(**versions: str) -> None:
    """Point aliases at versions directly, as an earlier promotion would have left them."""
    client = MlflowClient()
    for alias, version in versions.items():
        client.set_registered_model_alias(MODEL, alias, version)


# -- reading the registry ----------------------------------------------------------------


def aliases() -> dict[str, str]:
    """Return MODEL's aliases, each with the version it points at."""
    registered = MlflowClient().get_registered_model(MODEL)
    return {alias: str(version) for alias, version in registered.aliases.items()}


def promotion_tags(version: str) -> dict[str, str]:
    """Return a version's tags whose keys start with ``promotion.``."""
    tags = MlflowClient().get_model_version(MODEL, version).tags
    return {key: value for key, value in tags.items() if key.startswith("promotion.")}


def describe_registry() -> str:
    """List MODEL's versions with their accuracy, aliases and promotion tags."""
    alias_map = aliases()
    lines = []
    for version in sorted(VERSION_METRICS, key=int):
        on_version = sorted(alias for alias, target in alias_map.items() if target == version)
        lines.append(
            f"    version {version} (accuracy {VERSION_METRICS[version]['accuracy']}): "
            f"aliases [{', '.join(on_version)}], "
            f"tags {state.format_mapping(promotion_tags(version))}"
        )
    return "\n" + "\n".join(lines)


def aliases_on(version: str) -> str:
    on_version = sorted(alias for alias, target in aliases().items() if target == version)
    return "[" + ", ".join(repr(alias) for alias in on_version) + "]"


def assert_alias(alias: str, version: str, *, why: str) -> None:
    """Check that ``alias`` points at ``version``, showing every version's aliases if not."""
    actual = aliases().get(alias)
    if actual == version:
        return
    where = f"It is on version {actual}." if actual else "No version carries it."
    state.fail(
        f"Version {version} carries aliases {aliases_on(version)}, but the kata expects "
        f"{alias!r} there. {where}",
        expected=f"{alias} -> version {version}",
        actual=describe_registry(),
        why=why,
    )


def assert_no_alias(alias: str, *, why: str) -> None:
    actual = aliases().get(alias)
    if actual is None:
        return
    state.fail(
        f"The alias {alias!r} is on version {actual}, but the kata expects no version to carry it.",
        expected=f"no {alias!r} alias",
        actual=describe_registry(),
        why=why,
    )


# Stands for any non-blank text in assert_tags, for tags such as the reason.
ANY_TEXT = object()


def tag_matches(text: str | None, expected: object) -> bool:
    """Compare a tag's text with text, with a number (read by float()), or with ANY_TEXT."""
    if text is None:
        return False
    if expected is ANY_TEXT:
        return bool(text.strip())
    if isinstance(expected, float):
        try:
            return math.isclose(float(text), expected, rel_tol=1e-9)
        except ValueError:
            return False
    return text == expected


def assert_tags(version: str, expected: dict[str, object], *, why: str) -> None:
    """Check a version's tags, listing every missing or different one with its value."""
    tags = promotion_tags(version)
    wrong = [key for key, value in expected.items() if not tag_matches(tags.get(key), value)]
    if not wrong:
        return

    def shown(value: object) -> str:
        return "<any text>" if value is ANY_TEXT else str(value)

    found = ", ".join(f"{key}={tags[key]!r}" if key in tags else f"no {key}" for key in wrong)
    state.fail(
        f"Version {version} has {found}, but the kata expects "
        + ", ".join(f"{key}={shown(expected[key])}" for key in wrong)
        + ".",
        expected=", ".join(f"{key}={shown(value)}" for key, value in expected.items()),
        actual=f"version {version} tags {state.format_mapping(tags)}",
        why=why,
    )


# -- task 1: read a version's metric ---------------------------------------------------------


@pytest.mark.task(1)
def test_metric_read_per_version(solution, mlflow_snapshot):
    registered_model(mlflow_snapshot)

    returned = {version: solution.version_metric(MODEL, version) for version in VERSION_METRICS}

    expected = {version: metrics["accuracy"] for version, metrics in VERSION_METRICS.items()}
    wrong = {
        version: value
        for version, value in returned.items()
        if not isinstance(value, float) or not math.isclose(value, expected[version])
    }
    if wrong:
        state.fail(
            f"version_metric({MODEL!r}, version) returned another version's accuracy, or no "
            "number, for versions " + ", ".join(sorted(wrong, key=int)) + ".",
            expected=", ".join(f"version {v}: {value}" for v, value in expected.items()),
            actual=", ".join(f"version {v}: {value!r}" for v, value in returned.items()),
            why=(
                "Each version keeps the id of the run that logged it: "
                "MlflowClient().get_model_version(name, version).run_id. Read that run's "
                "metrics, not the latest run's or the latest version's."
            ),
        )


@pytest.mark.task(1)
def test_metric_chosen_by_name(solution, mlflow_snapshot):
    registered_model(mlflow_snapshot)

    returned = solution.version_metric(MODEL, "3", metric="f1_macro")

    if not isinstance(returned, float) or not math.isclose(returned, 0.90625):
        state.fail(
            f"version_metric({MODEL!r}, '3', metric='f1_macro') returned {returned!r}.",
            expected="0.90625, the f1_macro that version 3's run logged",
            actual=f"returned {returned!r}, and the run logged {VERSION_METRICS['3']}",
            why="Promotion can compare any metric, so read the one the caller names.",
        )


@pytest.mark.task(1)
def test_missing_metric_raises_lookup_error(solution, mlflow_snapshot):
    registered_model(mlflow_snapshot)

    try:
        returned = solution.version_metric(MODEL, "2", metric="recall")
    except LookupError:
        return

    state.fail(
        f"version_metric({MODEL!r}, '2', metric='recall') returned {returned!r}, but version "
        "2's run never logged recall.",
        expected="LookupError (KeyError is one)",
        actual=f"returned {returned!r}",
        why=(
            "A missing metric must stop a promotion. A made-up value such as 0 or None could "
            "let a candidate win, or lose, a comparison it was never scored for."
        ),
    )


# -- task 2: decide by the margin ------------------------------------------------------------


def check_decision(solution, expected: bool, candidate, champion, margin, *, why, **options):
    """Call should_promote and fail with the call and its result when it is not ``expected``."""
    returned = solution.should_promote(candidate, champion, margin, **options)
    if returned is expected:
        return
    arguments = ", ".join(
        [repr(candidate), repr(champion), f"margin={margin!r}"]
        + [f"{name}={value!r}" for name, value in options.items()]
    )
    state.fail(
        f"should_promote({arguments}) returned {returned!r}.",
        expected=repr(expected),
        actual=repr(returned),
        why=why,
    )


@pytest.mark.task(2)
def test_clear_win_is_promoted(solution):
    check_decision(
        solution,
        True,
        0.875,
        0.8125,
        0.03125,
        why="The candidate beats the champion by 0.0625, more than the margin 0.03125.",
    )


@pytest.mark.task(2)
def test_tie_is_rejected(solution):
    check_decision(
        solution,
        False,
        0.8125,
        0.8125,
        0.0,
        why=(
            "A tie is not a win, even with margin 0: replacing a champion with an equal "
            "candidate costs a deployment and gains nothing. Compare with >, not >=."
        ),
    )


@pytest.mark.task(2)
def test_worse_score_is_rejected(solution):
    check_decision(
        solution,
        False,
        0.75,
        0.8125,
        0.03125,
        why=(
            "The candidate is worse than the champion by 0.0625. Only a better candidate may "
            "win: the margin is a lead over the champion, not a distance in either direction."
        ),
    )


@pytest.mark.task(2)
def test_gain_within_margin_is_rejected(solution):
    check_decision(
        solution,
        False,
        0.84375,
        0.8125,
        0.0625,
        why=(
            "The candidate is better by 0.03125, which is less than the margin 0.0625. The "
            "margin guards against swapping models for a gain within measurement noise, so "
            "promote only above champion + margin."
        ),
    )


@pytest.mark.task(2)
def test_gain_equal_to_margin_is_rejected(solution):
    check_decision(
        solution,
        False,
        0.875,
        0.8125,
        0.0625,
        why=(
            "The candidate is better by exactly the margin 0.0625, and the kata promotes only "
            "a gain of strictly more than the margin."
        ),
    )


@pytest.mark.task(2)
def test_first_candidate_is_promoted(solution):
    check_decision(
        solution,
        True,
        0.5,
        None,
        0.125,
        why="champion_value None means there is no champion yet, so any candidate becomes it.",
    )


@pytest.mark.task(2)
@pytest.mark.parametrize(
    "candidate, champion, expected",
    [
        (0.25, 0.375, True),
        (0.5, 0.375, False),
        (0.34375, 0.375, False),
        (0.375, 0.375, False),
        (0.5, None, True),
    ],
    ids=["lower_beyond_margin", "higher", "lower_within_margin", "tie", "no_champion"],
)
def test_lower_is_better_reverses_comparison(solution, candidate, champion, expected):
    check_decision(
        solution,
        expected,
        candidate,
        champion,
        0.0625,
        higher_is_better=False,
        why=(
            "With higher_is_better=False, as for a loss or an error, the candidate wins only "
            "below champion - margin."
        ),
    )


@pytest.mark.task(2)
def test_negative_margin_raises_value_error(solution):
    try:
        returned = solution.should_promote(0.75, 0.8125, -0.125)
    except ValueError:
        return

    state.fail(
        f"should_promote(0.75, 0.8125, margin=-0.125) returned {returned!r}.",
        expected="ValueError",
        actual=f"returned {returned!r}",
        why=(
            "A negative margin would promote candidates worse than the champion, which is "
            "a configuration error to report, not a rule to apply."
        ),
    )


# -- task 3: record a decision as version tags -----------------------------------------------


def decision(solution, **changes):
    """Build a PromotionDecision of version 3 against champion version 2, with changes."""
    fields = {
        "model_name": MODEL,
        "candidate_version": "3",
        "outcome": "rejected",
        "reason": "Too close to call.",
        "metric": "f1_macro",
        "candidate_value": 0.90625,
        "champion_version": "2",
        "champion_value": 0.71875,
        "margin": 0.1875,
    }
    fields.update(changes)
    return solution.PromotionDecision(**fields)


def recorded_decision(solution, mlflow_snapshot) -> None:
    """Record decision(solution) on the registered model.

    The call runs once per module, and later tests start from a copy of the store it left.
    """

    def record() -> None:
        registered_model(mlflow_snapshot)
        solution.record_decision(decision(solution))

    mlflow_snapshot.run_once("record_decision", record)


@pytest.mark.task(3)
def test_decision_recorded_as_outcome_tag(solution, mlflow_snapshot):
    recorded_decision(solution, mlflow_snapshot)

    assert_tags(
        "3",
        {DECISION_TAG: "rejected"},
        why=(
            "The candidate version carries the outcome, so anyone can later find every "
            'rejected candidate with search_model_versions("tags.`promotion.decision` = '
            "'rejected'\")."
        ),
    )


@pytest.mark.task(3)
def test_decision_tags_hold_metric_values(solution, mlflow_snapshot):
    recorded_decision(solution, mlflow_snapshot)

    assert_tags(
        "3",
        {
            METRIC_TAG: "f1_macro",
            CANDIDATE_VALUE_TAG: 0.90625,
            CHAMPION_VERSION_TAG: "2",
            CHAMPION_VALUE_TAG: 0.71875,
        },
        why="A decision is auditable only with the numbers it compared.",
    )


@pytest.mark.task(3)
def test_decision_tags_hold_margin(solution, mlflow_snapshot):
    recorded_decision(solution, mlflow_snapshot)

    assert_tags(
        "3",
        {MARGIN_TAG: 0.1875},
        why="The margin decided the outcome as much as the metrics did, so record it too.",
    )


@pytest.mark.task(3)
def test_decision_tags_hold_reason(solution, mlflow_snapshot):
    recorded_decision(solution, mlflow_snapshot)

    assert_tags(
        "3",
        {REASON_TAG: "Too close to call."},
        why="The reason is the sentence a reviewer reads first, so record the decision's own.",
    )


@pytest.mark.task(3)
def test_decision_tags_only_candidate(solution, mlflow_snapshot):
    recorded_decision(solution, mlflow_snapshot)

    tagged = [version for version in VERSION_METRICS if version != "3" and promotion_tags(version)]
    if tagged:
        state.fail(
            f"record_decision tagged versions {', '.join(tagged)} as well as the candidate, "
            "version 3.",
            expected="promotion.* tags on version 3 only",
            actual=describe_registry(),
            why="The decision is about the candidate, so the champion's record stays as it was.",
        )


@pytest.mark.task(3)
def test_first_decision_has_no_champion_tags(solution, mlflow_snapshot):
    registered_model(mlflow_snapshot)
    first = decision(
        solution,
        outcome="promoted",
        reason="No champion yet.",
        champion_version=None,
        champion_value=None,
    )

    solution.record_decision(first)

    tags = promotion_tags("3")
    present = [key for key in (CHAMPION_VERSION_TAG, CHAMPION_VALUE_TAG) if key in tags]
    if present:
        state.fail(
            f"Version 3 has {state.names(present)} after a decision without a champion.",
            expected=f"no {CHAMPION_VERSION_TAG} and no {CHAMPION_VALUE_TAG} tag",
            actual=f"version 3 tags {state.format_mapping(tags)}",
            why=(
                "There was no champion to compare with. A tag such as 'None' reads like a "
                "version or a value, so leave the two tags out."
            ),
        )


# -- task 4: promote -----------------------------------------------------------------------


def promoted_twice(solution, mlflow_snapshot):
    """Promote version 1 while there is no champion, then version 2, which beats it by 0.0625.

    Returns the second decision. The calls run once per module, and later tests replay them.
    """

    def promote_both():
        registered_model(mlflow_snapshot)
        solution.promote(MODEL, "1", margin=0.03125)
        return solution.promote(MODEL, "2", margin=0.03125)

    return mlflow_snapshot.run_once("promote_1_then_2", promote_both)


def rejected_candidate(solution, mlflow_snapshot):
    """Promote version 5, worse by 0.03125, against champion 2 with previous champion 1.

    The version is passed as the number 5, which promote accepts as well as "5". Returns the
    decision. The call runs once per module, and later tests replay it.
    """

    def promote_worse():
        registered_model(mlflow_snapshot)
        set_aliases(champion="2", previous_champion="1")
        return solution.promote(MODEL, 5, margin=0.015625)

    return mlflow_snapshot.run_once("reject_5", promote_worse)


@pytest.mark.task(4)
def test_first_candidate_becomes_champion(solution, mlflow_snapshot):
    registered_model(mlflow_snapshot)

    solution.promote(MODEL, "1", margin=0.125)

    assert_alias(
        CHAMPION,
        "1",
        why=(
            "Without a champion there is nothing to beat, so the first candidate becomes the "
            "champion: client.set_registered_model_alias(name, 'champion', version)."
        ),
    )


@pytest.mark.task(4)
def test_winner_takes_champion_alias(solution, mlflow_snapshot):
    promoted_twice(solution, mlflow_snapshot)

    assert_alias(
        CHAMPION,
        "2",
        why=(
            "Version 2's accuracy 0.8125 beats champion version 1's 0.75 by 0.0625, more "
            "than the margin 0.03125, so the champion alias moves to version 2."
        ),
    )


@pytest.mark.task(4)
def test_old_champion_kept_as_previous(solution, mlflow_snapshot):
    promoted_twice(solution, mlflow_snapshot)

    assert_alias(
        PREVIOUS,
        "1",
        why=(
            "Moving the champion alias leaves the old champion with no name, and a rollback "
            "would have to guess it. Point 'previous_champion' at the old champion before "
            "the champion alias moves."
        ),
    )


@pytest.mark.task(4)
def test_tie_keeps_champion(solution, mlflow_snapshot):
    registered_model(mlflow_snapshot)
    set_aliases(champion="2")

    solution.promote(MODEL, "3", margin=0.0)

    assert_alias(
        CHAMPION,
        "2",
        why="Version 3 ties version 2 at accuracy 0.8125, and a tie is not a win.",
    )


@pytest.mark.task(4)
def test_worse_candidate_keeps_champion(solution, mlflow_snapshot):
    rejected_candidate(solution, mlflow_snapshot)

    assert_alias(
        CHAMPION,
        "2",
        why=(
            "Version 5's accuracy 0.78125 is worse than the champion's 0.8125. The margin "
            "0.015625 is a lead the candidate needs, not a distance in either direction."
        ),
    )


@pytest.mark.task(4)
def test_gain_within_margin_keeps_champion(solution, mlflow_snapshot):
    registered_model(mlflow_snapshot)
    set_aliases(champion="2")

    solution.promote(MODEL, "4", margin=0.0625)

    assert_alias(
        CHAMPION,
        "2",
        why=(
            "Version 4 beats the champion by 0.03125, less than the margin 0.0625 that this "
            "call passed. Pass promote's margin on to should_promote."
        ),
    )


@pytest.mark.task(4)
def test_gain_beyond_margin_promotes(solution, mlflow_snapshot):
    registered_model(mlflow_snapshot)
    set_aliases(champion="2")

    solution.promote(MODEL, "4", margin=0.015625)

    assert_alias(
        CHAMPION,
        "4",
        why="Version 4 beats the champion by 0.03125, more than the margin 0.015625.",
    )


@pytest.mark.task(4)
def test_champion_found_by_alias(solution, mlflow_snapshot):
    registered_model(mlflow_snapshot)
    set_aliases(champion="4")

    solution.promote(MODEL, "2", margin=0.0)

    assert_alias(
        CHAMPION,
        "4",
        why=(
            "The champion is whichever version the 'champion' alias names, here version 4 "
            "(accuracy 0.84375), not the latest version or the one before the candidate. "
            "Version 2 (0.8125) does not beat it."
        ),
    )


@pytest.mark.task(4)
def test_rejection_keeps_previous_champion(solution, mlflow_snapshot):
    rejected_candidate(solution, mlflow_snapshot)

    assert_alias(
        PREVIOUS,
        "1",
        why=(
            "A rejected candidate changes nothing, so 'previous_champion' must still name "
            "the version a rollback would restore. Move aliases only after the decision."
        ),
    )


@pytest.mark.task(4)
def test_lower_is_better_promotes_lower_loss(solution, mlflow_snapshot):
    registered_model(mlflow_snapshot)
    set_aliases(champion="2")

    solution.promote(MODEL, "5", margin=0.03125, metric="log_loss", higher_is_better=False)

    assert_alias(
        CHAMPION,
        "5",
        why=(
            "Version 5's log_loss 0.25 is lower than the champion's 0.375 by more than the "
            "margin 0.03125, and lower is better here. Compare the metric the caller names "
            "and pass higher_is_better on to should_promote."
        ),
    )


@pytest.mark.task(4)
def test_lower_is_better_rejects_higher_loss(solution, mlflow_snapshot):
    registered_model(mlflow_snapshot)
    set_aliases(champion="2")

    solution.promote(MODEL, "4", margin=0.03125, metric="log_loss", higher_is_better=False)

    assert_alias(
        CHAMPION,
        "2",
        why=(
            "Version 4 has the better accuracy, but this call compares log_loss, where "
            "version 4's 0.4375 is worse than the champion's 0.375."
        ),
    )


@pytest.mark.task(4)
def test_promotion_is_recorded(solution, mlflow_snapshot):
    promoted_twice(solution, mlflow_snapshot)

    assert_tags(
        "2",
        {
            DECISION_TAG: "promoted",
            CANDIDATE_VALUE_TAG: 0.8125,
            CHAMPION_VERSION_TAG: "1",
            CHAMPION_VALUE_TAG: 0.75,
            MARGIN_TAG: 0.03125,
            REASON_TAG: ANY_TEXT,
        },
        why="promote records every decision on the candidate with record_decision.",
    )


@pytest.mark.task(4)
def test_rejection_is_recorded(solution, mlflow_snapshot):
    rejected_candidate(solution, mlflow_snapshot)

    assert_tags(
        "5",
        {
            DECISION_TAG: "rejected",
            CANDIDATE_VALUE_TAG: 0.78125,
            CHAMPION_VERSION_TAG: "2",
            CHAMPION_VALUE_TAG: 0.8125,
            MARGIN_TAG: 0.015625,
            REASON_TAG: ANY_TEXT,
        },
        why=(
            "A rejection is a decision too. Without its record, nobody can tell a candidate "
            "that lost from one that was never checked, or see by how much it lost."
        ),
    )


@pytest.mark.task(4)
def test_returned_decision_matches_call(solution, mlflow_snapshot):
    returned = rejected_candidate(solution, mlflow_snapshot)

    expected = {
        "model_name": MODEL,
        "candidate_version": "5",
        "outcome": "rejected",
        "metric": "accuracy",
        "candidate_value": 0.78125,
        "champion_version": "2",
        "champion_value": 0.8125,
        "margin": 0.015625,
    }
    actual = {name: getattr(returned, name, "(missing)") for name in expected}
    wrong = [name for name, value in expected.items() if actual[name] != value]
    if wrong:
        state.fail(
            "promote returned a PromotionDecision whose fields "
            f"{state.names(wrong)} differ from the call and the registry.",
            expected=state.format_mapping(expected),
            actual=state.format_mapping(actual),
            why=(
                "Return the decision that you recorded, with versions as strings such as "
                "'5', even when the caller passed the number 5. Registry APIs return versions "
                "as numbers or text, and '5' != 5."
            ),
        )


@pytest.mark.task(4)
def test_trained_candidates_keep_best_champion(solution):
    # With scikit-learn 1.9 and seed 7, the test accuracies are 0.947 for C=0.01, 0.982 for
    # C=0.1 and 0.977 for C=1.0: the second candidate wins by more than the margin 0.02,
    # and the third does not beat it.
    name = "breast-cancer-screening"
    versions = [solution.train_and_register(name, C=C, random_state=7) for C in (0.01, 0.1, 1.0)]
    client = MlflowClient()
    accuracy = {
        version: client.get_run(client.get_model_version(name, version).run_id).data.metrics[
            "accuracy"
        ]
        for version in versions
    }

    outcomes = [solution.promote(name, version, margin=0.02).outcome for version in versions]

    champion = client.get_registered_model(name).aliases.get(CHAMPION)
    if str(champion) != versions[1]:
        state.fail(
            f"After promoting three trained versions in turn, the champion of {name!r} is "
            f"version {champion}.",
            expected=f"version {versions[1]}, the most accurate, which won by more than 0.02",
            actual=(
                "accuracies "
                + ", ".join(f"version {v}: {value:.4f}" for v, value in accuracy.items())
                + f", outcomes {outcomes}"
            ),
        )


# -- task 5: roll back -----------------------------------------------------------------------


def rolled_back(solution, mlflow_snapshot):
    """Roll back from champion 2 to previous champion 1, and return what roll_back returned.

    The call runs once per module, and later tests replay it.
    """

    def roll_back():
        registered_model(mlflow_snapshot)
        set_aliases(champion="2", previous_champion="1")
        return solution.roll_back(MODEL, ROLLBACK_REASON)

    return mlflow_snapshot.run_once("roll_back", roll_back)


@pytest.mark.task(5)
def test_rollback_restores_previous_champion(solution, mlflow_snapshot):
    rolled_back(solution, mlflow_snapshot)

    assert_alias(
        CHAMPION,
        "1",
        why=(
            "A rollback points the champion alias back at the version 'previous_champion' "
            "names, so models:/<name>@champion serves the old model again."
        ),
    )


@pytest.mark.task(5)
def test_rollback_deletes_previous_alias(solution, mlflow_snapshot):
    rolled_back(solution, mlflow_snapshot)

    assert_no_alias(
        PREVIOUS,
        why=(
            "After the rollback the previous champion is the champion. Left in place, the "
            "alias would make a second rollback a silent no-op, while without it a second "
            "rollback raises. Use client.delete_registered_model_alias."
        ),
    )


@pytest.mark.task(5)
def test_rollback_returns_restored_version(solution, mlflow_snapshot):
    returned = rolled_back(solution, mlflow_snapshot)

    if returned != "1":
        state.fail(
            f"roll_back returned {returned!r}.",
            expected="'1', the restored version, as a string",
            actual=repr(returned),
        )


@pytest.mark.task(5)
def test_rollback_recorded_on_withdrawn_version(solution, mlflow_snapshot):
    rolled_back(solution, mlflow_snapshot)

    assert_tags(
        "2",
        {
            DECISION_TAG: "rolled_back",
            REASON_TAG: ROLLBACK_REASON,
            RESTORED_VERSION_TAG: "1",
        },
        why="The withdrawn champion records that it was rolled back, why, and what replaced it.",
    )


@pytest.mark.task(5)
def test_rollback_recorded_on_restored_version(solution, mlflow_snapshot):
    rolled_back(solution, mlflow_snapshot)

    assert_tags(
        "1",
        {
            DECISION_TAG: "restored",
            REASON_TAG: ROLLBACK_REASON,
            REPLACED_VERSION_TAG: "2",
        },
        why=(
            "The restored version records why it is champion again, and which version it "
            "replaced: its old 'promoted' record no longer explains the alias."
        ),
    )


@pytest.mark.task(5)
def test_rollback_without_previous_raises(solution, mlflow_snapshot):
    registered_model(mlflow_snapshot)
    set_aliases(champion="2")

    try:
        returned = solution.roll_back(MODEL, ROLLBACK_REASON)
    except LookupError:
        assert_alias(CHAMPION, "2", why="A rollback that raises must leave the champion alone.")
        return

    state.fail(
        f"roll_back returned {returned!r} for a model with no 'previous_champion' alias.",
        expected="LookupError, with the champion alias left on version 2",
        actual=describe_registry(),
        why="With no version to go back to, a rollback cannot happen, and saying so is safer.",
    )


@pytest.mark.task(5)
def test_rollback_without_reason_raises(solution, mlflow_snapshot):
    registered_model(mlflow_snapshot)
    set_aliases(champion="2", previous_champion="1")

    try:
        returned = solution.roll_back(MODEL, "  ")
    except ValueError:
        assert_alias(CHAMPION, "2", why="A rollback that raises must leave the champion alone.")
        return

    state.fail(
        f"roll_back({MODEL!r}, '  ') returned {returned!r}.",
        expected="ValueError before any alias moves",
        actual=describe_registry(),
        why="A rollback is an operator's decision, and its record must say why it happened.",
    )


@pytest.mark.task(5)
def test_rollback_undoes_promotion(solution, mlflow_snapshot):
    promoted_twice(solution, mlflow_snapshot)

    try:
        solution.roll_back(MODEL, ROLLBACK_REASON)
    except LookupError as error:
        state.fail(
            "roll_back raised LookupError right after promote replaced version 1 with version 2.",
            expected="the champion alias back on version 1",
            actual=f"{error}\n{describe_registry()}",
            why=(
                "promote must keep the old champion reachable as 'previous_champion', or a "
                "bad release has no way back."
            ),
        )

    assert_alias(
        CHAMPION,
        "1",
        why="Promoting version 2 and rolling back must leave version 1 as the champion.",
    )
