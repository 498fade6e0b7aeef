"""Mentions from the X API v2 through tweepy: the filtered stream, or polling the mentions
timeline of each agency account. Both hand one message per post to a `Sink`; the producer command
connects the sink to Kafka. Both follow the registry versions `RegistryUpdates` hands them: the
stream's rules are re-synced to each, the poller polls its accounts from the next round on."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, Protocol

import orjson
import tweepy

from agents.core.errors import AduanError
from agents.core.registry import Registry
from agents.core.split import split_line
from streams.producer.metrics import NOTICE_TITLES, ProducerMetrics

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


class XRefusedError(AduanError):
    """X refused the bearer token (HTTP 401) or what it may do (HTTP 403): retrying cannot help."""


_REFUSED = (401, 403)


def refused(status: int, what: str) -> XRefusedError:
    """The one-line error for a 401 or 403 from X on `what`; never carries the token."""
    if status == 401:
        return XRefusedError(
            f"X refused the bearer token for {what} (HTTP 401 Unauthorized): set "
            "ADUAN_X_BEARER_TOKEN, or ADUAN_X_BEARER_TOKEN_FILE, to a valid token of the app"
        )
    return XRefusedError(
        f"X refused {what} (HTTP 403 Forbidden): the token of ADUAN_X_BEARER_TOKEN (or "
        "ADUAN_X_BEARER_TOKEN_FILE) may not use it; check the app's project and access level in "
        "the X developer portal"
    )


class RegistryUpdates(Protocol):
    """The registry versions published while a source runs."""

    def wait(self, seconds: float) -> Registry | None:
        """Wait `seconds`; the newest valid version published meanwhile, or None."""


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
        raise refused(exc.response.status_code, "the filtered stream's rules") from None
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
        notices = stream_notices(raw_data)
        if notices is not None:
            for notice in notices:
                self._notice(notice)
            return
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
        if status_code in _REFUSED:
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
    options = dict(_FIELDS)
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
                raise refused(exc.response.status_code, what) from None
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
