"""Read MLflow state through the client and fail with messages that teach.

Every helper raises AssertionError whose text shows what the learner's code left in MLflow
next to what the kata expects and, where it helps, why it matters.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import mlflow
from mlflow.entities import LoggedModel, Run
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

SYSTEM_TAG_PREFIX = "mlflow."
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def fail(headline: str, *, expected: object = None, actual: object = None, why: str = "") -> None:
    """Raise AssertionError with a headline, the expected and actual state, and the reason."""
    lines = [headline]
    if expected is not None:
        lines.append(f"  expected: {expected}")
    if actual is not None:
        lines.append(f"  found:    {actual}")
    if why:
        lines.append(why)
    raise AssertionError("\n".join(lines))


def names(items: Iterable[str]) -> str:
    """Format names as a sorted, comma-separated list, or '(none)'."""
    listed = sorted(items)
    return ", ".join(listed) if listed else "(none)"


def user_tags(run: Run) -> dict[str, str]:
    """Return the run's tags without MLflow's own ``mlflow.*`` tags."""
    return {
        key: value for key, value in run.data.tags.items() if not key.startswith(SYSTEM_TAG_PREFIX)
    }


def describe_run(run: Run) -> str:
    """Summarize a run's status, params, metrics and tags on a few indented lines."""
    data = run.data
    return "\n".join(
        [
            f"    run {run.info.run_id} ({run.info.run_name}), status {run.info.status}",
            f"    params:  {format_mapping(data.params)}",
            f"    metrics: {format_mapping(data.metrics)}",
            f"    tags:    {format_mapping(user_tags(run))}",
        ]
    )


def format_mapping(values: Mapping[str, object]) -> str:
    """Format a mapping as sorted key=value pairs, or (none)."""
    if not values:
        return "(none)"
    return ", ".join(f"{key}={_format_value(value)}" for key, value in sorted(values.items()))


def _format_value(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return repr(value) if isinstance(value, str) and not value else str(value)


# -- runs and experiments --------------------------------------------------------------------


def run_from_id(run_id: object, *, returned_by: str) -> Run:
    """Fetch the run whose id a learner function returned, failing clearly on a bad value."""
    if not isinstance(run_id, str) or not run_id:
        fail(
            f"{returned_by} returned {run_id!r}, but it must return the id of the run it logged.",
            expected="a run id string such as run.info.run_id",
            actual=f"{type(run_id).__name__} {run_id!r}",
        )
    try:
        return MlflowClient().get_run(run_id)
    except MlflowException:
        fail(
            f"{returned_by} returned {run_id!r}, which is not the id of any run in the store.",
            actual=describe_experiments(),
        )
    raise AssertionError("unreachable")


def experiment_runs(experiment_name: str) -> list[Run]:
    """Return every run of the named experiment, oldest first; fail if it does not exist."""
    client = MlflowClient()
    experiment = client.get_experiment_by_name(experiment_name)
    if experiment is None:
        fail(
            f"There is no experiment named {experiment_name!r}.",
            expected=f"runs logged under mlflow.set_experiment({experiment_name!r})",
            actual=describe_experiments(),
        )
    runs = client.search_runs([experiment.experiment_id], order_by=["attributes.start_time ASC"])
    return list(runs)


def describe_experiments() -> str:
    """List the experiments in the store with their run counts, on one line."""
    client = MlflowClient()
    parts = []
    for experiment in client.search_experiments():
        count = len(client.search_runs([experiment.experiment_id]))
        parts.append(f"{experiment.name!r} ({count} runs)")
    return "experiments " + (", ".join(parts) if parts else "(none)")


def assert_run_finished(run: Run) -> None:
    """Check that a run has ended with status FINISHED."""
    if run.info.status != "FINISHED":
        fail(
            f"The run {run.info.run_id} has status {run.info.status}.",
            expected="FINISHED",
            actual=run.info.status,
            why="A run ends when its `with mlflow.start_run():` block ends without an error.",
        )


# -- params, metrics and tags ------------------------------------------------------------------


def assert_params(run: Run, expected: Mapping[str, object]) -> None:
    """Check that each expected param is logged with the expected value.

    MLflow stores params as strings, so values compare by ``str``.
    """
    logged = run.data.params
    missing = [key for key in expected if key not in logged]
    if missing:
        fail(
            f"The run is missing the param(s) {names(missing)}.",
            expected=f"params {names(expected)}",
            actual=f"params {names(logged)}\n{describe_run(run)}",
            why="Param names are part of the contract: searches and comparisons use them.",
        )
    wrong = {key: logged[key] for key, value in expected.items() if logged[key] != str(value)}
    if wrong:
        fail(
            "Some params do not hold the values the function was called with.",
            expected=", ".join(f"{key}={expected[key]}" for key in wrong),
            actual=", ".join(f"{key}={value}" for key, value in wrong.items()),
            why="Log the arguments the function received, not fixed numbers.",
        )


def assert_metric_names(run: Run, expected: Iterable[str]) -> None:
    """Check that every expected metric name is logged on the run."""
    expected = list(expected)
    logged = run.data.metrics
    missing = [name for name in expected if name not in logged]
    if missing:
        fail(
            f"The run logged metrics {names(logged)}, but the kata expects {names(expected)}.",
            expected=f"metrics {names(expected)}",
            actual=f"metrics {names(logged)}",
            why="Metric names must match exactly so that runs can be compared and searched.",
        )


def assert_metric_close(
    run: Run,
    name: str,
    expected: float,
    *,
    meaning: str,
    rel: float = 1e-6,
    abs_tol: float = 1e-9,
    why: str = "",
) -> None:
    """Check one logged metric against the value the test computed itself."""
    assert_metric_names(run, [name])
    logged = run.data.metrics[name]
    if not math.isclose(logged, expected, rel_tol=rel, abs_tol=abs_tol):
        fail(
            f"Metric {name} is {logged:.6g}, but {meaning} is {expected:.6g}.",
            expected=f"{name}={expected:.6g}",
            actual=f"{name}={logged:.6g}",
            why=why,
        )


def assert_tags(run: Run, expected: Mapping[str, str]) -> None:
    """Check that each expected tag is set with the expected value."""
    tags = user_tags(run)
    wrong = {key: value for key, value in expected.items() if tags.get(key) != value}
    if wrong:
        fail(
            "The run is missing tags or has other values.",
            expected=format_mapping(expected),
            actual=f"tags {format_mapping(tags)}",
            why="Tags are how teams find runs later: search_runs(filter_string=\"tags.x = 'y'\").",
        )


# -- artifacts -------------------------------------------------------------------------------


def artifact_paths(run_id: str) -> list[str]:
    """Return the paths of every artifact file of a run, recursively."""
    client = MlflowClient()
    found: list[str] = []
    pending = [None]
    while pending:
        folder = pending.pop()
        for info in client.list_artifacts(run_id, folder):
            if info.is_dir:
                pending.append(info.path)
            else:
                found.append(info.path)
    return sorted(found)


def download_artifact(run: Run, path: str) -> Path:
    """Download one artifact of a run and return its local path; fail if it is missing."""
    present = artifact_paths(run.info.run_id)
    if path not in present:
        fail(
            f"The run has no artifact {path!r}.",
            expected=path,
            actual=f"artifacts {names(present)}",
        )
    destination = tempfile.mkdtemp(prefix="artifact-", dir=Path.cwd())
    return Path(
        mlflow.artifacts.download_artifacts(
            run_id=run.info.run_id, artifact_path=path, dst_path=destination
        )
    )


def assert_png(path: Path, *, min_bytes: int = 2000) -> None:
    """Check that a file is a PNG image with something drawn on it."""
    data = path.read_bytes()
    if not data.startswith(PNG_SIGNATURE):
        fail(
            f"{path.name} is not a PNG image.",
            expected="PNG data",
            actual=f"starts with {data[:8]!r}",
        )
    import matplotlib.image

    pixels = matplotlib.image.imread(path)
    if len(data) < min_bytes or float(pixels.std()) == 0.0:
        fail(
            f"{path.name} is an empty picture.",
            expected="a plot with visible content",
            actual=f"{len(data)} bytes, every pixel the same colour"
            if pixels.std() == 0
            else f"{len(data)} bytes",
            why="Draw on the figure before mlflow.log_figure(figure, path); it saves it as it is.",
        )


# -- logged models ---------------------------------------------------------------------------


def run_logged_models(run: Run) -> list[LoggedModel]:
    """Return the LoggedModels whose source run is ``run``."""
    return mlflow.search_logged_models(
        experiment_ids=[run.info.experiment_id],
        filter_string=f"source_run_id = '{run.info.run_id}'",
        output_format="list",
    )


def single_logged_model(run: Run, *, name: str) -> LoggedModel:
    """Return the one LoggedModel a run produced, checking its name."""
    models = run_logged_models(run)
    if len(models) != 1:
        fail(
            f"The run produced {len(models)} LoggedModels; the kata expects exactly one.",
            expected=f"one model logged with mlflow.<flavor>.log_model(..., name={name!r})",
            actual=f"models {names(model.name for model in models)}",
            why="In MLflow 3 a model is a LoggedModel linked to the run that logged it.",
        )
    model = models[0]
    if model.name != name:
        fail(
            f"The LoggedModel is named {model.name!r}.",
            expected=name,
            actual=model.name,
            why="Pass name=... to log_model; the model URI and the UI show that name.",
        )
    return model


def assert_same_values(
    what: str, expected: Sequence[object], actual: Sequence[object], *, why: str = ""
) -> None:
    """Check two sequences are equal and show the first difference."""
    if list(expected) == list(actual):
        return
    fail(f"{what} do not match.", expected=list(expected), actual=list(actual), why=why)


def metric_history(run: Run, name: str) -> list[tuple[int, float]]:
    """Return a metric's logged (step, value) pairs in step order."""
    history = MlflowClient().get_metric_history(run.info.run_id, name)
    return sorted((metric.step, metric.value) for metric in history)
