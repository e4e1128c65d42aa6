"""``katas list``: every kata in manifest order with its points and last recorded status."""

from __future__ import annotations

from pathlib import Path

from checks.cli import output
from checks.cli.state import read_progress
from checks.manifest import Manifest


def run_list(checkout: Path, manifest: Manifest) -> int:
    recorded = read_progress(checkout)
    table = output.new_table("", "kata", "title", "points", "status")
    for kata in manifest.katas:
        outcome = recorded.get(kata.id)
        table.add_row(
            output.mark(outcome),
            kata.id,
            kata.title,
            str(kata.points),
            output.outcome_text(outcome),
        )
    output.console.print(table)
    if not recorded:
        output.console.print(
            "Statuses come from the last `katas progress` or `katas watch` run; there is none yet."
        )
    else:
        output.console.print(
            "Statuses come from the last `katas progress` or `katas watch` run, not from later "
            "pytest runs. Run `katas progress` to refresh them."
        )
    return 0
