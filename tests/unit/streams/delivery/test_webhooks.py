"""The webhook lanes (`streams.delivery.lanes`) against a local aiohttp receiver, without Kafka:
what the endpoint sees, retries, dead letters, one agency's dead endpoint against another's, order
within an agency, and what the offset tracker lets the runner commit meanwhile."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
import aiokafka.errors
import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer, unused_port
from aiokafka import TopicPartition
from prometheus_client import CollectorRegistry

from agents.core.registry import parse_registry
from streams.delivery import lanes, webhooks
from streams.delivery.backoff import Backoff
from streams.delivery.endpoints import Endpoint, HttpPoster, WebhookError, read_endpoints
from streams.delivery.lanes import Dispatcher
from streams.delivery.offsets import OffsetTracker
from streams.delivery.signing import verify
from streams.delivery.webhook_metrics import WebhookMetrics
from streams.delivery.webhooks import TOPICS, _commit, _read, _Rebalance
from streams.kafka import registry_topic
from tests.unit.agents.factories import ONE_AGENCY
from tests.unit.streams.delivery.webhook_records import (
    Record,
    case_record,
    complaint,
    complaint_record,
)

KEJATI, PT = "kejati-jateng", "pt-semarang"
SECRETS = {KEJATI: b"kejati-secret-0123456789", PT: b"pt-semarang-secret-0123456789"}
PARTITIONS = [("cases", 0), ("complaints.kejati-jateng", 0), ("complaints.pt-semarang", 0)]
FAST = Backoff(budget=3600, base=0.001, cap=0.002)
SLOW = Backoff(budget=3600, base=600, cap=600)
"""With `draw=lambda: 1.0`: a pause between attempts far longer than a test."""


class Receiver:
    """An agency endpoint per path `/<agency>`: records each request, answers the statuses
    queued for the agency (then 200) after the delays queued for it (then none), and holds an
    agency's requests while it is `held`."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self.answers: dict[str, list[int]] = {}
        self.delays: dict[str, list[float]] = {}
        self.held: dict[str, asyncio.Event] = {}
        self.app = web.Application()
        self.app.router.add_post("/{agency}", self.handle)

    async def handle(self, request: web.Request) -> web.Response:
        agency = request.match_info["agency"]
        self.requests.append((agency, dict(request.headers), await request.read()))
        if agency in self.held:
            await self.held[agency].wait()
        delays = self.delays.get(agency)
        if delays:
            await asyncio.sleep(delays.pop(0))
        statuses = self.answers.get(agency)
        status = statuses.pop(0) if statuses else 200
        if status == 302:
            return web.Response(status=302, headers={"Location": "/elsewhere"})
        return web.Response(status=status, text=f"answer {status} to {agency}")

    def ids(self, agency: str) -> list[str]:
        return [orjson.loads(body)["id"] for who, _, body in self.requests if who == agency]


@dataclass
class Harness:
    dispatcher: Dispatcher
    metrics: CollectorRegistry
    letters: list[tuple[bytes, Any]] = field(default_factory=list)

    @property
    def tracker(self) -> OffsetTracker:
        return self.dispatcher.tracker

    def count(self, agency: str, outcome: str) -> float:
        value = self.metrics.get_sample_value(
            "aduan_webhook_deliveries_total", {"agency": agency, "outcome": outcome}
        )
        return value or 0.0

    async def drained(self) -> None:
        """Every lane has finished every event handed to it."""
        await until(lambda: all(lane.waiting == 0 for lane in self.dispatcher.lanes.values()))


async def until(condition: Callable[[], bool], guard: float = 20.0) -> None:
    """Waits for `condition`; the guard only stops a broken test from hanging."""
    deadline = time.monotonic() + guard
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the condition did not come true")
        await asyncio.sleep(0.005)


@contextlib.asynccontextmanager
async def delivering(
    receiver: Receiver,
    backoff: Backoff = FAST,
    timeout: float = 60,
    **clocks: Callable[[], float],
) -> AsyncIterator[Harness]:
    server = TestServer(receiver.app, host="127.0.0.1")
    await server.start_server()
    session = aiohttp.ClientSession()
    tracker = OffsetTracker()
    tracker.assign(PARTITIONS)
    registry = CollectorRegistry()
    letters: list[tuple[bytes, Any]] = []

    async def dead_letters(key: bytes, value: bytes) -> None:
        letters.append((key, orjson.loads(value)))

    dispatcher = Dispatcher(
        HttpPoster(session, timeout),
        dead_letters,
        backoff,
        WebhookMetrics(registry),
        tracker,
        **clocks,
    )
    dispatcher.use(
        {
            agency: Endpoint(str(server.make_url(f"/{agency}")), SECRETS[agency])
            for agency in SECRETS
        }
    )
    try:
        yield Harness(dispatcher, registry, letters)
    finally:
        for hold in receiver.held.values():
            hold.set()
        await dispatcher.stop()
        await session.close()
        await server.close()


def run(test: Callable[[], Any]) -> None:
    asyncio.run(test())


def test_the_endpoint_gets_the_event_signed_with_its_agencys_secret() -> None:
    receiver = Receiver()
    event = complaint()

    async def scenario() -> None:
        async with delivering(receiver) as harness:
            harness.dispatcher.offer(complaint_record(event, offset=0))
            harness.dispatcher.offer(case_record(0, agency=PT))
            await harness.drained()
            assert harness.count(KEJATI, "delivered") == 1
            assert harness.count(PT, "delivered") == 1

    run(scenario)
    (agency, headers, body), (other, other_headers, other_body) = receiver.requests
    assert (agency, other) == (KEJATI, PT)
    assert orjson.loads(body) == {"type": "complaint", "id": event["event_id"], "data": event}
    assert headers["Aduan-Event-Id"] == event["event_id"]
    assert headers["Content-Type"] == "application/json"
    assert verify(SECRETS[KEJATI], body, headers["Aduan-Signature"], now=time.time())
    assert not verify(SECRETS[PT], body, headers["Aduan-Signature"], now=time.time())
    assert other_headers["Aduan-Event-Id"] == "case:pt-semarang:10:0"
    assert verify(SECRETS[PT], other_body, other_headers["Aduan-Signature"], now=time.time())


def test_a_503_is_retried_until_the_endpoint_takes_the_event() -> None:
    receiver = Receiver()
    receiver.answers[KEJATI] = [503, 503]

    async def scenario() -> None:
        async with delivering(receiver) as harness:
            harness.dispatcher.offer(case_record(0))
            await harness.drained()
            assert (harness.count(KEJATI, "retried"), harness.count(KEJATI, "delivered")) == (2, 1)
            assert (
                harness.metrics.get_sample_value(
                    "aduan_webhook_failed_attempts_total", {"agency": KEJATI, "cause": "503"}
                )
                == 2
            )
            assert harness.letters == []
            assert harness.tracker.commits() == {("cases", 0): 1}

    run(scenario)
    assert receiver.ids(KEJATI) == ["case:kejati-jateng:10:0"] * 3


def test_a_400_goes_to_the_dead_letters_at_once_with_the_answer() -> None:
    receiver = Receiver()
    receiver.answers[KEJATI] = [400]
    event = complaint()

    async def scenario() -> None:
        async with delivering(receiver) as harness:
            harness.dispatcher.offer(complaint_record(event, offset=4))
            await harness.drained()
            ((key, letter),) = harness.letters
            assert key == f"kejati-jateng:{event['event_id']}".encode()
            assert letter["event"]["data"] == event
            assert letter["url"].endswith("/kejati-jateng")
            assert (letter["reason"], letter["status"], letter["attempts"]) == ("refused", 400, 1)
            assert letter["response"] == "answer 400 to kejati-jateng"
            assert harness.count(KEJATI, "dead_lettered") == 1
            assert harness.count(KEJATI, "retried") == 0
            # Dead-lettered counts as done: the commit may pass it.
            assert harness.tracker.commits() == {("complaints.kejati-jateng", 0): 5}

    run(scenario)
    assert len(receiver.requests) == 1


def test_a_redirect_is_not_followed() -> None:
    receiver = Receiver()
    receiver.answers[KEJATI] = [302]

    async def scenario() -> None:
        async with delivering(receiver) as harness:
            harness.dispatcher.offer(case_record(0))
            await harness.drained()
            ((_, letter),) = harness.letters
            assert (letter["reason"], letter["status"]) == ("refused", 302)

    run(scenario)
    assert [agency for agency, _, _ in receiver.requests] == [KEJATI]


def test_a_refused_event_does_not_make_old_events_wait_out_their_retry_time() -> None:
    receiver = Receiver()
    receiver.answers[KEJATI] = [400]
    ticks = count(0, 10)  # each look at the clock: 10 s later, past the retry time of 5 s

    async def scenario() -> None:
        backoff = Backoff(budget=5, base=0.001, cap=0.002)
        async with delivering(receiver, backoff, clock=lambda: next(ticks)) as harness:
            harness.dispatcher.offer(case_record(0))
            harness.dispatcher.offer(case_record(1, case_id="11"))
            await harness.drained()
            # The endpoint refused one event; it did not fail: the next one is attempted.
            assert [letter["reason"] for _, letter in harness.letters] == ["refused"]
            assert harness.count(KEJATI, "delivered") == 1

    run(scenario)
    assert len(receiver.requests) == 2


def test_retries_end_in_the_dead_letters_once_the_retry_time_is_spent() -> None:
    receiver = Receiver()
    receiver.answers[KEJATI] = [503] * 10
    ticks = count(0, 10)  # each look at the clock: 10 s later

    async def scenario() -> None:
        backoff = Backoff(budget=35, base=0.001, cap=0.002)
        async with delivering(receiver, backoff, clock=lambda: next(ticks)) as harness:
            harness.dispatcher.offer(case_record(0))
            await harness.drained()
            ((_, letter),) = harness.letters
            assert (letter["reason"], letter["status"]) == ("retries_exhausted", 503)
            assert letter["attempts"] == 4  # at 10, 20 and 30 s a pause is left; at 40 none
            assert letter["error"] == "HTTP 503"

    run(scenario)
    assert len(receiver.requests) == 4


def test_a_timeout_is_retried_and_counted_as_one() -> None:
    receiver = Receiver()
    receiver.delays[KEJATI] = [5.0]

    async def scenario() -> None:
        async with delivering(receiver, timeout=0.2) as harness:
            harness.dispatcher.offer(case_record(0))
            await harness.drained()
            assert (
                harness.metrics.get_sample_value(
                    "aduan_webhook_failed_attempts_total", {"agency": KEJATI, "cause": "timeout"}
                )
                == 1
            )
            assert harness.count(KEJATI, "delivered") == 1

    run(scenario)
    assert len(receiver.requests) == 2


def test_a_dead_endpoint_of_one_agency_does_not_hold_up_another() -> None:
    receiver = Receiver()
    receiver.held[KEJATI] = asyncio.Event()

    async def scenario() -> None:
        async with delivering(receiver) as harness:
            # Both agencies' cases on one partition, interleaved: kejati's first.
            harness.dispatcher.offer(case_record(0, agency=KEJATI, case_id="1"))
            for offset in range(1, 6):
                harness.dispatcher.offer(case_record(offset, agency=PT, case_id=str(offset)))
            harness.dispatcher.offer(case_record(6, agency=KEJATI, case_id="2"))
            await until(lambda: harness.count(PT, "delivered") == 5)
            # Every pt-semarang event arrived while kejati's first request still hangs.
            assert receiver.ids(KEJATI) == ["case:kejati-jateng:1:0"]
            assert harness.count(KEJATI, "delivered") == 0
            # The commit waits for kejati's event, the oldest not delivered.
            assert harness.tracker.commits() == {("cases", 0): 0}
            receiver.held[KEJATI].set()
            await harness.drained()
            assert harness.tracker.commits() == {("cases", 0): 7}

    run(scenario)
    assert receiver.ids(PT) == [f"case:pt-semarang:{offset}:{offset}" for offset in range(1, 6)]
    assert receiver.ids(KEJATI) == ["case:kejati-jateng:1:0", "case:kejati-jateng:2:6"]


def test_an_agencys_events_arrive_in_the_order_read_even_when_one_is_retried() -> None:
    receiver = Receiver()
    receiver.answers[KEJATI] = [200, 503, 503, 200]  # the second event fails twice
    events = [complaint() for _ in range(5)]

    async def scenario() -> None:
        async with delivering(receiver) as harness:
            for offset, event in enumerate(events):
                harness.dispatcher.offer(complaint_record(event, offset))
            await harness.drained()

    run(scenario)
    ids = [event["event_id"] for event in events]
    assert receiver.ids(KEJATI) == [ids[0], ids[1], ids[1], ids[1], *ids[2:]]


def test_events_without_a_webhook_are_done_at_once() -> None:
    receiver = Receiver()

    async def scenario() -> None:
        async with delivering(receiver) as harness:
            harness.dispatcher.offer(case_record(0, agency="bpk-jateng"))
            harness.dispatcher.offer(complaint_record(complaint(), 0, agency="unrouted"))
            harness.dispatcher.offer(Record("cases", 0, 1, b"no colon", b"{}"))
            assert harness.tracker.commits() == {("cases", 0): 2}
            assert harness.tracker.pending() == 0

    run(scenario)
    assert receiver.requests == []


def test_a_removed_webhook_drops_its_waiting_events() -> None:
    receiver = Receiver()
    receiver.held[KEJATI] = asyncio.Event()

    async def scenario() -> None:
        async with delivering(receiver) as harness:
            for offset in range(3):
                harness.dispatcher.offer(case_record(offset, case_id=str(offset)))
            await until(lambda: len(receiver.requests) == 1)
            harness.dispatcher.use({})  # a registry version without kejati's webhook
            receiver.held[KEJATI].set()
            await harness.drained()
            assert harness.tracker.commits() == {("cases", 0): 3}

    run(scenario)
    assert receiver.ids(KEJATI) == ["case:kejati-jateng:0:0"]


def test_a_new_url_from_the_registry_ends_the_pause_and_takes_the_retry() -> None:
    receiver = Receiver()
    receiver.answers[KEJATI] = [503] * 5
    slow = Backoff(budget=3600, base=600, cap=600)  # a pause far longer than the test

    async def scenario() -> None:
        async with delivering(receiver, slow, draw=lambda: 1.0) as harness:
            harness.dispatcher.offer(case_record(0))
            await until(lambda: harness.count(KEJATI, "retried") == 1)
            old = harness.dispatcher.lanes[KEJATI].endpoint
            assert old is not None
            moved = Endpoint(old.url.replace("/kejati-jateng", "/kejati-jateng-new"), old.secret)
            harness.dispatcher.use({KEJATI: moved, PT: Endpoint("http://127.0.0.1:9/", b"s" * 16)})
            await harness.drained()
            assert harness.count(KEJATI, "delivered") == 1

    run(scenario)
    assert [agency for agency, _, _ in receiver.requests] == [KEJATI, "kejati-jateng-new"]


def test_a_partition_moving_away_leaves_its_retried_event_to_the_next_reader() -> None:
    receiver = Receiver()
    receiver.answers[KEJATI] = [503] * 5
    slow = Backoff(budget=3600, base=600, cap=600)  # a pause far longer than the test

    async def scenario() -> None:
        async with delivering(receiver, slow, draw=lambda: 1.0) as harness:
            harness.dispatcher.offer(case_record(0))
            await until(lambda: harness.count(KEJATI, "retried") == 1)
            harness.dispatcher.close([("cases", 0)])
            await harness.drained()
            await harness.dispatcher.settle(5)
            # Neither delivered nor dead-lettered: the commit stays before it.
            assert harness.letters == []
            assert harness.tracker.commits() == {("cases", 0): 0}

    run(scenario)
    assert len(receiver.requests) == 1


def test_settle_waits_for_the_attempt_under_way_and_counts_it() -> None:
    receiver = Receiver()
    receiver.held[KEJATI] = asyncio.Event()

    async def scenario() -> None:
        async with delivering(receiver) as harness:
            harness.dispatcher.offer(case_record(0))
            harness.dispatcher.offer(case_record(1, case_id="11"))
            await until(lambda: len(receiver.requests) == 1)
            harness.dispatcher.close([("cases", 0)])
            settled = asyncio.create_task(harness.dispatcher.settle(20))
            await asyncio.sleep(0.05)
            assert not settled.done()
            receiver.held[KEJATI].set()
            await settled
            # The first finished during the rebalance and counts; the second was not tried.
            assert harness.tracker.commits() == {("cases", 0): 1}

    run(scenario)
    assert receiver.ids(KEJATI) == ["case:kejati-jateng:10:0"]


def test_a_dead_letter_kafka_refuses_stops_the_dispatcher() -> None:
    receiver = Receiver()
    receiver.answers[KEJATI] = [400]

    async def scenario() -> None:
        async with delivering(receiver) as harness:

            async def refused(key: bytes, value: bytes) -> None:
                raise RuntimeError("the broker is away")

            harness.dispatcher.dead_letters = refused
            harness.dispatcher.offer(case_record(0))
            await until(lambda: harness.dispatcher.failure is not None)
            with pytest.raises(RuntimeError, match="the broker is away"):
                harness.dispatcher.check()
            assert harness.tracker.commits() == {("cases", 0): 0}

    run(scenario)


class HeldLetters:
    """Dead letters that reach Kafka only once `written` is set."""

    def __init__(self) -> None:
        self.written = asyncio.Event()
        self.letters: list[tuple[bytes, Any]] = []

    async def __call__(self, key: bytes, value: bytes) -> None:
        await self.written.wait()
        self.letters.append((key, orjson.loads(value)))


def test_a_failing_lane_at_its_bound_dead_letters_the_next_event_without_an_attempt(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(lanes, "LANE_BACKLOG", 2)
    monkeypatch.setattr(lanes, "OUTAGE_SECONDS", 0)
    receiver = Receiver()
    receiver.answers[KEJATI] = [503]
    events = [complaint() for _ in range(4)]

    async def scenario() -> None:
        async with delivering(receiver, SLOW, draw=lambda: 1.0) as harness:
            dispatcher = harness.dispatcher
            held = HeldLetters()
            dispatcher.dead_letters = held
            dispatcher.offer(complaint_record(events[0], 0))
            dispatcher.offer(complaint_record(events[1], 1))
            await until(lambda: harness.count(KEJATI, "retried") == 1)
            # Failing, with two events waiting: the third is not queued.
            dispatcher.offer(complaint_record(events[2], 2))
            assert dispatcher.lanes[KEJATI].waiting == 2
            settled = asyncio.create_task(dispatcher.settle(20))
            await asyncio.sleep(0.05)
            # Until Kafka has its dead letter, the event is not done, and settle waits for it.
            assert not settled.done()
            assert harness.tracker.pending() == 3
            held.written.set()
            await settled
            ((key, letter),) = held.letters
            assert key == f"kejati-jateng:{events[2]['event_id']}".encode()
            assert (letter["reason"], letter["attempts"], letter["status"]) == (
                "backlog_full",
                0,
                None,
            )
            assert (
                letter["error"] == "not attempted: 2 events already waited for the failing endpoint"
            )
            assert harness.count(KEJATI, "dead_lettered") == 1
            assert harness.tracker.pending() == 2
            # The endpoint answers again: the lane takes events again, behind those it held.
            dispatcher.lanes[KEJATI].wake.set()
            await until(lambda: not dispatcher.lanes[KEJATI].failing)
            dispatcher.offer(complaint_record(events[3], 3))
            await harness.drained()
            assert harness.tracker.commits() == {("complaints.kejati-jateng", 0): 4}

    run(scenario)
    ids = [event["event_id"] for event in events]
    assert receiver.ids(KEJATI) == [ids[0], ids[0], ids[1], ids[3]]


def test_a_backlog_dead_letter_kafka_refuses_stops_the_dispatcher(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(lanes, "LANE_BACKLOG", 1)
    monkeypatch.setattr(lanes, "OUTAGE_SECONDS", 0)
    receiver = Receiver()
    receiver.answers[KEJATI] = [503]

    async def scenario() -> None:
        async with delivering(receiver, SLOW, draw=lambda: 1.0) as harness:

            async def refused(key: bytes, value: bytes) -> None:
                raise RuntimeError("the broker is away")

            harness.dispatcher.dead_letters = refused
            harness.dispatcher.offer(case_record(0))
            await until(lambda: harness.count(KEJATI, "retried") == 1)
            harness.dispatcher.offer(case_record(1, case_id="11"))
            await until(lambda: harness.dispatcher.failure is not None)
            with pytest.raises(RuntimeError, match="the broker is away"):
                harness.dispatcher.check()
            assert harness.tracker.pending() == 2

    run(scenario)


def test_what_the_dispatcher_holds_leaves_out_a_failing_lane_and_counts_the_others(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(lanes, "OUTAGE_SECONDS", 0)
    receiver = Receiver()
    receiver.answers[KEJATI] = [503]
    receiver.held[PT] = asyncio.Event()

    async def scenario() -> None:
        async with delivering(receiver, SLOW, draw=lambda: 1.0) as harness:
            dispatcher = harness.dispatcher
            for offset in range(3):
                dispatcher.offer(case_record(offset, case_id=str(offset)))
            dispatcher.offer(case_record(3, agency=PT))
            dispatcher.offer(case_record(4, agency=PT, case_id="14"))
            assert dispatcher.holding() == 5  # no endpoint failed yet
            await until(lambda: harness.count(KEJATI, "retried") == 1)
            # kejati's three wait for an endpoint that fails; pt-semarang's two still count.
            assert dispatcher.holding() == 2
            assert harness.tracker.pending() == 5

    run(scenario)


class PausingConsumer:
    """One poll of `_read`'s loop: records whether it paused or resumed the partitions, then
    polled."""

    def __init__(self, stop: asyncio.Event) -> None:
        self.stop = stop
        self.calls: list[str] = []

    def assignment(self) -> set[TopicPartition]:
        return {TopicPartition("cases", 0)}

    def pause(self, *partitions: TopicPartition) -> None:
        self.calls.append("pause")

    def paused(self) -> set[TopicPartition]:
        return set()

    def resume(self, *partitions: TopicPartition) -> None:
        self.calls.append("resume")

    async def getmany(self, timeout_ms: int, max_records: int) -> dict[TopicPartition, Any]:
        self.calls.append("poll")
        self.stop.set()
        return {}


def test_a_lane_failing_for_less_than_an_outage_keeps_its_events_and_counts_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(lanes, "LANE_BACKLOG", 1)
    receiver = Receiver()
    receiver.answers[KEJATI] = [503]
    seconds = iter([0.0, 0.0, 1.0, 1.0])  # the dispatcher's looks at its clock

    async def scenario() -> None:
        async with delivering(
            receiver, SLOW, draw=lambda: 1.0, clock=lambda: next(seconds)
        ) as harness:
            dispatcher = harness.dispatcher
            dispatcher.offer(case_record(0))  # read at 0 s, failed at 0 s
            await until(lambda: harness.count(KEJATI, "retried") == 1)
            dispatcher.offer(case_record(1, case_id="11"))  # read at 1 s: queued, not skipped
            assert dispatcher.lanes[KEJATI].waiting == 2
            assert dispatcher.holding() == 2  # at 1 s: the lane still counts
            assert harness.letters == []
            assert not dispatcher.lanes[KEJATI].down(9.0)
            assert dispatcher.lanes[KEJATI].down(10.0)

    run(scenario)


def test_reading_waits_for_endpoints_that_answer_and_dead_letters_not_for_a_failing_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(webhooks, "MOST_PENDING", 2)
    monkeypatch.setattr(webhooks, "MOST_WRITING", 1)
    monkeypatch.setattr(lanes, "LANE_BACKLOG", 3)
    monkeypatch.setattr(lanes, "OUTAGE_SECONDS", 0)
    receiver = Receiver()
    receiver.answers[KEJATI] = [503]
    receiver.held[PT] = asyncio.Event()

    async def poll(dispatcher: Dispatcher, consumer: PausingConsumer) -> list[str]:
        follower = asyncio.create_task(asyncio.Event().wait())
        await _read(consumer, dispatcher, follower, consumer.stop, "refused")  # type: ignore[arg-type]
        follower.cancel()
        return consumer.calls

    async def scenario() -> None:
        async with delivering(receiver, SLOW, draw=lambda: 1.0) as harness:
            dispatcher = harness.dispatcher
            held = HeldLetters()
            dispatcher.dead_letters = held
            for offset in range(3):
                dispatcher.offer(case_record(offset, case_id=str(offset)))
            await until(lambda: harness.count(KEJATI, "retried") == 1)
            # Three events pending, none for an endpoint that answers.
            assert await poll(dispatcher, PausingConsumer(asyncio.Event())) == ["resume", "poll"]
            # A dead letter of an event kejati's lane had no room for: no reading until Kafka
            # has it.
            dispatcher.offer(case_record(3, case_id="13"))
            consumer = PausingConsumer(asyncio.Event())
            polled = asyncio.create_task(poll(dispatcher, consumer))
            await asyncio.sleep(0.05)
            assert consumer.calls == []
            held.written.set()
            assert await polled == ["resume", "poll"]
            dispatcher.offer(case_record(4, agency=PT))
            dispatcher.offer(case_record(5, agency=PT, case_id="15"))
            assert await poll(dispatcher, PausingConsumer(asyncio.Event())) == ["pause", "poll"]

    run(scenario)


def test_secrets_are_never_logged(caplog: pytest.LogCaptureFixture) -> None:
    receiver = Receiver()
    receiver.answers[KEJATI] = [503, 400]
    caplog.set_level(logging.DEBUG)

    async def scenario() -> None:
        async with delivering(receiver) as harness:
            harness.dispatcher.offer(case_record(0))
            await harness.drained()

    run(scenario)
    assert caplog.records
    assert all(SECRETS[KEJATI].decode() not in record.getMessage() for record in caplog.records)


WEBHOOK_REGISTRY = (
    ONE_AGENCY
    + """\
    webhook:
      url: https://kejati.example.go.id/aduan
      secret_file: {path}
  - id: pt-semarang
    name: Pengadilan Tinggi Semarang
    accounts:
      - id: "3001"
        username: PT_Semarang
"""
)


def test_endpoints_are_read_with_their_secrets(tmp_path: Path) -> None:
    path = tmp_path / "kejati.secret"
    path.write_bytes(SECRETS[KEJATI] + b"\n")
    registry = parse_registry(WEBHOOK_REGISTRY.format(path=path), "test")
    endpoints = read_endpoints(registry)
    assert endpoints == {KEJATI: Endpoint("https://kejati.example.go.id/aduan", SECRETS[KEJATI])}
    assert SECRETS[KEJATI].decode() not in repr(endpoints)


def test_a_missing_secret_file_names_the_agency_the_file_and_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "missing.secret"
    registry = parse_registry(WEBHOOK_REGISTRY.format(path=path), "test")
    with pytest.raises(WebhookError, match=r"agency 'kejati-jateng'.*missing\.secret.*openssl"):
        read_endpoints(registry)


def test_a_short_secret_is_refused_without_showing_it(tmp_path: Path) -> None:
    path = tmp_path / "short.secret"
    path.write_text("hunter2\n")
    registry = parse_registry(WEBHOOK_REGISTRY.format(path=path), "test")
    with pytest.raises(WebhookError, match="fewer than 16 characters") as info:
        read_endpoints(registry)
    assert "hunter2" not in str(info.value)


def test_the_pattern_reads_every_agencys_complaints_and_the_cases() -> None:
    read = ["complaints.kejati-jateng", "complaints.a-new-agency", "cases"]
    skipped = ["complaints.unrouted", "cases.x", "mentions.raw", "replay-1.complaints.x"]
    assert [bool(TOPICS.match(topic)) for topic in read + skipped] == [True] * 3 + [False] * 4


class FakeConsumer:
    def __init__(self, refuse: bool = False) -> None:
        self.commits: list[dict[TopicPartition, int]] = []
        self.refuse = refuse

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        if self.refuse:
            raise aiokafka.errors.CommitFailedError("the group rebalanced")
        self.commits.append(offsets)


def test_a_rebalance_commits_what_finished_then_forgets_the_partitions() -> None:
    receiver = Receiver()
    receiver.held[KEJATI] = asyncio.Event()

    async def scenario() -> None:
        async with delivering(receiver) as harness:
            consumer = FakeConsumer()
            listener = _Rebalance(consumer, harness.dispatcher)
            harness.dispatcher.offer(case_record(0))
            harness.dispatcher.offer(case_record(1, agency=PT))
            harness.dispatcher.offer(case_record(2, case_id="12"))
            await until(lambda: len(receiver.requests) == 2)
            revoked = asyncio.create_task(
                listener.on_partitions_revoked([TopicPartition("cases", 0)])
            )
            await asyncio.sleep(0.05)
            assert not revoked.done()  # waiting for kejati's attempt under way
            receiver.held[KEJATI].set()
            await revoked
            assert consumer.commits == [{TopicPartition("cases", 0): 2}]
            assert harness.tracker.read(("cases", 0), 2) is None  # no longer held
            await listener.on_partitions_assigned([TopicPartition("cases", 0)])
            assert harness.tracker.read(("cases", 0), 2) is not None

    run(scenario)
    assert receiver.ids(KEJATI) == ["case:kejati-jateng:10:0"]


def test_a_failed_commit_is_tried_again_at_the_next_one(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        tracker = OffsetTracker()
        tracker.assign([("cases", 0)])
        token = tracker.read(("cases", 0), 0)
        assert token is not None
        tracker.done(token)
        refusing = FakeConsumer(refuse=True)
        await _commit(refusing, tracker)
        assert tracker.commits() == {("cases", 0): 1}
        consumer = FakeConsumer()
        await _commit(consumer, tracker)
        assert consumer.commits == [{TopicPartition("cases", 0): 1}]
        assert tracker.commits() == {}

    run(scenario)
    assert "committing delivered offsets failed" in caplog.text


class FakeKafka:
    """Just enough of aiokafka's consumer and producer for the runner: one batch of records on
    `cases` partition 0, then nothing; commits and dead letters recorded."""

    def __init__(self, records: list[Record], on_idle: Callable[[], Any]) -> None:
        self.records = records
        self.on_idle = on_idle
        self.listener: Any = None
        self.assigned: set[TopicPartition] = set()
        self.commits: list[dict[TopicPartition, int]] = []
        self.sent: list[tuple[str, bytes, bytes]] = []
        self.stopped: list[str] = []

    # The consumer.
    def subscribe(self, pattern: str, listener: Any) -> None:
        assert pattern == TOPICS.pattern
        self.listener = listener

    async def start(self) -> None:
        pass

    def assignment(self) -> set[TopicPartition]:
        return self.assigned

    def pause(self, *partitions: TopicPartition) -> None:
        pass

    def paused(self) -> set[TopicPartition]:
        return set()

    def resume(self, *partitions: TopicPartition) -> None:
        pass

    async def getmany(self, timeout_ms: int, max_records: int) -> dict[TopicPartition, Any]:
        if not self.assigned:
            self.assigned = {TopicPartition("cases", 0)}
            await self.listener.on_partitions_assigned(list(self.assigned))
        if self.records:
            batch, self.records = self.records, []
            return {TopicPartition("cases", 0): batch}
        await asyncio.sleep(0.01)
        await self.on_idle()
        return {}

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.commits.append(offsets)

    async def stop(self) -> None:
        self.stopped.append("consumer")


class FakeProducer:
    def __init__(self, kafka: FakeKafka) -> None:
        self.kafka = kafka

    async def start(self) -> None:
        pass

    async def send_and_wait(self, topic: str, value: bytes, key: bytes) -> None:
        self.kafka.sent.append((topic, key, value))

    async def stop(self) -> None:
        self.kafka.stopped.append("producer")


def test_the_runner_delivers_serves_metrics_commits_and_stops_on_sigterm(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    receiver = Receiver()
    receiver.answers[PT] = [400]
    port = unused_port()
    seen: dict[str, str] = {}

    async def scenario() -> None:
        server = TestServer(receiver.app, host="127.0.0.1")
        await server.start_server()

        async def on_idle() -> None:
            if len(receiver.requests) < 2 or not kafka.sent:
                return
            async with aiohttp.ClientSession() as client:
                for path in ("/readyz", "/metrics"):
                    async with client.get(f"http://localhost:{port}{path}") as response:
                        seen[path] = f"{response.status} {await response.text()}"
            os.kill(os.getpid(), signal.SIGTERM)

        kafka = FakeKafka([case_record(0), case_record(1, agency=PT)], on_idle)
        monkeypatch.setattr(webhooks, "aiokafka_consumer", lambda *_, **__: kafka)
        monkeypatch.setattr(webhooks, "AIOKafkaProducer", lambda **_: FakeProducer(kafka))

        async def no_registry_versions(*_: Any) -> None:
            await asyncio.Event().wait()

        monkeypatch.setattr(registry_topic, "follow", no_registry_versions)
        settings = SimpleNamespace(
            bootstrap_servers=("localhost:9092",),
            kafka_username="",
            kafka_password="",
            webhook_retry_seconds=3600.0,
            deliver_port=port,
        )
        endpoints = {
            agency: Endpoint(str(server.make_url(f"/{agency}")), SECRETS[agency])
            for agency in SECRETS
        }
        registry = parse_registry(WEBHOOK_REGISTRY.format(path="/unused"), "test")
        await webhooks._deliver(settings, registry, 0, endpoints)  # type: ignore[arg-type]
        await server.close()
        assert kafka.commits[-1] == {TopicPartition("cases", 0): 2}
        ((topic, key, value),) = kafka.sent
        assert (topic, key) == ("webhooks.dlq", b"pt-semarang:case:pt-semarang:10:1")
        assert orjson.loads(value)["reason"] == "refused"
        assert kafka.stopped == ["consumer", "producer"]

    run(scenario)
    assert receiver.ids(KEJATI) == ["case:kejati-jateng:10:0"]
    assert seen["/readyz"] == "200 ready\n"
    assert (
        'aduan_webhook_deliveries_total{agency="kejati-jateng",outcome="delivered"} 1.0'
        in (seen["/metrics"])
    )
