"""`agents.core.tag.addressed_agencies`: which agencies a post addresses, in order, without
repeats."""

from __future__ import annotations

from agents.core.parse import parse_line
from agents.core.post import Post
from agents.core.tag import addressed_agencies
from tests.unit.agents.factories import (
    BPK_HANDLE,
    BPK_ID,
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
    make_v1_tweet,
    stream_line,
    v1_line,
)

REGISTRY = build_registry()


def post_of(raw: bytes) -> Post:
    [item] = parse_line(raw)
    assert isinstance(item, Post), item
    return item


def tag(raw: bytes) -> list[str]:
    return addressed_agencies(post_of(raw), REGISTRY)


def tag_v2(text: str, **fields: object) -> list[str]:
    return tag(stream_line(make_post(text, **fields)))  # type: ignore[arg-type]


def test_single_mention() -> None:
    assert tag_v2("@KejatiJateng tolong", mentions=[(KEJATI_ID, KEJATI_HANDLE)]) == [
        "kejati-jateng"
    ]


def test_several_agencies_in_order_of_first_appearance_without_repeats() -> None:
    text = "@BPKJateng @KejatiJateng @BPKJateng @PT_Semarang"
    mentions = [
        (BPK_ID, BPK_HANDLE),
        (KEJATI_ID, KEJATI_HANDLE),
        (BPK_ID, BPK_HANDLE),
        (PT_ID, PT_HANDLE),
    ]
    assert tag_v2(text, mentions=mentions) == ["bpk-jateng", "kejati-jateng", "pt-semarang"]


def test_one_agency_through_two_of_its_accounts_counts_once() -> None:
    text = "@humasjateng @PemprovJateng jalan rusak"
    mentions = [(HUMAS_ID, HUMAS_HANDLE), (PEMPROV_ID, PEMPROV_HANDLE)]
    assert tag_v2(text, mentions=mentions) == ["pemprov-jateng"]


def test_reply_without_mention_entity_addresses_the_replied_to_agency() -> None:
    # X leaves the leading @handle of a reply out of `text` and out of `entities.mentions`.
    assert tag_v2("tolong ditindak", in_reply_to_user_id=PT_ID) == ["pt-semarang"]


def test_replied_to_agency_comes_after_mentioned_ones_and_is_not_repeated() -> None:
    mentions = [(BPK_ID, BPK_HANDLE)]
    assert tag_v2("@BPKJateng cek", mentions=mentions, in_reply_to_user_id=KEJATI_ID) == [
        "bpk-jateng",
        "kejati-jateng",
    ]
    mentions = [(KEJATI_ID, KEJATI_HANDLE), (BPK_ID, BPK_HANDLE)]
    assert tag_v2("@KejatiJateng @BPKJateng", mentions=mentions, in_reply_to_user_id=KEJATI_ID) == [
        "kejati-jateng",
        "bpk-jateng",
    ]


def test_reply_to_someone_who_is_not_an_agency() -> None:
    assert tag_v2("setuju", in_reply_to_user_id="1600000000000000001") == []


def test_handle_reuse_does_not_route() -> None:
    # The agency's old handle now belongs to another account: the mention's id decides.
    mentions = [("1600000000000000002", KEJATI_HANDLE)]
    assert tag_v2("@KejatiJateng halo", mentions=mentions) == []


def test_renamed_agency_is_still_reached_by_id() -> None:
    mentions = [(KEJATI_ID, "KejatiJatengBaru")]
    assert tag_v2("@KejatiJatengBaru halo", mentions=mentions) == ["kejati-jateng"]


def test_handles_swapped_between_agencies_route_by_id() -> None:
    mentions = [(KEJATI_ID, PT_HANDLE), (PT_ID, KEJATI_HANDLE)]
    assert tag_v2("@PT_Semarang @KejatiJateng", mentions=mentions) == [
        "kejati-jateng",
        "pt-semarang",
    ]


def test_mention_without_id_matches_username_case_insensitively() -> None:
    mentions = [(None, "KEJATIjateng"), (None, "pt_semarang")]
    assert tag_v2("@KEJATIjateng @pt_semarang", mentions=mentions) == [
        "kejati-jateng",
        "pt-semarang",
    ]


def test_mention_without_id_or_username_is_ignored() -> None:
    post = make_post("@? halo", mentions=[(KEJATI_ID, KEJATI_HANDLE)])
    post["entities"]["mentions"] = [{"start": 0, "end": 2}, post["entities"]["mentions"][0]]
    assert tag(stream_line(post)) == ["kejati-jateng"]


def test_at_sign_in_email_or_url_addresses_nobody() -> None:
    text = (
        "kirim ke pengaduan@KejatiJateng.go.id atau lihat https://x.com/@PT_Semarang dan @BPKJateng"
    )
    assert tag_v2(text) == []


def test_long_post_note_tweet_mentions_count() -> None:
    long_text = "Laporan. " * 40 + "@KejatiJateng @BPKJateng"
    post = make_post(
        "Laporan. " * 30 + "…",
        note_text=long_text,
        note_mentions=[(KEJATI_ID, KEJATI_HANDLE), (BPK_ID, BPK_HANDLE)],
    )
    assert tag(stream_line(post)) == ["kejati-jateng", "bpk-jateng"]


def test_long_post_mentions_in_both_places_are_not_repeated() -> None:
    post = make_post(
        "@PT_Semarang singkat…",
        mentions=[(PT_ID, PT_HANDLE)],
        note_text="@PT_Semarang panjang @KejatiJateng",
        note_mentions=[(PT_ID, PT_HANDLE), (KEJATI_ID, KEJATI_HANDLE)],
    )
    assert tag(stream_line(post)) == ["pt-semarang", "kejati-jateng"]


def test_v1_mentions() -> None:
    tweet = make_v1_tweet(
        "@PT_Semarang @KejatiJateng",
        mentions=[(PT_ID, PT_HANDLE), (KEJATI_ID, KEJATI_HANDLE)],
    )
    assert tag(v1_line(tweet)) == ["pt-semarang", "kejati-jateng"]


def test_v1_extended_tweet_mentions() -> None:
    long_text = "@KejatiJateng " + "x" * 200 + " @BPKJateng"
    tweet = make_v1_tweet(
        long_text[:139] + "…",
        mentions=[(KEJATI_ID, KEJATI_HANDLE)],
        extended_text=long_text,
        extended_mentions=[(KEJATI_ID, KEJATI_HANDLE), (BPK_ID, BPK_HANDLE)],
    )
    assert tag(v1_line(tweet)) == ["kejati-jateng", "bpk-jateng"]


def test_v1_reply_without_mention() -> None:
    assert tag(v1_line(make_v1_tweet("tolong", in_reply_to_user_id=BPK_ID))) == ["bpk-jateng"]


def test_v1_handle_reuse_does_not_route() -> None:
    tweet = make_v1_tweet("@KejatiJateng", mentions=[("1600000000000000002", KEJATI_HANDLE)])
    assert tag(v1_line(tweet)) == []
