"""Patch (correctness): an input offset is committed only once its mention was processed.

Upstream: faust-streaming's `Consumer` counts the offsets a fetch jumps over as a gap (as compaction
leaves) and commits past it, and takes the committed offset for the last one processed. Records
fetched before the seek at the end of a rebalance reached the agent after it, so a worker could get
a later record first and commit past it: the posts between its committed offset and that record were
never routed (docs/decisions/0006-contiguous-commits.md). No upstream issue covers this exact race;
faust-streaming #596 is the related recovery race (`recovery_flow.py`).

Here a partition's commit moves only over an unbroken run of processed offsets starting at the
committed one (`mentions.raw` has no gaps in normal use: no compaction, no transactions), also
while a revocation has Faust forget the committed offsets. When one is missing, the partition is
read again from the committed offset at the next fetch, unless retention deleted the offsets, which
are then skipped with an error. A partition never committed counts as committed at its earliest
offset.

Verified against faust-streaming 0.15.3 with aiokafka 0.14.0. Without it a rebalance or a restart
can lose mentions for good.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Set
from typing import Any

from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP, Message

from streams.compat.upstream import Upstream

log = logging.getLogger(__name__)

KIND = "correctness"
_CONSUMER = "faust.transport.drivers.aiokafka.Consumer"
UPSTREAM = (
    Upstream(f"{_CONSUMER}._new_offset", ("self", "tp")),
    Upstream(f"{_CONSUMER}._add_gap", ("self", "tp", "offset_from", "offset_to")),
    Upstream(f"{_CONSUMER}.on_partitions_revoked", ("self", "revoked")),
    Upstream(f"{_CONSUMER}.perform_seek", ("self",)),
    Upstream(f"{_CONSUMER}.getmany", ("self", "timeout")),
    Upstream(f"{_CONSUMER}.earliest_offsets", ("self", "partitions")),
    Upstream(f"{_CONSUMER}.seek_wait", ("self", "partitions")),
    Upstream(f"{_CONSUMER}._acked", instance=True),
    Upstream(f"{_CONSUMER}._acked_index", instance=True),
    Upstream(f"{_CONSUMER}._committed_offset", instance=True),
)


class ContiguousCommits(faust_aiokafka.Consumer):
    """Faust's aiokafka consumer, committing only over unbroken runs of processed offsets."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._unprocessed: set[TP] = set()  # to read again from the committed offset
        self._committed_before_revoke: dict[TP, int] = {}

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
