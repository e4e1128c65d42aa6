"""Tests for phase2/batch_prediction: score a CSV in chunks with the model behind an alias.

Most tests register two versions of a wine classifier in a fresh MLflow store and point
aliases at them. They call your functions on the kata's fixture CSV, or on a small CSV of
their own, and read back the predictions and what MLflow logged.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow.entities import Dataset, Run
from mlflow.models import infer_signature
from mlflow.pyfunc import PyFuncModel
from mlflow.tracking import MlflowClient
from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT
from pandas.io.parsers.readers import TextFileReader
from sklearn.datasets import load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from checks import state

# The kata's input: 178 wines in a shuffled order, with a row_id that does not follow the
# file order. fixtures/build_fixtures.py builds it from scikit-learn's copy of the UCI data.
FIXTURE = Path(__file__).resolve().parents[3] / "fixtures" / "batch_prediction" / "wine_batch.csv"

MODEL_NAME = "wine-cultivar"
# The tests score with this alias, on version 1. The default alias "champion" points at
# version 2, which predicts other classes, so code that ignores the alias is caught.
ALIAS = "nightly"
OTHER_ALIAS = "champion"
# 178 rows in chunks of 50 give four chunks, and the last one is short (28 rows).
CHUNK_SIZE = 50
EXPERIMENT = "nightly-scoring"
TRAINING_EXPERIMENT = "wine-training"

OUTPUT_COLUMNS = ["row_id", "prediction", "model_name", "model_version"]
INPUT_DATASET_NAME = "batch-input"
PREDICTIONS_DATASET_NAME = "batch-predictions"

# mlflow.data.from_pandas(..., source=path) in MLflow 3.17 warns that a local path matches
# LocalArtifactDatasetSource twice, and then uses it. The warning is not about your code.
pytestmark = pytest.mark.filterwarnings(
    "ignore:The specified dataset source can be interpreted in multiple ways:UserWarning"
)


# -- the registered model and the predictions each version makes ---------------------------


@functools.cache
def wine_model(version: str):
    """Fit the classifier stored as version ``version`` of MODEL_NAME.

    Version 2 learns the cultivars under shifted labels (0 becomes 1, 1 becomes 2, 2
    becomes 0), so on every wine of the fixture it predicts another class than version 1.
    """
    features, target = load_wine(return_X_y=True, as_frame=True)
    labels = target if version == "1" else (target + 1) % 3
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(features, labels)


@functools.cache
def expected_predictions(version: str, path: Path = FIXTURE) -> dict[int, int]:
    """Return each row_id's prediction by version ``version``, for the CSV at ``path``."""
    frame = pd.read_csv(path)
    predictions = wine_model(version).predict(frame.drop(columns=["row_id"]))
    return dict(zip(frame["row_id"].tolist(), predictions.tolist(), strict=True))


def register_versions() -> None:
    """Register versions 1 and 2 of MODEL_NAME and point ALIAS at 1, OTHER_ALIAS at 2."""
    features = load_wine(as_frame=True).data
    mlflow.set_experiment(TRAINING_EXPERIMENT)
    for version in ("1", "2"):
        model = wine_model(version)
        with mlflow.start_run(run_name=f"train-v{version}"):
            mlflow.sklearn.log_model(
                model,
                name="model",
                signature=infer_signature(features, model.predict(features)),
                registered_model_name=MODEL_NAME,
            )
    client = MlflowClient()
    client.set_registered_model_alias(MODEL_NAME, ALIAS, "1")
    client.set_registered_model_alias(MODEL_NAME, OTHER_ALIAS, "2")


def registered(mlflow_snapshot) -> None:
    """Register the two versions once per module. Later tests start from a copy."""
    mlflow_snapshot.run_once("register_versions", register_versions)


def move_alias(version: str) -> None:
    MlflowClient().set_registered_model_alias(MODEL_NAME, ALIAS, version)


def describe_versions() -> str:
    """List every version of MODEL_NAME with the aliases it carries, on one line."""
    client = MlflowClient()
    versions = sorted(
        (str(v.version) for v in client.search_model_versions(f"name = '{MODEL_NAME}'")), key=int
    )
    if not versions:
        return f"no versions of {MODEL_NAME!r}"
    # search_model_versions leaves ModelVersion.aliases empty in MLflow 3.17, so the aliases
    # come from the registered model, which maps each alias to its version.
    aliases = client.get_registered_model(MODEL_NAME).aliases
    return ", ".join(
        f"version {version} (aliases "
        f"{state.names(alias for alias, target in aliases.items() if str(target) == version)})"
        for version in versions
    )


# -- watching the learner's code: the chunks pandas reads and what the model receives ---------


@dataclass
class Observed:
    """What the tests saw while the learner's code ran."""

    chunk_sizes: list[int] = field(default_factory=list)
    model_inputs: list[object] = field(default_factory=list)


@contextmanager
def observing(after_first_chunk: Callable[[], None] | None = None) -> Iterator[Observed]:
    """Record each chunk that pandas reads and the columns of each model.predict input.

    ``after_first_chunk`` runs when the code requests the second chunk, after it has had
    the first one: the moment a job is in the middle of its file.
    """
    observed = Observed()
    original_get_chunk = TextFileReader.get_chunk
    original_predict = PyFuncModel.predict

    def get_chunk(self, size=None):
        if len(observed.chunk_sizes) == 1 and after_first_chunk is not None:
            after_first_chunk()
        chunk = original_get_chunk(self, size)
        observed.chunk_sizes.append(len(chunk))
        return chunk

    def predict(self, data, *args, **kwargs):
        columns = list(data.columns) if isinstance(data, pd.DataFrame) else type(data).__name__
        observed.model_inputs.append(columns)
        return original_predict(self, data, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(TextFileReader, "get_chunk", get_chunk)
        patch.setattr(PyFuncModel, "predict", predict)
        yield observed


# -- reading the output CSV -------------------------------------------------------------------


def read_output(path: Path, *, written_by: str) -> pd.DataFrame:
    """Read an output CSV, failing clearly when it is missing or lacks a column."""
    if not path.is_file():
        state.fail(
            f"{written_by} wrote no file at {path}.",
            expected=f"a CSV with the columns {', '.join(OUTPUT_COLUMNS)}",
            actual=f"files in {path.parent}: {state.names(p.name for p in path.parent.iterdir())}",
        )
    if path.stat().st_size == 0:
        state.fail(
            f"{written_by} wrote an empty file at {path}, without even a header line.",
            expected=f"a CSV with the header {','.join(OUTPUT_COLUMNS)}",
            actual="0 bytes",
            why="Write the header before the first chunk, so an input without rows still "
            "gives a CSV that readers can open.",
        )
    frame = pd.read_csv(path)
    missing = [column for column in OUTPUT_COLUMNS if column not in frame.columns]
    if missing:
        state.fail(
            f"The output CSV has no column {state.names(missing)}.",
            expected=f"columns {', '.join(OUTPUT_COLUMNS)}",
            actual=f"columns {', '.join(map(str, frame.columns))}",
            why="Every output row names its input row, its prediction and the model version.",
        )
    return frame


def assert_predictions_of_version(frame: pd.DataFrame, version: str, *, reason: str) -> None:
    """Check that every output row carries version ``version``'s prediction for its row_id."""
    expected = expected_predictions(version)
    wrong = []
    for row_id, prediction in zip(frame["row_id"], frame["prediction"], strict=True):
        expected_class = expected.get(row_id)
        if expected_class is None or not _same_class(prediction, expected_class):
            wrong.append(f"row_id {row_id}: prediction {prediction}, expected {expected_class}")
    if wrong:
        state.fail(
            f"{len(wrong)} of {len(frame)} output rows do not carry version {version}'s "
            "prediction for their row_id.",
            expected=f"each row's prediction by version {version} of {MODEL_NAME!r}",
            actual="\n    " + "\n    ".join(wrong[:5]) + ("\n    ..." if len(wrong) > 5 else ""),
            why=reason,
        )


def _same_class(value: object, expected: int) -> bool:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return False
    return not math.isnan(number) and number == expected


def assert_one_version(frame: pd.DataFrame, version: str, *, reason: str) -> None:
    """Check that the model_version column contains ``version`` on every row."""
    counts = frame["model_version"].astype(str).value_counts().to_dict()
    if counts != {version: len(frame)}:
        state.fail(
            f"The output's model_version column contains {state.format_mapping(counts)} "
            "(version=rows).",
            expected=f"version {version} on all {len(frame)} rows",
            actual=f"{state.format_mapping(counts)}; registry now: {describe_versions()}",
            why=reason,
        )


def input_row_ids(path: Path = FIXTURE) -> list[int]:
    return pd.read_csv(path)["row_id"].tolist()


# -- task 1: resolve the alias once, and pin the version ---------------------------------


@pytest.mark.task(1)
@pytest.mark.parametrize(
    "alias, version", [(ALIAS, "1"), (OTHER_ALIAS, "2")], ids=["nightly_alias", "champion_alias"]
)
def test_resolve_returns_aliased_version(solution, mlflow_snapshot, alias, version):
    registered(mlflow_snapshot)

    resolved = solution.resolve_alias(MODEL_NAME, alias)

    # ModelVersion.version is an int in MLflow 3.17, so a version of 1 or "1" both pass.
    found = (getattr(resolved, "name", None), str(getattr(resolved, "version", None)))
    if found != (MODEL_NAME, version):
        state.fail(
            f"resolve_alias({MODEL_NAME!r}, {alias!r}) returned {resolved!r}.",
            expected=f"name={MODEL_NAME!r}, version={version!r}",
            actual=f"{resolved!r}; registry: {describe_versions()}",
            why=(
                "MlflowClient().get_model_version_by_alias(name, alias) returns the "
                "ModelVersion the alias points at. Its .version is the number to pin."
            ),
        )


@pytest.mark.task(1)
def test_resolved_uri_names_version(solution, mlflow_snapshot):
    registered(mlflow_snapshot)

    resolved = solution.resolve_alias(MODEL_NAME, ALIAS)

    expected = f"models:/{MODEL_NAME}/1"
    if getattr(resolved, "model_uri", None) != expected:
        state.fail(
            f"resolve_alias returned the model URI {getattr(resolved, 'model_uri', None)!r}.",
            expected=expected,
            actual=repr(resolved),
            why=(
                f"models:/{MODEL_NAME}@{ALIAS} is looked up again on every load and follows "
                "the alias when it moves. A URI with the version number always loads the "
                "version the job resolved."
            ),
        )


@pytest.mark.task(1)
def test_alias_move_mid_scoring_keeps_version(solution, mlflow_snapshot, tmp_path):
    registered(mlflow_snapshot)
    output = tmp_path / "scored.csv"

    with observing(after_first_chunk=lambda: move_alias("2")) as observed:
        summary = solution.score_csv(
            FIXTURE, output, MODEL_NAME, alias=ALIAS, chunk_size=CHUNK_SIZE
        )

    if len(observed.chunk_sizes) < 2:
        state.fail(
            "score_csv read the CSV in fewer than two chunks, so the test could not move the "
            "alias in the middle of the file.",
            expected=f"pd.read_csv(input_path, chunksize={CHUNK_SIZE}) read chunk by chunk",
            actual=f"chunks read: {observed.chunk_sizes}",
        )
    reason = (
        f"The test moved the alias {ALIAS!r} from version 1 to version 2 after the first "
        "chunk. Resolve the alias once, before the loop, and score every chunk with that "
        "version, so one output never mixes the predictions of two models."
    )
    frame = read_output(output, written_by="score_csv")
    assert_one_version(frame, "1", reason=reason)
    assert_predictions_of_version(frame, "1", reason=reason)
    reported = str(getattr(getattr(summary, "model", None), "version", None))
    if reported != "1":
        state.fail(
            f"score_csv reported version {reported!r} in its ScoringSummary.",
            expected="'1', the version that scored every row",
            actual=repr(summary),
            why=reason,
        )


# -- task 2: score the CSV chunk by chunk, one output row per input row --------------------


SCORED_NAME = "scored.csv"


@dataclass(frozen=True)
class ScoringCall:
    summary: object
    observed: Observed


def scored_fixture(solution, mlflow_snapshot) -> ScoringCall:
    """Score the fixture into ./scored.csv once per module, recording chunks and inputs."""

    def call() -> ScoringCall:
        registered(mlflow_snapshot)
        with observing() as observed:
            summary = solution.score_csv(
                FIXTURE, Path.cwd() / SCORED_NAME, MODEL_NAME, alias=ALIAS, chunk_size=CHUNK_SIZE
            )
        return ScoringCall(summary, observed)

    return mlflow_snapshot.run_once("score_csv", call)


def scored_output(solution, mlflow_snapshot) -> pd.DataFrame:
    scored_fixture(solution, mlflow_snapshot)
    return read_output(Path.cwd() / SCORED_NAME, written_by="score_csv")


@pytest.mark.task(2)
def test_output_has_kata_columns(solution, mlflow_snapshot):
    frame = scored_output(solution, mlflow_snapshot)

    state.assert_same_values(
        "The output CSV's columns and OUTPUT_COLUMNS",
        OUTPUT_COLUMNS,
        list(frame.columns),
        why="Downstream readers select these columns by name and in this order.",
    )


@pytest.mark.task(2)
def test_output_has_row_per_input_row(solution, mlflow_snapshot):
    frame = scored_output(solution, mlflow_snapshot)

    expected = input_row_ids()
    if len(frame) != len(expected) or sorted(frame["row_id"]) != sorted(expected):
        counts = frame["row_id"].value_counts()
        state.fail(
            f"The output has {len(frame)} rows for {len(expected)} input rows.",
            expected=f"{len(expected)} rows, each input row_id exactly once",
            actual=(
                f"{len(frame)} rows, {frame['row_id'].nunique()} distinct row_ids, "
                f"{int((counts > 1).sum())} repeated, "
                f"{len(set(expected) - set(frame['row_id']))} missing"
            ),
            why=(
                "Open the output once and append every chunk's rows. Writing each chunk with "
                "to_csv(path) replaces the file, so only the last chunk would remain."
            ),
        )


@pytest.mark.task(2)
def test_output_keeps_input_order(solution, mlflow_snapshot):
    frame = scored_output(solution, mlflow_snapshot)

    expected = input_row_ids()
    found = frame["row_id"].tolist()
    if found != expected:
        first = next(
            (i for i, (a, b) in enumerate(zip(expected, found, strict=False)) if a != b),
            min(len(expected), len(found)),
        )
        state.fail(
            f"The output rows are not in input order. The first difference is at row {first}.",
            expected=f"row_ids {expected[first : first + 5]} ... (the input's order)",
            actual=f"row_ids {found[first : first + 5]} ...",
            why=(
                "Write the chunks in the order they are read, and each chunk's rows in file "
                "order, without sorting. The fixture is shuffled, so row_id does not follow "
                "the file order."
            ),
        )


@pytest.mark.task(2)
def test_predictions_match_their_rows(solution, mlflow_snapshot):
    frame = scored_output(solution, mlflow_snapshot)

    assert_predictions_of_version(
        frame,
        "1",
        reason=(
            "The model returns a plain array in the order of its input rows, while each "
            "chunk keeps its row labels from the file (50 to 99 for the second chunk of 50). "
            "Pair them by position (chunk[ID_COLUMN].to_numpy()), not through a Series whose "
            "labels restart at 0."
        ),
    )


@pytest.mark.task(2)
def test_rows_name_model_and_version(solution, mlflow_snapshot):
    frame = scored_output(solution, mlflow_snapshot)

    names = frame["model_name"].astype(str).value_counts().to_dict()
    if names != {MODEL_NAME: len(frame)}:
        state.fail(
            "The output's model_name column does not name the registered model on every row.",
            expected=f"{MODEL_NAME} on all {len(frame)} rows",
            actual=state.format_mapping(names),
        )
    assert_one_version(
        frame,
        "1",
        reason=(
            f"The alias {ALIAS!r} points at version 1. Write the version the alias resolved "
            "to, so anyone can tell later which model made each prediction."
        ),
    )


@pytest.mark.task(2)
def test_scoring_reads_csv_in_chunks(solution, mlflow_snapshot):
    scoring = scored_fixture(solution, mlflow_snapshot)

    rows = len(input_row_ids())
    expected_sizes = [CHUNK_SIZE] * (rows // CHUNK_SIZE) + [rows % CHUNK_SIZE]
    read_sizes = [size for size in scoring.observed.chunk_sizes if size]
    state.assert_same_values(
        f"The sizes of the chunks pandas read with chunk_size={CHUNK_SIZE}",
        expected_sizes,
        read_sizes,
        why=(
            "Read the file with pd.read_csv(input_path, chunksize=chunk_size) and loop over "
            "the reader, so only one chunk is in memory at a time, however large the file."
        ),
    )


@pytest.mark.task(2)
def test_summary_counts_rows_and_chunks(solution, mlflow_snapshot):
    scoring = scored_fixture(solution, mlflow_snapshot)

    rows = len(input_row_ids())
    expected = {"rows_in": rows, "rows_out": rows, "chunks": math.ceil(rows / CHUNK_SIZE)}
    found = {name: getattr(scoring.summary, name, None) for name in expected}
    if found != expected:
        state.fail(
            "score_csv's ScoringSummary does not count the rows and chunks it handled.",
            expected=state.format_mapping(expected),
            actual=f"{state.format_mapping(found)}; returned {scoring.summary!r}",
            why="Add up each chunk's rows as you go. The job logs these counts as metrics.",
        )


@pytest.mark.task(2)
def test_model_gets_features_without_row_id(solution, mlflow_snapshot):
    scoring = scored_fixture(solution, mlflow_snapshot)

    inputs = scoring.observed.model_inputs
    if not inputs:
        state.fail(
            "The test saw no call of the loaded model's predict method.",
            expected="mlflow.pyfunc.load_model(uri).predict(features) once per chunk",
            actual="no call",
            why="Load the model with mlflow.pyfunc.load_model, which works for every flavor.",
        )
    with_id = [
        columns for columns in inputs if not isinstance(columns, list) or "row_id" in columns
    ]
    if with_id:
        state.fail(
            f"{len(with_id)} of {len(inputs)} predict calls received the row_id column.",
            expected="the feature columns only",
            actual=f"columns {with_id[0]}",
            why=(
                "row_id identifies a row and carries no information about the wine. MLflow drops "
                "columns that the model's signature does not name, with a warning, but a "
                "model without a signature would fail on it or, worse, use it as a feature. "
                "Predict on chunk.drop(columns=[ID_COLUMN])."
            ),
        )


@pytest.mark.task(2)
def test_header_only_csv_gives_header_only_output(solution, mlflow_snapshot, tmp_path):
    registered(mlflow_snapshot)
    empty_input = tmp_path / "no_rows.csv"
    empty_input.write_text(FIXTURE.read_text(encoding="utf-8").splitlines()[0] + "\n")
    output = tmp_path / "no_rows_scored.csv"

    summary = solution.score_csv(empty_input, output, MODEL_NAME, alias=ALIAS, chunk_size=10)

    frame = read_output(output, written_by="score_csv")
    if len(frame) or getattr(summary, "rows_out", None) != 0:
        state.fail(
            "Scoring a CSV with a header and no rows did not give an output with no rows.",
            expected="the header line only, and rows_out=0",
            actual=f"{len(frame)} rows; returned {summary!r}",
        )


# -- task 3: the job as an MLflow run ----------------------------------------------------------


def job_output_path() -> Path:
    """Return where the job tests write predictions: a folder the job must create."""
    return Path.cwd() / "predictions" / "wine_batch_scored.csv"


def run_job(solution, output: Path | None = None, **arguments):
    return solution.run_batch_job(
        arguments.pop("input_path", FIXTURE),
        output or job_output_path(),
        MODEL_NAME,
        alias=ALIAS,
        chunk_size=CHUNK_SIZE,
        experiment_name=EXPERIMENT,
        **arguments,
    )


def finished_job(solution, mlflow_snapshot):
    """Run the batch job once per module and return what run_batch_job returned."""

    def call():
        registered(mlflow_snapshot)
        return run_job(solution)

    return mlflow_snapshot.run_once("run_batch_job", call)


def job_runs() -> list[Run]:
    return state.experiment_runs(EXPERIMENT)


def the_job_run(solution, mlflow_snapshot) -> Run:
    """Run the job and return its one run in EXPERIMENT."""
    finished_job(solution, mlflow_snapshot)
    runs = job_runs()
    if len(runs) != 1:
        state.fail(
            f"The experiment {EXPERIMENT!r} has {len(runs)} runs after one batch job.",
            expected="exactly one run per job",
            actual="\n" + "\n".join(state.describe_run(run) for run in runs),
            why="Select the experiment with mlflow.set_experiment and start one run for the job.",
        )
    return runs[0]


def context_of(dataset_input) -> str | None:
    for tag in dataset_input.tags:
        if tag.key == MLFLOW_DATASET_CONTEXT:
            return tag.value
    return None


def dataset_with_context(run: Run, context: str, name: str) -> Dataset:
    """Return the run's one dataset input logged with ``context``."""
    logged = run.inputs.dataset_inputs
    matching = [item.dataset for item in logged if context_of(item) == context]
    if len(matching) != 1:
        found = [f"{item.dataset.name} (context {context_of(item)})" for item in logged]
        state.fail(
            f"The job run has {len(matching)} dataset inputs with the context {context!r}.",
            expected=f"one, mlflow.log_input(mlflow.data.from_pandas(..., name={name!r}), "
            f"context={context!r})",
            actual=f"dataset inputs {state.names(found)}",
            why=(
                "Dataset inputs record which data a run read and wrote, with a digest of "
                "their content that tells two files apart."
            ),
        )
    return matching[0]


def source_path(dataset: Dataset) -> Path | None:
    """Return the local path a dataset's source names, or None for another kind of source."""
    try:
        uri = json.loads(dataset.source).get("uri", "")
    except (TypeError, ValueError, AttributeError):
        return None
    if not uri:
        return None
    return Path(uri.removeprefix("file://")).resolve()


def assert_dataset(dataset: Dataset, *, name: str, path: Path, columns: list[str]) -> None:
    """Check a dataset input's name, source, row count and columns against a CSV file."""
    rows = len(pd.read_csv(path))
    if dataset.name != name:
        state.fail(
            f"The dataset input is named {dataset.name!r}.",
            expected=name,
            actual=dataset.name,
            why="Pass name=... to mlflow.data.from_pandas, because the UI lists datasets by name.",
        )
    if source_path(dataset) != path.resolve():
        state.fail(
            f"The dataset {name!r} does not name the file it was read from as its source.",
            expected=f"source {{'uri': '{path}'}} (from_pandas(..., source=str(path)))",
            actual=f"source type {dataset.source_type}, source {dataset.source}",
            why="The source tells a reader of the run where the data lives.",
        )
    logged_rows = json.loads(dataset.profile or "{}").get("num_rows")
    if logged_rows != rows:
        state.fail(
            f"The dataset {name!r} has {logged_rows} rows, but {path.name} has {rows}.",
            expected=f"num_rows={rows}",
            actual=f"num_rows={logged_rows}",
            why="Build the dataset from the whole file, not from one chunk.",
        )
    schema = json.loads(dataset.schema or "{}")
    logged_columns = [column.get("name") for column in schema.get("mlflow_colspec", [])]
    state.assert_same_values(
        f"The columns of the dataset {name!r} and of {path.name}", columns, logged_columns
    )


@pytest.mark.task(3)
def test_job_logs_one_finished_run(solution, mlflow_snapshot):
    result = finished_job(solution, mlflow_snapshot)

    run = the_job_run(solution, mlflow_snapshot)

    state.assert_run_finished(run)
    if getattr(result, "run_id", None) != run.info.run_id:
        state.fail(
            "run_batch_job returned another run id than its run's.",
            expected=f"run_id={run.info.run_id}",
            actual=repr(result),
        )


@pytest.mark.task(3)
def test_job_run_logs_params(solution, mlflow_snapshot):
    run = the_job_run(solution, mlflow_snapshot)

    state.assert_params(
        run,
        {
            "model_name": MODEL_NAME,
            "model_alias": ALIAS,
            "model_version": "1",
            "chunk_size": CHUNK_SIZE,
        },
    )
    paths = {"input_path": FIXTURE, "output_path": job_output_path()}
    missing = [key for key in paths if key not in run.data.params]
    if missing:
        state.fail(
            f"The run is missing the param(s) {state.names(missing)}.",
            expected=f"params {state.names(paths)}",
            actual=state.describe_run(run),
            why="The paths tell anyone reading the run which file was scored and where to.",
        )
    for key, path in paths.items():
        if Path(run.data.params[key]).resolve() != path.resolve():
            state.fail(
                f"The param {key} names another file than the one the job used.",
                expected=str(path),
                actual=run.data.params[key],
            )


@pytest.mark.task(3)
def test_job_metrics_count_rows(solution, mlflow_snapshot):
    run = the_job_run(solution, mlflow_snapshot)

    written = len(read_output(job_output_path(), written_by="run_batch_job"))
    read = len(input_row_ids())
    state.assert_metric_close(
        run, "rows_in", read, meaning="the number of rows in the input CSV", abs_tol=0
    )
    state.assert_metric_close(
        run,
        "rows_out",
        written,
        meaning="the number of rows in the output CSV",
        abs_tol=0,
        why="Count every row written, in every chunk, not the rows of the last chunk.",
    )
    state.assert_metric_close(
        run, "chunks", math.ceil(read / CHUNK_SIZE), meaning="the number of chunks", abs_tol=0
    )


@pytest.mark.task(3)
def test_job_logs_input_dataset(solution, mlflow_snapshot):
    run = the_job_run(solution, mlflow_snapshot)

    dataset = dataset_with_context(run, "input", INPUT_DATASET_NAME)
    assert_dataset(
        dataset,
        name=INPUT_DATASET_NAME,
        path=FIXTURE,
        columns=list(pd.read_csv(FIXTURE, nrows=0).columns),
    )


@pytest.mark.task(3)
def test_job_logs_predictions_dataset(solution, mlflow_snapshot):
    run = the_job_run(solution, mlflow_snapshot)

    dataset = dataset_with_context(run, "predictions", PREDICTIONS_DATASET_NAME)
    assert_dataset(
        dataset, name=PREDICTIONS_DATASET_NAME, path=job_output_path(), columns=OUTPUT_COLUMNS
    )


@pytest.mark.task(3)
def test_job_publishes_output(solution, mlflow_snapshot):
    result = finished_job(solution, mlflow_snapshot)

    frame = read_output(job_output_path(), written_by="run_batch_job")
    assert_predictions_of_version(
        frame, "1", reason="The job scores with the version behind the alias."
    )
    found = {
        "model_version": str(getattr(result, "model_version", None)),
        "rows_out": getattr(result, "rows_out", None),
        "output_written": getattr(result, "output_written", None),
    }
    expected = {"model_version": "1", "rows_out": len(frame), "output_written": True}
    if found != expected:
        state.fail(
            "run_batch_job returned other values than the job's.",
            expected=state.format_mapping(expected),
            actual=repr(result),
        )


@pytest.mark.task(3)
def test_alias_move_mid_job_keeps_run_version(solution, mlflow_snapshot):
    registered(mlflow_snapshot)

    with observing(after_first_chunk=lambda: move_alias("2")):
        run_job(solution)

    reason = (
        f"The test moved the alias {ALIAS!r} to version 2 after the first chunk. The run must "
        "record the version that scored the rows, which is the one resolved before the "
        "first chunk."
    )
    frame = read_output(job_output_path(), written_by="run_batch_job")
    assert_one_version(frame, "1", reason=reason)
    runs = job_runs()
    logged = [run.data.params.get("model_version") for run in runs]
    if logged != ["1"]:
        state.fail(
            "The job run does not record version 1 as its model_version param.",
            expected="one run with model_version=1",
            actual=f"model_version params {logged}; registry now: {describe_versions()}",
            why=reason,
        )


# -- task 4: re-runs do not duplicate, and never silently replace, an output -----------------


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.task(4)
def test_publish_moves_scored_file_to_new_path(solution, tmp_path):
    scored = write_csv(tmp_path / "scored.partial", "row_id,prediction\n7,1\n")
    output = tmp_path / "out.csv"

    written = solution.publish_output(scored, output)

    if written is not True or not output.is_file():
        state.fail(
            "publish_output did not move the scored file to a path with no file yet.",
            expected="True, and out.csv holding the scored rows",
            actual=f"returned {written!r}; files {state.names(p.name for p in tmp_path.iterdir())}",
        )
    assert output.read_text(encoding="utf-8") == "row_id,prediction\n7,1\n", (
        f"out.csv contains {output.read_text(encoding='utf-8')!r}, not the scored rows."
    )
    assert_moved(scored, output)


def assert_moved(scored: Path, output: Path) -> None:
    """Check that publishing moved the scored file, so no copy of it is left behind."""
    if scored.exists():
        state.fail(
            f"After publishing, the scored file {scored.name} still exists: it was copied onto "
            f"{output.name}, not moved.",
            expected=f"only {output.name} in the folder",
            actual=f"files {state.names(p.name for p in output.parent.iterdir())}",
            why=(
                "os.replace(scored_path, output_path) renames the file in one atomic step. A "
                "copy writes the output piece by piece, so a reader or a crash in the middle "
                "can read half a file."
            ),
        )


@pytest.mark.task(4)
def test_publish_keeps_identical_output(solution, tmp_path):
    text = "row_id,prediction\n7,1\n"
    scored = write_csv(tmp_path / "scored.partial", text)
    output = write_csv(tmp_path / "out.csv", text)

    written = solution.publish_output(scored, output)

    if written is not False:
        state.fail(
            "publish_output returned True for an output that already contained the same bytes.",
            expected="False: the same input scored by the same version changes nothing",
            actual=repr(written),
            why="Compare file_digest(scored_path) with file_digest(output_path) first.",
        )
    assert output.read_text(encoding="utf-8") == text, "The identical output was changed."


@pytest.mark.task(4)
def test_publish_rejects_other_output(solution, tmp_path):
    scored = write_csv(tmp_path / "scored.partial", "row_id,prediction\n7,2\n")
    earlier = "row_id,prediction\n7,1\n"
    output = write_csv(tmp_path / "out.csv", earlier)

    try:
        written = solution.publish_output(scored, output)
    except FileExistsError as error:
        message = str(error)
    else:
        state.fail(
            f"publish_output returned {written!r} for an output that contains other "
            "predictions, instead of raising FileExistsError.",
            expected="FileExistsError, because overwrite is False",
            actual=f"returned {written!r}; out.csv now {output.read_text(encoding='utf-8')!r}",
            why=(
                "An output from another input or model version may already be in use. Replacing "
                "it silently loses it, so the caller must request that with overwrite=True. "
                "Compare the files with file_digest, because two outputs of the same size can "
                "contain other predictions."
            ),
        )
    assert output.read_text(encoding="utf-8") == earlier, (
        "publish_output raised FileExistsError but changed the output first."
    )
    assert str(output) in message, (
        f"The FileExistsError message {message!r} must name the output path, {output}."
    )
    assert "overwrite=True" in message, (
        f"The FileExistsError message {message!r} must name the way out, overwrite=True."
    )


@pytest.mark.task(4)
def test_publish_overwrite_replaces_output(solution, tmp_path):
    scored = write_csv(tmp_path / "scored.partial", "row_id,prediction\n7,2\n")
    output = write_csv(tmp_path / "out.csv", "row_id,prediction\n7,1\n")

    written = solution.publish_output(scored, output, overwrite=True)

    found = output.read_text(encoding="utf-8")
    if written is not True or found != "row_id,prediction\n7,2\n":
        state.fail(
            "publish_output(..., overwrite=True) did not replace an output with other contents.",
            expected="True, and out.csv holding the new rows",
            actual=f"returned {written!r}; out.csv {found!r}",
        )
    assert_moved(scored, output)


def folder_files(path: Path) -> list[str]:
    return sorted(item.name for item in path.parent.iterdir())


@pytest.mark.task(4)
def test_job_rerun_leaves_output_unchanged(solution, mlflow_snapshot):
    finished_job(solution, mlflow_snapshot)
    output = job_output_path()
    before = output.read_bytes()

    result = run_job(solution)

    if output.read_bytes() != before:
        state.fail(
            "A second job over the same input with the same version changed the output.",
            expected=f"{len(before)} bytes, as after the first job",
            actual=f"{len(output.read_bytes())} bytes",
            why="The same rows scored by the same version give the same bytes, so keep the file.",
        )
    if getattr(result, "output_written", None) is not False:
        state.fail(
            "The second job reported that it wrote the output.",
            expected="output_written=False",
            actual=repr(result),
            why="publish_output returns False when the output already contains the same bytes.",
        )
    state.assert_same_values(
        "The files in the output folder after the re-run", [output.name], folder_files(output)
    )


@pytest.mark.task(4)
@pytest.mark.parametrize("change", ["alias_moved", "other_input"])
def test_job_rerun_rejects_other_output(solution, mlflow_snapshot, tmp_path, change):
    finished_job(solution, mlflow_snapshot)
    output = job_output_path()
    before = output.read_bytes()
    arguments = {}
    if change == "alias_moved":
        move_alias("2")
    else:
        subset = pd.read_csv(FIXTURE).head(100)
        arguments["input_path"] = tmp_path / "first_100_wines.csv"
        subset.to_csv(arguments["input_path"], index=False)

    try:
        result = run_job(solution, **arguments)
    except FileExistsError:
        pass
    else:
        state.fail(
            f"A job whose output would differ ({change.replace('_', ' ')}) returned instead "
            "of raising FileExistsError.",
            expected="FileExistsError without overwrite=True, and the earlier output unchanged",
            actual=f"returned {result!r}",
            why=(
                "Score into a scratch file and publish it with publish_output, which "
                "raises when the output contains other predictions. Writing straight to the "
                "output path replaces it silently."
            ),
        )
    if output.read_bytes() != before:
        state.fail(
            "The rejected job changed the earlier output.",
            expected=f"the {len(before)} bytes of the first job's output",
            actual=f"{len(output.read_bytes())} bytes",
            why="Publish only through publish_output, after scoring into a scratch file.",
        )
    state.assert_same_values(
        "The files in the output folder after the rejected job",
        [output.name],
        folder_files(output),
        why="Delete the scratch file when publishing raises, in a finally block.",
    )


@pytest.mark.task(4)
def test_job_overwrite_rescores_output(solution, mlflow_snapshot):
    finished_job(solution, mlflow_snapshot)
    move_alias("2")

    result = run_job(solution, overwrite=True)

    frame = read_output(job_output_path(), written_by="run_batch_job")
    reason = "With overwrite=True the job replaces the output with the new version's predictions."
    assert_one_version(frame, "2", reason=reason)
    assert_predictions_of_version(frame, "2", reason=reason)
    if getattr(result, "output_written", None) is not True:
        state.fail(
            "The job reported that it did not write the output.",
            expected="output_written=True",
            actual=repr(result),
        )
