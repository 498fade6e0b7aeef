"""`agents.core.cases`: which case each post opens, joins or answers, the clock in working days,
and final states that depend only on which posts arrived, never on their order."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

import hypothesis.strategies as st
from hypothesis import given, settings

from agents.core.cases import CaseBook, CaseEmit, CasePost, cases_of
from agents.core.registry import Registry
from agents.core.workdays import WorkCalendar
from schemas.events import Case
from tests.unit.agents.factories import build_registry

REGISTRY = build_registry()
CALENDAR = WorkCalendar()
# Monday 2026-06-01 09:00 WIB; the week after has no Indonesian holiday but Monday 2026-06-01
# (Pancasila Day), so the clock starts on Tuesday.
MONDAY = "2026-06-01T02:00:00.000Z"
CITIZEN, OTHER_CITIZEN = "501", "502"
KEJATI, PEMPROV = "kejati-jateng", "pemprov-jateng"
KEJATI_ACCOUNT, PEMPROV_ACCOUNT = "1001", "2001"


def complaint(
    tweet_id: str,
    at: str = MONDAY,
    parent: str | None = None,
    *,
    author: str = CITIZEN,
    agencies: tuple[str, ...] = (KEJATI,),
    complaint_id: str | None = None,
) -> CasePost:
    return CasePost(tweet_id, complaint_id or tweet_id, author, parent, at, agencies, False)


def answer(tweet_id: str, parent: str, at: str, agency: str = KEJATI) -> CasePost:
    account = KEJATI_ACCOUNT if agency == KEJATI else PEMPROV_ACCOUNT
    return CasePost(tweet_id, tweet_id, account, parent, at, (agency,), True)


def book(now: str = "2026-06-02T00:00:00.000Z", registry: Registry = REGISTRY) -> CaseBook:
    moment = datetime.fromisoformat(now)
    return CaseBook(registry, CALENDAR, lambda: moment)


def final(emits: list[CaseEmit]) -> dict[str, Case]:
    """What a compacted `cases` topic holds after `emits`."""
    state: dict[str, Case] = {}
    for _topic, key, case in emits:
        if case is None:
            state.pop(key, None)
        else:
            state[key] = case
    return state


def feed(posts: list[CasePost], cases: CaseBook | None = None) -> dict[str, Case]:
    cases = cases or book()
    emits: list[CaseEmit] = []
    for post in posts:
        emits += cases.add("thread", post)
    return final(emits)


def test_a_complaint_opens_a_case_due_after_five_working_days() -> None:
    (case,) = feed([complaint("10")]).values()
    assert case == {
        "case_id": "10",
        "agency_id": KEJATI,
        "citizen_id": CITIZEN,
        "opened_at": MONDAY,
        # Pancasila Day is the Monday itself: Tue 2, Wed 3, Thu 4, Fri 5, Mon 8 June; due 00:00
        # WIB Tuesday 9 June.
        "due_at": "2026-06-08T17:00:00.000Z",
        "posts": ["10"],
        "answers": 0,
        "first_answer_at": None,
        "first_answer_tweet_id": None,
        "working_days_to_answer": None,
        "answered_on_time": None,
        "status": "open",
        "registry_version": REGISTRY.version,
        "schema_version": 3,
    }


def test_an_answer_on_the_fifth_working_day_is_on_time_and_one_later_is_not() -> None:
    on_time = feed([complaint("10"), answer("20", "10", "2026-06-08T16:59:00.000Z")])
    assert on_time[f"{KEJATI}:10"]["status"] == "answered"
    assert on_time[f"{KEJATI}:10"]["working_days_to_answer"] == 5
    assert on_time[f"{KEJATI}:10"]["answered_on_time"] is True
    late = feed([complaint("10"), answer("20", "10", "2026-06-08T17:00:00.000Z")])
    assert late[f"{KEJATI}:10"]["working_days_to_answer"] == 6
    assert late[f"{KEJATI}:10"]["answered_on_time"] is False


def test_an_answer_the_same_day_counts_zero_working_days() -> None:
    case = feed([complaint("10"), answer("20", "10", "2026-06-01T09:00:00.000Z")])[f"{KEJATI}:10"]
    assert (case["working_days_to_answer"], case["first_answer_tweet_id"]) == (0, "20")


def test_a_case_past_its_deadline_without_an_answer_is_overdue() -> None:
    cases = book(now="2026-06-08T17:00:00.000Z")
    assert feed([complaint("10")], cases)[f"{KEJATI}:10"]["status"] == "overdue"


def test_follow_ups_of_the_citizen_join_and_a_stranger_opens_a_case_of_their_own() -> None:
    cases = feed(
        [
            complaint("10"),
            answer("20", "10", "2026-06-02T02:00:00.000Z"),
            complaint("30", "2026-06-02T03:00:00.000Z", parent="20"),  # to the answer
            complaint("40", "2026-06-02T04:00:00.000Z", parent="30"),  # to the follow-up
            complaint("50", "2026-06-02T05:00:00.000Z", parent="10", author=OTHER_CITIZEN),
        ]
    )
    assert sorted(cases) == [f"{KEJATI}:10", f"{KEJATI}:50"]
    assert cases[f"{KEJATI}:10"]["posts"] == ["10", "30", "40"]
    assert cases[f"{KEJATI}:50"]["citizen_id"] == OTHER_CITIZEN


def test_every_answer_counts_the_first_by_time_then_by_lower_id() -> None:
    cases = feed(
        [
            complaint("10"),
            complaint("30", "2026-06-02T01:00:00.000Z", parent="10"),
            answer("25", "30", "2026-06-03T02:00:00.000Z"),
            answer("24", "10", "2026-06-03T02:00:00.000Z"),
            answer("9", "10", "2026-06-04T02:00:00.000Z"),
        ]
    )
    case = cases[f"{KEJATI}:10"]
    assert (case["answers"], case["first_answer_tweet_id"]) == (3, "24")


def test_an_agency_answers_only_its_own_cases() -> None:
    cases = feed([complaint("10"), answer("20", "10", "2026-06-02T02:00:00.000Z", agency=PEMPROV)])
    assert cases[f"{KEJATI}:10"]["status"] == "open"
    assert list(cases) == [f"{KEJATI}:10"]


def test_a_post_to_two_agencies_opens_a_case_at_each() -> None:
    cases = feed(
        [
            complaint("10", agencies=(KEJATI, PEMPROV)),
            answer("20", "10", "2026-06-02T02:00:00.000Z", agency=PEMPROV),
        ]
    )
    assert cases[f"{KEJATI}:10"]["status"] == "open"
    assert cases[f"{PEMPROV}:10"]["status"] == "answered"


def test_the_revisions_of_a_complaint_are_one_post_opened_at_the_earliest() -> None:
    cases = feed(
        [
            complaint("12", "2026-06-01T02:10:00.000Z", complaint_id="10"),
            complaint("10", MONDAY),
            answer("20", "12", "2026-06-02T02:00:00.000Z"),
        ]
    )
    case = cases[f"{KEJATI}:10"]
    assert (case["posts"], case["opened_at"], case["answers"]) == (["10", "12"], MONDAY, 1)


def test_an_answer_before_its_complaint_and_a_follow_up_before_its_parent_end_the_same() -> None:
    posts = [
        complaint("10"),
        answer("20", "10", "2026-06-02T02:00:00.000Z"),
        complaint("30", "2026-06-03T02:00:00.000Z", parent="20"),
    ]
    cases = book()
    emits: list[CaseEmit] = []
    for post in reversed(posts):
        emits += cases.add("thread", post)
    # The follow-up first opened a case of its own; the complaint merged it into its own.
    assert (emits[0][1], emits[0][2] is not None) == (f"{KEJATI}:30", True)
    assert (f"{KEJATI}:30", None) in [(key, case) for _topic, key, case in emits]
    assert final(emits) == feed(posts)


def test_input_no_real_thread_has_stays_harmless() -> None:
    cases = feed(
        [
            complaint("10", parent="10"),  # a reply to itself
            complaint("20", parent="30"),  # a loop of two
            complaint("30", parent="20"),
            complaint("40", parent="999"),  # a reply to a post never seen
            answer("50", "50", "2026-06-02T02:00:00.000Z"),  # an answer to itself
        ]
    )
    assert sorted(cases) == [f"{KEJATI}:{key}" for key in ("10", "20", "30", "40")]
    assert all(case["answers"] == 0 for case in cases.values())


def test_a_reply_past_the_remembering_time_opens_a_new_case_and_answers_nothing() -> None:
    cases = feed(
        [
            complaint("10"),
            complaint("30", "2026-09-01T02:00:00.000Z", parent="10"),
            answer("40", "10", "2026-09-01T02:00:00.000Z"),
        ],
        book(now="2026-09-01T03:00:00.000Z"),
    )
    assert sorted(cases) == [f"{KEJATI}:10", f"{KEJATI}:30"]
    assert cases[f"{KEJATI}:10"]["answers"] == 0


def test_an_agency_with_ten_working_days_gets_them() -> None:
    registry = build_registry(
        "agencies:\n  - id: kejati-jateng\n    name: Kejati\n    answer_within_working_days: 10\n"
        '    accounts:\n      - id: "1001"\n        username: KejatiJateng\n'
    )
    (case,) = feed([complaint("10")], book(registry=registry)).values()
    assert case["due_at"] == "2026-06-15T17:00:00.000Z"


def test_overdue_is_told_once_when_the_clock_passes_the_deadline() -> None:
    now = [datetime(2026, 6, 2, tzinfo=UTC)]
    cases = CaseBook(REGISTRY, CALENDAR, lambda: now[0])
    cases.add("thread", complaint("10"))
    assert cases.overdue() == []
    now[0] = datetime(2026, 6, 8, 17, tzinfo=UTC)
    ((_topic, key, case),) = cases.overdue()
    assert (key, case and case["status"]) == (f"{KEJATI}:10", "overdue")
    assert cases.overdue() == []


def test_threads_silent_for_the_remembering_time_are_forgotten() -> None:
    now = [datetime(2026, 6, 2, tzinfo=UTC)]
    cases = CaseBook(REGISTRY, CALENDAR, lambda: now[0], keep_days=90)
    cases.add("thread", complaint("10"))
    now[0] = datetime(2026, 9, 1, tzinfo=UTC)
    cases.overdue()
    assert "thread" not in cases.threads


@st.composite
def threads(draw: Any) -> list[CasePost]:
    """Posts of one thread: citizens' complaints to one or two agencies and agencies' posts,
    each replying to any post id of the thread or to none (loops included)."""
    count = draw(st.integers(min_value=1, max_value=9))
    ids = [str(100 + index) for index in range(count)]
    posts = []
    for index, tweet_id in enumerate(ids):
        parent = draw(st.one_of(st.none(), st.sampled_from([*ids, "999"])))
        at = f"2026-06-0{draw(st.integers(min_value=1, max_value=9))}T02:00:00.000Z"
        if draw(st.booleans()):
            agency = draw(st.sampled_from([KEJATI, PEMPROV]))
            posts.append(answer(tweet_id, parent or "999", at, agency))
        else:
            author = draw(st.sampled_from([CITIZEN, OTHER_CITIZEN]))
            agencies = draw(st.sampled_from([(KEJATI,), (PEMPROV,), (KEJATI, PEMPROV)]))
            revision_of = ids[index - 1] if index and draw(st.integers(0, 5)) == 0 else None
            posts.append(
                complaint(
                    tweet_id,
                    at,
                    parent,
                    author=author,
                    agencies=agencies,
                    complaint_id=revision_of,
                )
            )
    return posts


@settings(max_examples=300, deadline=None)
@given(threads(), st.randoms(use_true_random=False))
def test_the_final_cases_depend_only_on_which_posts_arrived(
    posts: list[CasePost], shuffle: random.Random
) -> None:
    shuffled = list(posts)
    shuffle.shuffle(shuffled)
    now = datetime(2026, 6, 5, tzinfo=UTC)
    expected = cases_of(posts, REGISTRY, CALENDAR, now)
    assert feed(posts, book("2026-06-05T00:00:00.000Z")) == expected
    assert feed(shuffled, book("2026-06-05T00:00:00.000Z")) == expected


def test_the_observer_is_told_each_change_and_statuses_count_the_cases_as_told() -> None:
    changes: list[tuple[str | None, str | None]] = []

    def observe(before: Case | None, now: Case | None) -> None:
        changes.append(
            (
                before and f"{before['case_id']}:{before['status']}",
                now and f"{now['case_id']}:{now['status']}",
            )
        )

    moment = datetime(2026, 6, 2, tzinfo=UTC)
    cases = CaseBook(REGISTRY, CALENDAR, lambda: moment, observer=observe)
    cases.add("a", complaint("30", "2026-06-01T03:00:00.000Z", parent="10"))
    cases.add("a", complaint("10"))
    cases.add("a", answer("20", "10", "2026-06-01T05:00:00.000Z"))
    cases.add("b", complaint("40", agencies=(PEMPROV,)))
    assert changes == [
        (None, "30:open"),
        ("30:open", None),  # merged into the complaint it follows up
        (None, "10:open"),
        ("10:open", "10:answered"),
        (None, "40:open"),
    ]
    assert cases.statuses() == {(KEJATI, "answered"): 1, (PEMPROV, "open"): 1}
