"""``katas watch``, run as a learner would, in a temporary copy of the checkout."""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from checks.cli import watch
from checks.manifest import load_manifest
from tests.suites import REPO_ROOT

COPIED = ("katas", "reference", "pyproject.toml")
# Every wait in the end-to-end test is bounded. A kata run takes a few seconds alone and up
# to half a minute on a busy two-core machine.
STEP_TIMEOUT = 240


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A copy of the checkout's katas, references and pytest settings."""
    for name in COPIED:
        source = REPO_ROOT / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copyfile(source, tmp_path / name)
    return tmp_path


def katas(*arguments: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "checks.cli.main", *arguments],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},
        check=False,
    )


class OutputReader:
    """Collect a process's output on a thread, so the test can wait for text with a timeout."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.text = ""
        self._lines: queue.Queue[str] = queue.Queue()
        self._thread = threading.Thread(target=self._read, args=(process,), daemon=True)
        self._thread.start()

    def _read(self, process: subprocess.Popen) -> None:
        for line in process.stdout:
            self._lines.put(line)

    def wait_for(self, expected: str, timeout: float = STEP_TIMEOUT) -> str:
        """Return the output so far once it contains ``expected``; fail after ``timeout``."""
        deadline = time.monotonic() + timeout
        while expected not in self.text:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                pytest.fail(f"No {expected!r} within {timeout} s. Output so far:\n{self.text}")
            try:
                self.text += self._lines.get(timeout=min(remaining, 1.0))
            except queue.Empty:
                continue
        return self.text

    def drain(self, timeout: float = 5.0) -> str:
        self._thread.join(timeout)
        while not self._lines.empty():
            self.text += self._lines.get_nowait()
        return self.text


@pytest.mark.slow
def test_watch_reruns_on_save_and_moves_on(checkout):
    kata = "phase1/cross_validation"
    stub = checkout / "katas" / kata / "cross_validation.py"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "checks.cli.main",
            "watch",
            kata,
            "--poll",
            "--poll-interval",
            "0.1",
        ],
        cwd=checkout,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        encoding="utf-8",
        env={**os.environ, "COLUMNS": "200", "PYTHONUNBUFFERED": "1", "PYTHONIOENCODING": "utf-8"},
    )
    reader = OutputReader(process)
    try:
        reader.wait_for("Watching katas/phase1/cross_validation/cross_validation.py")
        stub.write_text(stub.read_text(encoding="utf-8") + "\ndef broken(:\n", encoding="utf-8")
        after_syntax_error = reader.wait_for("syntax error in cross_validation.py")
        shutil.copyfile(checkout / "reference" / kata / "cross_validation.py", stub)
        after_green = reader.wait_for("Next: phase1/feature_selection")

        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
    text = reader.drain()

    assert "is not started" in text
    assert "does not import" in after_syntax_error
    assert "✓ phase1/cross_validation passes" in after_green
    assert code == 0, text
    assert "Stopped watching." in text
    assert "Traceback" not in text
    recorded = (checkout / ".katas-progress.toml").read_text(encoding="utf-8")
    assert '[katas."phase1/cross_validation"]\noutcome = "passed"' in recorded


def test_watch_unknown_kata_is_usage_error(checkout):
    result = katas("watch", "cross_validaton", cwd=checkout)

    assert result.returncode == 2
    assert "Did you mean phase1/cross_validation" in result.stderr
    assert "katas watch phase1/cross_validation" in result.stderr


def test_watch_rejects_poll_interval_of_zero(checkout):
    result = katas("watch", "--poll", "--poll-interval", "0", cwd=checkout)

    assert result.returncode == 2
    assert "--poll-interval must be more than 0 seconds, not 0" in result.stderr


def test_watch_with_every_kata_passed_stops(checkout):
    manifest = load_manifest(checkout / "katas" / "katas.toml")
    entries = "".join(
        f'[katas."{kata.id}"]\noutcome = "passed"\npassed = 1\ntotal = 1\n\n'
        for kata in manifest.katas
    )
    (checkout / ".katas-progress.toml").write_text(entries, encoding="utf-8")

    result = katas("watch", cwd=checkout)

    assert result.returncode == 0, result.stderr
    assert "Every kata is recorded as passed" in result.stdout


def test_stub_changes_sees_save_when_polling(tmp_path):
    stub = tmp_path / "example.py"
    stub.write_text("x = 1\n", encoding="utf-8")
    other = tmp_path / "notes.txt"
    saved = threading.Event()
    ticks = []

    def wait_for_change() -> None:
        changes = watch.stub_changes(stub.resolve(), poll=True, poll_interval=0.05)
        for changed in changes:
            if changed:
                break
            ticks.append(time.monotonic())
        changes.close()
        saved.set()

    waiter = threading.Thread(target=wait_for_change, daemon=True)
    waiter.start()
    time.sleep(0.5)
    other.write_text("not the stub\n", encoding="utf-8")
    time.sleep(1.5)
    reported_other_file = saved.is_set()
    stub.write_text("x = 2\n", encoding="utf-8")
    waiter.join(timeout=30)

    assert not reported_other_file, "a change to another file counted as a save of the stub"
    assert saved.is_set()
    assert ticks, "no tick while nothing changed"


def test_stub_changes_falls_back_to_polling(tmp_path, monkeypatch, capsys):
    import watchfiles

    calls = []

    def fake_watch(*paths, force_polling, **options):
        calls.append(force_polling)
        if not force_polling:
            raise OSError("OS file watch limit reached")
        yield {(watchfiles.Change.modified, str(tmp_path / "example.py"))}

    monkeypatch.setattr(watchfiles, "watch", fake_watch)

    changes = watch.stub_changes(tmp_path / "example.py", poll=False, poll_interval=0.5)
    next(changes)
    changes.close()

    assert calls == [False, True]
    assert "File events do not work here" in capsys.readouterr().out
