"""One lane per agency: a queue and an asyncio task that POSTs the agency's events to its webhook
one at a time, in the order read, retrying and dead-lettering as `Backoff` says. One agency's slow
or dead endpoint holds up its own lane only; one down for `OUTAGE_SECONDS` queues nothing past
`LANE_BACKLOG` events. No Kafka here: `streams.delivery.webhooks` feeds the lanes from the topics
and commits what `OffsetTracker` allows."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from streams.delivery.backoff import Backoff, worth_retrying
from streams.delivery.endpoints import Attempt, DeadLetters, Endpoint, Post
from streams.delivery.offsets import OffsetTracker, Token
from streams.delivery.signing import DeadLetterReason, Delivery, Record, dead_letter, delivery_of
from streams.delivery.webhook_metrics import WebhookMetrics

log = logging.getLogger(__name__)

LANE_BACKLOG = 10_000
"""Events a lane holds once its endpoint has failed for `OUTAGE_SECONDS`; each further event of
the agency goes to the dead letters at once (`backlog_full`). A dead endpoint so takes bounded
memory, and is left out of
`webhooks.MOST_PENDING`, which would otherwise pause every agency's reading for it. Large enough
that an endpoint back after a short outage misses nothing, small beside `MOST_PENDING`."""
OUTAGE_SECONDS = 10.0
"""How long an endpoint fails before its lane is bounded: one 503 of an endpoint that is busy
with a first start's backlog is no outage, and costs it no event."""


@dataclass(frozen=True, slots=True)
class _Queued:
    delivery: Delivery
    token: Token
    read_at: float
    """When it was read (the dispatcher's clock): its retry time counts from then."""


class Dispatcher:
    """Hands each record read to its agency's lane, and marks done at once what no webhook
    receives, so that the offset tracker knows what may be committed."""

    def __init__(
        self,
        post: Post,
        dead_letters: DeadLetters,
        backoff: Backoff,
        metrics: WebhookMetrics,
        tracker: OffsetTracker,
        *,
        clock: Callable[[], float] = time.monotonic,
        draw: Callable[[], float] = random.random,
    ) -> None:
        self.post = post
        self.dead_letters = dead_letters
        self.backoff = backoff
        self.metrics = metrics
        self.tracker = tracker
        self.clock = clock
        self.draw = draw
        self.lanes: dict[str, Lane] = {}
        self.failure: BaseException | None = None
        """Why a lane stopped (a dead letter Kafka did not take): the runner stops on it."""
        self.writing: set[asyncio.Task[None]] = set()
        """Dead letters of events no lane had room for, on their way to Kafka."""

    def use(self, endpoints: Mapping[str, Endpoint]) -> None:
        """The webhooks from now on: a lane for each new one; a lane whose webhook was removed
        drops its waiting events."""
        for agency, lane in self.lanes.items():
            endpoint = endpoints.get(agency)
            if endpoint != lane.endpoint:
                lane.endpoint = endpoint
                lane.wake.set()  # a pause between attempts ends: the next uses the new one
        for agency, endpoint in endpoints.items():
            if agency not in self.lanes:
                self.lanes[agency] = Lane(agency, endpoint, self)
                self.metrics.agency(agency)

    def offer(self, record: Record) -> None:
        """A record read from a complaint topic or `cases`, in the order of its partition."""
        token = self.tracker.read((record.topic, record.partition), record.offset)
        if token is None:
            return
        try:
            delivery = delivery_of(record)
        except ValueError as exc:
            log.warning("skipped: %s", exc)
            delivery = None
        lane = None if delivery is None else self.lanes.get(delivery.agency_id)
        if delivery is None or lane is None or lane.endpoint is None:
            self.tracker.done(token)
            return
        item = _Queued(delivery, token, self.clock())
        if lane.down(item.read_at) and lane.waiting >= LANE_BACKLOG:
            lane.skip(item, lane.endpoint)
        else:
            lane.put(item)

    def holding(self) -> int:
        """The events that count against reading on (`webhooks.MOST_PENDING`): those waiting for
        an endpoint that answers, the one being attempted included. The events of an endpoint
        down for `OUTAGE_SECONDS` do not count: `LANE_BACKLOG` bounds them, and they must not
        pause the other agencies."""
        now = self.clock()
        return sum(lane.waiting for lane in self.lanes.values() if not lane.down(now))

    def close(self, partitions: list[tuple[str, int]]) -> None:
        """Partitions about to move away: no new attempts for their events; lanes pausing
        between attempts wake to drop theirs."""
        self.tracker.close(partitions)
        for lane in self.lanes.values():
            lane.wake.set()

    async def settle(self, timeout: float) -> None:
        """Returns once no attempt or dead letter is under way, or after `timeout` seconds."""
        waits: list[Awaitable[object]] = [lane.idle.wait() for lane in self.lanes.values()]
        if self.writing:  # asyncio.wait refuses an empty set
            waits.append(asyncio.wait(set(self.writing)))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*waits), timeout)

    def check(self) -> None:
        """Raises the error that stopped a lane, if one did."""
        if self.failure is not None:
            raise self.failure

    async def stop(self) -> None:
        tasks = [lane.task for lane in self.lanes.values()] + list(self.writing)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def spawn(self, letter: Coroutine[Any, Any, None]) -> None:
        """Writes a dead letter in a task of its own, which `settle` waits for and whose error
        `check` raises."""
        task = asyncio.create_task(letter)
        self.writing.add(task)
        task.add_done_callback(self.writing.discard)
        task.add_done_callback(self.ended)

    def ended(self, task: asyncio.Task[None]) -> None:
        """A lane's task or a dead letter's ended: an error is kept for `check`."""
        if not task.cancelled() and task.exception() is not None:
            self.failure = task.exception()


class Lane:
    """An agency's queue, and the task that delivers its events one at a time."""

    def __init__(self, agency: str, endpoint: Endpoint | None, dispatcher: Dispatcher) -> None:
        self.agency = agency
        self.endpoint = endpoint
        self.d = dispatcher
        self.queue: asyncio.Queue[_Queued] = asyncio.Queue()
        self.waiting = 0
        self.idle = asyncio.Event()
        """Set while no attempt or dead letter is under way."""
        self.idle.set()
        self.wake = asyncio.Event()
        """Ends a pause between attempts early."""
        self.failing = False
        """The endpoint's last attempt failed."""
        self.failing_since: float | None = None
        """When the endpoint's attempts worth retrying began to fail (the dispatcher's clock)."""
        self.skipping = False
        """Events are going to the dead letters for want of room, since the endpoint failed."""
        self.task = asyncio.create_task(self._run(), name=f"aduan-webhook-{agency}")
        self.task.add_done_callback(dispatcher.ended)

    def down(self, now: float) -> bool:
        """Whether the endpoint has failed for `OUTAGE_SECONDS` by `now`."""
        return self.failing_since is not None and now - self.failing_since >= OUTAGE_SECONDS

    def put(self, item: _Queued) -> None:
        self.queue.put_nowait(item)
        self.waiting += 1
        self.d.metrics.pending.labels(self.agency).set(self.waiting)

    async def _run(self) -> None:
        while True:
            item = await self.queue.get()
            await self._deliver(item)
            self.waiting -= 1
            self.d.metrics.pending.labels(self.agency).set(self.waiting)

    def skip(self, item: _Queued, endpoint: Endpoint) -> None:
        """An event read while the endpoint fails and `LANE_BACKLOG` events wait: a dead letter
        without an attempt, written beside the lane's task, which is busy retrying."""
        if not self.skipping:
            log.warning(
                "the webhook of %s still fails and %d events wait for it: further events go to "
                "the dead letters without an attempt until it answers",
                self.agency,
                self.waiting,
            )
            self.skipping = True
        error = f"not attempted: {LANE_BACKLOG} events already waited for the failing endpoint"
        self.d.spawn(self._dead_letter(item, endpoint, "backlog_full", error))

    async def _deliver(self, item: _Queued) -> None:
        failures = 0
        while True:
            # Cleared before the checks: a change during the attempt cuts the pause after it.
            self.wake.clear()
            if not self.d.tracker.owned(item.token):
                return  # its partition moved away: the partition's next reader delivers it
            endpoint = self.endpoint
            if endpoint is None:  # the agency's webhook was removed from the registry
                self.d.tracker.done(item.token)
                return
            self.idle.clear()
            try:
                pause = await self._attempt(item, endpoint, failures)
            finally:
                self.idle.set()
            if pause is None:
                return
            failures += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), pause)

    async def _attempt(self, item: _Queued, endpoint: Endpoint, failures: int) -> float | None:
        """One attempt; the pause before the next one, or None once the event is delivered or
        dead-lettered."""
        d = self.d
        if (
            failures == 0
            and self.failing_since is not None
            and d.clock() - item.read_at >= d.backoff.budget
        ):
            # Its whole retry time went by in the queue behind events the endpoint failed.
            await self._give_up(item, endpoint, "retries_exhausted", None, 0)
            return None
        attempt = await d.post(endpoint, item.delivery)
        if attempt.delivered:
            lag = time.time() - item.delivery.timestamp_ms / 1000
            d.metrics.deliveries.labels(self.agency, "delivered").inc()
            d.metrics.lag.labels(self.agency).observe(max(0.0, lag))
            if self.failing:
                log.info("the webhook of %s answers again", self.agency)
            self.failing = self.skipping = False
            self.failing_since = None
            d.tracker.done(item.token)
            return None
        d.metrics.failed_attempts.labels(self.agency, attempt.cause).inc()
        if not self.failing:
            log.warning("the webhook of %s failed: %s", self.agency, attempt.error)
        self.failing = True
        retry = worth_retrying(attempt.status)
        pause = None
        if retry:
            now = d.clock()
            if self.failing_since is None:
                self.failing_since = now
            pause = d.backoff.wait(failures + 1, item.read_at, now, d.draw())
        if pause is None:
            reason: DeadLetterReason = "retries_exhausted" if retry else "refused"
            await self._give_up(item, endpoint, reason, attempt, failures + 1)
            return None
        d.metrics.deliveries.labels(self.agency, "retried").inc()
        return pause

    async def _give_up(
        self,
        item: _Queued,
        endpoint: Endpoint,
        reason: DeadLetterReason,
        attempt: Attempt | None,
        attempts: int,
    ) -> None:
        error = (
            attempt.error
            if attempt is not None
            else f"not attempted: it waited over {self.d.backoff.budget:g} s behind events the "
            "endpoint failed"
        )
        await self._dead_letter(item, endpoint, reason, error, attempt=attempt, attempts=attempts)
        log.warning(
            "gave up on %s %s for %s after %d attempts (%s: %s); it is in the dead letters",
            item.delivery.type,
            item.delivery.event_id,
            self.agency,
            attempts,
            reason,
            error,
        )

    async def _dead_letter(
        self,
        item: _Queued,
        endpoint: Endpoint,
        reason: DeadLetterReason,
        error: str,
        *,
        attempt: Attempt | None = None,
        attempts: int = 0,
    ) -> None:
        """Writes the event's dead letter and, once Kafka has it, marks the event done."""
        key, value = dead_letter(
            item.delivery,
            endpoint.url,
            reason=reason,
            error=error,
            status=None if attempt is None else attempt.status,
            response=b"" if attempt is None else attempt.response,
            attempts=attempts,
            failed_at=datetime.now(UTC),
        )
        await self.d.dead_letters(key, value)
        self.d.metrics.deliveries.labels(self.agency, "dead_lettered").inc()
        self.d.tracker.done(item.token)
