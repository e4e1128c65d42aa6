"""``katas release OUT``: write the learner copy of this checkout to a folder, or update it.

The copy contains what a learner needs and no solution code: the katas (stubs,
suites, READMEs, hints, manifest), the harness and CLI in ``checks/`` (grading included),
``fixtures/``, the packaging files, a learner README, a ``.gitignore`` and the classroom
workflow. The reference solutions, meta-tests, mutants, benchmarks, docs and maintainer CI
stay behind.

Every release records the files it wrote, with a SHA-256 digest each, in
``OUT/.katas-release.toml``. A later release into the same folder updates the files that
changed upstream and removes the ones no longer shipped, but never touches a file it did not
write, and keeps a file edited in OUT since the last release unless ``--force`` is given.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath

from rich.text import Text

from checks.cli import output
from checks.manifest import Manifest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover (Python 3.10)
    import tomli as tomllib

USAGE_ERROR = 2
RECORD_NAME = ".katas-release.toml"
RECORD_HEADER = (
    "# Written by `katas release`. Do not edit: the next release into this folder reads it to\n"
    "# tell the files it wrote from files edited here since.\n"
)
TEMPLATES = Path(__file__).resolve().parent.parent / "templates"

# The top-level folders and files that the copy takes from the checkout. Everything else
# (reference/, tests/, bench/, docs/, .ci/, scripts/, .github/, tox.ini,
# .pre-commit-config.yaml) stays behind.
SHIPPED_FOLDERS = ("katas", "checks", "fixtures")
SHIPPED_FILES = (
    "pyproject.toml",
    "constraints.txt",
    "LICENSE",
    "LICENSE.txt",
    "LICENSE.md",
    "NOTICE",
)
# Files inside the shipped folders that never ship: caches, local state and MLflow stores.
EXCLUDED_FOLDER_NAMES = {
    "__pycache__",
    ".pytest_cache",
    ".ruff_cache",
    ".mypy_cache",
    ".ipynb_checkpoints",
    ".katas",
    "mlruns",
    "mlartifacts",
}
EXCLUDED_FILE_NAMES = {"mlflow.db", ".katas-progress.toml", ".DS_Store", RECORD_NAME}
EXCLUDED_SUFFIXES = (".pyc", ".pyo", ".swp", "~")

# Paths of the generated files in the copy.
LEARNER_README = "README.md"
LEARNER_GITIGNORE = ".gitignore"
CLASSROOM_WORKFLOW = ".github/workflows/classroom.yml"


class ReleaseError(Exception):
    """Raised when the release cannot be written; ``exit_code`` is 2 for a bad OUT."""

    def __init__(self, message: str, hint: str = "", exit_code: int = 1) -> None:
        super().__init__(message)
        self.hint = hint
        self.exit_code = exit_code


@dataclass(frozen=True)
class PlannedFile:
    """One file of the learner copy: its content and whether it is executable."""

    content: bytes
    executable: bool = False

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


@dataclass(frozen=True)
class Source:
    """The origin of a release: its commit, and the shipped files that differ from it."""

    commit: str | None
    uncommitted: tuple[str, ...] = ()


@dataclass
class Summary:
    """The outcome of a release for each file, by relative path."""

    written: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    kept: dict[str, str] = field(default_factory=dict)
    backed_up: dict[str, str] = field(default_factory=dict)


def run_release(checkout: Path, manifest: Manifest, out: Path, force: bool) -> int:
    """Write or update the learner copy in ``out``; return the exit code."""
    try:
        target = _check_out_folder(checkout, out)
        previous = read_record(target)
        source = describe_source(checkout)
        stubs = generated_stubs(checkout)
        planned = plan_release(checkout, manifest, stubs)
    except ReleaseError as error:
        output.error(str(error), hint=error.hint)
        return error.exit_code

    # A stub's working-tree changes are not shipped, so they need no commit.
    source = Source(source.commit, tuple(path for path in source.uncommitted if path not in stubs))
    summary, record = apply_release(target, planned, previous, force)
    write_record(target, record, source)
    _show_summary(checkout, target, summary, source, first_release=not previous)
    return 0


def _check_out_folder(checkout: Path, out: Path) -> Path:
    """Return OUT as an absolute path, rejecting this checkout, folders in it and files."""
    checkout = checkout.resolve()
    target = out.expanduser().resolve()
    if target == checkout or checkout in target.parents:
        raise ReleaseError(
            f"OUT {out} is inside this checkout ({checkout}). The learner copy must be a "
            "folder of its own, so that it can become a repository of its own.",
            hint=f"Choose a folder outside it, for example `katas release {checkout.parent}/"
            f"{checkout.name}-learner`.",
            exit_code=USAGE_ERROR,
        )
    if target in checkout.parents:
        raise ReleaseError(
            f"OUT {out} contains this checkout ({checkout}).",
            hint=f"Choose a folder beside it, for example `katas release {checkout.parent}/"
            f"{checkout.name}-learner`.",
            exit_code=USAGE_ERROR,
        )
    if target.exists() and not target.is_dir():
        raise ReleaseError(
            f"OUT {out} exists and is not a folder.",
            hint="Name a new or existing folder.",
            exit_code=USAGE_ERROR,
        )
    return target


# -- what the copy contains ------------------------------------------------------------------


def plan_release(
    checkout: Path, manifest: Manifest, stubs: dict[str, str]
) -> dict[str, PlannedFile]:
    """Return every file of the learner copy by its path relative to OUT."""
    planned: dict[str, PlannedFile] = {}
    for relative in shipped_paths(checkout):
        path = checkout / relative
        executable = os.access(path, os.X_OK)
        planned[relative] = PlannedFile(path.read_bytes(), executable)
    # The stubs come from the references, never from the working tree, where a maintainer
    # or an instructor trying the katas may have solved them.
    for relative, content in stubs.items():
        planned[relative] = PlannedFile(content.encode("utf-8"))

    planned[LEARNER_README] = PlannedFile(render_learner_readme(manifest).encode("utf-8"))
    planned[LEARNER_GITIGNORE] = PlannedFile(_template("learner_gitignore"))
    planned[CLASSROOM_WORKFLOW] = PlannedFile(_template("classroom.yml"))
    return dict(sorted(planned.items()))


def generated_stubs(checkout: Path) -> dict[str, str]:
    """Return each stub as its reference generates it, by path relative to the checkout."""
    if not (checkout / "reference").is_dir():
        return {}
    from checks.stubgen import StubError, stub_pairs

    stubs = {}
    for pair in stub_pairs(checkout):
        relative = pair.stub.relative_to(checkout).as_posix()
        try:
            stubs[relative] = pair.expected()
        except StubError as error:
            raise ReleaseError(
                f"Cannot generate the stub {relative}: {error}",
                hint="Fix the solution markers in the reference, then release again.",
            ) from None
    return stubs


def shipped_paths(checkout: Path) -> list[str]:
    """Return the checkout's files that the copy ships, relative and in POSIX form.

    In a Git work tree the candidates are the tracked files plus untracked ones that
    .gitignore does not exclude; elsewhere every file on disk. Either way the exclusions
    above apply.
    """
    listed = _git_listed_files(checkout)
    if listed is None:
        listed = _files_on_disk(checkout)
    shipped = []
    for relative in listed:
        parts = PurePosixPath(relative).parts
        top_level = parts[0] in SHIPPED_FOLDERS if len(parts) > 1 else relative in SHIPPED_FILES
        if top_level and not _is_excluded(parts) and (checkout / relative).is_file():
            shipped.append(relative)
    return sorted(set(shipped))


def _is_excluded(parts: tuple[str, ...]) -> bool:
    if any(part in EXCLUDED_FOLDER_NAMES or part.endswith(".egg-info") for part in parts[:-1]):
        return True
    name = parts[-1]
    return name in EXCLUDED_FILE_NAMES or name.endswith(EXCLUDED_SUFFIXES)


def _files_on_disk(checkout: Path) -> list[str]:
    found = []
    for top in (*SHIPPED_FOLDERS, *SHIPPED_FILES):
        path = checkout / top
        if path.is_file():
            found.append(top)
        elif path.is_dir():
            found.extend(
                item.relative_to(checkout).as_posix() for item in path.rglob("*") if item.is_file()
            )
    return found


def _git(checkout: Path, *arguments: str) -> str | None:
    """Return git's output for ``arguments`` in ``checkout``, or None when git fails."""
    try:
        completed = subprocess.run(
            # No optional locks: `git status` then leaves the checkout's index file alone.
            ["git", "--no-optional-locks", "-C", str(checkout), *arguments],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return completed.stdout if completed.returncode == 0 else None


def _is_git_root(checkout: Path) -> bool:
    top = _git(checkout, "rev-parse", "--show-toplevel")
    return top is not None and Path(top.strip()).resolve() == checkout.resolve()


def _git_listed_files(checkout: Path) -> list[str] | None:
    if not _is_git_root(checkout):
        return None
    listed = _git(
        checkout,
        "ls-files",
        "-z",
        "--cached",
        "--others",
        "--exclude-standard",
        "--",
        *SHIPPED_FOLDERS,
        *SHIPPED_FILES,
    )
    if listed is None:
        return None
    return [name for name in listed.split("\0") if name]


def describe_source(checkout: Path) -> Source:
    """Return the checkout's commit and the shipped paths that differ from it, if in Git."""
    if not _is_git_root(checkout):
        return Source(commit=None)
    head = _git(checkout, "rev-parse", "HEAD")
    status = _git(
        checkout,
        "status",
        "--porcelain",
        "--untracked-files=all",
        "--",
        *SHIPPED_FOLDERS,
        *SHIPPED_FILES,
    )
    changed = tuple(line[3:] for line in (status or "").splitlines() if line.strip())
    return Source(commit=head.strip() if head else None, uncommitted=changed)


def render_learner_readme(manifest: Manifest) -> str:
    """Fill the learner README template with the track's katas."""
    text = _template("learner_README.md").decode("utf-8")
    first = manifest.katas[0].id if manifest.katas else "phase1/<kata>"
    return text.replace("{{ kata_table }}", kata_table(manifest)).replace("{{ first_kata }}", first)


def kata_table(manifest: Manifest) -> str:
    """Return a Markdown table per phase: kata, title and points."""
    sections = []
    for phase, title in manifest.phases.items():
        katas = [kata for kata in manifest.katas if kata.phase == phase]
        if not katas:
            continue
        lines = [f"**{phase}: {title}**", "", "| kata | what you build | points |"]
        lines.append("| --- | --- | ---: |")
        for kata in katas:
            title_cell = kata.title.replace("|", "\\|")
            lines.append(
                f"| [`{kata.id}`](katas/{kata.id}/README.md) | {title_cell} | {kata.points} |"
            )
        sections.append("\n".join(lines))
    return "\n\n".join(sections)


def _template(name: str) -> bytes:
    path = TEMPLATES / name
    if not path.is_file():
        raise ReleaseError(
            f"The release template {path} is missing.",
            hint="Restore the templates with `git checkout -- checks/templates`.",
        )
    return path.read_bytes()


# -- writing and updating the copy -----------------------------------------------------------


def read_record(out: Path) -> dict[str, str]:
    """Return the files the last release wrote to ``out`` with their digests; {} if none."""
    path = out / RECORD_NAME
    if not path.is_file():
        return {}
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ReleaseError(
            f"The release record {path} cannot be read: {error}.",
            hint=(
                f"Restore it from the copy's history (`git -C {out} checkout -- {RECORD_NAME}`). "
                "Deleting it makes the next release treat every existing file as not its own, "
                "so none of them is updated."
            ),
        ) from None
    files = document.get("files", {})
    if not isinstance(files, dict):
        return {}
    return {
        relative: digest
        for relative, digest in files.items()
        if isinstance(digest, str) and _is_safe_relative(relative)
    }


def _is_safe_relative(relative: str) -> bool:
    """Check that a recorded path stays inside OUT and outside its .git folder."""
    path = PurePosixPath(relative)
    return (
        bool(path.parts)
        and not path.is_absolute()
        and ".." not in path.parts
        and path.parts[0] != ".git"
    )


def apply_release(
    out: Path, planned: dict[str, PlannedFile], previous: dict[str, str], force: bool
) -> tuple[Summary, dict[str, str]]:
    """Bring ``out`` up to ``planned`` and return what happened and the new record.

    ``previous`` maps each file the last release wrote to the digest it wrote. A file whose
    digest in OUT differs from that was edited there, and is kept unless ``force``.
    """
    summary = Summary()
    record: dict[str, str] = {}
    for relative, planned_file in planned.items():
        path = out / relative
        current = _digest(path)
        if current == planned_file.digest:
            summary.unchanged.append(relative)
            record[relative] = planned_file.digest
            _set_executable(path, planned_file.executable)
            continue
        if current is not None and not force:
            if relative not in previous:
                summary.kept[relative] = "not written by a release"
                continue
            if current != previous[relative]:
                summary.kept[relative] = "edited since the last release"
                record[relative] = previous[relative]
                continue
        if path.is_dir():
            summary.kept[relative] = "a folder is in the way"
            continue
        if current is not None and current != previous.get(relative):
            summary.backed_up[relative] = _back_up(out, relative)
        try:
            _write(path, planned_file)
        except OSError as error:
            summary.kept[relative] = f"could not be written: {error}"
            if relative in previous:
                record[relative] = previous[relative]
            continue
        (summary.updated if current is not None else summary.written).append(relative)
        record[relative] = planned_file.digest

    for relative, digest in sorted(previous.items()):
        if relative in planned:
            continue
        path = out / relative
        current = _digest(path)
        if current is None:
            continue
        if current != digest and not force:
            summary.kept[relative] = "no longer released, but edited since the last release"
            continue
        try:
            path.unlink()
        except OSError as error:
            summary.kept[relative] = f"no longer released, but could not be removed: {error}"
            record[relative] = digest
            continue
        _remove_empty_folders(path.parent, out)
        summary.removed.append(relative)
    return summary, record


def _back_up(out: Path, relative: str) -> str:
    """Copy a file edited in OUT to OUT/.katas/backups/ before --force replaces it."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    backup = out / ".katas" / "backups" / f"{relative}.{stamp}"
    backup.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(out / relative, backup)
    return backup.relative_to(out).as_posix()


def write_record(out: Path, record: dict[str, str], source: Source) -> Path:
    """Write OUT/.katas-release.toml atomically."""
    lines = [RECORD_HEADER]
    lines.append(f"released = {_quote(datetime.now(timezone.utc).isoformat(timespec='seconds'))}")
    lines.append(f"source_commit = {_quote(source.commit or '')}")
    lines.append(f"uncommitted_changes = {'true' if source.uncommitted else 'false'}")
    lines.append("")
    lines.append("[files]")
    lines.extend(
        f"{_quote(relative)} = {_quote(digest)}" for relative, digest in sorted(record.items())
    )
    path = out / RECORD_NAME
    out.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(path.name + ".tmp")
    draft.write_text("\n".join(lines) + "\n", encoding="utf-8")
    draft.replace(path)
    return path


def _digest(path: Path) -> str | None:
    if not path.is_file():
        return None
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write(path: Path, planned_file: PlannedFile) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(path.name + ".katas-release.tmp")
    draft.write_bytes(planned_file.content)
    draft.replace(path)
    _set_executable(path, planned_file.executable)


def _set_executable(path: Path, executable: bool) -> None:
    mode = path.stat().st_mode
    new_mode = mode | 0o111 if executable else mode & ~0o111
    if new_mode != mode:
        path.chmod(new_mode)


def _remove_empty_folders(folder: Path, out: Path) -> None:
    """Remove ``folder`` and its parents up to, but not including, ``out`` while empty."""
    while folder != out and out in folder.parents:
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent


def _quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


# -- the summary -----------------------------------------------------------------------------


def _show_summary(
    checkout: Path, out: Path, summary: Summary, source: Source, first_release: bool
) -> None:
    console = output.console
    commit = f"commit {source.commit[:12]}" if source.commit else "a checkout outside Git"
    console.print(Text(f"Released the learner copy of {commit} to {out}.", style="bold"))
    console.print(
        f"  {len(summary.written)} written, {len(summary.updated)} updated, "
        f"{len(summary.unchanged)} unchanged, {len(summary.removed)} removed, "
        f"{len(summary.kept)} kept"
    )
    for label, paths in (("Updated", summary.updated), ("Removed", summary.removed)):
        if paths:
            console.print(f"{label}:")
            for relative in paths:
                console.print(f"  {relative}", soft_wrap=True)
    if summary.kept:
        console.print(
            Text(
                f"Kept {len(summary.kept)} file(s) in {out} that the release would change:",
                style="yellow",
            )
        )
        for relative, reason in summary.kept.items():
            console.print(f"  {relative}  ({reason})", soft_wrap=True)
        console.print(
            f"  Compare them with the checkout's version, or overwrite them with "
            f"`katas release {out} --force`."
        )
    if summary.backed_up:
        console.print(f"Replaced {len(summary.backed_up)} edited file(s) and kept copies:")
        for relative, backup in summary.backed_up.items():
            console.print(f"  {relative} -> {backup}", soft_wrap=True)
    if source.uncommitted:
        listed = ", ".join(source.uncommitted[:5])
        more = f" and {len(source.uncommitted) - 5} more" if len(source.uncommitted) > 5 else ""
        console.print(
            Text(
                f"The copy includes changes not committed to the checkout: {listed}{more}. "
                "Commit them so that the release matches its recorded source commit.",
                style="yellow",
            )
        )
    _warn_about_stale_stubs(checkout)
    console.print(f"The files this release wrote and their digests are in {out / RECORD_NAME}.")
    if first_release:
        console.print(
            "Next: make the copy the template repository of your GitHub Classroom assignment:"
        )
        init = "" if (out / ".git").exists() else "git init -b main && "
        console.print(
            Text(
                f'  cd {out} && {init}git add -A && git commit -m "Release the katas"',
                style="bold",
            ),
            soft_wrap=True,
        )
        console.print(
            "  Push it to GitHub, tick 'Template repository' in its settings and choose it as "
            "the assignment's starter code. The classroom workflow grades each push against "
            "the first commit of the learner's repository, which is this release."
        )
    elif summary.written or summary.updated or summary.removed:
        console.print(
            "Next: commit the update in the copy. Repositories created from the template after "
            "that start from it; existing learner repositories keep the release they started from."
        )
    else:
        console.print("The copy was already up to date; there is nothing to commit.")


def _warn_about_stale_stubs(checkout: Path) -> None:
    """Say when a stub in the checkout differs from what its reference generates.

    Such a stub may hold someone's solution; the copy ships the generated stub instead.
    """
    if not (checkout / "reference").is_dir():
        return
    from checks.stubgen import StubError, stub_pairs

    stale = []
    for pair in stub_pairs(checkout):
        try:
            if not pair.is_current():
                stale.append(pair.stub.relative_to(checkout).as_posix())
        except StubError:
            stale.append(pair.stub.relative_to(checkout).as_posix())
    if stale:
        output.console.print(
            Text(
                f"Note: {len(stale)} stub(s) in the checkout differ from what their references "
                f"generate: {', '.join(stale)}. The copy ships the generated stubs, so any "
                "solution code written into them stayed in the checkout.",
                style="yellow",
            )
        )
