"""Read and check the track manifest, katas/katas.toml."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover (Python 3.10)
    import tomli as tomllib

MANIFEST_NAME = "katas.toml"


class ManifestError(ValueError):
    """Raised when katas.toml is missing, malformed or disagrees with itself."""


@dataclass(frozen=True)
class Kata:
    """One kata as the manifest lists it."""

    id: str
    title: str
    points: int
    extras: tuple[str, ...]
    requires: tuple[str, ...]

    @property
    def phase(self) -> str:
        return self.id.split("/", 1)[0]

    @property
    def slug(self) -> str:
        return self.id.split("/", 1)[1]


@dataclass(frozen=True)
class Manifest:
    """The track: phase titles and katas in learning order."""

    path: Path
    phases: dict[str, str]
    katas: tuple[Kata, ...]

    @property
    def track_root(self) -> Path:
        return self.path.parent

    def kata(self, kata_id: str) -> Kata:
        """Return the kata with ``kata_id``, accepting the bare slug when it is unique."""
        for kata in self.katas:
            if kata_id in (kata.id, kata.slug):
                return kata
        known = ", ".join(kata.id for kata in self.katas)
        raise ManifestError(f"There is no kata {kata_id!r}. Known katas: {known}.")

    def in_phase(self, phase: str) -> list[Kata]:
        """Return the katas of one phase, failing on an unknown phase name."""
        if phase not in self.phases:
            raise ManifestError(
                f"There is no phase {phase!r}. Known phases: {', '.join(self.phases)}."
            )
        return [kata for kata in self.katas if kata.phase == phase]


def load_manifest(path: Path) -> Manifest:
    """Read katas.toml and check that its entries are complete and consistent."""
    if not path.is_file():
        raise ManifestError(f"The track manifest {path} does not exist.")
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise ManifestError(f"{path} is not valid TOML: {error}.") from None

    phases = document.get("phases", {})
    if not isinstance(phases, dict) or not all(isinstance(v, str) for v in phases.values()):
        raise ManifestError(f"{path}: [phases] must map each phase name to its title.")

    katas: list[Kata] = []
    seen: set[str] = set()
    for index, entry in enumerate(document.get("kata", []), start=1):
        kata = _parse_kata(path, index, entry)
        if kata.id in seen:
            raise ManifestError(f"{path}: kata {kata.id!r} is listed twice.")
        if kata.phase not in phases:
            raise ManifestError(
                f"{path}: kata {kata.id!r} is in phase {kata.phase!r}, "
                "which [phases] does not name."
            )
        for required in kata.requires:
            if required not in seen:
                raise ManifestError(
                    f"{path}: kata {kata.id!r} requires {required!r}, "
                    "which must be listed before it."
                )
        seen.add(kata.id)
        katas.append(kata)
    return Manifest(path=path, phases=dict(phases), katas=tuple(katas))


def _parse_kata(path: Path, index: int, entry: object) -> Kata:
    where = f"{path}: kata entry {index}"
    if not isinstance(entry, dict):
        raise ManifestError(f"{where} must be a table.")
    missing = [key for key in ("id", "title", "points") if key not in entry]
    if missing:
        raise ManifestError(f"{where} is missing {', '.join(missing)}.")
    kata_id, title, points = entry["id"], entry["title"], entry["points"]
    if not isinstance(kata_id, str) or kata_id.count("/") != 1:
        raise ManifestError(f"{where}: id must look like 'phase1/slug', not {kata_id!r}.")
    if not isinstance(title, str) or not title.strip():
        raise ManifestError(f"{where}: title must be a non-empty string.")
    if not isinstance(points, int) or isinstance(points, bool) or points <= 0:
        raise ManifestError(f"{where}: points must be a positive integer, not {points!r}.")
    extras = entry.get("extras", [])
    requires = entry.get("requires", [])
    for name, value in (("extras", extras), ("requires", requires)):
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise ManifestError(f"{where}: {name} must be a list of strings.")
    return Kata(kata_id, title, points, tuple(extras), tuple(requires))


def find_checkout(start: Path) -> Path:
    """Return the checkout root: the nearest folder at or above ``start`` with katas/katas.toml."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / "katas" / MANIFEST_NAME).is_file():
            return folder
    raise ManifestError(
        f"No katas/{MANIFEST_NAME} in {start} or any folder above it. "
        "Run katas from inside a checkout of the kata repository."
    )
