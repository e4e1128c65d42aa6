"""Grade one submission: a fresh workspace, its solution modules, the pristine suites.

The suites run in one isolated pytest process for all graded katas. When that process
crashes, hangs past its budget or leaves no report signed by the plugin, every kata without
a trustworthy result is graded again in a process of its own, so one kata's crash costs only
that kata.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from checks.grading import signature
from checks.grading.isolation import Protections, run_isolated
from checks.grading.pristine import PristineKata, PristineTrack, build_workspace
from checks.grading.submissions import Submission, SubmissionError, open_submission
from checks.grading.tampering import Finding, inspect_submission

logger = logging.getLogger(__name__)

# Variables a learner's shell or CI could set that would change what the suites see.
DROPPED_VARIABLES = ("PYTEST_ADDOPTS", "PYTEST_PLUGINS", "PYTHONSTARTUP", "PYTHONPATH")


class ResultCache:
    """Trusted kata results of one ``katas grade`` call, by kata and solution module content.

    Learners leave the stubs of katas they have not started byte for byte untouched, and
    graders meet copied files. So a module already graded against the same pristine suite
    gets the same result without another run.
    """

    def __init__(self) -> None:
        self._results: dict[tuple[str, str], dict] = {}
        self._lock = threading.Lock()
        self.hits = 0

    @staticmethod
    def key(entry: PristineKata, module: bytes) -> tuple[str, str]:
        return entry.kata.id, hashlib.sha256(module).hexdigest()

    def get(self, key: tuple[str, str]) -> dict | None:
        with self._lock:
            result = self._results.get(key)
            if result is not None:
                self.hits += 1
            return result

    def put(self, key: tuple[str, str], result: dict) -> None:
        with self._lock:
            self._results[key] = result


@dataclass(frozen=True)
class GradingSettings:
    """The limits and shared state that every submission of one ``katas grade`` call uses."""

    test_timeout: float
    submission_timeout: float
    protections: Protections
    cache_folder: Path
    results: ResultCache = field(default_factory=ResultCache)


@dataclass
class TestOutcome:
    """One pristine test's result for a submission."""

    test_id: str
    kata_id: str
    status: str  # pass, fail or error, as the Exercism results format names them
    outcome: str  # the plugin's words: passed, failing, not started, does not import
    message: str
    output: str
    task: int | None


@dataclass
class SubmissionGrade:
    """The tests, findings and notes that the results files report for one submission."""

    name: str
    source: Path
    tests: list[TestOutcome] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0


def grade_submission(
    source: Path, track: PristineTrack, settings: GradingSettings
) -> SubmissionGrade:
    """Grade the submission at ``source``; every failure becomes part of its grade."""
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(
            prefix="katas-grade-", ignore_cleanup_errors=True
        ) as folder:
            scratch = Path(folder)
            try:
                submission = open_submission(source, scratch)
            except SubmissionError as error:
                grade = SubmissionGrade(source.name, source, error=str(error))
            else:
                grade = _grade_opened(submission, track, settings, scratch, started)
    except Exception as error:  # one submission's failure must never end the batch
        logger.exception("Grading %s failed", source)
        grade = SubmissionGrade(
            source.name, source, error=f"The grader failed on this submission: {error!r}."
        )
    grade.seconds = time.monotonic() - started
    return grade


def _grade_opened(
    submission: Submission,
    track: PristineTrack,
    settings: GradingSettings,
    scratch: Path,
    started: float,
) -> SubmissionGrade:
    grade = SubmissionGrade(submission.name, submission.source)
    grade.findings.extend(inspect_submission(submission.root, track))

    workspace = scratch / "workspace"
    build_workspace(track, workspace)
    present = []
    keys = {}
    for entry in track.katas:
        module = submission.root / entry.module_path
        if module.is_file():
            shutil.copyfile(module, workspace / entry.module_path)
            present.append(entry)
            keys[entry.kata.id] = ResultCache.key(entry, module.read_bytes())
        else:
            missing = f"The submission has no {entry.module_path}; nothing to grade."
            grade.tests.extend(_unjudged(entry, missing))
            grade.notes.append(f"{entry.kata.id}: {missing}")
    if not present:
        grade.error = "The submission contains none of the graded solution modules."
        return grade

    results: dict[str, dict] = {}
    for entry in present:
        cached = settings.results.get(keys[entry.kata.id])
        if cached is not None:
            results[entry.kata.id] = cached
            grade.notes.append(
                f"{entry.kata.id}: a byte-identical module was graded earlier in this call; "
                "its result was reused."
            )
    to_run = [entry for entry in present if entry.kata.id not in results]
    runs = _run_with_fallback(to_run, workspace, scratch, settings, started, grade)
    for run in runs:
        for kata_id, result in run.katas.items():
            results[kata_id] = result
            if kata_id in keys:
                settings.results.put(keys[kata_id], result)

    if any(each.forged for each in runs):
        grade.findings.append(
            Finding(
                "forged-report",
                "katas-report.json",
                "A report file not signed by the grading run was found in its place; learner "
                "code wrote or changed it. Only signed results count.",
            )
        )
    for entry in present:
        grade.tests.extend(_kata_outcomes(entry, results.get(entry.kata.id), grade))
    return grade


@dataclass(frozen=True)
class SuiteRun:
    """The trusted results of one grading process, or why there are none."""

    katas: dict[str, dict]
    problem: str | None = None
    forged: bool = False


def _run_with_fallback(
    entries: list[PristineKata],
    workspace: Path,
    scratch: Path,
    settings: GradingSettings,
    started: float,
    grade: SubmissionGrade,
) -> list[SuiteRun]:
    """Run all katas in one process; when that fails, run each kata in a process of its own."""
    if not entries:
        return []
    deadline = started + settings.submission_timeout
    run = _run_suites(entries, workspace, scratch, settings, deadline, "all")
    if run.problem is None:
        return [run]
    if len(entries) == 1:
        grade.notes.append(f"{entries[0].kata.id}: {run.problem}")
        return [run]
    grade.notes.append(f"All katas in one run: {run.problem} Grading each kata on its own.")
    runs = [run]
    for entry in entries:
        single = _run_suites([entry], workspace, scratch, settings, deadline, entry.kata.slug)
        runs.append(single)
        if single.problem is not None:
            grade.notes.append(f"{entry.kata.id}: {single.problem}")
    return runs


def _run_suites(
    entries: list[PristineKata],
    workspace: Path,
    scratch: Path,
    settings: GradingSettings,
    deadline: float,
    label: str,
) -> SuiteRun:
    """Run the suites of ``entries`` in one isolated process and read its signed report."""
    remaining = deadline - time.monotonic()
    if remaining <= 1:
        return SuiteRun({}, "The submission's time budget ran out before this run could start.")

    report_path = scratch / f"report-{label}.json"
    keys = scratch / "keys"
    keys.mkdir(exist_ok=True)
    key_path, key = signature.new_key_file(keys)
    command = [
        sys.executable,
        "-m",
        "pytest",
        *[f"katas/{entry.kata.id}" for entry in entries],
        "--solutions=katas",
        f"--katas-report={report_path}",
        f"--kata-timeout={settings.test_timeout:g}",
        "-q",
        "-p",
        "no:cacheprovider",
        "--color=no",
    ]
    code, timed_out = run_isolated(
        command,
        protections=settings.protections,
        cwd=workspace,
        environment=_environment(scratch, key_path, settings),
        log_path=scratch / f"output-{label}.log",
        timeout=remaining,
    )
    key_path.unlink(missing_ok=True)

    if timed_out:
        return SuiteRun(
            {},
            f"The grading run was stopped after {remaining:.0f} s, the submission's remaining "
            "time budget.",
        )
    document = _read_report(report_path)
    if document is None:
        tail = _log_tail(scratch / f"output-{label}.log")
        return SuiteRun(
            {}, f"The grading run ended with exit code {code} and wrote no report.{tail}"
        )
    if not signature.is_signed_by(document, key):
        return SuiteRun(
            {}, "The report was not signed by the grading run, so none of it counts.", forged=True
        )
    reported = document.get("katas", {})
    # A kata the report leaves out entirely had every test vanish: all of them count as missing.
    return SuiteRun(
        {entry.kata.id: reported.get(entry.kata.id, {"tests": []}) for entry in entries}
    )


def _environment(scratch: Path, key_path: Path, settings: GradingSettings) -> dict[str, str]:
    environment = {
        name: value for name, value in os.environ.items() if name not in DROPPED_VARIABLES
    }
    environment = {
        name: value
        for name, value in environment.items()
        if not name.startswith(("MLFLOW_", "KATAS_"))
    }
    home = scratch / "home"
    temporary = scratch / "tmp"
    home.mkdir(exist_ok=True)
    temporary.mkdir(exist_ok=True)
    environment.update(
        {
            signature.KEY_FILE_VARIABLE: str(key_path),
            "KATAS_CACHE_DIR": str(settings.cache_folder),
            "HOME": str(home),
            "TMPDIR": str(temporary),
            "PYTHONDONTWRITEBYTECODE": "1",
            # One thread per numeric library: submissions grade side by side on every core.
            "OMP_NUM_THREADS": "1",
            "OPENBLAS_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            # Fewer malloc arenas keep the address space, and so the memory cap, meaningful.
            "MALLOC_ARENA_MAX": "2",
        }
    )
    return environment


def _read_report(path: Path) -> dict | None:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return document if isinstance(document, dict) else None


def _log_tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    tail = "\n".join(text.strip().splitlines()[-lines:])
    return f"\nLast output:\n{tail}" if tail else ""


def _kata_outcomes(
    entry: PristineKata, reported: dict | None, grade: SubmissionGrade
) -> list[TestOutcome]:
    """Match the reported tests to the pristine ones; tests not reported count as errors."""
    if reported is None:
        return _unjudged(entry, "No trustworthy result: see the submission's notes.")
    by_id = {test.get("nodeid"): test for test in reported.get("tests", [])}
    outcomes = []
    missing = []
    for test_id in entry.test_ids:
        test = by_id.get(test_id)
        if test is None:
            missing.append(test_id)
            outcomes.append(
                _error(
                    entry,
                    test_id,
                    "This test of the pristine suite was not reported by the grading run.",
                )
            )
            continue
        outcome = str(test.get("outcome", ""))
        outcomes.append(
            TestOutcome(
                test_id=test_id,
                kata_id=entry.kata.id,
                status=_status(outcome),
                outcome=outcome,
                message=str(test.get("message") or ""),
                output=str(test.get("output") or ""),
                task=_task(test.get("task")) or entry.task_of(test_id),
            )
        )
    if missing:
        grade.findings.append(
            Finding(
                "missing-tests",
                f"katas/{entry.kata.id}",
                f"{len(missing)} of the {len(entry.test_ids)} tests of the pristine suite were "
                "not reported (skipped or removed while grading); they count as failed.",
            )
        )
    extra = sorted(set(by_id) - set(entry.test_ids))
    if extra:
        grade.findings.append(
            Finding(
                "extra-tests",
                f"katas/{entry.kata.id}",
                f"{len(extra)} reported tests are not in the pristine suite and were ignored.",
            )
        )
    return outcomes


def _status(outcome: str) -> str:
    if outcome == "passed":
        return "pass"
    if outcome == "does not import":
        return "error"
    return "fail"


def _task(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _unjudged(entry: PristineKata, message: str) -> list[TestOutcome]:
    return [_error(entry, test_id, message) for test_id in entry.test_ids]


def _error(entry: PristineKata, test_id: str, message: str) -> TestOutcome:
    return TestOutcome(
        test_id, entry.kata.id, "error", "not graded", message, "", entry.task_of(test_id)
    )
