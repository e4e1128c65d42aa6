"""Mutant: the model is logged without code_paths, so the real server cannot import its class.

Rejected by: test_real_server_serves_champion, test_client_queries_real_server
Message: ModuleNotFoundError: No module named 'model_serving'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.models import infer_signature
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

# The alias that marks the registered version to serve (task 2).
CHAMPION_ALIAS = "champion"

# The column with the predicted class, and the prefix of one probability column per class
# (task 1).
LABEL_COLUMN = "label"
PROBABILITY_PREFIX = "probability_"

# How many training rows make the sample for the signature and the input example (task 2).
SAMPLE_ROWS = 5


@dataclass(frozen=True)
class IrisSplits:
    """Iris split into training and test sets, with species names as labels."""

    X_train: pd.DataFrame
    y_train: pd.Series
    X_test: pd.DataFrame
    y_test: pd.Series


def load_iris_splits(random_state: int = 42) -> IrisSplits:
    """Split iris 70/30 into training and test sets, stratified by species.

    Given code: use it as it is. The labels are species names (``setosa``, ``versicolor``,
    ``virginica``), so the served predictions read as names, not numbers.
    """
    iris = load_iris(as_frame=True)
    species = iris.target.map(dict(enumerate(iris.target_names))).rename("species")
    X_train, X_test, y_train, y_test = train_test_split(
        iris.data, species, test_size=0.3, stratify=species, random_state=random_state
    )
    return IrisSplits(X_train, y_train, X_test, y_test)


def train_classifier(splits: IrisSplits, C: float = 1.0) -> LogisticRegression:
    """Fit a logistic regression with inverse regularization strength ``C``.

    Given code: use it as it is.
    """
    return LogisticRegression(C=C, max_iter=1000).fit(splits.X_train, splits.y_train)


class ClassifierWithProbabilities(mlflow.pyfunc.PythonModel):
    """A pyfunc model that returns a classifier's label and class probabilities per row.

    Its output has the column ``label`` with the predicted class, then one column
    ``probability_<class>`` per class of the classifier, in the order of ``classes_``.
    """

    def __init__(self, classifier: Any) -> None:
        # Given code. Any fitted scikit-learn classifier with predict_proba and classes_.
        self.classifier = classifier

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        """Return one row per input row: the predicted label and each class's probability.

        Args:
            context: The PythonModelContext that MLflow passes in; this model needs nothing
                from it, and tests pass None.
            model_input: The feature columns the classifier was trained on.
            params: Inference params from the request; this model takes none.

        Example:
            >>> model.predict(None, splits.X_test.head(1))  # doctest: +SKIP
                label  probability_setosa  probability_versicolor  probability_virginica
            0  setosa            0.974812                0.025188           7.8e-08
        """
        # BEGIN SOLUTION: Write TODO(1) of ClassifierWithProbabilities.predict.
        # TODO(1): Compute the class probabilities of every row, and return a DataFrame with
        #   the most probable class as "label" and one "probability_<class>" column per class.
        probabilities = self.classifier.predict_proba(model_input)
        classes = list(self.classifier.classes_)
        output = pd.DataFrame(
            {LABEL_COLUMN: [classes[index] for index in probabilities.argmax(axis=1)]},
            index=model_input.index,
        )
        for position, name in enumerate(classes):
            output[f"{PROBABILITY_PREFIX}{name}"] = probabilities[:, position]
        return output
        # END SOLUTION


def publish_champion(model_name: str, C: float = 1.0, random_state: int = 42) -> int:
    """Log the wrapped classifier as a new version of ``model_name`` and make it the champion.

    Args:
        model_name: The registered model to add a version to; created if missing.
        C: Inverse regularization strength of the logistic regression.
        random_state: Seed of the data split.

    Returns:
        The number of the new model version, which:

        - wraps the classifier in ``ClassifierWithProbabilities``;
        - has a signature inferred from ``SAMPLE_ROWS`` training rows and the model's output
          on them (the four feature columns as doubles; ``label`` and the probabilities);
        - has those rows as its input example;
        - carries this module as code, so a scoring server in another process can import
          ``ClassifierWithProbabilities``;
        - carries the alias ``champion``.
    """
    splits = load_iris_splits(random_state)
    model = ClassifierWithProbabilities(train_classifier(splits, C))
    sample = splits.X_train.head(SAMPLE_ROWS)

    # BEGIN SOLUTION: Write TODO(2) of publish_champion.
    # TODO(2): Infer the signature from the sample and the model's prediction for it.
    # The signature is what makes the scoring server reject a request with a missing column
    # or text in a number column, before the request reaches the model.
    signature = infer_signature(sample, model.predict(None, sample))

    # TODO(2): In a run, log the model with the signature, the sample as input example and
    #   this file as code, and register it under model_name.
    with mlflow.start_run():
        model_info = mlflow.pyfunc.log_model(
            name="model",
            python_model=model,
            signature=signature,
            input_example=sample,
            # MLflow pickles the model, and the pickle refers to this module by name. The
            # scoring server runs in another process, which can import the module only if
            # the file travels with the model.
            registered_model_name=model_name,
        )

    # TODO(2): Point the champion alias at the new version and return its number.
    version = model_info.registered_model_version
    MlflowClient().set_registered_model_alias(model_name, CHAMPION_ALIAS, str(version))
    return int(version)
    # END SOLUTION


def dataframe_split_payload(features: pd.DataFrame) -> dict[str, Any]:
    """Build an ``/invocations`` request body in the ``dataframe_split`` shape.

    Returns:
        ``{"dataframe_split": {"columns": [...], "data": [[...], ...]}}``: the column names,
        and one list of values per row in column order, all plain JSON values.
    """
    # BEGIN SOLUTION: Write TODO(3) of dataframe_split_payload.
    # TODO(3): Put the column names and the rows' values under "dataframe_split".
    return {
        "dataframe_split": {
            "columns": [str(column) for column in features.columns],
            "data": features.to_numpy().tolist(),
        }
    }
    # END SOLUTION


def inputs_payload(features: pd.DataFrame) -> dict[str, Any]:
    """Build an ``/invocations`` request body in the ``inputs`` shape, column by column.

    Returns:
        ``{"inputs": {"<column>": [value, ...], ...}}``: each column name mapped to its
        values in row order, all plain JSON values.
    """
    # BEGIN SOLUTION: Write TODO(3) of inputs_payload.
    # TODO(3): Map each column name to the list of its values under "inputs".
    return {"inputs": {str(column): features[column].tolist() for column in features.columns}}
    # END SOLUTION


class ScoringServerError(Exception):
    """Raised when a scoring server responds to a request with an HTTP error status.

    Given code. ``error_code`` and ``message`` are the fields of MLflow's JSON error body,
    such as ``BAD_REQUEST`` and the reason the input was rejected.
    """

    def __init__(self, status_code: int, error_code: str, message: str) -> None:
        super().__init__(
            f"The scoring server rejected the request with HTTP {status_code} "
            f"({error_code}): {message}"
        )
        self.status_code = status_code
        self.error_code = error_code
        self.message = message


def raise_for_error(response: httpx.Response) -> None:
    """Raise ScoringServerError if ``response`` has a 4xx or 5xx status; else do nothing.

    MLflow's scoring server sends errors as JSON with ``error_code`` and ``message``. A body
    that is not such JSON (a proxy's error page, say) becomes the message as it is, with the
    error code ``HTTP_<status>``.
    """
    # BEGIN SOLUTION: Write TODO(4) of raise_for_error.
    # TODO(4): For an error status, read error_code and message from the JSON body (or use
    #   the body's text) and raise ScoringServerError with them.
    if not response.is_error:
        return
    error_code = f"HTTP_{response.status_code}"
    message = response.text
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and "message" in body:
        error_code = str(body.get("error_code", error_code))
        message = str(body["message"])
    raise ScoringServerError(response.status_code, error_code, message)
    # END SOLUTION


class ScoringClient:
    """Query an MLflow scoring server through an ``httpx.Client``.

    The client's ``base_url`` names the server, as in
    ``httpx.Client(base_url="http://127.0.0.1:5000")``. Starlette's ``TestClient`` is an
    ``httpx.Client`` too, so the same code queries an app in the same process.
    """

    def __init__(self, http: httpx.Client) -> None:
        # Given code.
        self.http = http

    def is_healthy(self) -> bool:
        """Return True if ``GET /ping`` returns status 200, and False for any other status."""
        # BEGIN SOLUTION: Write TODO(4) of ScoringClient.is_healthy.
        # TODO(4): Send GET /ping. The server is healthy when the status is 200.
        return self.http.get("/ping").status_code == 200
        # END SOLUTION

    def mlflow_version(self) -> str:
        """Return the MLflow version that ``GET /version`` reports, such as ``3.17.2``."""
        # BEGIN SOLUTION: Write TODO(4) of ScoringClient.mlflow_version.
        # TODO(4): Send GET /version, raise for an error status, and return the body's text.
        response = self.http.get("/version")
        raise_for_error(response)
        return response.text.strip()
        # END SOLUTION

    def predict(self, payload: dict[str, Any]) -> pd.DataFrame:
        """Send ``payload`` to ``POST /invocations`` and return the predictions.

        Returns:
            A DataFrame built from the ``predictions`` field of the response: one row per
            input row, with the model's output columns.

        Raises:
            ScoringServerError: the server responded with a 4xx or 5xx status, for example
                400 when the input does not match the model's signature.
        """
        # BEGIN SOLUTION: Write TODO(4) of ScoringClient.predict.
        # TODO(4): Post the payload as JSON, raise for an error status, and turn the
        #   "predictions" field into a DataFrame.
        response = self.http.post("/invocations", json=payload)
        raise_for_error(response)
        return pd.DataFrame(response.json()["predictions"])
        # END SOLUTION
