"""Measure how many phase-1 submissions ``katas grade`` grades per minute, serial and parallel.

Usage: python bench/bench_grading.py [--solved N] [--mixed N] [--write]

Two cohorts are built from this checkout in a temporary folder:

- solved: every phase-1 kata solved, each module made byte-distinct by a comment, so no
  result can be reused: the worst case, every submission a full run of phase 1;
- mixed: learner i solved the first i mod 7 katas (distinct modules, as above) and left the
  rest untouched, as a cohort looks in the middle of a phase. Untouched stubs are identical
  across learners, so their results are reused.

Each cohort is graded with ``--jobs 1`` and ``--jobs 2``. Prints a Markdown table; with
--write, also replaces this script's section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
BEGIN_MARK = "<!-- BEGIN GENERATED: bench/bench_grading.py -->"
END_MARK = "<!-- END GENERATED: bench/bench_grading.py -->"
PHASE = "phase1"


def phase_katas() -> list[str]:
    sys.path.insert(0, str(REPO_ROOT))
    from checks.manifest import load_manifest

    manifest = load_manifest(REPO_ROOT / "katas" / "katas.toml")
    return [kata.id for kata in manifest.in_phase(PHASE)]


def build_submission(destination: Path, solved: list[str], learner: str) -> None:
    """Write a learner's copy whose ``solved`` katas hold the reference, marked as theirs."""
    for kata_id in phase_katas():
        slug = kata_id.split("/")[1]
        target = destination / "katas" / kata_id / f"{slug}.py"
        target.parent.mkdir(parents=True)
        if kata_id in solved:
            source = (REPO_ROOT / "reference" / kata_id / f"{slug}.py").read_text()
            target.write_text(f"{source}\n# Solved by {learner}.\n", encoding="utf-8")
        else:
            shutil.copyfile(REPO_ROOT / "katas" / kata_id / f"{slug}.py", target)


def build_cohorts(folder: Path, solved_count: int, mixed_count: int) -> dict[str, list[Path]]:
    katas = phase_katas()
    cohorts: dict[str, list[Path]] = {"solved": [], "mixed": []}
    for number in range(solved_count):
        path = folder / "solved" / f"learner{number:02d}"
        build_submission(path, katas, path.name)
        cohorts["solved"].append(path)
    for number in range(mixed_count):
        path = folder / "mixed" / f"learner{number:02d}"
        build_submission(path, katas[: number % (len(katas) + 1)], path.name)
        cohorts["mixed"].append(path)
    return cohorts


def grade(submissions: list[Path], jobs: int, out: Path) -> float:
    """Grade ``submissions`` with ``katas grade`` and return the wall time in seconds."""
    command = [
        sys.executable,
        "-m",
        "checks.cli.main",
        "grade",
        *map(str, submissions),
        "--out",
        str(out),
        "--kata",
        PHASE,
        "--jobs",
        str(jobs),
    ]
    started = time.perf_counter()
    completed = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if completed.returncode != 0:
        raise SystemExit(f"katas grade failed:\n{completed.stdout}\n{completed.stderr}")
    return seconds


def measure(solved_count: int, mixed_count: int) -> list[tuple[str, str]]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="katas-bench-grade-") as folder:
        root = Path(folder)
        cohorts = build_cohorts(root, solved_count, mixed_count)
        for cohort, submissions in cohorts.items():
            if not submissions:
                continue
            for jobs in (1, 2):
                seconds = grade(submissions, jobs, root / f"out-{cohort}-{jobs}")
                per_minute = 60 * len(submissions) / seconds
                rows.append(
                    (
                        f"{cohort} cohort, {len(submissions)} submissions, --jobs {jobs}",
                        f"{seconds:.0f} s, {per_minute:.1f} submissions/minute",
                    )
                )
    return rows


def render(rows: list[tuple[str, str]]) -> str:
    lines = [
        f"Measured on {date.today().isoformat()} with Python {platform.python_version()}, "
        f"2 cores, by `python bench/bench_grading.py`. Target: at least 30 phase-1 "
        "submissions per minute.",
        "",
        "| measurement | value |",
        "| --- | --- |",
    ]
    lines += [f"| {name} | {value} |" for name, value in rows]
    return "\n".join(lines)


def write_section(text: str) -> None:
    page = REPO_ROOT / "docs" / "benchmarks.md"
    content = page.read_text(encoding="utf-8")
    section = f"{BEGIN_MARK}\n{text}\n{END_MARK}"
    if BEGIN_MARK in content:
        start, end = content.index(BEGIN_MARK), content.index(END_MARK) + len(END_MARK)
        content = content[:start] + section + content[end:]
    else:
        content = content.rstrip("\n") + "\n\n## Grading throughput\n\n" + section + "\n"
    page.write_text(content, encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--solved", type=int, default=4, help="Fully solved submissions.")
    parser.add_argument("--mixed", type=int, default=14, help="Partly solved submissions.")
    parser.add_argument("--write", action="store_true", help="Also update docs/benchmarks.md.")
    arguments = parser.parse_args()

    text = render(measure(arguments.solved, arguments.mixed))
    print(text)
    if arguments.write:
        write_section(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
