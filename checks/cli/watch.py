"""``katas watch [KATA]``: run a kata's tests each time its stub is saved.

The kata's folder is watched with watchfiles. Where file events do not work (some network
and container file systems), ``--poll`` checks the folder at an interval instead, and the
command switches to polling by itself when watchfiles cannot start its event watcher.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

from rich.text import Text

from checks.cli import output
from checks.cli.runner import KataRun, SuiteRunError, run_suites
from checks.cli.selection import next_kata
from checks.cli.state import read_progress, write_progress
from checks.manifest import Kata, Manifest
from checks.outcomes import Outcome

logger = logging.getLogger(__name__)

DEFAULT_POLL_INTERVAL = 0.5
# Editors often write a file in several steps. Changes are collected until the folder has
# been quiet for STEP_MS, or for at most DEBOUNCE_MS, and then trigger one run.
DEBOUNCE_MS = 1600
STEP_MS = 100
# The watcher also wakes up this often without a change, and the stub's modification time is
# compared then. That catches a save that no file event reported.
TICK_MS = 1000
MESSAGE_LINES = 12


def run_watch(
    checkout: Path,
    manifest: Manifest,
    kata: Kata,
    poll: bool,
    poll_interval: float,
    named: bool = False,
) -> int:
    """Watch ``kata``, move on to the next kata each time one goes green; return the exit code.

    A kata the learner ``named`` that already passes at the start stays watched: they chose
    it to keep working on it. Ctrl-C ends the command with exit code 0.
    """
    current: Kata | None = kata
    try:
        while current is not None:
            _watch_until_green(checkout, current, poll, poll_interval, stay=named)
            named = False
            current = next_kata(manifest, current, read_progress(checkout))
            if current is not None:
                _show_next(current)
    except KeyboardInterrupt:
        output.console.print()
        output.console.print("Stopped watching.")
        return 0
    except OSError as error:
        output.error(
            f"Cannot watch the kata folder: {error}.",
            hint="Check that the folder exists, then run `katas watch --poll`.",
        )
        return 1
    output.console.print()
    output.console.print(
        Text("✓ Every kata is recorded as passed. ", style="bold green")
        + "Run `katas progress` to confirm with a full run."
    )
    return 0


def _watch_until_green(
    checkout: Path, kata: Kata, poll: bool, poll_interval: float, stay: bool = False
) -> None:
    """Run the kata now and after every save of its stub, until all its tests pass.

    With ``stay``, a kata that passes on the first run is watched until a later run passes.
    """
    stub = (checkout / "katas" / kata.id / f"{kata.slug}.py").resolve()
    changes = stub_changes(stub, poll, poll_interval)
    try:
        while True:
            tested = _file_signature(stub)
            run = _run_kata(checkout, kata)
            if run is not None and run.outcome is Outcome.PASSED:
                if not stay:
                    return
                output.console.print(
                    "You named this kata, so it stays watched: the next run that passes "
                    "moves on to the next kata."
                )
            stay = False
            _show_waiting(checkout, kata, stub, poll, poll_interval)
            # The stub's signature is compared after every batch of changes and every tick.
            # So a save during the run, or before the watcher started, is not lost. And a
            # change event for content already tested does not run the tests twice.
            while _file_signature(stub) == tested:
                next(changes)
    finally:
        changes.close()


def stub_changes(stub: Path, poll: bool, poll_interval: float) -> Iterator[bool]:
    """Yield True for each batch of changes to ``stub``, and False every TICK_MS without one.

    The stub's folder is watched, not the file, because editors often save by writing a new
    file and renaming it over the old one. When the event watcher cannot start (watchfiles
    raises OSError, for example when the inotify watch limit is reached), polling takes over.
    """
    # Imported here because watchfiles takes about 0.1 s to import and only watch needs it.
    import watchfiles

    force_polling = poll

    def is_stub(change: watchfiles.Change, path: str) -> bool:
        return Path(path) == stub

    while True:
        try:
            for batch in watchfiles.watch(
                stub.parent,
                watch_filter=is_stub,
                debounce=DEBOUNCE_MS,
                step=STEP_MS,
                rust_timeout=TICK_MS,
                yield_on_timeout=True,
                force_polling=force_polling,
                poll_delay_ms=round(poll_interval * 1000),
                raise_interrupt=True,
            ):
                yield bool(batch)
            return
        except (OSError, RuntimeError) as error:
            if force_polling:
                raise
            logger.info("watchfiles could not watch %s with file events: %s", stub.parent, error)
            output.console.print(
                Text(
                    f"File events do not work here ({error}). Checking for changes every "
                    f"{poll_interval:g} s instead; pass --poll to skip the attempt.",
                    style="yellow",
                )
            )
            force_polling = True


def _file_signature(path: Path) -> tuple[int, int] | None:
    """Return the file's modification time and size, or None when it does not exist."""
    try:
        status = path.stat()
    except FileNotFoundError:
        return None
    return status.st_mtime_ns, status.st_size


def _run_kata(checkout: Path, kata: Kata) -> KataRun | None:
    """Run the kata's suite, record the result for `katas list` and print it."""
    console = output.console
    console.print()
    console.rule(Text(f"{kata.id}  {time.strftime('%H:%M:%S')}", style="bold"), align="left")
    with console.status(f"Running the tests of {kata.id} ..."):
        try:
            run = run_suites(checkout, [kata], "katas")[kata.id]
        except SuiteRunError as failure:
            tail = "\n".join(failure.output.strip().splitlines()[-30:])
            output.error(str(failure), hint="pytest said:\n" + tail)
            return None
    write_progress(checkout, {kata.id: run}, "katas")
    _show_run(kata, run)
    return run


def _show_run(kata: Kata, run: KataRun) -> None:
    console = output.console
    folder = f"katas/{kata.id}"
    counts = f"{run.passed} of {run.total} tests pass"
    if run.outcome is Outcome.PASSED:
        console.print(Text(f"✓ {kata.id} passes: {counts}.", style="bold green"))
        return
    if run.outcome is Outcome.NOT_STARTED:
        console.print(Text(f"· {kata.id} is not started: {counts}.", style="yellow"))
        console.print(
            f"  Read {folder}/README.md and fill in {folder}/{kata.slug}.py task by task."
        )
        if run.first_failure:
            console.print(Text(_excerpt(run.first_failure, 3), style="yellow"))
        return
    if run.outcome is Outcome.DOES_NOT_IMPORT:
        console.print(Text(f"! {folder}/{kata.slug}.py does not import:", style="bold red"))
    else:
        console.print(Text(f"✗ {kata.id}: {counts}. The first failure:", style="bold red"))
    console.print(Text(_excerpt(run.first_failure, MESSAGE_LINES), style="red"))


def _show_waiting(checkout: Path, kata: Kata, stub: Path, poll: bool, poll_interval: float) -> None:
    try:
        stub_text = stub.relative_to(checkout.resolve()).as_posix()
    except ValueError:
        stub_text = str(stub)
    interval_note = f", checking every {poll_interval:g} s" if poll else ""
    output.console.print(
        Text(
            f"Watching {stub_text}{interval_note}. Save it to run the tests again. "
            f"Stuck? `katas hint {kata.id}`. Ctrl-C stops.",
            style="dim",
        )
    )


def _show_next(kata: Kata) -> None:
    folder = f"katas/{kata.id}"
    output.console.print(
        Text("Next: ", style="bold") + Text(kata.id, style="bold cyan") + f"  {kata.title}"
    )
    output.console.print(
        f"  Read {folder}/README.md. Every save of {folder}/{kata.slug}.py runs its tests."
    )


def _excerpt(text: str, lines: int) -> str:
    """Return the first ``lines`` lines of ``text``, indented, with a count of the rest."""
    all_lines = text.strip().splitlines()
    more = len(all_lines) - lines
    excerpt = all_lines[:lines] + ([f"... ({more} more lines)"] if more > 0 else [])
    return "\n".join("    " + line for line in excerpt)
