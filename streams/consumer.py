"""Faust's aiokafka consumer, changed so that an input offset is committed only once its mention
was processed, and so that the broker holds a fetch only briefly.

Traced runs of the two-worker fault test (`tests/integration/test_faults.py`) lost mentions at a
rebalance: records fetched before the seek to the committed offsets reached the agent after it,
and the records in between were dropped. Faust counts offsets a fetch jumps over as a gap (as
compaction leaves) and commits past it, and it takes the committed offset for the last one
processed, so the mention at it goes too: a worker kept a partition committed at 156, got 163
first after the seek and committed 164, and the posts at 156-162 were never routed.

Here a partition's commit moves only over an unbroken run of processed offsets starting at the
committed one, since `mentions.raw` has no gaps in normal use (no compaction, no transactions),
and also while a revocation has Faust forget the committed offsets. When one is missing, the
partition is read again from the committed offset at the next fetch, unless retention deleted
the offsets, which are then skipped with an error. A partition never committed counts as
committed at its earliest offset.

Faust's fetcher hands each message to the streams through `wait_first`, which here runs the
hand-over at once and makes Mode's tasks only when it has to wait (`wait_first` below). And
aiokafka's consumer runs on the worker's event loop, not in a thread of Faust's (`_ConsumerThread`).
A partition back from a full stream buffer ends Faust's wait for records (`on_buffer_drop`).
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import AsyncIterator, Callable, Coroutine, Generator, Set
from typing import Any, cast

import aiokafka
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP, Message
from mode.services import WaitArgT, WaitResults
from mode.utils.futures import maybe_async
from mode.utils.times import Seconds

log = logging.getLogger(__name__)

# How long the broker may hold a fetch that finds no new records. aiokafka leaves out of a fetch
# the partitions whose records it still holds, so while the worker is busy a fetch carries only
# partitions where nothing arrives (Faust's assignor topic) and is held this long, and then the
# worker sits idle. Faust asks for 1.5 s: the worker stalled for that long every few seconds at
# 1,000 posts/s and fell seconds behind. An idle worker fetches 50 times a second instead.
FETCH_MAX_WAIT_MS = 20


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    """Faust's consumer service, run on the worker's event loop instead of a thread of its own.

    Faust runs aiokafka's consumer in a thread with its own event loop and reaches it through a
    method queue: every fetch crossed to that thread and back, and the two threads took turns at
    the GIL, where one back from a socket call may wait out the switch interval (5 ms) while the
    other runs. Faust presumably does so that the consumer keeps its group membership while
    agents block the loop; this worker's agent routes a full batch (500 posts) in a fraction of a
    second, far within the session timeout (`ADUAN_WORKER_SESSION_TIMEOUT`, 10 s by default)."""

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

    def look_for_records_again(self) -> None:
        """Ends aiokafka's wait for new records, so that it looks again at the partitions it was
        asked for (the set Faust keeps of its active ones, which it changes in place)."""
        fetcher = None if self._consumer is None else self._consumer._fetcher
        if fetcher is None:  # not started, or stopped: nothing waits
            return
        for waiter in list(fetcher._fetch_waiters):
            fetcher._notify(waiter)

    def _create_worker_consumer(
        self, transport: faust_aiokafka.Transport
    ) -> aiokafka.AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        # Faust passes no such setting through; aiokafka reads this when the consumer starts.
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS
        return consumer


class Consumer(faust_aiokafka.Consumer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._unprocessed: set[TP] = set()  # to read again from the committed offset
        self._committed_before_revoke: dict[TP, int] = {}

    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    def on_buffer_drop(self, tp: TP) -> None:
        """Faust's, and the fetch looks for records again at once.

        A fetch hands a stream all that aiokafka holds of a partition (1 MB, some 5,800 posts of
        `mentions.raw`); a stream buffer that full takes its partitions out of the set Faust
        fetches from, and Faust then waits up to 1 s for records of the others. That wait did
        not end when the buffer drained and the partitions came back: in a traced drain the
        worker sat idle for 0.2 to 0.5 s every 3 to 5 s (bench/NOTES.md)."""
        back = tp in self._buffered_partitions
        super().on_buffer_drop(tp)
        if back:
            cast(_ConsumerThread, self._thread).look_for_records_again()

    async def wait_first(self, *coros: WaitArgT, timeout: Seconds | None = None) -> WaitResults:
        """Mode's `wait_first`, but a first coroutine that completes without waiting wins at once.

        The fetcher calls this for every message, with the hand-over to the streams first and
        the flow's suspension second. Mode makes a task of each and of the service's stop and
        crash events, and waits a loop turn: four tasks a message, and one message a turn
        (bench/NOTES.md). Here the fetcher goes on at once, yielding to the loop every 100
        messages as Faust's fetcher does, or when a hand-over waits (the stream's buffer full, the
        flow suspended, Faust's producer buffer over 100 messages): that one goes on through Mode
        from where it stopped, in a task of its own, so a suspension still cancels it.

        The first step runs in the fetcher's task. On Python 3.11 nothing the hand-over does
        binds to the current task; from 3.12 `asyncio.wait_for` does (a timeout there would
        cancel the fetcher), so there Mode's way is kept.
        """
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

    async def on_partitions_revoked(self, revoked: Set[TP]) -> None:
        """Faust forgets the committed offsets here, then commits what the streams finish."""
        for tp in revoked:
            committed = self._committed_offset[tp]
            if committed is not None:
                self._committed_before_revoke[tp] = committed
        self._unprocessed -= revoked
        await super().on_partitions_revoked(revoked)

    async def perform_seek(self) -> None:
        await super().perform_seek()
        self._committed_before_revoke.clear()
        self._unprocessed.clear()
        # Everything from the committed offsets on is read again and acked again; an ack from
        # before the seek (Faust keeps those the streams finish after a revocation) would look
        # like a hole.
        self._acked.clear()
        self._acked_index.clear()
        await self._start_uncommitted_at_earliest()

    async def _start_uncommitted_at_earliest(self) -> None:
        """A partition never committed is read from its earliest offset: that is its committed
        offset for the rule above, which Faust's None would turn off."""
        uncommitted = [
            tp
            for tp in self.assignment()
            if self._committed_offset[tp] is None and self.app.topics.acks_enabled_for(tp.topic)
        ]
        if not uncommitted:
            return
        try:
            earliest = await self.earliest_offsets(*uncommitted)
        except Exception as exc:  # the broker away: Faust's rule applies until the next seek
            log.warning("earliest offsets of %s unknown: %r", uncommitted, exc)
            return
        self._committed_offset.update(earliest)

    async def _add_gap(self, tp: TP, offset_from: int, offset_to: int) -> None:
        """Offsets the fetches jumped over were not delivered, not compacted away: no gap."""

    def _new_offset(self, tp: TP) -> int | None:
        """The offset to commit, if the processed offsets do not begin after the committed one."""
        acked = self._acked[tp]
        committed = self._committed_offset[tp]
        # Revoked: the seek that ends the rebalance reads from the committed offset again.
        revoked = committed is None
        if revoked:
            committed = self._committed_before_revoke.get(tp)
        if committed is not None and acked and (first := min(acked)) > committed:
            if not revoked and tp not in self._unprocessed:
                log.warning(
                    "%s[%d]: offsets %d-%d not processed; reading them again",
                    tp.topic,
                    tp.partition,
                    committed,
                    first - 1,
                )
                self._unprocessed.add(tp)
            return None
        return super()._new_offset(tp)

    async def getmany(self, timeout: float) -> AsyncIterator[tuple[TP, Message]]:
        """Faust's fetch, after seeking partitions with unprocessed offsets back to them."""
        if self._unprocessed:
            await self._read_unprocessed_again()
        async for delivery in super().getmany(timeout):
            yield delivery

    async def _read_unprocessed_again(self) -> None:
        pending, self._unprocessed = self._unprocessed, set()
        assigned = self.assignment()
        for tp in pending:
            committed = self._committed_offset[tp]
            if tp not in assigned or committed is None:
                continue
            try:
                earliest = (await self.earliest_offsets(tp))[tp]
                if earliest > committed:
                    # Retention is the one way offsets leave `mentions.raw`.
                    log.error(
                        "%s[%d]: offsets %d-%d were deleted by retention before the worker "
                        "processed them",
                        tp.topic,
                        tp.partition,
                        committed,
                        earliest - 1,
                    )
                    self._committed_offset[tp] = committed = earliest
                # On the consumer's thread, as Faust seeks: aiokafka is not thread-safe.
                await self.seek_wait({tp: committed})
            except Exception as exc:  # revoked meanwhile, or the broker away: try again
                log.warning(
                    "%s[%d]: seeking to %d failed: %r", tp.topic, tp.partition, committed, exc
                )
                self._unprocessed.add(tp)


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


class Transport(faust_aiokafka.Transport):
    Consumer = Consumer
