"""Kata phase2/realtime_prediction: a FastAPI service that serves the model behind an alias.

Fill in the functions below, task by task, as the kata's README describes. Run the tests with
``pytest katas/phase2/realtime_prediction``. The tests point MLflow at a throwaway store that
contains the model registry too, so do not set a tracking or registry URI here.

To run the service yourself, with a registry that has a model ``iris-species`` whose
``champion`` alias is set::

    uvicorn --factory realtime_prediction:app_for_champion --host 127.0.0.1 --port 8000
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
    raise NotImplementedError("Write TODO(1) of load_served_model.")


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
        raise NotImplementedError("Write TODO(1) of the lifespan in create_app.")
        yield

    app = FastAPI(title=f"{model_name} predictions", lifespan=lifespan)

    @app.post("/predict")
    def predict(request: PredictRequest) -> PredictResponse:
        # TODO(2): Predict with the model that the lifespan loaded: build a DataFrame with
        #   one row per request row and the columns FEATURE_NAMES, and return the predicted
        #   species as strings with the served model's name and version.
        raise NotImplementedError("Write TODO(2) of the /predict endpoint in create_app.")

    @app.get("/health")
    def health() -> HealthResponse:
        # TODO(3): Report status "ok", the served model's name, version and alias, and when
        #   it was loaded.
        raise NotImplementedError("Write TODO(3) of the /health endpoint in create_app.")

    @app.post("/reload")
    def reload() -> ReloadResponse:
        # TODO(4): Look the alias up again. If it points at the served version, keep the
        #   loaded model. Otherwise load the new version with load_served_model and swap it
        #   into app.state.served. If anything fails, log the error, keep serving the old
        #   model and raise an HTTPException with status RELOAD_FAILED_STATUS.
        raise NotImplementedError("Write TODO(4) of the /reload endpoint in create_app.")

    return app


def app_for_champion() -> FastAPI:
    """Build the app for the ``iris-species`` model's champion, for ``uvicorn --factory``."""
    return create_app("iris-species")
