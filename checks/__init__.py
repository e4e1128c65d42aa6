"""The kata harness: a pytest plugin, the MLflow sandbox, state helpers and the ``katas`` CLI."""

__version__ = "0.1.0"
