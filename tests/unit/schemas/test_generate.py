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
from tests.unit.agents.factories import (
    KEJATI_HANDLE,
    KEJATI_ID,
    make_case,
    make_post,
    make_router,
    stream_line,
)


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


def _emitted() -> dict[str, dict[str, Any]]:
    """One event of each record the router emits, as it emits them."""
    router = make_router()
    post = make_post("@KejatiJateng jalan rusak", mentions=[(KEJATI_ID, KEJATI_HANDLE)])
    [(_, _, complaint)] = router.route_line(stream_line(post), 1)
    [(_, _, rejection)] = router.route_line(stream_line(post), 2)  # the same post: a duplicate
    [(_, _, dead_letter)] = router.route_line(b"{", 3)
    events = {"complaint": complaint, "rejection": rejection, "dead_letter": dead_letter}
    return {
        **{name: dict(event or {}) for name, event in events.items()},
        "case": dict(make_case()),
    }


VALID = _emitted()
COMPLAINT = VALID["complaint"]


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
