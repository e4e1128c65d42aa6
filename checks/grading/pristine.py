"""The pristine track that every submission is graded against.

The pristine checkout provides the suites, the manifest and the fixtures. A grading workspace
is a fresh copy of those files into which only a submission's solution modules are placed, so
no file a learner could edit ever decides a grade.
"""

from __future__ import annotations

import ast
import hashlib
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from checks.manifest import Kata, Manifest

# The items a grading workspace copies from the pristine checkout: the suites, the fixtures
# and the settings pytest reads. Nothing else runs, so nothing else is copied.
WORKSPACE_ITEMS = ("katas", "fixtures", "pyproject.toml")
COLLECTION_TIMEOUT_SECONDS = 300


class PristineError(Exception):
    """Raised when the pristine suites cannot be read or collected."""


@dataclass(frozen=True)
class PristineKata:
    """One kata of the pristine track: its files' digests and the tests its suite holds."""

    kata: Kata
    file_digests: dict[str, str]
    test_ids: tuple[str, ...]
    test_code: dict[str, str] = field(default_factory=dict)
    test_tasks: dict[str, int] = field(default_factory=dict)

    @property
    def module_path(self) -> str:
        return f"katas/{self.kata.id}/{self.kata.slug}.py"

    def code_of(self, test_id: str) -> str:
        return self.test_code.get(_function_name(test_id), "")

    def task_of(self, test_id: str) -> int | None:
        return self.test_tasks.get(_function_name(test_id))


def _function_name(test_id: str) -> str:
    """Return the test function's name: the node id's last part without parameters."""
    return test_id.rsplit("::", 1)[-1].split("[", 1)[0]


@dataclass(frozen=True)
class PristineTrack:
    """The pristine checkout and the katas being graded."""

    root: Path
    manifest: Manifest
    katas: tuple[PristineKata, ...]

    @property
    def max_score(self) -> int:
        return sum(entry.kata.points for entry in self.katas)


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_pristine_track(root: Path, manifest: Manifest, katas: list[Kata]) -> PristineTrack:
    """Read the digests of the graded katas' files and collect their suites' test ids."""
    test_ids = _collect_test_ids(root, katas)
    entries = []
    for kata in katas:
        folder = root / "katas" / kata.id
        digests = {
            path.relative_to(root).as_posix(): file_digest(path)
            for path in sorted(folder.rglob("*"))
            if path.is_file() and "__pycache__" not in path.parts
        }
        ids = tuple(test_id for test_id in test_ids if test_id.startswith(f"katas/{kata.id}/"))
        if not ids:
            raise PristineError(f"The pristine suite of {kata.id} contains no tests.")
        sources, tasks = _read_suite(folder)
        entries.append(PristineKata(kata, digests, ids, sources, tasks))
    return PristineTrack(root, manifest, tuple(entries))


def build_workspace(track: PristineTrack, destination: Path) -> None:
    """Copy the pristine suites, manifest, fixtures and pytest settings to ``destination``."""
    destination.mkdir(parents=True)
    for name in WORKSPACE_ITEMS:
        source = track.root / name
        if source.is_dir():
            shutil.copytree(
                source, destination / name, ignore=shutil.ignore_patterns("__pycache__")
            )
        elif source.is_file():
            shutil.copy2(source, destination / name)


def _collect_test_ids(root: Path, katas: list[Kata]) -> list[str]:
    """Collect the pristine suites in a child process; no learner code is imported."""
    command = [
        sys.executable,
        "-m",
        "pytest",
        *[f"katas/{kata.id}" for kata in katas],
        "--collect-only",
        "-q",
        "-p",
        "no:cacheprovider",
        "--color=no",
    ]
    try:
        completed = subprocess.run(
            command,
            cwd=root,
            capture_output=True,
            text=True,
            check=False,
            timeout=COLLECTION_TIMEOUT_SECONDS,
        )
    except subprocess.TimeoutExpired:
        raise PristineError(
            f"Collecting the pristine suites took more than {COLLECTION_TIMEOUT_SECONDS} s."
        ) from None
    ids = [line.strip() for line in completed.stdout.splitlines() if "::" in line]
    if completed.returncode != 0 or not ids:
        raise PristineError(
            f"Collecting the pristine suites in {root} failed (pytest exit code "
            f"{completed.returncode}):\n{(completed.stdout + completed.stderr)[-2000:]}"
        )
    return ids


def _read_suite(folder: Path) -> tuple[dict[str, str], dict[str, int]]:
    """Return each test function's source and ``@pytest.mark.task(n)`` number, by name."""
    sources: dict[str, str] = {}
    tasks: dict[str, int] = {}
    for path in sorted(folder.glob("test_*.py")):
        text = path.read_text(encoding="utf-8")
        for node in ast.parse(text).body:
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            if not node.name.startswith("test"):
                continue
            sources[node.name] = ast.get_source_segment(text, node) or ""
            for decorator in node.decorator_list:
                number = _task_number(decorator)
                if number is not None:
                    tasks[node.name] = number
    return sources, tasks


def _task_number(decorator: ast.expr) -> int | None:
    """Return n for a ``pytest.mark.task(n)`` decorator, else None."""
    if not (isinstance(decorator, ast.Call) and isinstance(decorator.func, ast.Attribute)):
        return None
    if decorator.func.attr != "task" or not decorator.args:
        return None
    argument = decorator.args[0]
    if isinstance(argument, ast.Constant) and isinstance(argument.value, int):
        return argument.value
    return None
