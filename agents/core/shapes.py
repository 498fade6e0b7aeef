"""The X API shapes the router reads, as msgspec types: a line is validated as it is decoded, in C,
and the fields the router does not read (metrics, annotations, URLs) are skipped without building
objects. `agents.core.parse` checks what a type cannot say (ids made of digits, an edit chain that
holds its post, a post's own author).

Fields typed `object` are read only in some cases, and the router ignores them in the others;
typing them would turn a line it serves into a dead letter. A v1.1 id's `<field>_str` is a string,
its `<field>` a number or a string (`fields.read_v1_id`)."""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import Raw, Struct, UnsetType

NotAnObject = list[Any] | str | int | float | bool | None
"""Any JSON value but an object: an entry of `includes.users` that can be nobody's author."""


class Mention(Struct):
    id: str | None = None
    username: str | None = None


class Entities(Struct):
    mentions: list[Mention] | None = None


class NoteTweet(Struct):
    """The whole text of a post longer than 280 characters, and its entities."""

    text: str | None = None
    entities: Entities | None = None


class Reference(Struct):
    type: object = None
    id: object = None
    """Read only for `type` "replied_to"."""


class V2Post(Struct):
    id: str | None = None
    text: object = None
    """Read only when `note_tweet` carries no text."""
    author_id: str | None = None
    in_reply_to_user_id: str | None = None
    lang: str | None = None
    created_at: str | None = None
    conversation_id: str | None = None
    entities: Entities | None = None
    note_tweet: NoteTweet | None = None
    edit_history_tweet_ids: list[str] | None = None
    referenced_tweets: list[Reference] | None = None


class V2User(Struct):
    """Checked only as some post's author (`fields.read_author`): a broken entry sinks its own
    posts, not the page."""

    id: object = None
    username: object = None
    name: object = None
    verified: object = None
    verified_type: object = None


class Includes(Struct):
    users: list[V2User | NotAnObject] | None = None


class Line(Struct):
    """Any input line: an X API v2 stream message (`data` a post) or page (`data` a list of posts,
    each decoded on its own so that one bad post does not sink the others), a v1.1 tweet (`id_str`
    or `user` present, decoded again as `V1Tweet`), or an empty page (`meta`)."""

    data: V2Post | list[Raw] | UnsetType = msgspec.UNSET
    includes: Includes | None = None
    meta: Raw | UnsetType = msgspec.UNSET
    id_str: Raw | UnsetType = msgspec.UNSET
    user: Raw | UnsetType = msgspec.UNSET


class V1Mention(Struct):
    id_str: str | None = None
    id: object = None
    screen_name: str | None = None


class V1Entities(Struct):
    user_mentions: list[V1Mention] | None = None


class V1Extended(Struct):
    full_text: object = None
    entities: V1Entities | None = None


class V1User(Struct):
    id_str: str | None = None
    id: object = None
    screen_name: object = None
    name: object = None
    verified: object = None
    verified_type: object = None


class V1EditHistory(Struct):
    edit_tweet_ids: list[str] | None = None


class V1Tweet(Struct):
    """A v1.1 tweet, as archives hold them. Ids come as `<field>_str`, or as numbers in old ones."""

    id_str: str | None = None
    id: object = None
    text: object = None
    full_text: object = None
    user: V1User | None = None
    entities: object = None
    """Read only when `extended_tweet` names no one (`V1Entities`)."""
    extended_tweet: V1Extended | None = None
    retweeted_status: dict[str, Any] | None = None
    edit_history: V1EditHistory | None = None
    in_reply_to_user_id_str: str | None = None
    in_reply_to_user_id: object = None
    in_reply_to_status_id_str: str | None = None
    in_reply_to_status_id: object = None
    created_at: str | None = None
    lang: str | None = None


class Meta(Struct):
    result_count: object = None


LINE = msgspec.json.Decoder(Line)
V2_POST = msgspec.json.Decoder(V2Post)
V1_TWEET = msgspec.json.Decoder(V1Tweet)
META = msgspec.json.Decoder(Meta)
