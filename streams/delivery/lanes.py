"""One lane per agency: a queue and an asyncio task that POSTs the agency's events to its webhook
one at a time, in the order read, retrying and dead-lettering as `Backoff` says. One agency's slow
or dead endpoint holds up its own lane only. No Kafka here: `streams.delivery.webhooks` feeds the
lanes from the topics and commits what `OffsetTracker` allows."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from streams.delivery.backoff import Backoff, worth_retrying
from streams.delivery.endpoints import Attempt, DeadLetters, Endpoint, Post
from streams.delivery.offsets import OffsetTracker, Token
from streams.delivery.signing import DeadLetterReason, Delivery, Record, dead_letter, delivery_of
from streams.delivery.webhook_metrics import WebhookMetrics

log = logging.getLogger(__name__)


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
        lane.put(_Queued(delivery, token, self.clock()))

    def close(self, partitions: list[tuple[str, int]]) -> None:
        """Partitions about to move away: no new attempts for their events; lanes pausing
        between attempts wake to drop theirs."""
        self.tracker.close(partitions)
        for lane in self.lanes.values():
            lane.wake.set()

    async def settle(self, timeout: float) -> None:
        """Returns once no attempt or dead letter is under way, or after `timeout` seconds."""
        waits = [lane.idle.wait() for lane in self.lanes.values()]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*waits), timeout)

    def check(self) -> None:
        """Raises the error that stopped a lane, if one did."""
        if self.failure is not None:
            raise self.failure

    async def stop(self) -> None:
        tasks = [lane.task for lane in self.lanes.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


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
        self.task = asyncio.create_task(self._run(), name=f"aduan-webhook-{agency}")
        self.task.add_done_callback(self._stopped)

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

    def _stopped(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self.d.failure = task.exception()

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
        if failures == 0 and self.failing and d.clock() - item.read_at >= d.backoff.budget:
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
            self.failing = False
            d.tracker.done(item.token)
            return None
        d.metrics.failed_attempts.labels(self.agency, attempt.cause).inc()
        if not self.failing:
            log.warning("the webhook of %s failed: %s", self.agency, attempt.error)
        self.failing = True
        retry = worth_retrying(attempt.status)
        pause = d.backoff.wait(failures + 1, item.read_at, d.clock(), d.draw()) if retry else None
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
        log.warning(
            "gave up on %s %s for %s after %d attempts (%s: %s); it is in the dead letters",
            item.delivery.type,
            item.delivery.event_id,
            self.agency,
            attempts,
            reason,
            error,
        )
        self.d.tracker.done(item.token)
