"""Patch (correctness): table recovery reads again a changelog partition silent for 30 s.

Upstream: once, in a CI run of the two-worker fault test, the surviving worker's recovery of the two
changelog partitions it had kept as a standby got no record for minutes while a third partition's
records arrived; Faust only logs it, and the worker routed nothing. The cause is not known and no
upstream issue names it. Seeking such a partition again to the last offset recovery applied costs
nothing when it is merely slow: recovery ignores the records it already applied.

Verified against faust-streaming 0.15.3. Without it such a stall would leave the worker routing
nothing until someone restarts it (docs/decisions/0008-recovery-watchdog.md).
"""

from __future__ import annotations

import logging
from collections import Counter
from time import monotonic
from typing import Any

from faust.tables.recovery import Recovery
from faust.types import TP, ConsumerT
from mode import Service

from streams.compat.upstream import Upstream

log = logging.getLogger(__name__)

KIND = "correctness"
_RECOVERY = "faust.tables.recovery.Recovery"
UPSTREAM = (
    Upstream(
        f"{_RECOVERY}.on_rebalance",
        ("self", "assigned", "revoked", "newly_assigned", "generation_id"),
    ),
    Upstream(f"{_RECOVERY}._seek_offsets", ("self", "consumer", "tps", "offsets", "title")),
    Upstream(f"{_RECOVERY}.active_stats", ("self",)),
    Upstream(f"{_RECOVERY}.event_timeout_secs"),
    Upstream(f"{_RECOVERY}.stats_interval"),
    Upstream(f"{_RECOVERY}._active_events_received_at", instance=True),
    Upstream(f"{_RECOVERY}.active_offsets", instance=True),
    Upstream(f"{_RECOVERY}.active_tps", instance=True),
    Upstream(f"{_RECOVERY}.in_recovery", instance=True),
    Upstream(f"{_RECOVERY}.signal_recovery_start"),
)


class SilentPartitionWatchdog(Recovery):
    """Faust's recovery, reading silent changelog partitions again."""

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
