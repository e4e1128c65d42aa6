"""Measure the latency of single-row predictions from the realtime_prediction kata's app.

Usage: python bench/bench_realtime.py [--requests N] [--write]

The script registers a small iris model in a throwaway MLflow store in a temporary folder.
It then times N single-row predictions in three ways: the pyfunc model's predict alone,
POST /predict through starlette's TestClient in this process, and POST /predict over HTTP to
the reference app under uvicorn on 127.0.0.1. It prints a Markdown table of the median (p50)
and 99th percentile (p99) latencies. With --write, it also replaces its section of
docs/benchmarks.md. The uvicorn server is a child process that is always stopped before the
script exits.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import logging
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from types import ModuleType

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

REFERENCE = REPO_ROOT / "reference" / "phase2" / "realtime_prediction" / "realtime_prediction.py"
PAGE = REPO_ROOT / "docs" / "benchmarks.md"
BEGIN_MARK = "<!-- BEGIN GENERATED: bench/bench_realtime.py -->"
END_MARK = "<!-- END GENERATED: bench/bench_realtime.py -->"
SECTION_HEADING = "## Real-time prediction latency"
SECTION_INTRO = """\
`python bench/bench_realtime.py` times single-row predictions of the
`phase2/realtime_prediction` reference app. The model is a logistic regression trained on iris
and registered in a throwaway SQLite store. The script times three ways to predict: the pyfunc
model's `predict` alone, `POST /predict` through starlette's TestClient in the same process, and
`POST /predict` over HTTP to the app under uvicorn (one worker) on 127.0.0.1, one request at a
time on a kept-alive connection.
The three take turns in five rounds, so a change of the machine's load during the run affects
them alike. The rows below the first add FastAPI with its request validation, and then HTTP
between two processes, to the model's own time."""

# The model name that the reference's app_for_champion factory serves.
MODEL_NAME = "iris-species"
FEATURE_NAMES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
ROW = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
DEFAULT_REQUESTS = 300
# Requests sent before timing, so imports, the first connection and caches are warm.
WARM_UP_REQUESTS = 20
# The number of turns the three measurements take (see time_in_rounds).
ROUNDS = 5
SERVER_START_TIMEOUT = 60.0
SERVER_STOP_GRACE = 10.0


def percentiles(seconds: list[float]) -> tuple[float, float]:
    """Return the p50 and p99 of a list of durations, in milliseconds."""
    cut_points = statistics.quantiles(seconds, n=100, method="inclusive")
    return statistics.median(seconds) * 1000, cut_points[98] * 1000


def time_in_rounds(
    actions: dict[str, Callable[[], object]], repeats: int
) -> dict[str, list[float]]:
    """Run each action ``repeats`` times and return each call's wall time in seconds.

    The actions take turns in ROUNDS rounds, so a change in the machine's load during the run
    affects every measurement alike instead of the one that happened to run then.
    """
    for action in actions.values():
        for _ in range(WARM_UP_REQUESTS):
            action()
    times: dict[str, list[float]] = {name: [] for name in actions}
    for round_number in range(ROUNDS):
        # Spread the repeats over the rounds, the first rounds taking any remainder.
        count = repeats // ROUNDS + (1 if round_number < repeats % ROUNDS else 0)
        for name, action in actions.items():
            for _ in range(count):
                start = time.perf_counter()
                action()
                times[name].append(time.perf_counter() - start)
    return times


def register_champion() -> None:
    """Register a logistic regression on iris as MODEL_NAME version 1, aliased champion."""
    import mlflow
    from mlflow.models import infer_signature
    from mlflow.tracking import MlflowClient
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    iris = load_iris(as_frame=True)
    features = iris.data.set_axis(FEATURE_NAMES, axis=1)
    species = iris.target_names[iris.target]
    model = LogisticRegression(max_iter=1000).fit(features, species)
    with mlflow.start_run():
        mlflow.sklearn.log_model(
            model,
            name="classifier",
            signature=infer_signature(features.head(2), model.predict(features.head(2))),
            registered_model_name=MODEL_NAME,
        )
    MlflowClient().set_registered_model_alias(MODEL_NAME, "champion", "1")


def load_reference() -> ModuleType:
    """Import the kata's reference module by its path."""
    spec = importlib.util.spec_from_file_location("realtime_prediction", REFERENCE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Dataclasses look their module up in sys.modules while the module runs.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def check(response):
    """Return the response, or stop the benchmark when the app did not return 200."""
    if response.status_code != 200:
        raise RuntimeError(f"POST /predict returned {response.status_code}: {response.text}")
    return response


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on at the moment of the call."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def uvicorn_server(work: Path) -> Iterator[str]:
    """Run the reference app under uvicorn on 127.0.0.1 and yield its URL; always stop it."""
    import httpx

    port = free_port()
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "realtime_prediction:app_for_champion",
        "--app-dir",
        str(REFERENCE.parent),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    log_path = work / "uvicorn.log"
    url = f"http://127.0.0.1:{port}"
    with log_path.open("wb") as log:
        # The output goes to a file: a pipe that nobody reads fills up and blocks the server.
        server = subprocess.Popen(command, cwd=work, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while True:
            if server.poll() is not None:
                raise RuntimeError(
                    f"uvicorn exited with code {server.returncode} before it responded:\n"
                    + log_path.read_text(errors="replace")[-3000:]
                )
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{url}/health", timeout=2.0).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"uvicorn did not respond to GET /health within {SERVER_START_TIMEOUT:g} s:\n"
                    + log_path.read_text(errors="replace")[-3000:]
                )
            time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=SERVER_STOP_GRACE)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def measure(reference: ModuleType, work: Path, repeats: int) -> dict[str, list[float]]:
    """Time one-row predictions: the model alone, through TestClient, and over HTTP."""
    import httpx
    import mlflow
    import pandas as pd

    with warnings.catch_warnings():
        # Starlette 1.10 warns that its TestClient will move from httpx to httpx2.
        warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
        from fastapi.testclient import TestClient

    model = mlflow.pyfunc.load_model(f"models:/{MODEL_NAME}/1")
    frame = pd.DataFrame([ROW], columns=FEATURE_NAMES)
    body = {"rows": [ROW]}
    with (
        TestClient(reference.create_app(MODEL_NAME)) as in_process,
        uvicorn_server(work) as url,
        httpx.Client(base_url=url, timeout=10.0) as over_http,
    ):
        actions = {
            "model.predict on one row, no HTTP": lambda: model.predict(frame),
            "POST /predict in process (TestClient)": lambda: check(
                in_process.post("/predict", json=body)
            ),
            "POST /predict over HTTP (uvicorn, 127.0.0.1)": lambda: check(
                over_http.post("/predict", json=body)
            ),
        }
        return time_in_rounds(actions, repeats)


def run(repeats: int) -> dict[str, list[float]]:
    """Set up a throwaway store in a temporary folder and take the three measurements."""
    import mlflow

    from checks import sandbox

    sandbox.apply_offline_environment()
    # MLflow logs each table it creates and each model it registers at INFO level.
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="bench-realtime-") as folder:
        work = Path(folder)
        template = sandbox.ensure_template(work / "cache")
        box = sandbox.create_sandbox(template, work / "store")
        previous_folder = Path.cwd()
        # MLflow writes ./mlruns relative to the working folder, and the uvicorn child
        # reads the store from the environment.
        os.chdir(box.root)
        os.environ["MLFLOW_TRACKING_URI"] = box.tracking_uri
        os.environ["MLFLOW_REGISTRY_URI"] = box.registry_uri
        mlflow.set_tracking_uri(box.tracking_uri)
        try:
            with sandbox.fast_requirement_inference():
                register_champion()
            return measure(load_reference(), box.root, repeats)
        finally:
            os.chdir(previous_folder)


def render(results: dict[str, list[float]], load_before: float) -> str:
    """Format the measurements as a Markdown table with a line on how they were taken."""
    import fastapi
    import mlflow
    import uvicorn

    lines = [
        f"Measured on {date.today().isoformat()} with MLflow {mlflow.__version__}, FastAPI "
        f"{fastapi.__version__}, uvicorn {uvicorn.__version__}, Python "
        f"{platform.python_version()}, {os.cpu_count()} cores (1-minute load average "
        f"{load_before:.1f} at the start), by `python bench/bench_realtime.py`.",
        "",
        "| measurement | requests | p50 | p99 |",
        "| --- | --- | --- | --- |",
    ]
    for name, seconds in results.items():
        p50, p99 = percentiles(seconds)
        lines.append(f"| {name} | {len(seconds)} | {p50:.2f} ms | {p99:.2f} ms |")
    return "\n".join(lines)


def write_section(text: str) -> None:
    """Replace this script's section of docs/benchmarks.md, appending it when absent."""
    content = PAGE.read_text(encoding="utf-8")
    block = f"{BEGIN_MARK}\n{text}\n{END_MARK}"
    if BEGIN_MARK in content and END_MARK in content:
        start = content.index(BEGIN_MARK)
        end = content.index(END_MARK) + len(END_MARK)
        content = content[:start] + block + content[end:]
    else:
        content = content.rstrip("\n") + f"\n\n{SECTION_HEADING}\n\n{SECTION_INTRO}\n\n{block}\n"
    PAGE.write_text(content, encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--requests",
        type=int,
        default=DEFAULT_REQUESTS,
        help=f"Timed requests per measurement, after {WARM_UP_REQUESTS} warm-up requests. "
        f"Default: {DEFAULT_REQUESTS}.",
    )
    parser.add_argument("--write", action="store_true", help="Also update docs/benchmarks.md.")
    arguments = parser.parse_args()
    if arguments.requests < ROUNDS:
        parser.error(f"--requests must be at least {ROUNDS}, not {arguments.requests}.")

    load_before = os.getloadavg()[0]
    text = render(run(arguments.requests), load_before)
    print(text)
    if arguments.write:
        write_section(text)
        print(f"\nUpdated {PAGE.relative_to(REPO_ROOT)}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
