"""`streams.forget.requests`: a record of `aduan.forget` is a request only if it reads as one."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from agents.core.forget import forget_request
from streams.forget.requests import _parse

REQUEST = forget_request(
    "user", "42", "citizen request 2026-117", datetime(2026, 12, 7, tzinfo=UTC)
)


def test_a_recorded_request_reads_back_as_it_was_made() -> None:
    assert _parse(orjson.dumps(REQUEST), 0) == REQUEST


@pytest.mark.parametrize(
    "record",
    [
        None,
        b"not json",
        orjson.dumps([REQUEST]),
        orjson.dumps({k: v for k, v in REQUEST.items() if k != "reason"}),
        orjson.dumps({**REQUEST, "id": 42}),
        orjson.dumps({**REQUEST, "kind": "thread"}),
        orjson.dumps({**REQUEST, "reason": ""}),
        orjson.dumps({**REQUEST, "requested_at": "yesterday"}),
    ],
)
def test_a_record_that_is_no_request_is_logged_and_skipped(
    record: bytes | None, caplog: pytest.LogCaptureFixture
) -> None:
    assert _parse(record, 7) is None
    assert "ignoring record aduan.forget@7: not a request to forget" in caplog.text
