"""Every known-wrong solution under tests/mutants is rejected, with a message that names it."""

from __future__ import annotations

import pytest

from tests.suites import kata_ids, mutants

MUTANTS = mutants()


@pytest.mark.parametrize("mutant", MUTANTS, ids=[mutant.name for mutant in MUTANTS])
def test_mutant_fails_named_tests(suite_reports, mutant):
    report = suite_reports[mutant.name]
    matches = {name: report.matching(mutant.kata_id, name) for name in mutant.rejected_by}

    unknown = [name for name, tests in matches.items() if not tests]
    passing = [
        name for name, tests in matches.items() if any(t["outcome"] == "passed" for t in tests)
    ]

    assert report.katas, f"The run of {mutant.name} reported no tests.\n{report.output[-3000:]}"
    assert not unknown, f"{mutant.path.name} names tests the suite does not have: {unknown}"
    assert not passing, f"{mutant.path.name} ({mutant.mistake}) passes {passing}"


@pytest.mark.parametrize("mutant", MUTANTS, ids=[mutant.name for mutant in MUTANTS])
def test_mutant_failure_names_mistake(suite_reports, mutant):
    report = suite_reports[mutant.name]

    messages = [
        test["message"]
        for name in mutant.rejected_by
        for test in report.matching(mutant.kata_id, name)
    ]

    assert any(mutant.message.lower() in message.lower() for message in messages), (
        f"No failure of {mutant.path.name} says {mutant.message!r}. Messages:\n"
        + "\n---\n".join(messages)
    )


@pytest.mark.parametrize("kata_id", kata_ids())
def test_kata_has_three_mutants(kata_id):
    count = sum(mutant.kata_id == kata_id for mutant in MUTANTS)

    assert count >= 3, f"{kata_id} has {count} mutants under tests/mutants; it needs three."
