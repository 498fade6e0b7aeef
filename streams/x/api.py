"""What both X sources share: the fields they ask X for, the `Sink` they hand posts to, the registry
versions they follow, the error X's refusals become and the count of X's responses."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from agents.core.registry import Registry
from streams.errors import XRefusedError
from streams.metrics.producer import ProducerMetrics

Sink = Callable[[bytes | None, bytes], None]
"""Takes (key, value) of one post for `mentions.raw`."""

# What the router reads; anything else X sends by default passes through unread.
EXPANSIONS = ["author_id"]
TWEET_FIELDS = [
    "author_id", "entities", "note_tweet", "referenced_tweets", "in_reply_to_user_id",
    "conversation_id", "edit_history_tweet_ids", "created_at", "lang",
]  # fmt: skip
USER_FIELDS = ["verified", "verified_type", "username", "name"]
FIELDS: dict[str, Any] = {
    "expansions": EXPANSIONS,
    "tweet_fields": TWEET_FIELDS,
    "user_fields": USER_FIELDS,
}


REFUSED = (401, 403)


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


def count_responses(session: Any, metrics: ProducerMetrics) -> None:
    """Counts every X API response of `session` (a requests.Session) by status: tweepy waits out
    rate limits and retries on its own, without telling its caller."""

    def hook(response: Any, *args: Any, **kwargs: Any) -> None:
        metrics.http_status(response.status_code)

    session.hooks["response"].append(hook)
