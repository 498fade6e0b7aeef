"""What `aduan deliver` sends: the webhook body and event id of a Kafka record, the signature, and
the dead letter of an event it gave up on. Pure functions (docs/webhooks.md for the receiver's
side).

The signature follows the scheme Stripe and GitHub use: `Aduan-Signature: t=<unix seconds>,
v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`, signed again at each attempt, so that a receiver
can refuse old requests replayed to it."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol, TypedDict

import orjson

from schemas.events import SCHEMA_VERSION, Located, Source, source_of
from schemas.topics import CASES_TOPIC, COMPLAINT_TOPIC_PREFIX, UNROUTED

EventType = Literal["complaint", "withdrawal", "case", "case_removed"]
DeadLetterReason = Literal["refused", "retries_exhausted", "backlog_full"]
"""`refused`: the endpoint answered with a status that retrying does not change (a redirect, a
client error other than 408 and 429); `retries_exhausted`: ADUAN_WEBHOOK_RETRY_SECONDS passed;
`backlog_full`: not attempted, read while the endpoint failed with `lanes.LANE_BACKLOG` events of
its agency already waiting."""

SIGNATURE_HEADER = "Aduan-Signature"
EVENT_ID_HEADER = "Aduan-Event-Id"
TOLERANCE_SECONDS = 300
"""How old a signature's timestamp a receiver should accept, as Stripe's libraries do."""
RESPONSE_KEPT = 1024
"""Bytes of an endpoint's answer a dead letter keeps: enough for an error message, no more."""


class Record(Located, Protocol):
    """A Kafka record as aiokafka gives it."""

    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...
    @property
    def timestamp(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Delivery:
    """One event for one agency's webhook, with where it was read."""

    agency_id: str
    type: EventType
    event_id: str
    body: bytes
    source: Source
    timestamp_ms: int
    """The Kafka record's timestamp: delivery lag is measured from it."""


def delivery_of(record: Record) -> Delivery | None:
    """The webhook delivery of a record of a complaint topic or `cases`; None for what no agency
    receives (complaints.unrouted). Raises ValueError on a record aduan did not write."""
    topic, offset, value = record.topic, record.offset, record.value
    where = f"{topic}[{record.partition}]@{offset}"
    try:
        if topic == CASES_TOPIC:
            case_key = (record.key or b"").decode("utf-8")
            agency, case_id = case_key.split(":", 1)
            event_id = f"case:{case_key}:{offset}"
            if value is None:  # a tombstone: the case was merged into another of its thread
                kind: EventType = "case_removed"
                data: object = {"agency_id": agency, "case_id": case_id}
            else:
                kind, data = "case", orjson.loads(value)
        else:
            agency = topic.removeprefix(COMPLAINT_TOPIC_PREFIX)
            event = orjson.loads(value or b"null")
            event_id = event["event_id"]
            kind, data = ("withdrawal" if "withdrawn_at" in event else "complaint"), event
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{where} is not an event aduan wrote ({type(exc).__name__})") from None
    if agency == UNROUTED:
        return None
    if not agency or not isinstance(event_id, str):
        raise ValueError(f"{where} names no agency or no event id")
    body = orjson.dumps({"type": kind, "id": event_id, "data": data})
    return Delivery(agency, kind, event_id, body, source_of(record), record.timestamp)


def sign(secret: bytes, body: bytes, timestamp: int) -> str:
    """The `Aduan-Signature` header's value for `body` sent at `timestamp` (Unix seconds)."""
    return f"t={timestamp},v1={_digest(secret, body, str(timestamp))}"


def verify(
    secret: bytes, body: bytes, header: str, now: float, tolerance: float = TOLERANCE_SECONDS
) -> bool:
    """Whether `header` signs `body` with `secret` at a time within `tolerance` of `now`: what a
    receiver checks. Any of several `v1` values may match (a receiver rotating secrets)."""
    fields = [part.strip().partition("=") for part in header.split(",")]
    stamps = [value for name, _, value in fields if name == "t"]
    if len(stamps) != 1 or not stamps[0].isdigit() or abs(now - int(stamps[0])) > tolerance:
        return False
    expected = _digest(secret, body, stamps[0])
    return any(name == "v1" and hmac.compare_digest(value, expected) for name, _, value in fields)


def _digest(secret: bytes, body: bytes, timestamp: str) -> str:
    return hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


class WebhookDeadLetter(TypedDict):
    """An event `aduan deliver` gave up on, on topic `webhooks.dlq`, key `<agency>:<event id>`."""

    agency_id: str
    url: str
    event: object
    """The body that was POSTed: type, id and data."""
    source: Source
    reason: DeadLetterReason
    error: str
    """The last attempt's failure in words: `HTTP 400`, a timeout, a refused connection."""
    status: int | None
    """The last answer's HTTP status; None when there was no answer."""
    response: str
    """The start of the last answer's body (invalid UTF-8 replaced), at most `RESPONSE_KEPT`
    bytes of it."""
    response_truncated: bool
    attempts: int
    failed_at: str
    schema_version: int


def dead_letter(
    delivery: Delivery,
    url: str,
    *,
    reason: DeadLetterReason,
    error: str,
    status: int | None,
    response: bytes,
    attempts: int,
    failed_at: datetime,
) -> tuple[bytes, bytes]:
    """The key and value of `delivery`'s dead letter; `response` is cut to `RESPONSE_KEPT`."""
    letter: WebhookDeadLetter = {
        "agency_id": delivery.agency_id,
        "url": url,
        "event": orjson.Fragment(delivery.body),
        "source": delivery.source,
        "reason": reason,
        "error": error,
        "status": status,
        "response": response[:RESPONSE_KEPT].decode("utf-8", errors="replace"),
        "response_truncated": len(response) > RESPONSE_KEPT,
        "attempts": attempts,
        "failed_at": failed_at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "schema_version": SCHEMA_VERSION,
    }
    key = f"{delivery.agency_id}:{delivery.event_id}".encode()
    return key, orjson.dumps(letter)
