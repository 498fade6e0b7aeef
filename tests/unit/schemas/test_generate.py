"""The JSON Schema files are what schemas.generate makes of schemas/events.py, and that still
refuses wrong events."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest
from jsonschema.exceptions import best_match

from schemas import generate
from schemas.events import SCHEMA_VERSION


def test_the_checked_in_files_are_what_generation_gives() -> None:
    assert generate.stale(generate.HERE) == [], (
        "schemas/*.schema.json differ from schemas/events.py: run python3 -m schemas.generate"
    )


def test_check_lists_the_files_that_differ_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(generate, "HERE", tmp_path)
    assert generate.main([]) == 0
    assert generate.main(["--check"]) == 0
    edited = tmp_path / "rejection.schema.json"
    edited.write_text(edited.read_text().replace('"forgotten",', ""))
    (tmp_path / "case.schema.json").unlink()
    assert generate.main(["--check"]) == 1
    assert generate.stale(tmp_path) == [edited, tmp_path / "case.schema.json"]
    complaints = capsys.readouterr().err.splitlines()
    assert [line.split(" is missing or differs ")[0] for line in complaints] == [
        str(edited),
        str(tmp_path / "case.schema.json"),
    ]
    assert '"forgotten"' not in edited.read_text()
    assert not (tmp_path / "case.schema.json").exists()


COMPLAINT: dict[str, Any] = {
    "event_id": "1800000000000000001:0:kejati-jateng",
    "complaint_id": "1800000000000000001",
    "tweet_id": "1800000000000000001",
    "revision": 0,
    "agency_id": "kejati-jateng",
    "co_addressed": [],
    "author": {
        "id": "42",
        "username": "warga",
        "name": "Warga",
        "verified": True,
        "verified_type": "blue",
    },
    "text": "@kejati_jateng jalan rusak",
    "lang": "in",
    "created_at": "2024-05-10T01:02:03.000Z",
    "conversation_id": "1800000000000000001",
    "in_reply_to_user_id": None,
    "in_reply_to_tweet_id": None,
    "url": "https://x.com/warga/status/1800000000000000001",
    "registry_version": "abc",
    "schema_version": SCHEMA_VERSION,
}
REJECTION: dict[str, Any] = {
    "tweet_id": "1",
    "reason": "retweet",
    "author_id": "42",
    "registry_version": "abc",
    "schema_version": SCHEMA_VERSION,
}
DEAD_LETTER: dict[str, Any] = {
    "error": "not JSON",
    "line": None,
    "source": {"topic": "mentions.raw", "partition": 0, "offset": 7},
    "raw": "{",
    "raw_truncated": False,
    "schema_version": SCHEMA_VERSION,
}
CASE: dict[str, Any] = {
    "case_id": "1800000000000000001",
    "agency_id": "kejati-jateng",
    "citizen_id": "42",
    "opened_at": "2024-05-10T01:02:03.000Z",
    "due_at": "2024-05-16T17:00:00.000Z",
    "posts": ["1800000000000000001"],
    "answers": 0,
    "first_answer_at": None,
    "first_answer_tweet_id": None,
    "working_days_to_answer": None,
    "answered_on_time": None,
    "status": "open",
    "registry_version": "abc",
    "schema_version": SCHEMA_VERSION,
}
VALID = {"complaint": COMPLAINT, "rejection": REJECTION, "dead_letter": DEAD_LETTER, "case": CASE}


def _errors(name: str, event: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft202012Validator(
        generate.schema_of(name), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    # For a nullable field, the error of the non-null branch of its anyOf.
    return [best_match([error]).message for error in validator.iter_errors(event)]


@pytest.mark.parametrize("name", VALID)
def test_the_generated_schema_takes_a_right_event(name: str) -> None:
    assert _errors(name, VALID[name]) == []


@pytest.mark.parametrize(
    ("name", "changes", "error"),
    [
        ("complaint", {"tweet_id": "18e17"}, "does not match '^[0-9]+$'"),
        ("complaint", {"agency_id": "Kejati"}, "does not match"),
        ("complaint", {"revision": -1}, "less than the minimum of 0"),
        ("complaint", {"created_at": "10 May 2024"}, "is not a 'date-time'"),
        ("complaint", {"url": "not a uri"}, "is not a 'uri'"),
        ("complaint", {"source": "x"}, "Additional properties are not allowed"),
        ("complaint", {"author": {**COMPLAINT["author"], "bio": ""}}, "Additional properties"),
        ("complaint", {"text": None}, "None is not of type 'string'"),
        ("rejection", {"reason": "spam"}, "'spam' is not one of"),
        ("rejection", {"schema_version": SCHEMA_VERSION - 1}, "was expected"),
        ("dead_letter", {"line": 0}, "less than the minimum of 1"),
        ("dead_letter", {"source": {"topic": "t", "partition": 0}}, "'offset' is a required"),
        ("case", {"posts": []}, "should be non-empty"),
        ("case", {"due_at": "2024-05-16T17:00:00Z"}, "does not match"),
        ("case", {"status": "closed"}, "is not one of"),
    ],
)
def test_the_generated_schema_refuses_a_wrong_event(
    name: str, changes: dict[str, Any], error: str
) -> None:
    errors = _errors(name, {**VALID[name], **changes})
    assert len(errors) == 1 and error in errors[0], errors


def test_the_generated_schema_refuses_an_event_missing_a_field() -> None:
    complaint = {key: value for key, value in COMPLAINT.items() if key != "lang"}
    assert _errors("complaint", complaint) == ["'lang' is a required property"]
