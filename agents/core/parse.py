"""Turns one JSON line into posts: X API v2 (stream message or saved page) or v1.1 tweets.

The line is decoded into the types of `agents.core.shapes`, which check every field the router
reads; what a type cannot say is checked here, with the readers of `agents.core.fields`. A post
that breaks a rule becomes a `Malformed` naming the field's path (`$.data.entities.mentions[2].id`),
never an exception.
"""

from __future__ import annotations

import msgspec
import orjson

from agents.core.fields import (
    PostError,
    iso_utc,
    json_kind,
    raw_text,
    read_author,
    read_edit_chain,
    read_post_id,
    read_v1_id,
)
from agents.core.post import Malformed, Post
from agents.core.shapes import (
    LINE,
    META,
    V1_TWEET,
    V2_POST,
    Entities,
    Line,
    Meta,
    NotAnObject,
    Reference,
    V1Entities,
    V1Tweet,
    V2Post,
    V2User,
)

_NO_SHAPE = (
    "no recognisable shape: expected an X API v2 object with 'data' "
    "or a v1.1 tweet with 'id_str' and 'user'"
)


def parse_line(raw: bytes) -> list[Post | Malformed]:
    """All posts of one input line, in order; an empty list for a page with no posts."""
    # The decoder skips the fields the router does not read without looking at their bytes.
    if not raw.isascii():
        try:
            raw.decode()
        except UnicodeDecodeError as exc:
            return [_malformed(f"not valid UTF-8: byte {exc.start} is 0x{raw[exc.start]:02x}", raw)]
    try:
        return _parse(raw)
    except RecursionError:
        # msgspec's depth limit is the interpreter's recursion limit, less the caller's stack.
        return [
            _malformed(
                _json_error(raw, "nested too deeply for the decoder: no X payload nests this deep"),
                raw,
            )
        ]


def _parse(raw: bytes) -> list[Post | Malformed]:
    try:
        line = LINE.decode(raw)
    except msgspec.ValidationError as exc:
        return _parse_by_shape(raw, exc)
    except msgspec.DecodeError as exc:
        return [_malformed(_json_error(raw, f"not valid JSON: {exc}"), raw)]
    try:
        if line.data is not msgspec.UNSET:
            return _parse_v2(line, raw)
        if line.id_str is not msgspec.UNSET or line.user is not msgspec.UNSET:
            return [_parse_v1(raw)]
    except PostError as exc:
        return [_malformed(str(exc), raw)]
    if line.meta is not msgspec.UNSET and _is_empty_page(line.meta):
        return []
    return [_malformed(_NO_SHAPE, raw)]


def _parse_by_shape(raw: bytes, error: msgspec.ValidationError) -> list[Post | Malformed]:
    """A line whose `data` or `includes` is not of its type: an error in a v2 object, or a line of
    another shape that happens to hold such a field."""
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return [_malformed(_json_error(raw, str(error)), raw)]
    if type(document) is not dict:
        return [_malformed(f"expected a JSON object, got {json_kind(document)}", raw)]
    if "data" in document:
        return [_malformed(str(error), raw)]
    if "id_str" in document or "user" in document:
        try:
            return [_parse_v1(raw)]
        except PostError as exc:
            return [_malformed(str(exc), raw)]
    if "meta" in document and _is_empty_page(document["meta"]):
        return []
    return [_malformed(_NO_SHAPE, raw)]


def _json_error(raw: bytes, otherwise: str) -> str:
    """orjson's account of what is wrong with `raw`, which names the character; `otherwise` when
    orjson reads it."""
    if not raw.strip(b" \t\r\n"):
        return "empty: no JSON value where a JSON object was expected"
    try:
        orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        # orjson counts lines and columns within this one document; the character is clearer.
        return f"not valid JSON: {exc.msg} at character {exc.pos}"
    return otherwise


def _malformed(error: str, raw: bytes) -> Malformed:
    return Malformed(error, raw_text(raw))


def _parse_v2(line: Line, raw: bytes) -> list[Post | Malformed]:
    """Each post of a page is judged on its own: one bad post does not sink the others."""
    users = [] if line.includes is None or line.includes.users is None else line.includes.users
    data = line.data
    if type(data) is V2Post:
        return [_v2_post(data, _author_of(data, users), "$.data")]
    assert type(data) is list
    by_id = _users_by_id(users)
    posts: list[Post | Malformed] = []
    for index, item in enumerate(data):
        where = f"$.data[{index}]"
        try:
            post = V2_POST.decode(item)
            posts.append(_v2_post(post, by_id.get(post.author_id or ""), where))
        except msgspec.ValidationError as exc:
            posts.append(_malformed(_under(where, exc), raw))
        except PostError as exc:
            posts.append(_malformed(str(exc), raw))
    return posts


def _under(where: str, error: msgspec.ValidationError) -> str:
    """The error of a value decoded on its own, with its path from the line's root."""
    message = str(error)
    if "- at `$" in message:
        return message.replace("- at `$", f"- at `{where}", 1)
    return f"{message} - at `{where}`"


def _author_of(post: V2Post, users: list[V2User | NotAnObject]) -> tuple[V2User, int] | None:
    """The post's author among `includes.users`, with its index; the last entry of an id counts,
    as in `_users_by_id`."""
    author_id = post.author_id
    if author_id is not None:
        for index in range(len(users) - 1, -1, -1):
            user = users[index]
            if type(user) is V2User and user.id == author_id:
                return user, index
    return None


def _users_by_id(users: list[V2User | NotAnObject]) -> dict[str, tuple[V2User, int]]:
    """The page's user objects by id, with their index: posts name their author by `author_id`.
    An entry without a string id can be nobody's author: it is skipped."""
    return {
        user.id: (user, index)
        for index, user in enumerate(users)
        if type(user) is V2User and type(user.id) is str
    }


def _v2_post(post: V2Post, entry: tuple[V2User, int] | None, where: str) -> Post:
    """The post; `entry` is its author's entry in `includes.users` and its index, if there."""
    tweet_id = post.id
    if not (type(tweet_id) is str and tweet_id.isdigit() and tweet_id.isascii()):
        tweet_id = read_post_id(tweet_id, f"{where}.id")
    text = post.text
    mentions = [] if post.entities is None else _v2_mentions(post.entities)
    note = post.note_tweet
    if note is not None:
        if note.text is not None:
            text = note.text
        if note.entities is not None:
            mentions += _v2_mentions(note.entities)
    if type(text) is not str:
        fault = (
            " has no text" if text is None else f": text must be a string, got {json_kind(text)}"
        )
        raise PostError(f"post {tweet_id}{fault}", f"{where}.text")

    author_id = post.author_id
    author = None
    if entry is not None:
        user, index = entry
        path = f"$.includes.users[{index}]"
        author = read_author(
            user, author_id, user.username, "username", where=path, of=f"of `{where}` "
        )
    chain = post.edit_history_tweet_ids
    if chain is None or (len(chain) == 1 and chain[0] == tweet_id):
        complaint_id, revision = tweet_id, 0  # not edited: by far the most common case
    else:
        complaint_id, revision = read_edit_chain(chain, tweet_id, f"{where}.edit_history_tweet_ids")
    references = post.referenced_tweets
    is_retweet, replied_to = (
        (False, None) if references is None else _v2_references(references, where)
    )
    created_at = post.created_at
    return Post(
        tweet_id,
        text,
        author_id,
        author,
        mentions,
        post.in_reply_to_user_id,
        is_retweet,
        complaint_id,
        revision,
        post.lang,
        None if created_at is None else iso_utc(created_at, f"{where}.created_at"),
        post.conversation_id,
        replied_to,
    )


def _v2_mentions(entities: Entities) -> list[tuple[str | None, str | None]]:
    if entities.mentions is None:
        return []
    return [(mention.id, mention.username) for mention in entities.mentions]


def _v2_references(references: list[Reference], where: str) -> tuple[bool, str | None]:
    """(whether the post is a retweet, the id of the post it replies to)."""
    is_retweet, replied_to = False, None
    for index, reference in enumerate(references):
        kind_of = reference.type
        if kind_of == "retweeted":
            is_retweet = True
        elif kind_of == "replied_to":
            replied_to = read_post_id(reference.id, f"{where}.referenced_tweets[{index}].id")
    return is_retweet, replied_to


def _parse_v1(raw: bytes) -> Post:
    try:
        tweet = V1_TWEET.decode(raw)
    except msgspec.ValidationError as exc:
        raise PostError(str(exc)) from None
    tweet_id = _v1_post_id(tweet.id_str, tweet.id, "$.id")
    extended = tweet.extended_tweet
    texts = [("$.text", tweet.text), ("$.full_text", tweet.full_text)]
    if extended is not None:
        texts.append(("$.extended_tweet.full_text", extended.full_text))
    path, text = next(
        ((path, text) for path, text in reversed(texts) if text is not None), ("$.text", None)
    )
    if type(text) is not str:
        fault = (
            " has no text" if text is None else f": text must be a string, got {json_kind(text)}"
        )
        raise PostError(f"tweet {tweet_id}{fault}", path)

    user = tweet.user
    author = None
    if user is not None:
        user_id = read_v1_id(user.id_str, user.id, "$.user.id")
        author = read_author(user, user_id, user.screen_name, "screen_name", where="$.user", of="")
    complaint_id, revision = tweet_id, 0
    if tweet.edit_history is not None:
        complaint_id, revision = read_edit_chain(
            tweet.edit_history.edit_tweet_ids, tweet_id, "$.edit_history.edit_tweet_ids"
        )
    created_at = tweet.created_at
    return Post(
        tweet_id=tweet_id,
        text=text,
        author_id=None if author is None else author["id"],
        author=author,
        mentions=_v1_mentions(extended.entities if extended else None, "$.extended_tweet")
        or _v1_mentions(_v1_entities(tweet.entities), "$"),
        in_reply_to_user_id=read_v1_id(
            tweet.in_reply_to_user_id_str, tweet.in_reply_to_user_id, "$.in_reply_to_user_id"
        ),
        is_retweet=tweet.retweeted_status is not None,
        complaint_id=complaint_id,
        revision=revision,
        lang=tweet.lang,
        created_at=None if created_at is None else iso_utc(created_at, "$.created_at"),
        conversation_id=None,
        in_reply_to_tweet_id=_v1_parent(tweet),
    )


def _v1_entities(entities: object) -> V1Entities | None:
    try:
        return msgspec.convert(entities, V1Entities | None)
    except msgspec.ValidationError as exc:
        raise PostError(_under("$.entities", exc)) from None


def _v1_parent(tweet: V1Tweet) -> str | None:
    string, number = tweet.in_reply_to_status_id_str, tweet.in_reply_to_status_id
    if string is None and number is None:
        return None
    return _v1_post_id(string, number, "$.in_reply_to_status_id")


def _v1_post_id(as_string: str | None, as_number: object, where: str) -> str:
    """A v1.1 post id, its fault at `where` (the number) or `where` + `_str` (the string)."""
    value = read_v1_id(as_string, as_number, where)
    return read_post_id(value, where if as_string is None else f"{where}_str")


def _v1_mentions(entities: V1Entities | None, where: str) -> list[tuple[str | None, str | None]]:
    """`entities.user_mentions` of a v1.1 tweet or of its `extended_tweet`."""
    if entities is None or entities.user_mentions is None:
        return []
    return [
        (
            read_v1_id(mention.id_str, mention.id, f"{where}.entities.user_mentions[{index}].id"),
            mention.screen_name,
        )
        for index, mention in enumerate(entities.user_mentions)
    ]


def _is_empty_page(meta: object) -> bool:
    """A search or timeline page with no results: X sends `meta` and leaves `data` out. `meta` is
    the field's bytes, or its value when the line was read as Python objects."""
    try:
        page = META.decode(meta) if type(meta) is msgspec.Raw else msgspec.convert(meta, Meta)
    except msgspec.ValidationError:
        return False
    count = page.result_count
    return type(count) is int and count == 0
