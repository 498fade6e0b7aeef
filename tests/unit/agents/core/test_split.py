"""`agents.core.split`: one Kafka message per post, keyed `<conversation>/<post id>`."""

from __future__ import annotations

import orjson

from agents.core.split import is_post_key, split_line, thread_of
from schemas.topics import DEAD_LETTER_TOPIC
from tests.unit.agents.factories import (
    KEJATI_HANDLE,
    KEJATI_ID,
    build_registry,
    make_post,
    make_router,
    make_user,
    make_v1_tweet,
    page_line,
    stream_line,
    v1_line,
)


def test_stream_message_travels_whole_keyed_by_its_conversation() -> None:
    reply = make_post(id="1790000000000001001", conversation_id="1790000000000000900")
    raw = stream_line(reply)
    [(key, value)] = split_line(raw)
    assert (key, value) == (b"1790000000000000900/1790000000000001001", raw)
    assert thread_of(key) == b"1790000000000000900"
    assert is_post_key(key)


def test_a_post_without_a_conversation_is_a_thread_of_its_own() -> None:
    post = make_post(id="1790000000000001001")
    del post["conversation_id"]
    raw = stream_line(post)
    assert split_line(raw) == [(b"1790000000000001001/1790000000000001001", raw)]


def test_v1_tweet_is_keyed_by_id_str() -> None:
    raw = v1_line(make_v1_tweet(id="870000000000000001"))
    assert split_line(raw) == [(b"870000000000000001/870000000000000001", raw)]


def test_a_key_made_before_post_ids_joined_keys_keeps_its_partition_and_is_no_post_key() -> None:
    assert thread_of(b"1790000000000000900") == b"1790000000000000900"
    assert not is_post_key(b"1790000000000000900")
    assert not is_post_key(None)


def test_page_becomes_one_message_per_post_with_only_the_users_it_names() -> None:
    author = make_user(id="1500000000000000077", username="warga77")
    agency = make_user(id=KEJATI_ID, username=KEJATI_HANDLE, verified_type="government")
    stranger = make_user(id="1500000000000000099", username="orang_lain")
    first = make_post(
        id="1790000000000001002", author_id=author["id"], mentions=[(KEJATI_ID, KEJATI_HANDLE)]
    )
    second = make_post(id="1790000000000001003", author_id=author["id"])
    messages = split_line(page_line([first, second], [author, agency, stranger]))
    assert [key for key, _ in messages] == [
        b"1790000000000001002/1790000000000001002",
        b"1790000000000001003/1790000000000001003",
    ]
    one, two = (orjson.loads(value) for _, value in messages)
    assert one == {"data": first, "includes": {"users": [author, agency]}}
    assert two == {"data": second, "includes": {"users": [author]}}


def test_a_page_routes_the_same_split_or_whole() -> None:
    posts = [
        make_post(id=f"179000000000000110{i}", mentions=[(KEJATI_ID, KEJATI_HANDLE)])
        for i in range(3)
    ]
    raw = page_line(posts)
    whole = make_router(build_registry()).route_line(raw, 1)
    router = make_router(build_registry())
    split = [emit for _, value in split_line(raw) for emit in router.route_line(value, 1)]
    assert split == whole


def test_unreadable_lines_travel_keyed_by_their_digest_for_the_worker_to_dead_letter() -> None:
    # A compacted topic refuses a message without a key; equal bytes get equal keys.
    keys = set()
    for raw in (
        b"not json",
        b"[1, 2]",
        b'{"data": [], "includes": {"users": 5}}',
        b'{"id": "a/b"}',
    ):
        [(key, value)] = split_line(raw)
        assert value == raw
        assert split_line(raw)[0][0] == key
        assert not is_post_key(key)
        keys.add(key)
        topics = [topic for topic, _, _ in make_router().route_line(value, 1)]
        assert topics == [DEAD_LETTER_TOPIC]
    assert len(keys) == 4
