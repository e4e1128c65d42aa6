"""Run a server process on 127.0.0.1 for a test, wait until it is ready, and always stop it.

A server runs in its own process group (``start_new_session``), so stopping it reaches every
process it started, such as the uvicorn process that ``mlflow models serve`` runs. Its output
goes to a log file, because a pipe that no process reads fills up and blocks the server. Servers
that are still running when the interpreter exits are stopped by an ``atexit`` guard, and on
Linux a server also receives SIGTERM when the thread that started it exits, which covers a
test process killed with SIGKILL.

Typical use in a fixture::

    with model_server("models:/iris@champion", tracking_uri, log_dir=tmp_path) as server:
        httpx.get(f"{server.url}/ping", trust_env=False)
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import http.client
import logging
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType

logger = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
# `mlflow models serve` (MLflow 3.17.2) responds to /ping about 5 s after it starts on an
# idle 2-core machine, and took over 30 s on one that ran several other test suites.
DEFAULT_STARTUP_TIMEOUT = 60.0
# Seconds a server gets to exit after SIGTERM before it is killed with SIGKILL.
DEFAULT_STOP_GRACE = 5.0
# Ports tried in all when the chosen port turns out to be taken.
PORT_ATTEMPTS = 3
OUTPUT_TAIL_LINES = 15
# The last line of a Python traceback, such as "ModuleNotFoundError: No module named 'x'".
# A server that starts another process (mlflow models serve starts uvicorn) often ends its
# output with its own traceback, so the child's error would not be in the tail.
EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)(:|$)")
MAX_EXCEPTION_LINES = 5
POLL_INTERVAL = 0.1
PROBE_TIMEOUT = 2.0
# Text that servers print when they cannot bind their port: Python's errno message, as
# http.server, uvicorn and gunicorn write it.
PORT_IN_USE_MARKERS = ("address already in use", "errno 98")
# The exit code a shell returns when it does not find a command.
COMMAND_NOT_FOUND = 127

CommandFactory = Callable[[int], Sequence[str]]


class ServerError(RuntimeError):
    """Raised when a server process cannot be started or does not become ready."""


class ServerExitedError(ServerError):
    """Raised when a server process exits before it responds to its readiness URL."""

    def __init__(self, message: str, exit_code: int, output_tail: str) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.output_tail = output_tail


class ServerTimeoutError(ServerError):
    """Raised when a server does not respond to its readiness URL before the deadline."""

    def __init__(self, message: str, output_tail: str) -> None:
        super().__init__(message)
        self.output_tail = output_tail


class PortInUseError(ServerError):
    """Raised when every port tried for a server was taken by another process."""

    def __init__(self, message: str, ports: Sequence[int]) -> None:
        super().__init__(message)
        self.ports = list(ports)


# Servers started and not yet stopped, so the atexit guard can stop them.
_RUNNING: set[ServerProcess] = set()


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on at the moment of the call."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


def port_is_free(port: int) -> bool:
    """Check that a server could bind ``port`` on 127.0.0.1 now.

    SO_REUSEADDR is set as servers set it, so a port left in TIME_WAIT by a stopped server
    counts as free, while a port that a process listens on does not.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


class ServerProcess:
    """A server command running in its own process group and listening on 127.0.0.1.

    ``command`` builds the command line for a port. ``start`` picks the port (``port`` if it
    is free, else a free one), starts the command, and returns once a GET of ``ready_path``
    returns a 2xx status. ``stop`` ends the whole process group. Used as a context
    manager, the server starts on entry and is stopped on exit, also when the block raises.
    """

    def __init__(
        self,
        command: CommandFactory,
        *,
        log_dir: Path,
        name: str = "server",
        ready_path: str = "/",
        port: int | None = None,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        startup_timeout: float = DEFAULT_STARTUP_TIMEOUT,
        stop_grace: float = DEFAULT_STOP_GRACE,
        port_attempts: int = PORT_ATTEMPTS,
    ) -> None:
        if not ready_path.startswith("/"):
            raise ValueError(f"ready_path must start with '/', got {ready_path!r}.")
        self.command = command
        self.log_dir = Path(log_dir)
        self.name = name
        self.ready_path = ready_path
        self.requested_port = port
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self.startup_timeout = startup_timeout
        self.stop_grace = stop_grace
        self.port_attempts = port_attempts
        self.port: int | None = None
        self.log_path: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.command_line: list[str] = []
        self._ready = False
        self._attempt = 0
        self._taken_ports: list[int] = []
        self._launched_at = 0.0

    @property
    def url(self) -> str:
        """The base URL of the running server, such as ``http://127.0.0.1:8123``."""
        if self.port is None:
            raise ServerError(f"The {self.name} has not been started, so it has no URL yet.")
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def pid(self) -> int | None:
        """The id of the server's first process, which also leads its process group."""
        return self.process.pid if self.process is not None else None

    def __enter__(self) -> ServerProcess:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- starting ------------------------------------------------------------------------------

    def start(self) -> None:
        """Launch the server and wait until it is ready, moving to another port if one is taken.

        Raises:
            PortInUseError: every one of ``port_attempts`` ports was taken.
            ServerExitedError: the server exited before it was ready.
            ServerTimeoutError: the server was not ready within ``startup_timeout`` seconds;
                it is stopped before this is raised.
        """
        self.launch()
        self.wait_until_ready()

    def launch(self) -> None:
        """Start the server process and return without waiting for it to be ready.

        Call ``wait_until_ready`` before sending requests. The startup timeout counts from
        the launch, so a slow server can boot while the caller does other work.

        Raises:
            PortInUseError: every one of ``port_attempts`` ports was taken.
        """
        if self.process is not None:
            raise ServerError(f"The {self.name} is already running on port {self.port}.")
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._taken_ports = []
        self._attempt = 0
        self._ready = False
        self._launch_on_next_port(self.requested_port)

    def wait_until_ready(self) -> None:
        """Wait until GET ``ready_path`` returns a 2xx status, or return at once if it did.

        A server that exits because its port was taken is launched again on another port.
        On any error the server is stopped before the error is raised.

        Raises:
            PortInUseError, ServerExitedError, ServerTimeoutError: as for ``start``.
        """
        if self._ready:
            return
        if self.process is None:
            raise ServerError(f"The {self.name} has not been launched; call launch() first.")
        try:
            self._poll_until_ready()
        except BaseException:
            self.stop()
            raise

    def _launch_on_next_port(self, port: int | None) -> None:
        """Start the command on ``port`` or, if that is taken, on another free port."""
        while self._attempt < self.port_attempts:
            self._attempt += 1
            if port is None or port in self._taken_ports:
                port = free_port()
            if port_is_free(port):
                self._popen(port)
                return
            logger.warning("Port %d is taken; the %s moves to another port.", port, self.name)
            self._taken_ports.append(port)
            port = None
        self.port = None
        listed = ", ".join(str(number) for number in self._taken_ports)
        raise PortInUseError(
            f"Could not start the {self.name}, because port(s) {listed} on {LOOPBACK} were "
            f"already in use in {self.port_attempts} attempts. Stop the process that holds "
            "them (`ss -ltnp` lists listening ports and their processes) and run again.",
            self._taken_ports,
        )

    def _popen(self, port: int) -> None:
        self.command_line = [str(part) for part in self.command(port)]
        self.port = port
        name = self.name.replace(" ", "-")
        self.log_path = self.log_dir / f"{name}-{port}-{self._attempt}.log"
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                self.command_line,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,
                preexec_fn=_die_with_parent(),
            )
        self._launched_at = time.monotonic()
        _RUNNING.add(self)
        logger.info(
            "Started the %s (pid %d) on port %d: %s",
            self.name,
            self.process.pid,
            port,
            shlex.join(self.command_line),
        )

    def _poll_until_ready(self) -> None:
        while True:
            assert self.process is not None
            exit_code = self.process.poll()
            if exit_code is not None:
                self._handle_exit(exit_code)
                continue
            if self._ready_path_responds():
                # A server that lost the race for its port exits, while another process's
                # server may have responded to the probe, so check that ours is still up.
                if self.process.poll() is None:
                    self._ready = True
                    logger.info("The %s is ready at %s", self.name, self.url)
                    return
                continue
            if time.monotonic() >= self._launched_at + self.startup_timeout:
                tail = self.output_tail()
                raise ServerTimeoutError(
                    f"The {self.name} did not respond to GET {self.ready_path} on port {self.port} "
                    f"within {self.startup_timeout:g} s and was stopped. Command: "
                    f"{shlex.join(self.command_line)}.\n{self._describe_output(tail)}",
                    tail,
                )
            time.sleep(POLL_INTERVAL)

    def _handle_exit(self, exit_code: int) -> None:
        """Launch again on another port if the server could not bind its port; else raise."""
        tail = self.output_tail()
        port = self.port
        self._stop_process()
        if any(marker in tail.lower() for marker in PORT_IN_USE_MARKERS):
            logger.warning(
                "The %s could not bind port %s (attempt %d of %d).",
                self.name,
                port,
                self._attempt,
                self.port_attempts,
            )
            self._taken_ports.append(port)
            self._launch_on_next_port(None)
            return
        hint = ""
        if exit_code == COMMAND_NOT_FOUND:
            hint = (
                " Exit code 127 means that a shell did not find a command: check that the "
                "program it names is installed and on PATH."
            )
        raise ServerExitedError(
            f"The {self.name} exited with exit code {exit_code} before it responded to GET "
            f"{self.ready_path} on port {port}.{hint} Command: {shlex.join(self.command_line)}.\n"
            f"{self._describe_output(tail)}",
            exit_code,
            tail,
        )

    def _ready_path_responds(self) -> bool:
        """Check whether a GET of the readiness path returns a 2xx status."""
        assert self.port is not None
        # http.client, unlike urllib and httpx, never routes through a proxy from the
        # environment, so the probe always stays on the loopback address.
        connection = http.client.HTTPConnection(LOOPBACK, self.port, timeout=PROBE_TIMEOUT)
        try:
            connection.request("GET", self.ready_path)
            return 200 <= connection.getresponse().status < 300
        except (OSError, http.client.HTTPException):
            return False
        finally:
            connection.close()

    def output_tail(self, lines: int = OUTPUT_TAIL_LINES) -> str:
        """Return the last ``lines`` lines of the server's log, or a note that it is empty."""
        if self.log_path is None or not self.log_path.is_file():
            return "(no output)"
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        # Progress bars redraw with carriage returns; keep only what the last redraw shows.
        kept = [line.rsplit("\r", 1)[-1] for line in text.splitlines() if line.strip()]
        return "\n".join(kept[-lines:]) or "(no output)"

    def exception_lines(self) -> list[str]:
        """Return the distinct last lines of the Python tracebacks in the server's log."""
        if self.log_path is None or not self.log_path.is_file():
            return []
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        found = [line.strip() for line in text.splitlines() if EXCEPTION_LINE.match(line.strip())]
        return list(dict.fromkeys(found))[:MAX_EXCEPTION_LINES]

    def _describe_output(self, tail: str) -> str:
        """Format the server's exceptions that the tail does not show, then the tail."""
        earlier = [line for line in self.exception_lines() if line not in tail]
        lines = []
        if earlier:
            lines.append("Exceptions earlier in its output:")
            lines.extend(f"  {line}" for line in earlier)
        lines.append(f"Last lines of its output ({self.log_path}):")
        lines.append(tail)
        return "\n".join(lines)

    # -- stopping ------------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop every process of the server's group: SIGTERM, then SIGKILL after the grace.

        Safe to call more than once and on a server that has already exited.
        """
        self._ready = False
        self._stop_process()

    def _stop_process(self) -> None:
        process = self.process
        if process is None:
            return
        group = process.pid
        _signal_group(group, signal.SIGTERM)
        try:
            process.wait(timeout=self.stop_grace)
        except subprocess.TimeoutExpired:
            logger.warning(
                "The %s (pid %d) did not exit within %g s of SIGTERM; sending SIGKILL.",
                self.name,
                group,
                self.stop_grace,
            )
            _signal_group(group, signal.SIGKILL)
            process.wait()
        # Processes the leader started may outlive it for a moment.
        if not _wait_for_group_exit(group, self.stop_grace):
            _signal_group(group, signal.SIGKILL)
            if not _wait_for_group_exit(group, self.stop_grace):
                logger.warning(
                    "Processes of the %s's group %d were still present after SIGKILL.",
                    self.name,
                    group,
                )
        logger.info("Stopped the %s (pid %d), exit code %s.", self.name, group, process.returncode)
        self.process = None
        _RUNNING.discard(self)


def _signal_group(group: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, sig)


def group_is_alive(group: int) -> bool:
    """Check whether a process of the process group ``group`` is still running.

    Zombies (processes that have exited but that no parent has reaped yet) do not count:
    a server's child that outlives it is reparented to init, which may reap it only seconds
    later. Without /proc, a zombie counts as running.
    """
    proc = Path("/proc")
    if not proc.is_dir():
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The fields after the command name, which is in brackets and may hold spaces:
        # state, parent pid, process group.
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) >= 3 and int(fields[2]) == group and fields[0] not in ("Z", "X"):
            return True
    return False


def _wait_for_group_exit(group: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while group_is_alive(group):
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_INTERVAL)
    return True


def _die_with_parent() -> Callable[[], None] | None:
    """Return a pre-exec function that makes the child get SIGTERM when its parent dies.

    Linux only (prctl PR_SET_PDEATHSIG); elsewhere there is none. This covers a test process
    killed with SIGKILL, where neither finalizers nor atexit handlers run. The library is
    loaded here, in the parent, so the child between fork and exec only makes the call.

    NOTE: Linux sends the signal when the thread that started the child exits, not only the
    process. Start servers from a thread that lives as long as they should, as pytest's main
    thread does.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:
        return None
    set_death_signal = libc.prctl
    pr_set_pdeathsig = 1
    sigterm = int(signal.SIGTERM)

    def request_death_signal() -> None:
        set_death_signal(pr_set_pdeathsig, sigterm)

    return request_death_signal


@atexit.register
def _stop_servers_left_running() -> None:
    """Stop every server that its owner did not stop, when the interpreter exits."""
    for server in list(_RUNNING):
        logger.warning("Stopping the %s (pid %s) left running at exit.", server.name, server.pid)
        server.stop()


# -- mlflow models serve ---------------------------------------------------------------------


def mlflow_serve_command(model_uri: str) -> CommandFactory:
    """Return a command factory for ``mlflow models serve`` with the running interpreter.

    ``--env-manager local`` serves from this environment instead of building a new one, which
    would need the network.
    """
    executable = Path(sys.executable)

    def command(port: int) -> list[str]:
        return [
            str(executable),
            "-m",
            "mlflow",
            "models",
            "serve",
            "--model-uri",
            model_uri,
            "--env-manager",
            "local",
            "--host",
            LOOPBACK,
            "--port",
            str(port),
        ]

    return command


def mlflow_serve_environment(
    tracking_uri: str,
    registry_uri: str | None = None,
    *,
    temp_dir: Path | None = None,
    base: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Return the environment for an MLflow server that reads the given store.

    The running interpreter's bin folder goes first on PATH, because ``mlflow models serve``
    starts ``uvicorn`` through a shell that looks it up there (exit code 127 otherwise). The
    sandbox's offline settings apply, and variables that point MLflow at another store, run
    or experiment are removed. ``temp_dir`` becomes TMPDIR, so the model files that the
    server downloads stay in the test's folder.
    """
    from checks.sandbox import MLFLOW_LOCATION_VARIABLES, OFFLINE_ENVIRONMENT

    environment = dict(os.environ if base is None else base)
    for name in MLFLOW_LOCATION_VARIABLES:
        environment.pop(name, None)
    environment.update(OFFLINE_ENVIRONMENT)
    environment["MLFLOW_TRACKING_URI"] = tracking_uri
    environment["MLFLOW_REGISTRY_URI"] = registry_uri or tracking_uri
    environment["PYTHONUNBUFFERED"] = "1"
    bin_dir = str(Path(sys.executable).parent)
    path = [bin_dir, *(part for part in environment.get("PATH", "").split(os.pathsep) if part)]
    environment["PATH"] = os.pathsep.join(dict.fromkeys(path))
    if temp_dir is not None:
        environment["TMPDIR"] = str(temp_dir)
    return environment


def model_server(
    model_uri: str,
    tracking_uri: str,
    *,
    log_dir: Path,
    registry_uri: str | None = None,
    startup_timeout: float = DEFAULT_STARTUP_TIMEOUT,
) -> ServerProcess:
    """Return an unstarted ``mlflow models serve`` process for ``model_uri``.

    It reads the store at ``tracking_uri``, runs in ``log_dir`` and writes its output
    there, and is ready when ``/ping`` returns 200. Start it with ``with`` or ``start()``.
    """
    log_dir = Path(log_dir)
    temp_dir = log_dir / "tmp"
    temp_dir.mkdir(parents=True, exist_ok=True)
    return ServerProcess(
        mlflow_serve_command(model_uri),
        log_dir=log_dir,
        name="mlflow models serve",
        ready_path="/ping",
        env=mlflow_serve_environment(tracking_uri, registry_uri, temp_dir=temp_dir),
        cwd=log_dir,
        startup_timeout=startup_timeout,
    )
