"""Every kata is solvable and no kata gives free green.

The references must pass every test of their suites; the untouched stubs must pass none.
"""

from __future__ import annotations

import pytest

from tests.suites import kata_ids


@pytest.mark.parametrize("kata_id", kata_ids())
def test_reference_passes_every_test(suite_reports, kata_id):
    report = suite_reports["reference"]

    tests = report.tests(kata_id)
    failing = {name: test["message"] for name, test in tests.items() if test["outcome"] != "passed"}

    assert tests, f"The reference run reported no tests for {kata_id}.\n{report.output[-3000:]}"
    assert not failing, f"The reference fails {kata_id} tests: {failing}"


@pytest.mark.parametrize("kata_id", kata_ids())
def test_stub_passes_no_test(suite_reports, kata_id):
    report = suite_reports["stubs"]

    tests = report.tests(kata_id)
    passing = [name for name, test in tests.items() if test["outcome"] == "passed"]

    assert tests, f"The stub run reported no tests for {kata_id}.\n{report.output[-3000:]}"
    assert not passing, f"The untouched stub of {kata_id} passes: {', '.join(passing)}"


@pytest.mark.parametrize("kata_id", kata_ids())
def test_stub_is_reported_not_started(suite_reports, kata_id):
    report = suite_reports["stubs"]

    outcome = report.katas[kata_id]["outcome"]

    assert outcome == "not started", (
        f"The untouched stub of {kata_id} is reported {outcome!r}: some test fails for "
        "another reason than the stub's NotImplementedError."
    )


@pytest.mark.parametrize("kata_id", kata_ids())
def test_stub_and_reference_run_same_tests(suite_reports, kata_id):
    reference = set(suite_reports["reference"].tests(kata_id))
    stub = set(suite_reports["stubs"].tests(kata_id))

    assert reference == stub
