"""Mutant: the lifespan catches the failed load and starts the app without a model.

Rejected by: test_app_refuses_to_start_without_alias
Message: The app started although
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Literal

import mlflow
import pandas as pd
from fastapi import FastAPI, HTTPException
from mlflow.pyfunc import PyFuncModel
from mlflow.tracking import MlflowClient
from pydantic import BaseModel, ConfigDict, Field

logger = logging.getLogger(__name__)

# The model input columns, in the order of the model's signature (task 2).
FEATURE_NAMES = ("sepal_length", "sepal_width", "petal_length", "petal_width")

# The largest measurement a request may carry, in centimetres. The largest in scikit-learn's
# iris data is 7.9 cm, so a larger value is most likely a value in millimetres (task 2).
MAX_CENTIMETRES = 20.0

# The maximum number of rows in one /predict request (task 2).
MAX_BATCH_ROWS = 100

# The HTTP status of a POST /reload that could not load the version behind the alias (task 4).
RELOAD_FAILED_STATUS = 503


# -- the request and response bodies (given code) -------------------------------------------


class IrisFeatures(BaseModel):
    """One flower's four measurements, in centimetres.

    Given code: read it as part of task 2. FastAPI validates every request body against it
    before your endpoint runs, and responds with 422 Unprocessable Entity when a row does not
    fit:

    - every field is required, and strict mode accepts only JSON numbers (``"5.1"`` and
      ``true`` are rejected, not converted);
    - every value must be above 0 and at most MAX_CENTIMETRES;
    - ``extra="forbid"`` rejects a row with a field that is not listed here, such as a
      misspelt ``petal_widht``, instead of silently ignoring it.
    """

    model_config = ConfigDict(extra="forbid", strict=True)

    sepal_length: float = Field(gt=0, le=MAX_CENTIMETRES)
    sepal_width: float = Field(gt=0, le=MAX_CENTIMETRES)
    petal_length: float = Field(gt=0, le=MAX_CENTIMETRES)
    petal_width: float = Field(gt=0, le=MAX_CENTIMETRES)


class PredictRequest(BaseModel):
    """The body of POST /predict: one row, or a batch of up to MAX_BATCH_ROWS rows.

    Given code. An empty list, a longer list and a row outside the list are rejected with 422.
    Example: ``{"rows": [{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4,
    "petal_width": 0.2}]}``.
    """

    model_config = ConfigDict(extra="forbid")

    rows: list[IrisFeatures] = Field(min_length=1, max_length=MAX_BATCH_ROWS)


class PredictResponse(BaseModel):
    """The body that POST /predict returns: one species per row, and the model that chose it."""

    predictions: list[str]
    model_name: str
    model_version: str


class HealthResponse(BaseModel):
    """The body that GET /health returns: the model being served and when it was loaded."""

    status: Literal["ok"]
    model_name: str
    model_version: str
    alias: str
    loaded_at: datetime


class ReloadResponse(BaseModel):
    """The body that POST /reload returns after it looked up the alias again."""

    model_name: str
    model_version: str
    previous_version: str
    reloaded: bool


@dataclass(frozen=True)
class ServedModel:
    """A loaded model version together with what the service reports about it.

    The dataclass is frozen: a reload builds a new one and swaps it in whole, so no request
    can pair the model of one version with the number of another.
    """

    name: str
    version: str
    alias: str
    model: PyFuncModel
    loaded_at: datetime


# -- task 1: load the version behind the alias ---------------------------------------------


def load_served_model(model_name: str, alias: str) -> ServedModel:
    """Load the registered model version that ``alias`` points at now.

    Args:
        model_name: A registered model's name.
        alias: One of its aliases, such as ``"champion"``.

    Returns:
        A ServedModel with the version number as a string (``"3"``), the pyfunc model loaded
        from ``models:/<model_name>/<version>`` and the time of loading in UTC.

    Raises:
        mlflow.exceptions.MlflowException: If the model or the alias does not exist, or the
            version's files cannot be loaded.
    """
    # TODO(1): Ask the registry which version the alias points at with
    #   MlflowClient().get_model_version_by_alias, load models:/<name>/<version> with
    #   mlflow.pyfunc.load_model, and return a ServedModel stamped with the current UTC time.
    version = MlflowClient().get_model_version_by_alias(model_name, alias).version
    # Loading by version number, not by models:/<name>@<alias>, makes sure the number the
    # service reports is the version it loaded, even if the alias moves in between.
    model = mlflow.pyfunc.load_model(f"models:/{model_name}/{version}")
    return ServedModel(
        name=model_name,
        version=str(version),
        alias=alias,
        model=model,
        loaded_at=datetime.now(timezone.utc),
    )


# -- the app -------------------------------------------------------------------------------


def create_app(model_name: str, alias: str = "champion") -> FastAPI:
    """Build a FastAPI app that serves the version of ``model_name`` behind ``alias``.

    Creating the app loads nothing: the model is loaded once when the app starts (its
    lifespan), and the app does not start when that fails. The endpoints:

    - ``POST /predict`` takes a PredictRequest and returns a PredictResponse (task 2);
    - ``GET /health`` returns a HealthResponse (task 3);
    - ``POST /reload`` looks the alias up again and, when it has moved, loads and serves the
      new version. It returns a ReloadResponse, or status RELOAD_FAILED_STATUS when the new
      version cannot be loaded, and then the old one keeps serving (task 4).

    Args:
        model_name: The registered model to serve.
        alias: The alias that names the version to serve.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # TODO(1): Before the app takes its first request, load the model behind the alias
        #   with load_served_model and keep it in app.state.served.
        try:
            app.state.served = load_served_model(model_name, alias)
        except Exception:
            logger.exception("Could not load %s@%s", model_name, alias)
            app.state.served = None
        yield

    app = FastAPI(title=f"{model_name} predictions", lifespan=lifespan)

    @app.post("/predict")
    def predict(request: PredictRequest) -> PredictResponse:
        # TODO(2): Predict with the model that the lifespan loaded: build a DataFrame with
        #   one row per request row and the columns FEATURE_NAMES, and return the predicted
        #   species as strings with the served model's name and version.
        # Read app.state.served once, so a reload during this request cannot pair one
        # version's predictions with another version's number.
        served: ServedModel = app.state.served
        frame = pd.DataFrame([row.model_dump() for row in request.rows], columns=FEATURE_NAMES)
        predictions = served.model.predict(frame)
        return PredictResponse(
            predictions=[str(label) for label in predictions],
            model_name=served.name,
            model_version=served.version,
        )

    @app.get("/health")
    def health() -> HealthResponse:
        # TODO(3): Report status "ok", the served model's name, version and alias, and when
        #   it was loaded.
        served: ServedModel = app.state.served
        return HealthResponse(
            status="ok",
            model_name=served.name,
            model_version=served.version,
            alias=served.alias,
            loaded_at=served.loaded_at,
        )

    @app.post("/reload")
    def reload() -> ReloadResponse:
        # TODO(4): Look the alias up again. If it points at the served version, keep the
        #   loaded model. Otherwise load the new version with load_served_model and swap it
        #   into app.state.served. If anything fails, log the error, keep serving the old
        #   model and raise an HTTPException with status RELOAD_FAILED_STATUS.
        current: ServedModel = app.state.served
        try:
            version = MlflowClient().get_model_version_by_alias(model_name, alias).version
            if str(version) == current.version:
                # The alias has not moved. Looking it up is cheap, loading the files is not.
                latest = current
            else:
                latest = load_served_model(model_name, alias)
        except Exception as error:
            # Whatever went wrong, the loaded model still works, so the service keeps it.
            logger.exception("Reload of %s@%s failed", model_name, alias)
            raise HTTPException(
                status_code=RELOAD_FAILED_STATUS,
                detail=(
                    f"Could not reload {model_name}@{alias}: {error}. "
                    f"Still serving version {current.version}."
                ),
            ) from error
        app.state.served = latest
        if latest is not current:
            logger.info(
                "Reloaded %s: version %s -> %s", model_name, current.version, latest.version
            )
        return ReloadResponse(
            model_name=latest.name,
            model_version=latest.version,
            previous_version=current.version,
            reloaded=latest is not current,
        )

    return app


def app_for_champion() -> FastAPI:
    """Build the app for the ``iris-species`` model's champion, for ``uvicorn --factory``."""
    return create_app("iris-species")
