"""The worker's Faust app hands out its running producer without yielding to the event loop, so a
batch of sends stays in one loop turn and shares produce requests."""

from __future__ import annotations

import asyncio
from pathlib import Path

import faust
import pytest

from streams.app import create_app
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
