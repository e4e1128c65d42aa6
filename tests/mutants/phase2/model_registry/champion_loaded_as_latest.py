"""Mutant: predict_with_champion loads the latest version, not the one the champion alias names.

Rejected by: test_champion_alias_loads_champion_version
Message: version 3 predicts that
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import mlflow
import numpy as np
import pandas as pd
from mlflow.entities.model_registry import ModelVersion, RegisteredModel
from mlflow.tracking import MlflowClient
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split

# The aliases that name the version in service and the one that competes with it (task 4).
CHAMPION = "champion"
CHALLENGER = "challenger"

# The MLflow 3 lifecycle (task 6). The lifecycle tag records the stage of each version, and
# an alias named after the stage points at the version that the stage's environment loads.
LIFECYCLE_TAG = "lifecycle"
STAGING = "staging"
PRODUCTION = "production"
ARCHIVED = "archived"

# The legacy registry stage that archives the version it replaces (task 7).
LEGACY_PRODUCTION_STAGE = "Production"


@dataclass(frozen=True)
class IrisSplit:
    """Iris split into a training and a test set."""

    X_train: pd.DataFrame
    y_train: pd.Series
    X_test: pd.DataFrame
    y_test: pd.Series


def load_iris_split(random_state: int = 42) -> IrisSplit:
    """Split iris 70/30 into training and test sets, stratified by species.

    Given code: use it as it is. The same ``random_state`` always gives the same split.
    """
    features, target = load_iris(return_X_y=True, as_frame=True)
    X_train, X_test, y_train, y_test = train_test_split(
        features, target, test_size=0.3, stratify=target, random_state=random_state
    )
    return IrisSplit(X_train, y_train, X_test, y_test)


def build_classifier(C: float) -> LogisticRegression:
    """Return an unfitted logistic regression with inverse regularization strength ``C``.

    Given code: use it as it is. A smaller ``C`` regularizes more, so versions trained with
    different values predict differently.
    """
    return LogisticRegression(C=C, max_iter=1000)


def train_and_register(model_name: str, C: float, random_state: int = 42) -> ModelVersion:
    """Train a classifier, log it as a LoggedModel and register it as a version of a model.

    Args:
        model_name: The registered model to add the version to, created if it is missing.
        C: The classifier's inverse regularization strength.
        random_state: Seed for the data split.

    Returns:
        The new ModelVersion of ``model_name``. Its source is the LoggedModel named
        ``model`` that one finished run in the active experiment logged. The run has the
        param ``C`` and the metric ``accuracy`` on the test split.

    Example:
        >>> version = train_and_register("iris-classifier", C=0.5)
        >>> version.version  # doctest: +SKIP
        1
    """
    split = load_iris_split(random_state)
    model = build_classifier(C)

    # BEGIN SOLUTION: Write TODO(1) of train_and_register.
    # TODO(1): In one run, fit the model, log C and the test accuracy, and log the model
    #   with name="model". Then register the LoggedModel by its models:/<model_id> URI
    #   under model_name and return the ModelVersion.
    with mlflow.start_run():
        model.fit(split.X_train, split.y_train)
        mlflow.log_param("C", C)
        mlflow.log_metric("accuracy", accuracy_score(split.y_test, model.predict(split.X_test)))
        logged = mlflow.sklearn.log_model(model, name="model", input_example=split.X_train.head(3))

    # A registered version points at the LoggedModel, so the registry can tell
    # which run, params and metrics produced the model it serves.
    return mlflow.register_model(f"models:/{logged.model_id}", model_name)
    # END SOLUTION


def register_versions(
    model_name: str, c_values: Sequence[float], random_state: int = 42
) -> list[ModelVersion]:
    """Train and register one version of ``model_name`` per value in ``c_values``.

    Args:
        model_name: The registered model, created by the first registration if it is missing.
        c_values: One ``C`` per version, registered in this order.
        random_state: Seed for the data split, the same for every version.

    Returns:
        The new ModelVersions in the order of ``c_values``. The registry numbers the
        versions of a name 1, 2, 3, ..., so a second call continues where the first ended.
    """
    # BEGIN SOLUTION: Write TODO(2) of register_versions.
    # TODO(2): Register one version per C value with train_and_register, in order, and
    #   return the ModelVersions.
    return [train_and_register(model_name, C, random_state) for C in c_values]
    # END SOLUTION


def describe_model(model_name: str, description: str, tags: Mapping[str, str]) -> RegisteredModel:
    """Set the description and tags of a registered model.

    Args:
        model_name: An existing registered model.
        description: Text for the model's page in the registry, such as what it predicts.
        tags: Tags to set on the registered model. Tags it already has stay.

    Returns:
        The RegisteredModel read back from the registry after the change.
    """
    # BEGIN SOLUTION: Write TODO(3) of describe_model.
    # TODO(3): Update the registered model's description, set each tag on it, and return
    #   the RegisteredModel read back from the registry.
    client = MlflowClient()
    client.update_registered_model(model_name, description=description)
    for key, value in tags.items():
        client.set_registered_model_tag(model_name, key, value)
    return client.get_registered_model(model_name)
    # END SOLUTION


def describe_version(
    model_name: str, version: int, description: str, tags: Mapping[str, str]
) -> ModelVersion:
    """Set the description and tags of one version of a registered model.

    Args:
        model_name: An existing registered model.
        version: The version number to describe.
        description: Text for the version's page, such as what changed in it.
        tags: Tags to set on this version only. Tags it already has stay.

    Returns:
        The ModelVersion read back from the registry after the change.
    """
    # BEGIN SOLUTION: Write TODO(3) of describe_version.
    # TODO(3): Update the version's description, set each tag on the version, and return
    #   the ModelVersion read back from the registry.
    client = MlflowClient()
    client.update_model_version(model_name, str(version), description=description)
    for key, value in tags.items():
        client.set_model_version_tag(model_name, str(version), key, value)
    # update_model_version returned the version before the tags were set, so read it again.
    return client.get_model_version(model_name, str(version))
    # END SOLUTION


def set_champion_and_challenger(model_name: str, metric: str = "accuracy") -> ModelVersion:
    """Point the champion alias at the best version and the challenger alias at the newest other.

    Args:
        model_name: A registered model whose versions come from runs.
        metric: A metric that the versions' runs logged, where higher is better.

    Returns:
        The champion ModelVersion read back from the registry after the change. The champion
        is the version whose run logged the highest ``metric``. Of tied versions, the
        oldest wins. The challenger is the newest version that is not the champion. With
        one version, only the champion alias is set.

    Raises:
        LookupError: If no version's run logged ``metric``.
    """
    # BEGIN SOLUTION: Write TODO(4) of set_champion_and_challenger.
    # TODO(4): Read each version's metric from its run, point CHAMPION at the best version
    #   and CHALLENGER at the newest other version, and return the champion ModelVersion
    #   read back from the registry.
    client = MlflowClient()
    versions = client.search_model_versions(f"name = '{model_name}'")
    scores = {}
    for version in versions:
        value = client.get_run(version.run_id).data.metrics.get(metric)
        if value is not None:
            scores[int(version.version)] = value
    if not scores:
        raise LookupError(f"No version of {model_name!r} comes from a run that logged {metric!r}.")

    # The key compares scores first. Of equal scores, the lower version number ranks higher.
    champion = max(scores, key=lambda number: (scores[number], -number))
    client.set_registered_model_alias(model_name, CHAMPION, str(champion))
    others = [int(version.version) for version in versions if int(version.version) != champion]
    if others:
        client.set_registered_model_alias(model_name, CHALLENGER, str(max(others)))

    # Search results carry no aliases, and these were set after the search anyway.
    return client.get_model_version_by_alias(model_name, CHAMPION)
    # END SOLUTION


def predict_with_champion(model_name: str, features: pd.DataFrame) -> np.ndarray:
    """Load the version that the champion alias points at and predict ``features`` with it.

    Args:
        model_name: A registered model with a champion alias.
        features: Rows with the iris feature columns.

    Returns:
        The champion's predictions, one per row.
    """
    # BEGIN SOLUTION: Write TODO(4) of predict_with_champion.
    # TODO(4): Load the model by its models:/<name>@<alias> URI and predict the features.
    # The alias URI is resolved when the model loads, so moving the alias changes what the
    # next load serves without changing this code.
    # MUTANT: the newest version is loaded, wherever the champion alias points.
    model = mlflow.pyfunc.load_model(f"models:/{model_name}/latest")
    return np.asarray(model.predict(features))
    # END SOLUTION


def find_versions_by_tag(model_name: str, key: str, value: str) -> list[int]:
    """Find the versions of ``model_name`` that carry the tag ``key`` with ``value``.

    Args:
        model_name: The registered model to search. Versions of other models never count.
        key: A version tag's name, such as ``validation_status``.
        value: The tag value to match, such as ``approved``.

    Returns:
        The matching version numbers as ints, in ascending order, or an empty list.
    """
    # BEGIN SOLUTION: Write TODO(5) of find_versions_by_tag.
    # TODO(5): Search the model versions with a filter on the model name and the version
    #   tag, and return their numbers in ascending order.
    versions = MlflowClient().search_model_versions(
        f"name = '{model_name}' and tag.`{key}` = '{value}'"
    )
    return sorted(int(version.version) for version in versions)
    # END SOLUTION


def promote_to_staging(model_name: str, version: int) -> ModelVersion:
    """Move a version into staging: point the staging alias at it and tag it.

    Args:
        model_name: An existing registered model.
        version: The version to stage.

    Returns:
        The ModelVersion read back from the registry after the change: the STAGING alias
        points at it and its LIFECYCLE_TAG is STAGING. A version that the alias pointed
        at before keeps its tag, because several candidates may be tested at once.
    """
    # BEGIN SOLUTION: Write TODO(6) of promote_to_staging.
    # TODO(6): Point the STAGING alias at the version, tag it LIFECYCLE_TAG=STAGING, and
    #   return the ModelVersion read back from the registry.
    client = MlflowClient()
    client.set_registered_model_alias(model_name, STAGING, str(version))
    client.set_model_version_tag(model_name, str(version), LIFECYCLE_TAG, STAGING)
    return client.get_model_version(model_name, str(version))
    # END SOLUTION


def promote_to_production(model_name: str, version: int) -> ModelVersion:
    """Move a version into production and archive the version it replaces.

    Args:
        model_name: An existing registered model.
        version: The version to put into production.

    Returns:
        The ModelVersion read back from the registry after the change: the PRODUCTION alias
        points at it and its LIFECYCLE_TAG is PRODUCTION. The version that the PRODUCTION
        alias pointed at before, if another, is tagged ARCHIVED. If the STAGING alias
        pointed at this version, it is deleted, because the version has left staging.
    """
    # BEGIN SOLUTION: Write TODO(6) of promote_to_production.
    # TODO(6): Find the version in production now. Point the PRODUCTION alias at the new
    #   one and tag it, and tag the one it replaces ARCHIVED. Delete the STAGING alias if it
    #   pointed at the new version. Return the ModelVersion read back from the registry.
    client = MlflowClient()
    aliases = client.get_registered_model(model_name).aliases
    previous = aliases.get(PRODUCTION)

    client.set_registered_model_alias(model_name, PRODUCTION, str(version))
    client.set_model_version_tag(model_name, str(version), LIFECYCLE_TAG, PRODUCTION)
    if previous is not None and int(previous) != int(version):
        client.set_model_version_tag(model_name, str(previous), LIFECYCLE_TAG, ARCHIVED)
    if aliases.get(STAGING) is not None and int(aliases[STAGING]) == int(version):
        client.delete_registered_model_alias(model_name, STAGING)

    return client.get_model_version(model_name, str(version))
    # END SOLUTION


def transition_stage(model_name: str, version: int, stage: str) -> ModelVersion:
    """Move a version to a legacy registry stage with the deprecated stage API.

    Args:
        model_name: An existing registered model.
        version: The version to move.
        stage: One of MLflow's stages: ``"Staging"``, ``"Production"``, ``"Archived"`` or
            ``"None"``.

    Returns:
        The ModelVersion read back from the registry after the change, in ``stage``. A move
        to Production archives every other version in Production. A move to another stage
        leaves the other versions where they are.

    Warns:
        FutureWarning: MLflow's deprecation notice for the stage API, which MLflow 2.9
            deprecated in favour of aliases and tags.
    """
    # BEGIN SOLUTION: Write TODO(7) of transition_stage.
    # TODO(7): Transition the version with MlflowClient.transition_model_version_stage,
    #   archiving the existing Production versions only when the stage is Production, and
    #   return the ModelVersion it returns.
    return MlflowClient().transition_model_version_stage(
        model_name,
        str(version),
        stage,
        archive_existing_versions=stage == LEGACY_PRODUCTION_STAGE,
    )
    # END SOLUTION
