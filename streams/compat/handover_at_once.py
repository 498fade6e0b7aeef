"""Patch (speed): a fetched message is handed to the streams at once unless the hand-over waits.

Upstream: Faust's fetcher hands each message to the streams through mode's `Service.wait_first`,
with the hand-over first and the flow's suspension second. Mode makes a task of each and of the
service's stop and crash events, and waits a loop turn: four tasks a message, and one message a
turn. Here a first coroutine that completes without waiting wins at once; one that has to wait
(the stream's buffer full, the flow suspended, Faust's producer buffer full) goes on through Mode
from where it stopped, in a task of its own, so a suspension still cancels it. No upstream issue.

The first step runs in the fetcher's task. On Python 3.11 nothing the hand-over does binds to the
current task; from 3.12 `asyncio.wait_for` does (a timeout there would cancel the fetcher), so
there Mode's way is kept.

Verified against faust-streaming 0.15.3 and mode-streaming 0.7.1. Without it the worker is slower
(docs/decisions/0017-hand-over-without-tasks.md); nothing is lost.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Coroutine, Generator
from typing import Any

from faust.transport.drivers import aiokafka as faust_aiokafka
from mode.services import WaitArgT, WaitResults
from mode.utils.times import Seconds

from streams.compat.upstream import Upstream

KIND = "speed"
UPSTREAM = (
    Upstream("mode.services.Service.wait_first", ("self", "coros", "timeout")),
    Upstream("mode.services.WaitResults._fields"),
    Upstream("mode.services.Service._stopped", instance=True),
    Upstream("mode.services.Service._crashed", instance=True),
)


class HandOverAtOnce(faust_aiokafka.Consumer):
    """Faust's consumer, whose fetcher hands a message over without Mode's tasks when it can."""

    async def wait_first(self, *coros: WaitArgT, timeout: Seconds | None = None) -> WaitResults:
        """Mode's `wait_first`; a first coroutine that completes without waiting wins at once."""
        first = coros[0] if coros else None
        if asyncio.iscoroutine(first) and sys.version_info < (3, 12):
            try:
                waiting_for = first.send(None)
            except StopIteration as finished:
                _close_unstarted(coros[1:])
                if self._stopped.is_set() or self._crashed.is_set():
                    return WaitResults([], [], stopped=True)  # as Mode answers then
                return WaitResults([first], [finished.value], stopped=False)
            except BaseException:
                _close_unstarted(coros[1:])
                raise
            coros = (_Resumed(first, waiting_for), *coros[1:])
        # Mode declares `timeout: Seconds = None` without Optional; None is its own default.
        return await super().wait_first(*coros, timeout=timeout)  # type: ignore[arg-type]


def _close_unstarted(coros: tuple[WaitArgT, ...]) -> None:
    """Closes coroutines that will never run, or Python warns that they were never awaited."""
    for coro in coros:
        if asyncio.iscoroutine(coro):
            coro.close()


class _Resumed:
    """A coroutine that ran up to its first wait, as an awaitable that goes on from there: a task
    made of it waits for what the coroutine waits for, and passes results and exceptions in."""

    def __init__(self, coroutine: Coroutine[Any, Any, Any], waiting_for: Any) -> None:
        self._coroutine = coroutine
        self._waiting_for = waiting_for

    def __await__(self) -> Generator[Any, Any, Any]:
        coroutine, waiting_for = self._coroutine, self._waiting_for
        step: Callable[[Any], Any]
        while True:
            try:
                sent = yield waiting_for
            except GeneratorExit:
                coroutine.close()
                raise
            except BaseException as exc:  # what the task throws in (a cancellation), where it waits
                step, value = coroutine.throw, exc
            else:
                step, value = coroutine.send, sent
            try:
                waiting_for = step(value)
            except StopIteration as finished:
                return finished.value
