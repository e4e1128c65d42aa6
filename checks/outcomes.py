"""Name what happened to a kata test and to a whole kata, in the learner's words."""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum


class Outcome(str, Enum):
    """The result of one kata test, or of a whole kata."""

    PASSED = "passed"
    FAILING = "failing"
    NOT_STARTED = "not started"
    DOES_NOT_IMPORT = "does not import"


def kata_outcome(test_outcomes: Iterable[Outcome]) -> Outcome:
    """Combine a kata's test outcomes into the kata's outcome.

    An import failure outranks everything because no test could judge the code. A kata is
    not started while every test fails on a NotImplementedError, and passed only when every
    test passed.
    """
    outcomes = list(test_outcomes)
    if not outcomes:
        return Outcome.NOT_STARTED
    if Outcome.DOES_NOT_IMPORT in outcomes:
        return Outcome.DOES_NOT_IMPORT
    if all(outcome is Outcome.PASSED for outcome in outcomes):
        return Outcome.PASSED
    if all(outcome is Outcome.NOT_STARTED for outcome in outcomes):
        return Outcome.NOT_STARTED
    return Outcome.FAILING
