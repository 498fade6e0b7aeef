"""`streams.x.synthetic`: exactly the lines asked for, one set per seed, and threads a case tracker
can follow: agencies answer the complaints addressed to them (on time, late or never), and
citizens follow their own complaints up."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from agents.core.registry import load_registry
from agents.core.route import Router
from agents.core.verify import VerificationPolicy
from agents.core.workdays import WorkCalendar
from streams.x import synthetic
from streams.x.snowflake import post_time
from streams.x.synthetic import synthetic_lines

ROOT = Path(__file__).resolve().parents[4]
REGISTRY = load_registry(ROOT / "deploy" / "agencies.yaml")
AGENCY_OF = REGISTRY.agency_by_account_id
WITHIN = {agency.id: agency.answer_within_working_days for agency in REGISTRY.agencies}
Post = dict[str, Any]


@pytest.fixture(scope="module")
def lines() -> Iterator[list[bytes]]:
    """1,000 lines with no truncated one, so that every reply's parent can be read."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(synthetic, "SHARE_TRUNCATED", 0.0)
        yield list(synthetic_lines(REGISTRY, 1_000, seed=11))


@pytest.fixture(scope="module")
def posts(lines: list[bytes]) -> dict[str, Post]:
    """Each post by id, in the order first read (later copies are redeliveries), with its author
    under `user`."""
    found: dict[str, Post] = {}
    for line in lines:
        message = orjson.loads(line)
        found.setdefault(message["data"]["id"], {**message["data"], **_user(message)})
    return found


def _user(message: dict[str, Any]) -> dict[str, Any]:
    [user] = message["includes"]["users"]
    assert user["id"] == message["data"]["author_id"]
    return {"user": user}


def parent_of(post: Post) -> str | None:
    replied = [
        ref["id"] for ref in post.get("referenced_tweets", ()) if ref["type"] == "replied_to"
    ]
    return replied[0] if replied else None


def mentioned_agencies(post: Post) -> set[str]:
    return {AGENCY_OF[m["id"]] for m in post["entities"]["mentions"] if m["id"] in AGENCY_OF}


def is_answer(post: Post) -> bool:
    """An agency's reply naming the citizen; the agency's other posts name agencies, as any
    complaint does, and may join threads too."""
    return post["author_id"] in AGENCY_OF and bool(parent_of(post)) and not mentioned_agencies(post)


def created(post: Post) -> datetime:
    return datetime.fromisoformat(post["created_at"])


@pytest.mark.parametrize("seed", [5, 6, 7])
def test_exactly_count_lines_however_the_last_threads_are_cut(seed: int) -> None:
    """Near the end there is no room left for a complaint's whole thread: it is cut short."""
    assert [len(list(synthetic_lines(REGISTRY, n, seed))) for n in range(1, 120)] == [
        *range(1, 120)
    ]


def test_the_same_seed_gives_the_same_bytes() -> None:
    first = list(synthetic_lines(REGISTRY, 1_000, seed=5))
    assert list(synthetic_lines(REGISTRY, 1_000, seed=5)) == first
    assert list(synthetic_lines(REGISTRY, 1_000, seed=6)) != first


def test_lines_come_in_created_at_order_with_ids_of_their_time(posts: dict[str, Post]) -> None:
    ids = [int(tweet_id) for tweet_id in posts]
    assert ids == sorted(ids)
    for tweet_id, post in posts.items():
        assert post_time(int(tweet_id)) == created(post)


def test_every_reply_names_its_parent_author_and_conversation(posts: dict[str, Post]) -> None:
    replies = [post for post in posts.values() if parent_of(post)]
    assert len(replies) > 200
    for post in replies:
        parent = posts[parent_of(post)]  # type: ignore[index]
        assert int(post["id"]) > int(parent["id"])
        assert post["in_reply_to_user_id"] == parent["author_id"]
        assert post["conversation_id"] == parent["conversation_id"]
        assert parent_of(posts[post["conversation_id"]]) is None


def test_answers_come_from_the_addressed_agency_to_the_citizen(posts: dict[str, Post]) -> None:
    answers = [post for post in posts.values() if is_answer(post)]
    assert len(answers) > 100
    for answer in answers:
        parent = posts[parent_of(answer)]  # type: ignore[index]
        citizen = parent["user"]
        assert AGENCY_OF[answer["author_id"]] in mentioned_agencies(parent)
        assert citizen["id"] not in AGENCY_OF
        assert answer["user"]["verified_type"] == "government"
        assert answer["text"].startswith(f"@{citizen['username']} ")
        assert answer["entities"]["mentions"] == [
            {"start": 0, "end": 1 + len(citizen["username"]), "username": citizen["username"],
             "id": citizen["id"]}
        ]  # fmt: skip
    # An agency with two accounts answers from either, not only from the one addressed.
    assert {"900000000000000101", "900000000000000102"} <= {a["author_id"] for a in answers}


def test_follow_ups_come_from_the_citizen_and_address_the_agency(
    posts: dict[str, Post], lines: list[bytes]
) -> None:
    """A follow-up replies to the citizen's own complaint or to the agency's answer to it."""
    follow_ups: Counter[str] = Counter()
    served: list[tuple[str, set[str]]] = []
    for post in posts.values():
        parent = posts.get(parent_of(post) or "")
        if parent is None or post["author_id"] in AGENCY_OF:
            continue
        if parent["author_id"] == post["author_id"]:
            follow_ups["own complaint"] += 1
        elif is_answer(parent):
            # The answer replied to this very citizen.
            assert parent["in_reply_to_user_id"] == post["author_id"]
            assert post["text"].startswith(f"@{parent['user']['username']} ")
            follow_ups["answer"] += 1
        else:
            continue  # a citizen joining someone else's thread
        assert mentioned_agencies(post)
        if post["user"]["verified"]:
            served.append((post["id"], mentioned_agencies(post)))
    assert follow_ups["own complaint"] > 50 and follow_ups["answer"] > 5

    router = Router(REGISTRY, VerificationPolicy(), seen=set())
    topics: dict[str, set[str]] = {}
    # Each line once: a redelivered copy would only add a `duplicate` rejection.
    for line in dict.fromkeys(lines):
        for topic, key, _ in router.route_line(line):
            topics.setdefault(str(key), set()).add(topic)
    for tweet_id, agencies in served:
        assert topics[tweet_id] == {f"complaints.{agency}" for agency in agencies}
    answers = [tweet_id for tweet_id, post in posts.items() if is_answer(post)]
    assert all(topics[tweet_id] == {"mentions.rejected"} for tweet_id in answers)


def test_answers_come_on_time_late_or_never(posts: dict[str, Post]) -> None:
    """Cases by the rules of issue 27, served or not: a citizen's post to agency A joins the case
    of A its parent belongs to when that case is the citizen's, else opens one; a post by A's
    account replying to a post of a case of A answers it."""
    calendar = WorkCalendar()
    case_of: dict[tuple[str, str], str] = {}  # (post id, agency) -> id of the case's first post
    opened: dict[tuple[str, str], Post] = {}
    answered: dict[tuple[str, str], datetime] = {}
    stray = 0
    for post in sorted(posts.values(), key=created):
        parent = parent_of(post) or ""
        if post["author_id"] in AGENCY_OF:
            agency = AGENCY_OF[post["author_id"]]
            case = case_of.get((parent, agency))
            if case is None:
                stray += is_answer(post)
                continue
            case_of[post["id"], agency] = case
            answered.setdefault((case, agency), created(post))
            continue
        for agency in mentioned_agencies(post):
            case = case_of.get((parent, agency))
            if case is None or opened[case, agency]["author_id"] != post["author_id"]:
                case = post["id"]
                opened[case, agency] = post
            case_of[post["id"], agency] = case

    outcomes: Counter[str] = Counter()
    for (case, agency), complaint in opened.items():
        answer = answered.get((case, agency))
        if answer is None:
            outcomes["never"] += 1
        elif answer < calendar.due_at(created(complaint), WITHIN[agency]):
            outcomes["on time"] += 1
        else:
            outcomes["late"] += 1
    assert stray == 0, "an agency's reply outside its cases"
    assert outcomes["on time"] > 50 and outcomes["late"] > 30
    assert outcomes["never"] > outcomes["on time"] + outcomes["late"]
