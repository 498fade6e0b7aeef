"""JSON encoding (orjson) of the `aduan route` output lines."""

from __future__ import annotations

from typing import TypedDict

import orjson

from schemas.events import Event


class RoutedLine(TypedDict):
    """One line of `aduan route` output: the message the live pipeline would send."""

    topic: str
    key: str | None
    value: Event | None
    """None: a tombstone, as the live pipeline sends for a case merged into another."""


def encode_routed_line(topic: str, key: str | None, event: Event | None) -> bytes:
    """`{"topic": ..., "key": ..., "value": ...}` and a newline."""
    line: RoutedLine = {"topic": topic, "key": key, "value": event}
    return orjson.dumps(line, option=orjson.OPT_APPEND_NEWLINE)
