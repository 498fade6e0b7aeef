"""Requests to forget, kept in the compacted topic `aduan.forget`: recorded by `aduan forget` and
`aduan compliance check`, read whole by every reader that honours them (worker, replay, reports,
the sweep), and followed by the running worker."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from contextlib import closing
from datetime import datetime
from typing import Any

import orjson

from agents.core.errors import ForgetError
from agents.core.forget import Forgotten, forget_request, request_key
from schemas.events import ForgetRequest
from schemas.topics import FORGET_TOPIC
from streams.kafka.admin import ensure_topics, follow_partition, forget_spec, read_to_end
from streams.kafka.connection import kafka_errors, kafka_producer
from streams.settings import Settings

log = logging.getLogger(__name__)


def record(settings: Settings, requests: Sequence[ForgetRequest]) -> dict[str, bool]:
    """Write `requests` to `aduan.forget`; each request's key with True when it is new (a
    request already recorded keeps its first reason and time)."""
    ensure_topics(settings, [forget_spec()])
    known, _ = read_requests(settings)
    new = {request_key(r): request_key(r) not in known for r in requests}
    producer = kafka_producer(settings, "aduan-forget")
    with closing(producer), kafka_errors(f"recording requests in {FORGET_TOPIC}"):
        sending = [
            producer.send(FORGET_TOPIC, key=request_key(r).encode(), value=orjson.dumps(r))
            for r in requests
            if new[request_key(r)]
        ]
        for sent in sending:
            sent.get(timeout=30)
    return new


def read_requests(settings: Settings) -> tuple[dict[str, ForgetRequest], int]:
    """Every recorded request by key, and the offset to follow the topic from. A record that is
    not a request is logged and skipped: it cannot name anything to forget."""
    records, ends = read_to_end(settings, FORGET_TOPIC)
    return requests_of(records), ends.get(0, 0)


def requests_of(records: Iterable[Any]) -> dict[str, ForgetRequest]:
    """The requests of the topic's `records` by key, the first of each key kept; a record that
    is not a request is logged and skipped."""
    requests: dict[str, ForgetRequest] = {}
    for item in records:
        request = _parse(item.value, item.offset)
        if request is not None:
            requests.setdefault(request_key(request), request)
    return requests


def forgotten(settings: Settings) -> Forgotten:
    """Every recorded request, ready for a router."""
    requests, _ = read_requests(settings)
    return Forgotten(requests.values())


async def follow(settings: Settings, offset: int, apply: Callable[[ForgetRequest], None]) -> None:
    """Call `apply` with every request recorded from `offset` on; runs until cancelled."""
    async for item in follow_partition(settings, FORGET_TOPIC, offset, "aduan-forget-follower"):
        request = _parse(item.value, item.offset)
        if request is not None:
            apply(request)


def _parse(value: bytes | None, offset: int) -> ForgetRequest | None:
    """The request a record holds, checked as `forget_request` made it; None (logged) when it
    holds none."""
    try:
        request = orjson.loads(value or b"")
        return forget_request(
            request["kind"],
            request["id"],
            request["reason"],
            datetime.fromisoformat(request["requested_at"]),
        )
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError, ForgetError):
        log.error("ignoring record %s@%d: not a request to forget", FORGET_TOPIC, offset)
        return None
