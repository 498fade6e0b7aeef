"""The worker's consumer commits an input offset only once its mention was processed: not past
offsets the fetches jumped over, which it reads again instead, and not past them while a
rebalance has Faust forget the committed offsets. It asks the broker to hold a fetch briefly,
hands a fetched message to the streams at once unless the hand-over has to wait, and looks for
records again as soon as a stream's full buffer has drained."""

from __future__ import annotations

import asyncio
import functools
import gc
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Set
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import faust
import pytest
from aiokafka.consumer.fetcher import Fetcher
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread, Transport
from faust.transport.drivers.aiokafka import Consumer as FaustConsumer
from faust.types import TP, ConsumerMessage, Message
from mode.services import WaitResults

from streams.compat.fetch_max_wait import FETCH_MAX_WAIT_MS
from streams.compat.transport import Consumer
from streams.settings import Settings
from streams.worker.app import create_app

RAW = TP("mentions.raw", 0)


@pytest.fixture
def app(tmp_path: Path) -> Iterator[faust.App]:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)  # the app's and its consumer's, as in the worker
    app = create_app(Settings.from_env({"ADUAN_WORKER_DIR": str(tmp_path)}))
    app.topics.acking_topics.add(RAW.topic)  # what subscribing the agent to the topic does
    yield app
    app.loop.close()  # normally `loop`
    loop.close()
    asyncio.set_event_loop(None)


@pytest.fixture
def consumer(app: faust.App) -> Consumer:
    consumer = cast(Consumer, app.consumer)
    consumer._committed_offset[RAW] = 156  # what the seek at the end of a rebalance sets
    return consumer


def processed(consumer: FaustConsumer, *offsets: int) -> None:
    """Faust's ack of each mention, as its stream iterator makes it once the agent is done."""
    for offset in offsets:
        message = ConsumerMessage(RAW.topic, RAW.partition, offset, 0.0, 0, None, b"k", b"v", None)
        FaustConsumer.ack(consumer, message)


def test_the_app_runs_this_consumer(app: faust.App) -> None:
    assert type(app.consumer) is Consumer


def test_processed_offsets_from_the_committed_one_on_are_committed(consumer: Consumer) -> None:
    processed(consumer, 156, 157, 158, 160)
    assert consumer._new_offset(RAW) == 159
    assert not consumer._unprocessed


def test_offsets_never_delivered_are_not_committed_but_read_again(consumer: Consumer) -> None:
    """A traced run of the two-worker fault test: after the seek to 156, 163 came first."""
    asyncio.run(consumer._add_gap(RAW, 157, 163))  # what the fetch loop calls on 163 after 156
    processed(consumer, *range(163, 170))
    assert consumer._new_offset(RAW) is None
    assert consumer._unprocessed == {RAW}


def test_a_gap_the_fetches_jumped_is_not_committed_past(consumer: Consumer) -> None:
    processed(consumer, 156)
    asyncio.run(consumer._add_gap(RAW, 157, 163))
    processed(consumer, *range(163, 170))
    assert consumer._new_offset(RAW) == 157


@pytest.mark.parametrize("first", [156, 163])
def test_faust_itself_commits_past_both(consumer: Consumer, first: int) -> None:
    """Describes Faust, not aduan: the losses the two tests above prevent. 164 is what the
    traced run committed."""
    processed(consumer, *range(first, 157))
    asyncio.run(FaustConsumer._add_gap(consumer, RAW, 157, 163))
    processed(consumer, *range(163, 170))
    assert FaustConsumer._new_offset(consumer, RAW) == 164


def test_while_revoked_the_committed_offset_from_before_still_holds_commits(
    consumer: Consumer, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def faust_revocation(self: FaustConsumer, revoked: Set[TP]) -> None:
        for tp in revoked:  # what Faust's on_partitions_revoked does to its offsets
            self._committed_offset.pop(tp, None)
            self._acked.pop(tp, None)

    monkeypatch.setattr(FaustConsumer, "on_partitions_revoked", faust_revocation)
    asyncio.run(consumer.on_partitions_revoked({RAW}))
    processed(consumer, 163)  # an event the agent finished after the revocation
    assert consumer._new_offset(RAW) is None  # Faust would commit 164
    assert FaustConsumer._new_offset(consumer, RAW) == 164


def test_acks_from_before_a_seek_are_dropped_as_everything_after_is_read_again(
    consumer: Consumer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A traced run: Faust forgot the acks of 890-977 at a revocation and kept 978 and 979, the
    events the agent finished afterwards; the seek then went back to 890."""
    processed(consumer, 978, 979)
    consumer._unprocessed.add(RAW)

    async def faust_seek(self: FaustConsumer) -> None:
        self._committed_offset[RAW] = 890

    monkeypatch.setattr(FaustConsumer, "perform_seek", faust_seek)
    monkeypatch.setattr(consumer, "assignment", lambda: {RAW})
    asyncio.run(consumer.perform_seek())
    assert consumer._new_offset(RAW) is None
    assert not consumer._unprocessed and "not processed" not in caplog.text
    processed(consumer, 890, 891)
    assert consumer._new_offset(RAW) == 892


def test_a_partition_never_committed_counts_as_committed_at_its_earliest_offset(
    consumer: Consumer, monkeypatch: pytest.MonkeyPatch
) -> None:
    changelog = TP("aduan-decided-changelog", 0)  # not acked: Faust's rules stay
    del consumer._committed_offset[RAW]

    async def faust_seek(self: FaustConsumer) -> None:
        """A group with no commit yet: Faust leaves the committed offset unknown."""

    monkeypatch.setattr(FaustConsumer, "perform_seek", faust_seek)
    monkeypatch.setattr(consumer, "assignment", lambda: {RAW, changelog})
    monkeypatch.setattr(consumer, "earliest_offsets", earliest_at(40))
    asyncio.run(consumer.perform_seek())
    assert consumer._committed_offset[RAW] == 40
    assert consumer._committed_offset[changelog] is None
    processed(consumer, 45, 46)  # 40-44 dropped at the rebalance: Faust would commit 47
    assert consumer._new_offset(RAW) is None
    assert consumer._unprocessed == {RAW}


def test_partitions_with_unprocessed_offsets_are_read_again_before_the_next_fetch(
    consumer: Consumer, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = TP(RAW.topic, 1)
    consumer._committed_offset[other] = 40
    sought: list[dict[TP, int]] = []

    async def seek_wait(partitions: dict[TP, int]) -> None:
        sought.append(partitions)
        if other in partitions:
            raise ConnectionError("broker away")

    async def faust_fetch(self: FaustConsumer, timeout: float) -> AsyncIterator[tuple[TP, Message]]:
        for offset in (156, 157):
            yield RAW, ConsumerMessage(RAW.topic, 0, offset, 0.0, 0, None, b"k", b"v", None)

    monkeypatch.setattr(consumer, "assignment", lambda: {RAW, other})
    monkeypatch.setattr(consumer, "earliest_offsets", earliest_at(0))
    monkeypatch.setattr(consumer, "seek_wait", seek_wait)
    monkeypatch.setattr(FaustConsumer, "getmany", faust_fetch)
    consumer._unprocessed.update({RAW, other, TP(RAW.topic, 2)})  # 2 was revoked meanwhile

    async def fetch() -> list[int]:
        return [message.offset async for _, message in consumer.getmany(1.0)]

    assert asyncio.run(fetch()) == [156, 157]
    assert sorted(sought, key=str) == sorted([{RAW: 156}, {other: 40}], key=str)
    assert consumer._unprocessed == {other}  # its seek failed: tried again at the next fetch


def test_offsets_retention_deleted_before_they_were_processed_are_skipped_with_an_error(
    consumer: Consumer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    sought: list[dict[TP, int]] = []

    async def seek_wait(partitions: dict[TP, int]) -> None:
        sought.append(partitions)

    monkeypatch.setattr(consumer, "assignment", lambda: {RAW})
    monkeypatch.setattr(consumer, "earliest_offsets", earliest_at(200))
    monkeypatch.setattr(consumer, "seek_wait", seek_wait)
    processed(consumer, 200, 201)
    assert consumer._new_offset(RAW) is None
    asyncio.run(consumer._read_unprocessed_again())
    assert sought == [{RAW: 200}]
    assert "offsets 156-199 were deleted by retention" in caplog.text
    assert consumer._new_offset(RAW) == 202


def earliest_at(offset: int) -> Callable[..., Awaitable[dict[TP, int]]]:
    async def earliest_offsets(*partitions: TP) -> dict[TP, int]:
        return dict.fromkeys(partitions, offset)

    return earliest_offsets


def test_the_worker_consumer_asks_the_broker_to_hold_a_fetch_briefly(app: faust.App) -> None:
    async def fetch_waits() -> tuple[int, int]:
        """aiokafka's consumers need a running loop to be made; they are never started."""
        thread = app.consumer._thread  # type: ignore[attr-defined]
        transport = cast(Transport, app.transport)
        faust_default = AIOKafkaConsumerThread._create_worker_consumer(thread, transport)
        ours = thread._create_worker_consumer(transport)
        for consumer in (faust_default, ours):
            await consumer.stop()
        # The attribute aiokafka builds its fetcher from when a consumer starts.
        return faust_default._fetch_max_wait_ms, ours._fetch_max_wait_ms

    assert asyncio.run(fetch_waits()) == (1500, FETCH_MAX_WAIT_MS)
    assert FETCH_MAX_WAIT_MS < 100


def test_the_consumer_runs_on_the_workers_event_loop_not_in_a_thread(
    app: faust.App, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Started and stopped through Mode, without aiokafka's consumer (no broker here)."""
    thread = app.consumer._thread  # type: ignore[attr-defined]
    started_in: list[tuple[threading.Thread, asyncio.AbstractEventLoop]] = []

    async def on_start(self: AIOKafkaConsumerThread) -> None:
        started_in.append((threading.current_thread(), asyncio.get_running_loop()))

    monkeypatch.setattr(AIOKafkaConsumerThread, "on_start", on_start)

    async def start_and_stop() -> tuple[int, asyncio.Task[None]]:
        other = asyncio.create_task(asyncio.sleep(60))  # another task of the worker's
        threads = threading.active_count()
        await asyncio.wait_for(thread.start(), 5)  # a hang fails, not blocks, the test
        threads_started = threading.active_count() - threads
        await asyncio.wait_for(thread.stop(), 5)
        return threads_started, other

    threads_started, other = app.loop.run_until_complete(start_and_stop())
    assert started_in == [(threading.main_thread(), app.loop)]
    assert threads_started == 0
    assert thread._serving.done() and thread._serving.exception() is None  # ended, and well
    assert not other.done()  # Mode's thread cancels all its loop's tasks when it ends
    other.cancel()


def test_a_consumer_that_fails_to_start_fails_the_start(
    app: faust.App, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def on_start(self: AIOKafkaConsumerThread) -> None:
        raise OSError("broker unreachable")

    monkeypatch.setattr(AIOKafkaConsumerThread, "on_start", on_start)
    thread = app.consumer._thread  # type: ignore[attr-defined]
    with pytest.raises(OSError, match="broker unreachable"):
        app.loop.run_until_complete(asyncio.wait_for(thread.start(), 5))


def test_a_consumer_that_fails_to_stop_still_lets_the_worker_stop(
    app: faust.App, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Mode sets the shutdown `stop` waits for after stopping the consumer: without the
    service's own handling, `stop` would wait a minute (Mode's shutdown timeout)."""

    async def on_start(self: AIOKafkaConsumerThread) -> None:
        """No aiokafka consumer: no broker here."""

    async def on_thread_stop(self: AIOKafkaConsumerThread) -> None:
        raise OSError("connection reset")

    monkeypatch.setattr(AIOKafkaConsumerThread, "on_start", on_start)
    monkeypatch.setattr(AIOKafkaConsumerThread, "on_thread_stop", on_thread_stop)
    thread = app.consumer._thread  # type: ignore[attr-defined]

    async def start_and_stop() -> None:
        await asyncio.wait_for(thread.start(), 5)
        await asyncio.wait_for(thread.stop(), 5)
        # The service's children its failed stop left running go as the worker exits them.
        left = asyncio.all_tasks() - {asyncio.current_task()}
        for task in left:
            task.cancel()
        await asyncio.gather(*left, return_exceptions=True)

    app.loop.run_until_complete(start_and_stop())
    assert isinstance(thread._serving.exception(), OSError)
    assert "consumer service failed" in caplog.text and "connection reset" in caplog.text


def test_calls_to_the_consumer_run_in_the_task_that_makes_them(app: faust.App) -> None:
    thread = app.consumer._thread  # type: ignore[attr-defined]

    def a_function() -> list[asyncio.Task[Any] | None]:
        return [asyncio.current_task()]  # in a list: a task alone is awaitable

    async def a_coroutine_function() -> list[asyncio.Task[Any] | None]:
        return a_function()

    async def calls() -> tuple[Any, Any, Any]:
        return (
            await thread.call_thread(a_function),
            await thread.call_thread(a_coroutine_function),
            a_function(),
        )

    # In a task of its own, so that a hang fails the test instead of blocking it.
    plain, coroutine, caller = app.loop.run_until_complete(asyncio.wait_for(calls(), 5))
    assert plain == coroutine == caller != [None]


def wait_first_in_a_loop(
    consumer: Consumer, *coros: Any, meanwhile: Callable[[], object] = lambda: None
) -> tuple[WaitResults, asyncio.Task[Any] | None]:
    """The consumer's `wait_first`, called from a task as the fetcher calls it; `meanwhile` is
    called 10 ms later. Returns the results and the calling task."""

    async def fetcher() -> tuple[WaitResults, asyncio.Task[Any] | None]:
        consumer.loop.call_later(0.01, meanwhile)
        results = await consumer.wait_first(*coros)
        await asyncio.sleep(0)  # a cancellation Mode sent reaches its task
        return results, asyncio.current_task()

    return consumer.loop.run_until_complete(fetcher())


def test_a_hand_over_that_does_not_wait_runs_at_once_in_the_fetchers_task(
    consumer: Consumer,
) -> None:
    ran_in: list[asyncio.Task[Any] | None] = []

    async def hand_over() -> str:
        ran_in.append(asyncio.current_task())
        return "delivered"

    async def suspended() -> None:
        raise AssertionError("never started")

    results, fetcher = wait_first_in_a_loop(consumer, hand_over(), suspended())
    assert results.results == ["delivered"] and not results.stopped
    assert ran_in == [fetcher]  # no task of its own
    gc.collect()  # the unstarted `suspended()` was closed: no "never awaited" warning


def test_a_hand_over_that_must_wait_goes_on_where_it_stopped_in_a_task_of_its_own(
    consumer: Consumer,
) -> None:
    room = asyncio.Event()
    steps: list[tuple[str, asyncio.Task[Any] | None]] = []

    async def hand_over() -> str:
        steps.append(("started", asyncio.current_task()))
        await room.wait()
        steps.append(("room in the buffer", asyncio.current_task()))
        return "delivered"

    results, fetcher = wait_first_in_a_loop(
        consumer, hand_over(), asyncio.Event().wait(), meanwhile=room.set
    )
    assert results.results == ["delivered"]
    [(first, started_in), (then, went_on_in)] = steps  # started once, not again
    assert (first, then) == ("started", "room in the buffer")
    assert started_in is fetcher
    assert went_on_in is not fetcher and went_on_in is not None  # Mode's task


async def full_buffer() -> None:
    """A stream's buffer that never drains, waited for on a future."""
    await asyncio.Event().wait()


async def full_buffer_polled() -> None:
    """The same, polled every loop turn: a task's cancellation is thrown into it, as no future
    of its own is there to be cancelled."""
    while True:
        await asyncio.sleep(0)


@pytest.mark.parametrize("full", [full_buffer, full_buffer_polled])
def test_a_suspension_cancels_a_hand_over_that_waits(
    consumer: Consumer, full: Callable[[], Awaitable[None]]
) -> None:
    suspended = asyncio.Event()
    outcome: list[tuple[str, asyncio.Task[Any] | None]] = []

    async def hand_over() -> None:
        outcome.append(("started", asyncio.current_task()))
        try:
            await full()
        except asyncio.CancelledError:
            outcome.append(("cancelled", asyncio.current_task()))
            raise

    results, fetcher = wait_first_in_a_loop(
        consumer, hand_over(), suspended.wait(), meanwhile=suspended.set
    )
    assert results.results == [True]  # the suspension's wait won
    assert outcome[0] == ("started", fetcher)
    assert outcome[1][0] == "cancelled" and outcome[1][1] not in (fetcher, None)
    assert len(outcome) == 2


def test_a_hand_over_that_fails_at_once_raises_in_the_fetcher(consumer: Consumer) -> None:
    async def hand_over() -> None:
        raise KeyError("no callback for this partition")

    async def suspended() -> None:
        raise AssertionError("never started")

    with pytest.raises(KeyError, match="no callback"):
        wait_first_in_a_loop(consumer, hand_over(), suspended())
    gc.collect()  # `suspended()` was closed: no "never awaited" warning


def test_a_stopped_consumer_answers_stopped_as_mode_does(consumer: Consumer) -> None:
    async def hand_over() -> str:
        return "delivered"

    consumer._stopped.set()
    results, _ = wait_first_in_a_loop(consumer, hand_over(), asyncio.Event().wait())
    assert results == ([], [], True)


def test_a_partition_back_from_a_full_stream_buffer_ends_the_wait_for_records(
    app: faust.App, consumer: Consumer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Faust waits up to 1 s for records of its active partitions; a partition that comes back
    ends that wait, so that its records, already fetched, are taken at once."""

    async def waits_ended() -> list[bool]:
        fetcher = SimpleNamespace(_fetch_waiters=set(), _loop=asyncio.get_running_loop())
        fetcher._notify = functools.partial(Fetcher._notify, fetcher)
        aiokafka_consumer = SimpleNamespace(_fetcher=fetcher)
        monkeypatch.setattr(consumer._thread, "_consumer", aiokafka_consumer)
        consumer._active_partitions = {RAW}
        ended = []
        for buffer_was_full in (False, True):
            waiter = Fetcher._create_fetch_waiter(fetcher)  # what `fetched_records` awaits
            if buffer_was_full:
                consumer.on_buffer_full(RAW)
            consumer.on_buffer_drop(RAW)
            await asyncio.sleep(0)
            ended.append(waiter.done())
            waiter.cancel()
        return ended

    assert app.loop.run_until_complete(waits_ended()) == [False, True]
    assert consumer._active_partitions == {RAW}
