"""Property tests: no input makes `Router.route_line` raise, and every post ends in exactly one of
a dead letter, a rejection, or one or more complaint events."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import event as note_kind
from hypothesis import strategies as st

from agents.core.route import Router
from schemas.codec import encode_routed_line
from schemas.events import SCHEMA_VERSION
from schemas.topics import DEAD_LETTER_TOPIC, REJECTED_TOPIC, UNROUTED_TOPIC
from tests.unit.agents.factories import (
    ACCOUNTS,
    CITIZEN_ID,
    CREATED_AT,
    V1_CREATED_AT,
    build_registry,
    make_post,
    make_router,
    make_user,
    make_v1_tweet,
    stream_line,
)

REGISTRY = build_registry()
COMPLAINT_TOPICS = {f"complaints.{agency}" for agency in REGISTRY.agency_ids} | {UNROUTED_TOPIC}
UTC_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")
REASONS = {"duplicate", "retweet", "unknown_author", "agency_post", "unverified_author"}

SETTINGS = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# --- strategies --------------------------------------------------------------------------------

# Text orjson can encode: any code point but lone surrogates (JSON text is UTF-8).
texts = st.text(st.characters(codec="utf-8"), max_size=20)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | texts
)
KNOWN_KEYS = [
    "data", "includes", "users", "meta", "result_count", "id", "id_str", "text", "full_text",
    "author_id", "user", "entities", "mentions", "user_mentions", "username", "screen_name",
    "name", "verified", "verified_type", "referenced_tweets", "type", "retweeted",
    "retweeted_status", "extended_tweet", "note_tweet", "edit_history_tweet_ids",
    "edit_history", "edit_tweet_ids", "in_reply_to_user_id", "in_reply_to_user_id_str",
    "conversation_id", "created_at", "lang",
]  # fmt: skip
keys = st.sampled_from(KNOWN_KEYS) | texts
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=5),
    max_leaves=25,
)

account_ids = st.sampled_from(sorted({account_id for account_id, _ in ACCOUNTS}))
handles = st.sampled_from(sorted({handle for _, handle in ACCOUNTS}))
digit_ids = st.integers(1, 10**19 - 1).map(str)
post_ids = st.sampled_from(["1790000000000000001", "1790000000000000002"]) | digit_ids
user_ids = account_ids | st.just(CITIZEN_ID) | digit_ids


# Small wrong values for a field: generating them must stay cheap, they are drawn everywhere.
junk = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=2) | st.dictionaries(keys, children, max_size=2),
    max_leaves=4,
)


_MISSING = object()


# Each example is either clean (every field well-typed, so the later decisions are reached) or
# messy (any field may be of a wrong type or missing).
messy = st.shared(st.booleans(), key="messy")


def either(valid: st.SearchStrategy[Any], *, field: bool = True) -> st.SearchStrategy[Any]:
    """A value of the right shape; in a messy example, now and then any (small) JSON value or,
    for a `field`, no field at all."""
    # Hypothesis favours the ends of a range, so the rare choices sit in the middle of it.
    choice = st.integers(0, 9).flatmap(
        lambda i: junk if i == 4 else st.just(_MISSING) if i == 5 and field else valid
    )
    return messy.flatmap(lambda is_messy: choice if is_messy else valid)


def sometimes(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A field X often leaves out: missing half of the time, in a messy example now and then of
    a wrong type."""
    choice = st.integers(0, 9).flatmap(
        lambda i: junk if i == 4 else st.just(_MISSING) if i % 2 else valid
    )
    return messy.flatmap(lambda is_messy: choice if is_messy else st.just(_MISSING) | valid)


def objects(fields: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """Objects with these fields, leaving out the ones drawn as missing."""
    return st.fixed_dictionaries(fields).map(
        lambda drawn: {key: value for key, value in drawn.items() if value is not _MISSING}
    )


offsets = st.integers(min_value=-23 * 60, max_value=23 * 60).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
iso_times = st.builds(
    lambda moment, zone: moment.replace(tzinfo=zone).isoformat(),
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)),
    offsets | st.just(UTC),
)
created_ats = st.sampled_from([CREATED_AT, V1_CREATED_AT]) | iso_times

v2_mention = objects(
    {
        "start": either(st.integers(0, 280)),
        "end": either(st.integers(0, 280)),
        "username": either(handles | texts),
        "id": sometimes(account_ids | digit_ids),
    }
)
v2_entities = objects({"mentions": either(st.lists(either(v2_mention, field=False), max_size=3))})
reference = objects(
    {
        "type": either(st.sampled_from(["retweeted", "quoted", "replied_to"])),
        "id": either(post_ids),
    }
)
verified_types = st.sampled_from(["blue", "business", "government", "none"])


@st.composite
def v2_posts(draw: st.DrawFn) -> dict[str, Any]:
    """A v2 post whose every field is mostly well-typed, sometimes missing or any JSON value."""
    post_id = draw(either(post_ids))
    chain = st.lists(post_ids, max_size=3).map(
        lambda ids: ids if post_id is _MISSING else [*ids, post_id]
    )
    return draw(
        objects(
            {
                "id": st.just(post_id),
                "text": either(texts),
                "author_id": either(user_ids),
                "entities": sometimes(v2_entities),
                "referenced_tweets": sometimes(
                    st.lists(either(reference, field=False), max_size=3)
                ),
                "in_reply_to_user_id": sometimes(user_ids),
                "conversation_id": either(post_ids),
                "edit_history_tweet_ids": either(chain),
                "note_tweet": sometimes(
                    objects({"text": either(texts), "entities": sometimes(v2_entities)})
                ),
                "created_at": either(created_ats),
                "lang": either(st.sampled_from(["in", "en", "ar", "und"])),
            }
        )
    )


def v2_user_objects(user_id: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return objects(
        {
            "id": user_id,
            "username": either(handles | texts),
            "name": either(texts),
            "verified": either(st.booleans()),
            "verified_type": sometimes(verified_types),
        }
    )


@st.composite
def v2_includes(draw: st.DrawFn, posts: list[Any]) -> dict[str, Any]:
    """An `includes` block holding, most of the time, the author of each post."""
    users = draw(st.lists(v2_user_objects(user_ids), max_size=2))
    for post in posts:
        author_id = post.get("author_id") if type(post) is dict else None
        if type(author_id) is str and draw(st.integers(0, 4)) > 0:
            users.append(draw(v2_user_objects(st.just(author_id))))
    return {"users": draw(st.permutations(users))}


v1_mention = objects(
    {
        "id_str": either(account_ids | digit_ids),
        "id": sometimes(st.integers(0, 2**63)),
        "screen_name": either(handles | texts),
        "indices": sometimes(st.lists(st.integers(0, 280), min_size=2, max_size=2)),
    }
)
v1_entities = objects(
    {"user_mentions": either(st.lists(either(v1_mention, field=False), max_size=4))}
)
v1_user = objects(
    {
        "id_str": either(user_ids),
        "id": sometimes(st.integers(0, 2**63)),
        "screen_name": either(handles | texts),
        "name": either(texts),
        "verified": either(st.booleans()),
    }
)
v1_tweets = objects(
    {
        "id_str": either(post_ids),
        "id": sometimes(st.integers(0, 2**63)),
        "text": either(texts),
        "full_text": sometimes(texts),
        "user": either(v1_user),
        "entities": either(v1_entities),
        "extended_tweet": sometimes(
            objects({"full_text": either(texts), "entities": either(v1_entities)})
        ),
        "retweeted_status": sometimes(st.just({"id_str": "1", "text": "asli"})),
        "in_reply_to_user_id_str": sometimes(user_ids),
        "in_reply_to_user_id": sometimes(st.integers(0, 2**63)),
        "edit_history": sometimes(objects({"edit_tweet_ids": either(st.lists(post_ids))})),
        "created_at": either(created_ats),
        "lang": either(texts),
    }
).filter(lambda tweet: "id_str" in tweet or "user" in tweet)


def dumps(document: Any) -> bytes:
    return orjson.dumps(document)


valid_lines = st.one_of(
    st.builds(
        lambda: stream_line(make_post("@KejatiJateng x", mentions=[("1001", "KejatiJateng")]))
    ),
    st.builds(
        lambda: orjson.dumps(make_v1_tweet("@PT_Semarang", mentions=[("3001", "PT_Semarang")]))
    ),
    st.builds(lambda: stream_line(make_post(), [make_user()])),
)


@st.composite
def damaged_lines(draw: st.DrawFn) -> bytes:
    """A real line cut short, or with a few bytes overwritten."""
    line = bytearray(draw(valid_lines))
    if draw(st.booleans()):
        return bytes(line[: draw(st.integers(0, len(line)))])
    for _ in range(draw(st.integers(1, 4))):
        line[draw(st.integers(0, len(line) - 1))] = draw(st.integers(0, 255))
    return bytes(line)


# --- checking the router's output --------------------------------------------------------------


def router() -> Router:
    return make_router(REGISTRY)


def outcomes(emits: list[tuple[str, str | None, Any]], line: int) -> list[tuple[str, Any]]:
    """Group events into per-post outcomes, checking each event's shape on the way.

    An outcome is ("dead_letter", event), ("rejected", event) or ("complaints", [events]): the
    complaints of one post come together and share its tweet id."""
    groups: list[tuple[str, Any]] = []
    for topic, key, event in emits:
        # Every event can be written out as the route command writes it.
        assert orjson.loads(encode_routed_line(topic, key, event))["value"] == event
        assert event["schema_version"] == SCHEMA_VERSION
        if topic == DEAD_LETTER_TOPIC:
            assert key is None
            assert event["line"] == line
            assert type(event["error"]) is str and event["error"]
            assert type(event["raw"]) is str
            groups.append(("dead_letter", event))
        elif topic == REJECTED_TOPIC:
            assert key == event["tweet_id"]
            assert event["reason"] in REASONS
            assert event["registry_version"] == REGISTRY.version
            groups.append(("rejected", event))
        else:
            assert topic in COMPLAINT_TOPICS, topic
            assert key == event["complaint_id"]
            assert event["created_at"] is None or UTC_TIME.fullmatch(event["created_at"])
            expected_topic = f"complaints.{event['agency_id'] or 'unrouted'}"
            assert topic == expected_topic
            assert event["registry_version"] == REGISTRY.version
            last = groups[-1] if groups else None
            if (
                last is not None
                and last[0] == "complaints"
                and last[1][0]["tweet_id"] == event["tweet_id"]
            ):
                last[1].append(event)
            else:
                groups.append(("complaints", [event]))
    for kind, value in groups:
        if kind == "complaints":
            check_complaints(value)
    return groups


def check_complaints(events: list[dict[str, Any]]) -> None:
    """The complaints of one post: one per addressed agency, or a single unrouted one."""
    agencies = [event["agency_id"] for event in events]
    if None in agencies:
        assert agencies == [None]
        assert events[0]["co_addressed"] == []
        assert (
            events[0]["event_id"] == f"{events[0]['complaint_id']}:{events[0]['revision']}:unrouted"
        )
        return
    assert len(set(agencies)) == len(agencies)
    for event in events:
        assert event["co_addressed"] == [a for a in agencies if a != event["agency_id"]]
        assert event["event_id"] == (
            f"{event['complaint_id']}:{event['revision']}:{event['agency_id']}"
        )
    first = events[0]
    for event in events[1:]:
        for field in ("tweet_id", "complaint_id", "revision", "author", "text", "created_at"):
            assert event[field] == first[field]


def outcome_tweet_id(outcome: tuple[str, Any]) -> str | None:
    kind, value = outcome
    if kind == "dead_letter":
        return None
    if kind == "rejected":
        return str(value["tweet_id"])
    return str(value[0]["tweet_id"])


def check_route_twice(raw: bytes, line: int) -> list[tuple[str, Any]]:
    """Route `raw` twice in one run: the second time every readable post is a duplicate."""
    r = router()
    first = outcomes(r.route_line(raw, line), line)
    second = outcomes(r.route_line(raw, line), line)
    assert len(second) == len(first)
    for before, after in zip(first, second, strict=True):
        if before[0] == "dead_letter":
            assert after == before
        else:
            assert after[0] == "rejected"
            assert after[1]["reason"] == "duplicate"
            assert outcome_tweet_id(after) == outcome_tweet_id(before)
    # Deterministic: a fresh run makes exactly the same events.
    assert router().route_line(raw, line) == make_router(REGISTRY).route_line(raw, line)
    return first


def expected_outcomes(document: Any) -> set[int]:
    """How many per-post outcomes a parsed line may have."""
    if type(document) is not dict:
        return {1}
    if "data" in document:
        data = document["data"]
        if type(data) is list:
            return {len(data), 1}  # 1: a line-level dead letter (e.g. bad includes)
        return {1}
    if "id_str" in document or "user" in document:
        return {1}
    return {0, 1}  # 0: an empty search page


# --- properties --------------------------------------------------------------------------------


@SETTINGS
@given(st.binary(max_size=200) | damaged_lines() | valid_lines, st.integers(1, 10**9))
def test_arbitrary_bytes_never_raise(raw: bytes, line: int) -> None:
    groups = check_route_twice(raw, line)
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError:
        kinds = [kind for kind, _ in groups]
        # A blank line may be skipped by the core or left to the caller (`aduan route` skips it).
        assert kinds == ["dead_letter"] or (kinds == [] and not raw.strip())
        return
    assert len(groups) in expected_outcomes(document)


@SETTINGS
@given(json_values, st.integers(1, 10**6))
def test_arbitrary_json_never_raises(document: Any, line: int) -> None:
    groups = check_route_twice(dumps(document), line)
    assert len(groups) in expected_outcomes(document)


@SETTINGS
@given(st.dictionaries(keys, junk, max_size=4), json_values, st.integers(1, 100))
def test_arbitrary_objects_with_data_never_raise(
    document: dict[str, Any], data: Any, line: int
) -> None:
    document = {**document, "data": data}
    groups = check_route_twice(dumps(document), line)
    assert len(groups) in expected_outcomes(document)


@SETTINGS
@given(v2_posts(), st.data())
def test_v2_stream_message_is_one_outcome(post: dict[str, Any], data: st.DataObject) -> None:
    document: dict[str, Any] = {"data": post}
    inc = data.draw(either(v2_includes([post])))
    if inc is not _MISSING:
        document["includes"] = inc
    [(kind, value)] = check_route_twice(dumps(document), 3)
    note_kind(kind if kind != "rejected" else value["reason"])
    if kind != "dead_letter":
        assert outcome_tweet_id((kind, value)) == post["id"]
    if kind == "complaints":
        note = post.get("note_tweet")
        text = note["text"] if type(note) is dict and note.get("text") is not None else post["text"]
        for complaint in value:
            assert complaint["tweet_id"] == post["id"]
            assert complaint["text"] == text
            assert complaint["author"]["id"] == post["author_id"]


@settings(SETTINGS, max_examples=100)  # each example holds up to 4 posts
@given(st.lists(either(v2_posts(), field=False), max_size=4), st.data())
def test_v2_page_is_one_outcome_per_post(posts: list[Any], data: st.DataObject) -> None:
    inc = data.draw(v2_includes(posts))
    document = {"data": posts, "includes": inc, "meta": {"result_count": len(posts)}}
    groups = check_route_twice(dumps(document), 8)
    # `includes` is well formed, so no line-level dead letter: each post is judged on its own.
    assert len(groups) == len(posts)
    for index, ((kind, value), post) in enumerate(zip(groups, posts, strict=True)):
        note_kind(kind if kind != "rejected" else value["reason"])
        if kind == "dead_letter":
            assert f"`$.data[{index}]" in value["error"], value["error"]
        else:
            assert outcome_tweet_id((kind, value)) == post["id"]


@SETTINGS
@given(v1_tweets, st.integers(1, 1000))
def test_v1_tweet_is_one_outcome(tweet: dict[str, Any], line: int) -> None:
    [(kind, value)] = check_route_twice(dumps(tweet), line)
    note_kind(kind if kind != "rejected" else value["reason"])
    if kind != "dead_letter":
        assert outcome_tweet_id((kind, value)) in {tweet.get("id_str"), str(tweet.get("id"))}


@SETTINGS
@given(
    st.lists(
        handles.flatmap(lambda h: st.sampled_from([h, h.lower(), h.upper()]))
        | st.sampled_from(["warga", "someone"]),
        max_size=6,
    ),
    st.lists(account_ids | digit_ids, max_size=3),
    st.none() | user_ids,
)
def test_well_formed_posts_address_exactly_the_registry_agencies(
    mentioned: list[str], by_id: list[str], reply_to: str | None
) -> None:
    """For well-formed posts by a verified citizen: one complaint per addressed agency, in order
    of first appearance (mentions by handle, then by id, then the replied-to account)."""
    mentions: list[tuple[str | None, str]] = [(None, handle) for handle in mentioned]
    mentions += [(account, "whoever") for account in by_id]
    post = make_post("keluhan", mentions=mentions, in_reply_to_user_id=reply_to)
    emits = router().route_line(stream_line(post), 1)
    expected: list[str] = []
    for handle in mentioned:
        agency = REGISTRY.agency_by_username.get(handle.lower())
        if agency is not None and agency not in expected:
            expected.append(agency)
    for account in [*by_id, reply_to]:
        agency = REGISTRY.agency_by_account_id.get(account) if account else None
        if agency is not None and agency not in expected:
            expected.append(agency)
    assert [topic for topic, _k, _e in emits] == (
        [f"complaints.{agency}" for agency in expected] or [UNROUTED_TOPIC]
    )
