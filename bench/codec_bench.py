"""CPU a line of decoding X payloads and a routed event of encoding it, each way measured against
the plain orjson call in the same run.

    python3 bench/codec_bench.py [--count 100000] [--rounds 5]

Decoding: `orjson.loads` into dicts (the floor a dict-based parser starts from), the typed decode
of `agents.core.shapes` alone, and the whole `parse_line` (typed decode and the checks a type
cannot say). Encoding the router's events: `orjson.dumps` of the event dicts as the router builds
them, msgspec's encoder of the same dicts, and msgspec `Struct`s built from the same fields and
encoded by msgspec (what typed events would cost). Best of --rounds, in one process.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import msgspec
import orjson

from agents.core.parse import parse_line
from agents.core.registry import load_registry
from agents.core.route import Router
from agents.core.shapes import LINE
from agents.core.verify import VerificationPolicy
from streams.x.synthetic import synthetic_lines

ROOT = Path(__file__).resolve().parents[1]


class TypedAuthor(msgspec.Struct, gc=False):
    id: str
    username: str
    name: str
    verified: bool
    verified_type: str | None


class TypedComplaint(msgspec.Struct, gc=False):
    event_id: str
    complaint_id: str
    tweet_id: str
    revision: int
    agency_id: str | None
    co_addressed: list[str]
    author: TypedAuthor
    text: str
    lang: str | None
    created_at: str | None
    conversation_id: str | None
    in_reply_to_user_id: str | None
    in_reply_to_tweet_id: str | None
    url: str
    registry_version: str
    schema_version: int


def best_us(items: Sequence[Any], work: Callable[[Any], object], rounds: int) -> float:
    """Best CPU µs an item of `work` over `items`, of `rounds` runs."""
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        for item in items:
            work(item)
        best = min(best, time.process_time() - start)
    return best / len(items) * 1e6


def quietly(decode: Callable[[bytes], object]) -> Callable[[bytes], object]:
    """`decode`, with the few damaged lines of the sample costing their error and no more."""

    def run(raw: bytes) -> object:
        try:
            return decode(raw)
        except (orjson.JSONDecodeError, msgspec.DecodeError, msgspec.ValidationError):
            return None

    return run


def dict_complaint(e: dict[str, Any]) -> dict[str, Any]:
    """The complaint built again from its fields, as a dict literal, as the router builds it."""
    return {
        "event_id": e["event_id"],
        "complaint_id": e["complaint_id"],
        "tweet_id": e["tweet_id"],
        "revision": e["revision"],
        "agency_id": e["agency_id"],
        "co_addressed": e["co_addressed"],
        "author": e["author"],
        "text": e["text"],
        "lang": e["lang"],
        "created_at": e["created_at"],
        "conversation_id": e["conversation_id"],
        "in_reply_to_user_id": e["in_reply_to_user_id"],
        "in_reply_to_tweet_id": e["in_reply_to_tweet_id"],
        "url": e["url"],
        "registry_version": e["registry_version"],
        "schema_version": e["schema_version"],
    }


def typed_complaint(e: dict[str, Any]) -> TypedComplaint:
    """The same complaint as a Struct, its author one too (the parser would build it so)."""
    a = e["author"]
    return TypedComplaint(
        e["event_id"],
        e["complaint_id"],
        e["tweet_id"],
        e["revision"],
        e["agency_id"],
        e["co_addressed"],
        TypedAuthor(a["id"], a["username"], a["name"], a["verified"], a["verified_type"]),
        e["text"],
        e["lang"],
        e["created_at"],
        e["conversation_id"],
        e["in_reply_to_user_id"],
        e["in_reply_to_tweet_id"],
        e["url"],
        e["registry_version"],
        e["schema_version"],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000, help="mentions to generate")
    parser.add_argument("--rounds", type=int, default=5, help="runs of each way; the best counts")
    args = parser.parse_args()
    registry = load_registry(ROOT / "deploy" / "agencies.yaml")
    lines = list(synthetic_lines(registry, args.count))
    router = Router(registry, VerificationPolicy(), seen=set())
    events = [event for raw in lines for _t, _k, event in router.route_line(raw, 1)]
    complaints = [event for event in events if event is not None and "event_id" in event]
    encoder = msgspec.json.Encoder()
    print(f"{len(lines)} lines, {sum(map(len, lines)) / len(lines):.0f} bytes on average")

    floor = best_us(lines, quietly(orjson.loads), args.rounds)
    for label, work in (
        ("orjson.loads into dicts", quietly(orjson.loads)),
        ("typed decode (shapes.LINE)", quietly(LINE.decode)),
        ("parse_line", parse_line),
    ):
        cost = best_us(lines, work, args.rounds)
        print(f"decode  {label:<34} {cost:6.2f} µs a line  {cost / floor:5.2f}x orjson.loads")

    floor = best_us(events, orjson.dumps, args.rounds)
    for label, work in (
        ("orjson.dumps of the event dicts", orjson.dumps),
        ("msgspec encode of the event dicts", encoder.encode),
    ):
        cost = best_us(events, work, args.rounds)
        print(f"encode  {label:<34} {cost:6.2f} µs an event {cost / floor:5.2f}x orjson.dumps")

    floor = best_us(complaints, lambda event: orjson.dumps(dict_complaint(event)), args.rounds)
    typed = best_us(complaints, lambda event: encoder.encode(typed_complaint(event)), args.rounds)
    print(
        f"build and encode a complaint: dict and orjson {floor:.2f} µs, "
        f"Struct and msgspec {typed:.2f} µs ({typed / floor:.2f}x)"
    )


if __name__ == "__main__":
    main()
