"""Faust's table manager with the recovery patches (`recovery_flow`, `recovery_watchdog`)."""

from __future__ import annotations

from faust.tables import TableManager
from faust.tables.recovery import Recovery

from streams.compat.recovery_flow import FlowSuspendedRecovery
from streams.compat.recovery_watchdog import SilentPartitionWatchdog
from streams.compat.upstream import Upstream

KIND = "wiring"
UPSTREAM = (
    Upstream("faust.tables.TableManager.recovery"),
    Upstream("faust.tables.TableManager._recovery", instance=True),
)


class SafeRecovery(FlowSuspendedRecovery, SilentPartitionWatchdog):
    """Faust's recovery with both patches."""


class SafeTableManager(TableManager):
    """`TableManager` whose recovery is `SafeRecovery`."""

    @property
    def recovery(self) -> Recovery:
        if self._recovery is None:
            self._recovery = SafeRecovery(self.app, self, beacon=self.beacon, loop=self.loop)
        return self._recovery
