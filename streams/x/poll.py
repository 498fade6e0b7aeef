"""Mentions from the X API v2 by polling each agency account's mentions timeline through
tweepy, from the `since_id` checkpoint of each account; one message per post to the `Sink`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

import orjson
import tweepy

from agents.core.registry import Registry
from agents.core.split import split_line
from streams.x.api import FIELDS, RegistryUpdates, Sink, refused

log = logging.getLogger(__name__)


class Checkpoints(Protocol):
    """The newest post id already produced, per agency account."""

    def get(self, account_id: str) -> str | None: ...

    def put(self, account_id: str, since_id: str) -> None: ...


def poll_once(
    client: tweepy.Client,
    registry: Registry,
    checkpoints: Checkpoints,
    sink: Sink,
    flush: Callable[[], None],
) -> int:
    """One round over every agency account's mentions timeline; returns the posts produced.

    The timeline pages run from newest to oldest, so an account's checkpoint moves to the newest
    id only after every page was produced and `flush` saw Kafka acknowledge them all: a crash in
    between fetches the same posts again, and the worker drops them as duplicates."""
    produced = 0
    for agency in registry.agencies:
        for account in agency.accounts:
            newest: str | None = None
            pages = tweepy.Paginator(
                client.get_users_mentions,
                account.id,
                since_id=checkpoints.get(account.id),
                max_results=100,
                **FIELDS,
            )
            try:
                for page in pages:
                    newest = newest or page.get("meta", {}).get("newest_id")
                    if "data" not in page:
                        continue
                    for key, value in split_line(orjson.dumps(page)):
                        sink(key, value)
                        produced += 1
            except (tweepy.Unauthorized, tweepy.Forbidden) as exc:
                what = f"the mentions timeline of @{account.username}"
                raise refused(exc.response.status_code, what) from exc
            flush()
            if newest is not None:
                checkpoints.put(account.id, newest)
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
) -> None:
    """`poll_once` every `pause` seconds; a registry version published during a pause is
    polled from the next round on."""
    while True:
        produced = poll_once(client, registry, checkpoints, sink, flush)
        log.info("polled registry %s: %d new posts", registry.version, produced)
        registry = updates.wait(pause) or registry
