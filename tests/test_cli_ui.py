"""``katas ui``, run as a learner would, in a temporary copy of the checkout."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from checks.cli.ui import find_kept_stores
from tests.suites import REPO_ROOT

COPIED = ("katas", "reference", "pyproject.toml")
KEPT_KATA = "phase1/compare_models"
KEPT_TEST = "test_best_child_is_tagged"
# The experiment that compare_models' reference logs its runs to.
KEPT_EXPERIMENT = "wine-comparison"
# Every wait is bounded. The MLflow server starts in about 6 s alone, slower on a busy machine.
START_TIMEOUT = 240


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A copy of the checkout's katas, references and pytest settings."""
    for name in COPIED:
        source = REPO_ROOT / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copyfile(source, tmp_path / name)
    return tmp_path


def katas(*arguments: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "checks.cli.main", *arguments],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},
        check=False,
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def fake_kept_store(checkout: Path, kata_id: str, test: str) -> Path:
    """Create a kept store folder whose mlflow.db is empty: enough to be found, not served."""
    folder = checkout / ".katas" / "runs" / kata_id / test
    folder.mkdir(parents=True)
    (folder / "mlflow.db").write_bytes(b"")
    return folder


def request_json(url: str, body: dict | None = None) -> dict:
    """Send a GET (or, with ``body``, a POST) to the loopback server, never through a proxy."""
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"} if body is not None else {}
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(urllib.request.Request(url, data=data, headers=headers), timeout=30) as reply:
        return json.loads(reply.read())


def group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.slow
def test_ui_serves_kept_store_until_interrupted(checkout):
    keep = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            f"katas/{KEPT_KATA}",
            "--solutions",
            "reference",
            "--keep-runs",
            "-k",
            KEPT_TEST,
            "-q",
            "-p",
            "no:cacheprovider",
        ],
        cwd=checkout,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert keep.returncode == 0, keep.stdout + keep.stderr
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "checks.cli.main", "ui", "--port", str(port)],
        cwd=checkout,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        encoding="utf-8",
        env={**os.environ, "COLUMNS": "200", "PYTHONUNBUFFERED": "1", "PYTHONIOENCODING": "utf-8"},
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(
        target=lambda: [lines.put(line) for line in process.stdout], daemon=True
    ).start()
    text = ""
    group = None
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while "Press Ctrl-C" not in text and time.monotonic() < deadline:
            if process.poll() is not None and lines.empty():
                break
            with contextlib.suppress(queue.Empty):
                text += lines.get(timeout=1)
        assert "Press Ctrl-C" in text, f"The UI did not start. Output:\n{text}"
        group = int(re.search(r"process group (\d+)", text).group(1))
        address = f"http://127.0.0.1:{port}"

        experiments = request_json(
            f"{address}/api/2.0/mlflow/experiments/search", {"max_results": 100}
        )["experiments"]
        [experiment] = [item for item in experiments if item["name"] == KEPT_EXPERIMENT]
        runs = request_json(
            f"{address}/api/2.0/mlflow/runs/search",
            {"experiment_ids": [experiment["experiment_id"]], "max_results": 100},
        )["runs"]
        parent = next(run for run in runs if "mlflow.parentRunId" not in str(run["data"]))
        artifacts = request_json(
            f"{address}/api/2.0/mlflow/artifacts/list?run_id={parent['info']['run_id']}"
        )

        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=60)
        stop_deadline = time.monotonic() + 30
        while group_alive(group) and time.monotonic() < stop_deadline:
            time.sleep(0.2)
        left_running = group_alive(group)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
        if group is not None and group_alive(group):
            os.killpg(group, signal.SIGKILL)
    while not lines.empty():
        text += lines.get_nowait()

    assert address in text
    assert f"Runs of {KEPT_KATA}, test {KEPT_TEST}" in text
    assert runs, "the kept store served no runs"
    assert "files" in artifacts, f"the server listed no artifacts of the parent run: {artifacts}"
    assert code == 0, text
    assert "The MLflow server has stopped." in text
    assert "Traceback" not in text
    assert not left_running, f"processes of group {group} still run after Ctrl-C"


def test_ui_without_kept_runs_names_pytest_command(checkout):
    result = katas("ui", cwd=checkout)

    assert result.returncode == 1
    assert "There are no kept runs" in result.stderr
    assert "pytest katas/phase1/tracking_basics --keep-runs" in result.stderr


def test_ui_no_runs_of_kata_names_it(checkout):
    fake_kept_store(checkout, "phase1/tracking_basics", "test_one")

    result = katas("ui", "compare_models", cwd=checkout)

    assert result.returncode == 1
    assert "There are no kept runs of phase1/compare_models" in result.stderr
    assert "pytest katas/phase1/compare_models --keep-runs" in result.stderr


def test_ui_port_in_use_names_port(checkout):
    fake_kept_store(checkout, KEPT_KATA, KEPT_TEST)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]

        result = katas("ui", "--port", str(port), cwd=checkout)

    assert result.returncode == 1
    assert f"Port {port} on 127.0.0.1 is in use" in result.stderr
    assert "katas ui" in result.stderr


def test_ui_unknown_test_lists_kept_tests(checkout):
    fake_kept_store(checkout, KEPT_KATA, KEPT_TEST)
    fake_kept_store(checkout, KEPT_KATA, "test_children_are_nested_under_parent")

    result = katas("ui", KEPT_KATA, "--test", "test_best_child_is_taged", cwd=checkout)

    assert result.returncode == 2
    assert f"Did you mean {KEPT_TEST}?" in result.stderr
    assert "test_children_are_nested_under_parent" in result.stderr


def test_ui_unknown_kata_is_usage_error(checkout):
    result = katas("ui", "compare_model", cwd=checkout)

    assert result.returncode == 2
    assert "Did you mean phase1/compare_models" in result.stderr


def test_ui_rejects_port_out_of_range(checkout):
    result = katas("ui", "--port", "70000", cwd=checkout)

    assert result.returncode == 2
    assert "--port must be between 1 and 65535" in result.stderr


def test_kept_stores_newest_first(checkout):
    older = fake_kept_store(checkout, "phase1/tracking_basics", "test_old")
    newer = fake_kept_store(checkout, KEPT_KATA, "test_new")
    os.utime(older / "mlflow.db", (1_000_000, 1_000_000))

    stores = find_kept_stores(checkout)

    assert [store.folder for store in stores] == [newer, older]
    assert stores[0].kata_id == KEPT_KATA
    assert stores[0].test == "test_new"
