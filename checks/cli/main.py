"""The ``katas`` command line: parse arguments and hand over to one subcommand module."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from checks.cli import output
from checks.cli.selection import UnknownKata, current_kata, find_kata
from checks.cli.state import read_progress
from checks.cli.ui import DEFAULT_START_TIMEOUT
from checks.cli.watch import DEFAULT_POLL_INTERVAL
from checks.manifest import Kata, Manifest, ManifestError, find_checkout, load_manifest

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

    hint = commands.add_parser(
        "hint", help="Show the next hint of a kata, one at a time, and remember it."
    )
    hint.add_argument(
        "kata",
        nargs="?",
        help="phase/slug or slug. Default: the first kata not recorded as passed.",
    )
    hint.add_argument(
        "--task",
        type=int,
        default=None,
        metavar="N",
        help="Hints of README task N. Default: the first task with failing tests in the "
        "last recorded run, else the first task with hints you have not seen.",
    )
    hint_mode = hint.add_mutually_exclusive_group()
    hint_mode.add_argument(
        "--shown", action="store_true", help="Show the hints you have seen again; reveal none."
    )
    hint_mode.add_argument(
        "--reset",
        action="store_true",
        help="Forget which hints you have seen (of --task N only, when given).",
    )

    watch = commands.add_parser(
        "watch", help="Run a kata's tests each time you save its stub, then move on."
    )
    watch.add_argument(
        "kata",
        nargs="?",
        help="phase/slug or slug. Default: the first kata not recorded as passed.",
    )
    watch.add_argument(
        "--poll",
        action="store_true",
        help="Check the stub for changes at an interval instead of using file events. "
        "Default: file events, with polling when they cannot start.",
    )
    watch.add_argument(
        "--poll-interval",
        type=float,
        default=DEFAULT_POLL_INTERVAL,
        metavar="SECONDS",
        help=f"Seconds between checks when polling. Default: {DEFAULT_POLL_INTERVAL:g}.",
    )

    ui = commands.add_parser(
        "ui", help="Start the MLflow UI on the runs kept by `pytest ... --keep-runs`."
    )
    ui.add_argument(
        "kata",
        nargs="?",
        help="phase/slug or slug. Default: the kata of the most recently kept store.",
    )
    ui.add_argument(
        "--test",
        default=None,
        metavar="NAME",
        help="The kept test whose store to show. Default: the most recently kept one.",
    )
    ui.add_argument(
        "--port",
        type=int,
        default=0,
        help="Port on 127.0.0.1 for the UI. Default: 0 (a free port).",
    )
    ui.add_argument(
        "--start-timeout",
        type=float,
        default=DEFAULT_START_TIMEOUT,
        metavar="SECONDS",
        help=f"Seconds to wait for the server to respond. Default: {DEFAULT_START_TIMEOUT:g}.",
    )

    release = commands.add_parser(
        "release",
        help="Instructors: write or update the learner copy of this checkout in a folder.",
        description=(
            "Write the learner copy (katas, harness, learner README, classroom workflow) to "
            "OUT, or update an earlier release there. Files edited in OUT since the last "
            "release are kept and reported unless --force is given."
        ),
    )
    release.add_argument("out", type=Path, metavar="OUT", help="Folder for the learner copy.")
    release.add_argument(
        "--force",
        action="store_true",
        help="Overwrite or remove files edited in OUT since the last release, and overwrite "
        "files at the copy's paths that no release wrote. Default: keep them and report them.",
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
            hint = "Run `katas list` to see the phases and katas."
            if arguments.phase and "/" in arguments.phase:
                hint = (
                    f"`katas progress` takes a phase. To run one kata: "
                    f"`pytest katas/{arguments.phase}` or `katas watch {arguments.phase}`."
                )
            output.error(str(failure), hint=hint)
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
    if arguments.command == "hint":
        from checks.cli.hint import run_hint

        kata = _chosen_kata(checkout, manifest, arguments.kata, "hint")
        if kata is None:
            return USAGE_ERROR if arguments.kata else 0
        if arguments.task is not None and arguments.task < 1:
            output.error(f"--task must be 1 or more, not {arguments.task}.")
            return USAGE_ERROR
        return run_hint(checkout, kata, arguments.task, arguments.reset, arguments.shown)
    if arguments.command == "watch":
        from checks.cli.watch import run_watch

        if arguments.poll_interval <= 0:
            output.error(
                f"--poll-interval must be more than 0 seconds, not {arguments.poll_interval:g}.",
                hint=f"Run `katas watch --poll --poll-interval {DEFAULT_POLL_INTERVAL:g}`.",
            )
            return USAGE_ERROR
        kata = _chosen_kata(checkout, manifest, arguments.kata, "watch")
        if kata is None:
            return USAGE_ERROR if arguments.kata else 0
        return run_watch(
            checkout,
            manifest,
            kata,
            arguments.poll,
            arguments.poll_interval,
            named=bool(arguments.kata),
        )
    if arguments.command == "ui":
        from checks.cli.ui import run_ui

        if not 0 <= arguments.port <= 65535:
            output.error(
                f"--port must be between 1 and 65535, or 0 for a free port, not {arguments.port}.",
                hint="Run `katas ui` to use a free port.",
            )
            return USAGE_ERROR
        kata = None
        if arguments.kata:
            try:
                kata = find_kata(manifest, arguments.kata)
            except UnknownKata as failure:
                output.error(str(failure), hint=failure.hint("ui"))
                return USAGE_ERROR
        return run_ui(
            checkout, manifest, kata, arguments.test, arguments.port, arguments.start_timeout
        )
    if arguments.command == "release":
        from checks.cli.release import run_release

        return run_release(checkout, manifest, arguments.out, arguments.force)
    raise AssertionError(f"unhandled command {arguments.command}")


def _chosen_kata(checkout: Path, manifest: Manifest, name: str | None, command: str) -> Kata | None:
    """Return the kata named on the command line, or the first one not recorded as passed.

    Print why and return None when the name is unknown or when every kata has passed.
    """
    if name:
        try:
            return find_kata(manifest, name)
        except UnknownKata as failure:
            output.error(str(failure), hint=failure.hint(command))
            return None
    kata = current_kata(manifest, read_progress(checkout))
    if kata is None:
        output.console.print(
            "Every kata is recorded as passed. Name one to go on, "
            f"for example `katas {command} {manifest.katas[0].id}`."
        )
    return kata


if __name__ == "__main__":
    sys.exit(main())
