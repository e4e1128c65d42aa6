"""Tests for checks/servers.py with small servers started on 127.0.0.1.

The servers are ``python -m http.server`` and short scripts that exit, print or sleep, so the
whole file runs in a few seconds. Each test checks afterwards that no process of the
server's group is left.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from checks import servers

REPO_ROOT = Path(__file__).resolve().parent.parent


def http_server(port: int) -> list[str]:
    return [sys.executable, "-m", "http.server", "--bind", servers.LOOPBACK, str(port)]


def script(code: str):
    """Return a command factory that runs ``code`` with this interpreter, ignoring the port."""
    return lambda port: [sys.executable, "-c", textwrap.dedent(code)]


def get_status(port: int, path: str = "/") -> int:
    connection = http.client.HTTPConnection(servers.LOOPBACK, port, timeout=5)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    finally:
        connection.close()


def wait_for_group_exit(group: int, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while servers.group_is_alive(group):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.fixture
def listening_socket():
    """A socket that listens on a free loopback port and never responds."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as blocker:
        blocker.bind((servers.LOOPBACK, 0))
        blocker.listen()
        yield blocker.getsockname()[1]


def test_ready_server_responds_and_stops(tmp_path):
    with servers.ServerProcess(http_server, log_dir=tmp_path, name="http server") as server:
        group = server.pid
        status = get_status(server.port)

    assert status == 200
    assert server.url.startswith("http://127.0.0.1:")
    assert not servers.group_is_alive(group), f"process group {group} outlived the block"


def test_output_goes_to_log_file(tmp_path):
    with servers.ServerProcess(http_server, log_dir=tmp_path, name="http server") as server:
        get_status(server.port, "/from-the-test")
        log_path = server.log_path

    assert log_path is not None and log_path.parent == tmp_path
    assert "/from-the-test" in log_path.read_text()


def test_taken_port_moves_to_free_port(tmp_path, listening_socket):
    with servers.ServerProcess(http_server, log_dir=tmp_path, port=listening_socket) as server:
        port = server.port
        status = get_status(port)

    assert port != listening_socket
    assert status == 200


def test_port_taken_on_every_attempt_raises(tmp_path):
    # The server binds a port that another process took between the check and the bind.
    bind_fails = script("print('OSError: [Errno 98] Address already in use'); raise SystemExit(1)")
    server = servers.ServerProcess(bind_fails, log_dir=tmp_path, port_attempts=3)

    with pytest.raises(servers.PortInUseError) as raised:
        server.start()

    assert len(raised.value.ports) == 3
    for port in raised.value.ports:
        assert str(port) in str(raised.value)
    assert server.process is None


def test_exit_before_ready_shows_code_and_output(tmp_path):
    crashing = script("""
        import sys
        print("loading the model")
        sys.exit(3)
    """)

    with pytest.raises(servers.ServerExitedError) as raised:
        servers.ServerProcess(crashing, log_dir=tmp_path).start()

    error = raised.value
    assert error.exit_code == 3
    assert "exit code 3" in str(error)
    assert "loading the model" in str(error)


def test_exit_shows_exception_above_the_tail(tmp_path):
    # As with mlflow models serve: the child's error comes first, then the parent's traceback.
    crashing = script("""
        import sys
        print("ModuleNotFoundError: No module named 'model_serving'")
        for number in range(40):
            print(f"  File 'cli.py', line {number}, in invoke")
        print("Exception: Command 'uvicorn' returned non zero return code")
        sys.exit(1)
    """)

    with pytest.raises(servers.ServerExitedError) as raised:
        servers.ServerProcess(crashing, log_dir=tmp_path).start()

    message = str(raised.value)
    assert "ModuleNotFoundError: No module named 'model_serving'" in message
    assert "returned non zero return code" in message
    assert "line 0," not in message


def test_command_not_found_explains_exit_code_127(tmp_path):
    missing = lambda port: ["bash", "-c", "exec no-such-server-program --port " + str(port)]  # noqa: E731

    with pytest.raises(servers.ServerExitedError) as raised:
        servers.ServerProcess(missing, log_dir=tmp_path).start()

    assert raised.value.exit_code == 127
    assert "exit code 127" in str(raised.value)
    assert "PATH" in str(raised.value)
    assert "no-such-server-program" in str(raised.value)


def test_server_never_ready_times_out_and_is_killed(tmp_path):
    sleeper = script("""
        import time
        print("still warming up", flush=True)
        time.sleep(60)
    """)
    server = servers.ServerProcess(sleeper, log_dir=tmp_path, startup_timeout=1.0)
    server.launch()
    group = server.pid

    started = time.monotonic()
    with pytest.raises(servers.ServerTimeoutError) as raised:
        server.wait_until_ready()

    assert time.monotonic() - started < 5
    assert "within 1 s" in str(raised.value)
    assert "still warming up" in str(raised.value)
    assert not servers.group_is_alive(group)


def test_server_ignoring_sigterm_is_killed(tmp_path):
    stubborn = lambda port: [  # noqa: E731
        sys.executable,
        "-c",
        "import signal, sys, runpy\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        f"sys.argv = ['http.server', '--bind', '127.0.0.1', '{port}']\n"
        "runpy.run_module('http.server', run_name='__main__')\n",
    ]
    server = servers.ServerProcess(stubborn, log_dir=tmp_path, stop_grace=0.5)
    server.start()
    group = server.pid

    server.stop()

    assert server.process is None
    assert not servers.group_is_alive(group)


def test_children_of_server_are_stopped(tmp_path):
    # The server is a child of a shell, as uvicorn is a child of `mlflow models serve`.
    wrapper = lambda port: [  # noqa: E731
        "bash",
        "-c",
        f"{sys.executable} -m http.server --bind 127.0.0.1 {port} & wait",
    ]

    with servers.ServerProcess(wrapper, log_dir=tmp_path) as server:
        group = server.pid
        members = subprocess.run(
            ["ps", "-o", "pid=", "-g", str(group)], capture_output=True, text=True, check=False
        ).stdout.split()

    assert len(members) >= 2, f"expected the shell and its http.server in group {group}"
    assert not servers.group_is_alive(group)


def test_group_is_gone_after_failing_test(pytester, tmp_path):
    pid_file = tmp_path / "server.pid"
    pytester.makepyfile(
        test_inner=f"""
        import sys
        from pathlib import Path

        from checks import servers


        def test_fails_inside_server(tmp_path):
            command = lambda port: [sys.executable, "-m", "http.server", "--bind",
                                    "127.0.0.1", str(port)]
            with servers.ServerProcess(command, log_dir=tmp_path) as server:
                Path({str(pid_file)!r}).write_text(str(server.pid))
                assert False, "the test fails while the server runs"
        """
    )

    result = pytester.runpytest("-p", "no:katas", "-p", "no:cacheprovider")

    result.assert_outcomes(failed=1)
    group = int(pid_file.read_text())
    assert not servers.group_is_alive(group), f"process group {group} outlived the failed test"


def test_server_left_running_is_stopped_at_exit(tmp_path):
    owner = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        from checks import servers

        command = lambda port: [sys.executable, "-m", "http.server", "--bind", "127.0.0.1",
                                str(port)]
        server = servers.ServerProcess(command, log_dir=Path({str(tmp_path)!r}))
        server.start()
        print(server.pid, flush=True)
    """)

    completed = subprocess.run(
        [sys.executable, "-c", owner],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )

    group = int(completed.stdout.split()[-1])
    assert wait_for_group_exit(group), f"process group {group} outlived its owner's exit"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux only")
def test_server_dies_with_killed_owner(tmp_path):
    # SIGKILL runs neither finalizers nor atexit handlers; the death signal still stops it.
    owner = textwrap.dedent(f"""
        import os, signal, sys
        from pathlib import Path
        from checks import servers

        command = lambda port: [sys.executable, "-m", "http.server", "--bind", "127.0.0.1",
                                str(port)]
        server = servers.ServerProcess(command, log_dir=Path({str(tmp_path)!r}))
        server.start()
        print(server.pid, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """)

    completed = subprocess.run(
        [sys.executable, "-c", owner],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert completed.returncode == -signal.SIGKILL
    group = int(completed.stdout.split()[-1])
    assert wait_for_group_exit(group), f"process group {group} outlived its killed owner"


def test_mlflow_serve_environment_points_at_store(tmp_path):
    base = {
        "PATH": "/usr/bin:/bin",
        "MLFLOW_RUN_ID": "run-from-the-shell",
        "MLFLOW_EXPERIMENT_NAME": "from-the-shell",
        "HOME": "/home/learner",
    }

    environment = servers.mlflow_serve_environment(
        "sqlite:////tmp/store.db", temp_dir=tmp_path, base=base
    )

    assert environment["PATH"].split(os.pathsep)[0] == str(Path(sys.executable).parent)
    assert environment["MLFLOW_TRACKING_URI"] == "sqlite:////tmp/store.db"
    assert environment["MLFLOW_REGISTRY_URI"] == "sqlite:////tmp/store.db"
    assert environment["MLFLOW_DISABLE_TELEMETRY"] == "true"
    assert environment["TMPDIR"] == str(tmp_path)
    assert environment["HOME"] == "/home/learner"
    assert "MLFLOW_RUN_ID" not in environment
    assert "MLFLOW_EXPERIMENT_NAME" not in environment


def test_mlflow_serve_command_uses_this_interpreter():
    command = servers.mlflow_serve_command("models:/iris@champion")(8123)

    assert command[:3] == [sys.executable, "-m", "mlflow"]
    assert command[command.index("--model-uri") + 1] == "models:/iris@champion"
    assert command[command.index("--env-manager") + 1] == "local"
    assert command[command.index("--host") + 1] == "127.0.0.1"
    assert command[command.index("--port") + 1] == "8123"


def test_ready_path_must_be_absolute(tmp_path):
    with pytest.raises(ValueError, match="ready_path"):
        servers.ServerProcess(http_server, log_dir=tmp_path, ready_path="ping")
