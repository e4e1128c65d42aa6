"""Write what grading found: a results file per submission, a gradebook and a summary.

A results file has the shape of the Exercism test runner's results.json, version 3: a
top-level ``status`` (pass, fail or error) and ``message``, and per test its ``name``,
``test_code``, ``status``, ``message``, ``output`` and ``task_id``. It is extended with
``score`` and ``max_score`` from the manifest's points, the per-kata scores, the tampering
findings and the protections that applied.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path

from checks.grading.pristine import PristineTrack
from checks.grading.runner import SubmissionGrade

RESULTS_VERSION = 3
RESULTS_FILE = "results.json"
GRADEBOOK_FILE = "gradebook.csv"
SUMMARY_FILE = "summary.md"
# The Exercism format cuts a test's output at 500 characters and appends a notice.
MAX_OUTPUT = 500
TRUNCATION_NOTE = "\n[Output was truncated. Please limit to 500 chars]"


def kata_scores(grade: SubmissionGrade, track: PristineTrack) -> list[dict]:
    """Return each graded kata's outcome, test counts and score.

    A kata earns its points in proportion to the pristine tests that passed.
    """
    entries = []
    for entry in track.katas:
        tests = [test for test in grade.tests if test.kata_id == entry.kata.id]
        passed = sum(test.status == "pass" for test in tests)
        total = len(entry.test_ids)
        score = round(entry.kata.points * passed / total, 2) if total and not grade.error else 0
        entries.append(
            {
                "id": entry.kata.id,
                "outcome": _kata_outcome(tests),
                "passed": passed,
                "total": total,
                "score": score,
                "max_score": entry.kata.points,
            }
        )
    return entries


def results_document(
    grade: SubmissionGrade, track: PristineTrack, protections: dict[str, str]
) -> dict:
    """Return the results file's content for one submission."""
    katas = kata_scores(grade, track)
    by_kata = {entry.kata.id: entry for entry in track.katas}
    tests = []
    for test in grade.tests:
        entry = by_kata[test.kata_id]
        tests.append(
            {
                "name": f"{test.kata_id}::{test.test_id.rsplit('::', 1)[-1]}",
                "test_code": entry.code_of(test.test_id),
                "status": test.status,
                "message": test.message or None,
                "output": _cut_output(test.output),
                "task_id": test.task,
            }
        )
    return {
        "version": RESULTS_VERSION,
        "status": overall_status(grade),
        "message": _overall_message(grade),
        "tests": tests,
        "score": round(sum(entry["score"] for entry in katas), 2),
        "max_score": track.max_score,
        "submission": grade.name,
        "katas": katas,
        "tampering": [asdict(finding) for finding in grade.findings],
        "notes": grade.notes,
        "protections": protections,
    }


def overall_status(grade: SubmissionGrade) -> str:
    """Return pass when every test passed, error when nothing could be graded, else fail."""
    if grade.error or not grade.tests:
        return "error"
    if all(test.status == "pass" for test in grade.tests):
        return "pass"
    if all(test.outcome == "not graded" for test in grade.tests):
        return "error"
    return "fail"


def write_results(path: Path, document: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_suffix(".tmp")
    draft.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    draft.replace(path)


def write_gradebook(path: Path, documents: Iterable[dict], track: PristineTrack) -> None:
    """Write one row per submission: totals, then one score column per kata."""
    kata_ids = [entry.kata.id for entry in track.katas]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["submission", "status", "score", "max_score", "percent", *kata_ids, "tampering"]
        )
        for document in sorted(documents, key=lambda item: item["submission"]):
            scores = {entry["id"]: entry["score"] for entry in document["katas"]}
            maximum = document["max_score"]
            percent = 100 * document["score"] / maximum if maximum else 0
            kinds = sorted({finding["kind"] for finding in document["tampering"]})
            writer.writerow(
                [
                    document["submission"],
                    document["status"],
                    f"{document['score']:g}",
                    document["max_score"],
                    f"{percent:.1f}",
                    *[f"{scores.get(kata_id, 0):g}" for kata_id in kata_ids],
                    ";".join(kinds),
                ]
            )


def summary_markdown(documents: list[dict], protections: dict[str, str]) -> str:
    """Return a Markdown summary of the cohort, fit for a CI job summary."""
    lines = ["# Grading summary", ""]
    lines.append(f"{len(documents)} submission(s) graded.")
    lines.append("")
    lines.append("| Submission | Score | Status | Katas passed | Tampering |")
    lines.append("| --- | ---: | --- | ---: | --- |")
    for document in sorted(documents, key=lambda item: item["submission"]):
        passed = sum(entry["outcome"] == "passed" for entry in document["katas"])
        kinds = ", ".join(sorted({finding["kind"] for finding in document["tampering"]})) or "-"
        lines.append(
            f"| {_cell(document['submission'])} | {document['score']:g} / "
            f"{document['max_score']} | {document['status']} | {passed} / "
            f"{len(document['katas'])} | {kinds} |"
        )
    for document in sorted(documents, key=lambda item: item["submission"]):
        lines += ["", f"## {_cell(document['submission'])}", ""]
        if document["message"]:
            lines += [_cell(document["message"]), ""]
        lines.append("| Kata | Outcome | Tests passed | Score |")
        lines.append("| --- | --- | ---: | ---: |")
        for entry in document["katas"]:
            lines.append(
                f"| {entry['id']} | {entry['outcome']} | {entry['passed']} / {entry['total']} "
                f"| {entry['score']:g} / {entry['max_score']} |"
            )
        for finding in document["tampering"]:
            lines.append("")
            lines.append(
                f"- Tampering ({finding['kind']}): `{finding['path']}`: {_cell(finding['detail'])}"
            )
    lines += ["", "## Protections while grading", ""]
    lines += [f"- {name}: {text}" for name, text in protections.items()]
    return "\n".join(lines) + "\n"


def _kata_outcome(tests: list) -> str:
    outcomes = {test.outcome for test in tests}
    if not tests or outcomes == {"not graded"}:
        return "not graded"
    if "does not import" in outcomes:
        return "does not import"
    if outcomes == {"passed"}:
        return "passed"
    if outcomes == {"not started"}:
        return "not started"
    return "failing"


def _overall_message(grade: SubmissionGrade) -> str | None:
    parts = []
    if grade.error:
        parts.append(grade.error)
    if grade.findings:
        parts.append(
            f"Tampering found ({len(grade.findings)} finding(s)); the score counts only what "
            "the pristine suites award the solution modules."
        )
    parts.extend(grade.notes)
    return "\n".join(parts) or None


def _cut_output(output: str) -> str | None:
    if not output:
        return None
    if len(output) <= MAX_OUTPUT:
        return output
    return output[:MAX_OUTPUT] + TRUNCATION_NOTE


def _cell(text: str) -> str:
    """Make text safe for one Markdown table cell or list line."""
    return " ".join(str(text).split()).replace("|", "\\|")
