"""Faust's table manager with a fix for a race that lost mentions after a restart
(faust-streaming issue #596, open upstream).

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
"""

from __future__ import annotations

import logging
import os

from faust.tables import TableManager
from faust.tables.recovery import Recovery, ServiceStopped

log = logging.getLogger(__name__)


class _Recovery(Recovery):
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
    """`TableManager` whose recovery holds stream deliveries back until the seek is done."""

    @property
    def recovery(self) -> Recovery:
        if self._recovery is None:
            self._recovery = _Recovery(self.app, self, beacon=self.beacon, loop=self.loop)
        return self._recovery
