"""``katas ui [KATA]``: start the MLflow UI on the runs kept by ``pytest --keep-runs``.

The plugin keeps one store per test under ``.katas/runs/<phase>/<kata>/<test>/`` (an
``mlflow.db`` and its artifacts). An MLflow server serves one backend store, so the command
picks one kept store, starts ``mlflow server`` on it on loopback, and stops it on Ctrl-C.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from rich.text import Text

from checks.cli import output
from checks.cli.selection import current_kata
from checks.cli.state import read_progress
from checks.manifest import Kata, Manifest

KEPT_RUNS = Path(".katas") / "runs"
STORE_NAME = "mlflow.db"
SERVER_LOG = Path(".katas") / "ui-server.log"
HOST = "127.0.0.1"
DEFAULT_START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
LISTED_TESTS = 5

# Settings for the server process. The UI only reads kept runs, so MLflow's background job
# runner (several extra processes in MLflow 3.17) is not started, and nothing is sent out.
SERVER_ENVIRONMENT = {
    "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "1",
}


class UiError(Exception):
    """Raised when the UI cannot start; ``exit_code`` is 2 for a bad argument, else 1."""

    def __init__(self, message: str, hint: str = "", exit_code: int = 1) -> None:
        super().__init__(message)
        self.hint = hint
        self.exit_code = exit_code


@dataclass(frozen=True)
class KeptStore:
    """One test's kept MLflow store."""

    kata_id: str
    test: str
    folder: Path
    kept_at: float

    @property
    def database(self) -> Path:
        return self.folder / STORE_NAME


def find_kept_stores(checkout: Path) -> list[KeptStore]:
    """Return every kept store under .katas/runs, the most recently kept first."""
    root = checkout / KEPT_RUNS
    stores = []
    for database in root.glob(f"*/*/*/{STORE_NAME}"):
        folder = database.parent
        kata_id = folder.parent.relative_to(root).as_posix()
        stores.append(KeptStore(kata_id, folder.name, folder, database.stat().st_mtime))
    return sorted(stores, key=lambda store: store.kept_at, reverse=True)


def run_ui(
    checkout: Path,
    manifest: Manifest,
    kata: Kata | None,
    test: str | None,
    port: int,
    start_timeout: float,
) -> int:
    """Serve one kept store with the MLflow UI until Ctrl-C; return the exit code."""
    try:
        store, others = _choose_store(checkout, manifest, kata, test)
        port = port or _free_port()
        _check_port(port)
    except UiError as error:
        output.error(str(error), hint=error.hint)
        return error.exit_code

    log_path = checkout / SERVER_LOG
    previous_handlers = _stop_on_termination()
    process = None
    try:
        process = _start_server(store, port, log_path)
        url = f"http://{HOST}:{port}"
        with output.console.status(f"Starting the MLflow UI on {url} ..."):
            _wait_until_up(process, url, start_timeout, log_path)
        _show_started(checkout, store, others, url, process.pid, log_path)
        code = process.wait()
        output.error(
            f"The MLflow server stopped by itself with exit code {code}.",
            hint=f"Its output is in {log_path}.",
        )
        return 1
    except UiError as error:
        output.error(str(error), hint=error.hint)
        return error.exit_code
    except KeyboardInterrupt:
        output.console.print()
        output.console.print("Stopping the MLflow server ...")
        return 0
    finally:
        # A second Ctrl-C while the server stops would leave its processes running.
        previous_handlers[signal.SIGINT] = signal.signal(signal.SIGINT, signal.SIG_IGN)
        if process is not None:
            _stop_server(process)
            output.console.print("The MLflow server has stopped.")
        _restore_handlers(previous_handlers)


def _choose_store(
    checkout: Path, manifest: Manifest, kata: Kata | None, test: str | None
) -> tuple[KeptStore, list[KeptStore]]:
    """Return the store to serve and the other kept stores of its kata."""
    stores = find_kept_stores(checkout)
    if kata is not None:
        stores = [store for store in stores if store.kata_id == kata.id]
    if not stores:
        target = kata or current_kata(manifest, read_progress(checkout)) or manifest.katas[0]
        scope = f" of {kata.id}" if kata else ""
        raise UiError(
            f"There are no kept runs{scope} in {checkout / KEPT_RUNS}.",
            hint=(
                "Keep the MLflow stores of a test run, then start the UI again:\n"
                f"  pytest katas/{target.id} --keep-runs\n"
                f"  katas ui {target.id}"
            ),
        )
    chosen = stores[0] if test is None else _match_test(stores, test, kata)
    others = [
        store for store in stores if store.kata_id == chosen.kata_id and store.test != chosen.test
    ]
    return chosen, others


def _match_test(stores: list[KeptStore], test: str, kata: Kata | None) -> KeptStore:
    """Return the store of the test named ``test``, or of the one test whose name contains it."""
    exact = [store for store in stores if store.test == test]
    if exact:
        return exact[0]
    partial = [store for store in stores if test in store.test]
    names = sorted({store.test for store in partial})
    if len(names) == 1:
        return partial[0]
    kata_part = f"{kata.id} " if kata else ""
    if names:
        raise UiError(
            f"--test {test!r} matches {len(names)} kept tests: {', '.join(names)}.",
            hint=f"Name one in full, for example `katas ui {kata_part}--test {names[0]}`.",
            exit_code=2,
        )
    known = sorted({store.test for store in stores})
    close = difflib.get_close_matches(test, known, n=3)
    suggestion = f" Did you mean {' or '.join(close)}?" if close else ""
    raise UiError(
        f"No kept test is named {test!r}.{suggestion}",
        hint=(
            f"Kept tests: {', '.join(known[:LISTED_TESTS])}"
            + (f" and {len(known) - LISTED_TESTS} more" if len(known) > LISTED_TESTS else "")
            + f". Run `katas ui {kata_part}--test {(close or known)[0]}`."
        ),
        exit_code=2,
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def _check_port(port: int) -> None:
    """Raise UiError when another process already listens on ``port`` on loopback."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # The server sets SO_REUSEADDR too, so a port in TIME_WAIT counts as free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError as error:
            raise UiError(
                f"Port {port} on {HOST} is in use ({error.strerror}).",
                hint=f"Stop what uses port {port}, or run `katas ui` to pick a free port.",
            ) from None


def _start_server(store: KeptStore, port: int, log_path: Path) -> subprocess.Popen:
    """Start ``mlflow server`` on the store in its own process group, logging to a file."""
    command = [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--backend-store-uri",
        "sqlite:///" + store.database.resolve().as_posix(),
        # The kept store's runs carry absolute artifact paths into the kept folder, and the
        # server reads them from there. New experiments made in the UI write there too.
        "--default-artifact-root",
        (store.folder / "mlruns").resolve().as_uri(),
        "--no-serve-artifacts",
        "--host",
        HOST,
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    environment = {**os.environ, **SERVER_ENVIRONMENT}
    with log_path.open("wb") as log:
        if os.name == "posix":
            return subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=environment,
                start_new_session=True,
            )
        # NOTE: the Windows branch has not been run; it stops only the server process
        # itself, not processes the server starts.
        return subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=environment,
            creationflags=subprocess.CREATE_NEW_PROCESS_GROUP,
        )


def _wait_until_up(process: subprocess.Popen, url: str, timeout: float, log_path: Path) -> None:
    """Poll the server's /health endpoint until it responds, it exits, or ``timeout`` passes."""
    # Loopback requests must not go through a proxy that the environment may configure.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise UiError(
                f"The MLflow server exited with code {process.returncode} before it responded.",
                hint=f"Its output:\n{_tail(log_path, 20)}",
            )
        try:
            with opener.open(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.25)
    raise UiError(
        f"The MLflow server did not respond on {url} within {timeout:g} s.",
        hint=f"Its output is in {log_path}. Try a longer wait with `katas ui --start-timeout 120`.",
    )


def _show_started(
    checkout: Path,
    store: KeptStore,
    others: list[KeptStore],
    url: str,
    group: int,
    log_path: Path,
) -> None:
    console = output.console
    console.print(Text("MLflow UI: ", style="bold") + Text(url, style="bold cyan"))
    console.print(
        f"  Runs of {store.kata_id}, test {store.test}, kept {_ago(store.kept_at)} "
        f"({_relative(store.folder, checkout)})."
    )
    if others:
        folder = _relative(store.folder.parent, checkout)
        console.print(
            f"  {len(others)} other kept test(s) of {store.kata_id}, the newest first. "
            f"Show one with `katas ui {store.kata_id} --test NAME`:"
        )
        for other in others[:LISTED_TESTS]:
            console.print(f"    {other.test}", soft_wrap=True)
        if len(others) > LISTED_TESTS:
            console.print(f"    ... and {len(others) - LISTED_TESTS} more in {folder}/")
    console.print(
        Text(
            f"  Server output: {_relative(log_path, checkout)}. The server runs as process "
            f"group {group}.",
            style="dim",
        )
    )
    console.print(Text("Press Ctrl-C to stop the server.", style="bold"))


def _stop_server(process: subprocess.Popen) -> None:
    """Stop the server's whole process group: SIGTERM first, SIGKILL after STOP_TIMEOUT."""
    if os.name != "posix":
        process.terminate()
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        return

    group = process.pid
    _signal_group(group, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None and not _group_alive(group):
            return
        time.sleep(0.1)
    _signal_group(group, signal.SIGKILL)
    process.wait()


def _signal_group(group: int, number: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, number)


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


def _stop_on_termination() -> dict[int, object]:
    """Make SIGTERM and SIGHUP stop the server the way Ctrl-C does; return the old handlers."""

    def interrupt(number: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = {}
    for name in ("SIGTERM", "SIGHUP"):
        number = getattr(signal, name, None)
        if number is not None:
            previous[number] = signal.signal(number, interrupt)
    return previous


def _restore_handlers(previous: dict[int, object]) -> None:
    for number, handler in previous.items():
        signal.signal(number, handler)


def _tail(path: Path, lines: int) -> str:
    if not path.is_file():
        return "(no output)"
    text = path.read_text(encoding="utf-8", errors="replace")
    return "\n".join(text.strip().splitlines()[-lines:]) or "(no output)"


def _ago(timestamp: float) -> str:
    seconds = max(0, time.time() - timestamp)
    if seconds < 90:
        return "just now" if seconds < 10 else f"{seconds:.0f} seconds ago"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} minutes ago"
    if seconds < 36 * 3600:
        return f"{seconds / 3600:.0f} hours ago"
    return time.strftime("on %Y-%m-%d %H:%M", time.localtime(timestamp))


def _relative(path: Path, checkout: Path) -> str:
    try:
        return path.relative_to(checkout).as_posix()
    except ValueError:
        return str(path)
