"""Run kata suites in child pytest processes and read their JSON reports."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
KATAS_ROOT = REPO_ROOT / "katas"
REFERENCE_ROOT = REPO_ROOT / "reference"
MUTANTS_ROOT = REPO_ROOT / "tests" / "mutants"

# Two child processes at a time: the machines this runs on have two cores.
PARALLEL_RUNS = 2
RUN_TIMEOUT_SECONDS = 600


@dataclass(frozen=True)
class SuiteRun:
    """A request to run some kata suites against one solutions root."""

    name: str
    kata_ids: tuple[str, ...]
    solutions: str
    extra_arguments: tuple[str, ...] = ()


@dataclass(frozen=True)
class SuiteReport:
    """What a child pytest process reported."""

    exit_code: int
    output: str
    katas: dict

    def tests(self, kata_id: str) -> dict[str, dict]:
        """Return the kata's tests by test name (the last part of the node id)."""
        entry = self.katas.get(kata_id, {"tests": []})
        return {test["nodeid"].rsplit("::", 1)[-1]: test for test in entry["tests"]}

    def matching(self, kata_id: str, name: str) -> list[dict]:
        """Return the tests called ``name``, or its parametrized cases ``name[...]``."""
        return [
            test
            for test_name, test in self.tests(kata_id).items()
            if test_name == name or test_name.startswith(f"{name}[")
        ]


def run_suite(run: SuiteRun, report_dir: Path) -> SuiteReport:
    """Run one request and return its report; a run without a report keeps pytest's output."""
    report_path = report_dir / f"{run.name.replace('/', '-')}.json"
    command = [
        sys.executable,
        "-m",
        "pytest",
        *[str(KATAS_ROOT / kata_id) for kata_id in run.kata_ids],
        f"--solutions={run.solutions}",
        f"--katas-report={report_path}",
        "-q",
        "-p",
        "no:cacheprovider",
        "--color=no",
        *run.extra_arguments,
    ]
    completed = subprocess.run(
        command,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_SECONDS,
        check=False,
    )
    output = completed.stdout + completed.stderr
    katas = {}
    if report_path.is_file():
        katas = json.loads(report_path.read_text(encoding="utf-8"))["katas"]
    return SuiteReport(completed.returncode, output, katas)


def run_all(runs: list[SuiteRun], report_dir: Path) -> dict[str, SuiteReport]:
    """Run every request, two at a time, and return the reports by run name."""
    with ThreadPoolExecutor(max_workers=PARALLEL_RUNS) as pool:
        futures = {run.name: pool.submit(run_suite, run, report_dir) for run in runs}
        return {name: future.result() for name, future in futures.items()}


def kata_ids() -> list[str]:
    """Return every kata id that has a suite, as phase/slug."""
    return sorted(
        path.parent.relative_to(KATAS_ROOT).as_posix()
        for path in KATAS_ROOT.glob("*/*/test_*.py")
        if path.name == f"test_{path.parent.name}.py"
    )


@dataclass(frozen=True)
class Mutant:
    """A known-wrong solution and the failures it must cause."""

    path: Path
    kata_id: str
    mistake: str
    rejected_by: tuple[str, ...]
    message: str

    @property
    def name(self) -> str:
        return f"{self.kata_id}/{self.path.stem}"


def parse_mutant(path: Path) -> Mutant:
    """Read a mutant's docstring header: Mutant, Rejected by and Message lines."""
    kata_id = path.parent.relative_to(MUTANTS_ROOT).as_posix()
    fields: dict[str, str] = {}
    source = path.read_text(encoding="utf-8")
    for line in source.split('"""')[1].splitlines() if source.startswith('"""') else []:
        key, separator, value = line.partition(":")
        if separator and key.strip() in ("Mutant", "Rejected by", "Message"):
            fields[key.strip()] = value.strip()
    missing = [key for key in ("Mutant", "Rejected by", "Message") if key not in fields]
    if missing:
        raise ValueError(f"{path}: the docstring header has no {', '.join(missing)} line.")
    rejected_by = tuple(name.strip() for name in fields["Rejected by"].split(",") if name.strip())
    return Mutant(path, kata_id, fields["Mutant"], rejected_by, fields["Message"])


def mutants() -> list[Mutant]:
    return [parse_mutant(path) for path in sorted(MUTANTS_ROOT.glob("*/*/*.py"))]


def solutions_tree_for(mutant: Mutant, destination: Path) -> Path:
    """Lay a mutant out as a solutions root holding only its kata's module."""
    slug = mutant.kata_id.rsplit("/", 1)[-1]
    target = destination / mutant.kata_id / f"{slug}.py"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(mutant.path, target)
    return destination


# Folders that tools create and .gitignore lists; they are not the suites' doing.
TOOL_FOLDERS = {".git", ".venv", ".tox", "__pycache__", ".pytest_cache", ".ruff_cache"}


def checkout_files() -> set[str]:
    """Return every file path in the checkout outside tool folders, relative to its root."""
    found = set()
    for path in REPO_ROOT.rglob("*"):
        relative = path.relative_to(REPO_ROOT)
        if any(part in TOOL_FOLDERS or part.endswith(".egg-info") for part in relative.parts):
            continue
        if path.is_file() or path.is_symlink():
            found.add(relative.as_posix())
    return found
