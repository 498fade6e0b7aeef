"""`agents.core.parse.parse_line`: X API v2 messages and pages, v1.1 tweets, and malformed input."""

from __future__ import annotations

import re

import orjson
import pytest

from agents.core.parse import parse_line
from agents.core.post import Malformed, Post
from tests.unit.agents.factories import (
    BPK_HANDLE,
    BPK_ID,
    CITIZEN_ID,
    CREATED_AT,
    KEJATI_HANDLE,
    KEJATI_ID,
    PT_HANDLE,
    PT_ID,
    make_post,
    make_user,
    make_v1_tweet,
    make_v1_user,
    page_line,
    stream_line,
    v1_line,
)


def only_post(raw: bytes) -> Post:
    items = parse_line(raw)
    assert len(items) == 1, items
    assert isinstance(items[0], Post), items[0]
    return items[0]


def only_malformed(raw: bytes) -> Malformed:
    items = parse_line(raw)
    assert len(items) == 1, items
    assert isinstance(items[0], Malformed), items[0]
    return items[0]


# --- X API v2 ----------------------------------------------------------------------------------


def test_v2_stream_message_fields() -> None:
    post = make_post(
        "@KejatiJateng tolong usut",
        id="1790000000000000042",
        mentions=[(KEJATI_ID, KEJATI_HANDLE)],
        conversation_id="1790000000000000040",
        in_reply_to_user_id=PT_ID,
    )
    user = make_user(verified=False, verified_type="government", name="Budi")
    parsed = only_post(stream_line(post, [user]))
    assert parsed.tweet_id == "1790000000000000042"
    assert parsed.text == "@KejatiJateng tolong usut"
    assert parsed.author_id == CITIZEN_ID
    assert parsed.author == {
        "id": CITIZEN_ID,
        "username": "warga_semarang",
        "name": "Budi",
        "verified": False,
        "verified_type": "government",
    }
    assert parsed.mentions == [(KEJATI_ID, KEJATI_HANDLE)]
    assert parsed.in_reply_to_user_id == PT_ID
    assert parsed.is_retweet is False
    assert parsed.complaint_id == "1790000000000000042"
    assert parsed.revision == 0
    assert parsed.lang == "in"
    assert parsed.created_at == CREATED_AT
    assert parsed.conversation_id == "1790000000000000040"


def test_v2_author_is_the_includes_user_with_the_author_id() -> None:
    other = make_user(id="777", username="someone_else", name="Other")
    author = make_user(id="888", username="the_author", name="Author")
    parsed = only_post(stream_line(make_post(author_id="888"), [other, author]))
    assert parsed.author is not None
    assert parsed.author["username"] == "the_author"


def test_v2_author_missing_from_includes_is_none() -> None:
    parsed = only_post(stream_line(make_post(author_id="999"), [make_user(id="111")]))
    assert parsed.author is None
    assert parsed.author_id == "999"


def test_v2_page_without_includes_has_no_authors() -> None:
    items = parse_line(page_line([make_post(), make_post()], users=[]))
    assert len(items) == 2
    assert all(isinstance(item, Post) and item.author is None for item in items)


def test_v2_user_without_verified_fields_counts_as_not_verified() -> None:
    user = make_user(verified=None, verified_type=None)
    parsed = only_post(stream_line(make_post(), [user]))
    assert parsed.author is not None
    assert parsed.author["verified"] is False
    assert parsed.author["verified_type"] is None


@pytest.mark.parametrize(
    ("kind", "is_retweet"), [("retweeted", True), ("quoted", False), ("replied_to", False)]
)
def test_v2_referenced_tweets(kind: str, is_retweet: bool) -> None:
    post = make_post(referenced_tweets=[(kind, "1700000000000000001")])
    assert only_post(stream_line(post)).is_retweet is is_retweet


def test_v2_quote_of_a_retweet_reference_list_is_a_retweet_if_any_is_retweeted() -> None:
    post = make_post(
        referenced_tweets=[("quoted", "1700000000000000001"), ("retweeted", "1700000000000000002")]
    )
    assert only_post(stream_line(post)).is_retweet is True


def test_v2_long_post_uses_note_tweet_text_and_mentions() -> None:
    long_text = "@KejatiJateng " + "Laporan panjang. " * 40 + "cc @BPKJateng"
    post = make_post(
        long_text[:270] + "…",
        mentions=[(KEJATI_ID, KEJATI_HANDLE)],
        note_text=long_text,
        note_mentions=[(KEJATI_ID, KEJATI_HANDLE), (BPK_ID, BPK_HANDLE)],
    )
    parsed = only_post(stream_line(post))
    assert parsed.text == long_text
    assert (BPK_ID, BPK_HANDLE) in parsed.mentions
    assert parsed.mentions[0] == (KEJATI_ID, KEJATI_HANDLE)


def test_v2_note_tweet_without_entities_keeps_post_mentions() -> None:
    post = make_post(
        "@PT_Semarang singkat…", mentions=[(PT_ID, PT_HANDLE)], note_text="@PT_Semarang panjang"
    )
    parsed = only_post(stream_line(post))
    assert parsed.text == "@PT_Semarang panjang"
    assert parsed.mentions == [(PT_ID, PT_HANDLE)]


def test_v2_mention_without_id_keeps_username() -> None:
    post = make_post("@kejatijateng halo", mentions=[(None, "kejatijateng")])
    assert only_post(stream_line(post)).mentions == [(None, "kejatijateng")]


@pytest.mark.parametrize(
    "text",
    [
        "Lampu jalan mati 💡🚧 sejak 3 hari 👨‍👩‍👧",
        "شكوى: الطريق مكسور @KejatiJateng",
        "תלונה על הכביש @KejatiJateng",
        "baris satu\u2028baris dua\u2029paragraf",
        "mixed \u202eRTL override\u202c and zero\u200bwidth",
    ],
)
def test_v2_text_is_preserved_exactly(text: str) -> None:
    raw = stream_line(make_post(text))
    assert b"\n" not in raw
    assert only_post(raw).text == text


@pytest.mark.parametrize(
    "created_at",
    [
        "2024-05-01T03:04:05.000Z",  # as X API v2 writes it
        "2024-05-01T10:04:05+07:00",
        "2024-05-01T03:04:05.000+00:00",
        "2024-05-01T03:04:05Z",
        "2024-05-01 03:04:05.000Z",
        # Other ISO 8601 spellings of the same instant (a decimal comma, a week date) must come
        # out in the one form consumers are promised, like every other spelling does.
        "2024-05-01T03:04:05,000Z",
        "2024-W18-3T03:04:05.000Z",
    ],
)
def test_v2_created_at_is_normalised_to_utc(created_at: str) -> None:
    parsed = only_post(stream_line(make_post(created_at=created_at)))
    assert parsed.created_at == "2024-05-01T03:04:05.000Z"


def test_v2_created_at_without_zone_is_malformed() -> None:
    bad = only_malformed(stream_line(make_post(created_at="2024-05-01T03:04:05")))
    assert "created_at" in bad.error
    assert "time zone" in bad.error


def test_v2_created_at_not_a_date_is_malformed() -> None:
    bad = only_malformed(stream_line(make_post(created_at="yesterday")))
    assert "created_at" in bad.error


# --- edits -------------------------------------------------------------------------------------


def test_edit_chain_complaint_is_first_id_and_revision_is_index() -> None:
    chain = ["1790000000000000100", "1790000000000000101", "1790000000000000102"]
    for revision, post_id in enumerate(chain):
        parsed = only_post(stream_line(make_post(id=post_id, edit_history_tweet_ids=chain)))
        assert parsed.tweet_id == post_id
        assert parsed.complaint_id == chain[0]
        assert parsed.revision == revision


def test_edit_chain_without_the_post_is_malformed() -> None:
    post = make_post(id="1790000000000000200", edit_history_tweet_ids=["1790000000000000199"])
    bad = only_malformed(stream_line(post))
    assert "edit history" in bad.error
    assert "1790000000000000200" in bad.error


@pytest.mark.parametrize("chain", [[], "1790000000000000300", [1790000000000000300]])
def test_edit_chain_of_wrong_shape_is_malformed(chain: object) -> None:
    post = make_post(id="1790000000000000300")
    post["edit_history_tweet_ids"] = chain
    assert "- at `$.data.edit_history_tweet_ids" in only_malformed(stream_line(post)).error


def test_post_without_edit_history_is_its_own_complaint() -> None:
    post = make_post(id="1790000000000000400")
    del post["edit_history_tweet_ids"]
    parsed = only_post(stream_line(post))
    assert (parsed.complaint_id, parsed.revision) == ("1790000000000000400", 0)


# --- pages -------------------------------------------------------------------------------------


def test_page_with_a_bad_post_judges_each_post_on_its_own() -> None:
    good1 = make_post(id="1790000000000000501")
    bad = make_post(id="1790000000000000502")
    del bad["text"]
    good2 = make_post(id="1790000000000000503")
    items = parse_line(page_line([good1, bad, "not a post", good2]))
    assert [type(item) for item in items] == [Post, Malformed, Malformed, Post]
    assert isinstance(items[0], Post) and items[0].tweet_id == "1790000000000000501"
    assert isinstance(items[3], Post) and items[3].tweet_id == "1790000000000000503"
    assert isinstance(items[1], Malformed)
    assert items[1].error == "post 1790000000000000502 has no text - at `$.data[1].text`"
    assert isinstance(items[2], Malformed)
    assert items[2].error == "Expected `object`, got `str` - at `$.data[2]`"


def test_empty_page_yields_nothing() -> None:
    assert parse_line(b'{"data": [], "meta": {"result_count": 0}}') == []
    assert parse_line(b'{"meta": {"result_count": 0}}') == []


@pytest.mark.parametrize("count", [b"false", b"0.0", b'"0"', b"null", b"3"])
def test_meta_without_a_zero_result_count_is_not_an_empty_page(count: bytes) -> None:
    # Only X's own empty page (`result_count: 0`, no `data`) may be skipped without a trace.
    bad = only_malformed(b'{"meta": {"result_count": ' + count + b"}}")
    assert "no recognisable shape" in bad.error


def test_page_with_broken_includes_is_one_malformed() -> None:
    raw = orjson.dumps({"data": [make_post(), make_post()], "includes": {"users": {"id": "5"}}})
    assert (
        only_malformed(raw).error == "Expected `array | null`, got `object` - at `$.includes.users`"
    )


def test_a_user_entry_without_id_is_nobodys_author_and_sinks_no_post() -> None:
    first, second = make_post(id="1790000000000000101"), make_post(id="1790000000000000102")
    raw = orjson.dumps({"data": [first, second], "includes": {"users": [{"id": 5}, make_user()]}})
    posts = parse_line(raw)
    assert [p.tweet_id for p in posts if isinstance(p, Post)] == [first["id"], second["id"]]
    assert all(isinstance(p, Post) and p.author is not None for p in posts)


# --- v1.1 --------------------------------------------------------------------------------------


def test_v1_tweet_fields() -> None:
    tweet = make_v1_tweet(
        "@KejatiJateng tolong",
        id="870000000000000001",
        mentions=[(KEJATI_ID, KEJATI_HANDLE)],
        in_reply_to_user_id=KEJATI_ID,
    )
    parsed = only_post(v1_line(tweet))
    assert parsed.tweet_id == "870000000000000001"
    assert parsed.text == "@KejatiJateng tolong"
    assert parsed.author_id == CITIZEN_ID
    assert parsed.author == {
        "id": CITIZEN_ID,
        "username": "warga_semarang",
        "name": "Warga Semarang",
        "verified": True,
        "verified_type": None,
    }
    assert parsed.mentions == [(KEJATI_ID, KEJATI_HANDLE)]
    assert parsed.in_reply_to_user_id == KEJATI_ID
    assert parsed.is_retweet is False
    assert (parsed.complaint_id, parsed.revision) == ("870000000000000001", 0)
    assert parsed.created_at == "2017-05-24T20:32:51.000Z"
    assert parsed.lang == "in"
    assert parsed.conversation_id is None


def test_v1_ids_are_read_from_str_fields() -> None:
    # The numeric twins disagree, as they do after a JavaScript client rounded them.
    tweet = make_v1_tweet(
        "@KejatiJateng halo",
        id="1234567890123456789",
        mentions=[(KEJATI_ID, KEJATI_HANDLE)],
        in_reply_to_user_id=PT_ID,
    )
    tweet["id"] = 1234567890123456800
    tweet["user"]["id"] = 1
    tweet["entities"]["user_mentions"][0]["id"] = 2
    tweet["in_reply_to_user_id"] = 3
    parsed = only_post(v1_line(tweet))
    assert parsed.tweet_id == "1234567890123456789"
    assert parsed.author_id == CITIZEN_ID
    assert parsed.mentions == [(KEJATI_ID, KEJATI_HANDLE)]
    assert parsed.in_reply_to_user_id == PT_ID


def test_v1_numeric_id_is_used_when_no_str_twin() -> None:
    tweet = make_v1_tweet(id="870000000000000002")
    del tweet["id_str"]
    assert only_post(v1_line(tweet)).tweet_id == "870000000000000002"


def test_v1_extended_tweet_full_text_and_mentions() -> None:
    long_text = "@KejatiJateng " + "x" * 200 + " @PT_Semarang"
    tweet = make_v1_tweet(
        long_text[:137] + "…",
        mentions=[(KEJATI_ID, KEJATI_HANDLE)],
        extended_text=long_text,
        extended_mentions=[(KEJATI_ID, KEJATI_HANDLE), (PT_ID, PT_HANDLE)],
    )
    parsed = only_post(v1_line(tweet))
    assert parsed.text == long_text
    assert parsed.mentions == [(KEJATI_ID, KEJATI_HANDLE), (PT_ID, PT_HANDLE)]


def test_v1_extended_tweet_without_entities_keeps_the_tweet_mentions() -> None:
    # Either entity list addresses the post; an archive may have trimmed extended_tweet.entities.
    tweet = make_v1_tweet(
        "@KejatiJateng tolong…", mentions=[(KEJATI_ID, KEJATI_HANDLE)], extended_text="x"
    )
    del tweet["extended_tweet"]["entities"]
    tweet["extended_tweet"]["full_text"] = "@KejatiJateng tolong " + "y" * 200
    parsed = only_post(v1_line(tweet))
    assert parsed.text == "@KejatiJateng tolong " + "y" * 200
    assert parsed.mentions == [(KEJATI_ID, KEJATI_HANDLE)]


def test_v1_full_text_over_text() -> None:
    tweet = make_v1_tweet("lengkap", full_text=True)
    tweet["text"] = "terpotong"
    assert only_post(v1_line(tweet)).text == "lengkap"


def test_v1_retweeted_status_is_a_retweet() -> None:
    original = make_v1_tweet("asli", user=make_v1_user(id="42", screen_name="asli"))
    tweet = make_v1_tweet("RT @asli: asli", retweeted_status=original)
    assert only_post(v1_line(tweet)).is_retweet is True


def test_v1_quote_is_not_a_retweet() -> None:
    tweet = make_v1_tweet("lihat ini")
    tweet["is_quote_status"] = True
    tweet["quoted_status"] = make_v1_tweet("asli")
    assert only_post(v1_line(tweet)).is_retweet is False


def test_v1_edit_history() -> None:
    tweet = make_v1_tweet(id="870000000000000011")
    tweet["edit_history"] = {"initial_tweet_id": "870000000000000010"}
    tweet["edit_history"]["edit_tweet_ids"] = ["870000000000000010", "870000000000000011"]
    parsed = only_post(v1_line(tweet))
    assert (parsed.complaint_id, parsed.revision) == ("870000000000000010", 1)


def test_v1_tweet_without_user_has_unknown_author() -> None:
    tweet = make_v1_tweet(id="870000000000000003")
    del tweet["user"]
    parsed = only_post(v1_line(tweet))
    assert parsed.author is None
    assert parsed.author_id is None


# --- malformed ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (b"this is not json", "not valid JSON"),
        (b'{"data": {"id": "1", "text": "abc\xff\xfe"}}', "not valid UTF-8: byte 33 is 0xff"),
        (b'{"data": {"id": "1", "text": "\\ud800"}}', "not valid JSON: "),
        (b'{"data": ', "not valid JSON"),
        (b"[1, 2]", "expected a JSON object, got array"),
        (b'"a string"', "expected a JSON object, got str"),
        (b"", "empty: no JSON value"),
        (b" \r\n", "empty: no JSON value"),
        (b"null", "expected a JSON object, got null"),
        (b"42", "expected a JSON object, got int"),
        (b'{"hello": "world"}', "no recognisable shape"),
        (b"{}", "no recognisable shape"),
    ],
)
def test_malformed_lines(raw: bytes, error: str) -> None:
    bad = only_malformed(raw)
    assert error in bad.error
    assert bad.raw == raw.decode("utf-8", "backslashreplace")


def test_malformed_keeps_invalid_utf8_visible_in_raw() -> None:
    bad = only_malformed(b'{"text": "\xff"}')
    assert bad.raw == '{"text": "\\xff"}'


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("id", None, "post id must be a string of digits, got null"),
        ("id", 1790000000000000000, "Expected `str | null`, got `int`"),
        ("id", "abc", "post id must be a string of digits, got 'abc'"),
        ("id", "", "post id must be a string of digits, got ''"),
        ("id", "١٢٣", "post id must be a string of digits, got '١٢٣'"),  # Arabic-Indic digits
        ("text", None, "post 1790000000000000001 has no text"),
        ("text", 5, "post 1790000000000000001: text must be a string, got int"),
        ("author_id", 5, "Expected `str | null`, got `int`"),
        ("lang", ["in"], "Expected `str | null`, got `array`"),
        ("conversation_id", 1, "Expected `str | null`, got `int`"),
        ("in_reply_to_user_id", True, "Expected `str | null`, got `bool`"),
        ("entities", [], "Expected `object | null`, got `array`"),
        ("referenced_tweets", {}, "Expected `array | null`, got `object`"),
        ("note_tweet", "long", "Expected `object | null`, got `str`"),
        ("created_at", 1714532645, "Expected `str | null`, got `int`"),
    ],
)
def test_v2_post_with_wrong_field_is_malformed(field: str, value: object, error: str) -> None:
    post = make_post(id="1790000000000000001")
    if value is None:
        del post[field]
    else:
        post[field] = value
    bad = only_malformed(stream_line(post))
    assert bad.error == f"{error} - at `$.data.{field}`"


def test_a_nested_field_is_named_by_its_whole_path() -> None:
    post = make_post()
    post["entities"] = {"mentions": [{"username": "a"}, {"username": "b"}, {"id": 5}]}
    bad = only_malformed(stream_line(post))
    assert bad.error == "Expected `str | null`, got `int` - at `$.data.entities.mentions[2].id`"


def test_a_bad_author_names_its_entry_and_its_post() -> None:
    raw = page_line([make_post(id="1790000000000000601")], [{**make_user(), "name": 7}])
    bad = only_malformed(raw)
    assert bad.error.startswith("the author of `$.data[0]` must have a numeric string id")
    assert bad.error.endswith("- at `$.includes.users[0]`")


def test_a_reference_that_is_not_an_object_is_named_by_its_index() -> None:
    post = make_post()
    post["referenced_tweets"] = ["retweeted"]
    bad = only_malformed(stream_line(post))
    assert bad.error == "Expected `object`, got `str` - at `$.data.referenced_tweets[0]`"


@pytest.mark.parametrize(
    ("mentions", "error"),
    [
        ({"username": "x"}, r"got `object` - at `\$\.data\.entities\.mentions`$"),
        (
            ["KejatiJateng"],
            r"Expected `object`, got `str` - at `\$\.data\.entities\.mentions\[0\]`",
        ),
        ([{"username": 7, "id": "1"}], r"entities\.mentions\[0\].*username"),
        ([{"username": "x", "id": 1.5}], r"\bid\b"),
    ],
)
def test_v2_mentions_of_wrong_shape_are_malformed(mentions: object, error: str) -> None:
    post = make_post()
    post["entities"] = {"mentions": mentions}
    assert re.search(error, only_malformed(stream_line(post)).error)


@pytest.mark.parametrize(
    ("user", "error"),
    [
        ({"id": CITIZEN_ID, "username": "u"}, r"author .*must have .*name"),
        ({"id": CITIZEN_ID, "username": 5, "name": "n"}, r"author .*must have .*username"),
        (
            {"id": CITIZEN_ID, "username": "u", "name": "n", "verified": "yes"},
            r"author.* verified .*true or false",
        ),
        (
            {"id": CITIZEN_ID, "username": "u", "name": "n", "verified_type": 1},
            r"author.* verified_type .*string",
        ),
    ],
)
def test_v2_author_of_wrong_shape_is_malformed(user: dict[str, object], error: str) -> None:
    assert re.search(error, only_malformed(stream_line(make_post(), [user])).error)


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ("1790000000000000000", "Expected `object | array`, got `str` - at `$.data`"),
        (None, "Expected `object | array`, got `null` - at `$.data`"),
    ],
)
def test_v2_data_of_wrong_type_is_malformed(data: object, error: str) -> None:
    assert error in only_malformed(orjson.dumps({"data": data})).error


def test_v2_includes_of_wrong_type_is_malformed() -> None:
    raw = orjson.dumps({"data": make_post(), "includes": [make_user()]})
    assert only_malformed(raw).error == "Expected `object | null`, got `array` - at `$.includes`"


@pytest.mark.parametrize(
    ("mutate", "error"),
    [
        (lambda t: t.pop("id_str") and t.pop("id"), "post id must be a string of digits"),
        (lambda t: t.update(id_str=870000000000000001), r"got `int` - at `\$\.id_str`$"),
        (lambda t: t.update(id_str="87x"), r"got '87x' - at `\$\.id_str`$"),
        (lambda t: t.pop("id_str") and t.update(id=-1), r"got int - at `\$\.id`$"),
        (lambda t: t.pop("text"), r"has no text"),
        (lambda t: t.update(user="warga"), r"got `str` - at `\$\.user`"),
        (lambda t: t.update(retweeted_status=True), r"got `bool` - at `\$\.retweeted_status`"),
        (lambda t: t.update(extended_tweet=[]), r"got `array` - at `\$\.extended_tweet`"),
        (lambda t: t["user"].pop("screen_name"), r"author must have .*screen_name"),
        (
            lambda t: t.update(in_reply_to_user_id_str=5),
            r"got `int` - at `\$\.in_reply_to_user_id_str`$",
        ),
        (lambda t: t.update(created_at="Wed May 24 2017"), "is not a date-time"),
    ],
)
def test_v1_tweet_with_wrong_field_is_malformed(mutate: object, error: str) -> None:
    tweet = make_v1_tweet(id="870000000000000050")
    mutate(tweet)  # type: ignore[operator]
    bad = only_malformed(v1_line(tweet))
    assert re.search(error, bad.error), bad.error


# --- values that end up in keys, URLs and the published schema ----------------------------------


@pytest.mark.parametrize(
    ("user", "post_fields"),
    [
        ({"id": "u9"}, {"author_id": "u9"}),
        ({"username": "warga semarang"}, {}),
        ({"username": "warga/../x"}, {}),
    ],
)
def test_author_id_and_username_must_fit_ids_and_urls(
    user: dict[str, str], post_fields: dict[str, str]
) -> None:
    post = make_post(**post_fields)  # type: ignore[arg-type]
    bad = only_malformed(stream_line(post, [{**make_user(), **user}]))
    assert "must have a numeric string id, a username of letters" in bad.error


def test_edit_history_ids_must_be_post_ids() -> None:
    post = make_post(
        id="1790000000000000501", edit_history_tweet_ids=["abc", "1790000000000000501"]
    )
    assert (
        "edit history must be a non-empty list of post ids"
        in only_malformed(stream_line(post)).error
    )


def test_v1_extended_tweet_without_mentions_falls_back_to_the_tweets_own() -> None:
    tweet = make_v1_tweet("@KejatiJateng tolong", mentions=[(KEJATI_ID, KEJATI_HANDLE)])
    tweet["extended_tweet"] = {"full_text": "@KejatiJateng tolong", "entities": {"hashtags": []}}
    assert only_post(v1_line(tweet)).mentions == [(KEJATI_ID, KEJATI_HANDLE)]


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


@pytest.mark.parametrize(
    "raw",
    [
        b'{"data": {"id": "1", "text": "x", "deep": ' + _nested(1000) + b"}}",
        b'{"data": [{"id": "1", "text": "x", "deep": ' + _nested(1000) + b"}]}",
        b'{"includes": 5, "id_str": "1", "text": "x", "deep": ' + _nested(1000) + b"}",
        b'{"meta": ' + _nested(1000) + b"}",
    ],
)
def test_json_nested_deeper_than_the_decoder_reads_is_a_dead_letter(raw: bytes) -> None:
    def from_a_deep_stack(frames: int) -> list[Post | Malformed]:
        return parse_line(raw) if frames == 0 else from_a_deep_stack(frames - 1)

    for frames in (0, 300):  # the decoder's limit is what is left of the interpreter's
        [bad] = from_a_deep_stack(frames)
        assert isinstance(bad, Malformed)
        assert bad.error == "nested too deeply for the decoder: no X payload nests this deep"


def test_truncated_line_names_the_character() -> None:
    bad = only_malformed(b'{"data": {"id": "1", "text": "pot\n')
    assert bad.error.startswith("not valid JSON: ")
    assert "at character" in bad.error
