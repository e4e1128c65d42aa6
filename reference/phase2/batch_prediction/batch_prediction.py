"""Kata phase2/batch_prediction: score a CSV in chunks with the model behind a registry alias.

Fill in the functions below, task by task, as the kata's README describes. Run the tests
with ``pytest katas/phase2/batch_prediction``. The tests point MLflow at a throwaway store
and register the model versions themselves, so do not set a tracking URI here.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow.tracking import MlflowClient

# The column that identifies a row. It goes from the input to the output unchanged and is
# not a feature, so it never goes into the model (task 2).
ID_COLUMN = "row_id"

# The columns of the output CSV, in this order (task 2).
OUTPUT_COLUMNS = ("row_id", "prediction", "model_name", "model_version")

# The job run's two dataset inputs: their names and the contexts they are logged with
# (task 3).
INPUT_DATASET_NAME = "batch-input"
INPUT_CONTEXT = "input"
PREDICTIONS_DATASET_NAME = "batch-predictions"
PREDICTIONS_CONTEXT = "predictions"

DEFAULT_ALIAS = "champion"
DEFAULT_CHUNK_SIZE = 64
DEFAULT_EXPERIMENT = "batch-prediction"


@dataclass(frozen=True)
class ResolvedModel:
    """A registered model version found through an alias, with a URI pinned to its number."""

    name: str
    version: str
    model_uri: str


@dataclass(frozen=True)
class ScoringSummary:
    """The model version that scored a CSV, and how many rows and chunks went through."""

    model: ResolvedModel
    rows_in: int
    rows_out: int
    chunks: int


@dataclass(frozen=True)
class BatchJobResult:
    """The outcome of one batch job: its run, its model version and whether it wrote the output."""

    run_id: str
    model_version: str
    rows_out: int
    output_written: bool


def file_digest(path: str | os.PathLike[str]) -> str:
    """Return the SHA-256 digest of a file's bytes as hex, reading it block by block.

    Given code: use it as it is.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def scratch_path_beside(path: Path) -> Path:
    """Create an empty file in the folder of ``path``, with a unique name, and return it.

    Given code: use it as it is. A job writes its predictions here first, and os.replace
    then moves them onto ``path`` in one step. That step is atomic only within one file
    system, so the scratch file sits in the same folder. A reader of ``path`` then gets the
    old file or the new one, never half of it.
    """
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    os.close(handle)
    # mkstemp makes the file readable by its owner only, and os.replace keeps that mode. The
    # published output should be readable by others, as open() makes it with a umask of 022.
    os.chmod(name, 0o644)
    return Path(name)


def resolve_alias(model_name: str, alias: str) -> ResolvedModel:
    """Find the model version that ``alias`` points at, and pin it by its version number.

    Args:
        model_name: A registered model's name.
        alias: An alias set on one of its versions, such as ``"champion"``.

    Returns:
        A ResolvedModel with the model's name, the version number as a string, and the
        URI ``models:/<name>/<version>``, which keeps naming that version after the alias
        moves to another one.

    Raises:
        mlflow.exceptions.MlflowException: If the model or the alias does not exist.
    """
    # BEGIN SOLUTION: Write TODO(1) of resolve_alias.
    # TODO(1): Ask the registry which version the alias points at, and return it with a
    #   model URI that names the version number, not the alias.
    version = MlflowClient().get_model_version_by_alias(model_name, alias)
    # ModelVersion.version is an int in MLflow 3.17's SQL store, and the kata keeps a string.
    return ResolvedModel(
        name=model_name,
        version=str(version.version),
        model_uri=f"models:/{model_name}/{version.version}",
    )
    # END SOLUTION


def score_csv(
    input_path: str | os.PathLike[str],
    output_path: str | os.PathLike[str],
    model_name: str,
    alias: str = DEFAULT_ALIAS,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> ScoringSummary:
    """Score every row of a CSV with the model version behind ``alias``, chunk by chunk.

    Args:
        input_path: A CSV with an ID_COLUMN and the model's feature columns.
        output_path: Where to write the predictions. An existing file is replaced.
        model_name: The registered model to score with.
        alias: The alias that names the version to use. It is resolved once, before the
            first row is read, so one version scores every row even if the alias moves
            while the file is being scored.
        chunk_size: How many rows to read, score and write at a time.

    Returns:
        A ScoringSummary with the version used, the rows read and written, and the number
        of chunks. The output CSV has the columns OUTPUT_COLUMNS and one row per input row,
        in input order: the row's ID, its prediction, and the model's name and version.
        An input with a header and no rows gives an output with only the header.
    """
    # BEGIN SOLUTION: Write TODO(1) and TODO(2) of score_csv.
    # TODO(1): Resolve the alias once, before reading any row, and load the pinned version
    #   with mlflow.pyfunc.load_model.
    # Resolving inside the loop would follow the alias to a new version in the middle of
    # the file, and one output would then hold predictions of two models.
    resolved = resolve_alias(model_name, alias)
    model = mlflow.pyfunc.load_model(resolved.model_uri)

    # TODO(2): Read the CSV with pandas in chunks of chunk_size rows. Predict on each
    #   chunk without its ID_COLUMN, and append the chunk's rows to the output CSV with
    #   the columns OUTPUT_COLUMNS. Count the rows read, the rows written and the chunks.
    rows_in = rows_out = chunks = 0
    with (
        pd.read_csv(input_path, chunksize=chunk_size) as reader,
        open(output_path, "w", encoding="utf-8", newline="") as output,
    ):
        # The header goes first, so an input without rows still gives a readable CSV.
        pd.DataFrame(columns=list(OUTPUT_COLUMNS)).to_csv(output, index=False)
        for chunk in reader:
            if chunk.empty:
                continue
            predictions = model.predict(chunk.drop(columns=[ID_COLUMN]))
            # Each chunk keeps its row labels from the file (64 to 127 for the second chunk
            # of 64), while the model returns a plain array in the order of its input
            # rows. Building the frame from arrays pairs them by position, never by label.
            scored = pd.DataFrame(
                {
                    "row_id": chunk[ID_COLUMN].to_numpy(),
                    "prediction": np.asarray(predictions),
                    "model_name": resolved.name,
                    "model_version": resolved.version,
                },
                columns=list(OUTPUT_COLUMNS),
            )
            scored.to_csv(output, header=False, index=False)
            rows_in += len(chunk)
            rows_out += len(scored)
            chunks += 1
    return ScoringSummary(resolved, rows_in=rows_in, rows_out=rows_out, chunks=chunks)
    # END SOLUTION


def publish_output(
    scored_path: str | os.PathLike[str],
    output_path: str | os.PathLike[str],
    overwrite: bool = False,
) -> bool:
    """Move freshly scored predictions onto the output path, unless that would lose data.

    Args:
        scored_path: A file of predictions that a job has just written.
        output_path: Where the predictions belong. It may hold an earlier job's output.
        overwrite: Replace an existing output that contains other predictions.

    Returns:
        True if ``scored_path`` was moved onto ``output_path``. False if ``output_path``
        already contained the same bytes (same input, same model version): it is then left
        untouched, and ``scored_path`` is left where it is for the caller to delete.

    Raises:
        FileExistsError: If ``output_path`` contains other bytes, from another input or
            another model version, and ``overwrite`` is False. Both files are then left
            as they were.
    """
    # BEGIN SOLUTION: Write TODO(4) of publish_output.
    # TODO(4): Compare the files by their file_digest. Leave an identical output alone
    #   and return False. Raise FileExistsError for an output with other contents unless
    #   overwrite is set. Otherwise move the scored file onto the output with os.replace
    #   and return True.
    scored_path, output_path = Path(scored_path), Path(output_path)
    if output_path.exists():
        if file_digest(output_path) == file_digest(scored_path):
            return False
        if not overwrite:
            raise FileExistsError(
                f"Cannot write the predictions to {output_path}: the file already exists "
                "and contains other predictions, from another input file or another model "
                "version. Pass overwrite=True to replace it, or write to another path."
            )
    os.replace(scored_path, output_path)
    return True
    # END SOLUTION


def run_batch_job(
    input_path: str | os.PathLike[str],
    output_path: str | os.PathLike[str],
    model_name: str,
    alias: str = DEFAULT_ALIAS,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    experiment_name: str = DEFAULT_EXPERIMENT,
    overwrite: bool = False,
) -> BatchJobResult:
    """Score a CSV with the aliased model as one MLflow run, and publish the predictions.

    Args:
        input_path: The CSV to score, as for score_csv.
        output_path: Where the predictions go. Its folder is created if needed.
        model_name: The registered model to score with.
        alias: The alias that names the version to use, resolved once per job.
        chunk_size: How many rows to score at a time.
        experiment_name: The MLflow experiment of the job's run, created if needed.
        overwrite: Replace an output that contains other predictions instead of raising.

    Returns:
        A BatchJobResult. The experiment then has one finished run for the job with:

        - params ``model_name``, ``model_alias``, ``model_version``, ``chunk_size``,
          ``input_path`` and ``output_path``;
        - metrics ``rows_in``, ``rows_out`` and ``chunks``;
        - the input CSV as a dataset input named INPUT_DATASET_NAME with the context
          INPUT_CONTEXT, and the output CSV as one named PREDICTIONS_DATASET_NAME with the
          context PREDICTIONS_CONTEXT, each with the file's path as its source.

    Raises:
        FileExistsError: From publish_output, if the output contains other predictions and
            ``overwrite`` is False. The run then ends FAILED, and the output and its folder
            are left as they were.
    """
    input_path, output_path = Path(input_path), Path(output_path)
    output_path.parent.mkdir(parents=True, exist_ok=True)

    # BEGIN SOLUTION: Write TODO(3) and TODO(4) of run_batch_job.
    # TODO(3): Select the experiment and start a run. In it, score the input into a
    #   scratch file beside the output (scratch_path_beside), then log the params and
    #   metrics, and the input CSV as a dataset input.
    mlflow.set_experiment(experiment_name)
    with mlflow.start_run(run_name=f"score-{model_name}") as run:
        scratch_path = scratch_path_beside(output_path)
        try:
            summary = score_csv(input_path, scratch_path, model_name, alias, chunk_size)
            mlflow.log_params(
                {
                    "model_name": summary.model.name,
                    "model_alias": alias,
                    "model_version": summary.model.version,
                    "chunk_size": chunk_size,
                    "input_path": str(input_path),
                    "output_path": str(output_path),
                }
            )
            mlflow.log_metrics(
                {
                    "rows_in": summary.rows_in,
                    "rows_out": summary.rows_out,
                    "chunks": summary.chunks,
                }
            )
            # NOTE: from_pandas needs the whole table in memory, which is fine for the
            # kata's small files. For a file larger than memory, log a
            # mlflow.data.meta_dataset.MetaDataset with the file's source and digest.
            input_dataset = mlflow.data.from_pandas(
                pd.read_csv(input_path), source=str(input_path), name=INPUT_DATASET_NAME
            )
            mlflow.log_input(input_dataset, context=INPUT_CONTEXT)

            # TODO(4): Publish the scratch file onto the output with publish_output, and
            #   delete the scratch file in every case, also when publishing raises.
            written = publish_output(scratch_path, output_path, overwrite)
        finally:
            scratch_path.unlink(missing_ok=True)

        # TODO(3): Log the published output CSV as a dataset input too, and return what
        #   the job did.
        predictions_dataset = mlflow.data.from_pandas(
            pd.read_csv(output_path), source=str(output_path), name=PREDICTIONS_DATASET_NAME
        )
        mlflow.log_input(predictions_dataset, context=PREDICTIONS_CONTEXT)

    return BatchJobResult(
        run_id=run.info.run_id,
        model_version=summary.model.version,
        rows_out=summary.rows_out,
        output_written=written,
    )
    # END SOLUTION
