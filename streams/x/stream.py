"""Posts from the X API v2 filtered stream through tweepy: the mentions of each agency's accounts
and their own posts, under rules re-synced to each registry version published while it runs; one
message per post to the `Sink`."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import orjson
import tweepy

from agents.core.registry import Agency, Registry
from agents.core.split import split_line
from streams.metrics.producer import NOTICE_TITLES, ProducerMetrics
from streams.x.api import (
    FIELDS,
    REFUSED,
    RegistryUpdates,
    Sink,
    count_responses,
    refused,
)
from streams.x.reads import PostReads

log = logging.getLogger(__name__)


READS_SAVE_SECONDS = 60.0
"""How often, at most, the stream stores its month's count of posts read: a live stream has no
checkpoints to store it with, and storing it with every post would double the writes."""

RULE_LENGTH = 512
"""The longest rule value sent: the X documentation gives rules of 512 characters to its lowest
access levels so far, 1,024 to pay-per-use and 2,048 to Enterprise."""


def stream_rules(registry: Registry) -> list[tweepy.StreamRule]:
    """The filtered-stream rules, tagged with the agency id: posts that mention one of its
    accounts or come from one (its answers, by user id, which a rename does not change),
    retweets excluded (the router would reject them anyway). One rule per agency, or several
    with the same tag where one would be longer than `RULE_LENGTH`."""
    return [
        tweepy.StreamRule(value=value, tag=agency.id)
        for agency in registry.agencies
        for value in _agency_rules(agency)
    ]


def _agency_rules(agency: Agency) -> list[str]:
    """The values of `agency`'s rules: its accounts in registry order, packed greedily, both
    terms of an account in the same rule, so that the same registry gives the same rules."""
    values: list[str] = []
    terms: list[str] = []
    for account in agency.accounts:
        pair = [f"@{account.username}", f"from:{account.id}"]
        if terms and len(_rule(terms + pair)) > RULE_LENGTH:
            values.append(_rule(terms))
            terms = []
        terms += pair
    values.append(_rule(terms))
    return values


def _rule(terms: list[str]) -> str:
    return f"({' OR '.join(terms)}) -is:retweet"


def sync_rules(client: tweepy.StreamingClient, registry: Registry) -> None:
    """Make the stream's rules exactly the registry's: delete stale ones, add missing ones."""
    wanted = {(rule.value, rule.tag) for rule in stream_rules(registry)}
    try:
        current = client.get_rules().data or []
        stale = [rule.id for rule in current if (rule.value, rule.tag) not in wanted]
        have = {(rule.value, rule.tag) for rule in current}
        missing = [tweepy.StreamRule(value=v, tag=t) for v, t in sorted(wanted - have)]
        if stale:
            client.delete_rules(stale)
        if missing:
            client.add_rules(missing)
    except (tweepy.Unauthorized, tweepy.Forbidden) as exc:
        raise refused(exc.response.status_code, "the filtered stream's rules") from exc
    log.info("stream rules: %d kept, %d deleted, %d added", len(have & wanted), len(stale),
             len(missing))  # fmt: skip


class MentionStream(tweepy.StreamingClient):  # type: ignore[misc]
    """Forwards every stream message as it arrived, its post counted in `reads`. tweepy
    reconnects with X's backoff rules when the connection drops."""

    def __init__(
        self,
        bearer_token: str,
        sink: Sink,
        metrics: ProducerMetrics,
        reads: PostReads | None = None,
        **options: Any,
    ) -> None:
        super().__init__(bearer_token, wait_on_rate_limit=True, **options)
        self.sink = sink
        self.metrics = metrics
        self.reads = reads
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
        notices = stream_notices(raw_data)
        if notices is not None:
            for notice in notices:
                self._notice(notice)
            return
        if self.reads is not None:
            self.reads.add(stream_posts(raw_data))
            self.reads.save(at_most_every=READS_SAVE_SECONDS)
        for key, value in split_line(raw_data):
            self.sink(key, value)

    def _notice(self, notice: Any) -> None:
        """Counts and logs what X says about the stream itself (an operational disconnect)."""
        fields = notice if type(notice) is dict else {}
        title, detail = fields.get("title"), fields.get("detail")
        self.metrics.stream_notices.labels(title if title in NOTICE_TITLES else "other").inc()
        log.warning("the X stream sent a notice instead of a post: %s: %s", title, detail)

    def on_closed(self, response: Any) -> None:
        self.metrics.stream_connected.set(0)
        log.warning("the X stream closed the connection; reconnecting")

    def on_connection_error(self) -> None:
        self.metrics.stream_connected.set(0)
        log.warning("the X stream connection failed; reconnecting")

    def on_request_error(self, status_code: int) -> None:
        self.metrics.stream_connected.set(0)
        if status_code in REFUSED:
            # tweepy would retry for ever: a refused token stays refused.
            self.failure = refused(status_code, "the filtered stream")
            self.disconnect()
            return
        log.error("the X stream refused the connection with HTTP %s; retrying", status_code)

    def on_exception(self, exception: Exception) -> None:
        # tweepy would only log it and return from filter() as if the stream had ended.
        self.failure = exception


def stream_notices(raw: bytes) -> list[Any] | None:
    """The `errors` of a stream message that carries no post (X's operational-disconnect
    notice), else None. A message with `data` and `errors` holds a post: it goes on."""
    if b'"errors"' not in raw:
        return None
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if type(document) is not dict or "data" in document:
        return None
    errors = document.get("errors")
    return errors if type(errors) is list and errors else None


def stream_posts(raw: bytes) -> list[Any]:
    """The post a stream message carries (its `data`), as a list of one; none if unreadable."""
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return []
    data = document.get("data") if type(document) is dict else None
    return [data] if type(data) is dict else []


class RuleFollower(threading.Thread):
    """Re-syncs the stream's rules to every registry version `updates` hands over, beside the
    stream; what stops it (a refused token) stops the stream too."""

    CHECK_SECONDS = 1.0
    """How long one wait for a new version lasts: the longest a stop waits for this thread."""

    def __init__(
        self, client: tweepy.StreamingClient, updates: RegistryUpdates, stop: Callable[[], None]
    ) -> None:
        super().__init__(name="registry-follower", daemon=True)
        self.client = client
        self.updates = updates
        self.stop_stream = stop
        self.stopping = threading.Event()
        self.failure: Exception | None = None

    def run(self) -> None:
        try:
            while not self.stopping.is_set():
                registry = self.updates.wait(self.CHECK_SECONDS)
                if registry is not None:
                    sync_rules(self.client, registry)
        except Exception as exc:  # anything: the stream must not go on with stale rules
            self.failure = exc
            self.stop_stream()

    def stop(self) -> None:
        self.stopping.set()
        if self.is_alive():
            self.join(timeout=10 * self.CHECK_SECONDS)


def run_stream(
    stream: MentionStream, registry: Registry, backfill_minutes: int, updates: RegistryUpdates
) -> None:
    """Sync the rules, then stream until disconnected, re-syncing the rules to each registry
    version published meanwhile; re-raises what stopped the stream (a Kafka failure in the sink,
    a refused token), so that the caller does not take it for a clean end."""
    # Rules go through a client of their own: the stream's session is busy with the stream.
    rules = tweepy.StreamingClient(stream.bearer_token, wait_on_rate_limit=True)
    count_responses(rules.session, stream.metrics)
    sync_rules(rules, registry)
    options = dict(FIELDS)
    if backfill_minutes:
        options["backfill_minutes"] = backfill_minutes
    follower = RuleFollower(rules, updates, stream.disconnect)
    follower.start()
    try:
        stream.filter(**options)
    finally:
        follower.stop()
    for failure in (follower.failure, stream.failure):
        if failure is not None:
            raise failure
