"""Running the kata suites writes nothing into the checkout."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.suites import REPO_ROOT, checkout_files


def test_suites_leave_no_files_in_checkout(suite_reports, files_before_suites):
    added = sorted(checkout_files() - files_before_suites)

    assert not added, f"Running the kata suites left files in the checkout: {added}"


def test_no_mlflow_store_in_checkout(suite_reports):
    strays = [
        name for name in ("mlflow.db", "mlruns", "mlartifacts") if (REPO_ROOT / name).exists()
    ]

    assert not strays, f"MLflow files in the checkout root: {strays}"


# Command-line fragments of the servers kata suites start: MLflow's scoring server and the
# uvicorn processes it or a kata runs.
SERVER_COMMANDS = ("mlflow models serve", "mlflow.pyfunc.scoring_server", "uvicorn")


def test_no_server_outlives_suites(suite_reports):
    if not Path("/proc").is_dir():
        pytest.skip("lists processes through /proc, which this system lacks")
    survivors = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            command = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if any(fragment in command for fragment in SERVER_COMMANDS):
            survivors.append(f"{cmdline.parent.name}: {command[:200]}")

    assert not survivors, "Servers still running after the kata suites:\n" + "\n".join(survivors)
