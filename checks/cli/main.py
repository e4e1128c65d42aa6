"""The ``katas`` command line: parse arguments and hand over to one subcommand module."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from checks.cli import output
from checks.manifest import ManifestError, find_checkout, load_manifest

USAGE_ERROR = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="katas", description="Work through the MLflow katas and track your progress."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    commands.add_parser("list", help="List every kata with its points and last status.")

    progress = commands.add_parser(
        "progress", help="Run the kata suites and show a progress table per phase."
    )
    progress.add_argument("phase", nargs="?", help="Only this phase, e.g. phase1. Default: all.")
    progress.add_argument(
        "--solutions",
        default="katas",
        help="katas (your stubs), reference, or a submission folder. Default: katas.",
    )
    progress.add_argument(
        "-n",
        "--workers",
        type=int,
        default=0,
        help="Run the suites in this many parallel processes. Default: 0 (one process).",
    )

    stubs = commands.add_parser(
        "stubs", help="Maintainers: regenerate the stubs from the reference solutions."
    )
    stubs.add_argument(
        "kata",
        nargs="*",
        help="Only these katas, as phase/slug or slug. Default: every kata with a reference.",
    )
    stubs.add_argument(
        "--check", action="store_true", help="Only report stale stubs; exit 1 if any."
    )
    grade = commands.add_parser(
        "grade",
        help="Instructors: grade learner submissions against the pristine suites.",
        description=(
            "Grade each submission (a learner's copy, as a folder, .zip or .tar.gz) in a fresh "
            "copy of the pristine katas that receives only the submission's solution modules."
        ),
    )
    grade.add_argument("submissions", nargs="+", metavar="SUBMISSION", help="Folders or archives.")
    grade.add_argument("--out", required=True, type=Path, help="Folder for the results.")
    grade.add_argument(
        "--pristine",
        type=Path,
        default=None,
        help="Checkout whose katas and suites are the pristine ones. Default: this checkout.",
    )
    grade.add_argument(
        "--kata",
        action="append",
        default=[],
        metavar="KATA",
        help="Grade only this kata or phase (repeatable), e.g. phase1 or phase1/compare_models.",
    )
    grade.add_argument(
        "-j",
        "--jobs",
        type=int,
        default=0,
        help="Submissions graded at once. Default: 0 (one per CPU core).",
    )
    grade.add_argument(
        "--shard",
        default="1/1",
        metavar="I/N",
        help="Grade only the I-th of N equal shares of the submissions. Default: 1/1 (all).",
    )
    grade.add_argument(
        "--timeout",
        type=float,
        default=600.0,
        help="Seconds one submission may take in all before it is stopped. Default: 600.",
    )
    grade.add_argument(
        "--kata-timeout",
        type=float,
        default=30.0,
        help="Seconds one test may take before it fails. Default: 30.",
    )
    grade.add_argument(
        "--memory",
        type=int,
        default=4096,
        help="Memory cap per submission, in MiB of address space. Default: 4096.",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    try:
        checkout = find_checkout(Path.cwd())
        manifest = load_manifest(checkout / "katas" / "katas.toml")
    except ManifestError as failure:
        output.error(str(failure))
        return USAGE_ERROR

    if arguments.command == "list":
        from checks.cli.listing import run_list

        return run_list(checkout, manifest)
    if arguments.command == "progress":
        from checks.cli.progress import run_progress

        if arguments.workers < 0:
            output.error(f"--workers must be 0 or more, not {arguments.workers}.")
            return USAGE_ERROR
        try:
            return run_progress(
                checkout, manifest, arguments.phase, arguments.solutions, arguments.workers
            )
        except ManifestError as failure:
            output.error(str(failure), hint="Run `katas list` to see the phases and katas.")
            return USAGE_ERROR
    if arguments.command == "stubs":
        from checks.cli.stubs import run_stubs

        try:
            kata_ids = [manifest.kata(name).id for name in arguments.kata]
        except ManifestError as failure:
            output.error(str(failure), hint="Run `katas list` to see the katas.")
            return USAGE_ERROR
        return run_stubs(checkout, arguments.check, kata_ids)
    if arguments.command == "grade":
        from checks.cli.grade import run_grade

        return run_grade(checkout, manifest, arguments)
    raise AssertionError(f"unhandled command {arguments.command}")


if __name__ == "__main__":
    sys.exit(main())
