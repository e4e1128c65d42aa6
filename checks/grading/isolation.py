"""Run a grading process apart from the grader: own process group, memory cap, no network.

Which protections apply depends on the operating system, so they are probed once and the
results files list the ones that held.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

PROBE_TIMEOUT_SECONDS = 10


@dataclass(frozen=True)
class Protections:
    """The protections this operating system allows, with their descriptions for the results."""

    network_prefix: tuple[str, ...]
    network: str
    memory_cap_bytes: int | None
    memory: str

    def describe(self, test_timeout: float, submission_timeout: float) -> dict[str, str]:
        return {
            "process": "a separate process group per submission, killed when its grading ends",
            "network": self.network,
            "memory": self.memory,
            "timeouts": (
                f"{test_timeout:g} s per test, {submission_timeout:g} s per submission in all"
            ),
        }

    def wrap(self, command: list[str]) -> list[str]:
        """Return ``command`` prefixed with the launchers that apply these protections."""
        confine = [sys.executable, "-m", "checks.grading.confine"]
        if self.memory_cap_bytes is not None:
            confine += ["--memory", str(self.memory_cap_bytes)]
        if self.network_prefix:
            confine.append("--loopback")
        return [*self.network_prefix, *confine, "--", *command]


def probe_protections(memory_mib: int) -> Protections:
    """Find out which protections this machine supports."""
    prefix, network = _probe_network()
    if sys.platform.startswith("linux"):
        cap = memory_mib * 1024 * 1024
        memory = f"capped at {memory_mib} MiB of address space per submission (RLIMIT_AS)"
    else:
        cap = None
        memory = f"not capped: RLIMIT_AS is not enforced on {sys.platform}"
    return Protections(prefix, network, cap, memory)


def _probe_network() -> tuple[tuple[str, ...], str]:
    """Return the command prefix that cuts the network, and a description of what applies.

    ``unshare --net`` gives the process a network namespace of its own with only a loopback
    interface, which ``checks.grading.confine`` brings up so kata servers on 127.0.0.1 still
    work. Without root, ``--map-root-user`` requests a user namespace first. Some systems
    forbid both.
    """
    unshare = shutil.which("unshare")
    if unshare is None or not sys.platform.startswith("linux"):
        return (), "not cut: unshare(1) is not available on this system"
    loopback_up = [sys.executable, "-m", "checks.grading.confine", "--loopback", "--", "true"]
    failures = []
    for flags in (("--net",), ("--map-root-user", "--net")):
        prefix = (unshare, *flags, "--")
        try:
            completed = subprocess.run(
                [*prefix, *loopback_up],
                capture_output=True,
                text=True,
                timeout=PROBE_TIMEOUT_SECONDS,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            failures.append(f"unshare {' '.join(flags)}: {error}")
            continue
        if completed.returncode == 0:
            return (
                prefix,
                "cut: each submission runs in its own network namespace with only a loopback "
                f"interface (unshare {' '.join(flags)})",
            )
        failures.append(f"unshare {' '.join(flags)}: {completed.stderr.strip()[-200:]}")
    return (), "not cut: " + "; ".join(failures)


def run_isolated(
    command: list[str],
    *,
    protections: Protections,
    cwd: Path,
    environment: dict[str, str],
    log_path: Path,
    timeout: float,
) -> tuple[int | None, bool]:
    """Run ``command`` under the protections; return its exit code and whether it timed out.

    The output goes to ``log_path``. On a timeout the whole process group is killed, so no
    server or child process that the learner's code started outlives the grading.
    """
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            protections.wrap(command),
            cwd=cwd,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            code = process.wait(timeout=max(timeout, 1.0))
            timed_out = False
        except subprocess.TimeoutExpired:
            code, timed_out = None, True
        finally:
            _kill_group(process)
    return code, timed_out


def _kill_group(process: subprocess.Popen) -> None:
    """Kill every process left in the child's process group, then reap the child."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
