"""`agents.core.forget`: requests to forget, what they cover, and the router's `forgotten`."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from agents.core.errors import ForgetError
from agents.core.forget import Forgotten, forget_request, request_key, withdrawal
from agents.core.route import Router
from agents.core.verify import VerificationPolicy
from schemas.topics import REJECTED_TOPIC
from tests.unit.agents.factories import (
    CITIZEN_ID,
    KEJATI_HANDLE,
    KEJATI_ID,
    build_registry,
    make_post,
    make_user,
    stream_line,
)

NOW = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)


def test_a_request_is_recorded_with_its_kind_id_reason_and_time() -> None:
    request = forget_request("user", CITIZEN_ID, "  citizen request 2026-117 ", NOW)
    assert request == {
        "kind": "user",
        "id": CITIZEN_ID,
        "reason": "citizen request 2026-117",
        "requested_at": "2026-12-07T06:00:00.000Z",
        "schema_version": 3,
    }
    assert request_key(request) == f"user:{CITIZEN_ID}"


@pytest.mark.parametrize("ident", ["@warga_semarang", "12a", "", "١٢٣"])
def test_an_id_that_is_not_digits_is_refused_with_an_example(ident: str) -> None:
    with pytest.raises(ForgetError, match=r"--post .*: an X post id is digits only, e\.g\."):
        forget_request("post", ident, "deleted", NOW)


@pytest.mark.parametrize("reason", ["", "   ", "two\nlines", "x" * 201])
def test_a_reason_must_be_one_short_line(reason: str) -> None:
    with pytest.raises(ForgetError, match="give one line of at most 200 characters"):
        forget_request("post", "1", reason, NOW)


def test_a_post_request_covers_the_post_and_its_revisions_a_user_request_all_their_posts() -> None:
    original = make_post(id="1790000000000000100", author_id="42")
    revision = make_post(
        id="1790000000000000101",
        author_id="42",
        edit_history_tweet_ids=["1790000000000000100", "1790000000000000101"],
    )
    by_citizen = make_post(id="1790000000000000200")
    other = make_post(id="1790000000000000300", author_id="43")
    forgotten = Forgotten(
        [
            forget_request("post", "1790000000000000100", "deleted", NOW),
            forget_request("user", CITIZEN_ID, "citizen request", NOW),
        ]
    )
    router = Router(build_registry(), VerificationPolicy(), set(), forgotten=forgotten)
    rejected = {}
    for post in (original, revision, by_citizen, other):
        users = [make_user(id=post["author_id"])]
        for topic, key, event in router.route_line(stream_line(post, users)):
            if topic == REJECTED_TOPIC:
                assert key is not None and event is not None
                rejected[key] = event
    assert set(rejected) == {original["id"], revision["id"], by_citizen["id"]}
    for event in rejected.values():
        assert event["reason"] == "forgotten"  # type: ignore[typeddict-item]
        assert event["author_id"] is None  # type: ignore[typeddict-item]
        assert b"Jalan" not in orjson.dumps(event)


def test_a_forgotten_post_is_rejected_before_it_counts_as_seen() -> None:
    post = make_post(id="1790000000000000400", mentions=[(KEJATI_ID, KEJATI_HANDLE)])
    seen: set[str] = set()
    forgotten = Forgotten([forget_request("post", post["id"], "deleted", NOW)])
    router = Router(build_registry(), VerificationPolicy(), seen, forgotten=forgotten)
    [(topic, _, event)] = router.route_line(stream_line(post))
    assert (topic, event["reason"]) == (REJECTED_TOPIC, "forgotten")  # type: ignore[index, typeddict-item]
    assert seen == set()


def test_requests_added_later_apply_to_the_posts_routed_after_them() -> None:
    post = make_post(mentions=[(KEJATI_ID, KEJATI_HANDLE)])
    forgotten = Forgotten()
    router = Router(build_registry(), VerificationPolicy(), set(), forgotten=forgotten)
    assert [t for t, _, _ in router.route_line(stream_line(post))] == ["complaints.kejati-jateng"]
    forgotten.add(forget_request("user", CITIZEN_ID, "citizen request", NOW))
    again = make_post(mentions=[(KEJATI_ID, KEJATI_HANDLE)])
    assert [t for t, _, _ in router.route_line(stream_line(again))] == [REJECTED_TOPIC]


def test_the_first_request_of_an_id_stands() -> None:
    first = forget_request("post", "7", "citizen request", NOW)
    forgotten = Forgotten([first, forget_request("post", "7", "x-compliance: deleted", NOW)])
    assert forgotten.posts == {"7": first}
    assert len(forgotten) == 1


def test_a_withdrawal_names_the_complaint_and_the_reason_but_carries_no_text() -> None:
    router = Router(build_registry(), VerificationPolicy(), set())
    post = make_post(id="1790000000000000500", mentions=[(KEJATI_ID, KEJATI_HANDLE)])
    [(_, _, complaint)] = router.route_line(stream_line(post))
    assert complaint is not None
    forgotten = Forgotten([forget_request("user", CITIZEN_ID, "citizen request", NOW)])
    request = forgotten.of_complaint(complaint)
    assert request is not None
    notice = withdrawal(complaint, request, "2026-12-07T06:00:00.000Z")
    assert notice == {
        "event_id": "1790000000000000500:withdrawn:kejati-jateng",
        "complaint_id": "1790000000000000500",
        "agency_id": "kejati-jateng",
        "tweet_id": "1790000000000000500",
        "reason": "citizen request",
        "withdrawn_at": "2026-12-07T06:00:00.000Z",
        "schema_version": 3,
    }
    assert Forgotten().of_complaint(complaint) is None


def test_a_user_request_never_silences_an_agency_account_but_a_post_request_does() -> None:
    answer = make_post(id="1790000000000000600", author_id=KEJATI_ID)
    agency = make_user(id=KEJATI_ID, username=KEJATI_HANDLE, verified_type="government")
    as_user = Forgotten([forget_request("user", KEJATI_ID, "x-compliance: protected", NOW)])
    router = Router(build_registry(), VerificationPolicy(), set(), forgotten=as_user)
    [(_, _, event)] = router.route_line(stream_line(answer, [agency]))
    assert event["reason"] == "agency_post"  # type: ignore[index, typeddict-item]
    as_post = Forgotten([forget_request("post", answer["id"], "x-compliance: deleted", NOW)])
    router = Router(build_registry(), VerificationPolicy(), set(), forgotten=as_post)
    [(_, _, event)] = router.route_line(stream_line(answer, [agency]))
    assert event["reason"] == "forgotten"  # type: ignore[index, typeddict-item]
