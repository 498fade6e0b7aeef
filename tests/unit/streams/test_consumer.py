"""The worker's consumer commits an offset only once its mention was processed: not past a
mention a stream skipped during a rebalance, nor past offsets the fetches jumped over, which it
reads again instead. It asks the broker to hold a fetch only briefly."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import faust
import pytest
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread, Transport
from faust.transport.drivers.aiokafka import Consumer as FaustConsumer
from faust.types import TP, ConsumerMessage

from streams.app import create_app
from streams.consumer import FETCH_MAX_WAIT_MS, Consumer
from streams.settings import Settings

TOPIC = "mentions.raw"


@pytest.fixture
def app(tmp_path: Path) -> Iterator[faust.App]:
    app = create_app(Settings.from_env({"ADUAN_WORKER_DIR": str(tmp_path)}))
    app.topics.acking_topics.add(TOPIC)  # what subscribing the agent to the topic does
    app.consumer_generation_id = 2
    yield app
    # The event loops Faust made for the consumer's thread and for flow control's events
    app.consumer._thread.thread_loop.close()  # type: ignore[attr-defined]
    app.loop.close()


def mention(offset: int, generation_id: int, *, processed: bool) -> ConsumerMessage:
    message = ConsumerMessage(TOPIC, 0, offset, 0.0, 0, None, b"k", b"v", None)
    message.generation_id = generation_id
    message.tracked = processed  # what `Stream._c_aiter` sets on the mentions it takes in
    return message


def committable_after(app: faust.App, *messages: ConsumerMessage) -> int | None:
    """The offset the next commit would write, after Faust's final ack of each message."""
    consumer = cast(Consumer, app.consumer)
    for message in messages:
        message.incref()
        message.ack(consumer)
    return consumer._new_offset(TP(TOPIC, 0))


def test_the_app_runs_this_consumer(app: faust.App) -> None:
    assert type(app.consumer) is Consumer


def test_mentions_skipped_while_flow_control_is_suspended_stay_uncommitted(
    app: faust.App,
) -> None:
    assert not app.flow_control.is_active()  # suspended, as from a rebalance's start
    # After a revocation the consumer knows no committed offset: Faust would commit 243 here.
    skipped = [mention(offset, 2, processed=False) for offset in (240, 241, 242)]
    assert committable_after(app, *skipped) is None


def test_mentions_of_an_earlier_generation_skipped_stay_uncommitted(app: faust.App) -> None:
    app.flow_control.resume()
    assert committable_after(app, mention(240, 1, processed=False)) is None


def test_faust_alone_would_commit_past_the_skipped_mentions(app: faust.App) -> None:
    """The loss this consumer prevents: its parent's ack makes the skipped offset committable."""
    consumer = cast(Consumer, app.consumer)
    message = mention(240, 2, processed=False)
    assert FaustConsumer.ack(consumer, message)
    assert consumer._new_offset(TP(TOPIC, 0)) == 241


def test_mentions_processed_before_a_rebalance_stay_committable(app: faust.App) -> None:
    """An event a stream finished after the rebalance began was routed: its ack counts."""
    assert committable_after(app, mention(240, 1, processed=True)) == 241


def test_mentions_acked_while_flowing_are_committable(app: faust.App) -> None:
    app.flow_control.resume()
    processed = mention(240, 2, processed=True)
    undecodable = mention(241, 2, processed=False)  # Faust's decode-error path acks these
    assert committable_after(app, processed, undecodable) == 242


def processed_after_a_seek(app: faust.App, committed: int) -> Consumer:
    consumer = cast(Consumer, app.consumer)
    app.flow_control.resume()
    consumer._committed_offset[TP(TOPIC, 0)] = committed  # what the seek at a rebalance sets
    return consumer


def test_offsets_the_fetches_jumped_over_are_not_committed_but_read_again(
    app: faust.App,
) -> None:
    """Run 1 of a loop of the two-worker fault test: 156-162 were never delivered after the
    seek; 163 came first, and Faust committed 164."""
    consumer = processed_after_a_seek(app, 156)
    asyncio.run(consumer._add_gap(TP(TOPIC, 0), 157, 162))  # the fetch loop saw 163 after 156
    later = [mention(offset, 2, processed=True) for offset in range(163, 170)]
    assert committable_after(app, *later) is None
    assert consumer._unprocessed == {TP(TOPIC, 0)}


def test_faust_alone_would_commit_past_the_offsets_jumped_over(app: faust.App) -> None:
    consumer = processed_after_a_seek(app, 156)
    asyncio.run(FaustConsumer._add_gap(consumer, TP(TOPIC, 0), 157, 162))
    for offset in range(163, 170):
        FaustConsumer.ack(consumer, mention(offset, 2, processed=True))
    assert FaustConsumer._new_offset(consumer, TP(TOPIC, 0)) == 170


def test_processed_offsets_from_the_committed_one_on_are_committed(app: faust.App) -> None:
    consumer = processed_after_a_seek(app, 156)
    processed = [mention(offset, 2, processed=True) for offset in (156, 157, 158, 160)]
    assert committable_after(app, *processed) == 159
    assert not consumer._unprocessed


def read_again(
    app: faust.App, monkeypatch: pytest.MonkeyPatch, committed: int, earliest: int
) -> list[tuple[TP, int]]:
    """The seeks made for a partition found with unprocessed offsets after `committed`."""
    consumer = processed_after_a_seek(app, committed)
    sought: list[tuple[TP, int]] = []

    async def earliest_offsets(*partitions: TP) -> dict[TP, int]:
        return {tp: earliest for tp in partitions}

    async def seek(tp: TP, offset: int) -> None:
        sought.append((tp, offset))

    monkeypatch.setattr(consumer, "assignment", lambda: {TP(TOPIC, 0)})
    monkeypatch.setattr(consumer, "earliest_offsets", earliest_offsets)
    monkeypatch.setattr(consumer, "seek", seek)
    consumer._unprocessed.add(TP(TOPIC, 0))
    asyncio.run(consumer._read_unprocessed_again())
    assert not consumer._unprocessed
    return sought


def test_a_partition_with_unprocessed_offsets_is_sought_back_to_the_committed_one(
    app: faust.App, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert read_again(app, monkeypatch, committed=156, earliest=100) == [(TP(TOPIC, 0), 156)]


def test_offsets_deleted_by_retention_are_skipped_with_an_error(
    app: faust.App, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    assert read_again(app, monkeypatch, committed=156, earliest=200) == [(TP(TOPIC, 0), 200)]
    assert "offsets 156-199 were deleted by retention" in caplog.text
    assert committable_after(app, mention(200, 2, processed=True)) == 201


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
