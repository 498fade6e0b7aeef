"""The JSON Schema files under schemas/ match the records in schemas/events.py and the events
the router really emits."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, get_args

import jsonschema
import pytest

from agents.core.cases import CaseBook
from agents.core.forget import Forgotten, forget_request, withdrawal
from agents.core.registry import load_registry
from agents.core.route import Router
from agents.core.verify import VerificationPolicy
from agents.core.workdays import WorkCalendar
from schemas.events import (
    SCHEMA_VERSION,
    Author,
    ForgetKind,
    RejectionReason,
)
from schemas.generate import RECORDS
from schemas.topics import CASES_TOPIC, DEAD_LETTER_TOPIC, REJECTED_TOPIC

ROOT = Path(__file__).resolve().parents[3]
SCHEMAS = ROOT / "schemas"
ROUTED = {"complaint", "rejection", "dead_letter", "case"}
"""The records the router emits."""


def _schema(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((SCHEMAS / f"{name}.schema.json").read_text())
    return schema


@pytest.mark.parametrize("name", RECORDS)
def test_schema_is_valid_draft_2020_12(name: str) -> None:
    jsonschema.Draft202012Validator.check_schema(_schema(name))


@pytest.mark.parametrize(("name", "record"), RECORDS.items())
def test_schema_lists_exactly_the_record_fields(name: str, record: type) -> None:
    schema = _schema(name)
    fields = set(record.__annotations__)
    assert set(schema["properties"]) == fields
    assert set(schema["required"]) == fields
    assert schema["additionalProperties"] is False
    assert schema["properties"]["schema_version"] == {"type": "integer", "const": SCHEMA_VERSION}


def test_author_schema_lists_exactly_the_author_fields() -> None:
    complaint = _schema("complaint")
    assert complaint["properties"]["author"] == {"$ref": "#/$defs/Author"}
    author = complaint["$defs"]["Author"]
    assert set(author["properties"]) == set(Author.__annotations__)
    assert set(author["required"]) == set(Author.__annotations__)
    assert author["additionalProperties"] is False


# The schemas list a Literal's values sorted, as msgspec writes them.
def test_rejection_reasons_match_the_code() -> None:
    reasons = _schema("rejection")["properties"]["reason"]["enum"]
    assert reasons == sorted(get_args(RejectionReason))


def test_forget_kinds_match_the_code() -> None:
    kinds = _schema("forget_request")["properties"]["kind"]["enum"]
    assert kinds == sorted(get_args(ForgetKind))


def _validator(name: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(
        _schema(name), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def test_formats_used_by_the_schemas_are_checked() -> None:
    checkers = jsonschema.Draft202012Validator.FORMAT_CHECKER.checkers
    assert {"date-time", "uri"} <= set(checkers)


def test_every_event_of_the_sample_and_real_payloads_validates() -> None:
    registry = load_registry(ROOT / "deploy" / "agencies.yaml")
    now = datetime(2024, 5, 10, tzinfo=UTC)
    cases = CaseBook(registry, WorkCalendar(), lambda: now)
    router = Router(registry, VerificationPolicy(), seen=set(), cases=cases)
    validators = {name: _validator(name) for name in RECORDS}
    inputs = [ROOT / "deploy" / "samples" / "mentions.jsonl"]
    inputs += sorted((ROOT / "tests" / "fixtures" / "real").glob("*.jsonl"))
    seen_topics = set()
    forgotten = Forgotten()
    for path in inputs:
        for number, raw in enumerate(path.read_bytes().splitlines(), start=1):
            for topic, _key, event in router.route_line(raw, number):
                name = {
                    DEAD_LETTER_TOPIC: "dead_letter",
                    REJECTED_TOPIC: "rejection",
                    CASES_TOPIC: "case",
                }.get(topic, "complaint")
                validators[name].validate(event)
                seen_topics.add(name)
                if name == "complaint" and not forgotten:
                    complaint = dict(event or {})
                    request = forget_request("post", complaint["tweet_id"], "deleted", now)
                    _validator("forget_request").validate(request)
                    forgotten.add(request)
                    assert forgotten.of_complaint(complaint) == request
                    notice = withdrawal(complaint, request, "2024-05-10T00:00:00.000Z")
                    _validator("withdrawal").validate(notice)
    assert seen_topics == ROUTED
    assert forgotten
