"""A post as the router sees it, whatever API shape (X API v2 or v1.1) it arrived in."""

from __future__ import annotations

from dataclasses import dataclass

from schemas.events import Author


@dataclass(slots=True)
class Post:
    tweet_id: str
    text: str
    author_id: str | None
    author: Author | None
    """None when the payload does not carry the author's user object."""
    mentions: list[tuple[str | None, str | None]]
    """(user id, username) of each mention entity, in order; either may be missing."""
    in_reply_to_user_id: str | None
    is_retweet: bool
    complaint_id: str
    """The first post of the edit chain: all revisions of a complaint share it."""
    revision: int
    lang: str | None
    created_at: str | None
    conversation_id: str | None
    in_reply_to_tweet_id: str | None = None
    """The post this one replies to."""


@dataclass(frozen=True, slots=True)
class Malformed:
    """Input that is not a readable post: `error` says why, `raw` is what was read."""

    error: str
    raw: str
