"""The tables of `aduan report`, computed from routed events. Pure: no Kafka, no charts here.

A post's day is its `created_at` date, else the date in its id (X post ids are snowflakes that
carry their creation time), so that complaints and rejections share one time axis whether they
come from Kafka or from a file.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from schemas.topics import COMPLAINT_TOPIC_PREFIX, DEAD_LETTER_TOPIC, REJECTED_TOPIC, UNROUTED
from streams.x.snowflake import post_time

_TOP_THREADS = 10
UNKNOWN_DAY = "unknown"


def post_day(tweet_id: str, created_at: str | None = None) -> str:
    """The UTC date a post was created, as YYYY-MM-DD."""
    if created_at:
        return created_at[:10]
    if tweet_id.isdigit() and int(tweet_id) >> 22:
        return post_time(int(tweet_id)).date().isoformat()
    return UNKNOWN_DAY


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


def build_tables(
    events: Iterable[tuple[str, Mapping[str, Any], int | None]],
    mention_times: Mapping[str, int] | None = None,
) -> Tables:
    """Tables of (topic, event, Kafka timestamp in ms or None) triples. `mention_times` maps
    post ids to their mention's Kafka timestamp, for latencies."""
    tables = Tables()
    seen: set[str] = set()
    for topic, event, timestamp in events:
        if topic == DEAD_LETTER_TOPIC:
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
