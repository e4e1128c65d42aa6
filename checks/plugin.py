"""The pytest plugin that runs kata suites against a throwaway MLflow.

Hooks are in lifecycle order: options, configure, report header, fixtures, the test call
and its report, then the session summary.
"""

from __future__ import annotations

import atexit
import copy
import gc
import getpass
import json
import logging
import os
import re
import tempfile
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from checks import sandbox as sandboxes
from checks.grading import signature
from checks.outcomes import Outcome, kata_outcome
from checks.solutions import (
    SOLUTION_ROOT_NAMES,
    InvalidSolutionsRoot,
    KataLocation,
    SolutionImportError,
    load_solution,
    locate_kata,
    resolve_solutions_root,
    solution_path,
    solutions_folder,
    unload_solution,
)

logger = logging.getLogger(__name__)

KEPT_STORES_KEY = pytest.StashKey[list[Path]]()
SANDBOX_KEY = pytest.StashKey["sandboxes.Sandbox"]()
SOLUTION_FILE_KEY = pytest.StashKey[Path]()
OUTCOME_PROPERTY = "katas_outcome"
TASK_PROPERTY = "katas_task"
KATA_PROPERTY = "katas_kata"
REPORT_KEY = pytest.StashKey[bytes]()
# A test's printed output kept in the JSON report: the end of it, where errors show.
MAX_REPORTED_OUTPUT = 4000


# Warnings that MLflow 3.17 and its dependencies raise on every run. They tell nothing about
# the learner's code and would bury the failures that do.
THIRD_PARTY_NOISE = (
    "ignore::sqlalchemy.exc.SADeprecationWarning",
    "ignore:Operation with range is deprecated",
    "ignore:Hint. Inferred schema contains integer column",
    "ignore:Starting with pandas version 4.0 all arguments",
    "ignore:The inplace keyword in DataFrame.drop",
)


# A kata test takes seconds; half a minute means the code under test loops or waits forever.
DEFAULT_KATA_TIMEOUT = 30.0
KEPT_RUNS_FOLDER = Path(".katas") / "runs"


# -- options and configuration ---------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("katas", "MLflow katas")
    group.addoption(
        "--solutions",
        default="katas",
        metavar="katas|reference|PATH",
        help=(
            "Where the modules under test come from: 'katas' (the learner's stubs in this "
            "checkout), 'reference' (the hidden reference solutions) or a submission folder. "
            "Default: katas."
        ),
    )
    group.addoption(
        "--keep-runs",
        action="store_true",
        help=(
            "Copy each kata test's MLflow store to .katas/runs/<phase>/<kata>/<test>/ in the "
            "checkout, to browse with the MLflow UI. Default: stores are thrown away."
        ),
    )
    group.addoption(
        "--kata-timeout",
        type=float,
        default=DEFAULT_KATA_TIMEOUT,
        metavar="SECONDS",
        help=(
            "Fail a kata test that runs longer than this, so code that never returns cannot "
            f"hang the run. Needs pytest-timeout. Default: {DEFAULT_KATA_TIMEOUT:g}."
        ),
    )
    group.addoption(
        "--katas-report",
        default=None,
        metavar="FILE",
        help="Write every kata test's outcome and message to FILE as JSON. Default: no file.",
    )


def pytest_configure(config: pytest.Config) -> None:
    # Before anything else, so no learner module is ever imported while the key is readable.
    report_key = signature.take_key_from_environment()
    if report_key is not None:
        config.stash[REPORT_KEY] = report_key
    config.addinivalue_line(
        "markers", "task(number): the kata README task that the test checks, counted from 1"
    )
    for warning_filter in THIRD_PARTY_NOISE:
        config.addinivalue_line("filterwarnings", warning_filter)
    sandboxes.apply_offline_environment()
    sandboxes.cache_schema_revision()
    # MLflow logs every experiment it creates at INFO level; in a failure's captured output
    # that only hides the message that matters.
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    # After MLflow has been used, the interpreter's final garbage collection walks a heap of
    # several hundred thousand objects and takes most of a second. Freezing the heap when
    # the process exits skips that walk; objects are still released by reference counting.
    atexit.register(gc.freeze)
    _check_solutions_option(config)
    _check_report_option(config)
    config.pluginmanager.register(KataResults(config), "katas-results")


def _check_solutions_option(config: pytest.Config) -> None:
    """Make a ``--solutions`` folder absolute, or stop the run when it does not exist.

    A relative path is taken from the folder pytest was started in. The sandbox later moves
    every kata test into its own temporary folder, where the same path would name nothing.
    """
    choice = config.getoption("solutions")
    if choice in SOLUTION_ROOT_NAMES:
        return
    try:
        folder = solutions_folder(choice, config.invocation_params.dir)
    except InvalidSolutionsRoot as error:
        raise pytest.UsageError(str(error)) from None
    config.option.solutions = str(folder)


def _check_report_option(config: pytest.Config) -> None:
    """Make the ``--katas-report`` path absolute and create its folder before tests run."""
    report = config.getoption("katas_report")
    if not report:
        return
    path = (config.invocation_params.dir / report).resolve()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise pytest.UsageError(
            f"--katas-report {report!r}: cannot create the folder {path.parent}: {error}."
        ) from None
    config.option.katas_report = str(path)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Check the solutions root once per track, and give kata tests a timeout."""
    checked: set[Path] = set()
    timeout = config.getoption("kata_timeout")
    has_timeout_plugin = config.pluginmanager.hasplugin("timeout")
    for item in items:
        location = locate_kata(item.path)
        if location is None:
            continue
        if location.track_root not in checked:
            checked.add(location.track_root)
            try:
                resolve_solutions_root(config.getoption("solutions"), location.track_root)
            except InvalidSolutionsRoot as error:
                raise pytest.UsageError(str(error)) from None
        if has_timeout_plugin and timeout > 0 and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(timeout))
        _use_short_failure_text(item, location)


def _use_short_failure_text(item: pytest.Item, location: KataLocation) -> None:
    """Give the item's failures the learner's short message before pytest formats them.

    pytest formats a full traceback for every failure, and through deep library stacks
    (starlette, anyio, MLflow) that takes most of a second per test. The report hook would
    replace it with the short message anyway, so the traceback is only formatted when no
    short message applies.
    """
    formatted = item._repr_failure_py

    def repr_failure(excinfo: pytest.ExceptionInfo[BaseException], *args, **kwargs):
        call = _ExceptionOnly(excinfo)
        message = _learner_message(item, call, _outcome_of_error(item, call), location)
        return message if message is not None else formatted(excinfo, *args, **kwargs)

    item._repr_failure_py = repr_failure  # type: ignore[method-assign]


@dataclass(frozen=True)
class _ExceptionOnly:
    """The part of a ``pytest.CallInfo`` that the failure messages read."""

    excinfo: pytest.ExceptionInfo[BaseException]


def pytest_report_header(config: pytest.Config, start_path: Path) -> list[str]:
    import mlflow

    choice = config.getoption("solutions")
    return [f"katas: solutions={choice}, mlflow {mlflow.__version__}, store=sqlite per test"]


# -- fixtures -------------------------------------------------------------------------------


def template_cache_dir() -> Path:
    """Return the folder for the template store: KATAS_CACHE_DIR, or one in the temp folder."""
    configured = os.environ.get("KATAS_CACHE_DIR")
    if configured:
        return Path(configured)
    return Path(tempfile.gettempdir()) / f"katas-cache-{getpass.getuser()}"


@pytest.fixture(scope="session")
def katas_template_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build or reuse the migrated SQLite store that every kata test starts from a copy of."""
    sandboxes.speed_up_sqlite_under(tmp_path_factory.getbasetemp())
    return sandboxes.ensure_template(template_cache_dir())


@pytest.fixture(autouse=True)
def mlflow_sandbox(request: pytest.FixtureRequest) -> Iterator[sandboxes.Sandbox | None]:
    """Give each kata test its own MLflow store, artifact root and working folder.

    Tests outside a kata folder get None and an untouched environment.
    """
    import mlflow

    if locate_kata(request.path) is None:
        yield None
        return

    template = request.getfixturevalue("katas_template_store")
    tmp_path: Path = request.getfixturevalue("tmp_path")
    sandbox = sandboxes.create_sandbox(template, tmp_path)

    patch = pytest.MonkeyPatch()
    try:
        for name in sandboxes.MLFLOW_LOCATION_VARIABLES:
            patch.delenv(name, raising=False)
        patch.setenv("MLFLOW_TRACKING_URI", sandbox.tracking_uri)
        patch.setenv("MLFLOW_REGISTRY_URI", sandbox.registry_uri)
        patch.chdir(sandbox.root)
        sandboxes.reset_global_state()
        mlflow.set_tracking_uri(sandbox.tracking_uri)
        mlflow.set_registry_uri(sandbox.registry_uri)
        request.node.stash[SANDBOX_KEY] = sandbox
        with sandboxes.fast_requirement_inference():
            yield sandbox
    finally:
        sandboxes.end_leaked_runs()
        if request.config.getoption("keep_runs"):
            _keep_runs(request, sandbox)
        sandboxes.reset_global_state()
        patch.undo()


def _keep_runs(request: pytest.FixtureRequest, sandbox: sandboxes.Sandbox) -> None:
    """Copy the test's store to the checkout's .katas/runs folder for the MLflow UI."""
    location = locate_kata(request.path)
    assert location is not None
    test_name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name).strip("_")
    destination = location.track_root.parent / KEPT_RUNS_FOLDER / location.kata_id / test_name
    try:
        sandboxes.keep_store(sandbox, destination)
        request.config.stash.setdefault(KEPT_STORES_KEY, []).append(destination)
    except OSError as error:
        logger.warning(
            "Could not keep the runs of %s in %s: %s", request.node.nodeid, destination, error
        )


@dataclass
class _SnapshotEntry:
    folder: Path
    source_root: Path
    value: object


@pytest.fixture(scope="module")
def _snapshot_entries() -> dict[str, _SnapshotEntry]:
    return {}


@pytest.fixture(scope="module")
def _timed_out_calls() -> dict[str, str]:
    """Record the run_once keys whose call timed out, with the test that ran each."""
    return {}


class MlflowSnapshot:
    """Run an expensive learner call once per module and replay its MLflow state after.

    Many tests read the state that one call of the learner's code leaves (a training run,
    say). The first test to ask runs the call in its own sandbox and saves the store and
    files. Later tests start from a copy of them in their own sandbox. Every test still
    has a private store, so a test that changes state cannot affect another, and results
    do not depend on test order. A call that raises is not saved, so each test reruns it.
    """

    def __init__(
        self,
        sandbox: sandboxes.Sandbox,
        entries: dict[str, _SnapshotEntry],
        folder_factory: pytest.TempPathFactory,
        test_name: str = "",
        timed_out: dict[str, str] | None = None,
    ) -> None:
        self._sandbox = sandbox
        self._entries = entries
        self._folder_factory = folder_factory
        self._test_name = test_name
        self._timed_out = {} if timed_out is None else timed_out

    def run_once(self, key: str, call):
        """Return ``call()``'s value, running it only if no earlier test saved ``key``."""
        entry = self._entries.get(key)
        if entry is not None:
            sandboxes.restore_snapshot(entry.folder, entry.source_root, self._sandbox)
            return copy.deepcopy(entry.value)

        if key in self._timed_out:
            raise pytest.fail.Exception(
                f"Timeout: not run again, because {self._timed_out[key]} ran out of time on "
                "this call. Fix that test first."
            )
        try:
            value = call()
        except pytest.fail.Exception as failure:
            # A call that timed out would time out again in every later test, at a minute
            # each, so later tests fail at once instead.
            if str(failure).startswith("Timeout"):
                self._timed_out[key] = self._test_name
            raise
        folder = self._folder_factory.mktemp("snapshot") / "state"
        sandboxes.save_snapshot(self._sandbox, folder)
        self._entries[key] = _SnapshotEntry(folder, self._sandbox.root, copy.deepcopy(value))
        return value


@pytest.fixture
def mlflow_snapshot(
    request: pytest.FixtureRequest,
    mlflow_sandbox: sandboxes.Sandbox | None,
    _snapshot_entries: dict[str, _SnapshotEntry],
    _timed_out_calls: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> MlflowSnapshot:
    """Replay the MLflow state of a learner call that an earlier test in the module made."""
    if mlflow_sandbox is None:
        raise pytest.UsageError("mlflow_snapshot only works in a kata suite.")
    return MlflowSnapshot(
        mlflow_sandbox, _snapshot_entries, tmp_path_factory, request.node.name, _timed_out_calls
    )


@pytest.fixture
def solution(request: pytest.FixtureRequest, mlflow_sandbox: sandboxes.Sandbox | None):
    """Load the module under test from the root chosen with ``--solutions``."""
    location = locate_kata(request.path)
    if location is None:
        raise pytest.UsageError(
            f"The solution fixture only works in a kata suite, a file "
            f"<track>/<phase>/<kata>/test_<kata>.py under a folder holding katas.toml; "
            f"{request.path} is not one."
        )
    try:
        root = resolve_solutions_root(request.config.getoption("solutions"), location.track_root)
    except InvalidSolutionsRoot as error:
        raise pytest.UsageError(str(error)) from None

    path = solution_path(root, location.kata_id)
    request.node.stash[SOLUTION_FILE_KEY] = path
    module = load_solution(location.kata_id, path)
    try:
        yield module
    finally:
        unload_solution(location.kata_id)


# -- the test call and its report --------------------------------------------------------------


class SandboxViolation(AssertionError):
    """Raised when learner code re-points MLflow away from the test's store."""


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    import mlflow

    sandbox = item.stash.get(SANDBOX_KEY, None)
    if sandbox is None:
        return (yield)

    failed = True
    try:
        result = yield
        failed = False
        return result
    finally:
        tracking_uri = mlflow.get_tracking_uri()
        registry_uri = mlflow.get_registry_uri()
        leaked = sandboxes.end_leaked_runs()
        if tracking_uri != sandbox.tracking_uri:
            raise SandboxViolation(_repointed_message(tracking_uri, sandbox)) from None
        if registry_uri != sandbox.registry_uri:
            raise SandboxViolation(_repointed_registry_message(registry_uri, sandbox)) from None
        if leaked and not failed:
            raise SandboxViolation(_leaked_runs_message(leaked)) from None


def _repointed_message(tracking_uri: str, sandbox: sandboxes.Sandbox) -> str:
    return (
        f"Your code pointed MLflow at {tracking_uri!r} (mlflow.set_tracking_uri or "
        f"MLFLOW_TRACKING_URI), but every kata test gives MLflow its own throwaway store, "
        f"{sandbox.tracking_uri!r}, and reads the results from there.\n"
        "Remove the call: the tracking URI belongs to the environment a program runs in, "
        "not to the code, so the same code can log to a laptop store, a team server or CI."
    )


def _repointed_registry_message(registry_uri: str, sandbox: sandboxes.Sandbox) -> str:
    return (
        f"Your code pointed the model registry at {registry_uri!r} (mlflow.set_registry_uri "
        f"or MLFLOW_REGISTRY_URI), but every kata test gives the registry the same throwaway "
        f"store as tracking, {sandbox.registry_uri!r}, and reads registered models from there.\n"
        "Remove the call: like the tracking URI, the registry URI belongs to the environment "
        "a program runs in, not to the code."
    )


def _leaked_runs_message(run_ids: list[str]) -> str:
    listed = ", ".join(run_ids)
    return (
        f"Your code left {len(run_ids)} run(s) active after it returned: {listed}.\n"
        "An active run keeps status RUNNING and collects whatever is logged next, even by "
        "other code. Use `with mlflow.start_run(...):` so the run ends (FINISHED, or FAILED "
        "on an exception) when the block ends, or call mlflow.end_run()."
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Iterator[pytest.TestReport]:
    report: pytest.TestReport = yield
    location = locate_kata(item.path)
    if location is None:
        return report

    outcome = _classify(item, call, report)
    if outcome is None:
        return report

    report.user_properties.append((KATA_PROPERTY, location.kata_id))
    report.user_properties.append((OUTCOME_PROPERTY, outcome.value))
    marker = item.get_closest_marker("task")
    if marker is not None and marker.args:
        report.user_properties.append((TASK_PROPERTY, int(marker.args[0])))

    if call.excinfo is not None and report.failed:
        report.longrepr = _learner_message(item, call, outcome, location) or report.longrepr
    return report


def _classify(
    item: pytest.Item, call: pytest.CallInfo[None], report: pytest.TestReport
) -> Outcome | None:
    """Return the test's outcome for the report that decides it, or None for other phases."""
    if report.when == "setup" and report.passed:
        return None
    if report.when == "teardown" and (report.passed or report.skipped):
        return None
    if report.skipped:
        return None
    if report.passed:
        return Outcome.PASSED

    return _outcome_of_error(item, call)


def _outcome_of_error(item: pytest.Item, call: pytest.CallInfo[None] | _ExceptionOnly) -> Outcome:
    """Return the outcome of a test that raised ``call.excinfo``."""
    error = call.excinfo.value if call.excinfo is not None else None
    if isinstance(error, SolutionImportError):
        return Outcome.DOES_NOT_IMPORT
    if isinstance(error, NotImplementedError) and _raised_in_solution(item, call):
        return Outcome.NOT_STARTED
    return Outcome.FAILING


def _raised_in_solution(item: pytest.Item, call: pytest.CallInfo[None]) -> bool:
    """Check that the exception was raised inside the module under test."""
    path = item.stash.get(SOLUTION_FILE_KEY, None)
    if path is None or call.excinfo is None:
        return False
    frames = traceback.extract_tb(call.excinfo.tb)
    return bool(frames) and Path(frames[-1].filename).resolve() == path.resolve()


def _learner_message(
    item: pytest.Item, call: pytest.CallInfo[None], outcome: Outcome, location: KataLocation
) -> str | None:
    """Return a short failure text for the cases where a traceback only gets in the way."""
    assert call.excinfo is not None
    error = call.excinfo.value

    if outcome is Outcome.DOES_NOT_IMPORT:
        assert isinstance(error, SolutionImportError)
        return f"{location.kata_id}: {error.summary}\n{error.detail}".rstrip()

    if outcome is Outcome.NOT_STARTED:
        frame = traceback.extract_tb(call.excinfo.tb)[-1]
        return (
            f"{location.kata_id}: {frame.name}() is not started yet. Line {frame.lineno} of "
            f"{Path(frame.filename).name} still raises NotImplementedError: {error}"
        )

    solution_file = item.stash.get(SOLUTION_FILE_KEY, None)
    learner_frames = _frames_in(call.excinfo.tb, solution_file)

    if isinstance(error, pytest.fail.Exception) and str(error).startswith("Timeout: not run"):
        reason = str(error).removeprefix("Timeout: ")
        return f"{item.path.name}: {item.name}\n{reason[:1].upper()}{reason[1:]}"

    if isinstance(error, pytest.fail.Exception) and str(error).startswith("Timeout"):
        timeout = item.config.getoption("kata_timeout")
        where = ""
        if learner_frames:
            frame = learner_frames[-1]
            where = (
                f" It was running {frame.name}(), line {frame.lineno} of "
                f"{Path(frame.filename).name}: {frame.line}"
            )
        return (
            f"{item.path.name}: {item.name}\n"
            f"Timed out after {timeout:g} s.{where}\nThe code may loop forever or wait for "
            "something that never comes. If it is only slow, raise the limit with "
            "--kata-timeout SECONDS."
        )

    full_traceback = item.config.getoption("tbstyle", "auto") == "long"
    if learner_frames and not isinstance(error, AssertionError) and not full_traceback:
        return _learner_exception_message(item, error, learner_frames, call.excinfo.tb)

    if isinstance(error, AssertionError) and not isinstance(error, pytest.fail.Exception):
        test_frame = _first_frame_in(call.excinfo.tb, item.path)
        where = f"{item.path.name}:{test_frame.lineno}" if test_frame else item.path.name
        return f"{where}: {item.name}\n{error}".rstrip()
    return None


def _frames_in(tb, path: Path | None) -> list[traceback.FrameSummary]:
    """Return the traceback frames that lie in ``path``, outermost first."""
    if path is None:
        return []
    target = path.resolve()
    return [frame for frame in traceback.extract_tb(tb) if Path(frame.filename).resolve() == target]


def _learner_exception_message(
    item: pytest.Item, error: BaseException, frames: list[traceback.FrameSummary], tb
) -> str:
    """Describe an exception raised in the learner's code by the learner's own frames.

    The frames of libraries below it and of the harness above it are left out: the learner
    acts on their own lines, and pytest's full traceback runs to hundreds of lines.
    """
    innermost = traceback.extract_tb(tb)[-1]
    lines = [
        f"{item.path.name}: {item.name}",
        f"Your code raised {type(error).__name__}: {error}",
    ]
    for frame in frames:
        lines.append(
            f"  {Path(frame.filename).name}, line {frame.lineno}, in {frame.name}: {frame.line}"
        )
    if Path(innermost.filename).resolve() != Path(frames[-1].filename).resolve():
        lines.append(f"  (raised inside {Path(innermost.filename).name}, line {innermost.lineno})")
    lines.append(
        "Tests of earlier tasks fail too while this function raises before it returns; "
        "run with --tb=long for the full traceback."
    )
    return "\n".join(lines)


def _first_frame_in(tb, path: Path) -> traceback.FrameSummary | None:
    """Return the outermost traceback frame in ``path``: the test function's line."""
    frames = _frames_in(tb, path)
    return frames[0] if frames else None


# -- session summary -----------------------------------------------------------------------


@dataclass
class TestResult:
    """One kata test's result as the plugin reports it."""

    nodeid: str
    kata: str
    outcome: str
    task: int | None
    message: str
    output: str = ""


@dataclass
class KataResults:
    """Collect kata test results from the reports and summarize them per kata.

    Registered as a plugin object at configure time. Under pytest-xdist the reports reach
    the controller with their user properties, so the summary covers every worker.
    """

    config: pytest.Config
    tests: dict[str, TestResult] = field(default_factory=dict)
    deselected: dict[str, int] = field(default_factory=dict)

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        for item in items:
            location = locate_kata(item.path)
            if location is not None:
                self.deselected[location.kata_id] = self.deselected.get(location.kata_id, 0) + 1

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        properties = dict(report.user_properties)
        outcome = properties.get(OUTCOME_PROPERTY)
        if outcome is None:
            return
        previous = self.tests.get(report.nodeid)
        # A failing teardown turns a passed call into a failure, never the other way round.
        if previous is not None and previous.outcome != Outcome.PASSED.value:
            return
        self.tests[report.nodeid] = TestResult(
            nodeid=report.nodeid,
            kata=properties[KATA_PROPERTY],
            outcome=outcome,
            task=properties.get(TASK_PROPERTY),
            message="" if report.passed else str(report.longrepr),
            output=_captured_output(report),
        )

    def by_kata(self) -> dict[str, list[TestResult]]:
        grouped: dict[str, list[TestResult]] = {}
        for result in self.tests.values():
            grouped.setdefault(result.kata, []).append(result)
        return dict(sorted(grouped.items()))

    def pytest_terminal_summary(self, terminalreporter) -> None:
        kept = self.config.stash.get(KEPT_STORES_KEY, [])
        if kept:
            terminalreporter.section("kept runs")
            terminalreporter.write_line(
                f"Kept the MLflow stores of {len(kept)} test(s) under {kept[0].parent}. "
                "Browse the newest in the MLflow UI with:"
            )
            terminalreporter.write_line("  katas ui")
            kata_id = f"{kept[-1].parent.parent.name}/{kept[-1].parent.name}"
            terminalreporter.write_line(
                f"or another test's store with: katas ui {kata_id} --test NAME "
                "(katas ui lists the kept tests)"
            )
        grouped = self.by_kata()
        if not grouped:
            return
        terminalreporter.section("katas")
        width = max(len(kata) for kata in grouped)
        for kata, tests in grouped.items():
            outcome = kata_outcome(Outcome(test.outcome) for test in tests)
            passed = sum(test.outcome == Outcome.PASSED.value for test in tests)
            line = f"{kata:<{width}}  {outcome.value:<15}  {passed}/{len(tests)} tests passed"
            if self.deselected.get(kata):
                # A -k or other selection ran part of the suite, so the kata as a whole is
                # not judged.
                line += f" ({self.deselected[kata]} deselected; run the whole kata to finish it)"
            terminalreporter.write_line(
                line,
                green=outcome is Outcome.PASSED,
                red=outcome is not Outcome.PASSED,
            )

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        report_path = self.config.getoption("katas_report")
        if not report_path or hasattr(self.config, "workerinput"):
            return
        katas = {}
        for kata, tests in self.by_kata().items():
            katas[kata] = {
                "outcome": kata_outcome(Outcome(test.outcome) for test in tests).value,
                "passed": sum(test.outcome == Outcome.PASSED.value for test in tests),
                "total": len(tests),
                "tests": [vars(test) for test in tests],
            }
        document = {"solutions": self.config.getoption("solutions"), "katas": katas}
        report_key = self.config.stash.get(REPORT_KEY, None)
        if report_key is not None:
            document = signature.sign(document, report_key)
        Path(report_path).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


def _captured_output(report: pytest.TestReport) -> str:
    """Return what the test printed to stdout and stderr, cut to its last lines."""
    output = report.capstdout + report.capstderr
    if len(output) > MAX_REPORTED_OUTPUT:
        output = "...\n" + output[-MAX_REPORTED_OUTPUT:]
    return output
