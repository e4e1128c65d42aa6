"""Pick the kata a learner command works on: by name, or the first one not yet passed."""

from __future__ import annotations

import difflib

from checks.manifest import Kata, Manifest, ManifestError
from checks.outcomes import Outcome


class UnknownKata(ManifestError):
    """Raised when a kata name matches no kata id or slug in the manifest."""

    def __init__(self, name: str, suggestions: list[str]) -> None:
        self.name = name
        self.suggestions = suggestions
        if suggestions:
            message = f"There is no kata {name!r}. Did you mean {' or '.join(suggestions)}?"
        else:
            message = f"There is no kata {name!r}."
        super().__init__(message)

    def hint(self, command: str) -> str:
        """Return the command to run instead, for the ``katas`` subcommand ``command``."""
        if self.suggestions:
            return f"Run `katas {command} {self.suggestions[0]}`, or `katas list` to see the katas."
        return "Run `katas list` to see the katas."


def find_kata(manifest: Manifest, name: str) -> Kata:
    """Return the kata named by its id (phase1/slug) or its slug, or raise UnknownKata.

    The error suggests up to three katas whose id or slug is close to ``name``.
    """
    cleaned = name.strip().strip("/").removeprefix("katas/")
    for kata in manifest.katas:
        if cleaned in (kata.id, kata.slug):
            return kata
    by_name = {kata.id: kata.id for kata in manifest.katas}
    by_name.update({kata.slug: kata.id for kata in manifest.katas})
    close = difflib.get_close_matches(cleaned, list(by_name), n=6, cutoff=0.6)
    suggestions = list(dict.fromkeys(by_name[match] for match in close))[:3]
    raise UnknownKata(name, suggestions)


def current_kata(manifest: Manifest, recorded: dict[str, Outcome]) -> Kata | None:
    """Return the first kata in manifest order not recorded as passed, or None."""
    for kata in manifest.katas:
        if recorded.get(kata.id) is not Outcome.PASSED:
            return kata
    return None


def next_kata(manifest: Manifest, after: Kata, recorded: dict[str, Outcome]) -> Kata | None:
    """Return the next kata after ``after`` in manifest order that is not recorded as passed.

    The search wraps round to the start of the track, so a kata skipped earlier comes up
    again. None means every other kata is recorded as passed.
    """
    katas = list(manifest.katas)
    start = katas.index(after) + 1
    for kata in katas[start:] + katas[: start - 1]:
        if recorded.get(kata.id) is not Outcome.PASSED:
            return kata
    return None
