"""Generate learner stubs from the reference solutions.

In a reference module, the lines between ``# BEGIN SOLUTION`` and ``# END SOLUTION`` are the
solution. In the stub, a region inside a function becomes its ``# TODO(n):`` comments, each
with its continuation lines (comments indented by two more spaces after the ``#``), followed
by ``raise NotImplementedError(...)`` at the region's indentation. A region at module level
(imports only the answer needs) is dropped. Text after ``# BEGIN SOLUTION:`` becomes the
error message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

BEGIN = re.compile(r"^(?P<indent>[ \t]*)# BEGIN SOLUTION(?::?\s*(?P<message>.*))?$")
END = re.compile(r"^[ \t]*# END SOLUTION\s*$")
TODO = re.compile(r"^[ \t]*# TODO\(\d+\):")
TODO_CONTINUATION = re.compile(r"^[ \t]*#   +\S")
DEFAULT_MESSAGE = "Not started: do the TODOs above, then run the kata's tests again."


class StubError(ValueError):
    """Raised when a reference module's solution markers are unbalanced."""


def generate_stub(source: str, name: str = "<reference>") -> str:
    """Return the stub text for one reference module's ``source``."""
    lines = source.splitlines()
    output: list[str] = []
    region_start: int | None = None
    indent = ""
    message = ""
    kept_todos: list[str] = []
    in_todo = False

    for number, line in enumerate(lines, start=1):
        if region_start is None:
            begin = BEGIN.match(line)
            if begin:
                region_start = number
                indent = begin.group("indent")
                message = (begin.group("message") or "").strip() or DEFAULT_MESSAGE
                kept_todos = []
            elif END.match(line):
                raise StubError(f"{name}, line {number}: END SOLUTION without a BEGIN.")
            else:
                output.append(line)
            continue

        if BEGIN.match(line):
            raise StubError(
                f"{name}, line {number}: BEGIN SOLUTION inside the region at line {region_start}."
            )
        if END.match(line):
            if indent:
                output.extend(kept_todos)
                output.append(f"{indent}raise NotImplementedError({_quoted(message)})")
            region_start = None
            in_todo = False
        elif TODO.match(line) or (in_todo and TODO_CONTINUATION.match(line)):
            kept_todos.append(indent + line.lstrip())
            in_todo = True
        else:
            in_todo = False

    if region_start is not None:
        raise StubError(f"{name}, line {region_start}: BEGIN SOLUTION is never closed.")
    return "\n".join(_collapse_blank_runs(output)) + "\n"


def _quoted(text: str) -> str:
    """Quote ``text`` as a Python string literal, with double quotes where possible."""
    if '"' not in text and "\\" not in text:
        return f'"{text}"'
    return repr(text)


def _collapse_blank_runs(lines: list[str]) -> list[str]:
    """Keep at most two blank lines in a row, as a formatter would after a dropped region."""
    collapsed: list[str] = []
    blanks = 0
    for line in lines:
        blanks = blanks + 1 if not line.strip() else 0
        if blanks <= 2:
            collapsed.append(line)
    while collapsed and not collapsed[-1].strip():
        collapsed.pop()
    return collapsed


@dataclass(frozen=True)
class StubPair:
    """A reference module and the stub generated from it."""

    reference: Path
    stub: Path

    def expected(self) -> str:
        return generate_stub(self.reference.read_text(encoding="utf-8"), str(self.reference))

    def is_current(self) -> bool:
        return self.stub.is_file() and self.stub.read_text(encoding="utf-8") == self.expected()


def stub_pairs(repo_root: Path) -> list[StubPair]:
    """Return every reference module whose folder is a kata, with the stub it maps to."""
    reference_root = repo_root / "reference"
    pairs = []
    for reference in sorted(reference_root.glob("*/*/*.py")):
        kata_dir = reference.parent
        if reference.stem != kata_dir.name:
            continue
        relative = reference.relative_to(reference_root)
        pairs.append(StubPair(reference, repo_root / "katas" / relative))
    return pairs
