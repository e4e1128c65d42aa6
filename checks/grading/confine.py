"""Set a grading process's limits, bring up loopback if asked, then run the command.

Usage: python -m checks.grading.confine [--memory BYTES] [--loopback] -- COMMAND [ARGUMENT...]

The limits are set here, in the process that then becomes the command, rather than in a
``preexec_fn``: the grader starts processes from several threads, and code run between fork
and exec in a threaded parent can deadlock.

``unshare --net`` starts a process in a network namespace whose only interface, loopback, is
down. Kata servers listen on 127.0.0.1, so ``--loopback`` brings it up; every other address
stays unreachable. The ioctl is the one ``ip link set lo up`` makes, so iproute2 is not
needed.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import resource
import socket
import struct
import sys

SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1
# A grading process may write this much in one file; a learner's loop that writes forever
# fails with an error instead of filling the disk.
MAX_FILE_BYTES = 1024 * 1024 * 1024


def bring_loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as handle:
        request = struct.pack("16sH14s", b"lo", 0, b"")
        flags = struct.unpack("16sH14s", fcntl.ioctl(handle, SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(handle, SIOCSIFFLAGS, struct.pack("16sH14s", b"lo", flags | IFF_UP, b""))


def set_limits(memory_bytes: int | None) -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (MAX_FILE_BYTES, MAX_FILE_BYTES))
    if memory_bytes is not None:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))


def main(arguments: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m checks.grading.confine")
    parser.add_argument("--memory", type=int, default=None, help="Address-space cap in bytes.")
    parser.add_argument("--loopback", action="store_true", help="Bring the lo interface up.")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="The command after --.")
    options = parser.parse_args(arguments)
    command = options.command[1:] if options.command[:1] == ["--"] else options.command
    if not command:
        parser.error("a command to run is required after --")
    try:
        if options.loopback:
            bring_loopback_up()
        set_limits(options.memory)
    except OSError as error:
        print(f"confine: cannot set up the grading process: {error}", file=sys.stderr)
        return 1
    os.execvp(command[0], command)
    return 1  # not reached: execvp replaces this process or raises


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
