"""``katas release``, run as an instructor would, from a temporary copy of the checkout."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from checks.cli.release import RECORD_NAME, read_record
from checks.manifest import load_manifest
from tests.suites import REPO_ROOT

# Folders and files of the checkout that are never copied into the temporary checkout.
NOT_COPIED = {".git", ".venv", ".tox", ".katas", ".katas-progress.toml", "mlflow.db", "mlruns"}
CACHES = shutil.ignore_patterns("__pycache__", ".pytest_cache", ".ruff_cache", "*.egg-info")
NOT_RELEASED = (
    "reference",
    "tests",
    "bench",
    "docs",
    ".ci",
    "scripts",
    "tox.ini",
    ".pre-commit-config.yaml",
    ".github/workflows/ci.yml",
    ".katas",
    ".katas-progress.toml",
    "mlflow.db",
)
STUB = "katas/phase1/tracking_basics/tracking_basics.py"
GIT_IDENTITY = ("-c", "user.name=Katas Test", "-c", "user.email=katas-test@example.invalid")


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A copy of the whole checkout without Git, caches or local state, plus some litter."""
    root = tmp_path / "checkout"
    root.mkdir()
    for source in REPO_ROOT.iterdir():
        if source.name in NOT_COPIED or source.name.endswith((".egg-info", "_cache")):
            continue
        if source.is_dir():
            shutil.copytree(source, root / source.name, ignore=CACHES)
        else:
            shutil.copyfile(source, root / source.name)
    # Files a learner or a test run leaves behind, which a release must not ship.
    (root / ".katas" / "runs").mkdir(parents=True)
    (root / ".katas" / "hints.toml").write_text("", encoding="utf-8")
    (root / ".katas-progress.toml").write_text("", encoding="utf-8")
    (root / "mlflow.db").write_bytes(b"")
    (root / "katas" / "phase1" / "mlflow.db").write_bytes(b"")
    cache = root / "katas" / "phase1" / "tracking_basics" / "__pycache__"
    cache.mkdir()
    (cache / "tracking_basics.cpython-311.pyc").write_bytes(b"")
    return root


def katas(*arguments: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "checks.cli.main", *arguments],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "200"},
        check=False,
    )


def git(*arguments: str, cwd: Path) -> str:
    completed = subprocess.run(
        ["git", *GIT_IDENTITY, *arguments],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return completed.stdout


def released(checkout: Path, out: Path, *options: str) -> subprocess.CompletedProcess[str]:
    """Run ``katas release`` and fail the test at once when it fails."""
    result = katas("release", str(out), *options, cwd=checkout)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def workflow_step(workflow: dict, job: str, name: str) -> dict:
    [step] = [step for step in workflow["jobs"][job]["steps"] if step.get("name") == name]
    return step


def test_release_ships_katas_and_harness(checkout, tmp_path):
    out = tmp_path / "learner"

    result = released(checkout, out)

    manifest = load_manifest(checkout / "katas" / "katas.toml")
    assert (out / "katas" / "katas.toml").is_file()
    for kata in manifest.katas:
        folder = checkout / "katas" / kata.id
        for name in (f"{kata.slug}.py", f"test_{kata.slug}.py", "README.md", "hints.md"):
            if (folder / name).is_file():
                assert (out / "katas" / kata.id / name).is_file(), f"{kata.id}/{name} is missing"
    for path in (checkout / "checks").rglob("*.py"):
        relative = path.relative_to(checkout)
        if "__pycache__" not in relative.parts:
            assert (out / relative).is_file(), f"{relative} is missing"
    for name in ("pyproject.toml", "constraints.txt", ".github/workflows/classroom.yml"):
        assert (out / name).is_file(), f"{name} is missing"
    assert "written" in result.stdout


def test_release_leaves_maintainer_files_out(checkout, tmp_path):
    out = tmp_path / "learner"

    released(checkout, out)

    for name in NOT_RELEASED:
        assert not (out / name).exists(), f"{name} was released"
    assert not list(out.rglob("__pycache__"))
    assert not list(out.rglob("mlflow.db"))
    assert sorted(path.name for path in (out / ".github" / "workflows").iterdir()) == [
        "classroom.yml"
    ]


def test_release_writes_learner_readme_and_gitignore(checkout, tmp_path):
    out = tmp_path / "learner"

    released(checkout, out)

    readme = (out / "README.md").read_text(encoding="utf-8")
    ignored = (out / ".gitignore").read_text(encoding="utf-8").splitlines()
    for command in ("katas list", "katas watch", "katas hint", "katas ui", "katas progress"):
        assert command in readme, f"the learner README does not mention {command}"
    assert "pip install -c constraints.txt" in readme
    assert "How grading works" in readme
    assert "phase1/tracking_basics" in readme
    assert "{{" not in readme
    assert "meta-test" not in readme
    assert "reference" not in readme
    assert ".katas/" in ignored
    assert "mlflow.db" in ignored
    assert ".katas-progress.toml" not in ignored


def test_released_copy_lists_katas_without_install(checkout, tmp_path):
    out = tmp_path / "learner"
    released(checkout, out)

    listing = katas("list", cwd=out)
    imported = subprocess.run(
        [sys.executable, "-c", "import checks; print(checks.__file__)"],
        cwd=out,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )

    assert listing.returncode == 0, listing.stderr
    assert "phase1/tracking_basics" in listing.stdout
    assert Path(imported.stdout.strip()).is_relative_to(out)


def test_release_rerun_updates_changed_files(checkout, tmp_path):
    out = tmp_path / "learner"
    released(checkout, out)
    readme = checkout / "katas" / "phase1" / "compare_models" / "README.md"
    readme.write_text(readme.read_text(encoding="utf-8") + "\nOne more line.\n", encoding="utf-8")

    update = released(checkout, out)
    again = released(checkout, out)

    assert "0 written, 1 updated" in update.stdout
    assert "katas/phase1/compare_models/README.md" in update.stdout
    assert (
        (out / "katas/phase1/compare_models/README.md")
        .read_text(encoding="utf-8")
        .endswith("One more line.\n")
    )
    assert "0 written, 0 updated" in again.stdout
    assert "0 removed, 0 kept" in again.stdout


def test_release_keeps_stub_edited_in_copy(checkout, tmp_path):
    out = tmp_path / "learner"
    released(checkout, out)
    learner_stub = (out / STUB).read_text(encoding="utf-8") + "\n# the learner's answer\n"
    (out / STUB).write_text(learner_stub, encoding="utf-8")
    upstream = checkout / "reference" / "phase1" / "tracking_basics" / "tracking_basics.py"
    upstream.write_text(upstream.read_text(encoding="utf-8") + "\n# upstream\n", encoding="utf-8")

    update = released(checkout, out)
    forced = released(checkout, out, "--force")

    assert f"{STUB}  (edited since the last release)" in update.stdout
    assert "1 kept" in update.stdout
    assert "--force" in update.stdout
    assert "1 updated" in forced.stdout
    assert (out / STUB).read_text(encoding="utf-8").endswith("# upstream\n")
    [backup] = (out / ".katas" / "backups").rglob("tracking_basics.py.*")
    assert backup.read_text(encoding="utf-8") == learner_stub
    assert "kept copies" in forced.stdout


def test_release_ships_generated_stub_not_solved_one(checkout, tmp_path):
    out = tmp_path / "learner"
    solved = (
        checkout / "reference" / "phase1" / "tracking_basics" / "tracking_basics.py"
    ).read_text(encoding="utf-8")
    pristine_stub = (checkout / STUB).read_text(encoding="utf-8")
    (checkout / STUB).write_text(solved, encoding="utf-8")

    result = released(checkout, out)

    assert (out / STUB).read_text(encoding="utf-8") == pristine_stub
    assert "The copy ships the generated stubs" in " ".join(result.stdout.split())


def test_release_keeps_stub_on_every_rerun(checkout, tmp_path):
    out = tmp_path / "learner"
    released(checkout, out)
    (out / STUB).write_text("# solved\n", encoding="utf-8")

    first = released(checkout, out)
    second = released(checkout, out)

    assert "1 kept" in first.stdout
    assert "1 kept" in second.stdout
    assert (out / STUB).read_text(encoding="utf-8") == "# solved\n"


def test_release_removes_files_no_longer_shipped(checkout, tmp_path):
    out = tmp_path / "learner"
    extra = checkout / "katas" / "phase1" / "tracking_basics" / "data" / "extra.csv"
    extra.parent.mkdir()
    extra.write_text("a,b\n1,2\n", encoding="utf-8")
    released(checkout, out)
    assert (out / "katas/phase1/tracking_basics/data/extra.csv").is_file()
    shutil.rmtree(extra.parent)

    update = released(checkout, out)

    assert "1 removed" in update.stdout
    assert "katas/phase1/tracking_basics/data/extra.csv" in update.stdout
    assert not (out / "katas/phase1/tracking_basics/data").exists()
    assert "katas/phase1/tracking_basics/data/extra.csv" not in read_record(out)


def test_release_leaves_instructor_files_alone(checkout, tmp_path):
    out = tmp_path / "learner"
    (out / ".git").mkdir(parents=True)
    (out / ".git" / "config").write_text("[core]\n", encoding="utf-8")
    (out / "NOTES.md").write_text("instructor notes\n", encoding="utf-8")
    (out / "README.md").write_text("# Created by the hosting service\n", encoding="utf-8")

    first = released(checkout, out)
    second = released(checkout, out)

    assert (out / ".git" / "config").read_text(encoding="utf-8") == "[core]\n"
    assert (out / "NOTES.md").read_text(encoding="utf-8") == "instructor notes\n"
    assert (out / "README.md").read_text(encoding="utf-8") == "# Created by the hosting service\n"
    assert "README.md  (not written by a release)" in first.stdout
    assert "README.md  (not written by a release)" in second.stdout
    assert "NOTES.md" not in read_record(out)


@pytest.mark.parametrize("where", ["itself", "inside", "above"])
def test_release_rejects_out_overlapping_checkout(checkout, where):
    out = {"itself": checkout, "inside": checkout / "learner", "above": checkout.parent}[where]

    result = katas("release", str(out), cwd=checkout)

    assert result.returncode == 2
    assert f"OUT {out}" in result.stderr
    assert "katas release" in result.stderr
    assert not (checkout / "learner").exists()
    assert not (out / RECORD_NAME).exists()


def test_release_records_source_commit(checkout, tmp_path):
    out = tmp_path / "learner"
    git("init", "-q", "-b", "main", cwd=checkout)
    git("add", "-A", cwd=checkout)
    git("commit", "-q", "-m", "Start", cwd=checkout)
    head = git("rev-parse", "HEAD", cwd=checkout).strip()

    clean = released(checkout, out)
    suite = "katas/phase1/tracking_basics/test_tracking_basics.py"
    (checkout / suite).write_text("# changed\n", encoding="utf-8")
    (checkout / STUB).write_text("# solved, never shipped\n", encoding="utf-8")
    dirty = released(checkout, out)

    record = (out / RECORD_NAME).read_text(encoding="utf-8")
    assert f"commit {head[:12]}" in clean.stdout
    assert f'source_commit = "{head}"' in record
    assert "uncommitted_changes = true" in record
    assert "changes not committed" in dirty.stdout
    listed = " ".join(dirty.stdout.split()).split("not committed to the checkout: ")[1]
    listed = listed.split(". Commit them")[0]
    assert suite in listed
    assert STUB not in listed, "the shipped stub is generated, so its edit is not shipped"


def learner_repository(checkout: Path, out: Path) -> Path:
    """Release into ``out``, commit it, then commit a learner's work on top.

    The learner solves cross_validation with its reference and empties the compare_models
    suite. Return the compare_models suite.
    """
    released(checkout, out)
    git("init", "-q", "-b", "main", cwd=out)
    git("add", "-A", cwd=out)
    git("commit", "-q", "-m", "Release the katas", cwd=out)
    shutil.copyfile(
        checkout / "reference/phase1/cross_validation/cross_validation.py",
        out / "katas/phase1/cross_validation/cross_validation.py",
    )
    suite = out / "katas/phase1/compare_models/test_compare_models.py"
    suite.write_text("def test_everything():\n    pass\n", encoding="utf-8")
    git("commit", "-q", "-am", "Solve a kata and make the tests easy", cwd=out)
    return suite


def run_step(step: dict, cwd: Path, environment: dict[str, str], extra: str = "") -> None:
    """Run a workflow step's shell script the way GitHub Actions runs it, with bash -e."""
    subprocess.run(
        ["bash", "-e", "-c", step["run"] + extra],
        cwd=cwd,
        env={**os.environ, **environment},
        check=True,
        timeout=900,
    )


def test_classroom_workflow_takes_suites_from_first_commit(checkout, tmp_path):
    out = tmp_path / "learner"
    suite = learner_repository(checkout, out)
    released_suite = git(
        "show", "HEAD~1:katas/phase1/compare_models/test_compare_models.py", cwd=out
    )
    workflow = yaml.safe_load((out / ".github/workflows/classroom.yml").read_text("utf-8"))
    runner_temp = tmp_path / "runner"
    runner_temp.mkdir()

    extract = workflow_step(workflow, "grade", "Extract the released katas from the first commit")
    run_step(extract, out, {"RUNNER_TEMP": str(runner_temp)})

    pristine_suite = runner_temp / "pristine/katas/phase1/compare_models/test_compare_models.py"
    assert workflow["jobs"]["grade"]["steps"][0]["with"]["fetch-depth"] == 0
    assert pristine_suite.read_text(encoding="utf-8") == released_suite
    assert suite.read_text(encoding="utf-8") != released_suite
    install = workflow_step(workflow, "grade", "Install the harness from the first commit")
    assert 'pip install -c constraints.txt -e ".[all]"' in install["run"]
    assert "pristine" in install["working-directory"]
    assert workflow_step(workflow, "grade", "Set up Python")["with"]["python-version"] == "3.11"


@pytest.mark.slow
def test_classroom_workflow_grades_push(checkout, tmp_path):
    out = tmp_path / "learner"
    learner_repository(checkout, out)
    workflow = yaml.safe_load((out / ".github/workflows/classroom.yml").read_text("utf-8"))
    runner_temp = tmp_path / "runner"
    runner_temp.mkdir()
    job_summary = tmp_path / "job-summary.md"
    environment = {
        "RUNNER_TEMP": str(runner_temp),
        "GITHUB_WORKSPACE": str(out),
        "GITHUB_STEP_SUMMARY": str(job_summary),
        # The install step is left out: `katas` comes from this environment instead.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    run_step(
        workflow_step(workflow, "grade", "Extract the released katas from the first commit"),
        out,
        environment,
    )

    # Two katas instead of the whole track keep the test under a minute.
    run_step(
        workflow_step(workflow, "grade", "Grade this push"),
        runner_temp / "pristine",
        environment,
        extra=" --kata phase1/cross_validation --kata phase1/compare_models",
    )
    run_step(
        workflow_step(workflow, "grade", "Add the points to the job summary"), out, environment
    )

    results = json.loads((runner_temp / "grading/learner/results.json").read_text("utf-8"))
    katas_by_id = {entry["id"]: entry for entry in results["katas"]}
    assert katas_by_id["phase1/cross_validation"]["outcome"] == "passed"
    assert katas_by_id["phase1/compare_models"]["outcome"] != "passed"
    assert results["score"] == katas_by_id["phase1/cross_validation"]["max_score"]
    assert any(finding["kind"] == "edited-test" for finding in results["tampering"])
    assert "| learner |" in job_summary.read_text(encoding="utf-8")


def test_cohort_example_merges_shard_gradebooks(tmp_path):
    workflow = yaml.safe_load(
        (REPO_ROOT / "docs" / "examples" / "grade-cohort.yml").read_text(encoding="utf-8")
    )
    grade = workflow_step(workflow, "grade", "Grade shard ${{ matrix.shard }}")
    merge = workflow_step(workflow, "merge", "Merge the gradebooks")
    header = ["submission", "status", "score", "max_score", "percent"]
    for shard, learner in ((1, "ada"), (2, "bo")):
        folder = tmp_path / "shards" / f"grading-shard-{shard}"
        (folder / learner).mkdir(parents=True)
        (folder / learner / "results.json").write_text("{}", encoding="utf-8")
        with (folder / "gradebook.csv").open("w", newline="", encoding="utf-8") as file:
            csv.writer(file).writerows([header, [learner, "pass", "10", "20", "50.0"]])
    (tmp_path / "summary.md").write_text("", encoding="utf-8")

    subprocess.run(
        [sys.executable, "-c", merge["run"]],
        cwd=tmp_path,
        env={**os.environ, "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md")},
        check=True,
        timeout=60,
    )

    with (tmp_path / "grading" / "gradebook.csv").open(newline="", encoding="utf-8") as file:
        rows = list(csv.reader(file))
    assert "--shard" in grade["run"]
    assert len(workflow["jobs"]["grade"]["strategy"]["matrix"]["shard"]) == int(
        workflow["env"]["SHARDS"]
    )
    assert rows == [header, ["ada", "pass", "10", "20", "50.0"], ["bo", "pass", "10", "20", "50.0"]]
    assert (tmp_path / "grading" / "ada" / "results.json").is_file()
    assert "| ada | pass | 10 | 20 |" in (tmp_path / "summary.md").read_text(encoding="utf-8")
