"""``katas progress [PHASE]``: run the suites and show how far the learner has come."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text

from checks.cli import output
from checks.cli.runner import KataRun, SuiteRunError, run_suites
from checks.cli.state import write_progress
from checks.manifest import Kata, Manifest
from checks.outcomes import Outcome

MESSAGE_LINES = 12


def run_progress(
    checkout: Path, manifest: Manifest, phase: str | None, solutions: str, workers: int
) -> int:
    """Run the chosen phase (or all), print the progress view and return the exit code."""
    katas = manifest.in_phase(phase) if phase else list(manifest.katas)
    scope = phase or "every phase"
    with output.console.status(f"Running the kata suites of {scope} against {solutions} ..."):
        try:
            runs = run_suites(checkout, katas, solutions, workers)
        except SuiteRunError as failure:
            output.error(str(failure), hint="pytest said:\n" + _tail(failure.output, 30))
            return 2
    write_progress(checkout, runs, solutions)
    show_progress(manifest, katas, runs)
    return 0 if all(run.outcome is Outcome.PASSED for run in runs.values()) else 1


def show_progress(manifest: Manifest, katas: list[Kata], runs: dict[str, KataRun]) -> None:
    """Print a bar and a table per phase, then the next kata and its first failure."""
    console = output.console
    for phase in dict.fromkeys(kata.phase for kata in katas):
        in_phase = [kata for kata in katas if kata.phase == phase]
        done = sum(runs[kata.id].outcome is Outcome.PASSED for kata in in_phase)
        console.print()
        console.print(
            Text(f"{phase}  {manifest.phases[phase]}  ", style="bold")
            + output.progress_bar(done, len(in_phase))
        )
        table = output.new_table("", "kata", "status", "tests", "title")
        for kata in in_phase:
            run = runs[kata.id]
            table.add_row(
                output.mark(run.outcome),
                kata.id,
                output.outcome_text(run.outcome),
                f"{run.passed}/{run.total}",
                kata.title,
            )
        console.print(table)

    pending = [kata for kata in katas if runs[kata.id].outcome is not Outcome.PASSED]
    console.print()
    if not pending:
        console.print(Text("✓ Every kata here passes. ", style="bold green") + "Well done.")
        return
    show_next(pending[0], runs[pending[0].id])


def show_next(kata: Kata, run: KataRun) -> None:
    """Print which kata the learner does next and the message of its first failure."""
    console = output.console
    folder = f"katas/{kata.id}"
    console.print(Text("Next: ", style="bold") + Text(kata.id, style="bold cyan"))
    if run.outcome is Outcome.NOT_STARTED:
        console.print(
            f"  Read {folder}/README.md, fill in {folder}/{kata.slug}.py task by task, "
            "then run its tests:"
        )
    elif run.outcome is Outcome.DOES_NOT_IMPORT:
        console.print(f"  {folder}/{kata.slug}.py does not import. Fix it, then run:")
    else:
        console.print(f"  {run.passed} of {run.total} tests pass. The first failure:")
        console.print(Text(_indent(_head(run.first_failure, MESSAGE_LINES)), style="red"))
        console.print("  Fix it, then run:")
    console.print(Text(f"    pytest {folder}", style="bold"))
    if run.outcome is Outcome.DOES_NOT_IMPORT:
        console.print(Text(_indent(_head(run.first_failure, MESSAGE_LINES)), style="red"))
    console.print(f"  Stuck? `katas hint {kata.id}` shows the next hint of the task you are on.")


def _head(text: str, lines: int) -> str:
    kept = text.strip().splitlines()
    more = len(kept) - lines
    return "\n".join(kept[:lines] + ([f"... ({more} more lines)"] if more > 0 else []))


def _tail(text: str, lines: int) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())
