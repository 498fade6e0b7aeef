"""One Kafka message per post: the producer's unit, keyed `<conversation>/<post id>`.

Partitioned by the conversation alone (`thread_of`), so the posts of a thread, and every copy of
a post, land in one partition: the worker's memory of each post id and its case tracking live
beside the posts (docs/decisions/0031-mentions-keyed-by-conversation.md). The post id makes each
post's key its own, so that a tombstone erases that post and no other when Kafka compacts
`mentions.raw` (docs/decisions/0033-forgetting-by-compaction.md)."""

from __future__ import annotations

import hashlib
from typing import Any

import msgspec
import orjson

from agents.core.shapes import Includes


def split_line(raw: bytes) -> list[tuple[bytes, bytes]]:
    """(key, value) messages for one input line.

    A v2 page becomes one stream-shaped message per post, carrying only the users that post
    names. A line that is not a readable post travels as it is, keyed by a digest of its bytes (a
    compacted topic takes no message without a key), so that the worker dead-letters it with its
    reason instead of it vanishing here.
    """
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return [(_unread(raw), raw)]
    if type(document) is not dict:
        return [(_unread(raw), raw)]
    data = document.get("data")
    if type(data) is dict:
        return [(_key(data.get("conversation_id"), data.get("id"), raw), raw)]
    if type(data) is list:
        includes = document.get("includes")
        try:
            msgspec.convert(includes, Includes | None)
        except msgspec.ValidationError:
            return [(_unread(raw), raw)]  # a broken `includes` spoils the page, as in the router
        return [_page_post(post, _users(includes)) for post in data]
    return [(_key(None, document.get("id_str") or document.get("id"), raw), raw)]


def thread_of(key: bytes) -> bytes:
    """The part of a `mentions.raw` key that picks the partition: the conversation. (Keys made
    before the post id joined them are the conversation alone, and stay where they were.)"""
    return key.partition(b"/")[0]


def is_post_key(key: bytes | None) -> bool:
    """Whether `key` names one post alone, so that a tombstone with it erases only that post."""
    return key is not None and b"/" in key


def _users(includes: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    """The page's user objects by id; the router skips entries without a string id too."""
    users = [] if includes is None else includes.get("users") or []
    return {
        user["id"]: user for user in users if type(user) is dict and type(user.get("id")) is str
    }


def _page_post(post: Any, users: dict[str, dict[str, Any]]) -> tuple[bytes, bytes]:
    if type(post) is not dict:
        value = orjson.dumps({"data": post})
        return _unread(value), value
    named = {post.get("author_id"), post.get("in_reply_to_user_id")}
    entities = post.get("entities")
    if type(entities) is dict and type(entities.get("mentions")) is list:
        named |= {m.get("id") for m in entities["mentions"] if type(m) is dict}
    included = [user for user_id, user in users.items() if user_id in named]
    value = orjson.dumps({"data": post, "includes": {"users": included}})
    return _key(post.get("conversation_id"), post.get("id"), value), value


def _key(thread: Any, post: Any, raw: bytes) -> bytes:
    post = _text(post)
    if post is None:
        return _unread(raw)
    return f"{_text(thread) or post}/{post}".encode()


def _text(ident: Any) -> str | None:
    if type(ident) is int:
        ident = str(ident)
    return ident if type(ident) is str and ident and "/" not in ident else None


def _unread(raw: bytes) -> bytes:
    """The key of a message that is no readable post: the same bytes, the same key."""
    return hashlib.blake2b(raw, digest_size=12).hexdigest().encode()
