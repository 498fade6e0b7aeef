"""Patch (correctness): table recovery holds stream deliveries back until its seek is done.

Upstream: faust-streaming issue #596 (open). Once the tables are restored,
`Recovery.on_recovery_completed` resumes the stream partitions, seeks them to their committed
offsets, and only then resumes flow control, which clears every stream's queue. After a restart the
fetcher is already running (it read the changelog), so the mentions fetched during the seek reach
an agent's queue and are cleared unprocessed and unacknowledged, while the consumer believes it
read them: the worker routes the mentions after them, and either never commits past the hole or
fills it as an offset gap and commits past it, losing those mentions for good.

Suspending flow control first makes those deliveries wait, so that they enter the queues after the
clear; the seek's duplicates that follow are dropped by the consumer or routed again (at least
once, with the same `event_id`). A seek that times out stops the worker (exit 75) to restart, as
resuming then would bring the race back and staying suspended would route nothing.

Verified against faust-streaming 0.15.3. Without it a restarted worker can lose mentions for good
(docs/decisions/0007-suspend-flow-control-during-recovery.md).
"""

from __future__ import annotations

import logging
import os

from faust.tables.recovery import Recovery, ServiceStopped

from streams.compat.upstream import Upstream

log = logging.getLogger(__name__)

KIND = "correctness"
UPSTREAM = (
    Upstream("faust.tables.recovery.Recovery.on_recovery_completed", ("self", "generation_id")),
    Upstream("faust.tables.recovery.ServiceStopped"),
)


class FlowSuspendedRecovery(Recovery):
    """Faust's recovery, suspending flow control before it completes."""

    async def on_recovery_completed(self, generation_id: int = 0) -> None:
        self.app.flow_control.suspend()
        try:
            await super().on_recovery_completed(generation_id)
        except ServiceStopped:
            if self.should_stop:
                raise
            log.critical("seeking the input partitions timed out: stopping the worker to restart")
            os._exit(75)
