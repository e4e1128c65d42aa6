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
    raise AssertionError(f"unhandled command {arguments.command}")


if __name__ == "__main__":
    sys.exit(main())
