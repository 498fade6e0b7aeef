"""`streams.route_file`: `aduan route` over a file; the cases it ends with do not depend on the
order of the file's lines."""

from __future__ import annotations

import io
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from agents.core.cases import CaseBook
from agents.core.registry import load_registry
from agents.core.route import Router
from agents.core.verify import VerificationPolicy
from agents.core.workdays import WorkCalendar
from streams.route_file import route_file

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = ROOT / "deploy" / "samples" / "mentions.jsonl"
REGISTRY = load_registry(ROOT / "deploy" / "agencies.yaml")
NOW = datetime(2024, 5, 20, tzinfo=UTC)


def final_cases(lines: list[bytes]) -> dict[str, Any]:
    router = Router(
        REGISTRY, VerificationPolicy(), set(), CaseBook(REGISTRY, WorkCalendar(), lambda: NOW)
    )
    sink = io.BytesIO()
    route_file(router, io.BytesIO(b"".join(lines)), sink)
    cases: dict[str, Any] = {}
    for line in sink.getvalue().splitlines():
        routed = orjson.loads(line)
        if routed["topic"] == "cases":
            cases[routed["key"]] = routed["value"]
    return {key: case for key, case in cases.items() if case is not None}


def test_a_file_and_a_shuffled_copy_end_in_the_same_cases() -> None:
    lines = SAMPLE.read_bytes().splitlines(keepends=True)
    expected = final_cases(lines)
    statuses = {case["status"] for case in expected.values()}
    assert statuses == {"answered", "overdue"}, "the sample should hold both"
    assert any(len(case["posts"]) > 1 for case in expected.values()), "and follow-ups"
    for seed in range(3):
        shuffled = list(lines)
        random.Random(seed).shuffle(shuffled)
        assert final_cases(shuffled) == expected
