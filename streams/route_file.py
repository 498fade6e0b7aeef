"""`aduan route`: the whole topology's decisions over a JSON Lines file, without Kafka."""

from __future__ import annotations

from collections import Counter
from typing import BinaryIO

from agents.core.route import Router
from schemas.codec import encode_routed_line

_BATCH = 4096


def route_file(router: Router, source: BinaryIO, sink: BinaryIO) -> tuple[int, Counter[str]]:
    """Route every line of `source` in order and write one JSON line per event.

    Returns the number of lines read and the number of events per topic."""
    counts: Counter[str] = Counter()
    batch: list[bytes] = []
    number = 0
    route_line = router.route_line
    for number, raw in enumerate(source, start=1):
        if raw.isspace():
            continue
        for topic, key, event in route_line(raw, number):
            counts[topic] += 1
            batch.append(encode_routed_line(topic, key, event))
        if len(batch) >= _BATCH:
            sink.write(b"".join(batch))
            batch.clear()
    sink.write(b"".join(batch))
    return number, counts
