"""Stubs are generated from the references and match them."""

from __future__ import annotations

import pytest

from checks.stubgen import StubError, generate_stub, stub_pairs
from tests.suites import REPO_ROOT

PAIRS = stub_pairs(REPO_ROOT)


@pytest.mark.parametrize("pair", PAIRS, ids=[pair.stub.stem for pair in PAIRS])
def test_committed_stub_is_current(pair):
    assert pair.stub.is_file(), f"{pair.stub} is missing. Run `katas stubs`."
    assert pair.is_current(), (
        f"{pair.stub} differs from what its reference generates. Maintainers: run "
        "`katas stubs` and commit the result. The meta-tests expect untouched stubs, so run "
        "them on a clean checkout, not on a checkout where you solve katas."
    )


def test_region_in_function_becomes_todos_and_raise():
    source = (
        "def fit(x):\n"
        '    """Fit."""\n'
        "    # BEGIN SOLUTION: Write TODO(1).\n"
        "    # TODO(1): Fit the model\n"
        "    #   on x.\n"
        "    # Why this works: a private note.\n"
        "    return x * 2\n"
        "    # END SOLUTION\n"
    )

    stub = generate_stub(source)

    assert stub == (
        "def fit(x):\n"
        '    """Fit."""\n'
        "    # TODO(1): Fit the model\n"
        "    #   on x.\n"
        '    raise NotImplementedError("Write TODO(1).")\n'
    )


def test_nested_todos_move_to_region_indent():
    source = (
        "def fit(x):\n"
        "    # BEGIN SOLUTION\n"
        "    with x:\n"
        "        # TODO(2): Log it.\n"
        "        pass\n"
        "    # END SOLUTION\n"
    )

    assert "    # TODO(2): Log it.\n    raise NotImplementedError(" in generate_stub(source)


def test_module_level_region_is_dropped():
    source = "import os\n# BEGIN SOLUTION\nimport secrets\n# END SOLUTION\nVALUE = 1\n"

    assert generate_stub(source) == "import os\nVALUE = 1\n"


@pytest.mark.parametrize(
    "source, problem",
    [
        ("# BEGIN SOLUTION\nx = 1\n", "never closed"),
        ("x = 1\n# END SOLUTION\n", "without a BEGIN"),
        ("# BEGIN SOLUTION\n# BEGIN SOLUTION\n# END SOLUTION\n", "inside the region"),
    ],
    ids=["unclosed", "end-without-begin", "nested"],
)
def test_unbalanced_markers_raise(source, problem):
    with pytest.raises(StubError, match=problem):
        generate_stub(source, "demo.py")
