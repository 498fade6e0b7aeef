"""The whole of `aduan replay`: which registry, which spans of `mentions.raw`, the replay itself,
its output file, and the diff against what the live pipeline emitted."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from agents.core.registry import Registry, load_registry
from agents.core.verify import VerificationPolicy
from schemas.topics import RAW_TOPIC
from streams.forget import requests as forget_requests
from streams.history import replay
from streams.history.diff import RoutingDiff, compare, routings
from streams.history.window import Window, find_spans
from streams.kafka.registry_topic import latest_published
from streams.settings import Settings

Progress = Callable[[int], AbstractContextManager[Callable[[int], None]]]
"""Given the posts to read, a context whose value is told the posts read so far."""


@dataclass(frozen=True, slots=True)
class ReplayRun:
    total: int
    """Posts of `mentions.raw` in the window."""
    outcome: replay.Outcome
    diff: RoutingDiff | None
    """None when not asked for, or when the replay was interrupted."""


def replay_registry(settings: Settings, path: Path | None) -> Registry:
    """The registry of `path`, else the one published last, else the file of `ADUAN_AGENCIES`."""
    if path is not None:
        return load_registry(path)
    return latest_published(settings)[0] or load_registry(settings.registry_file())


def run_replay(
    settings: Settings,
    registry: Registry,
    policy: VerificationPolicy,
    window: Window,
    *,
    prefix: str | None,
    progress: Progress,
    output: Callable[[], AbstractContextManager[BinaryIO]] | None,
    diff: bool,
) -> ReplayRun:
    """Replay `window` into `output` (opened once the replay is done) and the shadow topics of
    `prefix`, if any."""
    spans = find_spans(settings, [RAW_TOPIC], window)
    total = sum(span.size for span in spans)
    with tempfile.TemporaryDirectory(prefix="aduan-replay-") as parts:
        now = datetime.now(UTC)
        forgotten = forget_requests.forgotten(settings)
        job = replay.Job(settings, registry, policy, window, Path(parts), prefix, now, forgotten)
        with progress(total) as show:
            outcome = replay.replay(job, spans, show)
        if output is not None:
            with output() as sink:
                replay.merge(job.parts, spans, sink)
        if outcome.interrupted or not diff:
            return ReplayRun(total, outcome, None)
        replayed = routings(replay.replayed_events(job.parts, spans))
        live = replay.live_routings(settings, window, replayed.keys())
        return ReplayRun(total, outcome, compare(live, replayed))
