"""The worker's streams take every waiting event in one loop turn."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import faust
import pytest

from streams.compat.stream_sleep import take_waiting_events_at_once
from streams.settings import Settings
from streams.worker.app import create_app


def _app(tmp_path: Path) -> faust.App:
    return create_app(Settings.from_env({"ADUAN_WORKER_DIR": str(tmp_path)}))


async def _loop_turns_to_take(tmp_path: Path, count: int) -> int:
    """Loop turns between a stream's first and last event, with `count` events waiting."""
    app = _app(tmp_path)  # in the running loop: the app would make a loop of its own outside
    app.flow_control.resume()  # suspended until partitions are assigned: a put would wait
    # The iterator's own channel: a stream over a plain one would read a copy made when it starts.
    channel = app.channel().clone(is_iterator=True)
    for n in range(count):
        await channel.put(n)
    turns = 0
    loop = asyncio.get_running_loop()

    def tick() -> None:
        nonlocal turns
        turns += 1
        loop.call_soon(tick)

    loop.call_soon(tick)
    taken_at: list[int] = []
    async for _ in app.stream(channel):
        taken_at.append(turns)
        if len(taken_at) == count:
            break
    return taken_at[-1] - taken_at[0]


@pytest.fixture
def faust_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    """Restores the `sleep` of Faust's stream iterator after the test."""
    iterator = faust.streams._CStreamIterator  # type: ignore[attr-defined]
    if iterator is None:
        pytest.skip("Faust's Cython stream iterator is off (NO_CYTHON)")
    namespace = vars(sys.modules[iterator.__module__])
    monkeypatch.setitem(namespace, "sleep", namespace["sleep"])


@pytest.mark.usefixtures("faust_sleep")
def test_a_stream_takes_every_waiting_event_in_one_loop_turn(tmp_path: Path) -> None:
    take_waiting_events_at_once()
    assert asyncio.run(_loop_turns_to_take(tmp_path, 100)) == 0


@pytest.mark.usefixtures("faust_sleep")
def test_faust_alone_takes_one_waiting_event_a_loop_turn(tmp_path: Path) -> None:
    """Why the worker changes it: were this to fail, Faust no longer needs the change."""
    assert asyncio.run(_loop_turns_to_take(tmp_path, 100)) >= 99
