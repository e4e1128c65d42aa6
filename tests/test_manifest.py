"""The manifest, the kata folders, their READMEs and their hints agree."""

from __future__ import annotations

import ast
import re

import pytest

from checks.manifest import ManifestError, load_manifest
from tests.suites import KATAS_ROOT, REFERENCE_ROOT, kata_ids

MANIFEST = load_manifest(KATAS_ROOT / "katas.toml")
KATA_FILES = ("README.md", "hints.md")


def test_manifest_lists_every_kata_folder():
    listed = sorted(kata.id for kata in MANIFEST.katas)
    on_disk = sorted(
        path.relative_to(KATAS_ROOT).as_posix()
        for path in KATAS_ROOT.glob("*/*")
        if path.is_dir() and not path.name.startswith((".", "__"))
    )

    assert listed == on_disk


@pytest.mark.parametrize("kata", MANIFEST.katas, ids=lambda kata: kata.id)
def test_kata_folder_is_complete(kata):
    folder = KATAS_ROOT / kata.id
    expected = [*KATA_FILES, f"{kata.slug}.py", f"test_{kata.slug}.py"]

    missing = [name for name in expected if not (folder / name).is_file()]

    assert not missing, f"{folder} lacks {missing}"
    assert (REFERENCE_ROOT / kata.id / f"{kata.slug}.py").is_file()


def task_numbers_in_suite(kata_id: str) -> set[int]:
    """Return the numbers of every @pytest.mark.task(n) in a kata's suite."""
    slug = kata_id.rsplit("/", 1)[-1]
    tree = ast.parse((KATAS_ROOT / kata_id / f"test_{slug}.py").read_text(encoding="utf-8"))
    numbers = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "task"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            numbers.add(node.args[0].value)
    return numbers


@pytest.mark.parametrize("kata_id", kata_ids())
def test_every_test_has_task_marker(kata_id):
    slug = kata_id.rsplit("/", 1)[-1]
    tree = ast.parse((KATAS_ROOT / kata_id / f"test_{slug}.py").read_text(encoding="utf-8"))

    unmarked = [
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef)
        and node.name.startswith("test_")
        and not any("task" in ast.unparse(decorator) for decorator in node.decorator_list)
    ]

    assert not unmarked, f"Tests without @pytest.mark.task(n) in {kata_id}: {unmarked}"


@pytest.mark.parametrize("kata_id", kata_ids())
def test_hints_cover_every_task(kata_id):
    hints = (KATAS_ROOT / kata_id / "hints.md").read_text(encoding="utf-8")

    sections = {int(number) for number in re.findall(r"^## Task (\d+)\b", hints, re.MULTILINE)}

    assert task_numbers_in_suite(kata_id) <= sections, (
        f"hints.md of {kata_id} has sections for tasks {sorted(sections)}, "
        f"but the suite checks tasks {sorted(task_numbers_in_suite(kata_id))}."
    )


@pytest.mark.parametrize("kata_id", kata_ids())
def test_readme_names_test_command(kata_id):
    readme = (KATAS_ROOT / kata_id / "README.md").read_text(encoding="utf-8")

    assert f"pytest katas/{kata_id}" in readme


@pytest.mark.parametrize(
    "text, problem",
    [
        ('[phases]\nphase1 = "A"\n[[kata]]\nid = "phase1/a"\ntitle = "A"\n', "missing points"),
        ('[phases]\nphase1 = "A"\n[[kata]]\nid = "a"\ntitle = "A"\npoints = 1\n', "phase1/slug"),
        ('[phases]\nphase1 = "A"\n[[kata]]\nid = "phase2/a"\ntitle = "A"\npoints = 1\n', "phase2"),
        (
            '[phases]\nphase1 = "A"\n[[kata]]\nid = "phase1/a"\ntitle = "A"\npoints = 1\n'
            'requires = ["phase1/b"]\n',
            "listed before",
        ),
        (
            '[phases]\nphase1 = "A"\n[[kata]]\nid = "phase1/a"\ntitle = "A"\npoints = 0\n',
            "positive",
        ),
        ("[phases\n", "not valid TOML"),
    ],
    ids=["no-points", "bad-id", "unknown-phase", "late-requirement", "zero-points", "bad-toml"],
)
def test_invalid_manifest_is_rejected(tmp_path, text, problem):
    path = tmp_path / "katas.toml"
    path.write_text(text, encoding="utf-8")

    with pytest.raises(ManifestError, match=problem):
        load_manifest(path)
