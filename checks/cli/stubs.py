"""``katas stubs [--check]``: regenerate the learner stubs from the reference solutions."""

from __future__ import annotations

from pathlib import Path

from checks.cli import output
from checks.stubgen import StubError, stub_pairs


def run_stubs(checkout: Path, check: bool, kata_ids: list[str] | None = None) -> int:
    """Write every stale stub, or with ``check`` only list them; return the exit code.

    ``kata_ids`` limits the work to those katas; empty or None means every kata.
    """
    pairs = stub_pairs(checkout)
    if kata_ids:
        wanted = {f"reference/{kata_id}" for kata_id in kata_ids}
        pairs = [
            pair
            for pair in pairs
            if pair.reference.parent.relative_to(checkout).as_posix() in wanted
        ]
    if not pairs:
        output.error(f"No reference modules under {checkout / 'reference'}.")
        return 2
    stale = []
    for pair in pairs:
        try:
            current = pair.is_current()
            expected = pair.expected()
        except StubError as failure:
            output.error(str(failure))
            return 2
        if current:
            continue
        stale.append(pair)
        if not check:
            pair.stub.parent.mkdir(parents=True, exist_ok=True)
            pair.stub.write_text(expected, encoding="utf-8")

    relative = [str(pair.stub.relative_to(checkout)) for pair in stale]
    if check and stale:
        output.error(
            "These stubs differ from what their references generate: " + ", ".join(relative),
            hint="Run `katas stubs` to regenerate them.",
        )
        return 1
    verb = "Regenerated" if stale else "Checked"
    output.console.print(f"{verb} {len(stale) if stale else len(pairs)} stub(s).")
    return 0
