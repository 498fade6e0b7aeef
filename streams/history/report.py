"""`aduan report`: an analysis of the routed history as PNG charts, CSV tables and one HTML page.

Events come from a JSON Lines file (what `aduan route` or `aduan replay` writes, or bare events
as `aduan subscribe` prints them) or from the live topics over a time window.
"""

from __future__ import annotations

import asyncio
import csv
import html
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from agents.core.errors import AduanError
from agents.core.parse import parse_line
from agents.core.post import Post
from schemas.topics import (
    CASES_TOPIC,
    DEAD_LETTER_TOPIC,
    RAW_TOPIC,
    REJECTED_TOPIC,
    UNROUTED_TOPIC,
    complaint_topic,
)
from streams.forget import requests as forget_requests
from streams.history import report_charts
from streams.history.report_tables import Responses, Routed, Tables
from streams.history.window import Window, find_spans, read_spans
from streams.kafka.admin import complaint_topics, read_to_end
from streams.settings import Settings

Row = Sequence[object]

_RESPONSE_COLUMNS = (
    "agency",
    "cases",
    "answered",
    "answered_on_time",
    "share_on_time",
    "median_working_days",
    "p90_working_days",
    "open",
    "overdue_now",
)


def events_from_file(source: BinaryIO, name: str) -> Iterator[Routed]:
    """(topic, key, event, None) for every line of `source`."""
    for number, line in enumerate(source, start=1):
        if line.isspace():
            continue
        try:
            item = orjson.loads(line)
            yield (*_topic_key_and_event(item), None)
        except (orjson.JSONDecodeError, KeyError, TypeError):
            raise AduanError(
                f"{name} line {number} is not an aduan event: expected the JSON lines of aduan "
                "route, aduan replay or aduan subscribe"
            ) from None


def _topic_key_and_event(item: Any) -> tuple[str, str | None, Any]:
    if "topic" in item and "value" in item:
        topic, key = item["topic"], item.get("key")
        if topic == CASES_TOPIC and not isinstance(key, str):
            raise KeyError("key")  # a tombstone names its case by nothing else
        return topic, key, item["value"]
    if "withdrawn_at" in item:
        agency = item["agency_id"]
        return UNROUTED_TOPIC if agency is None else complaint_topic(agency), None, item
    if "event_id" in item:
        agency = item["agency_id"]
        return UNROUTED_TOPIC if agency is None else complaint_topic(agency), None, item
    if "reason" in item:
        return REJECTED_TOPIC, None, item
    if "error" in item:
        return DEAD_LETTER_TOPIC, None, item
    raise KeyError("topic")


def events_from_kafka(settings: Settings, window: Window) -> tuple[list[Routed], dict[str, int]]:
    """The window's events on the live topics with their Kafka timestamps, then the current
    state of the cases opened in the window; and the Kafka timestamp of every mention in the
    window by post id. Forgotten posts' complaints are left out, withdrawn or not yet."""
    topics = [RAW_TOPIC, REJECTED_TOPIC, DEAD_LETTER_TOPIC, *complaint_topics(settings)]
    spans = find_spans(settings, topics, window)
    forgotten = forget_requests.forgotten(settings)

    async def collect() -> tuple[list[Routed], dict[str, int]]:
        events: list[Routed] = []
        mentions: dict[str, int] = {}
        async for chunk in read_spans(settings, spans, window):
            for record in chunk.records:
                key = None if record.key is None else record.key.decode(errors="replace")
                if record.topic == RAW_TOPIC:
                    for post in parse_line(record.value or b""):
                        if isinstance(post, Post):
                            mentions.setdefault(post.tweet_id, record.timestamp)
                else:
                    event = orjson.loads(record.value)
                    if "event_id" in event and forgotten.of_complaint(event) is not None:
                        continue
                    events.append((record.topic, key, event, record.timestamp))
        return events, mentions

    events, mentions = asyncio.run(collect())
    # `cases` is compacted: read whole, it holds every case's current state, whenever the case
    # last changed; a cluster without the topic has no cases.
    records, _ = read_to_end(settings, CASES_TOPIC)
    events += cases_opened_in(((record.key, record.value) for record in records), window)
    return events, mentions


def cases_opened_in(
    records: Iterable[tuple[bytes | None, bytes | None]], window: Window
) -> list[Routed]:
    """The latest state of each case among the (key, value) `records` of topic `cases`, in offset
    order per partition, for the cases whose `opened_at` is in `window`."""
    states: dict[str, Any] = {}
    for key, value in records:
        if key is None:
            continue
        name = key.decode(errors="replace")
        if value is None:
            states.pop(name, None)
        else:
            states[name] = orjson.loads(value)
    return [
        (CASES_TOPIC, name, case, None)
        for name, case in states.items()
        if window.holds(int(datetime.fromisoformat(case["opened_at"]).timestamp() * 1000))
    ]


def write_report(tables: Tables, out: Path, title: str, now: datetime) -> list[Path]:
    """CSV tables, PNG charts and index.html into `out`, with `now` as the time cases are
    judged overdue at; returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
    latency = tables.latency_summary()
    responses = tables.responses(now)
    tables_csv: list[tuple[str, Row, Sequence[Row]]] = [
        ("complaints_per_day", ("day", "agency", "complaints"), _flat(tables.complaints_per_day)),
        ("rejections_per_day", ("day", "reason", "rejections"), _flat(tables.rejections_per_day)),
        ("verified_share", ("day", "verified", "unverified", "share"), _verified_rows(tables)),
        ("agencies_per_complaint", ("agencies", "posts"), sorted(tables.multi_agency().items())),
        ("top_threads", ("conversation_id", "posts", "agencies", "first_post"), _threads(tables)),
        ("latency", ("agency", "complaints", "p50_s", "p90_s", "p99_s", "max_s"), latency),
        ("responses", _RESPONSE_COLUMNS, [_response_row(row) for row in responses]),
    ]
    written = [_csv(out / f"{name}.csv", header, rows) for name, header, rows in tables_csv]
    charts = report_charts.draw(tables, responses, out)
    page = out / "index.html"
    page.write_text(_html(tables, responses, title, charts, now), encoding="utf-8")
    return [*written, *charts, page]


def _response_row(row: Responses) -> Row:
    return tuple(getattr(row, column) for column in _RESPONSE_COLUMNS)


def _flat(counts: Any) -> list[Row]:
    return [(*key, count) for key, count in sorted(counts.items())]


def _verified_rows(tables: Tables) -> list[Row]:
    days = sorted(set(tables.verified_per_day) | set(tables.unverified_per_day))
    rows: list[Row] = []
    for day in days:
        verified, unverified = tables.verified_per_day[day], tables.unverified_per_day[day]
        rows.append((day, verified, unverified, round(verified / (verified + unverified), 4)))
    return rows


def _threads(tables: Tables, first: str = "first_url") -> list[tuple[str, int, str, str]]:
    """(conversation, posts, agencies, the first post's `first` attribute) of the top threads."""
    return [
        (name, len(thread.posts), " ".join(sorted(thread.agencies)), getattr(thread, first))
        for name, thread in tables.top_threads()
    ]


def _csv(path: Path, header: Row, rows: Sequence[Row]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _table(header: Row, rows: Sequence[Row]) -> str:
    head = "".join(f"<th>{html.escape(str(cell))}</th>" for cell in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(cell))}</td>" for cell in row) + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _html(
    tables: Tables, responses: list[Responses], title: str, charts: list[Path], now: datetime
) -> str:
    latency = tables.latency_summary()
    threads = [
        (conversation, posts, agencies, text[:140])
        for conversation, posts, agencies, text in _threads(tables, "first_text")
    ]
    sections = [
        f"<h1>{html.escape(title)}</h1>",
        f"<p>{tables.complaint_posts} complaint posts, "
        f"{sum(tables.rejections_per_day.values())} rejections, "
        f"{tables.dead_letters} dead letters. CSV tables beside this page.</p>",
        *(f'<img src="{chart.name}" alt="{chart.stem}">' for chart in charts),
        "<h2>Complaints per post: number of agencies addressed</h2>",
        _table(("agencies", "posts"), sorted(tables.multi_agency().items())),
        "<h2>Top conversation threads</h2>",
        _table(("conversation", "posts", "agencies", "first post"), threads),
        "<h2>Routing latency (mention in Kafka to complaint in Kafka)</h2>",
        _table(
            ("agency", "complaints", "p50 s", "p90 s", "p99 s", "max s"),
            [
                (agency, n, f"{p50:.3f}", f"{p90:.3f}", f"{p99:.3f}", f"{top:.3f}")
                for agency, n, p50, p90, p99, top in latency
            ],
        )
        if latency
        else "<p>Not available: latencies need the Kafka timestamps of a --since report.</p>",
        "<h2>Answers to cases</h2>",
        _responses_html(responses, now),
    ]
    style = "body{font-family:sans-serif;max-width:70em;margin:auto}img{max-width:100%}"
    style += "td,th{padding:2px 8px;text-align:left}"
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{style}</style></head><body>{''.join(sections)}</body></html>\n"
    )


def _responses_html(responses: list[Responses], now: datetime) -> str:
    if not responses:
        return "<p>No cases: none in the events, or they were routed before case tracking.</p>"
    rows = [
        (
            row.agency,
            row.cases,
            row.answered,
            row.answered_on_time,
            "" if row.share_on_time is None else f"{row.share_on_time:.0%}",
            "" if row.median_working_days is None else f"{row.median_working_days:g}",
            "" if row.p90_working_days is None else row.p90_working_days,
            row.open,
            row.overdue_now,
        )
        for row in responses
    ]
    header = ("agency", "cases", "answered", "on time", "share on time", "median working days",
              "p90 working days", "open", "overdue now")  # fmt: skip
    note = (
        f"<p>Working days to the agency's first answer on X, of the answered cases. Open and "
        f"overdue now: unanswered cases before and past their deadline at "
        f"{html.escape(now.isoformat(timespec='seconds'))}.</p>"
    )
    return note + _table(header, rows)
