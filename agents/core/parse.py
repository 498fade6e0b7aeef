"""Turns one JSON line into posts: X API v2 (stream message or saved page) or v1.1 tweets.

Every field the router reads is type-checked here, with the readers of `agents.core.fields`, so
the later stages never meet a wrong type: a post that breaks a rule becomes a `Malformed` naming
the field, never an exception.
"""

from __future__ import annotations

from typing import Any

import orjson

from agents.core.fields import (
    STR_OR_NONE,
    PostError,
    iso_utc,
    kind,
    opt_dict,
    opt_list,
    opt_str,
    raw_text,
    read_author,
    read_edit_chain,
    read_post_id,
    read_v1_id,
    text_error,
)
from agents.core.post import Malformed, Post

_V2_STRING_FIELDS = ("author_id", "in_reply_to_user_id", "lang", "created_at", "conversation_id")


def parse_line(raw: bytes) -> list[Post | Malformed]:
    """All posts of one input line, in order; an empty list for a page with no posts."""
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        # orjson counts lines and columns within this one document; the character is clearer.
        return [Malformed(f"not valid JSON: {exc.msg} at character {exc.pos}", raw_text(raw))]
    if type(document) is not dict:
        return [Malformed(f"expected a JSON object, got {kind(document)}", raw_text(raw))]
    try:
        if "data" in document:
            return _parse_v2(document, raw)
        if "id_str" in document or "user" in document:
            return [_parse_v1(document)]
        if _is_empty_page(document):
            return []
    except PostError as exc:
        return [Malformed(str(exc), raw_text(raw))]
    return [
        Malformed(
            "no recognisable shape: expected an X API v2 object with 'data' "
            "or a v1.1 tweet with 'id_str' and 'user'",
            raw_text(raw),
        )
    ]


def _parse_v2(document: dict[str, Any], raw: bytes) -> list[Post | Malformed]:
    """Each post of a page is judged on its own: one bad post does not sink the others."""
    users = v2_users(document.get("includes"))
    data = document["data"]
    if type(data) is dict:
        return [_v2_post(data, users, "data")]
    if type(data) is not list:
        raise PostError(f"data must be a post or a list of posts, got {kind(data)}")
    posts: list[Post | Malformed] = []
    for index, item in enumerate(data):
        where = f"data[{index}]"
        try:
            if type(item) is not dict:
                raise PostError(f"{where} must be a post object, got {kind(item)}")
            posts.append(_v2_post(item, users, where))
        except PostError as exc:
            posts.append(Malformed(str(exc), raw_text(raw)))
    return posts


def v2_users(includes: Any) -> dict[str, dict[str, Any]]:
    """The page's user objects by id: posts name their author only by `author_id`."""
    if includes is None:
        return {}
    if type(includes) is not dict:
        raise PostError(f"includes must be an object, got {kind(includes)}")
    users = includes.get("users")
    if users is None:
        return {}
    if type(users) is not list:
        raise PostError(f"includes.users must be a list, got {kind(users)}")
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
        and type(author_id) in STR_OR_NONE
        and type(reply_to) in STR_OR_NONE
        and type(lang) in STR_OR_NONE
        and type(created_at) in STR_OR_NONE
        and type(conversation_id) in STR_OR_NONE
    ):
        read_post_id(get("id"), where)
        for field in _V2_STRING_FIELDS:
            opt_str(post, field, where)

    entities = get("entities")
    mentions = [] if entities is None else _v2_mentions(entities, where)
    note = get("note_tweet")
    if note is not None:
        if type(note) is not dict:
            raise PostError(f"{where}: note_tweet must be an object, got {kind(note)}")
        if note.get("text") is not None:
            text = note["text"]
        if note.get("entities") is not None:
            mentions += _v2_mentions(note["entities"], f"{where}: note_tweet")
    if type(text) is not str:
        raise PostError(text_error(text, f"{where}: post {tweet_id}"))

    user = users.get(author_id) if author_id is not None else None
    chain = get("edit_history_tweet_ids")
    if chain is None or (type(chain) is list and len(chain) == 1 and chain[0] == tweet_id):
        complaint_id, revision = tweet_id, 0  # not edited: by far the most common case
    else:
        complaint_id, revision = read_edit_chain(chain, tweet_id, where)
    references = get("referenced_tweets")
    is_retweet, replied_to = (
        (False, None) if references is None else _v2_references(references, where)
    )
    return Post(
        tweet_id,
        text,
        author_id,
        None if user is None else read_author(user, user["id"], "username", where),
        mentions,
        reply_to,
        is_retweet,
        complaint_id,
        revision,
        lang,
        None if created_at is None else iso_utc(created_at, where),
        conversation_id,
        replied_to,
    )


def _v2_mentions(entities: Any, where: str) -> list[tuple[str | None, str | None]]:
    if type(entities) is not dict:
        raise PostError(f"{where}: entities must be an object, got {kind(entities)}")
    mentions = entities.get("mentions")
    if mentions is None:
        return []
    if type(mentions) is not list:
        raise PostError(f"{where}: entities.mentions must be a list, got {kind(mentions)}")
    found: list[tuple[str | None, str | None]] = []
    for index, mention in enumerate(mentions):
        if type(mention) is not dict:
            raise PostError(f"{where}: entities.mentions[{index}] must be an object")
        user_id = mention.get("id")
        handle = mention.get("username")
        if type(user_id) not in STR_OR_NONE or type(handle) not in STR_OR_NONE:
            raise PostError(f"{where}: entities.mentions[{index}] must have string id and username")
        found.append((user_id, handle))
    return found


def _v2_references(references: Any, where: str) -> tuple[bool, str | None]:
    """(whether the post is a retweet, the id of the post it replies to)."""
    if type(references) is not list:
        raise PostError(f"{where}: referenced_tweets must be a list, got {kind(references)}")
    is_retweet, replied_to = False, None
    for index, reference in enumerate(references):
        if type(reference) is not dict:
            raise PostError(f"{where}: referenced_tweets must hold objects")
        kind_of = reference.get("type")
        if kind_of == "retweeted":
            is_retweet = True
        elif kind_of == "replied_to":
            replied_to = read_post_id(reference.get("id"), f"{where}: referenced_tweets[{index}]")
    return is_retweet, replied_to


def _parse_v1(tweet: dict[str, Any]) -> Post:
    tweet_id = read_post_id(read_v1_id(tweet, "id", "tweet"), "tweet")
    where = f"tweet {tweet_id}"
    extended = opt_dict(tweet, "extended_tweet", where)
    text = extended.get("full_text") if extended else None
    if text is None:
        text = tweet.get("full_text")
    if text is None:
        text = tweet.get("text")
    if type(text) is not str:
        raise PostError(text_error(text, where))

    user = opt_dict(tweet, "user", where)
    author = (
        None
        if user is None
        else read_author(user, read_v1_id(user, "id", where), "screen_name", where)
    )
    complaint_id, revision = tweet_id, 0
    edits = opt_dict(tweet, "edit_history", where)
    if edits is not None:
        complaint_id, revision = read_edit_chain(edits.get("edit_tweet_ids"), tweet_id, where)
    created_at = opt_str(tweet, "created_at", where)
    return Post(
        tweet_id=tweet_id,
        text=text,
        author_id=None if author is None else author["id"],
        author=author,
        mentions=_v1_mentions(extended, where) or _v1_mentions(tweet, where),
        in_reply_to_user_id=read_v1_id(tweet, "in_reply_to_user_id", where),
        is_retweet=opt_dict(tweet, "retweeted_status", where) is not None,
        complaint_id=complaint_id,
        revision=revision,
        lang=opt_str(tweet, "lang", where),
        created_at=None if created_at is None else iso_utc(created_at, where),
        conversation_id=None,
        in_reply_to_tweet_id=_v1_parent(tweet, where),
    )


def _v1_parent(tweet: dict[str, Any], where: str) -> str | None:
    parent = read_v1_id(tweet, "in_reply_to_status_id", where)
    return None if parent is None else read_post_id(parent, f"{where}: in_reply_to_status_id")


def _v1_mentions(source: dict[str, Any] | None, where: str) -> list[tuple[str | None, str | None]]:
    """`entities.user_mentions` of a v1.1 tweet or of its `extended_tweet`."""
    entities = opt_dict(source, "entities", where) if source else None
    mentions = opt_list(entities, "user_mentions", f"{where}: entities") if entities else None
    found: list[tuple[str | None, str | None]] = []
    for index, mention in enumerate(mentions or ()):
        if type(mention) is not dict:
            raise PostError(f"{where}: entities.user_mentions[{index}] must be an object")
        handle = mention.get("screen_name")
        if type(handle) not in STR_OR_NONE:
            raise PostError(
                f"{where}: entities.user_mentions[{index}].screen_name must be a string"
            )
        found.append((read_v1_id(mention, "id", where), handle))
    return found


def _is_empty_page(document: dict[str, Any]) -> bool:
    """A search or timeline page with no results: X sends `meta` and leaves `data` out."""
    meta = document.get("meta")
    count = meta.get("result_count") if type(meta) is dict else None
    return type(count) is int and count == 0
