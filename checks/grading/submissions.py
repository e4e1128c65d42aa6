"""Open a submission: a learner's copy as a folder, a .zip or a tar archive.

Archives are unpacked into a temporary folder with checks against the usual archive tricks:
members that would land outside the folder, links, devices, and archives that unpack to more
than a size cap.
"""

from __future__ import annotations

import shutil
import stat
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")
# A learner's copy contains a few hundred kilobytes of source. These caps leave ample room
# but stop an archive that unpacks to gigabytes.
MAX_UNPACKED_BYTES = 200 * 1024 * 1024
MAX_MEMBERS = 20_000
MANIFEST_PATH = Path("katas") / "katas.toml"


class SubmissionError(Exception):
    """Raised when a submission cannot be opened: missing, unreadable or unsafe to unpack."""


@dataclass(frozen=True)
class Submission:
    """A submission ready to grade: its name, where it came from and its checkout folder."""

    name: str
    source: Path
    root: Path


def submission_name(source: Path) -> str:
    """Return the name a submission is reported under: the folder or archive name."""
    name = source.name
    for suffix in ARCHIVE_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)] or name
    return name


def is_archive(source: Path) -> bool:
    return source.is_file() and source.name.endswith(ARCHIVE_SUFFIXES)


def open_submission(source: Path, scratch: Path) -> Submission:
    """Return the submission at ``source``, unpacking an archive into ``scratch``.

    The checkout folder is the one that contains ``katas/``: the submission's own folder, or
    the single folder an archive usually wraps around it.
    """
    if not source.exists():
        raise SubmissionError(f"{source}: no such file or folder.")
    if source.is_dir():
        folder = source
    elif is_archive(source):
        folder = scratch / "unpacked"
        folder.mkdir(parents=True)
        _unpack(source, folder)
    else:
        raise SubmissionError(
            f"{source}: not a folder or an archive; expected one of {', '.join(ARCHIVE_SUFFIXES)}."
        )
    return Submission(submission_name(source), source, checkout_root(folder, source))


def checkout_root(folder: Path, source: Path | None = None) -> Path:
    """Return the folder that contains ``katas/``: ``folder`` itself or its only subfolder.

    ``source`` names the submission in errors; by default ``folder`` does.
    """
    source = source or folder
    if (folder / "katas").is_dir():
        return folder
    children = [child for child in folder.iterdir() if child.is_dir()]
    if len(children) == 1 and (children[0] / "katas").is_dir():
        return children[0]
    copies = sorted(child.name for child in children if (child / "katas").is_dir())
    if len(copies) > 1:
        listed = ", ".join(copies[:3]) + (", ..." if len(copies) > 3 else "")
        raise SubmissionError(
            f"{source}: contains {len(copies)} learner copies ({listed}), not one. Pass each "
            f"copy as its own submission, for example `katas grade {source}/* --out ...`."
        )
    raise SubmissionError(
        f"{source}: no katas/ folder at the top or one folder down; is this a learner's copy?"
    )


def _unpack(archive: Path, destination: Path) -> None:
    try:
        if archive.name.endswith(".zip"):
            _unpack_zip(archive, destination)
        else:
            _unpack_tar(archive, destination)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as error:
        shutil.rmtree(destination, ignore_errors=True)
        raise SubmissionError(f"{archive}: cannot unpack: {error}.") from None


def _unpack_zip(archive: Path, destination: Path) -> None:
    with zipfile.ZipFile(archive) as bundle:
        members = bundle.infolist()
        _check_size(archive, len(members), sum(member.file_size for member in members))
        for member in members:
            mode = member.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise SubmissionError(f"{archive}: member {member.filename!r} is a symbolic link.")
            target = _safe_target(archive, destination, member.filename)
            if member.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with bundle.open(member) as source, target.open("wb") as sink:
                shutil.copyfileobj(source, sink)


def _unpack_tar(archive: Path, destination: Path) -> None:
    with tarfile.open(archive) as bundle:
        members = bundle.getmembers()
        _check_size(archive, len(members), sum(member.size for member in members))
        for member in members:
            if not (member.isfile() or member.isdir()):
                raise SubmissionError(
                    f"{archive}: member {member.name!r} is not a regular file or folder "
                    "(links and devices are not accepted)."
                )
            target = _safe_target(archive, destination, member.name)
            if member.isdir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            source = bundle.extractfile(member)
            if source is None:
                continue
            with source, target.open("wb") as sink:
                shutil.copyfileobj(source, sink)


def _check_size(archive: Path, members: int, total_bytes: int) -> None:
    if members > MAX_MEMBERS:
        raise SubmissionError(f"{archive}: {members} members; at most {MAX_MEMBERS} are accepted.")
    if total_bytes > MAX_UNPACKED_BYTES:
        raise SubmissionError(
            f"{archive}: unpacks to {total_bytes // 2**20} MiB; "
            f"at most {MAX_UNPACKED_BYTES // 2**20} MiB are accepted."
        )


def _safe_target(archive: Path, destination: Path, member_name: str) -> Path:
    relative = PurePosixPath(member_name.replace("\\", "/"))
    if relative.is_absolute() or ".." in relative.parts:
        raise SubmissionError(
            f"{archive}: member {member_name!r} would be written outside the submission folder."
        )
    return destination.joinpath(*relative.parts)
