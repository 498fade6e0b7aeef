"""Posts from the X API v2 by polling two timelines of each agency account through tweepy: its
mentions (the complaints) and its own posts (the agency's answers), each from its own `since_id`
checkpoint; one message per post to the `Sink`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Literal, Protocol

import orjson
import tweepy

from agents.core.registry import Account, Registry
from agents.core.split import split_line
from streams.x.api import FIELDS, RegistryUpdates, Sink, refused
from streams.x.reads import PostReads

log = logging.getLogger(__name__)

Timeline = Literal["mentions", "posts"]

TIMELINES: tuple[Timeline, ...] = ("mentions", "posts")
"""What one round reads of each account, in this order."""


class Checkpoints(Protocol):
    """The newest post id already produced, per agency account and timeline."""

    def get(self, account_id: str, timeline: Timeline) -> str | None: ...

    def put(self, account_id: str, timeline: Timeline, since_id: str) -> None: ...


def poll_once(
    client: tweepy.Client,
    registry: Registry,
    checkpoints: Checkpoints,
    sink: Sink,
    flush: Callable[[], None],
    *,
    reads: PostReads | None = None,
) -> int:
    """One round over both timelines of every agency account; returns the posts produced.

    The timeline pages run from newest to oldest, so a timeline's checkpoint moves to the newest
    id only after every page was produced and `flush` saw Kafka acknowledge them all: a crash in
    between fetches the same posts again, and the worker drops them as duplicates. `reads`
    counts every post of every page as X returned it, and is stored with each checkpoint."""
    produced = 0
    for agency in registry.agencies:
        for account in agency.accounts:
            for timeline in TIMELINES:
                produced += _poll_timeline(
                    client,
                    account,
                    timeline,
                    checkpoints=checkpoints,
                    sink=sink,
                    flush=flush,
                    reads=reads,
                )
    return produced


def _poll_timeline(
    client: tweepy.Client,
    account: Account,
    timeline: Timeline,
    *,
    checkpoints: Checkpoints,
    sink: Sink,
    flush: Callable[[], None],
    reads: PostReads | None,
) -> int:
    """One timeline of `account` from its checkpoint; returns the posts produced."""
    options: dict[str, Any] = {"since_id": checkpoints.get(account.id, timeline), **FIELDS}
    if timeline == "mentions":
        read = client.get_users_mentions
    else:
        read = client.get_users_tweets
        # Retweets are left out as the filtered stream's rules leave them out.
        options["exclude"] = ["retweets"]
    pages = tweepy.Paginator(read, account.id, max_results=100, **options)
    produced = 0
    newest: str | None = None
    try:
        for page in pages:
            newest = newest or page.get("meta", {}).get("newest_id")
            if reads is not None:
                reads.add(page.get("data", ()))
            if "data" not in page:
                continue
            for key, value in split_line(orjson.dumps(page)):
                sink(key, value)
                produced += 1
    except (tweepy.Unauthorized, tweepy.Forbidden) as exc:
        what = f"the {timeline} timeline of @{account.username}"
        raise refused(exc.response.status_code, what) from exc
    flush()
    if newest is not None:
        checkpoints.put(account.id, timeline, newest)
    if reads is not None:
        # Stored with the checkpoint: posts read since the last one are read, and counted, again
        # by a poller that takes over after a crash.
        reads.save()
    return produced


def poll_forever(
    client: tweepy.Client,
    registry: Registry,
    *,
    updates: RegistryUpdates,
    checkpoints: Checkpoints,
    sink: Sink,
    flush: Callable[[], None],
    pause: float,
    reads: PostReads | None = None,
) -> None:
    """`poll_once` every `pause` seconds; a registry version published during a pause is
    polled from the next round on."""
    while True:
        produced = poll_once(client, registry, checkpoints, sink, flush, reads=reads)
        log.info("polled registry %s: %d new posts", registry.version, produced)
        registry = updates.wait(pause) or registry
