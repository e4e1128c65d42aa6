"""Tests for phase2/model_serving: a custom pyfunc served by MLflow's scoring server.

Most tests query MLflow's scoring app in this process through starlette's TestClient, which
responds like the real server without a network socket. The two ``*_real_server`` tests,
last in the file, query ``mlflow models serve``: the first test that publishes the champion
starts it in the background, and it is stopped when the module ends.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import mlflow
import pandas as pd
import pytest
from mlflow import MlflowClient
from mlflow.models import infer_signature
from mlflow.pyfunc import scoring_server
from sklearn.datasets import load_iris
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from checks import servers, state

with warnings.catch_warnings():
    # Starlette 1.10 warns at import that its TestClient will move from httpx to httpx2.
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

MODEL_NAME = "iris-species"
CHAMPION_URI = f"models:/{MODEL_NAME}@champion"
# The tests register version 1 before publish_champion runs, so it adds version 2.
NEW_VERSION = "2"
# Values that differ from the defaults, so a function that ignores its arguments is caught.
ARGUMENTS = {"C": 0.3, "random_state": 11}
FEATURES = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]
SPECIES = ["setosa", "versicolor", "virginica"]
OUTPUT_COLUMNS = ["label", *(f"probability_{name}" for name in SPECIES)]
# Rows of the test split that the requests carry; their index is not 0..n-1.
REQUEST_ROWS = 9
# `mlflow models serve` responds about 5 s after it starts on an idle 2-core machine, and
# took over 30 s on one busy with other test runs. The real-server tests wait for it (up to
# servers.DEFAULT_STARTUP_TIMEOUT, 60 s), so they get more time than the per-test default.
REAL_SERVER_TEST_TIMEOUT = 90.0
# MLflow's scoring app sets this variable in the process that builds it; see serving_app.
SERVING_FLAG = "_MLFLOW_IS_IN_SERVING_ENVIRONMENT"


# -- data and expected predictions ---------------------------------------------------------------


@dataclass(frozen=True)
class IrisSplit:
    X_train: pd.DataFrame
    y_train: pd.Series
    X_test: pd.DataFrame


@functools.cache
def iris_split() -> IrisSplit:
    """Split iris as the kata's given load_iris_splits does, with the tests' seed.

    The tests build the split themselves, because module-scoped fixtures cannot use the
    learner's module, and so that no test depends on it beyond the function under test.
    """
    iris = load_iris(as_frame=True)
    species = iris.target.map(dict(enumerate(iris.target_names))).rename("species")
    X_train, X_test, y_train, _ = train_test_split(
        iris.data,
        species,
        test_size=0.3,
        stratify=species,
        random_state=ARGUMENTS["random_state"],
    )
    return IrisSplit(X_train, y_train, X_test)


@pytest.fixture
def splits() -> IrisSplit:
    return iris_split()


@pytest.fixture
def request_rows() -> pd.DataFrame:
    return iris_split().X_test.iloc[:REQUEST_ROWS]


@functools.cache
def expected_classifier() -> LogisticRegression:
    """Fit the classifier that publish_champion wraps, as the given train_classifier does."""
    splits = iris_split()
    return LogisticRegression(C=ARGUMENTS["C"], max_iter=1000).fit(splits.X_train, splits.y_train)


def assert_predictions_match(
    predictions: pd.DataFrame, classifier, features: pd.DataFrame, *, source: str
) -> None:
    """Check labels and probabilities row by row against the classifier's own predictions."""
    expected_columns = ["label", *(f"probability_{name}" for name in classifier.classes_)]
    state.assert_same_values(
        f"The columns of {source}",
        expected_columns,
        list(predictions.columns),
        why="The model returns the label, then one probability_<class> column per class in "
        "the order of classifier.classes_.",
    )
    state.assert_same_values(
        f"The labels of {source}, row by row,",
        classifier.predict(features).tolist(),
        predictions["label"].tolist(),
    )
    expected = pd.DataFrame(
        classifier.predict_proba(features), columns=expected_columns[1:]
    ).reset_index(drop=True)
    found = predictions[expected_columns[1:]].reset_index(drop=True).astype(float)
    if not ((expected - found).abs() <= 1e-9).all().all():
        state.fail(
            f"The probabilities of {source} are not the classifier's predict_proba.",
            expected=expected.round(6).to_dict("list"),
            actual=found.round(6).to_dict("list"),
            why="Each probability_<class> column holds predict_proba's column for that class.",
        )


# -- the registry --------------------------------------------------------------------------------


def register_previous_champion(splits) -> None:
    """Register version 1 of MODEL_NAME, a constant model, and make it the champion.

    publish_champion then adds version 2 to a registry where the alias already exists,
    as it does when a team replaces the model in production.
    """
    constant = DummyClassifier(strategy="most_frequent").fit(splits.X_train, splits.y_train)
    with mlflow.start_run(run_name="previous-champion"):
        mlflow.sklearn.log_model(
            constant,
            name="model",
            signature=infer_signature(splits.X_train, constant.predict(splits.X_train)),
            serialization_format="cloudpickle",
            registered_model_name=MODEL_NAME,
        )
    MlflowClient().set_registered_model_alias(MODEL_NAME, "champion", "1")


def published_version(solution, mlflow_snapshot) -> object:
    """Call publish_champion after version 1 exists, and return what it returned.

    Each call runs once per module; later tests start from a copy of the store it left. A
    publish_champion that raises runs again in every test, but version 1 is not registered
    again.
    """
    mlflow_snapshot.run_once("previous_champion", lambda: register_previous_champion(iris_split()))
    return mlflow_snapshot.run_once(
        "publish_champion", lambda: solution.publish_champion(MODEL_NAME, **ARGUMENTS)
    )


def registered_versions(name: str) -> list:
    """Return every version of a registered model, oldest first; fail if it does not exist."""
    client = MlflowClient()
    known = [model.name for model in client.search_registered_models()]
    if name not in known:
        state.fail(
            f"There is no registered model named {name!r}.",
            expected=f"versions registered with log_model(..., registered_model_name={name!r})",
            actual=f"registered models {state.names(known)}",
        )
    versions = client.search_model_versions(f"name = '{name}'")
    return sorted(versions, key=lambda version: int(version.version))


def describe_versions(name: str) -> str:
    """List each version of a registered model with its aliases, on one line."""
    client = MlflowClient()
    aliases: dict[str, list[str]] = {}
    for alias, version in client.get_registered_model(name).aliases.items():
        aliases.setdefault(str(version), []).append(alias)
    parts = [
        f"version {version.version} (aliases: {state.names(aliases.get(str(version.version), []))})"
        for version in registered_versions(name)
    ]
    return ", ".join(parts)


def assert_alias_on(name: str, alias: str, version: str) -> None:
    """Check that ``alias`` of a registered model names ``version``."""
    aliases = {
        key: str(value) for key, value in MlflowClient().get_registered_model(name).aliases.items()
    }
    if aliases.get(alias) != version:
        where = f"it is on version {aliases[alias]}" if alias in aliases else "no version has it"
        state.fail(
            f"Version {version} of {name!r} does not carry the alias {alias!r}; {where}.",
            expected=f"alias {alias!r} on version {version}, the version publish_champion created",
            actual=describe_versions(name),
            why=f"A server started with models:/{name}@{alias} loads whichever version the "
            "alias names. Moving the alias is how a new version goes live, with no change to "
            "the server. Use MlflowClient().set_registered_model_alias(name, alias, version).",
        )


def new_version_info():
    """Return the ModelInfo of version 2, the version publish_champion adds."""
    versions = [str(version.version) for version in registered_versions(MODEL_NAME)]
    if NEW_VERSION not in versions:
        state.fail(
            f"publish_champion did not add version {NEW_VERSION} of {MODEL_NAME!r}.",
            expected=f"versions 1 and {NEW_VERSION}",
            actual=describe_versions(MODEL_NAME),
            why="log_model(..., registered_model_name=name) registers the logged model as the "
            "next version of that registered model.",
        )
    return mlflow.models.get_model_info(f"models:/{MODEL_NAME}/{NEW_VERSION}")


def new_version_signature():
    info = new_version_info()
    if info.signature is None:
        state.fail(
            f"Version {NEW_VERSION} has no signature.",
            expected=f"inputs {FEATURES}",
            actual="signature None",
            why="Pass signature=infer_signature(sample, model.predict(None, sample)) to "
            "log_model. Without it the scoring server cannot check a request's columns and "
            "types, and passes malformed input on to the model.",
        )
    return info.signature


# -- scoring apps and servers ------------------------------------------------------------------


def serving_app(model_uri: str) -> TestClient:
    """Load a model and return a TestClient for MLflow's scoring app serving it.

    Loading prepends the model's code folder to sys.path, and building the app sets
    SERVING_FLAG in os.environ (it matters only for models with type-hinted inputs). Both
    are restored, so nothing leaks into later tests.
    """
    saved_path = list(sys.path)
    saved_flag = os.environ.get(SERVING_FLAG)
    try:
        model = mlflow.pyfunc.load_model(model_uri)
        app = scoring_server.init(model)
    finally:
        sys.path[:] = saved_path
        if saved_flag is None:
            os.environ.pop(SERVING_FLAG, None)
        else:
            os.environ[SERVING_FLAG] = saved_flag
    return TestClient(app)


@pytest.fixture(scope="module")
def species_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """MLflow's scoring app serving a plain scikit-learn model with a signature.

    The payload and client tests use it, so they pass without tasks 1 and 2. The model
    predicts species names, one value per row.
    """
    folder = tmp_path_factory.mktemp("species-model")
    splits = iris_split()
    classifier = expected_classifier()
    with pytest.MonkeyPatch.context() as patch:
        # Module-scoped fixtures run before the sandbox moves into the test's folder, so
        # the working folder is still the checkout, which must stay clean.
        patch.chdir(folder)
        mlflow.sklearn.save_model(
            classifier,
            folder / "model",
            signature=infer_signature(splits.X_train, classifier.predict(splits.X_train)),
            serialization_format="cloudpickle",
            pip_requirements=["scikit-learn"],
        )
        app = serving_app(str(folder / "model"))
    with app as client:
        yield client


class RealServer:
    """The module's ``mlflow models serve`` process, shared by the real-server tests.

    The first test that publishes the champion launches it in the background. The
    real-server tests come last in this file and wait for it, so the server boots (for
    seconds) while the tests in between run. A launch that fails is not retried, and later
    tests fail at once with the same message.
    """

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.server: servers.ServerProcess | None = None
        self.failure: str | None = None

    def launch(self, tracking_uri: str) -> None:
        """Launch the server on the store at ``tracking_uri`` unless it was launched before.

        The server reads that store only while it starts: it resolves the champion alias
        and copies the model files.
        """
        if self.server is not None or self.failure is not None:
            return
        server = servers.model_server(CHAMPION_URI, tracking_uri, log_dir=self.log_dir)
        try:
            server.launch()
        except servers.ServerError as error:
            self.failure = self._explain(error)
            return
        self.server = server

    def url(self, tracking_uri: str) -> str:
        """Return the base URL of the ready server, launching it first if needed."""
        self.launch(tracking_uri)
        if self.failure is None:
            assert self.server is not None
            try:
                self.server.wait_until_ready()
            except servers.ServerError as error:
                self.failure = self._explain(error)
            except BaseException:
                # A test timeout or an interrupt; wait_until_ready has stopped the server.
                self.failure = (
                    f"`mlflow models serve -m {CHAMPION_URI}` was stopped before it was ready, "
                    "because an earlier test ran out of time waiting for it."
                )
                raise
        if self.failure is not None:
            pytest.fail(self.failure, pytrace=False)
        assert self.server is not None
        return self.server.url

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()

    @staticmethod
    def _explain(error: servers.ServerError) -> str:
        return (
            f"`mlflow models serve -m {CHAMPION_URI}` did not start.\n{error}\n"
            "The server runs in a process of its own, which must import the module that "
            "defines ClassifierWithProbabilities to unpickle the model. If the output says "
            "\"No module named 'model_serving'\", log the model with code_paths=[__file__]."
        )


@pytest.fixture(scope="module")
def real_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealServer]:
    holder = RealServer(tmp_path_factory.mktemp("scoring-server"))
    try:
        yield holder
    finally:
        holder.stop()


@pytest.fixture
def champion(request, solution, mlflow_snapshot, mlflow_sandbox, real_server) -> object:
    """Publish the champion (once per module) and launch the real server in the background.

    The server is launched only when the run includes a real-server test, so a run of a
    few tests with -k does not pay for it. Under pytest-xdist every worker collects every
    test but runs only some, so there the real-server tests launch it themselves, and a
    worker that runs none of them starts no server. Returns what publish_champion returned.
    """
    returned = published_version(solution, mlflow_snapshot)
    under_xdist = "PYTEST_XDIST_WORKER" in os.environ
    if not under_xdist and any(
        "real_server_http" in getattr(item, "fixturenames", ()) for item in request.session.items
    ):
        real_server.launch(mlflow_sandbox.tracking_uri)
    return returned


@pytest.fixture
def champion_app(champion) -> Iterator[TestClient]:
    """MLflow's scoring app, in this process, serving the champion."""
    with serving_app(CHAMPION_URI) as client:
        yield client


@pytest.fixture
def real_server_http(champion, mlflow_sandbox, real_server) -> Iterator[httpx.Client]:
    """An httpx client for ``mlflow models serve``, the real server serving the champion."""
    url = real_server.url(mlflow_sandbox.tracking_uri)
    # trust_env=False: no proxy from the environment, so requests stay on 127.0.0.1.
    with httpx.Client(base_url=url, trust_env=False, timeout=10.0) as http:
        yield http


def fixed_response_client(status_code: int, body: str, content_type: str) -> httpx.Client:
    """Return an httpx client whose every request gets the same response, without a network."""

    def respond(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status_code, text=body, headers={"content-type": content_type})

    return httpx.Client(base_url="http://scoring.test", transport=httpx.MockTransport(respond))


def split_body(features: pd.DataFrame) -> dict:
    """Build a dataframe_split request body without the learner's task 3 code."""
    return {
        "dataframe_split": {"columns": list(features.columns), "data": features.to_numpy().tolist()}
    }


# -- task 1: the custom pyfunc ---------------------------------------------------------------------


@pytest.mark.task(1)
def test_output_has_label_and_probabilities(solution, request_rows):
    model = solution.ClassifierWithProbabilities(expected_classifier())

    output = model.predict(None, request_rows)

    if not isinstance(output, pd.DataFrame):
        state.fail(
            "ClassifierWithProbabilities.predict did not return a DataFrame.",
            expected="a pandas DataFrame with the columns " + ", ".join(OUTPUT_COLUMNS),
            actual=f"{type(output).__name__}: {output!r}"[:300],
        )
    missing = [column for column in OUTPUT_COLUMNS[1:] if column not in output.columns]
    if missing:
        state.fail(
            f"The model's output has no probability columns {missing}.",
            expected=f"columns {OUTPUT_COLUMNS}",
            actual=f"columns {list(output.columns)}",
            why="Callers of a served classifier often need its confidence, not only the label: "
            "to route unsure cases to a person, or to pick a threshold.",
        )
    state.assert_same_values(
        "The columns of the model's output", OUTPUT_COLUMNS, list(output.columns)
    )


@pytest.mark.task(1)
def test_one_row_per_input_row(solution, request_rows):
    model = solution.ClassifierWithProbabilities(expected_classifier())

    output = model.predict(None, request_rows)

    assert len(output) == len(request_rows), (
        f"predict returned {len(output)} rows for {len(request_rows)} input rows; the model "
        "must return a row for every input row, in the order of the input."
    )


@pytest.mark.task(1)
def test_output_comes_from_classifier(solution, request_rows):
    classifier = expected_classifier()
    model = solution.ClassifierWithProbabilities(classifier)

    output = model.predict(None, request_rows)

    assert_predictions_match(output, classifier, request_rows, source="the model's output")


@pytest.mark.task(1)
def test_probability_columns_follow_classes(solution, splits, request_rows):
    # A two-class classifier with other names: the columns come from classes_, not from a
    # list of iris species.
    size = splits.y_train.map(lambda name: "small" if name == "setosa" else "large")
    classifier = LogisticRegression(max_iter=1000).fit(splits.X_train, size)
    model = solution.ClassifierWithProbabilities(classifier)

    output = model.predict(None, request_rows)

    assert_predictions_match(
        output, classifier, request_rows, source="the output for a small/large classifier"
    )


# -- task 2: register, alias and signature ---------------------------------------------------------


@pytest.mark.task(2)
def test_new_version_registered_under_name(champion):
    versions = registered_versions(MODEL_NAME)

    state.assert_same_values(
        f"The versions of {MODEL_NAME!r} after publish_champion",
        ["1", NEW_VERSION],
        [str(version.version) for version in versions],
        why="publish_champion adds one version to the registered model it is given; version 1 "
        "was there before.",
    )
    assert str(champion) == NEW_VERSION, (
        f"publish_champion returned {champion!r}, but the version it created is {NEW_VERSION}. "
        "Return model_info.registered_model_version."
    )


@pytest.mark.task(2)
def test_champion_alias_on_new_version(champion):
    assert_alias_on(MODEL_NAME, "champion", NEW_VERSION)


@pytest.mark.task(2)
def test_signature_has_feature_columns(champion):
    signature = new_version_signature()

    inputs = [(spec.name, spec.type.name) for spec in signature.inputs.inputs]
    state.assert_same_values(
        "The signature's input columns and types",
        [(name, "double") for name in FEATURES],
        inputs,
        why="Infer the signature from the iris sample (a DataFrame), so it names each column "
        "and its type.",
    )


@pytest.mark.task(2)
def test_signature_has_output_columns(champion):
    signature = new_version_signature()

    outputs = signature.outputs.input_names() if signature.outputs is not None else []
    state.assert_same_values(
        "The signature's output columns",
        OUTPUT_COLUMNS,
        outputs,
        why="Infer the signature from the sample and the model's own output for it, "
        "model.predict(None, sample), so clients can see what the server returns.",
    )


@pytest.mark.task(2)
def test_version_has_input_example(champion):
    info = new_version_info()

    if info.saved_input_example_info is None:
        state.fail(
            f"Version {NEW_VERSION} has no input example.",
            expected="log_model(..., input_example=sample)",
            actual="no input example in the model",
            why="MLflow turns the input example into serving_input_example.json, a request "
            "body that the server is known to accept.",
        )


@pytest.mark.task(2)
def test_champion_app_predicts_probabilities(champion_app, request_rows):
    response = champion_app.post("/invocations", json=split_body(request_rows))

    assert response.status_code == 200, (
        f"The scoring app serving {CHAMPION_URI} returned status {response.status_code}: "
        f"{response.text[:500]}"
    )
    predictions = pd.DataFrame(response.json()["predictions"])
    assert_predictions_match(
        predictions, expected_classifier(), request_rows, source=f"{CHAMPION_URI}'s response"
    )


@pytest.mark.task(2)
def test_missing_column_rejected_with_400(champion_app, request_rows):
    body = split_body(request_rows.drop(columns=["petal width (cm)"]))

    response = champion_app.post("/invocations", json=body)

    message = response.json().get("message", "") if response.status_code == 400 else ""
    if response.status_code != 400 or "petal width (cm)" not in message:
        state.fail(
            "A request without the column 'petal width (cm)' was not rejected by the signature.",
            expected="HTTP 400 whose message names the missing column 'petal width (cm)'",
            actual=f"HTTP {response.status_code}: {response.text[:400]}",
            why="With a signature the server checks every request against the model's "
            "columns and responds with 400 and the reason. A model logged without a signature "
            "passes the request on, and the client gets an error that does not say what "
            "is wrong with its input, or a wrong prediction.",
        )


@pytest.mark.task(2)
def test_text_in_number_rejected_with_400(champion_app, request_rows):
    malformed = request_rows.astype(object)
    malformed.iloc[0, 0] = "wide"

    response = champion_app.post("/invocations", json=split_body(malformed))

    message = response.json().get("message", "") if response.status_code == 400 else ""
    if response.status_code != 400 or "sepal length (cm)" not in message:
        state.fail(
            "A request with the text 'wide' in 'sepal length (cm)' was not rejected by the "
            "signature.",
            expected="HTTP 400 whose message names the column 'sepal length (cm)'",
            actual=f"HTTP {response.status_code}: {response.text[:400]}",
            why="The signature declares each feature as a double, so the server rejects a "
            "value it cannot convert and names the column. Without a signature the model "
            "itself fails on the text, and the client learns only that evaluation failed.",
        )


# -- task 3: request payloads ----------------------------------------------------------------------


@pytest.mark.task(3)
def test_split_payload_has_columns_and_rows(solution, request_rows):
    payload = solution.dataframe_split_payload(request_rows)

    if not isinstance(payload, dict) or list(payload) != ["dataframe_split"]:
        state.fail(
            "The payload is not a dict with the single key 'dataframe_split'.",
            expected="{'dataframe_split': {'columns': [...], 'data': [[...], ...]}}",
            actual=f"keys {list(payload)}" if isinstance(payload, dict) else repr(payload)[:300],
            why="The scoring server picks the parser by the top-level key; dataframe_records "
            "and inputs are other shapes.",
        )
    split = payload["dataframe_split"]
    if not isinstance(split, dict) or "columns" not in split:
        state.fail(
            "The dataframe_split payload has no 'columns'.",
            expected=f"'columns': {FEATURES}",
            actual=repr(split)[:300],
            why="Without the column names the server numbers the columns 0 to 3, and a model "
            "with a signature rejects them.",
        )
    state.assert_same_values("The payload's columns", FEATURES, list(split["columns"]))
    state.assert_same_values(
        "The payload's rows",
        request_rows.to_numpy().tolist(),
        [list(row) for row in split.get("data", [])],
        why="'data' holds one list per row, with the values in the order of 'columns'.",
    )


@pytest.mark.task(3)
def test_inputs_payload_maps_columns(solution, request_rows):
    payload = solution.inputs_payload(request_rows)

    if not isinstance(payload, dict) or list(payload) != ["inputs"]:
        state.fail(
            "The payload is not a dict with the single key 'inputs'.",
            expected="{'inputs': {'<column>': [values...], ...}}",
            actual=f"keys {list(payload)}" if isinstance(payload, dict) else repr(payload)[:300],
        )
    columns = payload["inputs"]
    if not isinstance(columns, dict):
        state.fail(
            "The 'inputs' of the payload are not a mapping from column name to values.",
            expected="{'sepal length (cm)': [...], 'sepal width (cm)': [...], ...}",
            actual=repr(columns)[:300],
        )
    state.assert_same_values("The columns under 'inputs'", FEATURES, list(columns))
    for name in FEATURES:
        state.assert_same_values(
            f"The values of {name!r} under 'inputs'",
            request_rows[name].tolist(),
            list(columns[name]),
        )


@pytest.mark.task(3)
@pytest.mark.parametrize("builder", ["dataframe_split_payload", "inputs_payload"])
def test_payload_is_plain_json(solution, request_rows, builder):
    payload = getattr(solution, builder)(request_rows)

    try:
        text = json.dumps(payload)
    except TypeError as error:
        state.fail(
            f"{builder} returned a payload that is not plain JSON: {error}.",
            expected="dicts, lists, str and float only",
            actual=repr(payload)[:300],
            why="httpx sends json=payload with json.dumps; convert NumPy arrays with .tolist().",
        )
    assert json.loads(text) == payload, f"{builder}'s payload changes in a JSON round trip."


@pytest.mark.task(3)
@pytest.mark.parametrize("builder", ["dataframe_split_payload", "inputs_payload"])
def test_payload_is_scored_by_server(solution, species_app, request_rows, builder):
    payload = getattr(solution, builder)(request_rows)

    response = species_app.post("/invocations", json=payload)

    assert response.status_code == 200, (
        f"The scoring server returned status {response.status_code} for {builder}'s payload: "
        f"{response.text[:500]}"
    )
    expected = expected_classifier().predict(request_rows).tolist()
    state.assert_same_values(
        f"The server's predictions for {builder}'s payload and the model's",
        expected,
        response.json()["predictions"],
    )


# -- task 4: the client ----------------------------------------------------------------------------


@pytest.mark.task(4)
def test_is_healthy_for_serving_app(solution, species_app):
    client = solution.ScoringClient(species_app)

    assert client.is_healthy() is True, (
        "is_healthy() is not True for a server whose /ping returns status 200."
    )


@pytest.mark.task(4)
def test_is_not_healthy_when_ping_fails(solution):
    with fixed_response_client(503, "model not loaded", "text/plain") as http:
        healthy = solution.ScoringClient(http).is_healthy()

    assert healthy is False, (
        f"is_healthy() returned {healthy!r} for a /ping that returned status 503."
    )


@pytest.mark.task(4)
def test_mlflow_version_is_servers_version(solution, species_app):
    version = solution.ScoringClient(species_app).mlflow_version()

    assert version == mlflow.__version__, (
        f"mlflow_version() returned {version!r}, but GET /version returns {mlflow.__version__!r}."
    )


@pytest.mark.task(4)
def test_mlflow_version_raises_on_error(solution):
    with fixed_response_client(500, "internal error", "text/plain") as http:
        client = solution.ScoringClient(http)
        with pytest.raises(solution.ScoringServerError) as raised:
            client.mlflow_version()

    assert raised.value.status_code == 500, (
        f"mlflow_version() raised ScoringServerError with status {raised.value.status_code!r} "
        "for a /version that returned status 500."
    )


@pytest.mark.task(4)
def test_predict_returns_row_per_input(solution, species_app, request_rows):
    predictions = solution.ScoringClient(species_app).predict(split_body(request_rows))

    if not isinstance(predictions, pd.DataFrame):
        state.fail(
            "predict did not return a DataFrame.",
            expected="pd.DataFrame(response.json()['predictions'])",
            actual=f"{type(predictions).__name__}: {predictions!r}"[:300],
        )
    state.assert_same_values(
        "The predicted species, row by row,",
        expected_classifier().predict(request_rows).tolist(),
        predictions.iloc[:, 0].tolist(),
        why="This model returns one value per row, which becomes the DataFrame's only column.",
    )


@pytest.mark.task(4)
def test_rejected_request_raises_error(solution, species_app, request_rows):
    body = split_body(request_rows.drop(columns=["petal width (cm)"]))
    client = solution.ScoringClient(species_app)

    try:
        returned = client.predict(body)
    except solution.ScoringServerError:
        return
    except NotImplementedError:
        raise
    except Exception as error:  # noqa: BLE001 (the learner's exception is what is checked)
        state.fail(
            f"predict raised {type(error).__name__} for a request the server rejected with 400.",
            expected="ScoringServerError with the server's error_code and message",
            actual=f"{type(error).__name__}: {error}"[:500],
            why="response.raise_for_status() drops MLflow's message, which says what is wrong "
            "with the input. Read it from the JSON body and raise ScoringServerError.",
        )
    state.fail(
        "predict returned instead of raising for a request the server rejected with 400.",
        expected="ScoringServerError",
        actual=f"returned {returned!r}"[:500],
        why="An error body is not a prediction. Check the status before reading 'predictions', "
        "or callers act on an error message as if it were the model's prediction.",
    )


@pytest.mark.task(4)
def test_error_carries_code_and_message(solution, species_app, request_rows):
    body = split_body(request_rows.drop(columns=["petal width (cm)"]))
    error_body = species_app.post("/invocations", json=body).json()

    with pytest.raises(solution.ScoringServerError) as raised:
        solution.ScoringClient(species_app).predict(body)

    error = raised.value
    found = (error.status_code, error.error_code, error.message)
    expected = (400, error_body["error_code"], error_body["message"])
    if found != expected:
        state.fail(
            "The ScoringServerError does not carry the server's status, error code and message.",
            expected=f"status 400, error_code {error_body['error_code']!r}, message "
            f"{error_body['message'][:200]!r}...",
            actual=f"status {error.status_code!r}, error_code {error.error_code!r}, message "
            f"{str(error.message)[:200]!r}",
            why="MLflow's JSON error body has error_code and message; pass both on.",
        )


@pytest.mark.task(4)
def test_error_without_json_body_keeps_text(solution, request_rows):
    with fixed_response_client(502, "upstream connect error", "text/plain") as http:
        client = solution.ScoringClient(http)
        with pytest.raises(solution.ScoringServerError) as raised:
            client.predict(split_body(request_rows))

    error = raised.value
    found = (error.status_code, error.error_code, error.message)
    assert found == (502, "HTTP_502", "upstream connect error"), (
        f"For a 502 with the text body 'upstream connect error', the error carries {found}, "
        "not (502, 'HTTP_502', 'upstream connect error'). A proxy in front of the server "
        "responds with text, not MLflow's JSON."
    )


# -- the real server: last, so that it boots while the other tests run ---------------


@pytest.mark.timeout(REAL_SERVER_TEST_TIMEOUT)
@pytest.mark.task(2)
def test_real_server_serves_champion(real_server_http, request_rows):
    ping = real_server_http.get("/ping")
    response = real_server_http.post("/invocations", json=split_body(request_rows))

    assert ping.status_code == 200, (
        f"GET /ping returned status {ping.status_code}: {ping.text[:300]}"
    )
    assert response.status_code == 200, (
        f"`mlflow models serve -m {CHAMPION_URI}` returned status {response.status_code}: "
        f"{response.text[:500]}"
    )
    predictions = pd.DataFrame(response.json()["predictions"])
    assert_predictions_match(
        predictions,
        expected_classifier(),
        request_rows,
        source=f"the real server's response for {CHAMPION_URI}",
    )


@pytest.mark.timeout(REAL_SERVER_TEST_TIMEOUT)
@pytest.mark.task(4)
def test_client_queries_real_server(solution, real_server_http, request_rows):
    client = solution.ScoringClient(real_server_http)

    healthy = client.is_healthy()
    predictions = client.predict(solution.inputs_payload(request_rows))

    assert healthy is True, "is_healthy() is not True for the running real server."
    assert_predictions_match(
        predictions,
        expected_classifier(),
        request_rows,
        source="ScoringClient.predict's answer from the real server",
    )
