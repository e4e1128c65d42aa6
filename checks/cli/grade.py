"""``katas grade``: grade learner submissions and write results, a gradebook and a summary."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from rich.text import Text

from checks.cli import output
from checks.grading.isolation import probe_protections
from checks.grading.pristine import PristineError, PristineTrack, load_pristine_track
from checks.grading.results import (
    GRADEBOOK_FILE,
    RESULTS_FILE,
    SUMMARY_FILE,
    results_document,
    summary_markdown,
    write_gradebook,
    write_results,
)
from checks.grading.runner import GradingSettings, grade_submission
from checks.grading.submissions import SubmissionError, checkout_root, submission_name
from checks.manifest import Kata, Manifest, ManifestError, find_checkout, load_manifest
from checks.plugin import template_cache_dir

USAGE_ERROR = 2
# RLIMIT_AS counts reserved address space, and importing MLflow alone reserves about 1 GiB.
MIN_MEMORY_MIB = 1024
STATUS_STYLES = {"pass": "green", "fail": "yellow", "error": "red"}


class UsageError(Exception):
    """Raised for an invalid ``katas grade`` argument; the message names the fix."""


def run_grade(checkout: Path, manifest: Manifest, arguments: argparse.Namespace) -> int:
    try:
        pristine_root, pristine_manifest = _pristine(checkout, manifest, arguments.pristine)
        katas = _select_katas(pristine_manifest, arguments.kata)
        submissions = _select_submissions(arguments.submissions, arguments.shard)
        jobs = _jobs(arguments.jobs)
        _check_limits(arguments)
        out = _out_folder(arguments.out, pristine_root)
    except UsageError as error:
        output.error(str(error))
        return USAGE_ERROR

    protections = probe_protections(arguments.memory)
    settings = GradingSettings(
        test_timeout=arguments.kata_timeout,
        submission_timeout=arguments.timeout,
        protections=protections,
        cache_folder=template_cache_dir(),
    )
    described = protections.describe(arguments.kata_timeout, arguments.timeout)
    output.console.print(
        f"Grading {len(submissions)} submission(s) on {len(katas)} kata(s), "
        f"{max(1, min(jobs, len(submissions)))} at a time."
    )
    for name, text in described.items():
        output.console.print(Text(f"  {name}: {text}", style="dim"))
    edited = edited_pristine_files(pristine_root)
    if edited:
        listed = ", ".join(edited[:5]) + (f" and {len(edited) - 5} more" if len(edited) > 5 else "")
        output.console.print(
            Text(
                f"Warning: the pristine checkout {pristine_root} has uncommitted changes to files "
                f"that decide grades: {listed}. Restore or commit them (see `git status`) to "
                "grade against the suites as released.",
                style="bold yellow",
            )
        )

    try:
        track = load_pristine_track(pristine_root, pristine_manifest, katas)
    except PristineError as error:
        output.error(
            str(error), hint="Check that `pytest katas` collects in the pristine checkout."
        )
        return 1

    if submissions:
        documents = _grade_all(submissions, track, settings, described, jobs, out)
    else:
        output.console.print(f"Shard {arguments.shard} has no submissions to grade.")
        documents = []
    earlier = _earlier_results(out, {name for name, _ in submissions}, track)
    cohort = documents + earlier
    write_gradebook(out / GRADEBOOK_FILE, cohort, track)
    (out / SUMMARY_FILE).write_text(summary_markdown(cohort, described), encoding="utf-8")
    output.console.print(
        f"Wrote {len(documents)} results file(s), {out / GRADEBOOK_FILE} and {out / SUMMARY_FILE}."
    )
    if earlier:
        output.console.print(
            f"The gradebook and summary also cover {len(earlier)} submission(s) graded earlier "
            f"into {out}; delete their folders there to leave them out."
        )
    return 1 if any(document["status"] == "error" for document in documents) else 0


def edited_pristine_files(root: Path) -> list[str]:
    """Return the files under katas/ and fixtures/ that differ from Git's HEAD in ``root``.

    Solution modules are left out: grading replaces them with the submission's. Outside a
    Git work tree, or without git, nothing can be compared and the list is empty.
    """
    try:
        completed = subprocess.run(
            ["git", "--no-optional-locks", "status", "--porcelain", "--", "katas", "fixtures"],
            cwd=root,
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    if completed.returncode != 0:
        return []
    edited = []
    for line in completed.stdout.splitlines():
        path = line[3:].strip().strip('"')
        parts = path.split("/")
        is_solution_module = (
            len(parts) == 4 and parts[0] == "katas" and parts[3] == f"{parts[2]}.py"
        )
        if path and not is_solution_module:
            edited.append(path)
    return edited


def _earlier_results(out: Path, graded_now: set[str], track: PristineTrack) -> list[dict]:
    """Return the results files in ``out`` from earlier calls that graded the same katas.

    Late submissions graded into the same folder then join the cohort's gradebook instead
    of replacing it. Results of another kata selection are left out, with a warning.
    """
    kata_ids = [entry.kata.id for entry in track.katas]
    documents = []
    for path in sorted(out.glob(f"*/{RESULTS_FILE}")):
        if path.parent.name in graded_now:
            continue
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
            same_katas = [entry["id"] for entry in document["katas"]] == kata_ids
        except (OSError, ValueError, KeyError, TypeError):
            output.console.print(Text(f"Skipped the unreadable results {path}.", style="yellow"))
            continue
        if not same_katas:
            output.console.print(
                Text(
                    f"Left {path.parent.name} out of the gradebook: its results in {path} cover "
                    "other katas than this call.",
                    style="yellow",
                )
            )
            continue
        documents.append(document)
    return documents


def _grade_all(
    submissions: list[tuple[str, Path]],
    track: PristineTrack,
    settings: GradingSettings,
    protections: dict[str, str],
    jobs: int,
    out: Path,
) -> list[dict]:
    documents = []
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {
            pool.submit(grade_submission, source, track, settings): name
            for name, source in submissions
        }
        for future in as_completed(futures):
            grade = future.result()
            grade.name = futures[future]
            document = results_document(grade, track, protections)
            write_results(out / grade.name / RESULTS_FILE, document)
            documents.append(document)
            _print_line(document, grade.seconds)
    return documents


def _print_line(document: dict, seconds: float) -> None:
    status = document["status"]
    line = Text(f"{status:<5}", style=STATUS_STYLES[status])
    line += Text(f"  {document['submission']}  {document['score']:g}/{document['max_score']}")
    line += Text(f"  ({seconds:.0f} s)", style="dim")
    if document["tampering"]:
        kinds = sorted({finding["kind"] for finding in document["tampering"]})
        line += Text(f"  tampering: {', '.join(kinds)}", style="bold red")
    output.console.print(line)
    if status == "error" and document["message"]:
        output.console.print(Text("       " + document["message"].splitlines()[0], style="red"))


def _pristine(checkout: Path, manifest: Manifest, pristine: Path | None) -> tuple[Path, Manifest]:
    if pristine is None:
        return checkout, manifest
    try:
        root = find_checkout(pristine.resolve())
        return root, load_manifest(root / "katas" / "katas.toml")
    except ManifestError as error:
        raise UsageError(f"--pristine {pristine}: {error}") from None


def _select_katas(manifest: Manifest, names: list[str]) -> list[Kata]:
    if not names:
        return list(manifest.katas)
    selected: list[Kata] = []
    for name in names:
        if name in manifest.phases:
            katas = manifest.in_phase(name)
        else:
            try:
                katas = [manifest.kata(name)]
            except ManifestError as error:
                raise UsageError(f"--kata {name}: {error}") from None
        selected += [kata for kata in katas if kata not in selected]
    return [kata for kata in manifest.katas if kata in selected]


def _select_submissions(sources: list[str], shard: str) -> list[tuple[str, Path]]:
    """Return this shard's submissions as (unique name, path), in name order."""
    index, count = _parse_shard(shard)
    paths = []
    for source in sources:
        path = Path(source).resolve()
        if not path.exists():
            raise UsageError(f"Submission {source}: no such file or folder.")
        if path.is_dir():
            try:
                checkout_root(path)
            except SubmissionError as error:
                raise UsageError(str(error)) from None
        paths.append(path)
    named: list[tuple[str, Path]] = []
    taken: set[str] = set()
    for path in sorted(set(paths), key=lambda item: (submission_name(item), str(item))):
        name = submission_name(path)
        unique, number = name, 2
        while unique in taken:
            unique, number = f"{name}-{number}", number + 1
        taken.add(unique)
        named.append((unique, path))
    return [item for position, item in enumerate(named) if position % count == index - 1]


def _parse_shard(shard: str) -> tuple[int, int]:
    try:
        index_text, count_text = shard.split("/")
        index, count = int(index_text), int(count_text)
    except ValueError:
        raise UsageError(f"--shard {shard!r}: expected I/N, for example 2/4.") from None
    if count < 1 or not 1 <= index <= count:
        raise UsageError(f"--shard {shard!r}: I must be between 1 and N, and N at least 1.")
    return index, count


def _jobs(jobs: int) -> int:
    if jobs < 0:
        raise UsageError(f"--jobs must be 0 (one per CPU core) or more, not {jobs}.")
    return jobs or os.cpu_count() or 1


def _check_limits(arguments: argparse.Namespace) -> None:
    if arguments.timeout <= 0 or arguments.kata_timeout <= 0:
        raise UsageError("--timeout and --kata-timeout must be positive numbers of seconds.")
    if arguments.memory < MIN_MEMORY_MIB:
        raise UsageError(
            f"--memory {arguments.memory}: at least {MIN_MEMORY_MIB} MiB, because importing "
            "MLflow alone reserves about 1 GiB of address space."
        )


def _out_folder(out: Path, pristine_root: Path) -> Path:
    folder = out.resolve()
    if folder == pristine_root or (pristine_root / "katas") in [folder, *folder.parents]:
        raise UsageError(f"--out {out}: choose a folder outside the pristine katas.")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError(f"--out {out}: cannot create the folder: {error}.") from None
    return folder
