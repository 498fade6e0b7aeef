"""The threads case tracking remembers, in a Faust table: each thread in the partition of its posts
(`mentions.raw` is keyed by conversation, docs/decisions/0031-mentions-keyed-by-conversation.md),
so it survives restarts and rebalances through the table's changelog.

Like the dedup table (`route_mentions.DecidedPosts`), it writes the table's store itself and
queues each write's changelog record, which the agent sends with the post's events."""

from __future__ import annotations

from collections.abc import Callable, Iterator, MutableMapping
from typing import Any, cast

import faust
import orjson

from agents.changelog import QueuedChangelog
from agents.core.cases import CasePost, Thread
from schemas.events import Case

Stored = list[Any]
"""[partition, Thread] once written here; [partition, posts, told] as JSON after recovery."""


class CaseThreads(QueuedChangelog, MutableMapping[str, Thread]):
    """A mapping of thread keys to threads over the table's store; it shows only the threads of
    the partitions this worker is assigned (`assigned`), so that a timer never judges another
    worker's threads."""

    def __init__(self, app: faust.App, assigned: Callable[[], set[int]]) -> None:
        super().__init__()
        self._table = cast(
            faust.Table[str, Stored],
            app.Table(
                "case-threads",
                schema=faust.Schema(key_serializer="json", value_serializer="json"),
            ),
        )
        self._assigned = assigned

    def __getitem__(self, key: str) -> Thread:
        stored = self._table.data[key]
        if self._partition(stored) not in self._assigned():
            raise KeyError(key)
        if not isinstance(stored[1], Thread):  # as recovery decoded it from the changelog
            stored[1:] = [_thread(stored)]
        return cast(Thread, stored[1])

    def __setitem__(self, key: str, thread: Thread) -> None:
        stored = self._table.data.get(key)
        if stored is not None:  # a thread stays in its partition: its key decides where
            partition = self._partition(stored)
        else:
            event = faust.current_event()
            if event is None:
                raise RuntimeError("a new thread is written only while one of its posts is routed")
            partition = event.message.partition
        self._table.data[key] = [partition, thread]
        value = [partition, [post.to_json() for post in thread.posts.values()], thread.told]
        self._changelog.append((partition, orjson.dumps(key), orjson.dumps(value)))

    def __delitem__(self, key: str) -> None:
        partition = self._partition(self._table.data.pop(key))
        self._changelog.append((partition, orjson.dumps(key), None))

    def __iter__(self) -> Iterator[str]:
        assigned = self._assigned()
        return iter(
            [key for key, stored in self._table.data.items() if self._partition(stored) in assigned]
        )

    def __len__(self) -> int:
        return sum(1 for _ in self)

    @staticmethod
    def _partition(stored: Stored) -> int:
        return int(stored[0])


def _thread(stored: Stored) -> Thread:
    _partition, posts, told = stored
    thread = Thread()
    for row in posts:
        post = CasePost.from_json(row)
        thread.posts[post.tweet_id] = post
    thread.told = cast(dict[str, Case], told)
    return thread
