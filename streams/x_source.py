"""Mentions from the X API v2 through tweepy: the filtered stream, or polling the mentions
timeline of each agency account. Both hand one message per post to a `Sink`; the producer command
connects the sink to Kafka."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

import orjson
import tweepy

from agents.registry import Registry
from agents.split import split_line
from streams.metrics import ProducerMetrics

log = logging.getLogger(__name__)

Sink = Callable[[bytes | None, bytes], None]
"""Takes (key, value) of one post for `mentions.raw`."""

# What the router reads; anything else X sends by default passes through unread.
EXPANSIONS = ["author_id"]
TWEET_FIELDS = [
    "author_id", "entities", "note_tweet", "referenced_tweets", "in_reply_to_user_id",
    "conversation_id", "edit_history_tweet_ids", "created_at", "lang",
]  # fmt: skip
USER_FIELDS = ["verified", "verified_type", "username", "name"]
_FIELDS: dict[str, Any] = {
    "expansions": EXPANSIONS,
    "tweet_fields": TWEET_FIELDS,
    "user_fields": USER_FIELDS,
}


def stream_rules(registry: Registry) -> list[tweepy.StreamRule]:
    """One filtered-stream rule per agency, tagged with its id: posts that mention any of its
    accounts, retweets excluded (the router would reject them anyway)."""
    rules = []
    for agency in registry.agencies:
        handles = " OR ".join(f"@{account.username}" for account in agency.accounts)
        rules.append(tweepy.StreamRule(value=f"({handles}) -is:retweet", tag=agency.id))
    return rules


def sync_rules(client: tweepy.StreamingClient, registry: Registry) -> None:
    """Make the stream's rules exactly the registry's: delete stale ones, add missing ones."""
    wanted = {(rule.value, rule.tag) for rule in stream_rules(registry)}
    current = client.get_rules().data or []
    stale = [rule.id for rule in current if (rule.value, rule.tag) not in wanted]
    have = {(rule.value, rule.tag) for rule in current}
    missing = [tweepy.StreamRule(value=v, tag=t) for v, t in sorted(wanted - have)]
    if stale:
        client.delete_rules(stale)
    if missing:
        client.add_rules(missing)
    log.info("stream rules: %d kept, %d deleted, %d added", len(have & wanted), len(stale),
             len(missing))  # fmt: skip


class MentionStream(tweepy.StreamingClient):  # type: ignore[misc]
    """Forwards every stream message as it arrived. tweepy reconnects with X's backoff rules
    when the connection drops."""

    def __init__(
        self, bearer_token: str, sink: Sink, metrics: ProducerMetrics, **options: Any
    ) -> None:
        super().__init__(bearer_token, wait_on_rate_limit=True, **options)
        self.sink = sink
        self.metrics = metrics
        self.failure: Exception | None = None
        self.connections = 0
        count_responses(self.session, metrics)

    def on_connect(self) -> None:
        if self.connections:
            self.metrics.stream_reconnects.inc()
        self.connections += 1
        self.metrics.stream_connected.set(1)

    def on_disconnect(self) -> None:
        self.metrics.stream_connected.set(0)

    def on_data(self, raw_data: bytes) -> None:
        for key, value in split_line(raw_data):
            self.sink(key, value)

    def on_closed(self, response: Any) -> None:
        self.metrics.stream_connected.set(0)
        log.warning("the X stream closed the connection; reconnecting")

    def on_connection_error(self) -> None:
        self.metrics.stream_connected.set(0)
        log.warning("the X stream connection failed; reconnecting")

    def on_request_error(self, status_code: int) -> None:
        self.metrics.stream_connected.set(0)
        log.error("the X stream refused the connection with HTTP %s; retrying", status_code)

    def on_exception(self, exception: Exception) -> None:
        # tweepy would only log it and return from filter() as if the stream had ended.
        self.failure = exception


def run_stream(stream: MentionStream, registry: Registry, backfill_minutes: int) -> None:
    """Sync the rules, then stream until disconnected; re-raises what stopped the stream (a
    Kafka failure in the sink, say), so that the caller does not take it for a clean end."""
    sync_rules(stream, registry)
    options = dict(_FIELDS)
    if backfill_minutes:
        options["backfill_minutes"] = backfill_minutes
    stream.filter(**options)
    if stream.failure is not None:
        raise stream.failure


def count_responses(session: Any, metrics: ProducerMetrics) -> None:
    """Counts every X API response of `session` (a requests.Session) by status: tweepy waits out
    rate limits and retries on its own, without telling its caller."""

    def hook(response: Any, *args: Any, **kwargs: Any) -> None:
        metrics.http_status(response.status_code)

    session.hooks["response"].append(hook)


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
                **_FIELDS,
            )
            for page in pages:
                newest = newest or page.get("meta", {}).get("newest_id")
                if "data" not in page:
                    continue
                for key, value in split_line(orjson.dumps(page)):
                    sink(key, value)
                    produced += 1
            flush()
            if newest is not None:
                checkpoints.put(account.id, newest)
    return produced
