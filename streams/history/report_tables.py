"""The tables of `aduan report`, computed from routed events. Pure: no Kafka, no charts here.

A post's day is its `created_at` date in WIB, else the WIB date in its id (X post ids are
snowflakes that carry their creation time), so that complaints and rejections share one time axis
whether they come from Kafka or from a file, and a day is the one the agencies work by.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from agents.core.workdays import wib_date
from schemas.events import Case
from schemas.topics import (
    CASES_TOPIC,
    COMPLAINT_TOPIC_PREFIX,
    DEAD_LETTER_TOPIC,
    REJECTED_TOPIC,
    UNROUTED,
)
from streams.x.snowflake import post_time

_TOP_THREADS = 10
UNKNOWN_DAY = "unknown"

Routed = tuple[str, str | None, Any, int | None]
"""(topic, message key, event, Kafka timestamp in ms or None); a `cases` event of None is a
tombstone, which only its key names."""


def post_day(tweet_id: str, created_at: str | None = None) -> str:
    """The WIB date a post was created, as YYYY-MM-DD."""
    if created_at:
        return wib_date(datetime.fromisoformat(created_at)).isoformat()
    if tweet_id.isdigit() and int(tweet_id) >> 22:
        return wib_date(post_time(int(tweet_id))).isoformat()
    return UNKNOWN_DAY


@dataclass(frozen=True, slots=True)
class Responses:
    """How one agency answered its cases. `open` and `overdue_now` are the unanswered cases
    before and past their deadline at the report's time; the working days are those of the
    answered cases."""

    agency: str
    cases: int
    answered: int
    answered_on_time: int
    share_on_time: float | None
    median_working_days: float | None
    p90_working_days: int | None
    open: int
    overdue_now: int


def _responses(agency: str, cases: list[Case], now: datetime) -> Responses:
    answered = [case for case in cases if case["status"] == "answered"]
    on_time = sum(1 for case in answered if case["answered_on_time"])
    overdue = sum(
        1
        for case in cases
        if case["status"] == "overdue"
        or (case["status"] == "open" and datetime.fromisoformat(case["due_at"]) <= now)
    )
    days = sorted(
        case["working_days_to_answer"]
        for case in answered
        if case["working_days_to_answer"] is not None
    )
    return Responses(
        agency=agency,
        cases=len(cases),
        answered=len(answered),
        answered_on_time=on_time,
        share_on_time=round(on_time / len(answered), 4) if answered else None,
        median_working_days=float(statistics.median(days)) if days else None,
        # nearest rank: the fewest working days that at least 90% of the answers took
        p90_working_days=days[(9 * len(days) + 9) // 10 - 1] if days else None,
        open=len(cases) - len(answered) - overdue,
        overdue_now=overdue,
    )


@dataclass(slots=True)
class Thread:
    posts: set[str] = field(default_factory=set)
    agencies: set[str] = field(default_factory=set)
    first_id: str = ""
    first_url: str = ""
    first_text: str = ""


@dataclass(slots=True)
class Tables:
    complaints_per_day: Counter[tuple[str, str]] = field(default_factory=Counter)
    rejections_per_day: Counter[tuple[str, str]] = field(default_factory=Counter)
    verified_per_day: Counter[str] = field(default_factory=Counter)
    unverified_per_day: Counter[str] = field(default_factory=Counter)
    agencies_per_post: dict[str, set[str]] = field(default_factory=dict)
    threads: dict[str, Thread] = field(default_factory=dict)
    latencies: dict[str, list[float]] = field(default_factory=dict)
    """Seconds from a mention's arrival in Kafka to its complaint's, per agency."""
    cases: dict[str, Case] = field(default_factory=dict)
    """Each case's latest state by key; a tombstone removes its case."""
    dead_letters: int = 0

    @property
    def complaint_posts(self) -> int:
        return len(self.agencies_per_post)

    def multi_agency(self) -> Counter[int]:
        """Complaint posts by the number of agencies they address (unrouted: 0)."""
        return Counter(len(agencies - {UNROUTED}) for agencies in self.agencies_per_post.values())

    def top_threads(self) -> list[tuple[str, Thread]]:
        ranked = sorted(self.threads.items(), key=lambda item: (-len(item[1].posts), item[0]))
        return ranked[:_TOP_THREADS]

    def latency_summary(self) -> list[tuple[str, int, float, float, float, float]]:
        """(agency, complaints, p50, p90, p99, max) in seconds."""
        rows = []
        for agency, values in sorted(self.latencies.items()):
            ordered = sorted(values)
            cuts = statistics.quantiles(ordered, n=100) if len(ordered) > 1 else ordered * 99
            p50, p90, p99 = (round(cuts[index], 3) for index in (49, 89, 98))
            rows.append((agency, len(ordered), p50, p90, p99, round(ordered[-1], 3)))
        return rows

    def responses(self, now: datetime) -> list[Responses]:
        """Each agency's answers to its cases, with `now` as the time overdue is judged at."""
        by_agency: dict[str, list[Case]] = {}
        for case in self.cases.values():
            by_agency.setdefault(case["agency_id"], []).append(case)
        return [_responses(agency, cases, now) for agency, cases in sorted(by_agency.items())]


def build_tables(
    events: Iterable[Routed], mention_times: Mapping[str, int] | None = None
) -> Tables:
    """Tables of routed events, in the order they were written. `mention_times` maps post ids to
    their mention's Kafka timestamp, for latencies. A withdrawn complaint counts nowhere."""
    tables = Tables()
    seen: set[str] = set()
    events = list(events)
    withdrawn = {
        (topic, event["complaint_id"]) for topic, _, event, _ in events if _is_withdrawal(event)
    }
    for topic, key, event, timestamp in events:
        if _is_withdrawal(event) or (topic, event and event.get("complaint_id")) in withdrawn:
            continue
        if topic == CASES_TOPIC and key is not None:
            if event is None:
                tables.cases.pop(key, None)
            else:
                tables.cases[key] = event
        elif topic == DEAD_LETTER_TOPIC:
            tables.dead_letters += 1
        elif topic == REJECTED_TOPIC:
            day = post_day(event["tweet_id"])
            tables.rejections_per_day[day, event["reason"]] += 1
            if event["reason"] == "unverified_author":
                tables.unverified_per_day[day] += 1
        elif topic.startswith(COMPLAINT_TOPIC_PREFIX) and event["event_id"] not in seen:
            seen.add(event["event_id"])  # at-least-once delivery may repeat an event
            _add_complaint(tables, event, timestamp, mention_times or {})
    return tables


def _is_withdrawal(event: Any) -> bool:
    return isinstance(event, dict) and "withdrawn_at" in event


def _add_complaint(
    tables: Tables, event: Mapping[str, Any], timestamp: int | None, mentions: Mapping[str, int]
) -> None:
    tweet_id = event["tweet_id"]
    agency = event["agency_id"] or UNROUTED
    day = post_day(tweet_id, event["created_at"])
    tables.complaints_per_day[day, agency] += 1
    if tweet_id not in tables.agencies_per_post:
        tables.verified_per_day[day] += 1
    tables.agencies_per_post.setdefault(tweet_id, set()).add(agency)
    thread = tables.threads.setdefault(event["conversation_id"] or tweet_id, Thread())
    if not thread.first_id or (len(tweet_id), tweet_id) < (len(thread.first_id), thread.first_id):
        thread.first_id, thread.first_url, thread.first_text = tweet_id, event["url"], event["text"]
    thread.posts.add(tweet_id)
    thread.agencies.add(agency)
    if timestamp is not None and tweet_id in mentions:
        tables.latencies.setdefault(agency, []).append((timestamp - mentions[tweet_id]) / 1000)
