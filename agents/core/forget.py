"""Forgetting: which posts aduan must no longer serve, and the events that say so.

A request names a post (and so every revision of it) or a user (and so every post of theirs). It
is kept for good, so a post that arrives, or is replayed, after its request is forgotten too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from agents.core.errors import ForgetError
from agents.core.post import Post
from schemas.events import SCHEMA_VERSION, ForgetKind, ForgetRequest, Withdrawal
from schemas.topics import UNROUTED

REASON_LIMIT = 200
"""Characters of a request's reason: a reference, not a story (it reaches every agency)."""


def forget_request(kind: ForgetKind, ident: str, reason: str, now: datetime) -> ForgetRequest:
    """A request, checked: X ids are digits, and the reason is what agencies will read."""
    if kind not in ("post", "user"):
        raise ForgetError(f"{kind!r}: forget a post or a user")
    if not ident.isascii() or not ident.isdigit():
        raise ForgetError(f"--{kind} {ident!r}: an X {kind} id is digits only, e.g. 1790000000000")
    reason = reason.strip()
    if not reason or len(reason) > REASON_LIMIT or not reason.isprintable():
        raise ForgetError(
            f"--reason {reason!r}: give one line of at most {REASON_LIMIT} characters, e.g. "
            "'citizen request 2026-117' or 'x-compliance: deleted'"
        )
    return {
        "kind": kind,
        "id": ident,
        "reason": reason,
        "requested_at": now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "schema_version": SCHEMA_VERSION,
    }


def request_key(request: ForgetRequest) -> str:
    return f"{request['kind']}:{request['id']}"


class Forgotten:
    """Every post id and user id aduan must forget, with the request that named it."""

    def __init__(self, requests: Iterable[ForgetRequest] = ()) -> None:
        self.posts: dict[str, ForgetRequest] = {}
        self.users: dict[str, ForgetRequest] = {}
        for request in requests:
            self.add(request)

    def add(self, request: ForgetRequest) -> None:
        named = self.posts if request["kind"] == "post" else self.users
        named.setdefault(request["id"], request)  # the first request of an id stands

    def __len__(self) -> int:
        return len(self.posts) + len(self.users)

    def of_post(self, post: Post) -> ForgetRequest | None:
        """The request that forgets `post`: its own id, the first post of its edit chain, or its
        author."""
        if not self:
            return None
        return (
            self.posts.get(post.tweet_id)
            or self.posts.get(post.complaint_id)
            or (self.users.get(post.author_id) if post.author_id else None)
        )

    def of_complaint(self, complaint: Mapping[str, Any]) -> ForgetRequest | None:
        """The request that forgets a complaint event as it was emitted."""
        author = complaint.get("author")
        author_id = author.get("id") if isinstance(author, dict) else None
        return (
            self.posts.get(str(complaint.get("tweet_id")))
            or self.posts.get(str(complaint.get("complaint_id")))
            or (self.users.get(author_id) if isinstance(author_id, str) else None)
        )


def withdrawal(complaint: Mapping[str, Any], request: ForgetRequest, now: str) -> Withdrawal:
    """The event that tells an agency to erase `complaint`: its ids and why, never its text."""
    agency = complaint.get("agency_id")
    return {
        "event_id": f"{complaint['complaint_id']}:withdrawn:{agency or UNROUTED}",
        "complaint_id": str(complaint["complaint_id"]),
        "agency_id": agency,
        "tweet_id": str(complaint["tweet_id"]),
        "reason": request["reason"],
        "withdrawn_at": now,
        "schema_version": SCHEMA_VERSION,
    }
