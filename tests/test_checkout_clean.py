"""Running the kata suites writes nothing into the checkout."""

from __future__ import annotations

from tests.suites import REPO_ROOT, checkout_files


def test_suites_leave_no_files_in_checkout(suite_reports, files_before_suites):
    added = sorted(checkout_files() - files_before_suites)

    assert not added, f"Running the kata suites left files in the checkout: {added}"


def test_no_mlflow_store_in_checkout(suite_reports):
    strays = [
        name for name in ("mlflow.db", "mlruns", "mlartifacts") if (REPO_ROOT / name).exists()
    ]

    assert not strays, f"MLflow files in the checkout root: {strays}"
