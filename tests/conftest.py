"""Shared fixtures for the meta-tests: every kata suite run once per session."""

from __future__ import annotations

import pytest

from tests.suites import (
    SuiteReport,
    SuiteRun,
    checkout_files,
    kata_ids,
    mutants,
    run_all,
    solutions_tree_for,
)

# pytester runs small pytest projects in a subprocess; the plugin tests are written with it.
pytest_plugins = ["pytester"]


@pytest.fixture(scope="session")
def files_before_suites() -> set[str]:
    """The checkout's files before any kata suite ran in it."""
    return checkout_files()


@pytest.fixture(scope="session")
def suite_reports(
    tmp_path_factory: pytest.TempPathFactory, files_before_suites: set[str]
) -> dict[str, SuiteReport]:
    """Run every suite against the references, the stubs and each mutant, two at a time."""
    katas = tuple(kata_ids())
    runs = [
        SuiteRun("reference", katas, "reference"),
        SuiteRun("stubs", katas, "katas"),
    ]
    mutant_roots = tmp_path_factory.mktemp("mutants")
    for mutant in mutants():
        root = solutions_tree_for(mutant, mutant_roots / mutant.name.replace("/", "-"))
        # Only the tests that must reject the mutant run, which keeps the meta-tests fast.
        # -k takes test names; a parametrized case named in the header runs with its siblings,
        # and the mutant tests then judge only the named case.
        names = dict.fromkeys(name.split("[", 1)[0] for name in mutant.rejected_by)
        selection = ("-k", " or ".join(names))
        runs.append(SuiteRun(mutant.name, (mutant.kata_id,), str(root), selection))
    return run_all(runs, tmp_path_factory.mktemp("reports"))
