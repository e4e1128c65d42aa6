"""Run kata suites in a separate pytest process and read their results."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from checks.manifest import Kata
from checks.outcomes import Outcome

# pytest exit codes that mean the run itself broke, not that tests failed.
BROKEN_RUN_CODES = {2: "interrupted", 3: "internal error", 4: "usage error"}


class SuiteRunError(RuntimeError):
    """Raised when pytest could not run the suites at all."""

    def __init__(self, message: str, output: str) -> None:
        super().__init__(message)
        self.output = output


@dataclass(frozen=True)
class KataRun:
    """The result of one kata's suite: its outcome, counts and first failure message.

    ``failing_tasks`` lists the README task numbers that have at least one test not passing.
    """

    kata_id: str
    outcome: Outcome
    passed: int
    total: int
    first_failure: str
    failing_tasks: tuple[int, ...] = ()


def run_suites(
    checkout: Path, katas: list[Kata], solutions: str, workers: int = 0
) -> dict[str, KataRun]:
    """Run the suites of ``katas`` against ``solutions`` and return one result per kata.

    The suites run in a child pytest process, so a crash or a hang in learner code cannot
    take the CLI down with it.
    """
    with tempfile.TemporaryDirectory(prefix="katas-run-") as folder:
        report = Path(folder) / "report.json"
        command = [
            sys.executable,
            "-m",
            "pytest",
            *[f"katas/{kata.id}" for kata in katas],
            f"--solutions={solutions}",
            f"--katas-report={report}",
            "-q",
            "-p",
            "no:cacheprovider",
            "--color=no",
        ]
        if workers:
            command += ["-n", str(workers)]
        completed = subprocess.run(
            command, cwd=checkout, capture_output=True, text=True, check=False
        )
        output = completed.stdout + completed.stderr
        if completed.returncode in BROKEN_RUN_CODES or not report.is_file():
            reason = BROKEN_RUN_CODES.get(completed.returncode, "no results")
            raise SuiteRunError(
                f"pytest stopped with exit code {completed.returncode} ({reason}).", output
            )
        document = json.loads(report.read_text(encoding="utf-8"))

    results = {}
    for kata in katas:
        entry = document["katas"].get(kata.id)
        if entry is None:
            results[kata.id] = KataRun(kata.id, Outcome.NOT_STARTED, 0, 0, "")
            continue
        failing = [test for test in entry["tests"] if test["outcome"] != "passed"]
        failing_tasks = sorted({test["task"] for test in failing if test.get("task") is not None})
        results[kata.id] = KataRun(
            kata_id=kata.id,
            outcome=Outcome(entry["outcome"]),
            passed=entry["passed"],
            total=entry["total"],
            first_failure=failing[0]["message"] if failing else "",
            failing_tasks=tuple(failing_tasks),
        )
    return results
