"""Kata phase2/model_promotion: promote a candidate version only when it beats the champion.

Fill in the functions below, task by task, as the kata's README describes. Run the tests
with ``pytest katas/phase2/model_promotion``. The tests point MLflow at a throwaway store,
so do not set a tracking URI here.
"""

from __future__ import annotations

from dataclasses import dataclass

import mlflow
from mlflow.models import infer_signature
from mlflow.tracking import MlflowClient
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

# The alias that serving code loads, as models:/<name>@champion (tasks 4 and 5).
CHAMPION_ALIAS = "champion"

# The alias that keeps the replaced champion reachable for a rollback (tasks 4 and 5).
PREVIOUS_CHAMPION_ALIAS = "previous_champion"

# The values of the decision tag (tasks 3 to 5).
PROMOTED = "promoted"
REJECTED = "rejected"
ROLLED_BACK = "rolled_back"
RESTORED = "restored"

# The model version tags that record a promotion decision on the candidate (task 3).
DECISION_TAG = "promotion.decision"
REASON_TAG = "promotion.reason"
METRIC_TAG = "promotion.metric"
CANDIDATE_VALUE_TAG = "promotion.candidate_value"
CHAMPION_VERSION_TAG = "promotion.champion_version"
CHAMPION_VALUE_TAG = "promotion.champion_value"
MARGIN_TAG = "promotion.margin"

# The model version tags that link the two versions of a rollback (task 5).
RESTORED_VERSION_TAG = "promotion.restored_version"
REPLACED_VERSION_TAG = "promotion.replaced_version"


@dataclass(frozen=True)
class PromotionDecision:
    """One promotion check of a candidate version and the numbers behind it.

    ``champion_version`` and ``champion_value`` are None when the model had no champion.
    """

    model_name: str
    candidate_version: str
    outcome: str
    reason: str
    metric: str
    candidate_value: float
    champion_version: str | None
    champion_value: float | None
    margin: float


def train_and_register(model_name: str, C: float, random_state: int = 42) -> str:
    """Train a logistic regression on the breast cancer data and register it as a new version.

    Given code: use it as it is, for example to try promote and roll_back on real models.
    The run logs the param ``C`` and the test-split ``accuracy``. log_model then links the
    run's metrics to the new LoggedModel and registers it under ``model_name``.

    Args:
        model_name: The registered model to add a version to, created if it does not exist.
        C: Inverse regularization strength. Smaller values give a simpler model.
        random_state: Seed for the 70/30 train/test split.

    Returns:
        The new version's number, as a string such as ``"3"``.
    """
    features, target = load_breast_cancer(return_X_y=True, as_frame=True)
    X_train, X_test, y_train, y_test = train_test_split(
        features, target, test_size=0.3, stratify=target, random_state=random_state
    )
    model = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=1000))
    model.fit(X_train, y_train)

    mlflow.set_experiment("breast-cancer-candidates")
    with mlflow.start_run(run_name=f"logistic-regression-C{C:g}"):
        mlflow.log_param("C", C)
        mlflow.log_metric("accuracy", accuracy_score(y_test, model.predict(X_test)))
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            signature=infer_signature(X_test, model.predict(X_test)),
            registered_model_name=model_name,
        )
    return str(info.registered_model_version)


def version_metric(model_name: str, version: str | int, metric: str = "accuracy") -> float:
    """Read one metric of a registered model version.

    A model version keeps the id of the run that logged it (``run_id``), and that run stores
    the metrics. In MLflow 3 the same values are also linked to the version's LoggedModel,
    so reading them from there is equally right.

    Args:
        model_name: The registered model.
        version: The version number, such as ``"2"`` or ``2``.
        metric: The metric's name.

    Returns:
        The metric's value for that version.

    Raises:
        LookupError: If the version's run logged no metric named ``metric``.

    Example:
        >>> version_metric("breast-cancer-classifier", "2")  # doctest: +SKIP
        0.9766
    """
    # BEGIN SOLUTION: Write TODO(1) of version_metric.
    # TODO(1): Get the model version from the registry, then the run that logged it, and
    #   return that run's value of the metric. Raise LookupError when there is none.
    client = MlflowClient()
    model_version = client.get_model_version(model_name, str(version))
    metrics = client.get_run(model_version.run_id).data.metrics
    if metric not in metrics:
        raise LookupError(
            f"Version {version} of {model_name!r} has no metric {metric!r}. Its run "
            f"{model_version.run_id} logged {sorted(metrics) or 'no metrics'}."
        )
    return metrics[metric]
    # END SOLUTION


def should_promote(
    candidate_value: float,
    champion_value: float | None,
    margin: float,
    higher_is_better: bool = True,
) -> bool:
    """Decide whether a candidate's metric beats the champion's by more than a margin.

    Args:
        candidate_value: The candidate version's metric.
        champion_value: The champion's metric, or None when there is no champion yet.
        margin: How much better the candidate must be, in the metric's units, 0 or more.
        higher_is_better: True for metrics such as accuracy, False for losses and errors.

    Returns:
        True when there is no champion, or when the candidate is better than the champion
        by strictly more than ``margin``. A tie, a worse value, or a gain of ``margin`` or
        less returns False.

    Raises:
        ValueError: If ``margin`` is negative, which would promote a worse candidate.

    Example:
        >>> should_promote(0.93, 0.91, margin=0.01)
        True
        >>> should_promote(0.915, 0.91, margin=0.01)
        False
    """
    # BEGIN SOLUTION: Write TODO(2) of should_promote.
    # TODO(2): Reject a negative margin with ValueError, and promote when there is no
    #   champion. Otherwise promote only above champion + margin, or below
    #   champion - margin when lower is better.
    if margin < 0:
        raise ValueError(f"The margin must be 0 or more, not {margin}.")
    if champion_value is None:
        return True
    if higher_is_better:
        return candidate_value > champion_value + margin
    return candidate_value < champion_value - margin
    # END SOLUTION


def record_decision(decision: PromotionDecision) -> None:
    """Record a promotion decision as tags on the candidate model version.

    The candidate version gets DECISION_TAG (the outcome), REASON_TAG, METRIC_TAG,
    CANDIDATE_VALUE_TAG and MARGIN_TAG. When there was a champion, it also gets
    CHAMPION_VERSION_TAG and CHAMPION_VALUE_TAG. Without one, those two tags are not set.
    Numbers are written with ``str``, so ``0.8125`` becomes the tag value ``"0.8125"``.

    Args:
        decision: The decision to record.
    """
    # BEGIN SOLUTION: Write TODO(3) of record_decision.
    # TODO(3): Tag the candidate version with the outcome, the reason, the metric, the
    #   candidate's value and the margin, and with the champion's version and value only
    #   when there was a champion.
    tags = {
        DECISION_TAG: decision.outcome,
        REASON_TAG: decision.reason,
        METRIC_TAG: decision.metric,
        CANDIDATE_VALUE_TAG: str(decision.candidate_value),
        MARGIN_TAG: str(decision.margin),
    }
    if decision.champion_version is not None:
        tags[CHAMPION_VERSION_TAG] = str(decision.champion_version)
        tags[CHAMPION_VALUE_TAG] = str(decision.champion_value)

    client = MlflowClient()
    for key, value in tags.items():
        client.set_model_version_tag(decision.model_name, decision.candidate_version, key, value)
    # END SOLUTION


def promote(
    model_name: str,
    candidate_version: str | int,
    margin: float = 0.01,
    metric: str = "accuracy",
    higher_is_better: bool = True,
) -> PromotionDecision:
    """Move the champion alias to a candidate version if it beats the champion by the margin.

    Args:
        model_name: The registered model.
        candidate_version: The version to check, such as ``"3"`` or ``3``.
        margin: How much better the candidate's metric must be than the champion's.
        metric: The metric to compare, read with version_metric.
        higher_is_better: Whether a higher metric value is better.

    Returns:
        The decision, already recorded on the candidate with record_decision. On promotion,
        CHAMPION_ALIAS points at the candidate and PREVIOUS_CHAMPION_ALIAS at the version
        that was champion before, if there was one. On rejection, no alias moves.

    Example:
        >>> promote("breast-cancer-classifier", "3", margin=0.02).outcome  # doctest: +SKIP
        'rejected'
    """
    # BEGIN SOLUTION: Write TODO(4) of promote.
    # TODO(4): Read the candidate's metric, and the champion's if the model has a
    #   CHAMPION_ALIAS. Decide with should_promote. On promotion, point
    #   PREVIOUS_CHAMPION_ALIAS at the old champion, if any, and CHAMPION_ALIAS at the
    #   candidate. Record the decision, promoted or rejected alike, and return it.
    client = MlflowClient()
    candidate_version = str(candidate_version)
    candidate_value = version_metric(model_name, candidate_version, metric)

    # The registered model maps each alias to its version. get_model_version_by_alias
    # would raise for a missing alias instead.
    aliases = client.get_registered_model(model_name).aliases
    champion_version = aliases.get(CHAMPION_ALIAS)
    champion_value = None
    if champion_version is not None:
        champion_version = str(champion_version)
        champion_value = version_metric(model_name, champion_version, metric)

    promoted = should_promote(candidate_value, champion_value, margin, higher_is_better)
    if champion_version is None:
        reason = f"The model has no {CHAMPION_ALIAS} yet, so the first candidate becomes it."
    else:
        verb = "beats" if promoted else "does not beat"
        reason = (
            f"The candidate's {metric} {candidate_value:.6g} {verb} the champion's "
            f"{champion_value:.6g} by more than the margin {margin:g}."
        )

    if promoted:
        # Setting an alias moves it off the version that had it, so no alias is ever
        # on two versions. The old champion keeps a name for a rollback.
        if champion_version is not None:
            client.set_registered_model_alias(model_name, PREVIOUS_CHAMPION_ALIAS, champion_version)
        client.set_registered_model_alias(model_name, CHAMPION_ALIAS, candidate_version)

    decision = PromotionDecision(
        model_name=model_name,
        candidate_version=candidate_version,
        outcome=PROMOTED if promoted else REJECTED,
        reason=reason,
        metric=metric,
        candidate_value=candidate_value,
        champion_version=champion_version,
        champion_value=champion_value,
        margin=margin,
    )
    record_decision(decision)
    return decision
    # END SOLUTION


def roll_back(model_name: str, reason: str) -> str:
    """Give the champion alias back to the previous champion and record why.

    Args:
        model_name: The registered model.
        reason: Why the current champion is withdrawn, for example a production incident.

    Returns:
        The restored version, which now carries CHAMPION_ALIAS. PREVIOUS_CHAMPION_ALIAS is
        deleted, so a second rollback raises instead of restoring the withdrawn version.
        The withdrawn version is tagged DECISION_TAG=ROLLED_BACK with REASON_TAG and
        RESTORED_VERSION_TAG. The restored one is tagged DECISION_TAG=RESTORED with
        REASON_TAG and REPLACED_VERSION_TAG.

    Raises:
        ValueError: If ``reason`` is empty or blank.
        LookupError: If the model has no PREVIOUS_CHAMPION_ALIAS to go back to.

    Example:
        >>> roll_back("breast-cancer-classifier", "latency doubled in production")  # doctest: +SKIP
        '2'
    """
    # BEGIN SOLUTION: Write TODO(5) of roll_back.
    # TODO(5): Reject a blank reason with ValueError, and raise LookupError when there is
    #   no PREVIOUS_CHAMPION_ALIAS. Point CHAMPION_ALIAS at the previous champion, delete
    #   PREVIOUS_CHAMPION_ALIAS, tag both versions and return the restored version.
    if not reason.strip():
        raise ValueError(
            f"The rollback reason {reason!r} is blank. Pass why the champion is withdrawn, "
            "such as the incident it caused, so that the record explains the rollback."
        )

    client = MlflowClient()
    aliases = client.get_registered_model(model_name).aliases
    if PREVIOUS_CHAMPION_ALIAS not in aliases:
        raise LookupError(
            f"{model_name!r} has no {PREVIOUS_CHAMPION_ALIAS!r} alias to roll back to. "
            f"Its aliases are {aliases or 'none'}."
        )
    restored = str(aliases[PREVIOUS_CHAMPION_ALIAS])
    replaced = aliases.get(CHAMPION_ALIAS)

    client.set_registered_model_alias(model_name, CHAMPION_ALIAS, restored)
    client.delete_registered_model_alias(model_name, PREVIOUS_CHAMPION_ALIAS)

    client.set_model_version_tag(model_name, restored, DECISION_TAG, RESTORED)
    client.set_model_version_tag(model_name, restored, REASON_TAG, reason)
    if replaced is not None:
        replaced = str(replaced)
        client.set_model_version_tag(model_name, restored, REPLACED_VERSION_TAG, replaced)
        client.set_model_version_tag(model_name, replaced, DECISION_TAG, ROLLED_BACK)
        client.set_model_version_tag(model_name, replaced, REASON_TAG, reason)
        client.set_model_version_tag(model_name, replaced, RESTORED_VERSION_TAG, restored)
    return restored
    # END SOLUTION
