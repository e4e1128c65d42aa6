"""The grader's parts on their own: archives, report signatures, isolation, arguments."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

import pytest

from checks.cli import grade as grade_command
from checks.cli.main import main
from checks.grading import signature, submissions
from checks.grading.isolation import probe_protections, run_isolated
from checks.grading.submissions import SubmissionError, open_submission

REPO_ROOT = Path(__file__).resolve().parent.parent


# -- submissions --------------------------------------------------------------------------


def _learner_copy(folder: Path) -> Path:
    module = folder / "katas" / "phase1" / "tracking_basics" / "tracking_basics.py"
    module.parent.mkdir(parents=True)
    module.write_text("ANSWER = 42\n", encoding="utf-8")
    return folder


def test_folder_submission_is_its_own_root(tmp_path):
    copy = _learner_copy(tmp_path / "alice")

    opened = open_submission(copy, tmp_path / "scratch")

    assert (opened.name, opened.root) == ("alice", copy)


def test_zip_with_top_folder_unpacks(tmp_path):
    archive = tmp_path / "bob.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("bob-main/katas/phase1/tracking_basics/tracking_basics.py", "X = 1\n")

    opened = open_submission(archive, tmp_path / "scratch")

    assert opened.name == "bob"
    assert (
        opened.root / "katas/phase1/tracking_basics/tracking_basics.py"
    ).read_text() == "X = 1\n"


def test_tar_gz_unpacks(tmp_path):
    copy = _learner_copy(tmp_path / "carol")
    archive = tmp_path / "carol.tar.gz"
    with tarfile.open(archive, "w:gz") as bundle:
        bundle.add(copy, arcname="carol")

    opened = open_submission(archive, tmp_path / "scratch")

    assert opened.name == "carol"
    assert (opened.root / "katas").is_dir()


def test_zip_member_outside_folder_rejected(tmp_path):
    archive = tmp_path / "escape.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("../outside.py", "X = 1\n")

    with pytest.raises(SubmissionError, match="outside the submission folder"):
        open_submission(archive, tmp_path / "scratch")
    assert not (tmp_path / "outside.py").exists()


def test_tar_symlink_rejected(tmp_path):
    archive = tmp_path / "link.tar"
    with tarfile.open(archive, "w") as bundle:
        member = tarfile.TarInfo("katas/secret.py")
        member.type = tarfile.SYMTYPE
        member.linkname = "/etc/passwd"
        bundle.addfile(member)

    with pytest.raises(SubmissionError, match="not a regular file"):
        open_submission(archive, tmp_path / "scratch")


def test_oversized_archive_rejected(tmp_path, monkeypatch):
    monkeypatch.setattr(submissions, "MAX_UNPACKED_BYTES", 1000)
    archive = tmp_path / "big.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr("katas/big.py", "#" * 5000)

    with pytest.raises(SubmissionError, match="unpacks to"):
        open_submission(archive, tmp_path / "scratch")


def test_corrupt_archive_rejected(tmp_path):
    archive = tmp_path / "broken.zip"
    archive.write_bytes(b"not a zip file at all")

    with pytest.raises(SubmissionError, match="cannot unpack"):
        open_submission(archive, tmp_path / "scratch")


def test_folder_without_katas_rejected(tmp_path):
    (tmp_path / "empty").mkdir()

    with pytest.raises(SubmissionError, match="no katas/ folder"):
        open_submission(tmp_path / "empty", tmp_path / "scratch")


def test_other_file_rejected(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("hello", encoding="utf-8")

    with pytest.raises(SubmissionError, match="not a folder or an archive"):
        open_submission(notes, tmp_path / "scratch")


# -- report signatures --------------------------------------------------------------------


def test_signed_report_verifies():
    key = b"k" * 32
    document = signature.sign({"katas": {"a": 1}}, key)

    assert signature.is_signed_by(document, key)


def test_edited_report_fails_verification():
    key = b"k" * 32
    document = signature.sign({"katas": {"a": {"passed": 1}}}, key)
    document["katas"]["a"]["passed"] = 17

    assert not signature.is_signed_by(document, key)


def test_unsigned_report_fails_verification():
    assert not signature.is_signed_by({"katas": {}}, b"k" * 32)


def test_key_taken_once_then_gone(tmp_path, monkeypatch):
    path, key = signature.new_key_file(tmp_path)
    monkeypatch.setenv(signature.KEY_FILE_VARIABLE, str(path))

    assert signature.take_key_from_environment() == key
    assert not path.exists()
    assert signature.KEY_FILE_VARIABLE not in os.environ
    assert signature.take_key_from_environment() is None


# -- isolation ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def protections():
    return probe_protections(memory_mib=1024)


def _run_python(code: str, protections, tmp_path: Path, timeout: float = 30) -> tuple:
    log = tmp_path / "output.log"
    code_and_timeout = run_isolated(
        [sys.executable, "-c", code],
        protections=protections,
        cwd=tmp_path,
        environment=dict(os.environ),
        log_path=log,
        timeout=timeout,
    )
    return (*code_and_timeout, log.read_text(encoding="utf-8"))


def test_network_cut_to_loopback(protections, tmp_path):
    if not protections.network_prefix:
        pytest.skip(f"this machine cannot cut the network: {protections.network}")

    code, _, output = _run_python(
        "import socket; print(sorted(name for _, name in socket.if_nameindex()))",
        protections,
        tmp_path,
    )

    assert code == 0, output
    assert output.strip() == "['lo']"


def test_loopback_works_without_network(protections, tmp_path):
    code, _, output = _run_python(
        "import socket\n"
        "server = socket.create_server(('127.0.0.1', 0))\n"
        "client = socket.create_connection(server.getsockname())\n"
        "print('connected')\n",
        protections,
        tmp_path,
    )

    assert (code, output.strip()) == (0, "connected"), output


def test_memory_cap_raises_memory_error(protections, tmp_path):
    if protections.memory_cap_bytes is None:
        pytest.skip(protections.memory)

    code, _, output = _run_python("x = bytearray(3 * 1024 ** 3)", protections, tmp_path)

    assert code != 0
    assert "MemoryError" in output


def test_timeout_kills_whole_process_group(protections, tmp_path):
    code_text = (
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'])\n"
        f"open({str(tmp_path / 'child.pid')!r}, 'w').write(str(child.pid))\n"
        "time.sleep(120)\n"
    )

    started = time.monotonic()
    code, timed_out, _ = _run_python(code_text, protections, tmp_path, timeout=3)

    assert timed_out and code is None
    assert time.monotonic() - started < 30
    child_pid = int((tmp_path / "child.pid").read_text())
    assert _dies_soon(child_pid), "the grandchild outlived the grading process"


def _dies_soon(pid: int, seconds: float = 10.0) -> bool:
    """Wait for ``pid`` to end: SIGKILL is delivered asynchronously, so it may take a moment."""
    deadline = time.monotonic() + seconds
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "State:\tZ" not in status


# -- command-line arguments ---------------------------------------------------------------


@pytest.fixture
def in_checkout(monkeypatch):
    monkeypatch.chdir(REPO_ROOT)


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (["--shard", "3/2"], "--shard '3/2'"),
        (["--shard", "half"], "expected I/N"),
        (["--memory", "100"], "at least 1024 MiB"),
        (["--timeout", "0"], "must be positive"),
        (["--jobs", "-1"], "--jobs must be 0"),
        (["--kata", "phase9/nothing"], "--kata phase9/nothing"),
    ],
)
def test_bad_argument_is_usage_error(in_checkout, tmp_path, capsys, arguments, expected):
    _learner_copy(tmp_path / "alice")

    code = main(["grade", str(tmp_path / "alice"), "--out", str(tmp_path / "out"), *arguments])

    assert code == 2
    assert expected in _unwrapped(capsys.readouterr().err)


def test_missing_submission_is_usage_error(in_checkout, tmp_path, capsys):
    code = main(["grade", str(tmp_path / "nobody"), "--out", str(tmp_path / "out")])

    assert code == 2
    assert "no such file or folder" in _unwrapped(capsys.readouterr().err)


def test_out_inside_pristine_katas_rejected(in_checkout, tmp_path, capsys):
    _learner_copy(tmp_path / "alice")

    code = main(["grade", str(tmp_path / "alice"), "--out", str(REPO_ROOT / "katas" / "out")])

    assert code == 2
    assert "outside the pristine katas" in _unwrapped(capsys.readouterr().err)
    assert not (REPO_ROOT / "katas" / "out").exists()


def _unwrapped(text: str) -> str:
    """Undo the terminal's line wrapping of an error message."""
    return " ".join(text.split())


def test_shards_split_cohort_without_overlap(tmp_path):
    names = [f"learner{number:02d}" for number in range(7)]
    for name in names:
        _learner_copy(tmp_path / name)
    sources = [str(tmp_path / name) for name in names]

    shards = [grade_command._select_submissions(sources, f"{index}/3") for index in (1, 2, 3)]

    graded = [name for shard in shards for name, _ in shard]
    assert sorted(graded) == names
    assert max(len(shard) for shard in shards) - min(len(shard) for shard in shards) <= 1


def test_same_names_made_unique(tmp_path):
    for group in ("morning", "evening"):
        _learner_copy(tmp_path / group / "alice")
    archive = tmp_path / "alice.zip"
    archive.write_bytes(io.BytesIO().getvalue())
    sources = [
        str(tmp_path / "morning" / "alice"),
        str(tmp_path / "evening" / "alice"),
        str(archive),
    ]

    names = [name for name, _ in grade_command._select_submissions(sources, "1/1")]

    assert sorted(names) == ["alice", "alice-2", "alice-3"]


def test_cohort_folder_is_usage_error(in_checkout, tmp_path, capsys):
    for name in ("alice", "bob"):
        _learner_copy(tmp_path / "cohort" / name)

    code = main(["grade", str(tmp_path / "cohort"), "--out", str(tmp_path / "out")])

    assert code == 2
    assert "contains 2 learner copies (alice, bob)" in _unwrapped(capsys.readouterr().err)
    assert not (tmp_path / "out" / "gradebook.csv").exists()


def test_parent_of_copies_named_in_error(tmp_path):
    cohort = tmp_path / "cohort"
    for name in ("alice", "bob"):
        _learner_copy(cohort / name)

    with pytest.raises(SubmissionError, match=r"contains 2 learner copies \(alice, bob\)"):
        open_submission(cohort, tmp_path / "scratch")


def _earlier_results(out: Path, name: str, kata_ids: list[str]) -> None:
    katas = [
        {"id": kata_id, "outcome": "passed", "passed": 1, "total": 1, "score": 10, "max_score": 10}
        for kata_id in kata_ids
    ]
    document = {
        "version": 3,
        "status": "pass",
        "message": None,
        "tests": [],
        "score": 10 * len(kata_ids),
        "max_score": 10 * len(kata_ids),
        "submission": name,
        "katas": katas,
        "tampering": [],
        "notes": [],
        "protections": {},
    }
    (out / name).mkdir(parents=True)
    (out / name / "results.json").write_text(json.dumps(document), encoding="utf-8")


def test_empty_shard_keeps_earlier_results(in_checkout, tmp_path, capsys):
    _learner_copy(tmp_path / "late")
    out = tmp_path / "out"
    _earlier_results(out, "early", ["phase1/tracking_basics"])
    _earlier_results(out, "other-katas", ["phase1/compare_models"])

    code = main(
        [
            "grade",
            str(tmp_path / "late"),
            "--out",
            str(out),
            "--kata",
            "phase1/tracking_basics",
            "--shard",
            "2/2",
        ]
    )

    printed = _unwrapped(capsys.readouterr().out)
    with (out / "gradebook.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert code == 0
    assert "Shard 2/2 has no submissions to grade." in printed
    assert [row["submission"] for row in rows] == ["early"]
    assert "Left other-katas out of the gradebook" in printed
    assert "| early |" in (out / "summary.md").read_text(encoding="utf-8")


def test_edited_pristine_suite_listed(tmp_path):
    suite = tmp_path / "katas" / "phase1" / "demo" / "test_demo.py"
    stub = tmp_path / "katas" / "phase1" / "demo" / "demo.py"
    suite.parent.mkdir(parents=True)
    suite.write_text("def test_x():\n    pass\n", encoding="utf-8")
    stub.write_text("X = 1\n", encoding="utf-8")
    identity = ["-c", "user.name=Katas Test", "-c", "user.email=katas-test@example.invalid"]
    for command in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "Start"]):
        subprocess.run(["git", *identity, *command], cwd=tmp_path, check=True)
    suite.write_text("def test_x():\n    assert True\n", encoding="utf-8")
    stub.write_text("X = 2\n", encoding="utf-8")

    edited = grade_command.edited_pristine_files(tmp_path)

    assert edited == ["katas/phase1/demo/test_demo.py"]


def test_pristine_outside_git_lists_nothing(tmp_path):
    (tmp_path / "katas").mkdir()

    assert grade_command.edited_pristine_files(tmp_path) == []
