"""Builders of test input shaped exactly as X delivers it, and a small test registry.

X API v2 shapes follow the v2 docs (post fields `id`, `text`, `author_id`, `entities.mentions`,
`referenced_tweets`, `in_reply_to_user_id`, `conversation_id`, `edit_history_tweet_ids`,
`note_tweet`, `created_at`, `lang`; user fields `id`, `name`, `username`, `verified`,
`verified_type`). v1.1 shapes follow the v1.1 Tweet object (`id_str`, `user`,
`entities.user_mentions`, `extended_tweet`, `retweeted_status`, `in_reply_to_user_id_str`).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from typing import Any

import orjson

from agents.core.registry import Registry, parse_registry
from agents.core.route import Router
from agents.core.verify import VerificationPolicy
from schemas.events import SCHEMA_VERSION, Case, CaseStatus

# --- the test registry -------------------------------------------------------------------------

KEJATI_ID = "1001"
KEJATI_HANDLE = "KejatiJateng"
HUMAS_ID = "2001"
HUMAS_HANDLE = "humasjateng"
PEMPROV_ID = "2002"
PEMPROV_HANDLE = "PemprovJateng"
PT_ID = "3001"
PT_HANDLE = "PT_Semarang"
BPK_ID = "4001"
BPK_HANDLE = "BPKJateng"

ONE_AGENCY = f"""\
agencies:
  - id: kejati-jateng
    name: Kejaksaan Tinggi Jawa Tengah
    accounts:
      - id: "{KEJATI_ID}"
        username: {KEJATI_HANDLE}
"""
"""A registry of kejati-jateng alone, for tests that add to it or break it."""

# Test registry: four agencies, pemprov-jateng with two accounts.
REGISTRY_YAML = (
    ONE_AGENCY
    + f"""\
  - id: pemprov-jateng
    name: Pemerintah Provinsi Jawa Tengah
    accounts:
      - id: "{HUMAS_ID}"
        username: {HUMAS_HANDLE}
      - id: "{PEMPROV_ID}"
        username: {PEMPROV_HANDLE}
  - id: pt-semarang
    name: Pengadilan Tinggi Semarang
    accounts:
      - id: "{PT_ID}"
        username: {PT_HANDLE}
  - id: bpk-jateng
    name: BPK Perwakilan Jawa Tengah
    accounts:
      - id: "{BPK_ID}"
        username: {BPK_HANDLE}
"""
)

# (account id, handle) -> agency id, for tests that pick accounts.
ACCOUNTS: dict[tuple[str, str], str] = {
    (KEJATI_ID, KEJATI_HANDLE): "kejati-jateng",
    (HUMAS_ID, HUMAS_HANDLE): "pemprov-jateng",
    (PEMPROV_ID, PEMPROV_HANDLE): "pemprov-jateng",
    (PT_ID, PT_HANDLE): "pt-semarang",
    (BPK_ID, BPK_HANDLE): "bpk-jateng",
}


def build_registry(text: str = REGISTRY_YAML, source: str = "test") -> Registry:
    return parse_registry(text, source=source)


def make_router(
    registry: Registry | None = None, policy: VerificationPolicy | None = None
) -> Router:
    """A router with a fresh in-memory set of seen post ids, as `aduan route` builds it."""
    return Router(
        registry if registry is not None else build_registry(),
        policy if policy is not None else VerificationPolicy(),
        seen=set(),
    )


# --- X API v2 ----------------------------------------------------------------------------------

CREATED_AT = "2024-05-01T03:04:05.000Z"
CITIZEN_ID = "1500000000000000001"
CITIZEN_HANDLE = "warga_semarang"

_ids = itertools.count(1790000000000000000)


def next_id() -> str:
    """A fresh post id (a string of digits, as X API v2 writes ids)."""
    return str(next(_ids))


def make_user(
    id: str = CITIZEN_ID,
    username: str = CITIZEN_HANDLE,
    name: str = "Warga Semarang",
    verified: bool | None = True,
    verified_type: str | None = "blue",
) -> dict[str, Any]:
    """A v2 user object; `None` leaves a field out, as X does when it is not requested."""
    user: dict[str, Any] = {"id": id, "name": name, "username": username}
    if verified is not None:
        user["verified"] = verified
    if verified_type is not None:
        user["verified_type"] = verified_type
    return user


def mention_entities(text: str, mentions: Iterable[tuple[str | None, str]]) -> list[dict[str, Any]]:
    """v2 `entities.mentions` for (user id or None, username) pairs, with their offsets in `text`.

    `start`/`end` point at `@username` in `text` when it is there (X counts code points)."""
    entities: list[dict[str, Any]] = []
    cursor = 0
    for user_id, username in mentions:
        at = text.find("@" + username, cursor)
        start = max(at, 0)
        end = start + len(username) + 1
        cursor = end if at >= 0 else cursor
        entity: dict[str, Any] = {"start": start, "end": end, "username": username}
        if user_id is not None:
            entity["id"] = user_id
        entities.append(entity)
    return entities


def make_post(
    text: str = "Jalan rusak di Jl. Pemuda, mohon ditindaklanjuti",
    *,
    id: str | None = None,
    author_id: str | None = CITIZEN_ID,
    mentions: Sequence[tuple[str | None, str]] = (),
    in_reply_to_user_id: str | None = None,
    referenced_tweets: Sequence[tuple[str, str]] = (),
    conversation_id: str | None = None,
    edit_history_tweet_ids: Sequence[str] | None = None,
    note_text: str | None = None,
    note_mentions: Sequence[tuple[str | None, str]] = (),
    created_at: str | None = CREATED_AT,
    lang: str | None = "in",
) -> dict[str, Any]:
    """A v2 post object. `mentions` are (user id or None, username); `referenced_tweets` are
    (type, id) pairs with type `retweeted`, `quoted` or `replied_to`. `note_text` makes it a long
    post: X truncates `text` and puts the whole text in `note_tweet`."""
    post_id = id if id is not None else next_id()
    post: dict[str, Any] = {
        "id": post_id,
        "text": text,
        "edit_history_tweet_ids": list(edit_history_tweet_ids or [post_id]),
    }
    if author_id is not None:
        post["author_id"] = author_id
    if created_at is not None:
        post["created_at"] = created_at
    if lang is not None:
        post["lang"] = lang
    post["conversation_id"] = conversation_id if conversation_id is not None else post_id
    if mentions:
        post["entities"] = {"mentions": mention_entities(text, mentions)}
    if in_reply_to_user_id is not None:
        post["in_reply_to_user_id"] = in_reply_to_user_id
    if referenced_tweets:
        post["referenced_tweets"] = [{"type": t, "id": i} for t, i in referenced_tweets]
    if note_text is not None:
        note: dict[str, Any] = {"text": note_text}
        if note_mentions:
            note["entities"] = {"mentions": mention_entities(note_text, note_mentions)}
        post["note_tweet"] = note
    return post


def stream_line(post: dict[str, Any], users: Sequence[dict[str, Any]] | None = None) -> bytes:
    """A filtered-stream message: `{"data": post, "includes": {"users": [...]}}`.

    `users` defaults to the default citizen author; pass `[]` for a message without includes."""
    users = [make_user()] if users is None else list(users)
    document: dict[str, Any] = {"data": post}
    if users:
        document["includes"] = {"users": users}
    return orjson.dumps(document)


def page_line(posts: Sequence[Any], users: Sequence[dict[str, Any]] | None = None) -> bytes:
    """A saved search / mentions-timeline page: `data` is a list sharing one `includes`."""
    users = [make_user()] if users is None else list(users)
    document: dict[str, Any] = {"data": list(posts)}
    if users:
        document["includes"] = {"users": users}
    document["meta"] = {"result_count": len(posts)}
    return orjson.dumps(document)


# --- v1.1 --------------------------------------------------------------------------------------

V1_CREATED_AT = "Wed May 24 20:32:51 +0000 2017"


def make_v1_user(
    id: str = CITIZEN_ID,
    screen_name: str = CITIZEN_HANDLE,
    name: str = "Warga Semarang",
    verified: bool = True,
) -> dict[str, Any]:
    """A v1.1 user: `id` is a number (it may lose precision in JSON readers), `id_str` exact."""
    return {
        "id": int(id),
        "id_str": id,
        "name": name,
        "screen_name": screen_name,
        "verified": verified,
    }


def user_mentions(text: str, mentions: Iterable[tuple[str, str]]) -> list[dict[str, Any]]:
    """v1.1 `user_mentions` for (user id, screen name) pairs, with `indices` into `text`."""
    found: list[dict[str, Any]] = []
    for user_id, screen_name in mentions:
        at = max(text.find("@" + screen_name), 0)
        found.append(
            {
                "screen_name": screen_name,
                "name": screen_name,
                "id": int(user_id),
                "id_str": user_id,
                "indices": [at, at + len(screen_name) + 1],
            }
        )
    return found


def make_v1_tweet(
    text: str = "Jalan rusak di Jl. Pemuda, mohon ditindaklanjuti",
    *,
    id: str | None = None,
    user: dict[str, Any] | None = None,
    mentions: Sequence[tuple[str, str]] = (),
    extended_text: str | None = None,
    extended_mentions: Sequence[tuple[str, str]] = (),
    full_text: bool = False,
    in_reply_to_user_id: str | None = None,
    retweeted_status: dict[str, Any] | None = None,
    created_at: str = V1_CREATED_AT,
    lang: str = "in",
) -> dict[str, Any]:
    """A v1.1 tweet. `full_text=True` writes the text as `full_text` (tweet_mode=extended);
    `extended_text` adds the streaming API's `extended_tweet` for a post over 140 characters."""
    tweet_id = id if id is not None else next_id()
    tweet: dict[str, Any] = {
        "created_at": created_at,
        "id": int(tweet_id),
        "id_str": tweet_id,
        ("full_text" if full_text else "text"): text,
        "truncated": extended_text is not None,
        "user": user if user is not None else make_v1_user(),
        "entities": {
            "hashtags": [],
            "urls": [],
            "user_mentions": user_mentions(text, mentions),
        },
        "in_reply_to_status_id": None,
        "in_reply_to_status_id_str": None,
        "in_reply_to_user_id": None if in_reply_to_user_id is None else int(in_reply_to_user_id),
        "in_reply_to_user_id_str": in_reply_to_user_id,
        "lang": lang,
    }
    if extended_text is not None:
        tweet["extended_tweet"] = {
            "full_text": extended_text,
            "display_text_range": [0, len(extended_text)],
            "entities": {
                "hashtags": [],
                "urls": [],
                "user_mentions": user_mentions(extended_text, extended_mentions),
            },
        }
    if retweeted_status is not None:
        tweet["retweeted_status"] = retweeted_status
    return tweet


def v1_line(tweet: dict[str, Any]) -> bytes:
    return orjson.dumps(tweet)


# --- reading the router's output ---------------------------------------------------------------


Routed = tuple[str, str | None, Any]
"""(topic, key, event) with the event as a plain dict, for assertions on any event type."""


def route(router: Router, raw: bytes, line: int | None = 1) -> list[Routed]:
    """`router.route_line`, its events typed loosely so tests can read any field."""
    return [(topic, key, event) for topic, key, event in router.route_line(raw, line)]


def topics(emits: Sequence[Routed]) -> list[str]:
    return [topic for topic, _key, _event in emits]


def make_case(status: CaseStatus = "open", agency: str = "kejati-jateng", **fields: Any) -> Case:
    """A `cases` state: a complaint opened on Tuesday 2 June 2026, unanswered; `fields` replace
    any of its fields."""
    case: Case = {
        "case_id": "10",
        "agency_id": agency,
        "citizen_id": "501",
        "opened_at": "2026-06-02T02:00:00.000Z",
        "due_at": "2026-06-09T17:00:00.000Z",
        "posts": ["10"],
        "answers": 0,
        "first_answer_at": None,
        "first_answer_tweet_id": None,
        "working_days_to_answer": None,
        "answered_on_time": None,
        "status": status,
        "registry_version": "v1",
        "schema_version": SCHEMA_VERSION,
    }
    case.update(fields)  # type: ignore[typeddict-item]
    return case
