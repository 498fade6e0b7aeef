"""Faust's table manager with two fixes to its recovery. The first is for a race that lost
mentions after a restart (faust-streaming issue #596, open upstream).

Once the tables are restored, Faust's `Recovery.on_recovery_completed` resumes the stream
partitions, seeks them to their committed offsets, and only then resumes flow control, which
clears every stream's queue. After a restart the fetcher is already running (it read the
changelog), so the mentions fetched during the seek reach an agent's queue and are cleared
unprocessed and unacknowledged, while the consumer believes it read them: the worker routes the
mentions after them, and either never commits past the hole or fills it as an offset gap and
commits past it, losing those mentions for good.

Suspending flow control first makes those deliveries wait, so that they enter the queues after the
clear; the seek's duplicates that follow are dropped by the consumer or routed again (at least
once, with the same `event_id`).

A second fix makes recovery read again a changelog partition that gets no record for a while.
Once so far, in a CI run of the two-worker fault test, the surviving worker's recovery of the two
changelog partitions it had kept as a standby never received a record and waited forever (Faust
only logs it); the cause is not known. Seeking such a partition again to the last offset recovery
applied costs nothing when it is merely slow: recovery ignores the records it already applied.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from time import monotonic
from typing import Any

from faust.tables import TableManager
from faust.tables.recovery import Recovery, ServiceStopped
from faust.types import TP, ConsumerT
from mode import Service

log = logging.getLogger(__name__)


class SafeRecovery(Recovery):
    """Faust's recovery, holding deliveries back until its seek is done and reading silent
    changelog partitions again."""

    #: A changelog partition silent this long in recovery is read again; Faust warns at this age.
    silence_secs = Recovery.event_timeout_secs

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sought_at: float | None = None
        """When Faust sought the active partitions in this round of recovery."""
        self._read_again_at: dict[TP, float] = {}

    async def on_rebalance(
        self,
        assigned: set[TP],
        revoked: set[TP],
        newly_assigned: set[TP],
        generation_id: int = 0,
    ) -> None:
        self._sought_at = None
        self._read_again_at.clear()
        await super().on_rebalance(assigned, revoked, newly_assigned, generation_id)

    async def _seek_offsets(
        self, consumer: ConsumerT, tps: set[TP], offsets: Counter[TP], title: str
    ) -> None:
        await super()._seek_offsets(consumer, tps, offsets, title)
        if title == "active" and self._sought_at is None:
            self._sought_at = monotonic()

    @Service.timer(Recovery.stats_interval)
    async def _watch_silent_partitions(self) -> None:
        await self.read_silent_partitions_again(monotonic())

    async def read_silent_partitions_again(self, now: float) -> None:
        silent = self.silent_partitions(now)
        if not silent:
            return
        self._read_again_at.update(dict.fromkeys(silent, now))
        log.warning(
            "recovery got no record of changelog partitions for a while: seeking them again to "
            "the last offset applied (-1: none, from the start): %s",
            ", ".join(
                f"{tp.topic}[{tp.partition}] silent {seconds:.0f} s, at {self.active_offsets[tp]}"
                for tp, seconds in sorted(silent.items())
            ),
        )
        try:
            await self._seek_offsets(self.app.consumer, set(silent), self.active_offsets, "active")
        except Exception as exc:  # the broker away, or a rebalance: try again later
            log.warning("seeking %s again failed: %r", sorted(silent), exc)

    def silent_partitions(self, now: float) -> dict[TP, float]:
        """Seconds of silence of the active changelog partitions still behind that got no record
        for `silence_secs`, since Faust sought them this round or since they were read again."""
        if not self.in_recovery or self._sought_at is None or self.signal_recovery_start.is_set():
            return {}
        silent = {}
        for tp in self.active_stats().keys() & self.active_tps:
            heard = max(
                self._sought_at,
                self._active_events_received_at.get(tp, 0.0),
                self._read_again_at.get(tp, 0.0),
            )
            if now - heard >= self.silence_secs:
                silent[tp] = now - heard
        return silent

    async def on_recovery_completed(self, generation_id: int = 0) -> None:
        self.app.flow_control.suspend()
        try:
            await super().on_recovery_completed(generation_id)
        except ServiceStopped:
            if self.should_stop:
                raise
            # Faust reports a seek that timed out this way and gives up. Resuming flow control
            # now would bring the race back, and staying suspended would route nothing.
            log.critical("seeking the input partitions timed out: stopping the worker to restart")
            os._exit(75)


class SafeTableManager(TableManager):
    """`TableManager` whose recovery holds stream deliveries back until the seek is done and
    reads silent changelog partitions again."""

    @property
    def recovery(self) -> Recovery:
        if self._recovery is None:
            self._recovery = SafeRecovery(self.app, self, beacon=self.beacon, loop=self.loop)
        return self._recovery
