"""A Faust table whose store the agent writes itself, its changelog records queued for the agent to
send with a batch's events (docs/decisions/0020-dedup-store-written-directly.md)."""

from __future__ import annotations

from functools import cached_property
from typing import Any

import faust


class QueuedChangelog:
    """The queue of changelog records (partition, key, value) of `_table`'s writes."""

    _table: faust.Table[Any, Any]

    def __init__(self) -> None:
        self._changelog: list[tuple[int, bytes, bytes | None]] = []

    @cached_property
    def changelog_topic(self) -> str:
        return self._table.changelog_topic.get_topic_name()

    def take_changelog(self) -> list[tuple[int, bytes, bytes | None]]:
        """The changelog records (partition, key, value) written since the last call."""
        records, self._changelog = self._changelog, []
        return records
