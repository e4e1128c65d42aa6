"""All terminal output of the ``katas`` command goes through this module."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from checks.outcomes import Outcome

console = Console(highlight=False)
errors = Console(stderr=True, highlight=False)

MARKS = {
    Outcome.PASSED: ("✓", "green"),
    Outcome.FAILING: ("✗", "red"),
    Outcome.NOT_STARTED: ("·", "yellow"),
    Outcome.DOES_NOT_IMPORT: ("!", "red"),
}
UNKNOWN_MARK = ("?", "dim")


def error(message: str, hint: str = "") -> None:
    """Print a user-facing error and, when given, the command or step that fixes it."""
    errors.print(Text("error: ", style="bold red") + Text(message))
    if hint:
        errors.print(Text(hint, style="dim"))


def mark(outcome: Outcome | None) -> Text:
    """Return the one-character mark and colour for a kata outcome."""
    symbol, style = MARKS.get(outcome, UNKNOWN_MARK) if outcome else UNKNOWN_MARK
    return Text(symbol, style=style)


def outcome_text(outcome: Outcome | None) -> Text:
    if outcome is None:
        return Text("not run", style="dim")
    return Text(outcome.value, style=MARKS[outcome][1])


def progress_bar(done: int, total: int, width: int = 30) -> Text:
    """Draw a bar of ``width`` cells with ``done`` of ``total`` filled."""
    filled = round(width * done / total) if total else 0
    bar = Text("━" * filled, style="green") + Text("━" * (width - filled), style="dim")
    return bar + Text(f" {done}/{total}")


def new_table(*columns: str, wrap: tuple[str, ...] = ("title",)) -> Table:
    """Return a borderless table; only the ``wrap`` columns may wrap on a narrow terminal.

    Kata ids and statuses never wrap, so they can be copied into a command.
    """
    table = Table(box=None, show_header=True, header_style="bold", pad_edge=False)
    for column in columns:
        table.add_column(column, no_wrap=column not in wrap, overflow="fold")
    return table
