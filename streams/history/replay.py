"""`aduan replay`: re-routes a time window of `mentions.raw` with a registry and policy of choice,
into a JSON Lines file or shadow topics; never into the live topics.

Routing a post costs more than reading it, so each partition is replayed by a process of its own:
the cores share the work evenly even when partitions outnumber them
(docs/decisions/0028-replay-without-a-consumer-group.md). Each process writes its partition's
events to a file; the files are joined in partition order, so that replaying the same window
always gives the same output.
Duplicates are judged within the window only: a post id's copies share a partition (the post id
is the message key), so each process sees all copies of its posts.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import re
import shutil
import signal
import sys
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from agents.core.errors import AduanError, ConfigError
from agents.core.forget import Forgotten
from agents.core.registry import Registry
from agents.core.route import Router
from agents.core.verify import VerificationPolicy
from schemas.codec import encode_routed_line
from schemas.events import source_of
from schemas.topics import (
    CASES_TOPIC,
    COMPLAINT_TOPIC_PREFIX,
    DEAD_LETTER_TOPIC,
    LIVE_PREFIXES,
    REJECTED_TOPIC,
    UNROUTED_TOPIC,
    complaint_topic,
)
from streams.cases import new_case_book
from streams.errors import BrokerError
from streams.history import diff as routing_diff
from streams.history.window import Span, Window, find_spans, read_spans
from streams.kafka.admin import TopicSpec, complaint_topics, ensure_topics, erasable
from streams.kafka.connection import kafka_producer
from streams.settings import Settings

_TOPIC_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")


def check_prefix(prefix: str) -> str:
    """`prefix` if shadow topics named with it can never be live topics."""
    if not _TOPIC_NAME.fullmatch(prefix) or prefix.endswith("."):
        raise ConfigError(
            f"--to-topics {prefix!r}: use letters, digits, '.', '_' and '-', not starting or "
            "ending with '.', e.g. replay-2026-11-27"
        )
    if prefix.split(".", maxsplit=1)[0] in LIVE_PREFIXES:
        raise ConfigError(
            f"--to-topics {prefix!r}: shadow topics must not look like live ones "
            f"({', '.join(name + '.*' for name in LIVE_PREFIXES)}); pick e.g. replay-2026-11-27"
        )
    return prefix


def shadow_topics(prefix: str, registry: Registry) -> list[str]:
    """The topics a replay with `registry` writes under `prefix`."""
    names = [DEAD_LETTER_TOPIC, REJECTED_TOPIC, UNROUTED_TOPIC, CASES_TOPIC]
    names += [complaint_topic(agency) for agency in registry.agency_ids]
    return [f"{prefix}.{name}" for name in names]


@dataclass(frozen=True, slots=True)
class Job:
    """What every replay process needs to know."""

    settings: Settings
    registry: Registry
    policy: VerificationPolicy
    window: Window
    parts: Path
    """Directory of the per-partition output files."""
    prefix: str | None
    """Shadow topics to write too, or None."""
    now: datetime
    """The time cases are judged overdue at: when the replay started."""
    forgotten: Forgotten
    """Every request to forget recorded when the replay started: those posts are rejected."""


@dataclass(slots=True)
class Outcome:
    spans: list[Span]
    positions: list[int]
    """Per span, the offset the replay got to."""
    events: Counter[str]
    """Events per topic (without the shadow prefix)."""
    interrupted: bool

    @property
    def read(self) -> int:
        return _read(self.spans, self.positions)

    def where(self) -> str:
        return ", ".join(
            f"partition {span.partition} at offset {at} of {span.start}-{span.end}"
            for span, at in zip(self.spans, self.positions, strict=True)
            if span.size
        )


def replay(job: Job, spans: list[Span], show: Callable[[int], None]) -> Outcome:
    """Replay `spans`, one process each; `show` gets the messages read so far, often.
    Ctrl-C stops every process after its current batch; the outcome says how far each got."""
    if job.prefix is not None:
        topics = shadow_topics(job.prefix, job.registry)
        ensure_topics(job.settings, [_shadow_spec(job.settings, name) for name in topics])
    context = multiprocessing.get_context("fork")
    positions = context.RawArray("q", [span.start for span in spans])
    processes = [
        context.Process(target=_run, args=(job, spans, index, positions), daemon=True)
        for index, span in enumerate(spans)
        if span.size
    ]
    for process in processes:
        process.start()
    interrupted = False
    running = {process.sentinel for process in processes}
    try:
        while running:
            show(_read(spans, positions))
            running.difference_update(wait(list(running), timeout=0.2))
    except KeyboardInterrupt:
        interrupted = True
        _stop(processes)
    for process in processes:
        process.join()  # a sentinel can be ready before the exit code can be read
    if any(process.exitcode not in (0, 130) for process in processes):
        raise AduanError("a replay process failed (its error is above); nothing was merged")
    events: Counter[str] = Counter()
    for counts in job.parts.glob("*.counts.json"):
        events.update(orjson.loads(counts.read_bytes()))
    read = _read(spans, positions)
    show(read)
    stopped = interrupted or any(process.exitcode == 130 for process in processes)
    unfinished = read < sum(span.size for span in spans)
    return Outcome(spans, list(positions), events, stopped and unfinished)


def _read(spans: Sequence[Span], positions: Sequence[int]) -> int:
    """Messages read so far, from each span's position."""
    return sum(at - span.start for span, at in zip(spans, positions, strict=True))


def _stop(processes: list[Any]) -> None:
    """Children of a terminal got the Ctrl-C too; others are told now. Each ends its batch."""
    for process in processes:
        process.join(timeout=2)
        if process.is_alive():
            os.kill(process.pid, signal.SIGINT)
    for process in processes:
        process.join(timeout=30)
        if process.is_alive():
            process.terminate()
            process.join()


def _run(job: Job, spans: list[Span], index: int, positions: Any) -> None:
    """One replay process: span `index`, to its part file; its position in `positions`."""
    try:
        asyncio.run(_replay_span(job, spans[index], index, positions))
    except KeyboardInterrupt:
        sys.exit(130)
    except AduanError as exc:
        print(f"aduan replay: {exc}", file=sys.stderr)
        sys.exit(1)


def _shadow_spec(settings: Settings, name: str) -> TopicSpec:
    """A shadow topic made like its live one: complaints compacted, so `aduan forget` can
    erase their texts there too."""
    if name.endswith(f".{CASES_TOPIC}"):
        return TopicSpec(name, {"cleanup.policy": "compact"})
    if f".{COMPLAINT_TOPIC_PREFIX}" in name:
        return TopicSpec(name, erasable(settings, settings.event_retention_ms))
    return TopicSpec(name, {"retention.ms": str(settings.event_retention_ms)})


def part_file(parts: Path, span: Span) -> Path:
    return parts / f"{span.topic}-{span.partition:06d}.jsonl"


async def _replay_span(job: Job, span: Span, index: int, positions: Any) -> None:
    cases = new_case_book(job.settings, job.registry, lambda: job.now)
    router = Router(job.registry, job.policy, seen=set(), cases=cases, forgotten=job.forgotten)
    counts: Counter[str] = Counter()
    producer = None if job.prefix is None else kafka_producer(job.settings, "aduan-replay")
    failures: list[BaseException] = []
    try:
        with part_file(job.parts, span).open("wb") as part:
            async for chunk in read_spans(job.settings, [span], job.window):
                lines = []
                for record in chunk.records:
                    if record.value is None:
                        continue  # a tombstone: a forgotten post's erasure, not a post
                    source = source_of(record)
                    for topic, key, event in router.route_message(record.value, source):
                        counts[topic] += 1
                        lines.append(encode_routed_line(topic, key, event))
                        if producer is not None:
                            producer.send(
                                f"{job.prefix}.{topic}",
                                key=None if key is None else key.encode(),
                                value=None if event is None else orjson.dumps(event),
                            ).add_errback(failures.append)
                part.write(b"".join(lines))
                positions[index] = chunk.next_offset
        positions[index] = span.end
    finally:
        part_file(job.parts, span).with_suffix(".counts.json").write_bytes(orjson.dumps(counts))
        if producer is not None:
            producer.flush()
            producer.close()
    if failures:
        raise BrokerError(
            f"{len(failures)} events were not acknowledged by the shadow topics; first error: "
            f"{failures[0]}"
        )


def merge(parts: Path, spans: Sequence[Span], sink: BinaryIO) -> None:
    """The part files, in partition order, into `sink`."""
    for span in spans:
        path = part_file(parts, span)
        if path.exists():
            with path.open("rb") as part:
                shutil.copyfileobj(part, sink, 1 << 20)


def replayed_events(parts: Path, spans: Sequence[Span]) -> Iterator[tuple[str, Any]]:
    """(topic, event) of every event written to the part files."""
    for span in spans:
        path = part_file(parts, span)
        if path.exists():
            with path.open("rb") as part:
                for line in part:
                    routed = orjson.loads(line)
                    yield routed["topic"], routed["value"]


def live_routings(
    settings: Settings, window: Window, wanted: Collection[str]
) -> dict[str, routing_diff.Reached]:
    """How the live pipeline routed the posts of `wanted`: its complaints and rejections from
    `window.since` up to now (live events come after their posts)."""
    topics = [REJECTED_TOPIC, *complaint_topics(settings)]
    since = Window(window.since)
    spans = find_spans(settings, topics, since)

    async def collect() -> list[tuple[str, Any]]:
        found = []
        async for chunk in read_spans(settings, spans, since):
            for record in chunk.records:
                try:
                    event = orjson.loads(record.value or b"")
                except orjson.JSONDecodeError:
                    continue
                if isinstance(event, dict) and event.get("tweet_id") in wanted:
                    found.append((record.topic, event))
        return found

    return routing_diff.routings(asyncio.run(collect()))
