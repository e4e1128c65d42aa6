"""Find and load the module under test from the chosen solutions root.

A kata's tests never import the stub by name. The ``solution`` fixture loads
``<root>/<phase>/<kata>/<kata>.py``, where the root is the learner's ``katas/`` folder, the
hidden ``reference/`` folder or a submission given as a path.
"""

from __future__ import annotations

import functools
import importlib.util
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType, TracebackType

from checks.manifest import MANIFEST_NAME

SOLUTION_ROOT_NAMES = ("katas", "reference")


class SolutionImportError(Exception):
    """Raised when a solution module is missing, has a syntax error or fails to import."""

    def __init__(self, kata: str, path: Path, summary: str, detail: str = "") -> None:
        super().__init__(summary)
        self.kata = kata
        self.path = path
        self.summary = summary
        self.detail = detail


class InvalidSolutionsRoot(ValueError):
    """Raised when ``--solutions`` names neither a known root nor an existing folder."""


@dataclass(frozen=True)
class KataLocation:
    """A kata suite's location: the track root that contains katas.toml, and the kata's id."""

    track_root: Path
    kata_id: str

    @property
    def slug(self) -> str:
        return self.kata_id.rsplit("/", 1)[-1]


def find_track_root(path: Path) -> Path | None:
    """Return the nearest folder at or above ``path`` that contains the track manifest."""
    for folder in (path, *path.parents):
        if (folder / MANIFEST_NAME).is_file():
            return folder
    return None


@functools.lru_cache(maxsize=1024)
def locate_kata(test_file: Path) -> KataLocation | None:
    """Return the kata a test file belongs to, or None when it is not a kata test.

    A kata test is a file ``<track>/<phase>/<kata>/test_<kata>.py`` under a folder that holds
    katas.toml.
    """
    test_file = test_file.resolve()
    kata_dir = test_file.parent
    if test_file.name != f"test_{kata_dir.name}.py":
        return None
    track_root = find_track_root(kata_dir)
    if track_root is None or kata_dir.parent.parent != track_root:
        return None
    return KataLocation(track_root, kata_dir.relative_to(track_root).as_posix())


def resolve_solutions_root(choice: str, track_root: Path) -> Path:
    """Turn a ``--solutions`` value into the folder that contains ``<phase>/<kata>/<kata>.py``.

    ``katas`` is the track itself, ``reference`` the sibling reference folder, and anything
    else a path: either a tree of phases or a checkout whose ``katas/`` folder is one.
    """
    if choice == "katas":
        return track_root
    if choice == "reference":
        root = track_root.parent / "reference"
        if not root.is_dir():
            raise InvalidSolutionsRoot(
                f"--solutions reference needs the folder {root}, which does not exist. "
                "The reference solutions ship only in the maintainers' repository."
            )
        return root

    folder = solutions_folder(choice, Path.cwd())
    if (folder / "katas").is_dir():
        return folder / "katas"
    return folder


def solutions_folder(choice: str, base: Path) -> Path:
    """Return the absolute folder that a ``--solutions`` path names, relative to ``base``.

    Raises InvalidSolutionsRoot when the folder does not exist.
    """
    folder = (base / Path(choice).expanduser()).resolve()
    if not folder.is_dir():
        raise InvalidSolutionsRoot(
            f"--solutions {choice!r} is not 'katas', 'reference' or an existing folder. "
            "Pass a submission folder (a checkout of a learner's copy) or one of the two names."
        )
    return folder


def solution_path(root: Path, kata_id: str) -> Path:
    """Return the module file that implements ``kata_id`` under ``root``."""
    slug = kata_id.rsplit("/", 1)[-1]
    return root / kata_id / f"{slug}.py"


def load_solution(kata_id: str, path: Path) -> ModuleType:
    """Import the solution module at ``path`` under its kata's slug and return it.

    The module is registered in ``sys.modules`` under the slug, as ``import <slug>`` would,
    because pickled classes defined in it must be importable. The caller removes it.
    Bytecode is not written, so loading never adds files to the checkout.
    """
    slug = kata_id.rsplit("/", 1)[-1]
    if not path.is_file():
        raise SolutionImportError(
            kata_id, path, f"does not import: {path} is missing. Create it or restore the stub."
        )

    spec = importlib.util.spec_from_file_location(slug, path)
    if spec is None or spec.loader is None:
        raise SolutionImportError(kata_id, path, f"does not import: {path} is not a module.")
    module = importlib.util.module_from_spec(spec)

    previous = sys.dont_write_bytecode
    sys.dont_write_bytecode = True
    sys.modules[slug] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as error:
        del sys.modules[slug]
        where = f"{path.name}, line {error.lineno}"
        raise SolutionImportError(
            kata_id,
            path,
            f"does not import: syntax error in {where}: {error.msg}.",
            detail="".join(traceback.format_exception_only(error)),
        ) from None
    except BaseException as error:  # noqa: BLE001 (any failure at import is the learner's to see)
        del sys.modules[slug]
        if isinstance(error, KeyboardInterrupt):
            raise
        line = _innermost_line_in(path, error)
        where = f"{path.name}, line {line}" if line else path.name
        raise SolutionImportError(
            kata_id,
            path,
            f"does not import: {type(error).__name__} in {where}: {error}",
            detail="".join(
                traceback.format_exception(type(error), error, _traceback_from(path, error))
            ),
        ) from None
    finally:
        sys.dont_write_bytecode = previous
    return module


def unload_solution(kata_id: str) -> None:
    """Remove a loaded solution module from ``sys.modules``."""
    sys.modules.pop(kata_id.rsplit("/", 1)[-1], None)


def _innermost_line_in(path: Path, error: BaseException) -> int | None:
    """Return the last traceback line number that lies in ``path``, if any."""
    line = None
    for frame in traceback.extract_tb(error.__traceback__):
        if Path(frame.filename).resolve() == path.resolve():
            line = frame.lineno
    return line


def _traceback_from(path: Path, error: BaseException) -> TracebackType | None:
    """Return the error's traceback from its first frame in ``path`` on.

    The frames before it belong to the loader and importlib, which the learner cannot act
    on. Without a frame in ``path`` the whole traceback is returned.
    """
    tb = error.__traceback__
    while tb is not None and Path(tb.tb_frame.f_code.co_filename).resolve() != path.resolve():
        tb = tb.tb_next
    return tb or error.__traceback__
