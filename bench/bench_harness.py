"""Measure the harness against the naive way, and the wall time of the kata suites.

Usage: python bench/bench_harness.py [--write]

Prints a Markdown table; with --write, also replaces the generated section of
docs/benchmarks.md. Every ratio compares two measurements taken in this one run, so a
slower or busier machine changes the seconds but hardly the ratios.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

BEGIN_MARK = "<!-- BEGIN GENERATED: bench/bench_harness.py -->"
END_MARK = "<!-- END GENERATED -->"


def timed(action: Callable[[], object], repeats: int) -> list[float]:
    """Run ``action`` ``repeats`` times and return each wall time in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return times


def measure_setup(work: Path) -> dict[str, float]:
    """Time per-test store set-up and one model log, the harness way and the naive way."""
    import mlflow
    from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore as RegistryStore
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    from checks import sandbox

    template = sandbox.ensure_template(work / "cache")
    counter = iter(range(10_000))

    def harness_store() -> None:
        box = sandbox.create_sandbox(template, work / "harness" / str(next(counter)))
        mlflow.set_tracking_uri(box.tracking_uri)
        mlflow.set_experiment("bench")

    def naive_store() -> None:
        folder = work / "naive" / str(next(counter))
        folder.mkdir(parents=True)
        uri = sandbox.sqlite_uri(folder / "mlflow.db")
        SqlAlchemyStore(uri, (folder / "mlruns").as_uri()).engine.dispose()
        RegistryStore(uri).engine.dispose()
        mlflow.set_tracking_uri(uri)
        mlflow.set_experiment("bench")

    features, target = load_iris(return_X_y=True, as_frame=True)
    model = LogisticRegression(max_iter=500).fit(features, target)

    def log_model() -> None:
        with mlflow.start_run():
            mlflow.sklearn.log_model(model, name="model", input_example=features.head(3))

    os.chdir(work)
    naive_store()  # warm-up: imports and the first engine
    naive_setup = statistics.median(timed(naive_store, 5))
    # What the plugin does at configure time, after the naive stores are measured: the
    # schema revision is cached per process and sandbox stores skip disk syncs.
    sandbox.cache_schema_revision()
    sandbox.speed_up_sqlite_under(work / "harness")
    harness_setup = statistics.median(timed(harness_store, 30))
    with sandbox.fast_requirement_inference():
        log_model()  # warm-up: mlflow.sklearn and skops imports
        fast_log = statistics.median(timed(log_model, 5))
    inferred_log = statistics.median(timed(log_model, 3))
    return {
        "harness_setup": harness_setup,
        "naive_setup": naive_setup,
        "fast_log": fast_log,
        "inferred_log": inferred_log,
    }


def pytest_wall(arguments: list[str], cache_dir: Path) -> float:
    """Return the wall time of one pytest process, interpreter start included."""
    environment = {**os.environ, "KATAS_CACHE_DIR": str(cache_dir)}
    command = [sys.executable, "-m", "pytest", *arguments, "-q", "-p", "no:cacheprovider"]
    start = time.perf_counter()
    completed = subprocess.run(
        command, cwd=REPO_ROOT, env=environment, capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - start
    if completed.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{completed.stdout[-2000:]}")
    return elapsed


def measure_suites(work: Path) -> dict[str, float]:
    warm = work / "warm-cache"
    reference = ["--solutions", "reference"]
    one_kata = ["katas/phase1/tracking_basics", *reference]
    pytest_wall(one_kata, warm)  # builds the template once, as a learner's first run does
    return {
        "one_kata_cold": pytest_wall(one_kata, work / "cold-cache"),
        "one_kata_warm": min(pytest_wall(one_kata, warm) for _ in range(3)),
        "phase1_serial": pytest_wall(["katas/phase1", *reference], warm),
        "phase1_parallel": pytest_wall(["katas/phase1", *reference, "-n", "2"], warm),
        "phase2_serial": pytest_wall(["katas/phase2", *reference], warm),
        "phase2_parallel": pytest_wall(["katas/phase2", *reference, "-n", "2"], warm),
    }


def render(setup: dict[str, float], suites: dict[str, float]) -> str:
    import mlflow

    setup_ratio = setup["naive_setup"] / setup["harness_setup"]
    log_ratio = setup["inferred_log"] / setup["fast_log"]
    naive_total = setup["naive_setup"] + setup["inferred_log"]
    harness_total = setup["harness_setup"] + setup["fast_log"]
    rows = [
        (
            "Store set-up per test, harness (template copy)",
            f"{setup['harness_setup'] * 1000:.0f} ms",
        ),
        (
            "Store set-up per test, naive (fresh migrated SQLite)",
            f"{setup['naive_setup'] * 1000:.0f} ms",
        ),
        ("Set-up ratio, naive / harness (target >= 20x)", f"{setup_ratio:.0f}x"),
        (
            "log_model, requirement inference skipped by the harness",
            f"{setup['fast_log'] * 1000:.0f} ms",
        ),
        (
            "log_model, requirement inference on (MLflow default)",
            f"{setup['inferred_log'] * 1000:.0f} ms",
        ),
        ("log_model ratio, inference on / harness", f"{log_ratio:.0f}x"),
        ("Test that logs one model, naive / harness", f"{naive_total / harness_total:.0f}x"),
        (
            "phase1/tracking_basics suite, wall, warm template cache (target < 5 s)",
            f"{suites['one_kata_warm']:.1f} s",
        ),
        (
            "phase1/tracking_basics suite, wall, cold template cache",
            f"{suites['one_kata_cold']:.1f} s",
        ),
        (
            "pytest katas/phase1 --solutions reference, serial (target < 30 s)",
            f"{suites['phase1_serial']:.1f} s",
        ),
        ("pytest katas/phase1 --solutions reference -n 2", f"{suites['phase1_parallel']:.1f} s"),
        ("pytest katas/phase2 --solutions reference, serial", f"{suites['phase2_serial']:.1f} s"),
        (
            "pytest katas/phase2 --solutions reference -n 2 (target < 60 s)",
            f"{suites['phase2_parallel']:.1f} s",
        ),
    ]
    lines = [
        f"Measured on {time.strftime('%Y-%m-%d')} with MLflow {mlflow.__version__}, Python "
        f"{platform.python_version()}, {os.cpu_count()} cores, by `python bench/bench_harness.py`.",
        "",
        "| measurement | value |",
        "| --- | --- |",
        *[f"| {name} | {value} |" for name, value in rows],
    ]
    return "\n".join(lines)


def write_section(text: str) -> None:
    page = REPO_ROOT / "docs" / "benchmarks.md"
    content = page.read_text(encoding="utf-8")
    start, end = content.index(BEGIN_MARK), content.index(END_MARK)
    page.write_text(
        content[: start + len(BEGIN_MARK)] + "\n" + text + "\n" + content[end:], encoding="utf-8"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="Also update docs/benchmarks.md.")
    arguments = parser.parse_args()

    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    work = Path(tempfile.mkdtemp(prefix="katas-bench-"))
    try:
        setup = measure_setup(work)
        os.chdir(REPO_ROOT)
        suites = measure_suites(work)
    finally:
        os.chdir(REPO_ROOT)
        shutil.rmtree(work, ignore_errors=True)
    text = render(setup, suites)
    print(text)
    if arguments.write:
        write_section(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
