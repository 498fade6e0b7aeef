"""One Kafka message per post: the producer's unit, keyed by the post's conversation (its own id
when it has none), so that the posts of a thread, and every copy of a post, land in one partition:
the worker's memory of each post id and its case tracking then live beside the posts
(docs/decisions/0031-mentions-keyed-by-conversation.md)."""

from __future__ import annotations

from typing import Any

import orjson

from agents.core.fields import PostError
from agents.core.parse import v2_users


def split_line(raw: bytes) -> list[tuple[bytes | None, bytes]]:
    """(key, value) messages for one input line.

    A v2 page becomes one stream-shaped message per post, carrying only the users that post
    names. A line that is not a readable post travels as it is, unkeyed, so that the worker
    dead-letters it with its reason instead of it vanishing here.
    """
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return [(None, raw)]
    if type(document) is not dict:
        return [(None, raw)]
    data = document.get("data")
    if type(data) is dict:
        return [(_key(data.get("conversation_id") or data.get("id")), raw)]
    if type(data) is list:
        try:
            users = v2_users(document.get("includes"))
        except PostError:
            return [(None, raw)]  # a broken `includes` spoils the whole page, as in the router
        return [_page_post(post, users) for post in data]
    return [(_key(document.get("id_str") or document.get("id")), raw)]


def _page_post(post: Any, users: dict[str, dict[str, Any]]) -> tuple[bytes | None, bytes]:
    if type(post) is not dict:
        return None, orjson.dumps({"data": post})
    named = {post.get("author_id"), post.get("in_reply_to_user_id")}
    entities = post.get("entities")
    if type(entities) is dict and type(entities.get("mentions")) is list:
        named |= {m.get("id") for m in entities["mentions"] if type(m) is dict}
    included = [user for user_id, user in users.items() if user_id in named]
    message = {"data": post, "includes": {"users": included}}
    return _key(post.get("conversation_id") or post.get("id")), orjson.dumps(message)


def _key(key: Any) -> bytes | None:
    if type(key) is int:
        key = str(key)
    return key.encode() if type(key) is str and key else None
