"""Find the signs of tampering in a submission's files.

None of these files can change a grade, because a grading workspace receives only the
solution modules. They are reported so that an instructor learns of the attempt.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from checks.grading.pristine import PristineTrack, file_digest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover (Python 3.10)
    import tomli as tomllib

# Folders in a learner's copy that are irrelevant to tampering.
SKIPPED_FOLDERS = {".git", ".venv", "venv", "__pycache__", ".katas", "node_modules", ".tox"}
# Files that load code into pytest or into every Python process that starts.
STARTUP_FILES = {"sitecustomize.py", "usercustomize.py"}
PYTEST_SETTINGS_FILES = {"pytest.ini", ".pytest.ini"}
# Files a grader writes; inside a submission they can only be planted.
RESULT_FILE_NAMES = {"results.json", "gradebook.csv", "katas-report.json"}


@dataclass(frozen=True)
class Finding:
    """One sign of tampering: its kind, the file it concerns and what was found."""

    kind: str
    path: str
    detail: str


def inspect_submission(root: Path, track: PristineTrack) -> list[Finding]:
    """Compare the submission's files with the pristine track and list what looks tampered."""
    findings = []
    findings.extend(_edited_suites(root, track))
    for path in _walk(root):
        relative = path.relative_to(root).as_posix()
        findings.extend(_inspect_file(path, relative, root, track))
    return findings


def _edited_suites(root: Path, track: PristineTrack) -> Iterator[Finding]:
    """Report test files of the graded katas that differ from, or are missing from, pristine."""
    for entry in track.katas:
        for relative, digest in entry.file_digests.items():
            if not _is_test_file(relative):
                continue
            path = root / relative
            # A submission may hold only the solution modules; a missing suite changes nothing.
            if path.is_file() and file_digest(path) != digest:
                yield Finding(
                    "edited-test",
                    relative,
                    "differs from the pristine suite (edited, or taken from another release)",
                )
        folder = root / "katas" / entry.kata.id
        for path in sorted(folder.glob("test_*.py")) if folder.is_dir() else []:
            relative = path.relative_to(root).as_posix()
            if relative not in entry.file_digests:
                yield Finding("extra-test", relative, "a test file the pristine suite lacks")


def _inspect_file(path: Path, relative: str, root: Path, track: PristineTrack) -> list[Finding]:
    name = path.name
    pristine = track.root / relative
    unchanged = pristine.is_file() and file_digest(pristine) == file_digest(path)
    if unchanged:
        return []
    if name == "conftest.py":
        return [Finding("conftest", relative, "a conftest.py the pristine checkout does not have")]
    if name in STARTUP_FILES or name.endswith(".pth"):
        return [Finding("plugin", relative, "runs code at interpreter start-up")]
    if name in PYTEST_SETTINGS_FILES or (name in {"tox.ini", "setup.cfg"} and _has_pytest(path)):
        return [Finding("plugin", relative, "pytest settings that could load plugins or options")]
    if relative == "pyproject.toml" and _pytest_table(path) != _pytest_table(pristine):
        return [Finding("plugin", relative, "its [tool.pytest] settings differ from pristine")]
    if relative.startswith("checks/") and name.endswith(".py"):
        return [Finding("edited-harness", relative, "the grading harness differs from pristine")]
    if name.startswith("pytest_") and name.endswith(".py"):
        return [Finding("plugin", relative, "a module named like a pytest plugin")]
    if name in RESULT_FILE_NAMES:
        return [Finding("planted-results", relative, "a results file the grader did not write")]
    return []


def _walk(root: Path) -> Iterator[Path]:
    for path in sorted(root.iterdir()):
        if path.is_symlink():
            continue
        if path.is_dir():
            if path.name not in SKIPPED_FOLDERS:
                yield from _walk(path)
        elif path.is_file():
            yield path


def _is_test_file(relative: str) -> bool:
    name = relative.rsplit("/", 1)[-1]
    return name.startswith("test_") and name.endswith(".py") or name == "conftest.py"


def _has_pytest(path: Path) -> bool:
    text = path.read_text(encoding="utf-8", errors="replace")
    return "[pytest]" in text or "[tool:pytest]" in text


def _pytest_table(path: Path) -> object:
    """Return the ``[tool.pytest*]`` tables of a pyproject.toml, or None when unreadable."""
    if not path.is_file():
        return None
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        return "unreadable"
    tool = document.get("tool", {})
    return {name: value for name, value in tool.items() if name.startswith("pytest")}
