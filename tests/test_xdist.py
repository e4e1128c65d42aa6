"""The kata suites give the same outcomes alone and under pytest-xdist."""

from __future__ import annotations

import pytest

from tests.suites import SuiteRun, kata_ids, run_suite


@pytest.fixture(scope="module")
def parallel_report(tmp_path_factory):
    run = SuiteRun("reference-n2", tuple(kata_ids()), "reference", ("-n", "2"))
    return run_suite(run, tmp_path_factory.mktemp("xdist"))


@pytest.mark.parametrize("kata_id", kata_ids())
def test_outcomes_match_serial_run(suite_reports, parallel_report, kata_id):
    serial = {
        name: test["outcome"] for name, test in suite_reports["reference"].tests(kata_id).items()
    }
    parallel = {name: test["outcome"] for name, test in parallel_report.tests(kata_id).items()}

    assert parallel == serial, parallel_report.output[-3000:]
