"""Every reach of aduan into a dependency's private parts, one module per patch.

Each patch module's docstring names the upstream behaviour it changes, the upstream issue, the
versions it was verified against and what goes wrong without it; `KIND` says whether it is there
for correctness or speed, and `UPSTREAM` lists what it relies on, checked by the unit suite and by
`python3 -m streams.compat`. `guard.check_versions` refuses to start on a version no patch was
verified against. docs/compatibility.md is the reader's guide.
"""

from __future__ import annotations

PATCHES = (
    "contiguous_commits",
    "recovery_flow",
    "recovery_watchdog",
    "current_event",
    "consumer_on_loop",
    "fetch_max_wait",
    "handover_at_once",
    "wake_on_buffer_drop",
    "stream_sleep",
    "direct_produce",
    "table_store",
    "sensors",
    "kafka_connected",
    "tables",
    "transport",
)
"""The modules of `streams.compat` that reach into a dependency (`tables` and `transport` wire
the patches into Faust)."""
