"""Turns one JSON line into posts: X API v2 (stream message or saved page) or v1.1 tweets.

Every field the router reads is type-checked here, so the later stages never meet a wrong type:
a post that breaks a rule becomes a `Malformed` naming the field, never an exception.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

from agents.core.post import Malformed, Post
from schemas.events import Author

_V1_TIME = "%a %b %d %H:%M:%S %z %Y"
_STR_OR_NONE = frozenset({str, type(None)})
_BOOL_OR_NONE = frozenset({bool, type(None)})
_V2_STRING_FIELDS = ("author_id", "in_reply_to_user_id", "lang", "created_at", "conversation_id")


class PostError(ValueError):
    """A post breaks a rule; raised inside this module, callers get a `Malformed` instead."""


def parse_line(raw: bytes) -> list[Post | Malformed]:
    """All posts of one input line, in order; an empty list for a page with no posts."""
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        # orjson counts lines and columns within this one document; the character is clearer.
        return [Malformed(f"not valid JSON: {exc.msg} at character {exc.pos}", _text(raw))]
    if type(document) is not dict:
        return [Malformed(f"expected a JSON object, got {_kind(document)}", _text(raw))]
    try:
        if "data" in document:
            return _parse_v2(document, raw)
        if "id_str" in document or "user" in document:
            return [_parse_v1(document)]
        if _is_empty_page(document):
            return []
    except PostError as exc:
        return [Malformed(str(exc), _text(raw))]
    return [
        Malformed(
            "no recognisable shape: expected an X API v2 object with 'data' "
            "or a v1.1 tweet with 'id_str' and 'user'",
            _text(raw),
        )
    ]


def _parse_v2(document: dict[str, Any], raw: bytes) -> list[Post | Malformed]:
    """Each post of a page is judged on its own: one bad post does not sink the others."""
    users = v2_users(document.get("includes"))
    data = document["data"]
    if type(data) is dict:
        return [_v2_post(data, users, "data")]
    if type(data) is not list:
        raise PostError(f"data must be a post or a list of posts, got {_kind(data)}")
    posts: list[Post | Malformed] = []
    for index, item in enumerate(data):
        where = f"data[{index}]"
        try:
            if type(item) is not dict:
                raise PostError(f"{where} must be a post object, got {_kind(item)}")
            posts.append(_v2_post(item, users, where))
        except PostError as exc:
            posts.append(Malformed(str(exc), _text(raw)))
    return posts


def v2_users(includes: Any) -> dict[str, dict[str, Any]]:
    """The page's user objects by id: posts name their author only by `author_id`."""
    if includes is None:
        return {}
    if type(includes) is not dict:
        raise PostError(f"includes must be an object, got {_kind(includes)}")
    users = includes.get("users")
    if users is None:
        return {}
    if type(users) is not list:
        raise PostError(f"includes.users must be a list, got {_kind(users)}")
    # An entry without a string id can be nobody's author: skip it rather than sink the page.
    return {
        user["id"]: user for user in users if type(user) is dict and type(user.get("id")) is str
    }


def _v2_post(post: dict[str, Any], users: dict[str, dict[str, Any]], where: str) -> Post:
    get = post.get
    tweet_id = get("id", "")
    text = get("text")
    author_id = get("author_id")
    reply_to = get("in_reply_to_user_id")
    lang = get("lang")
    created_at = get("created_at")
    conversation_id = get("conversation_id")
    # One combined check on the hot path; the slow path below only names the culprit, so both
    # must list the same fields (`_V2_STRING_FIELDS`).
    if not (
        type(tweet_id) is str
        and tweet_id.isdigit()
        and tweet_id.isascii()
        and type(author_id) in _STR_OR_NONE
        and type(reply_to) in _STR_OR_NONE
        and type(lang) in _STR_OR_NONE
        and type(created_at) in _STR_OR_NONE
        and type(conversation_id) in _STR_OR_NONE
    ):
        _tweet_id(get("id"), where)
        for field in _V2_STRING_FIELDS:
            _opt_str(post, field, where)

    entities = get("entities")
    mentions = [] if entities is None else _v2_mentions(entities, where)
    note = get("note_tweet")
    if note is not None:
        if type(note) is not dict:
            raise PostError(f"{where}: note_tweet must be an object, got {_kind(note)}")
        if note.get("text") is not None:
            text = note["text"]
        if note.get("entities") is not None:
            mentions += _v2_mentions(note["entities"], f"{where}: note_tweet")
    if type(text) is not str:
        raise PostError(_text_error(text, f"{where}: post {tweet_id}"))

    user = users.get(author_id) if author_id is not None else None
    chain = get("edit_history_tweet_ids")
    if chain is None or (type(chain) is list and len(chain) == 1 and chain[0] == tweet_id):
        complaint_id, revision = tweet_id, 0  # not edited: by far the most common case
    else:
        complaint_id, revision = _edit_chain(chain, tweet_id, where)
    references = get("referenced_tweets")
    return Post(
        tweet_id,
        text,
        author_id,
        None if user is None else _author(user, user["id"], "username", where),
        mentions,
        reply_to,
        references is not None and _v2_is_retweet(references, where),
        complaint_id,
        revision,
        lang,
        None if created_at is None else _iso_utc(created_at, where),
        conversation_id,
    )


def _v2_mentions(entities: Any, where: str) -> list[tuple[str | None, str | None]]:
    if type(entities) is not dict:
        raise PostError(f"{where}: entities must be an object, got {_kind(entities)}")
    mentions = entities.get("mentions")
    if mentions is None:
        return []
    if type(mentions) is not list:
        raise PostError(f"{where}: entities.mentions must be a list, got {_kind(mentions)}")
    found: list[tuple[str | None, str | None]] = []
    for index, mention in enumerate(mentions):
        if type(mention) is not dict:
            raise PostError(f"{where}: entities.mentions[{index}] must be an object")
        user_id = mention.get("id")
        handle = mention.get("username")
        if type(user_id) not in _STR_OR_NONE or type(handle) not in _STR_OR_NONE:
            raise PostError(f"{where}: entities.mentions[{index}] must have string id and username")
        found.append((user_id, handle))
    return found


def _v2_is_retweet(references: Any, where: str) -> bool:
    if type(references) is not list:
        raise PostError(f"{where}: referenced_tweets must be a list, got {_kind(references)}")
    for reference in references:
        if type(reference) is not dict:
            raise PostError(f"{where}: referenced_tweets must hold objects")
        if reference.get("type") == "retweeted":
            return True
    return False


def _parse_v1(tweet: dict[str, Any]) -> Post:
    tweet_id = _tweet_id(_v1_id(tweet, "id", "tweet"), "tweet")
    where = f"tweet {tweet_id}"
    extended = _opt_dict(tweet, "extended_tweet", where)
    text = extended.get("full_text") if extended else None
    if text is None:
        text = tweet.get("full_text")
    if text is None:
        text = tweet.get("text")
    if type(text) is not str:
        raise PostError(_text_error(text, where))

    user = _opt_dict(tweet, "user", where)
    author = (
        None if user is None else _author(user, _v1_id(user, "id", where), "screen_name", where)
    )
    complaint_id, revision = tweet_id, 0
    edits = _opt_dict(tweet, "edit_history", where)
    if edits is not None:
        complaint_id, revision = _edit_chain(edits.get("edit_tweet_ids"), tweet_id, where)
    created_at = _opt_str(tweet, "created_at", where)
    return Post(
        tweet_id=tweet_id,
        text=text,
        author_id=None if author is None else author["id"],
        author=author,
        mentions=_v1_mentions(extended, where) or _v1_mentions(tweet, where),
        in_reply_to_user_id=_v1_id(tweet, "in_reply_to_user_id", where),
        is_retweet=_opt_dict(tweet, "retweeted_status", where) is not None,
        complaint_id=complaint_id,
        revision=revision,
        lang=_opt_str(tweet, "lang", where),
        created_at=None if created_at is None else _iso_utc(created_at, where),
        conversation_id=None,
    )


def _v1_mentions(source: dict[str, Any] | None, where: str) -> list[tuple[str | None, str | None]]:
    """`entities.user_mentions` of a v1.1 tweet or of its `extended_tweet`."""
    entities = _opt_dict(source, "entities", where) if source else None
    mentions = _opt_list(entities, "user_mentions", f"{where}: entities") if entities else None
    found: list[tuple[str | None, str | None]] = []
    for index, mention in enumerate(mentions or ()):
        if type(mention) is not dict:
            raise PostError(f"{where}: entities.user_mentions[{index}] must be an object")
        handle = mention.get("screen_name")
        if type(handle) not in _STR_OR_NONE:
            raise PostError(
                f"{where}: entities.user_mentions[{index}].screen_name must be a string"
            )
        found.append((_v1_id(mention, "id", where), handle))
    return found


def _author(user: dict[str, Any], user_id: Any, handle_key: str, where: str) -> Author:
    """The author record from a v2 (`username`) or v1.1 (`screen_name`) user object."""
    get = user.get
    username = get(handle_key)
    name = get("name")
    verified = get("verified")
    verified_type = get("verified_type")
    if not (
        type(user_id) is str
        and user_id.isdigit()
        and user_id.isascii()
        and type(username) is str
        and username.replace("_", "").isalnum()
        and username.isascii()
        and type(name) is str
        and type(verified) in _BOOL_OR_NONE
        and type(verified_type) in _STR_OR_NONE
    ):
        raise PostError(
            f"{where}: author must have a numeric string id, a {handle_key} of letters, digits "
            "and '_', a string name, verified true or false, and verified_type a string"
        )
    return {
        "id": user_id,
        "username": username,
        "name": name,
        "verified": verified is True,
        "verified_type": verified_type,
    }


def _edit_chain(chain: Any, tweet_id: str, where: str) -> tuple[str, int]:
    """(complaint id, revision): X lists an edited post's ids oldest first, itself included."""
    if chain is None:
        return tweet_id, 0
    if type(chain) is not list or not chain or not all(_is_id(i) for i in chain):
        raise PostError(f"{where}: the edit history must be a non-empty list of post ids")
    try:
        return chain[0], chain.index(tweet_id)
    except ValueError:
        raise PostError(f"{where}: the edit history does not contain post {tweet_id}") from None


def _is_id(value: Any) -> bool:
    """X ids are decimal strings; they end up in keys and URLs."""
    return type(value) is str and value.isdigit() and value.isascii()


def _tweet_id(value: Any, where: str) -> str:
    if not _is_id(value):
        raise PostError(f"{where}: post id must be a string of digits, got {value!r:.40}")
    return str(value)


def _v1_id(obj: dict[str, Any], field: str, where: str) -> str | None:
    """`<field>_str` when present: the number loses precision in JavaScript clients."""
    value = obj.get(field + "_str")
    if value is None:
        value = obj.get(field)
        if type(value) is int and value >= 0:
            return str(value)
    if value is None or type(value) is str:
        return value
    raise PostError(f"{where}: {field} must be a string id, got {_kind(value)}")


def _opt_str(obj: dict[str, Any], field: str, where: str) -> str | None:
    value = obj.get(field)
    if value is None or type(value) is str:
        return value
    raise PostError(f"{where}: {field} must be a string, got {_kind(value)}")


def _opt_dict(obj: dict[str, Any], field: str, where: str) -> dict[str, Any] | None:
    value = obj.get(field)
    if value is None or type(value) is dict:
        return value
    raise PostError(f"{where}: {field} must be an object, got {_kind(value)}")


def _opt_list(obj: dict[str, Any], field: str, where: str) -> list[Any] | None:
    value = obj.get(field)
    if value is None or type(value) is list:
        return value
    raise PostError(f"{where}: {field} must be a list, got {_kind(value)}")


def _iso_utc(value: str, where: str) -> str:
    """ISO 8601 in UTC, as X API v2 writes it (`2022-10-07T22:42:12.000Z`)."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        try:
            parsed = datetime.strptime(value, _V1_TIME)
        except ValueError:
            raise PostError(f"{where}: created_at {value!r:.40} is not a date-time") from None
    if parsed.tzinfo is None:
        raise PostError(f"{where}: created_at {value!r:.40} has no time zone")
    if (
        len(value) == 24
        and value[7] == "-"
        and value[10] == "T"
        and value[19] == "."
        and value[-1] == "Z"
    ):
        return value  # already X's own form, e.g. 2022-10-07T22:42:12.000Z
    try:
        utc = parsed.astimezone(UTC)
    except OverflowError:
        raise PostError(f"{where}: created_at {value!r:.40} is out of range") from None
    return utc.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _is_empty_page(document: dict[str, Any]) -> bool:
    """A search or timeline page with no results: X sends `meta` and leaves `data` out."""
    meta = document.get("meta")
    count = meta.get("result_count") if type(meta) is dict else None
    return type(count) is int and count == 0


def _text_error(text: Any, where: str) -> str:
    return (
        f"{where} has no text"
        if text is None
        else f"{where}: text must be a string, not {_kind(text)}"
    )


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "backslashreplace")
