"""Build the sample submissions from their descriptions in ``<sample>/sample.toml``.

A sample is a learner's copy made from this checkout: the pristine katas, their solution
modules taken from the references or the stubs, then edited as the sample describes, then
the sample's extra files laid over it. Extra files carry a ``.sample`` suffix in this folder
so that pytest never collects them here (a sample's conftest.py would otherwise load).

Keys of sample.toml:

- ``description``: what the sample stands for;
- ``base``: ``reference`` or ``stubs``, where the solution modules come from;
- ``[[edit]]`` tables with ``kata`` and any of ``stub_regions`` (solution regions whose
  ``BEGIN SOLUTION`` message contains one of these strings go back to the stub),
  ``replace`` (pairs of old and new text, each old text found exactly once) and ``append``
  (text added at the end of the module, so it runs at import).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from checks.stubgen import BEGIN, END, generate_stub

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover (Python 3.10)
    import tomli as tomllib

SAMPLES_ROOT = Path(__file__).resolve().parent
REPO_ROOT = SAMPLES_ROOT.parent.parent
OVERLAY_SUFFIX = ".sample"
# The katas the samples are graded on: two quick phase-1 suites, so one sample's crash can
# be seen costing only its own kata.
SAMPLE_KATAS = ("phase1/tracking_basics", "phase1/cross_validation")


def sample_names() -> list[str]:
    return sorted(path.parent.name for path in SAMPLES_ROOT.glob("*/sample.toml"))


def build_sample(name: str, destination: Path) -> Path:
    """Write the learner's copy that sample ``name`` describes to ``destination``."""
    folder = SAMPLES_ROOT / name
    description = tomllib.loads((folder / "sample.toml").read_text(encoding="utf-8"))
    shutil.copytree(
        REPO_ROOT / "katas", destination / "katas", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy2(REPO_ROOT / "pyproject.toml", destination / "pyproject.toml")
    if description["base"] == "reference":
        for kata_id in SAMPLE_KATAS:
            slug = kata_id.split("/")[1]
            shutil.copy2(
                REPO_ROOT / "reference" / kata_id / f"{slug}.py",
                destination / "katas" / kata_id / f"{slug}.py",
            )
    for edit in description.get("edit", []):
        _apply_edit(destination, edit)
    for overlay in sorted(folder.rglob(f"*{OVERLAY_SUFFIX}")):
        target = destination / overlay.relative_to(folder).as_posix().removesuffix(OVERLAY_SUFFIX)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(overlay, target)
    return destination


def _apply_edit(destination: Path, edit: dict) -> None:
    kata_id = edit["kata"]
    slug = kata_id.split("/")[1]
    module = destination / "katas" / kata_id / f"{slug}.py"
    source = (REPO_ROOT / "reference" / kata_id / f"{slug}.py").read_text(encoding="utf-8")
    if "stub_regions" in edit:
        source = _stub_regions(source, edit["stub_regions"])
    else:
        source = module.read_text(encoding="utf-8")
    for old, new in edit.get("replace", []):
        if source.count(old) != 1:
            raise ValueError(f"{kata_id}: the text to replace must occur once: {old!r}")
        source = source.replace(old, new)
    source += edit.get("append", "")
    module.write_text(source, encoding="utf-8")


def _stub_regions(source: str, markers: list[str]) -> str:
    """Return ``source`` with only the solution regions named by ``markers`` stubbed."""
    lines = []
    keep_region = False
    for line in source.splitlines(keepends=True):
        begin = BEGIN.match(line.rstrip("\n"))
        if begin:
            message = begin.group("message") or ""
            keep_region = not any(marker in message for marker in markers)
            if keep_region:
                continue
        elif END.match(line.rstrip("\n")) and keep_region:
            keep_region = False
            continue
        lines.append(line)
    return generate_stub("".join(lines))
