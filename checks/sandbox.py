"""Build a throwaway MLflow for every kata test.

A migrated SQLite store costs about a second to create, so one template is built per MLflow
version and copied for each test (a copy takes milliseconds). Model requirement inference
starts a subprocess for every ``log_model`` call, so the sandbox skips it and each flavor
uses its default requirements instead.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

import mlflow

logger = logging.getLogger(__name__)

# Environment variables that point MLflow at a store, an experiment or a run. The sandbox
# removes the ones it does not set, so a learner's shell cannot leak into a test.
MLFLOW_LOCATION_VARIABLES = (
    "MLFLOW_TRACKING_URI",
    "MLFLOW_REGISTRY_URI",
    "MLFLOW_EXPERIMENT_NAME",
    "MLFLOW_EXPERIMENT_ID",
    "MLFLOW_RUN_ID",
    "MLFLOW_ACTIVE_MODEL_ID",
    "MLFLOW_TRACKING_USERNAME",
    "MLFLOW_TRACKING_PASSWORD",
    "MLFLOW_TRACKING_TOKEN",
)

# Settings that keep every kata offline and quiet. They are applied for the whole test
# process when pytest configures the plugin.
OFFLINE_ENVIRONMENT = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "1",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "MLFLOW_UV_AUTO_DETECT": "false",
    # Download progress bars would be mixed into the failure output.
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
}


def apply_offline_environment() -> None:
    """Set the offline and no-telemetry variables, overriding the user's values.

    No kata needs the network, and a test run must not send telemetry, whatever the
    learner's shell sets.

    MLflow (3.17) creates its telemetry client when it is imported, which happens when
    pytest loads this plugin and so before these variables exist. The client is created
    again here, and it reads MLFLOW_DISABLE_TELEMETRY at that point.
    """
    from mlflow.telemetry.client import set_telemetry_client

    os.environ.update(OFFLINE_ENVIRONMENT)
    set_telemetry_client()


# Folders whose SQLite stores skip disk syncs; see speed_up_sqlite_under.
_FAST_STORE_FOLDERS: set[str] = set()


def speed_up_sqlite_under(folder: Path) -> None:
    """Make every SQLite store under ``folder`` skip fsync and keep its journal in memory.

    A throwaway store needs no durability, and without a disk sync per commit a test that
    starts, logs and ends a run writes several times faster. Stores elsewhere keep SQLite's
    defaults.
    """
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    if not _FAST_STORE_FOLDERS:
        event.listen(Engine, "connect", _relax_sqlite_durability)
    _FAST_STORE_FOLDERS.add(str(folder.resolve()) + os.sep)


def _relax_sqlite_durability(connection: object, record: object) -> None:
    if not isinstance(connection, sqlite3.Connection):
        return
    rows = connection.execute("PRAGMA database_list").fetchall()
    database = next((row[2] for row in rows if row[1] == "main"), "")
    if database and any(database.startswith(folder) for folder in _FAST_STORE_FOLDERS):
        connection.execute("PRAGMA synchronous = OFF")
        connection.execute("PRAGMA journal_mode = MEMORY")


def cache_schema_revision() -> None:
    """Compute MLflow's latest schema revision once instead of for every new store.

    MLflow 3.17 checks each new SQLAlchemy store against the newest migration, and finds it
    by loading every alembic script (about 60 ms). The revision depends only on the installed
    MLflow, so it is cached for the process. This patches a private MLflow function.
    """
    import mlflow.store.db.utils as db_utils

    original = db_utils._get_latest_schema_revision
    if not hasattr(original, "cache_info"):
        db_utils._get_latest_schema_revision = functools.cache(original)


def sqlite_uri(path: Path) -> str:
    """Return an absolute ``sqlite:////`` URI, so a change of working folder cannot move it."""
    return "sqlite:///" + path.resolve().as_posix()


def template_path(cache_dir: Path) -> Path:
    """Return where the template store for the installed MLflow lives under ``cache_dir``.

    The file name carries the MLflow version, and each version migrates to one schema, so a
    template built by another version is never reused.
    """
    return cache_dir / f"katas-template-mlflow-{mlflow.__version__}.db"


def _is_complete_template(path: Path) -> bool:
    """Check that ``path`` is a readable store that finished its migrations."""
    if not path.is_file():
        return False
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as connection:
            rows = connection.execute("SELECT version_num FROM alembic_version").fetchall()
    except sqlite3.Error:
        return False
    return len(rows) == 1


def ensure_template(cache_dir: Path) -> Path:
    """Return a migrated template store in ``cache_dir``, building it if needed.

    Several pytest-xdist workers may race here. Each builds into a private file and moves it
    into place with ``os.replace``, which is atomic, so no worker ever copies a half-written
    store.
    """
    from mlflow.store.model_registry.sqlalchemy_store import (
        SqlAlchemyStore as RegistryStore,
    )
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    target = template_path(cache_dir)
    if _is_complete_template(target):
        return target

    cache_dir.mkdir(parents=True, exist_ok=True)
    build_dir = Path(tempfile.mkdtemp(prefix="template-", dir=cache_dir))
    try:
        draft = build_dir / "template.db"
        uri = sqlite_uri(draft)
        tracking = SqlAlchemyStore(uri, (build_dir / "mlruns").as_uri())
        registry = RegistryStore(uri)
        tracking.engine.dispose()
        registry.engine.dispose()
        os.replace(draft, target)
        logger.info("Built the MLflow template store %s", target)
    finally:
        shutil.rmtree(build_dir, ignore_errors=True)
    return target


@dataclass(frozen=True)
class Sandbox:
    """One test's private MLflow: its store, its artifact root and its working folder."""

    root: Path
    tracking_uri: str
    artifact_root: Path

    @property
    def registry_uri(self) -> str:
        return self.tracking_uri


def create_sandbox(template: Path, root: Path) -> Sandbox:
    """Copy the template store into ``root`` and point its Default experiment there."""
    root.mkdir(parents=True, exist_ok=True)
    store = root / "mlflow.db"
    # MLflow resolves its default artifact root, ./mlruns, against the working folder, which
    # the plugin moves to ``root``. Experiment 0 is pointed at the same place.
    artifact_root = root / "mlruns"
    shutil.copyfile(template, store)

    # The template's Default experiment (id 0) still names the artifact folder of the
    # build that created it, so runs logged there would write outside this test.
    with closing(sqlite3.connect(store)) as connection, connection:
        connection.execute(
            "UPDATE experiments SET artifact_location = ? WHERE experiment_id = 0",
            ((artifact_root / "0").as_uri(),),
        )
    return Sandbox(root=root, tracking_uri=sqlite_uri(store), artifact_root=artifact_root)


def _no_inferred_requirements(*args: object, **kwargs: object) -> list[str]:
    """Stand in for MLflow's requirement inference: flavors then use their defaults."""
    return []


@contextmanager
def fast_requirement_inference() -> Iterator[None]:
    """Skip the subprocess that MLflow starts to infer a model's requirements.

    Every flavor calls ``mlflow.utils.environment._infer_requirements`` through
    ``infer_pip_requirements`` and unions the result with its default requirements, so an
    empty result yields exactly the flavor defaults. The check that warns when those
    requirements differ from the installed versions is skipped too: it scans the installed
    distributions (about half a second the first time) and only logs warnings.
    """
    import mlflow.utils.environment as environment

    original_inference = environment._infer_requirements
    original_check = environment.warn_dependency_requirement_mismatches
    environment._infer_requirements = _no_inferred_requirements
    environment.warn_dependency_requirement_mismatches = _skip_mismatch_check
    try:
        yield
    finally:
        environment._infer_requirements = original_inference
        environment.warn_dependency_requirement_mismatches = original_check


def _skip_mismatch_check(*args: object, **kwargs: object) -> None:
    """Stand in for MLflow's warning about requirements that differ from installed versions."""


def end_leaked_runs() -> list[str]:
    """End every run left active on this thread and return their ids, innermost first."""
    leaked = []
    while (run := mlflow.active_run()) is not None:
        leaked.append(run.info.run_id)
        mlflow.end_run(status="KILLED")
    return leaked


def reset_global_state() -> None:
    """Forget the active experiment, the last run and model, the URIs and autologging."""
    import mlflow.tracking._model_registry.utils as registry_utils
    import mlflow.tracking._tracking_service.utils as tracking_utils
    from mlflow.tracking import fluent
    from mlflow.utils.autologging_utils import AUTOLOGGING_INTEGRATIONS

    end_leaked_runs()
    fluent._active_experiment_id = None
    fluent._last_active_run_id.set(None)
    fluent._reset_last_logged_model_id()
    if mlflow.get_active_model_id() is not None:
        mlflow.clear_active_model()
    tracking_utils._tracking_uri = None
    registry_utils._registry_uri = None
    # Artifact repositories are cached by run or model id. Snapshot replays reuse ids in a
    # new folder, so a cached repository would write into another test's sandbox.
    tracking_utils._artifact_repos_cache.clear()

    enabled = [
        name for name, config in AUTOLOGGING_INTEGRATIONS.items() if not config.get("disable")
    ]
    if enabled:
        mlflow.autolog(disable=True)


# -- snapshots -------------------------------------------------------------------------------

STORE_NAME = "mlflow.db"


def save_snapshot(sandbox: Sandbox, destination: Path) -> None:
    """Copy a sandbox's store and files to ``destination`` so tests can start from them.

    The store is copied with SQLite's backup API, which gives a consistent copy even while
    MLflow still has connections open to it.
    """
    destination.mkdir(parents=True)
    shutil.copytree(
        sandbox.root,
        destination,
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns(STORE_NAME, f"{STORE_NAME}-*", "artifact-*"),
    )
    _copy_store(sandbox.root / STORE_NAME, destination / STORE_NAME)


def restore_snapshot(snapshot: Path, snapshot_root: Path, sandbox: Sandbox) -> None:
    """Replace a sandbox's store and files with a snapshot taken in another sandbox.

    MLflow stores absolute artifact locations (experiments, runs, logged models, model
    versions), so every text value that starts with the old sandbox folder is rewritten to
    point into this one.
    """
    shutil.copytree(
        snapshot, sandbox.root, dirs_exist_ok=True, ignore=shutil.ignore_patterns(STORE_NAME)
    )
    store = sandbox.root / STORE_NAME
    _copy_store(snapshot / STORE_NAME, store)
    _rewrite_paths(store, f"{snapshot_root.as_posix()}/", f"{sandbox.root.as_posix()}/")


def _copy_store(source_path: Path, target_path: Path) -> None:
    """Copy a SQLite store with the backup API, which is safe while others hold connections."""
    with (
        closing(sqlite3.connect(source_path)) as source,
        closing(sqlite3.connect(target_path)) as target,
    ):
        source.backup(target)


def _rewrite_paths(store: Path, old: str, new: str) -> None:
    """Replace ``old`` with ``new`` in every text column of every table of a SQLite store."""
    with closing(sqlite3.connect(store)) as connection, connection:
        tables = [
            row[0]
            for row in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        for table in tables:
            columns = connection.execute(f'PRAGMA table_info("{table}")').fetchall()
            for column in columns:
                name, declared_type = column[1], (column[2] or "").upper()
                if not any(kind in declared_type for kind in ("CHAR", "TEXT", "CLOB")):
                    continue
                connection.execute(
                    f'UPDATE "{table}" SET "{name}" = REPLACE("{name}", ?, ?) '
                    f'WHERE instr("{name}", ?) > 0',
                    (old, new, old),
                )


def keep_store(sandbox: Sandbox, destination: Path) -> None:
    """Copy a sandbox's store and artifacts to ``destination`` for the MLflow UI.

    ``destination`` is replaced, and the artifact locations in the copied store are
    rewritten to point into it, so the copy works after the test's folder is gone.
    """
    if destination.exists():
        shutil.rmtree(destination)
    save_snapshot(sandbox, destination)
    _rewrite_paths(
        destination / STORE_NAME, f"{sandbox.root.as_posix()}/", f"{destination.as_posix()}/"
    )
