"""Every known-wrong solution under tests/mutants is rejected, with a message that names it."""

from __future__ import annotations

import pytest

from tests.suites import kata_ids, mutants

MUTANTS = mutants()


@pytest.mark.parametrize("mutant", MUTANTS, ids=[mutant.name for mutant in MUTANTS])
def test_mutant_fails_named_tests(suite_reports, mutant):
    report = suite_reports[mutant.name]
    tests = report.tests(mutant.kata_id)

    unknown = [name for name in mutant.rejected_by if name not in tests]
    passing = [
        name for name in mutant.rejected_by if tests.get(name, {}).get("outcome") == "passed"
    ]

    assert tests, f"The run of {mutant.name} reported no tests.\n{report.output[-3000:]}"
    assert not unknown, f"{mutant.path.name} names tests the suite does not have: {unknown}"
    assert not passing, f"{mutant.path.name} ({mutant.mistake}) passes {passing}"


@pytest.mark.parametrize("mutant", MUTANTS, ids=[mutant.name for mutant in MUTANTS])
def test_mutant_failure_names_mistake(suite_reports, mutant):
    tests = suite_reports[mutant.name].tests(mutant.kata_id)

    messages = [tests[name]["message"] for name in mutant.rejected_by if name in tests]

    assert any(mutant.message.lower() in message.lower() for message in messages), (
        f"No failure of {mutant.path.name} says {mutant.message!r}. Messages:\n"
        + "\n---\n".join(messages)
    )


@pytest.mark.parametrize("kata_id", kata_ids())
def test_kata_has_three_mutants(kata_id):
    count = sum(mutant.kata_id == kata_id for mutant in MUTANTS)

    assert count >= 3, f"{kata_id} has {count} mutants under tests/mutants; it needs three."
