"""``katas stubs [--check]``: regenerate the learner stubs from the reference solutions."""

from __future__ import annotations

import shutil
import subprocess
from datetime import datetime, timezone
from pathlib import Path

from checks.cli import output
from checks.stubgen import StubError, stub_pairs


def run_stubs(checkout: Path, check: bool, kata_ids: list[str] | None = None) -> int:
    """Write every stale stub, or with ``check`` only list them; return the exit code.

    ``kata_ids`` limits the work to those katas; empty or None means every kata.
    """
    pairs = stub_pairs(checkout)
    if kata_ids:
        selected = {f"reference/{kata_id}" for kata_id in kata_ids}
        pairs = [
            pair
            for pair in pairs
            if pair.reference.parent.relative_to(checkout).as_posix() in selected
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
            backup = _back_up(checkout, pair.stub)
            pair.stub.parent.mkdir(parents=True, exist_ok=True)
            pair.stub.write_text(expected, encoding="utf-8")
            if backup is not None:
                output.console.print(
                    f"Kept the previous {pair.stub.relative_to(checkout)} "
                    f"as {backup.relative_to(checkout)}."
                )

    relative = [str(pair.stub.relative_to(checkout)) for pair in stale]
    if check and stale:
        output.error(
            "These stubs differ from what their references generate: " + ", ".join(relative),
            hint=(
                "Maintainers: run `katas stubs` to regenerate them. Learners: a stub you are "
                "filling in differs on purpose; `katas stubs` would replace it (keeping a "
                "backup under .katas/backups/)."
            ),
        )
        return 1
    verb = "Regenerated" if stale else "Checked"
    output.console.print(f"{verb} {len(stale) if stale else len(pairs)} stub(s).")
    return 0


def _back_up(checkout: Path, stub: Path) -> Path | None:
    """Copy an existing stub to .katas/backups/ before it is replaced, and return the copy.

    A learner may have written their solution into the stub, and regenerating it must not
    lose that work. A stub that Git tracks unchanged needs no copy: Git can restore it.
    """
    if not stub.is_file() or _committed_unchanged(checkout, stub):
        return None
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    backup = checkout / ".katas" / "backups" / f"{stub.relative_to(checkout)}.{stamp}"
    backup.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(stub, backup)
    return backup


def _committed_unchanged(checkout: Path, stub: Path) -> bool:
    """Check that Git tracks ``stub`` and that it matches the committed version."""
    try:
        completed = subprocess.run(
            ["git", "--no-optional-locks", "diff", "--quiet", "HEAD", "--", str(stub)],
            cwd=checkout,
            capture_output=True,
            check=False,
        )
        tracked = subprocess.run(
            ["git", "ls-files", "--error-unmatch", str(stub)],
            cwd=checkout,
            capture_output=True,
            check=False,
        )
    except OSError:
        return False
    return completed.returncode == 0 and tracked.returncode == 0
