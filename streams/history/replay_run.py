"""The whole of `aduan replay`: which registry, which spans of `mentions.raw`, the replay itself,
its output file, and the diff against what the live pipeline emitted."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from agents.core.forget import Forgotten
from agents.core.registry import Registry, load_registry
from agents.core.verify import VerificationPolicy
from schemas.topics import FORGET_TOPIC, RAW_TOPIC, REGISTRY_TOPIC
from streams.cases import work_calendar
from streams.forget.requests import requests_of
from streams.history import replay
from streams.history.diff import RoutingDiff, compare, routings
from streams.history.window import HISTORY_CLIENT, Span, Window, spans_of
from streams.kafka.admin import records_to_end
from streams.kafka.connection import started_consumer
from streams.kafka.registry_topic import newest_valid
from streams.settings import Settings

Progress = Callable[[int], AbstractContextManager[Callable[[int], None]]]
"""Given the posts to read, a context whose value is told the posts read so far."""


@dataclass(frozen=True, slots=True)
class ReplayRun:
    registry: Registry
    """The registry the posts were routed with."""
    total: int
    """Posts of `mentions.raw` in the window."""
    outcome: replay.Outcome
    diff: RoutingDiff | None
    """None when not asked for, or when the replay was interrupted."""


@dataclass(frozen=True, slots=True)
class _Start:
    """What a replay reads from Kafka before it starts."""

    registry: Registry
    spans: list[Span]
    forgotten: Forgotten


def run_replay(
    settings: Settings,
    agencies: Path | None,
    policy: VerificationPolicy,
    window: Window,
    *,
    prefix: str | None,
    progress: Progress,
    output: Callable[[], AbstractContextManager[BinaryIO]] | None,
    diff: bool,
) -> ReplayRun:
    """Replay `window` with the registry of `agencies` (None: the one in force) into `output`
    (opened once the replay is done) and the shadow topics of `prefix`, if any."""
    start = asyncio.run(_start(settings, agencies, window))
    spans = start.spans
    total = sum(span.size for span in spans)
    with tempfile.TemporaryDirectory(prefix="aduan-replay-") as parts:
        now = datetime.now(UTC)
        if total:
            # The replay processes are forked from this one: loaded here, the holiday library
            # is loaded once, not by each process on its first due date.
            work_calendar(settings).due_at(now, 1)
        job = replay.Job(
            settings, start.registry, policy, window, Path(parts), prefix, now, start.forgotten
        )
        with progress(total) as show:
            outcome = replay.replay(job, spans, show)
        if output is not None:
            with output() as sink:
                replay.merge(job.parts, spans, sink)
        if outcome.interrupted or not diff:
            return ReplayRun(start.registry, total, outcome, None)
        replayed = routings(replay.replayed_events(job.parts, spans))
        live = replay.live_routings(settings, window, replayed.keys())
        return ReplayRun(start.registry, total, outcome, compare(live, replayed))


async def _start(settings: Settings, agencies: Path | None, window: Window) -> _Start:
    """With one client: the registry (of `agencies`, else the one published last, else the
    file of `ADUAN_AGENCIES`), the spans of `mentions.raw` in `window`, and every request to
    forget."""
    registry = None if agencies is None else load_registry(agencies)
    topics = [REGISTRY_TOPIC, FORGET_TOPIC] if registry is None else [FORGET_TOPIC]
    async with started_consumer(
        settings, HISTORY_CLIENT, enable_auto_commit=False, group_id=None
    ) as consumer:
        spans = await spans_of(consumer, settings, [RAW_TOPIC], window)
        records = await records_to_end(consumer, topics)
    if registry is None:
        published = newest_valid(r for r in records if r.topic == REGISTRY_TOPIC)
        registry = published or load_registry(settings.registry_file())
    requests = requests_of(r for r in records if r.topic == FORGET_TOPIC)
    return _Start(registry, spans, Forgotten(requests.values()))
