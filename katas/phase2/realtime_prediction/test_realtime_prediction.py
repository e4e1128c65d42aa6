"""Tests for phase2/realtime_prediction: a FastAPI service that serves the model behind an alias.

Each test gets a fresh MLflow store with three registered versions of a model (registered once
per run, then copied), starts your app with starlette's TestClient (entering it runs the app's
lifespan) and sends it HTTP requests.
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow.models import infer_signature
from mlflow.tracking import MlflowClient
from sklearn.datasets import load_iris
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression

from checks import state

with warnings.catch_warnings():
    # Starlette 1.10 warns on import that its TestClient will move from httpx to httpx2.
    # The kata pins httpx, with which the TestClient works as before.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

MODEL = "iris-species"
EXPERIMENT = "iris-serving"
FEATURE_NAMES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]

# Version 1 is a logistic regression, version 2 always predicts "virginica", and version 3
# has no files, so it cannot be loaded. champion starts on version 1, challenger on 2.
CHAMPION = "champion"
CHALLENGER = "challenger"
BROKEN_VERSION = "3"
CONSTANT_SPECIES = "virginica"

# Rows 0, 50 and 100 of the iris data, one flower of each species.
SETOSA = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
VERSICOLOR = {"sepal_length": 7.0, "sepal_width": 3.2, "petal_length": 4.7, "petal_width": 1.4}
VIRGINICA = {"sepal_length": 6.3, "sepal_width": 3.3, "petal_length": 6.0, "petal_width": 2.5}
ROWS = [SETOSA, VERSICOLOR, VIRGINICA]

MAX_BATCH_ROWS = 100
REPEATED_REQUESTS = 5


# -- the registry the tests serve from --------------------------------------------------------


def register_versions() -> dict[str, list[str]]:
    """Register the kata's three versions and aliases; return versions 1 and 2's labels of ROWS."""
    iris = load_iris(as_frame=True)
    features = iris.data.set_axis(FEATURE_NAMES, axis=1)
    species = iris.target_names[iris.target]
    rows = pd.DataFrame(ROWS, columns=FEATURE_NAMES)
    classifiers = [
        LogisticRegression(max_iter=1000),
        DummyClassifier(strategy="constant", constant=CONSTANT_SPECIES),
    ]

    mlflow.set_experiment(EXPERIMENT)
    labels = {}
    for version, classifier in enumerate(classifiers, start=1):
        classifier.fit(features, species)
        with mlflow.start_run():
            # A signature instead of an input example: log_model then skips loading the
            # model back to check the example, which would double the set-up time.
            mlflow.sklearn.log_model(
                classifier,
                name="classifier",
                signature=infer_signature(rows, classifier.predict(rows)),
                registered_model_name=MODEL,
            )
        labels[str(version)] = [str(label) for label in classifier.predict(rows)]

    # Version 3 comes from a LoggedModel whose files were never written, as when a log_model
    # call dies halfway, so loading it fails.
    client = MlflowClient()
    empty = mlflow.initialize_logged_model(name="classifier")
    client.create_model_version(MODEL, source=empty.model_uri, model_id=empty.model_id)
    client.set_registered_model_alias(MODEL, CHAMPION, "1")
    client.set_registered_model_alias(MODEL, CHALLENGER, "2")
    return labels


def describe_registry() -> str:
    """List the versions of MODEL with their aliases, on one line."""
    client = MlflowClient()
    aliases = client.get_registered_model(MODEL).aliases
    parts = []
    for found in sorted(client.search_model_versions(f"name = '{MODEL}'"), key=version_number):
        named = sorted(alias for alias, version in aliases.items() if version == found.version)
        parts.append(f"version {found.version}" + (f" [{', '.join(named)}]" if named else ""))
    return f"registered model {MODEL!r}: " + ", ".join(parts)


def version_number(model_version) -> int:
    return int(model_version.version)


def move_alias(alias: str, version: str) -> None:
    MlflowClient().set_registered_model_alias(MODEL, alias, version)


@pytest.fixture
def labels_by_version(mlflow_snapshot) -> dict[str, list[str]]:
    """Register the versions once per module and give each test a copy of that registry."""
    return mlflow_snapshot.run_once("registry", register_versions)


@pytest.fixture
def model_loads(labels_by_version, monkeypatch) -> list[str]:
    """Record the URI of every mlflow.pyfunc.load_model call made after the registry is set up."""
    uris: list[str] = []
    load_model = mlflow.pyfunc.load_model

    def recording_load_model(model_uri, *args, **kwargs):
        uris.append(str(model_uri))
        return load_model(model_uri, *args, **kwargs)

    monkeypatch.setattr(mlflow.pyfunc, "load_model", recording_load_model)
    return uris


# -- talking to the app ----------------------------------------------------------------------


@contextmanager
def serving(solution, alias: str | None = None) -> Iterator[TestClient]:
    """Start the learner's app for MODEL and yield a client; the app stops after the block."""
    app = solution.create_app(MODEL) if alias is None else solution.create_app(MODEL, alias=alias)
    with TestClient(app) as client:
        yield client


def send(client: TestClient, method: str, url: str, **kwargs) -> tuple[int, str]:
    """Send a request and return its status and body; an exception in the app counts as 500."""
    try:
        response = client.request(method, url, **kwargs)
    except NotImplementedError:
        raise
    except Exception as error:
        return 500, f"(the app raised {type(error).__name__}: {error})"
    return response.status_code, response.text


def json_of(client: TestClient, method: str, url: str, **kwargs) -> dict:
    """Send a request that must succeed and return its JSON body."""
    response = client.request(method, url, **kwargs)
    if response.status_code != 200:
        state.fail(
            f"{method} {url} returned {response.status_code}.",
            expected="200 with a JSON body",
            actual=f"{response.status_code} {response.text[:300]}",
        )
    return response.json()


def field(body: dict, name: str, endpoint: str) -> object:
    """Return one field of a JSON body, failing with the fields it has when it is missing."""
    if name not in body:
        state.fail(
            f"The {endpoint} response has no field {name!r}.",
            expected=f"a field {name!r}",
            actual=f"fields {state.names(body)}",
            why="Return the response model the endpoint declares, with every field filled.",
        )
    return body[name]


def predict(client: TestClient, rows: list[dict]) -> dict:
    return json_of(client, "POST", "/predict", json={"rows": rows})


def served_version(body: dict, endpoint: str) -> object:
    return field(body, "model_version", endpoint)


def parse_time(text: object, endpoint: str) -> datetime:
    """Parse an ISO 8601 time from a response, failing unless it has a time zone."""
    try:
        moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        moment = None
    if moment is None or moment.utcoffset() is None:
        state.fail(
            f"The {endpoint} response's loaded_at is {text!r}.",
            expected="an ISO 8601 time with a time zone, such as 2025-06-01T12:00:00Z",
            actual=repr(text),
            why="A time without a zone means a different moment on every machine that reads it.",
        )
    return moment


# -- task 1: load the version behind the alias at start-up ------------------------------------


@pytest.mark.task(1)
def test_loader_resolves_alias_to_version(solution, labels_by_version):
    served = solution.load_served_model(MODEL, CHALLENGER)

    found = (served.name, served.version, served.alias)
    if found != (MODEL, "2", CHALLENGER):
        state.fail(
            f"load_served_model({MODEL!r}, {CHALLENGER!r}) returned name, version and alias "
            f"{found!r}.",
            expected=(MODEL, "2", CHALLENGER),
            actual=f"{found!r}\n  registry: {describe_registry()}",
            why=(
                "Ask the registry where the alias points with "
                "MlflowClient().get_model_version_by_alias(name, alias); its version is the one "
                "to load and report, as a string."
            ),
        )


@pytest.mark.task(1)
def test_loader_loads_version_uri(solution, model_loads):
    solution.load_served_model(MODEL, CHALLENGER)

    expected = [f"models:/{MODEL}/2"]
    if model_loads != expected:
        state.fail(
            "load_served_model did not load the aliased version by its number exactly once.",
            expected=f"mlflow.pyfunc.load_model calls with {expected}",
            actual=f"calls with {model_loads}"
            if model_loads
            else "no mlflow.pyfunc.load_model call",
            why=(
                "Load models:/<name>/<version> with the version the alias lookup returned. A "
                "models:/<name>@<alias> URI looks the alias up a second time, so if the alias "
                "moves in between, the service reports one version and serves another. The "
                "tests count calls of mlflow.pyfunc.load_model, so call it by that name."
            ),
        )


@pytest.mark.task(1)
def test_loader_stamps_utc_load_time(solution, labels_by_version):
    before = datetime.now(timezone.utc)
    served = solution.load_served_model(MODEL, CHAMPION)
    after = datetime.now(timezone.utc)

    loaded_at = served.loaded_at
    if not isinstance(loaded_at, datetime) or loaded_at.utcoffset() != timedelta(0):
        state.fail(
            f"load_served_model returned loaded_at={loaded_at!r}.",
            expected="a datetime in UTC, such as datetime.now(timezone.utc)",
            actual=repr(loaded_at),
            why="A time without a zone means a different moment on every machine that reads it.",
        )
    if not before <= loaded_at <= after:
        state.fail(
            "load_served_model's loaded_at is not the time of the call.",
            expected=f"between {before.isoformat()} and {after.isoformat()}",
            actual=loaded_at.isoformat(),
        )


@pytest.mark.task(1)
def test_app_loads_model_at_startup(solution, model_loads):
    app = solution.create_app(MODEL)
    loads_before_start = list(model_loads)

    with TestClient(app):
        loads_at_start = list(model_loads)

    if loads_before_start:
        state.fail(
            "create_app loaded the model before the app started.",
            expected="no load until the app's lifespan starts",
            actual=f"mlflow.pyfunc.load_model calls with {loads_before_start}",
            why=(
                "Load in the lifespan, not when the app object is built: tools import the app "
                "without serving it, and a server process loads when it starts."
            ),
        )
    if loads_at_start != [f"models:/{MODEL}/1"]:
        state.fail(
            "Starting the app did not load the champion version exactly once.",
            expected=f"one mlflow.pyfunc.load_model call with models:/{MODEL}/1",
            actual=f"calls with {loads_at_start}\n  registry: {describe_registry()}",
            why=(
                "The lifespan runs before the first request, so loading there means no request "
                "waits for the model, and a missing model stops the app at once."
            ),
        )


@pytest.mark.task(1)
def test_app_refuses_to_start_without_alias(solution, labels_by_version):
    app = solution.create_app(MODEL, alias="retired")

    try:
        with TestClient(app):
            pass
    except NotImplementedError:
        raise
    except Exception:
        return

    state.fail(
        f"The app started although {MODEL!r} has no alias 'retired'.",
        expected="an exception from the lifespan, so the app does not start",
        actual=f"the app started\n  registry: {describe_registry()}",
        why=(
            "A service without a model can only fail every request. Failing at start-up shows "
            "the problem at deploy time, and the old instances keep running."
        ),
    )


# -- task 2: POST /predict --------------------------------------------------------------------


@pytest.mark.task(2)
def test_predict_returns_model_labels(solution, labels_by_version):
    with serving(solution) as client:
        body = predict(client, ROWS)

    state.assert_same_values(
        "The predictions of /predict for three rows and those of version 1",
        labels_by_version["1"],
        field(body, "predictions", "/predict"),
        why="Predict every row with the loaded model and return one species per row, in order.",
    )


@pytest.mark.task(2)
def test_predict_accepts_single_row(solution, labels_by_version):
    with serving(solution) as client:
        body = predict(client, [SETOSA])

    state.assert_same_values(
        "The predictions of /predict for one row and that of version 1",
        labels_by_version["1"][:1],
        field(body, "predictions", "/predict"),
    )


@pytest.mark.task(2)
def test_predict_names_model_and_version(solution, labels_by_version):
    with serving(solution) as client:
        body = predict(client, [SETOSA])

    found = (field(body, "model_name", "/predict"), served_version(body, "/predict"))
    if found != (MODEL, "1"):
        state.fail(
            f"/predict returned model_name and model_version {found!r}.",
            expected=(MODEL, "1"),
            actual=f"{found!r}\n  registry: {describe_registry()}",
            why=(
                "Every response names the version that made it, so a prediction can be traced "
                "back to its model and compared across versions."
            ),
        )


@pytest.mark.task(2)
def test_predict_serves_requested_alias(solution, labels_by_version):
    with serving(solution, alias=CHALLENGER) as client:
        body = predict(client, ROWS)

    found = (served_version(body, "/predict"), field(body, "predictions", "/predict"))
    if found != ("2", labels_by_version["2"]):
        state.fail(
            f"An app created with alias={CHALLENGER!r} returned model_version and predictions "
            f"{found!r}.",
            expected=("2", labels_by_version["2"]),
            actual=f"{found!r}\n  registry: {describe_registry()}",
            why="Serve the alias that create_app receives, not a fixed 'champion'.",
        )


@pytest.mark.task(2)
def test_model_loaded_once_for_many_requests(solution, model_loads):
    with serving(solution) as client:
        for _ in range(REPEATED_REQUESTS):
            predict(client, [SETOSA])

    if len(model_loads) != 1:
        state.fail(
            f"mlflow.pyfunc.load_model was called {len(model_loads)} times for one start-up "
            f"and {REPEATED_REQUESTS} requests.",
            expected="1 call, in the lifespan",
            actual=f"calls with {model_loads}",
            why=(
                "Loading reads the registry and the model files, which takes longer than the "
                "prediction itself. Load once at start-up and reuse the model from app.state."
            ),
        )


@pytest.mark.task(2)
def test_predict_keeps_loaded_version(solution, labels_by_version):
    with serving(solution) as client:
        move_alias(CHAMPION, "2")
        body = predict(client, ROWS)

    found = (served_version(body, "/predict"), field(body, "predictions", "/predict"))
    if found != ("1", labels_by_version["1"]):
        state.fail(
            "After the champion alias moved to version 2, /predict returned model_version and "
            f"predictions {found!r} before any POST /reload.",
            expected=("1", labels_by_version["1"]),
            actual=f"{found!r}\n  registry: {describe_registry()}",
            why=(
                "The app serves the version it loaded at start-up until POST /reload, so the "
                "version behind every response is known and changes at one moment."
            ),
        )


INVALID_BODIES = {
    "missing-feature": {"rows": [{key: SETOSA[key] for key in FEATURE_NAMES[:3]}]},
    "text-value": {"rows": [{**SETOSA, "sepal_length": "5.1"}]},
    "negative-length": {"rows": [{**SETOSA, "petal_length": -1.4}]},
    "millimetres": {"rows": [{**SETOSA, "sepal_length": 51.0}]},
    "extra-field": {"rows": [{**SETOSA, "species": "setosa"}]},
    "empty-batch": {"rows": []},
    "oversized-batch": {"rows": [SETOSA] * (MAX_BATCH_ROWS + 1)},
    "row-outside-list": SETOSA,
}


@pytest.mark.task(2)
@pytest.mark.parametrize("case", INVALID_BODIES)
def test_predict_rejects_invalid_body(solution, labels_by_version, case):
    with serving(solution) as client:
        predict(client, [SETOSA])
        status, text = send(client, "POST", "/predict", json=INVALID_BODIES[case])

    if status != 422:
        state.fail(
            f"POST /predict with an invalid body ({case}) returned {status} instead of 422.",
            expected="422 Unprocessable Entity, from FastAPI's validation of PredictRequest",
            actual=f"{status} {text[:300]}",
            why=(
                "Declare the endpoint's body as PredictRequest, so FastAPI checks every row "
                "before your code runs. Bad input that reaches the model either fails as a 500, "
                "which blames the server, or worse, gets a prediction that looks valid."
            ),
        )


# -- task 3: GET /health ----------------------------------------------------------------------


@pytest.mark.task(3)
def test_health_reports_served_model(solution, labels_by_version):
    with serving(solution, alias=CHALLENGER) as client:
        body = json_of(client, "GET", "/health")

    expected = {
        "status": "ok",
        "model_name": MODEL,
        "model_version": "2",
        "alias": CHALLENGER,
    }
    found = {name: field(body, name, "/health") for name in expected}
    if found != expected:
        state.fail(
            f"/health of an app serving {MODEL}@{CHALLENGER} reports other values.",
            expected=state.format_mapping(expected),
            actual=f"{state.format_mapping(found)}\n  registry: {describe_registry()}",
            why="A health check tells the operator which model serves, before any request does.",
        )


@pytest.mark.task(3)
def test_health_load_time_is_startup(solution, labels_by_version):
    before = datetime.now(timezone.utc)
    with serving(solution) as client:
        started = datetime.now(timezone.utc)
        first = json_of(client, "GET", "/health")
        second = json_of(client, "GET", "/health")

    loaded_at = parse_time(field(first, "loaded_at", "/health"), "/health")
    if not before <= loaded_at <= started:
        state.fail(
            "/health reports a loaded_at that is not the time the app started.",
            expected=f"between {before.isoformat()} and {started.isoformat()}",
            actual=f"{loaded_at.isoformat()}",
            why="Report when the model was loaded, kept with it, not the time of the request.",
        )
    if second.get("loaded_at") != first["loaded_at"]:
        state.fail(
            "Two /health calls report different loaded_at times for the same model.",
            expected=first["loaded_at"],
            actual=second.get("loaded_at"),
        )


# -- task 4: POST /reload ---------------------------------------------------------------------


@pytest.mark.task(4)
def test_reload_serves_moved_alias(solution, labels_by_version):
    with serving(solution) as client:
        move_alias(CHAMPION, "2")
        reload = client.post("/reload")
        body = predict(client, ROWS)

    version = served_version(body, "/predict")
    predictions = field(body, "predictions", "/predict")
    if predictions == labels_by_version["2"] and version != "2":
        state.fail(
            f"After POST /reload the predictions come from version 2, but the response carries "
            f"model_version {version!r}.",
            expected="model_version '2'",
            actual=f"model_version {version!r}, predictions {predictions}",
            why=(
                "The reload swapped the model but kept the old version number. Replace the "
                "ServedModel as a whole, so the model and its version always change together."
            ),
        )
    if (version, predictions) != ("2", labels_by_version["2"]):
        state.fail(
            "After the champion alias moved to version 2 and POST /reload, /predict still "
            f"returns model_version {version!r}.",
            expected=f"model_version '2' and predictions {labels_by_version['2']}",
            actual=(
                f"model_version {version!r}, predictions {predictions}\n"
                f"  POST /reload returned {reload.status_code} {reload.text[:300]}\n"
                f"  registry: {describe_registry()}"
            ),
            why=(
                "POST /reload must look the alias up again, load the version it points at now "
                "and put that model into app.state.served, where /predict reads it."
            ),
        )


@pytest.mark.task(4)
def test_reload_reports_both_versions(solution, labels_by_version):
    with serving(solution) as client:
        move_alias(CHAMPION, "2")
        body = json_of(client, "POST", "/reload")

    expected = {"model_version": "2", "previous_version": "1", "reloaded": True}
    found = {name: field(body, name, "/reload") for name in expected}
    if found != expected:
        state.fail(
            "POST /reload after the champion alias moved from version 1 to 2 returned other "
            "values.",
            expected=state.format_mapping(expected),
            actual=state.format_mapping(found),
            why="The response tells the caller, such as a deploy step, what changed.",
        )


@pytest.mark.task(4)
def test_health_shows_reloaded_version(solution, labels_by_version):
    with serving(solution) as client:
        first = json_of(client, "GET", "/health")
        move_alias(CHAMPION, "2")
        client.post("/reload")
        second = json_of(client, "GET", "/health")

    version = served_version(second, "/health")
    first_loaded = parse_time(field(first, "loaded_at", "/health"), "/health")
    second_loaded = parse_time(field(second, "loaded_at", "/health"), "/health")
    if version != "2":
        state.fail(
            f"After POST /reload moved to version 2, /health reports model_version {version!r}.",
            expected="model_version '2'",
            actual=f"model_version {version!r}\n  registry: {describe_registry()}",
        )
    if not second_loaded > first_loaded:
        state.fail(
            "After POST /reload loaded version 2, /health reports the old loaded_at.",
            expected=f"a time after {first_loaded.isoformat()}",
            actual=second_loaded.isoformat(),
            why="loaded_at belongs to the loaded model, so a new model brings a new time.",
        )


@pytest.mark.task(4)
def test_reload_without_move_loads_nothing(solution, model_loads):
    with serving(solution) as client:
        body = json_of(client, "POST", "/reload")

    if len(model_loads) != 1:
        state.fail(
            "POST /reload loaded the model again although the alias had not moved.",
            expected="1 mlflow.pyfunc.load_model call, at start-up",
            actual=f"calls with {model_loads}",
            why=(
                "Compare the version behind the alias with the served one first: looking up "
                "the alias is cheap, loading the model files is not."
            ),
        )
    expected = {"model_version": "1", "previous_version": "1", "reloaded": False}
    found = {name: field(body, name, "/reload") for name in expected}
    if found != expected:
        state.fail(
            "POST /reload with the alias still on version 1 returned other values.",
            expected=state.format_mapping(expected),
            actual=state.format_mapping(found),
        )


# Two ways a reload fails: the alias is gone, or it points at a version whose files are gone.
BREAKAGES = {
    "alias-deleted": lambda: MlflowClient().delete_registered_model_alias(MODEL, CHAMPION),
    "files-missing": lambda: move_alias(CHAMPION, BROKEN_VERSION),
}


@pytest.mark.task(4)
@pytest.mark.parametrize("breakage", BREAKAGES)
def test_failed_reload_returns_503(solution, labels_by_version, breakage):
    with serving(solution) as client:
        BREAKAGES[breakage]()
        status, text = send(client, "POST", "/reload")

    if status != 503:
        state.fail(
            f"POST /reload returned {status} when the new version could not be loaded "
            f"({breakage}).",
            expected="503, from an HTTPException with RELOAD_FAILED_STATUS",
            actual=f"{status} {text[:300]}\n  registry: {describe_registry()}",
            why=(
                "Catch the error, log it and raise an HTTPException with status 503, so the "
                "caller learns that the reload failed and that the old version still serves."
            ),
        )


@pytest.mark.task(4)
def test_failed_reload_is_logged(solution, labels_by_version, caplog):
    with serving(solution) as client:
        move_alias(CHAMPION, BROKEN_VERSION)
        send(client, "POST", "/reload")

    solution_file = Path(solution.__file__).resolve()
    from_module = [
        record for record in caplog.records if Path(record.pathname).resolve() == solution_file
    ]
    logged = [record for record in from_module if record.levelno >= logging.WARNING]
    if not logged:
        state.fail(
            "A POST /reload that could not load version 3 logged no warning or error from your "
            "module.",
            expected="a log record at WARNING or above, such as logger.exception(...)",
            actual="records from your module: "
            + (", ".join(f"{r.levelname} {r.getMessage()!r}" for r in from_module) or "(none)"),
            why=(
                "The caller sees a 503, but the operator reads the service's log: an error "
                "that is caught and not raised again must be logged with its cause."
            ),
        )


@pytest.mark.task(4)
@pytest.mark.parametrize("breakage", BREAKAGES)
def test_failed_reload_keeps_old_model(solution, labels_by_version, breakage):
    with serving(solution) as client:
        BREAKAGES[breakage]()
        send(client, "POST", "/reload")
        status, text = send(client, "POST", "/predict", json={"rows": ROWS})
        health_status, _ = send(client, "GET", "/health")

    if status != 200 or health_status != 200:
        state.fail(
            f"After a failed POST /reload ({breakage}), /predict returned {status} and /health "
            f"returned {health_status}.",
            expected="200 from both, still served by version 1",
            actual=f"/predict: {text[:300]}",
            why=(
                "A failed reload must leave the loaded model in place. Load the new version "
                "first, and replace app.state.served only once that has worked."
            ),
        )
    body = json.loads(text)
    found = (served_version(body, "/predict"), field(body, "predictions", "/predict"))
    if found != ("1", labels_by_version["1"]):
        state.fail(
            f"After a failed POST /reload ({breakage}), /predict returned model_version and "
            f"predictions {found!r}.",
            expected=("1", labels_by_version["1"]),
            actual=f"{found!r}\n  registry: {describe_registry()}",
            why="Until a reload succeeds, the version loaded before it keeps serving.",
        )
