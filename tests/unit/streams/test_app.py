"""The worker's Faust app hands out its running producer without yielding to the event loop, so a
batch of sends stays in one loop turn and shares produce requests, and its consumer's fetches are
held by the broker only briefly."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import cast

import faust
import pytest
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread, Transport

from streams.app import FETCH_MAX_WAIT_MS, create_app
from streams.settings import Settings


def _app(tmp_path: Path) -> faust.App:
    return create_app(Settings.from_env({"ADUAN_WORKER_DIR": str(tmp_path)}))


def test_a_running_producer_is_returned_without_a_turn_of_the_event_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = _app(tmp_path)
    monkeypatch.setattr(type(app.producer), "started", property(lambda _: True))
    asking = app.maybe_start_producer()
    with pytest.raises(StopIteration) as returned:
        asking.send(None)  # a coroutine that suspended would return what it waits for instead
    assert returned.value.value is app.producer


def test_a_producer_not_started_yet_is_started_and_the_quick_path_stays(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = _app(tmp_path)
    starts: list[bool] = []

    async def start() -> bool:
        starts.append(True)
        return True

    monkeypatch.setattr(app.producer, "maybe_start", start)
    assert asyncio.run(app.maybe_start_producer()) is app.producer
    assert starts == [True]
    assert "maybe_start_producer" not in vars(app)  # Faust's guard did not shadow ours


def test_the_worker_consumer_asks_the_broker_to_hold_a_fetch_briefly(tmp_path: Path) -> None:
    app = _app(tmp_path)

    async def fetch_waits() -> tuple[int, int]:
        """aiokafka's consumers need a running loop to be made; they are never started."""
        thread = app.consumer._thread  # type: ignore[attr-defined]
        transport = cast(Transport, app.transport)
        faust_default = AIOKafkaConsumerThread._create_worker_consumer(thread, transport)
        ours = thread._create_worker_consumer(transport)
        for consumer in (faust_default, ours):
            await consumer.stop()
        thread.thread_loop.close()
        # The attribute aiokafka builds its fetcher from when a consumer starts.
        return faust_default._fetch_max_wait_ms, ours._fetch_max_wait_ms

    assert asyncio.run(fetch_waits()) == (1500, FETCH_MAX_WAIT_MS)
    assert FETCH_MAX_WAIT_MS < 100
