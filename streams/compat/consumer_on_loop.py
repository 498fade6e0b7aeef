"""Patch (speed): aiokafka's consumer runs on the worker's event loop, not in a thread of Faust's.

Upstream: faust-streaming runs aiokafka's consumer in a `mode.threads.ServiceThread` with its own
event loop and reaches it through a method queue, so every fetch crossed to that thread and back,
and the two threads took turns at the GIL (a thread back from a socket call may wait out the 5 ms
switch interval). Faust presumably does so that the consumer keeps its group membership while
agents block the loop; this worker's agent routes a full batch well within the session timeout
(`ADUAN_WORKER_SESSION_TIMEOUT`). No upstream issue.

Verified against faust-streaming 0.15.3 and mode-streaming 0.7.1. Without it the worker is slower
(docs/decisions/0016-consumer-on-the-worker-loop.md); nothing is lost.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from faust.transport.drivers import aiokafka as faust_aiokafka
from mode.utils.futures import maybe_async

from streams.compat.upstream import Upstream

log = logging.getLogger(__name__)

KIND = "speed"
_THREAD = "faust.transport.drivers.aiokafka.AIOKafkaConsumerThread"
UPSTREAM = (
    Upstream(
        "mode.threads.ServiceThread.__init__",
        ("self", "executor", "loop", "thread_loop", "Worker", "kwargs"),
    ),
    Upstream(f"{_THREAD}.__init__", ("self", "consumer", "kwargs")),
    Upstream(f"{_THREAD}._serve", ("self",)),
    Upstream(f"{_THREAD}._gather_remaining_tasks", ("self",)),
    Upstream(f"{_THREAD}.call_thread", ("self", "fun", "args", "kwargs")),
    Upstream(f"{_THREAD}.set_shutdown", ("self",)),
    Upstream(f"{_THREAD}._thread_started", instance=True),
    Upstream(f"{_THREAD}._thread_running", instance=True),
    Upstream(f"{_THREAD}.parent_loop", instance=True),
    Upstream("faust.transport.drivers.aiokafka.Consumer._new_consumer_thread", ("self",)),
)


class ConsumerOnLoop(faust_aiokafka.AIOKafkaConsumerThread):
    """Faust's consumer service, run as a task on the worker's event loop."""

    def __init__(self, consumer: Any, *, loop: asyncio.AbstractEventLoop, **kwargs: Any) -> None:
        super().__init__(consumer, loop=loop, thread_loop=loop, **kwargs)
        self._serving: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Mode's start, with the thread's body (`_serve`) a task on this loop."""
        self._thread_started.set()
        self._thread_running = running = self.parent_loop.create_future()
        self._serving = self.parent_loop.create_task(self._serve())
        self._serving.add_done_callback(self._on_served)
        try:
            await running  # set once started, or to the exception it crashed with
        finally:
            self._thread_running = None

    def _on_served(self, serving: asyncio.Task[None]) -> None:
        """What Mode's thread does when its body fails: it sets the shutdown `stop` waits for
        (Mode's body sets it last, so a failure while stopping would leave `stop` waiting for
        a minute), and a `start` still waiting hears of it."""
        failure = None if serving.cancelled() else serving.exception()
        if not serving.cancelled() and failure is None:
            return
        if failure is not None:
            log.error("Faust's consumer service failed", exc_info=failure)
        self.set_shutdown()
        running = self._thread_running
        if running is not None and not running.done():
            if failure is None:
                running.cancel()
            else:
                running.set_exception(failure)

    async def stop(self) -> None:
        """Mode's stop, then the wait for the body to end, as Mode joins its thread."""
        await super().stop()
        if self._serving is not None:
            await asyncio.wait({self._serving})

    async def _gather_remaining_tasks(self) -> None:
        """Mode cancels every task left on the thread's loop when it ends: here the worker's."""

    async def call_thread(self, fun: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Runs `fun` here; Faust passes both plain functions and coroutine functions."""
        return await maybe_async(fun(*args, **kwargs))
