"""`agents.core.route.Router`: the decisions in order, and the events (topic, key, value)
they emit."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson
import pytest

from agents.core.post import Malformed
from agents.core.route import RAW_LIMIT, Router, dead_letter
from agents.core.verify import VerificationPolicy
from schemas.codec import encode_routed_line
from schemas.events import SCHEMA_VERSION, Source
from schemas.topics import DEAD_LETTER_TOPIC, REJECTED_TOPIC, UNROUTED_TOPIC, complaint_topic
from tests.unit.agents.factories import (
    BPK_HANDLE,
    BPK_ID,
    CITIZEN_HANDLE,
    CITIZEN_ID,
    CREATED_AT,
    HUMAS_HANDLE,
    HUMAS_ID,
    KEJATI_HANDLE,
    KEJATI_ID,
    PEMPROV_HANDLE,
    PEMPROV_ID,
    PT_HANDLE,
    PT_ID,
    build_registry,
    make_post,
    make_router,
    make_user,
    make_v1_tweet,
    make_v1_user,
    page_line,
    route,
    stream_line,
    topics,
    v1_line,
)

UTC_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")
REGISTRY = build_registry()
VERSION = REGISTRY.version


@pytest.fixture
def router() -> Router:
    return make_router(REGISTRY)


def rejection(tweet_id: str, reason: str, author_id: str | None = CITIZEN_ID) -> dict[str, Any]:
    return {
        "tweet_id": tweet_id,
        "reason": reason,
        "author_id": author_id,
        "registry_version": VERSION,
        "schema_version": SCHEMA_VERSION,
    }


def agencies_of(emits: list[Any]) -> list[str | None]:
    return [event["agency_id"] for _topic, _key, event in emits]


# --- routed complaints -------------------------------------------------------------------------


def test_routed_complaint_event_in_full(router: Router) -> None:
    post = make_post(
        "@KejatiJateng tolong usut pungli di kantor kelurahan",
        id="1790000000000000001",
        mentions=[(KEJATI_ID, KEJATI_HANDLE)],
        conversation_id="1789999999999999999",
    )
    user = make_user(name="Budi Santoso", verified=False, verified_type="blue")
    assert route(router, stream_line(post, [user]), 7) == [
        (
            "complaints.kejati-jateng",
            "1790000000000000001",
            {
                "event_id": "1790000000000000001:0:kejati-jateng",
                "complaint_id": "1790000000000000001",
                "tweet_id": "1790000000000000001",
                "revision": 0,
                "agency_id": "kejati-jateng",
                "co_addressed": [],
                "author": {
                    "id": CITIZEN_ID,
                    "username": CITIZEN_HANDLE,
                    "name": "Budi Santoso",
                    "verified": False,
                    "verified_type": "blue",
                },
                "text": "@KejatiJateng tolong usut pungli di kantor kelurahan",
                "lang": "in",
                "created_at": CREATED_AT,
                "conversation_id": "1789999999999999999",
                "in_reply_to_user_id": None,
                "in_reply_to_tweet_id": None,
                "url": f"https://x.com/{CITIZEN_HANDLE}/status/1790000000000000001",
                "registry_version": VERSION,
                "schema_version": SCHEMA_VERSION,
            },
        )
    ]


def test_complaint_topic_names() -> None:
    assert complaint_topic("pt-semarang") == "complaints.pt-semarang"
    assert UNROUTED_TOPIC == "complaints.unrouted"
    assert REJECTED_TOPIC == "mentions.rejected"
    assert DEAD_LETTER_TOPIC == "mentions.dlq"


def test_several_agencies_one_event_each_in_order_with_co_addressed(router: Router) -> None:
    text = "@PT_Semarang @KejatiJateng @PT_Semarang @BPKJateng sidang ditunda terus"
    post = make_post(
        text,
        id="1790000000000000002",
        mentions=[
            (PT_ID, PT_HANDLE),
            (KEJATI_ID, KEJATI_HANDLE),
            (PT_ID, PT_HANDLE),
            (BPK_ID, BPK_HANDLE),
        ],
    )
    emits = route(router, stream_line(post), 1)
    assert topics(emits) == [
        "complaints.pt-semarang",
        "complaints.kejati-jateng",
        "complaints.bpk-jateng",
    ]
    assert [key for _t, key, _e in emits] == ["1790000000000000002"] * 3
    events: list[Any] = [event for _t, _k, event in emits]
    assert [e["co_addressed"] for e in events] == [
        ["kejati-jateng", "bpk-jateng"],
        ["pt-semarang", "bpk-jateng"],
        ["pt-semarang", "kejati-jateng"],
    ]
    assert [e["event_id"] for e in events] == [
        "1790000000000000002:0:pt-semarang",
        "1790000000000000002:0:kejati-jateng",
        "1790000000000000002:0:bpk-jateng",
    ]
    assert {e["text"] for e in events} == {text}


def test_one_agency_through_two_accounts_is_one_event(router: Router) -> None:
    post = make_post(
        "@humasjateng @PemprovJateng banjir",
        mentions=[(HUMAS_ID, HUMAS_HANDLE), (PEMPROV_ID, PEMPROV_HANDLE)],
    )
    emits = route(router, stream_line(post), 1)
    assert topics(emits) == ["complaints.pemprov-jateng"]
    assert emits[0][2]["co_addressed"] == []


def test_reply_without_mention_entity_routes_by_in_reply_to_user_id(router: Router) -> None:
    post = make_post(
        "kapan diperbaiki?",
        id="1790000000000000003",
        in_reply_to_user_id=BPK_ID,
        referenced_tweets=[("replied_to", "1780000000000000000")],
        conversation_id="1780000000000000000",
    )
    [(topic, key, event)] = route(router, stream_line(post), 1)
    assert (topic, key) == ("complaints.bpk-jateng", "1790000000000000003")
    assert event["in_reply_to_user_id"] == BPK_ID
    assert event["conversation_id"] == "1780000000000000000"


def test_quote_is_not_rejected(router: Router) -> None:
    post = make_post(
        "@KejatiJateng lihat ini",
        mentions=[(KEJATI_ID, KEJATI_HANDLE)],
        referenced_tweets=[("quoted", "1780000000000000001")],
    )
    assert topics(route(router, stream_line(post), 1)) == ["complaints.kejati-jateng"]


def test_handle_reuse_is_unrouted(router: Router) -> None:
    post = make_post(
        "@KejatiJateng halo",
        id="1790000000000000004",
        mentions=[("1600000000000000009", "kejatijateng")],
    )
    [(topic, key, event)] = route(router, stream_line(post), 1)
    assert (topic, key) == (UNROUTED_TOPIC, "1790000000000000004")
    assert event["agency_id"] is None
    assert event["event_id"] == "1790000000000000004:0:unrouted"


def test_renamed_agency_routes_by_id(router: Router) -> None:
    post = make_post("@KejatiBaru halo", mentions=[(KEJATI_ID, "KejatiBaru")])
    assert topics(route(router, stream_line(post), 1)) == ["complaints.kejati-jateng"]


def test_mention_without_id_routes_by_username_case_insensitively(router: Router) -> None:
    post = make_post(
        "@BPKJATENG @pt_semarang", mentions=[(None, "BPKJATENG"), (None, "pt_semarang")]
    )
    assert topics(route(router, stream_line(post), 1)) == [
        "complaints.bpk-jateng",
        "complaints.pt-semarang",
    ]


@pytest.mark.parametrize(
    "text",
    [
        "lapor ke humas@KejatiJateng.go.id",
        "https://x.com/@BPKJateng/status/1",
        "@KejatiJateng tanpa entitas",
    ],
)
def test_at_text_without_mention_entity_is_unrouted(router: Router, text: str) -> None:
    post = make_post(text, id="1790000000000000005")
    [(topic, key, event)] = route(router, stream_line(post), 1)
    assert (topic, key) == (UNROUTED_TOPIC, "1790000000000000005")
    assert event["agency_id"] is None
    assert event["co_addressed"] == []
    assert event["text"] == text


def test_long_post_routes_by_note_tweet(router: Router) -> None:
    long_text = "Laporan panjang soal jalan. " * 20 + "@PT_Semarang @KejatiJateng"
    post = make_post(
        long_text[:200] + "…",
        note_text=long_text,
        note_mentions=[(PT_ID, PT_HANDLE), (KEJATI_ID, KEJATI_HANDLE)],
    )
    emits = route(router, stream_line(post), 1)
    assert topics(emits) == ["complaints.pt-semarang", "complaints.kejati-jateng"]
    assert all(event["text"] == long_text for _t, _k, event in emits)


@pytest.mark.parametrize(
    "text",
    [
        "@KejatiJateng jalan berlubang 🕳️🚗💥 sudah 2 bulan 😡🇮🇩",
        "@KejatiJateng شكوى بخصوص الطريق المكسور",
        "@KejatiJateng תלונה על הכביש השבור",
        "@KejatiJateng baris satu\u2028baris dua\u2029paragraf\r\ntiga",
        "@KejatiJateng \u202eesrever\u202c \u200d\ufeff",
    ],
)
def test_text_is_preserved_exactly_through_routing_and_encoding(router: Router, text: str) -> None:
    post = make_post(text, mentions=[(KEJATI_ID, KEJATI_HANDLE)])
    raw = stream_line(post)
    assert raw.count(b"\n") == 0
    [(topic, key, event)] = route(router, raw, 1)
    assert topic == "complaints.kejati-jateng"
    assert event["text"] == text
    line = encode_routed_line(topic, key, event)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert orjson.loads(line)["value"]["text"] == text


# --- rejections --------------------------------------------------------------------------------


def test_v2_retweet_is_rejected(router: Router) -> None:
    post = make_post(
        "RT @KejatiJateng: pengumuman",
        id="1790000000000000010",
        mentions=[(KEJATI_ID, KEJATI_HANDLE)],
        referenced_tweets=[("retweeted", "1780000000000000010")],
    )
    assert route(router, stream_line(post), 1) == [
        (REJECTED_TOPIC, "1790000000000000010", rejection("1790000000000000010", "retweet"))
    ]


def test_v1_retweet_is_rejected(router: Router) -> None:
    original = make_v1_tweet(
        "@KejatiJateng asli", id="870000000000000100", mentions=[(KEJATI_ID, KEJATI_HANDLE)]
    )
    tweet = make_v1_tweet(
        "RT @x: @KejatiJateng asli",
        id="870000000000000101",
        mentions=[(KEJATI_ID, KEJATI_HANDLE)],
        retweeted_status=original,
    )
    assert route(router, v1_line(tweet), 3) == [
        (REJECTED_TOPIC, "870000000000000101", rejection("870000000000000101", "retweet"))
    ]


def test_unknown_author_on_a_page_without_includes(router: Router) -> None:
    posts = [
        make_post(
            "@KejatiJateng a", id="1790000000000000011", mentions=[(KEJATI_ID, KEJATI_HANDLE)]
        ),
        make_post("b", id="1790000000000000012", author_id=None),
    ]
    assert route(router, page_line(posts, users=[]), 1) == [
        (REJECTED_TOPIC, "1790000000000000011", rejection("1790000000000000011", "unknown_author")),
        (
            REJECTED_TOPIC,
            "1790000000000000012",
            rejection("1790000000000000012", "unknown_author", author_id=None),
        ),
    ]


def test_unknown_author_when_includes_lacks_the_author(router: Router) -> None:
    post = make_post(id="1790000000000000013", author_id="555")
    emits = route(router, stream_line(post, [make_user(id="556")]), 1)
    assert emits == [
        (
            REJECTED_TOPIC,
            "1790000000000000013",
            rejection("1790000000000000013", "unknown_author", author_id="555"),
        )
    ]


@pytest.mark.parametrize("account", [KEJATI_ID, HUMAS_ID, PEMPROV_ID])
def test_agency_post_is_rejected(router: Router, account: str) -> None:
    post = make_post(
        "@PT_Semarang koordinasi",
        id="1790000000000000014",
        author_id=account,
        mentions=[(PT_ID, PT_HANDLE)],
    )
    author = make_user(id=account, username="agency", verified_type="government")
    assert route(router, stream_line(post, [author]), 1) == [
        (
            REJECTED_TOPIC,
            "1790000000000000014",
            rejection("1790000000000000014", "agency_post", account),
        )
    ]


def test_unverified_author_is_rejected(router: Router) -> None:
    post = make_post(
        "@KejatiJateng", id="1790000000000000015", mentions=[(KEJATI_ID, KEJATI_HANDLE)]
    )
    author = make_user(verified=False, verified_type="none")
    assert route(router, stream_line(post, [author]), 1) == [
        (
            REJECTED_TOPIC,
            "1790000000000000015",
            rejection("1790000000000000015", "unverified_author"),
        )
    ]


def test_government_only_policy_rejects_blue_with_verified_true() -> None:
    router = make_router(REGISTRY, VerificationPolicy.from_names(["government"], "test"))
    post = make_post(id="1790000000000000016")
    blue = make_user(verified=True, verified_type="blue")
    assert route(router, stream_line(post, [blue]), 1) == [
        (
            REJECTED_TOPIC,
            "1790000000000000016",
            rejection("1790000000000000016", "unverified_author"),
        )
    ]
    post = make_post(id="1790000000000000017")
    government = make_user(verified=False, verified_type="government")
    assert topics(route(router, stream_line(post, [government]), 2)) == [UNROUTED_TOPIC]


def test_legacy_verified_v1_author_is_served_by_default(router: Router) -> None:
    tweet = make_v1_tweet(
        "@PT_Semarang", mentions=[(PT_ID, PT_HANDLE)], user=make_v1_user(verified=True)
    )
    assert topics(route(router, v1_line(tweet), 1)) == ["complaints.pt-semarang"]
    unverified = make_v1_tweet(id="870000000000000102", user=make_v1_user(verified=False))
    assert route(router, v1_line(unverified), 2) == [
        (REJECTED_TOPIC, "870000000000000102", rejection("870000000000000102", "unverified_author"))
    ]


# --- decision order ----------------------------------------------------------------------------


def test_retweet_wins_over_unknown_author_agency_post_and_unverified(router: Router) -> None:
    rt = [("retweeted", "1780000000000000020")]
    cases = [
        (make_post(id="1790000000000000021", referenced_tweets=rt), []),
        (
            make_post(id="1790000000000000022", referenced_tweets=rt, author_id=KEJATI_ID),
            [make_user(id=KEJATI_ID)],
        ),
        (
            make_post(id="1790000000000000023", referenced_tweets=rt),
            [make_user(verified=False, verified_type=None)],
        ),
    ]
    for post, users in cases:
        [(_topic, _key, event)] = route(router, stream_line(post, users), 1)
        assert event["reason"] == "retweet"


def test_unknown_author_wins_over_agency_post(router: Router) -> None:
    post = make_post(id="1790000000000000024", author_id=KEJATI_ID)
    [(_t, _k, event)] = route(router, stream_line(post, [make_user(id="9")]), 1)
    assert event["reason"] == "unknown_author"


def test_agency_post_wins_over_unverified(router: Router) -> None:
    post = make_post(id="1790000000000000025", author_id=BPK_ID)
    author = make_user(id=BPK_ID, verified=False, verified_type=None)
    [(_t, _k, event)] = route(router, stream_line(post, [author]), 1)
    assert event["reason"] == "agency_post"


# --- duplicates and edits ----------------------------------------------------------------------


def test_duplicate_within_a_run_is_rejected(router: Router) -> None:
    line = stream_line(
        make_post("@KejatiJateng", id="1790000000000000030", mentions=[(KEJATI_ID, KEJATI_HANDLE)])
    )
    assert topics(route(router, line, 1)) == ["complaints.kejati-jateng"]
    assert route(router, line, 2) == [
        (REJECTED_TOPIC, "1790000000000000030", rejection("1790000000000000030", "duplicate"))
    ]
    assert route(router, line, 3)[0][2]["reason"] == "duplicate"
    assert "1790000000000000030" in router.seen


def test_duplicate_is_judged_before_retweet_and_across_shapes(router: Router) -> None:
    rt = make_post(id="1790000000000000031", referenced_tweets=[("retweeted", "1")])
    assert route(router, stream_line(rt), 1)[0][2]["reason"] == "retweet"
    assert route(router, stream_line(rt), 2)[0][2]["reason"] == "duplicate"
    # The same post id arriving again as a v1.1 archive tweet is still the same post.
    again = make_v1_tweet(id="1790000000000000031")
    assert route(router, v1_line(again), 3)[0][2]["reason"] == "duplicate"


def test_duplicate_within_one_page(router: Router) -> None:
    post = make_post(id="1790000000000000032")
    emits = route(router, page_line([post, post]), 1)
    assert topics(emits) == [UNROUTED_TOPIC, REJECTED_TOPIC]
    assert emits[1] == (
        REJECTED_TOPIC,
        "1790000000000000032",
        rejection("1790000000000000032", "duplicate"),
    )


def test_a_dead_letter_does_not_mark_the_post_id_as_seen(router: Router) -> None:
    bad = make_post(id="1790000000000000033")
    bad["text"] = 12
    assert topics(route(router, stream_line(bad), 1)) == [DEAD_LETTER_TOPIC]
    good = make_post(id="1790000000000000033")
    assert topics(route(router, stream_line(good), 2)) == [UNROUTED_TOPIC]


def test_separate_runs_do_not_share_duplicates() -> None:
    line = stream_line(make_post(id="1790000000000000034"))
    assert topics(route(make_router(REGISTRY), line, 1)) == [UNROUTED_TOPIC]
    assert topics(route(make_router(REGISTRY), line, 1)) == [UNROUTED_TOPIC]


def test_edit_chain_revisions_share_the_complaint(router: Router) -> None:
    chain = ["1790000000000000040", "1790000000000000041", "1790000000000000042"]
    texts = [
        "@KejatiJateng jalan rusak",
        "@KejatiJateng jalan rusak parah",
        "@KejatiJateng diperbaiki?",
    ]
    events: list[Any] = []
    for revision, (post_id, text) in enumerate(zip(chain, texts, strict=True)):
        post = make_post(
            text,
            id=post_id,
            edit_history_tweet_ids=chain[: revision + 1],
            mentions=[(KEJATI_ID, KEJATI_HANDLE)],
        )
        [(topic, key, event)] = route(router, stream_line(post), revision + 1)
        assert (topic, key) == ("complaints.kejati-jateng", chain[0])
        events.append(event)
    assert [e["tweet_id"] for e in events] == chain
    assert [e["complaint_id"] for e in events] == [chain[0]] * 3
    assert [e["revision"] for e in events] == [0, 1, 2]
    assert [e["text"] for e in events] == texts
    assert [e["event_id"] for e in events] == [
        "1790000000000000040:0:kejati-jateng",
        "1790000000000000040:1:kejati-jateng",
        "1790000000000000040:2:kejati-jateng",
    ]
    assert len({e["event_id"] for e in events}) == 3


def test_edit_seen_after_original_is_not_a_duplicate_but_a_repeat_of_it_is(router: Router) -> None:
    chain = ["1790000000000000050", "1790000000000000051"]
    original = make_post(id=chain[0], edit_history_tweet_ids=chain[:1])
    edit = make_post(id=chain[1], edit_history_tweet_ids=chain)
    assert topics(route(router, stream_line(original), 1)) == [UNROUTED_TOPIC]
    [(topic, key, event)] = route(router, stream_line(edit), 2)
    assert (topic, key, event["revision"]) == (UNROUTED_TOPIC, chain[0], 1)
    assert route(router, stream_line(edit), 3)[0][2]["reason"] == "duplicate"


def test_event_id_is_deterministic_across_runs() -> None:
    post = make_post(
        "@BPKJateng @PT_Semarang",
        id="1790000000000000061",
        edit_history_tweet_ids=["1790000000000000060", "1790000000000000061"],
        mentions=[(BPK_ID, BPK_HANDLE), (PT_ID, PT_HANDLE)],
    )
    first = route(make_router(REGISTRY), stream_line(post), 1)
    second = make_router(build_registry()).route_line(stream_line(post), 99)
    assert first == second
    assert [e["event_id"] for _t, _k, e in first] == [
        "1790000000000000060:1:bpk-jateng",
        "1790000000000000060:1:pt-semarang",
    ]


# --- v1.1 --------------------------------------------------------------------------------------


def test_v1_extended_tweet_routes_with_full_text(router: Router) -> None:
    long_text = "@KejatiJateng " + "Pelayanan lambat sekali. " * 8 + "@BPKJateng"
    tweet = make_v1_tweet(
        long_text[:139] + "…",
        id="870000000000000200",
        mentions=[(KEJATI_ID, KEJATI_HANDLE)],
        extended_text=long_text,
        extended_mentions=[(KEJATI_ID, KEJATI_HANDLE), (BPK_ID, BPK_HANDLE)],
    )
    emits = route(router, v1_line(tweet), 1)
    assert topics(emits) == ["complaints.kejati-jateng", "complaints.bpk-jateng"]
    event: Any = emits[0][2]
    assert event["text"] == long_text
    assert event["created_at"] == "2017-05-24T20:32:51.000Z"
    assert event["url"] == f"https://x.com/{CITIZEN_HANDLE}/status/870000000000000200"
    assert event["author"]["verified_type"] is None
    assert event["conversation_id"] is None


def test_v1_ids_are_read_from_str_fields(router: Router) -> None:
    tweet = make_v1_tweet(
        "@KejatiJateng",
        id="1234567890123456789",
        mentions=[(KEJATI_ID, KEJATI_HANDLE)],
        in_reply_to_user_id=PT_ID,
    )
    tweet["id"] = 1234567890123456800  # what a double-precision reader made of it
    tweet["entities"]["user_mentions"][0]["id"] = 4001  # numeric twins deliberately wrong
    tweet["in_reply_to_user_id"] = 4001
    tweet["user"]["id"] = int(KEJATI_ID)
    emits = route(router, v1_line(tweet), 1)
    assert topics(emits) == ["complaints.kejati-jateng", "complaints.pt-semarang"]
    assert {key for _t, key, _e in emits} == {"1234567890123456789"}
    assert emits[0][2]["author"]["id"] == CITIZEN_ID


# --- pages and dead letters --------------------------------------------------------------------


def test_page_with_a_bad_post_routes_the_others(router: Router) -> None:
    good1 = make_post(
        "@KejatiJateng a", id="1790000000000000070", mentions=[(KEJATI_ID, KEJATI_HANDLE)]
    )
    bad = make_post("@BPKJateng b", id="1790000000000000071", mentions=[(BPK_ID, BPK_HANDLE)])
    bad["lang"] = 5
    good2 = make_post("@PT_Semarang c", id="1790000000000000072", mentions=[(PT_ID, PT_HANDLE)])
    raw = page_line([good1, bad, good2])
    emits = route(router, raw, 12)
    assert topics(emits) == [
        "complaints.kejati-jateng",
        DEAD_LETTER_TOPIC,
        "complaints.pt-semarang",
    ]
    _topic, key, letter = emits[1]
    assert key is None
    assert letter == {
        "error": "Expected `str | null`, got `int` - at `$.data[1].lang`",
        "line": 12,
        "source": None,
        "raw": raw.decode(),
        "raw_truncated": False,
        "schema_version": SCHEMA_VERSION,
    }


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (b"not json at all", "not valid JSON"),
        (b'{"data": {"id": "1", "text": "\xc3\x28"}}', "not valid UTF-8: byte 30 is 0xc3"),
        (b"[]", "expected a JSON object, got array"),
        (b'{"user": {}, "foo": 1}', "post id must be a string of digits"),
        (b'{"what": "ever"}', "no recognisable shape"),
        (
            b'{"data": {"text": "no id"}}',
            "post id must be a string of digits, got null - at `$.data.id`",
        ),
        (b'{"data": {"id": "17"}}', "post 17 has no text - at `$.data.text`"),
        (
            b'{"data": {"id": "17", "text": "x", "author_id": 17}}',
            "Expected `str | null`, got `int` - at `$.data.author_id`",
        ),
    ],
)
def test_malformed_line_is_one_dead_letter(router: Router, raw: bytes, error: str) -> None:
    [(topic, key, letter)] = route(router, raw + b"\n", 42)
    assert (topic, key) == (DEAD_LETTER_TOPIC, None)
    assert error in letter["error"]
    assert letter["line"] == 42
    assert letter["raw"] == raw.decode("utf-8", "backslashreplace")
    assert letter["raw_truncated"] is False
    assert letter["schema_version"] == SCHEMA_VERSION


def test_dead_letter_raw_of_invalid_utf8_is_escaped_and_encodable(router: Router) -> None:
    [(_t, _k, letter)] = route(router, b'{"text": "caf\xe9"}\r\n', 1)
    assert letter["raw"] == '{"text": "caf\\xe9"}'
    assert orjson.loads(encode_routed_line(DEAD_LETTER_TOPIC, None, letter))["value"] == letter


def test_huge_dead_letter_raw_is_truncated(router: Router) -> None:
    raw = b'{"data": {"id": "1", "text": "' + b"x" * (RAW_LIMIT * 3) + b'"'  # unterminated
    [(_t, _k, letter)] = route(router, raw, 5)
    assert len(letter["raw"]) == RAW_LIMIT
    assert raw.decode().startswith(letter["raw"])
    assert letter["raw_truncated"] is True
    assert letter["line"] == 5
    assert len(orjson.dumps(letter)) < 1_000_000


def test_raw_at_the_limit_is_not_truncated() -> None:
    letter = dead_letter(Malformed("e", "y" * RAW_LIMIT + "\n"), None)
    assert letter["raw"] == "y" * RAW_LIMIT
    assert letter["raw_truncated"] is False
    assert letter["line"] is None


def test_registry_version_is_stamped_on_every_event() -> None:
    other = build_registry(
        "agencies:\n  - id: kejati-jateng\n    name: K\n    accounts:\n"
        '      - id: "1001"\n        username: KejatiJateng\n'
    )
    assert other.version != VERSION
    router = make_router(other)
    post = make_post(
        "@KejatiJateng", id="1790000000000000080", mentions=[(KEJATI_ID, KEJATI_HANDLE)]
    )
    rt = make_post(id="1790000000000000081", referenced_tweets=[("retweeted", "1")])
    emits = route(router, page_line([post, rt]), 1)
    assert [e["registry_version"] for _t, _k, e in emits] == [other.version] * 2


# --- real payloads -----------------------------------------------------------------------------

REAL = Path(__file__).parents[3] / "fixtures" / "real"
# Accounts that the real v1.1 tweets mention, each standing in for an agency.
REAL_REGISTRY = build_registry(
    """\
agencies:
  - id: shrek
    name: Not From Shrek
    accounts:
      - id: "2382763597"
        username: notFromShrek
  - id: twitter
    name: Twitter
    accounts:
      - id: "783214"
        username: Twitter
      - id: "16958875"
        username: Gnip
  - id: budd
    name: Eric Budd
    accounts:
      - id: "43194865"
        username: ericmbudd
""",
    source="real",
)


def real_lines(name: str) -> list[bytes]:
    return (REAL / name).read_bytes().splitlines(keepends=True)


def route_all(router: Router, lines: list[bytes]) -> list[tuple[str, str | None, Any]]:
    return [emit for number, raw in enumerate(lines, 1) for emit in route(router, raw, number)]


def test_real_v1_tweets_as_delivered() -> None:
    router = make_router(REAL_REGISTRY)
    emits = route_all(router, real_lines("v1_original_format.jsonl"))
    # Every author in the file is unverified; three of the tweets are retweets.
    assert (
        sorted(event["reason"] for _t, _k, event in emits)
        == ["retweet"] * 3 + ["unverified_author"] * 22
    )


def test_real_v1_tweets_by_a_verified_author_route_by_their_entities() -> None:
    router = make_router(REAL_REGISTRY)
    by_tweet: dict[str, list[tuple[str, Any]]] = {}
    texts: dict[str, str] = {}
    for number, raw in enumerate(real_lines("v1_original_format.jsonl"), 1):
        tweet = orjson.loads(raw)
        tweet["user"]["verified"] = True  # the only change to the real payload
        texts[tweet["id_str"]] = (tweet.get("extended_tweet") or tweet).get("full_text") or tweet[
            "text"
        ]
        for topic, key, event in route(router, orjson.dumps(tweet), number):
            assert topic != DEAD_LETTER_TOPIC, event
            assert key == tweet["id_str"]
            by_tweet.setdefault(tweet["id_str"], []).append((topic, event))

    def topics_of(tweet_id: str) -> list[str]:
        return [topic for topic, _event in by_tweet[tweet_id]]

    assert len(by_tweet) == 25
    # A reply that also mentions the account it replies to.
    assert topics_of("867837275152842752") == ["complaints.shrek"]
    # Extended (long) tweets: the routed text is extended_tweet.full_text, whose entities list
    # mentions beyond the first 140 characters.
    assert topics_of("867473446648676352") == ["complaints.shrek", "complaints.budd"]
    event = by_tweet["867473446648676352"][1][1]
    assert event["co_addressed"] == ["shrek"]
    assert event["text"] == texts["867473446648676352"]
    assert len(event["text"]) > 140
    # @Gnip and @Twitter are two accounts of one agency: one event.
    assert topics_of("867471067178090496") == ["complaints.shrek", "complaints.twitter"]
    retweets = [t for t, emitted in by_tweet.items() if emitted[0][0] == REJECTED_TOPIC]
    assert sorted(retweets) == ["867475059358683136", "867478374385557508", "867478524235366400"]
    assert all(by_tweet[t][0][1]["reason"] == "retweet" for t in retweets)
    unrouted = [t for t, emitted in by_tweet.items() if emitted[0][0] == UNROUTED_TOPIC]
    assert len(unrouted) == 25 - 3 - 5
    for tweet_id, emitted in by_tweet.items():
        for topic, event in emitted:
            if topic != REJECTED_TOPIC:
                assert event["text"] == texts[tweet_id]
                assert event["author"]["id"] == "815279070241955840"
                assert UTC_TIME.fullmatch(event["created_at"])


def test_real_v2_pages_without_expansions_have_unknown_authors() -> None:
    router = make_router(REAL_REGISTRY)
    emits = route_all(router, real_lines("v2_pages.jsonl"))
    assert DEAD_LETTER_TOPIC not in topics(emits)
    reasons = sorted(event["reason"] for _t, _k, event in emits)
    # The tweet lookup responses repeat a post of the search page: the second copy is a duplicate.
    assert reasons == ["duplicate"] + ["unknown_author"] * 22


def test_dead_letter_from_kafka_names_topic_partition_and_offset() -> None:
    router = make_router()
    source: Source = {"topic": "mentions.raw", "partition": 2, "offset": 41}
    [(topic, key, letter)] = router.route_line(b"\x00garbage", source=source)
    assert (topic, key) == (DEAD_LETTER_TOPIC, None)
    assert letter["source"] == source  # type: ignore[typeddict-item]
    assert letter["line"] is None  # type: ignore[typeddict-item]


class _BrokenSeen:
    """A seen-posts store that fails, standing in for a bug in the core."""

    def __contains__(self, tweet_id: object) -> bool:
        raise RuntimeError("store broken")

    def add(self, tweet_id: str) -> None:
        raise RuntimeError("store broken")


def test_route_message_turns_a_failure_of_the_core_into_a_dead_letter_with_its_source() -> None:
    router = Router(build_registry(), VerificationPolicy(), _BrokenSeen())
    raw = stream_line(make_post())
    where: Source = {"topic": "mentions.raw", "partition": 2, "offset": 41}
    [(topic, key, event)] = router.route_message(raw, where)
    assert (topic, key) == (DEAD_LETTER_TOPIC, None)
    assert event["error"] == "internal error while routing: RuntimeError('store broken')"
    assert event["source"] == where
    assert event["raw"] == raw.decode()
