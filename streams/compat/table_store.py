"""Patch (speed): the dedup table's store is written directly, with Faust's expiry kept.

Upstream: a write through a windowed Faust table goes through its window wrappers, its sensors and
a Faust topic send of the changelog record. The agent writes the store itself and sends the
changelog record with the post's events; what makes a window expire is Faust's private
`Collection._maybe_set_key_ttl`, called here as a write through the table would. No upstream issue.

Verified against faust-streaming 0.15.3. Without it the worker is slower
(docs/decisions/0020-dedup-store-written-directly.md); without the expiry call old windows would
never be forgotten.
"""

from __future__ import annotations

from typing import Any

import faust

from streams.compat.upstream import Upstream

KIND = "speed"
UPSTREAM = (
    Upstream("faust.tables.base.Collection._maybe_set_key_ttl", ("self", "key", "partition")),
    Upstream("faust.tables.base.Collection.data"),
)


def write(table: faust.Table[Any, Any], key: Any, value: Any, partition: int) -> None:
    """What a write through the table does to its store and expiry, without sensors or changelog."""
    table.data[key] = value
    table._maybe_set_key_ttl(key, partition)
