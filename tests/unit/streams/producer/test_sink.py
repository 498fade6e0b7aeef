"""`aduan produce --rate` keeps the rate asked for, sleeping in steps rather than after every
post."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.core.registry import load_registry
from streams.producer import sink as producer
from streams.producer.sink import PACING_STEP, produce_lines
from streams.x.synthetic import synthetic_lines

ROOT = Path(__file__).resolve().parents[4]


class Clock:
    """Stands in for `time`: sleeping advances it, sending a post costs nothing."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Sink:
    def __init__(self) -> None:
        self.sent = 0
        self.flushed = False

    def __call__(self, key: bytes | None, value: bytes) -> None:
        self.sent += 1

    def flush(self) -> None:
        self.flushed = True


def test_rate_is_kept_in_steps_of_pacing_step(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    monkeypatch.setattr(producer, "time", clock)
    sink = Sink()
    registry = load_registry(ROOT / "deploy" / "agencies.yaml")
    lines = list(synthetic_lines(registry, 2_000, seed=3))

    sent = produce_lines(sink, lines, rate=1_000)  # type: ignore[arg-type]

    assert sent == sink.sent == 2_000 and sink.flushed
    elapsed = clock.now - 100.0
    assert sent / 1_000 - PACING_STEP <= elapsed <= sent / 1_000
    assert len(clock.sleeps) <= elapsed / PACING_STEP + 1
    assert min(clock.sleeps) >= PACING_STEP
