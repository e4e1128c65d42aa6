"""Tests for the katas pytest plugin, run on a tiny track in a separate pytest process.

The track has three katas under phase9: ``demo``, whose stub is a learner's unfinished work
and whose suite also checks the sandbox from the inside, ``broken`` (a syntax error) and
``crash`` (an ImportError at import). Module fixtures make the runs that several tests
read, once per session, and the other tests run the track with ``pytester``. Each run gets
its own template cache, seeded with a copy of this session's template, so no run waits for
MLflow's migrations.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse

import mlflow
import pytest

from checks import sandbox as sandboxes

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

# The tracking URI the plain tests expect to find after the kata tests ran. No test logs to
# it, because the kata tests log to their sandboxes and the plain tests only read it.
OUTER_URI = "sqlite:////nonexistent/outer.db"
RUN_TIMEOUT_SECONDS = 180
KATA_TEST_FILE = "katas/phase9/demo/test_demo.py"
PLAIN_TEST_FILE = "plain/test_plain.py"
# The tests that a run needs to show which solution module it loaded (a -k expression).
SOLUTION_TESTS = "test_module_origin or test_logs_color_param"

MANIFEST = """\
# The track of the plugin tests: one phase, three katas.

[phases]
phase9 = "Plugin test track"

[[kata]]
id = "phase9/broken"
title = "A stub with a syntax error"
points = 1
extras = []
requires = []

[[kata]]
id = "phase9/crash"
title = "A stub that raises at import"
points = 1
extras = []
requires = []

[[kata]]
id = "phase9/demo"
title = "Log params, and check the sandbox"
points = 1
extras = []
requires = []
"""

DEMO_STUB = '''\
"""Kata phase9/demo as a learner left it: one function not started, three wrong."""

import mlflow


def log_color(experiment_name: str, color: str) -> str:
    """Log ``color`` as the param ``color`` in a new run and return the run id."""
    raise NotImplementedError("Write log_color.")


def log_size(experiment_name: str, size: int) -> str:
    """Log ``size`` as the param ``size`` in a new run and return the run id."""
    mlflow.set_experiment(experiment_name)
    with mlflow.start_run() as run:
        mlflow.log_param("size", size + 1)
    return run.info.run_id


def open_run(experiment_name: str) -> str:
    """Log the param ``color=blue`` in a new run, end it and return the run id."""
    mlflow.set_experiment(experiment_name)
    run = mlflow.start_run()
    mlflow.log_param("color", "blue")
    return run.info.run_id


def tracking_uri() -> str:
    """Return the tracking URI that MLflow logs to."""
    mlflow.set_tracking_uri("sqlite:///elsewhere.db")
    return mlflow.get_tracking_uri()


def registry_uri() -> str:
    """Return the registry URI that MLflow registers models in."""
    mlflow.set_registry_uri("sqlite:///registry-elsewhere.db")
    return mlflow.get_registry_uri()
'''

DEMO_REFERENCE = '''\
"""Kata phase9/demo, solved."""

import mlflow


def log_color(experiment_name: str, color: str) -> str:
    """Log ``color`` as the param ``color`` in a new run and return the run id."""
    mlflow.set_experiment(experiment_name)
    with mlflow.start_run() as run:
        mlflow.log_param("color", color)
    return run.info.run_id


def log_size(experiment_name: str, size: int) -> str:
    """Log ``size`` as the param ``size`` in a new run and return the run id."""
    mlflow.set_experiment(experiment_name)
    with mlflow.start_run() as run:
        mlflow.log_param("size", size)
    return run.info.run_id


def open_run(experiment_name: str) -> str:
    """Log the param ``color=blue`` in a new run, end it and return the run id."""
    mlflow.set_experiment(experiment_name)
    with mlflow.start_run() as run:
        mlflow.log_param("color", "blue")
    return run.info.run_id


def tracking_uri() -> str:
    """Return the tracking URI that MLflow logs to."""
    return mlflow.get_tracking_uri()


def registry_uri() -> str:
    """Return the registry URI that MLflow registers models in."""
    return mlflow.get_registry_uri()
'''

DEMO_SUITE = '''\
"""Suite of phase9/demo: tests of the solution, then checks of the sandbox from inside."""

import os
from pathlib import Path
from urllib.parse import unquote, urlparse

import mlflow
from mlflow.tracking import MlflowClient


def local_path(uri: str) -> Path:
    """Return the file path that a ``sqlite:///`` or ``file://`` URI names."""
    if uri.startswith("sqlite:///"):
        return Path(uri.removeprefix("sqlite:///"))
    return Path(unquote(urlparse(uri).path))


def is_inside(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


def test_telemetry_is_off():
    # This test comes first in the file, before any test logs. MLflow drops a telemetry
    # client whose config fetch failed, so a later check could pass with telemetry on.
    from mlflow.telemetry.client import get_telemetry_client

    assert os.environ.get("MLFLOW_DISABLE_TELEMETRY") == "true"
    assert get_telemetry_client() is None


def test_module_origin(solution):
    print(f"origin={solution.__file__}")


def test_logs_color_param(solution):
    run_id = solution.log_color("demo", "blue")

    assert MlflowClient().get_run(run_id).data.params == {"color": "blue"}


def test_logs_size_param(solution):
    run_id = solution.log_size("demo", 3)

    params = MlflowClient().get_run(run_id).data.params
    assert params == {"size": "3"}, f"log_size logged the params {params}, expected size=3."


def test_open_run_logs_color(solution):
    run_id = solution.open_run("demo")
    print(f"opened-run={run_id}")

    assert MlflowClient().get_run(run_id).data.params == {"color": "blue"}


def test_reads_tracking_uri(solution):
    assert solution.tracking_uri().startswith("sqlite:")


def test_reads_registry_uri(solution):
    assert solution.registry_uri().startswith("sqlite:")


def create_only_experiment():
    client = MlflowClient()
    names = [experiment.name for experiment in client.search_experiments()]
    assert names == ["Default"], f"The store already holds the experiments {names}."
    client.create_experiment("only-here")


def test_store_is_empty_first():
    create_only_experiment()


def test_store_is_empty_second():
    create_only_experiment()


def test_works_in_tmp_path(tmp_path):
    assert Path.cwd() == tmp_path.resolve()
    assert is_inside(local_path(mlflow.get_tracking_uri()), tmp_path)


def test_default_experiment_in_tmp_path(tmp_path):
    location = MlflowClient().get_experiment("0").artifact_location
    assert is_inside(local_path(location), tmp_path), location

    with mlflow.start_run() as run:
        mlflow.log_text("hello", "note.txt")

    assert run.info.experiment_id == "0"
    assert is_inside(local_path(run.info.artifact_uri), tmp_path), run.info.artifact_uri
    assert (local_path(run.info.artifact_uri) / "note.txt").is_file()


def log_snapshot_run() -> str:
    mlflow.set_experiment("snapshot")
    with mlflow.start_run() as run:
        mlflow.log_param("color", "blue")
        mlflow.log_text("logged in the call", "call.txt")
    return run.info.run_id


def check_snapshot_run(snapshot):
    run_id = snapshot.run_once("run", log_snapshot_run)
    print(f"snapshot-run={run_id}")

    assert MlflowClient().get_run(run_id).data.params == {"color": "blue"}


def check_snapshot_artifacts(snapshot, tmp_path):
    run_id = snapshot.run_once("artifacts", log_snapshot_run)

    with mlflow.start_run(run_id=run_id):
        mlflow.log_text("logged after the call", "after.txt")

    folder = local_path(MlflowClient().get_run(run_id).info.artifact_uri)
    assert is_inside(folder, tmp_path), folder
    assert (folder / "call.txt").is_file()
    assert (folder / "after.txt").is_file()


def check_snapshot_isolation(snapshot):
    run_id = snapshot.run_once("isolation", log_snapshot_run)
    client = MlflowClient()

    tags = client.get_run(run_id).data.tags
    assert "changed_by" not in tags, f"The run has changed_by={tags.get('changed_by')}."
    client.set_tag(run_id, "changed_by", os.environ["PYTEST_CURRENT_TEST"])


def test_snapshot_run_first(mlflow_snapshot):
    check_snapshot_run(mlflow_snapshot)


def test_snapshot_run_second(mlflow_snapshot):
    check_snapshot_run(mlflow_snapshot)


def test_snapshot_artifacts_first(mlflow_snapshot, tmp_path):
    check_snapshot_artifacts(mlflow_snapshot, tmp_path)


def test_snapshot_artifacts_second(mlflow_snapshot, tmp_path):
    check_snapshot_artifacts(mlflow_snapshot, tmp_path)


def test_snapshot_isolation_first(mlflow_snapshot):
    check_snapshot_isolation(mlflow_snapshot)


def test_snapshot_isolation_second(mlflow_snapshot):
    check_snapshot_isolation(mlflow_snapshot)


def test_changes_global_state():
    # This is the last kata test of the run. The plain tests that follow check that its
    # changes were undone.
    mlflow.set_experiment("changed")
    mlflow.autolog()
    os.environ["MLFLOW_TRACKING_URI"] = "sqlite:///changed.db"
'''

BROKEN_STUB = '''\
"""Kata phase9/broken with a syntax error on line 4."""


def greet(name: str) -> str
    return f"hello {name}"
'''

BROKEN_REFERENCE = '''\
"""Kata phase9/broken, solved."""


def greet(name: str) -> str:
    return f"hello {name}"
'''

BROKEN_SUITE = """\
def test_greets(solution):
    assert solution.greet("ada") == "hello ada"
"""

CRASH_STUB = '''\
"""Kata phase9/crash, which imports a name that MLflow does not have."""

from mlflow import no_such_function


def greet(name: str) -> str:
    return f"hello {name}"
'''

CRASH_REFERENCE = '''\
"""Kata phase9/crash, solved."""


def greet(name: str) -> str:
    return f"hello {name}"
'''

CRASH_SUITE = """\
def test_greets(solution):
    assert solution.greet("ada") == "hello ada"
"""

PLAIN_SUITE = f'''\
"""Tests outside any kata folder, which the plugin must leave alone."""

import os
from pathlib import Path

import mlflow
from mlflow.tracking import fluent
from mlflow.utils.autologging_utils import autologging_is_disabled

OUTER_URI = {OUTER_URI!r}


def test_runs_without_sandbox(mlflow_sandbox):
    assert mlflow_sandbox is None
    assert Path.cwd() == Path(__file__).resolve().parent.parent
    assert os.environ.get("MLFLOW_TRACKING_URI") == OUTER_URI


def test_state_is_restored():
    assert os.environ.get("MLFLOW_TRACKING_URI") == OUTER_URI
    assert mlflow.get_tracking_uri() == OUTER_URI
    assert fluent._active_experiment_id is None
    assert autologging_is_disabled("mlflow")


def test_solution_needs_kata(solution):
    pass
'''

PROJECT_FILES = {
    # The import mode of the repository. The file also makes the project folder the rootdir,
    # so no configuration file above it applies.
    "pytest.ini": "[pytest]\naddopts = --import-mode=importlib\n",
    "katas/katas.toml": MANIFEST,
    "katas/phase9/demo/demo.py": DEMO_STUB,
    "katas/phase9/demo/test_demo.py": DEMO_SUITE,
    "katas/phase9/broken/broken.py": BROKEN_STUB,
    "katas/phase9/broken/test_broken.py": BROKEN_SUITE,
    "katas/phase9/crash/crash.py": CRASH_STUB,
    "katas/phase9/crash/test_crash.py": CRASH_SUITE,
    "reference/phase9/demo/demo.py": DEMO_REFERENCE,
    "reference/phase9/broken/broken.py": BROKEN_REFERENCE,
    "reference/phase9/crash/crash.py": CRASH_REFERENCE,
    PLAIN_TEST_FILE: PLAIN_SUITE,
}


def write_files(root: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def seed_cache(cache_dir: Path, template: Path) -> Path:
    """Put a copy of ``template`` where the plugin looks for its template in ``cache_dir``."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, sandboxes.template_path(cache_dir))
    return cache_dir


def files_under(root: Path) -> set[str]:
    """Return the files under ``root``, without bytecode caches."""
    return {
        path.relative_to(root).as_posix()
        for path in root.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }


@dataclass
class TrackRun:
    """One pytest run over the tiny track, with its exit code, output and katas report."""

    exit_code: int
    output: str
    report: dict
    # The project folder and the files the run added to it, set by make_track_run.
    project: str = ""
    new_files: list[str] = field(default_factory=list)

    def result(self, test_name: str, test_file: str = KATA_TEST_FILE) -> dict:
        """Return the report entry of one kata test."""
        nodeid = f"{test_file}::{test_name}"
        for kata in self.report["katas"].values():
            for result in kata["tests"]:
                if result["nodeid"] == nodeid:
                    return result
        raise AssertionError(f"{nodeid} is not in the katas report. Output:\n{self.output}")

    def outcomes(self) -> dict[str, str]:
        """Return the outcome of every kata test, by node id."""
        return {
            result["nodeid"]: result["outcome"]
            for kata in self.report["katas"].values()
            for result in kata["tests"]
        }

    def printed(self, name: str) -> list[str]:
        """Return the values that tests printed as ``name=value``."""
        return re.findall(rf"^{name}=(\S+)$", self.output, flags=re.MULTILINE)


def read_report(path: Path, output: str) -> dict:
    if not path.is_file():
        raise AssertionError(f"The run wrote no katas report to {path}. Output:\n{output}")
    return json.loads(path.read_text(encoding="utf-8"))


def run_isolated(project: Path, basetemp: Path, cache_dir: Path, *args: str) -> TrackRun:
    """Run pytest on ``project`` in a fresh process, with temporary files kept outside it.

    The process starts from this environment without the variables of pytest, of MLflow's
    location and of the offline settings, so the plugin has to apply its own settings.
    """
    removed = {*sandboxes.MLFLOW_LOCATION_VARIABLES, *sandboxes.OFFLINE_ENVIRONMENT}
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("PYTEST_") and name not in removed
    }
    environment.update(
        KATAS_CACHE_DIR=str(cache_dir),
        MLFLOW_TRACKING_URI=OUTER_URI,
        PYTHONDONTWRITEBYTECODE="1",
    )
    report_path = basetemp.parent / "report.json"
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        f"--basetemp={basetemp}",
        f"--katas-report={report_path}",
        "-rA",
        *args,
    ]
    completed = subprocess.run(
        command,
        cwd=project,
        env=environment,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_SECONDS,
    )
    output = completed.stdout + completed.stderr
    return TrackRun(completed.returncode, output, read_report(report_path, output))


def run_in_pytester(pytester: pytest.Pytester, *args: str) -> TrackRun:
    """Run pytest on the pytester folder in a subprocess and read its katas report."""
    report_path = pytester.path.parent / f"{pytester.path.name}-report.json"
    result = pytester.runpytest_subprocess(
        "-p",
        "no:cacheprovider",
        f"--katas-report={report_path}",
        "-rA",
        *args,
        timeout=RUN_TIMEOUT_SECONDS,
    )
    output = "\n".join(result.outlines + result.errlines)
    return TrackRun(result.ret, output, read_report(report_path, output))


def make_track_run(folder: Path, template: Path, *args: str) -> TrackRun:
    """Write the track into ``folder``, run pytest on it and note the files the run added."""
    project = folder / "project"
    write_files(project, PROJECT_FILES)
    cache_dir = seed_cache(folder / "cache", template)
    before = files_under(project)

    run = run_isolated(project, folder / "basetemp", cache_dir, *args)
    run.project = str(project)
    run.new_files = sorted(files_under(project) - before)
    return run


@contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` while the block runs. Closing the file releases it."""
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def shared_track_run(
    factory: pytest.TempPathFactory, template: Path, name: str, *args: str
) -> TrackRun:
    """Return the track run ``name``, made once per session.

    Under pytest-xdist every worker that gets a test of this module requests the run. The
    first makes it in the folder that all workers of the session share and saves it there,
    and the others wait on a lock and read it. Without fcntl (on Windows) each worker makes
    its own run.
    """
    if fcntl is None or "PYTEST_XDIST_WORKER" not in os.environ:
        return make_track_run(factory.mktemp(name), template, *args)

    shared = factory.getbasetemp().parent
    saved = shared / f"{name}.json"
    with exclusive_lock(shared / f"{name}.lock"):
        if saved.is_file():
            return TrackRun(**json.loads(saved.read_text(encoding="utf-8")))
        run = make_track_run(shared / name, template, *args)
        saved.write_text(json.dumps(asdict(run)), encoding="utf-8")
    return run


@pytest.fixture(scope="module")
def stub_run(tmp_path_factory: pytest.TempPathFactory, katas_template_store: Path) -> TrackRun:
    """The whole track and the plain tests, run against the default solutions (the stubs)."""
    # The kata folders come before plain/, so the plain tests run after every kata test.
    return shared_track_run(tmp_path_factory, katas_template_store, "stub-run", "katas", "plain")


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory: pytest.TempPathFactory, katas_template_store: Path) -> TrackRun:
    """The whole track with ``--solutions reference``."""
    return shared_track_run(
        tmp_path_factory, katas_template_store, "reference-run", "--solutions", "reference", "katas"
    )


@pytest.fixture
def project(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, katas_template_store: Path
) -> Path:
    """The tiny track in the pytester folder, with a cache of its own."""
    write_files(pytester.path, PROJECT_FILES)
    cache_dir = seed_cache(pytester.path / "cache", katas_template_store)
    monkeypatch.setenv("KATAS_CACHE_DIR", str(cache_dir))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", OUTER_URI)
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID"):
        monkeypatch.delenv(name, raising=False)
    return pytester.path


def assert_outcome(run: TrackRun, test_name: str, expected: str) -> dict:
    result = run.result(test_name)
    assert result["outcome"] == expected, result["message"] or run.output
    return result


# -- the solution switch ---------------------------------------------------------------------


def test_default_loads_stub(stub_run):
    expected = Path(stub_run.project) / "katas/phase9/demo/demo.py"

    assert stub_run.printed("origin") == [str(expected.resolve())]


def test_reference_option_loads_reference(reference_run):
    expected = Path(reference_run.project) / "reference/phase9/demo/demo.py"

    assert reference_run.printed("origin") == [str(expected.resolve())]


def test_reference_passes_every_test(reference_run):
    failed = {
        nodeid: outcome
        for nodeid, outcome in reference_run.outcomes().items()
        if outcome != "passed"
    }

    assert failed == {}, reference_run.output
    assert reference_run.exit_code == 0, reference_run.output


def test_submission_tree_by_relative_path(pytester, project):
    write_files(project, {"submissions/ada/phase9/demo/demo.py": DEMO_REFERENCE})

    run = run_in_pytester(
        pytester, "--solutions", "submissions/ada", "-k", SOLUTION_TESTS, "katas/phase9/demo"
    )

    expected = project / "submissions/ada/phase9/demo/demo.py"
    assert run.printed("origin") == [str(expected.resolve())]
    assert_outcome(run, "test_logs_color_param", "passed")


def test_submission_checkout_by_absolute_path(pytester, project):
    checkout = project / "submissions/grace"
    write_files(checkout, {"katas/phase9/demo/demo.py": DEMO_REFERENCE})

    run = run_in_pytester(
        pytester, "--solutions", str(checkout), "-k", SOLUTION_TESTS, "katas/phase9/demo"
    )

    expected = checkout / "katas/phase9/demo/demo.py"
    assert run.printed("origin") == [str(expected.resolve())]
    assert_outcome(run, "test_logs_color_param", "passed")


def test_invalid_solutions_is_usage_error(pytester, project):
    # In process, because the run stops while pytest configures, before MLflow is used.
    result = pytester.runpytest_inprocess("--solutions", "no-such-folder", "katas/phase9/demo")

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: --solutions 'no-such-folder' is not 'katas', 'reference' or an existing folder.*"]
    )


# -- outcomes and the summary ----------------------------------------------------------------


def test_syntax_error_does_not_import(stub_run):
    result = stub_run.result("test_greets", "katas/phase9/broken/test_broken.py")

    assert result["outcome"] == "does not import"
    assert "syntax error in broken.py, line 4" in result["message"]
    assert "Traceback" not in result["message"]
    assert len(result["message"].splitlines()) <= 6, result["message"]


def test_import_error_does_not_import(stub_run):
    result = stub_run.result("test_greets", "katas/phase9/crash/test_crash.py")
    message = result["message"]

    assert result["outcome"] == "does not import"
    assert "ImportError in crash.py, line 3" in message
    assert "no_such_function" in message
    assert "checks/solutions.py" not in message, message
    assert "importlib" not in message, message
    assert len(message.splitlines()) <= 6, message


def test_not_implemented_is_not_started(stub_run):
    result = assert_outcome(stub_run, "test_logs_color_param", "not started")

    assert "log_color() is not started yet. Line 8 of demo.py" in result["message"]
    assert "NotImplementedError: Write log_color." in result["message"]


def test_wrong_answer_is_failing(stub_run):
    result = assert_outcome(stub_run, "test_logs_size_param", "failing")

    assert "log_size logged the params {'size': '4'}, expected size=3." in result["message"]


def test_summary_lists_each_kata(stub_run):
    lines = stub_run.output.splitlines()
    start = next(index for index, line in enumerate(lines) if re.match(r"=+ katas =+$", line))
    summary = [re.split(r"\s{2,}", line) for line in lines[start + 1 : start + 4]]

    assert summary == [
        ["phase9/broken", "does not import", "0/1 tests passed"],
        ["phase9/crash", "does not import", "0/1 tests passed"],
        ["phase9/demo", "failing", "13/18 tests passed"],
    ]


def test_report_header_names_solutions(stub_run):
    header = next(line for line in stub_run.output.splitlines() if line.startswith("katas:"))

    assert "solutions=katas" in header
    assert f"mlflow {mlflow.__version__}" in header


# -- the sandbox -----------------------------------------------------------------------------


def test_store_starts_empty(stub_run):
    assert_outcome(stub_run, "test_store_is_empty_first", "passed")
    assert_outcome(stub_run, "test_store_is_empty_second", "passed")


def test_works_in_tmp_path(stub_run):
    assert_outcome(stub_run, "test_works_in_tmp_path", "passed")


def test_telemetry_is_off(stub_run):
    assert_outcome(stub_run, "test_telemetry_is_off", "passed")


def test_project_folder_stays_clean(stub_run):
    assert stub_run.new_files == []


def test_default_experiment_in_tmp_path(stub_run):
    assert_outcome(stub_run, "test_default_experiment_in_tmp_path", "passed")


def test_global_state_restored(stub_run):
    assert f"PASSED {PLAIN_TEST_FILE}::test_state_is_restored" in stub_run.output


def test_leaked_run_fails(stub_run):
    result = assert_outcome(stub_run, "test_open_run_logs_color", "failing")
    [run_id] = stub_run.printed("opened-run")

    assert f"left 1 run(s) active after it returned: {run_id}." in result["message"]
    assert "Use `with mlflow.start_run(...):`" in result["message"]


def test_repointed_uri_fails(stub_run):
    result = assert_outcome(stub_run, "test_reads_tracking_uri", "failing")

    assert "Your code pointed MLflow at 'sqlite:///elsewhere.db'" in result["message"]
    assert "its own throwaway store" in result["message"]
    assert "Remove the call" in result["message"]


def test_repointed_registry_uri_fails(stub_run):
    result = assert_outcome(stub_run, "test_reads_registry_uri", "failing")

    assert "pointed the model registry at 'sqlite:///registry-elsewhere.db'" in result["message"]
    assert "Remove the call" in result["message"]


# -- mlflow_snapshot -------------------------------------------------------------------------


def test_snapshot_keeps_run_id(stub_run):
    assert_outcome(stub_run, "test_snapshot_run_first", "passed")
    assert_outcome(stub_run, "test_snapshot_run_second", "passed")

    first, second = stub_run.printed("snapshot-run")
    assert first == second


def test_snapshot_artifacts_stay_local(stub_run):
    assert_outcome(stub_run, "test_snapshot_artifacts_first", "passed")
    assert_outcome(stub_run, "test_snapshot_artifacts_second", "passed")


def test_snapshot_changes_stay_private(stub_run):
    assert_outcome(stub_run, "test_snapshot_isolation_first", "passed")
    assert_outcome(stub_run, "test_snapshot_isolation_second", "passed")


# -- tests outside a kata --------------------------------------------------------------------


def test_plain_test_has_no_sandbox(stub_run):
    assert f"PASSED {PLAIN_TEST_FILE}::test_runs_without_sandbox" in stub_run.output


def test_plain_test_solution_is_usage_error(stub_run):
    assert f"ERROR {PLAIN_TEST_FILE}::test_solution_needs_kata" in stub_run.output
    assert "The solution fixture only works in a kata suite" in stub_run.output


def test_plain_tests_not_in_report(stub_run):
    assert not any(nodeid.startswith("plain/") for nodeid in stub_run.outcomes())


# -- pytest-xdist ----------------------------------------------------------------------------


def test_xdist_gives_same_outcomes(pytester, project, stub_run):
    run = run_in_pytester(pytester, "-p", "xdist", "-n", "2", "katas", "plain")

    assert run.outcomes() == stub_run.outcomes()
    for kata, summary in stub_run.report["katas"].items():
        parallel = run.report["katas"][kata]
        assert (parallel["outcome"], parallel["passed"], parallel["total"]) == (
            summary["outcome"],
            summary["passed"],
            summary["total"],
        )


# -- kept runs, timeouts and a missing reference folder ------------------------------------


def test_keep_runs_copies_store_for_ui(pytester, project):
    write_files(project, {"submissions/ada/phase9/demo/demo.py": DEMO_REFERENCE})

    run_in_pytester(
        pytester,
        "--solutions",
        "submissions/ada",
        "--keep-runs",
        "-k",
        "test_logs_color_param",
        "katas/phase9/demo",
    )

    kept = project / ".katas/runs/phase9/demo/test_logs_color_param"
    client = mlflow.MlflowClient(sandboxes.sqlite_uri(kept / "mlflow.db"))
    [experiment] = [e for e in client.search_experiments() if e.name != "Default"]
    [run] = client.search_runs([experiment.experiment_id])
    assert run.data.params == {"color": "blue"}
    assert Path(unquote(urlparse(run.info.artifact_uri).path)).is_relative_to(kept)


def test_hanging_test_times_out_with_message(pytester, project):
    write_files(
        project,
        {
            "katas/phase9/demo/demo.py": DEMO_STUB.replace(
                '    raise NotImplementedError("Write log_color.")',
                "    import time\n\n    time.sleep(30)\n    return ''",
            )
        },
    )

    run = run_in_pytester(
        pytester, "--kata-timeout", "1", "-k", "test_logs_color_param", "katas/phase9/demo"
    )

    result = assert_outcome(run, "test_logs_color_param", "failing")
    assert "Timed out after 1 s" in result["message"]


def test_missing_reference_folder_is_usage_error(pytester, project):
    shutil.rmtree(project / "reference")

    result = pytester.runpytest_subprocess("--solutions", "reference", "katas/phase9/demo")

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --solutions reference needs the folder*"])
