"""``katas grade`` end to end on the sample submissions, against golden results files.

The samples (tests/submissions) are graded once per session in one ``katas grade`` call, as
an instructor would grade a cohort. Set KATAS_UPDATE_GOLDEN=1 to rewrite the golden files
after a deliberate change to the samples, the suites or the results format, and review the
diff before committing it.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.submissions.build import SAMPLE_KATAS, SAMPLES_ROOT, build_sample, sample_names

REPO_ROOT = Path(__file__).resolve().parent.parent
GOLDEN_FILE = "expected_results.json"
# Archived copies of a sample, graded like its folder.
ARCHIVES = {"all_solved_zip.zip": "all_solved", "untouched_tar.tar.gz": "untouched"}
TEST_STATUSES = {"pass", "fail", "error"}

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Grading:
    exit_code: int
    output: str
    out: Path
    submissions: Path
    digests_before: dict[str, str]

    def results(self, name: str) -> dict:
        return json.loads((self.out / name / "results.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def grading(tmp_path_factory: pytest.TempPathFactory) -> Grading:
    root = tmp_path_factory.mktemp("grading")
    submissions = root / "submissions"
    for name in sample_names():
        build_sample(name, submissions / name)
    for archive, sample in ARCHIVES.items():
        _archive(submissions / sample, submissions / archive)
    digests_before = _digests(submissions)

    command = [
        sys.executable,
        "-m",
        "checks.cli.main",
        "grade",
        *sorted(str(path) for path in submissions.iterdir()),
        "--out",
        str(root / "out"),
        *[option for kata in SAMPLE_KATAS for option in ("--kata", kata)],
        "--kata-timeout=20",
        "--timeout=300",
        "--memory=2048",
        "--jobs=2",
    ]
    completed = subprocess.run(
        command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=900, check=False
    )
    return Grading(
        completed.returncode,
        completed.stdout + completed.stderr,
        root / "out",
        submissions,
        digests_before,
    )


def _digests(folder: Path) -> dict[str, str]:
    return {
        path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def _archive(folder: Path, destination: Path) -> None:
    """Pack ``folder`` as an instructor receives it: one top folder inside the archive."""
    if destination.name.endswith(".zip"):
        with zipfile.ZipFile(destination, "w") as bundle:
            for path in sorted(folder.rglob("*")):
                bundle.write(path, Path("learner") / path.relative_to(folder))
    else:
        with tarfile.open(destination, "w:gz") as bundle:
            bundle.add(folder, arcname="learner")


def normalized(document: dict) -> dict:
    """Keep the fields that must not change between runs: no messages, output or timings."""
    return {
        "version": document["version"],
        "status": document["status"],
        "score": document["score"],
        "max_score": document["max_score"],
        "katas": document["katas"],
        "tests": [
            {"name": test["name"], "status": test["status"], "task_id": test["task_id"]}
            for test in document["tests"]
        ],
        "tampering": sorted(
            (finding["kind"], finding["path"]) for finding in document["tampering"]
        ),
    }


def test_grading_ends_with_success(grading):
    assert grading.exit_code == 0, grading.output[-3000:]


@pytest.mark.parametrize("name", sample_names())
def test_results_match_golden(grading, name):
    actual = normalized(grading.results(name))
    golden = SAMPLES_ROOT / name / GOLDEN_FILE

    if os.environ.get("KATAS_UPDATE_GOLDEN") == "1":
        golden.write_text(json.dumps(actual, indent=2) + "\n", encoding="utf-8")
    expected = json.loads(golden.read_text(encoding="utf-8"))
    # JSON turns the tampering pairs into lists.
    actual["tampering"] = [list(pair) for pair in actual["tampering"]]

    assert actual == expected


@pytest.mark.parametrize("archive", sorted(ARCHIVES))
def test_archive_grades_like_its_folder(grading, archive):
    name = archive.split(".", 1)[0]

    assert normalized(grading.results(name)) == normalized(grading.results(ARCHIVES[archive]))


@pytest.mark.parametrize("name", [*sample_names(), *[a.split(".", 1)[0] for a in ARCHIVES]])
def test_results_have_exercism_shape(grading, name):
    document = grading.results(name)

    assert document["version"] == 3
    assert document["status"] in TEST_STATUSES
    assert document["message"] is None or isinstance(document["message"], str)
    assert document["tests"], "a results file lists every pristine test"
    for test in document["tests"]:
        assert set(test) == {"name", "test_code", "status", "message", "output", "task_id"}
        assert test["status"] in TEST_STATUSES
        assert test["test_code"].startswith("def test")
        assert isinstance(test["task_id"], int)
        if test["status"] != "pass":
            assert test["message"], f"{test['name']} failed without a message"
    assert 0 <= document["score"] <= document["max_score"]


def test_all_solved_earns_every_point(grading):
    document = grading.results("all_solved")

    assert document["status"] == "pass"
    assert document["score"] == document["max_score"] == 20
    assert document["tampering"] == []


def test_untouched_stubs_read_not_started(grading):
    document = grading.results("untouched")

    assert document["score"] == 0
    assert {entry["outcome"] for entry in document["katas"]} == {"not started"}


def test_partly_solved_earns_part_of_kata(grading):
    kata = _kata(grading.results("partly_solved"), "phase1/tracking_basics")

    assert 0 < kata["passed"] < kata["total"]
    assert kata["score"] == round(10 * kata["passed"] / kata["total"], 2)


def test_syntax_error_is_that_katas_error(grading):
    document = grading.results("syntax_error")
    tracking = [test for test in document["tests"] if "tracking_basics" in test["name"]]

    assert {test["status"] for test in tracking} == {"error"}
    assert "SyntaxError" in tracking[0]["message"] or "syntax" in tracking[0]["message"]
    assert _kata(document, "phase1/cross_validation")["outcome"] == "passed"


def test_infinite_loop_times_out_with_learner_line(grading):
    document = grading.results("infinite_loop")
    messages = [
        test["message"]
        for test in document["tests"]
        if "tracking_basics" in test["name"] and test["message"]
    ]

    assert any("Timed out after 20 s" in message for message in messages), messages[:2]
    assert _kata(document, "phase1/cross_validation")["outcome"] == "passed"


def test_memory_hog_stopped_by_cap(grading):
    document = grading.results("memory_hog")
    messages = [test["message"] or "" for test in document["tests"]]

    assert any("MemoryError" in message for message in messages), messages[:2]
    assert _kata(document, "phase1/cross_validation")["outcome"] == "passed"


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("tampered_edited_test", "edited-test"),
        ("tampered_conftest", "conftest"),
        ("tampered_plugin", "plugin"),
        ("tampered_skipped_tests", "missing-tests"),
        ("tampered_forged_report", "forged-report"),
        ("tampered_forged_report", "planted-results"),
    ],
)
def test_tampering_is_reported(grading, name, kind):
    document = grading.results(name)

    assert kind in {finding["kind"] for finding in document["tampering"]}
    assert "Tampering found" in document["message"]


@pytest.mark.parametrize("name", ["tampered_edited_test", "tampered_conftest", "tampered_plugin"])
def test_tampering_earns_only_pristine_score(grading, name):
    assert grading.results(name)["score"] == grading.results("untouched")["score"] == 0


def test_forged_report_costs_only_its_kata(grading):
    document = grading.results("tampered_forged_report")

    assert _kata(document, "phase1/tracking_basics")["score"] == 0
    assert _kata(document, "phase1/cross_validation")["outcome"] == "passed"
    assert any("not signed" in note for note in document["notes"]), document["notes"]


def test_skipped_tests_count_as_failed(grading):
    kata = _kata(grading.results("tampered_skipped_tests"), "phase1/tracking_basics")

    assert kata["passed"] < kata["total"]


def test_gradebook_has_row_per_submission(grading):
    with (grading.out / "gradebook.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))

    assert sorted(row["submission"] for row in rows) == sorted(
        path.name.split(".", 1)[0] for path in grading.submissions.iterdir()
    )
    solved = next(row for row in rows if row["submission"] == "all_solved")
    assert solved["score"] == "20"
    assert solved["percent"] == "100.0"
    assert solved["phase1/tracking_basics"] == "10"
    forged = next(row for row in rows if row["submission"] == "tampered_forged_report")
    assert "forged-report" in forged["tampering"]


def test_summary_lists_submissions_and_protections(grading):
    summary = (grading.out / "summary.md").read_text(encoding="utf-8")

    for name in sample_names():
        assert f"| {name} |" in summary
    assert "Protections while grading" in summary
    assert "memory: capped at 2048 MiB" in summary


def test_no_grading_process_survives(grading):
    survivors = []
    for status in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            command = status.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "katas-grade-" in command:
            survivors.append(command)

    assert survivors == []


def test_submissions_left_unchanged(grading):
    assert _digests(grading.submissions) == grading.digests_before


def _kata(document: dict, kata_id: str) -> dict:
    return next(entry for entry in document["katas"] if entry["id"] == kata_id)


@pytest.fixture(autouse=True)
def _no_stray_files_in_samples():
    """Grading must never write into the samples' folder of this checkout."""
    before = sorted(path for path in SAMPLES_ROOT.rglob("*") if "__pycache__" not in path.parts)
    yield
    after = sorted(path for path in SAMPLES_ROOT.rglob("*") if "__pycache__" not in path.parts)
    new = [path for path in after if path not in before and path.name != GOLDEN_FILE]
    assert new == [], new
    shutil.rmtree(SAMPLES_ROOT / "__pycache__", ignore_errors=True)
