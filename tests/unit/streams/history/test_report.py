"""`aduan report` without a broker: its tables, and the files it writes from a file of events."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson
import pytest

from agents.core.errors import AduanError
from agents.core.forget import Forgotten, forget_request, withdrawal
from schemas.events import CaseStatus
from streams.cli import main
from streams.history import report
from streams.history.report import cases_opened_in, events_from_file, write_report
from streams.history.report_tables import Responses, Routed, build_tables, post_day
from streams.history.window import Window
from streams.settings import Settings
from tests.unit.agents.factories import make_case, make_post, stream_line

ROOT = Path(__file__).resolve().parents[4]
SAMPLE = ROOT / "deploy" / "samples" / "mentions.jsonl"


def _complaint(tweet_id: str, agency: str | None, **fields: Any) -> dict[str, Any]:
    event = {
        "event_id": f"{tweet_id}:0:{agency or 'unrouted'}",
        "tweet_id": tweet_id,
        "agency_id": agency,
        "created_at": "2024-05-02T10:00:00.000Z",
        "conversation_id": tweet_id,
        "url": f"https://x.com/someone/status/{tweet_id}",
        "text": f"post {tweet_id}",
    }
    return {**event, **fields}


def _case(
    case_id: str,
    agency: str,
    days: int | None = None,
    on_time: bool | None = None,
    *,
    status: CaseStatus = "answered",
    opened_at: str = "2024-05-01T02:00:00.000Z",
    due_at: str = "2024-05-08T17:00:00.000Z",
) -> dict[str, Any]:
    """A case opened on 1 May 2024, answered `days` working days later (None: not answered)."""
    case = make_case(
        status,
        agency,
        case_id=case_id,
        citizen_id="500",
        opened_at=opened_at,
        due_at=due_at,
        posts=[case_id],
        answers=0 if days is None else 1,
        first_answer_at=None if days is None else "2024-05-02T02:00:00.000Z",
        first_answer_tweet_id=None if days is None else f"9{case_id}",
        working_days_to_answer=days,
        answered_on_time=on_time,
        registry_version="r1",
    )
    return dict(case)


def _cases(*states: dict[str, Any] | tuple[str, None]) -> list[Routed]:
    """`cases` lines of the given states, a (key, None) pair being a tombstone."""
    lines: list[Routed] = []
    for state in states:
        if isinstance(state, tuple):
            lines.append(("cases", state[0], None, None))
        else:
            lines.append(("cases", f"{state['agency_id']}:{state['case_id']}", state, None))
    return lines


def test_a_post_day_is_its_wib_date_from_created_at_else_from_its_snowflake_id() -> None:
    assert post_day("1", "2024-05-01T16:59:59.999Z") == "2024-05-01"  # 23:59:59 WIB
    assert post_day("1", "2024-05-01T18:30:00.000Z") == "2024-05-02"  # 01:30 WIB
    # 1785459115422658617 was made at 2024-05-01T00:00:00Z (X ids carry their creation time)
    assert post_day("1785459115422658617") == "2024-05-01"
    # 1785738456069046272 was made at 2024-05-01T18:30:00Z, 01:30 WIB on 2 May
    assert post_day("1785738456069046272") == "2024-05-02"
    assert post_day("not-a-number") == "unknown"


def test_posts_after_midnight_wib_count_on_the_wib_day() -> None:
    late = "2024-05-01T18:30:00.000Z"
    events: list[Routed] = [
        ("complaints.a", None, _complaint("1785738456069046272", "a", created_at=late), None),
        ("mentions.rejected", None, {"tweet_id": "1785738456069046272", "reason": "retweet"}, None),
    ]
    tables = build_tables(events)
    assert tables.complaints_per_day == {("2024-05-02", "a"): 1}
    assert tables.rejections_per_day == {("2024-05-02", "retweet"): 1}
    assert tables.verified_per_day == {"2024-05-02": 1}


def test_tables_count_each_event_once_and_group_threads_and_agencies() -> None:
    events: list[Routed] = [
        ("complaints.a", "10", _complaint("10", "a"), 2_000),
        ("complaints.a", "10", _complaint("10", "a"), 2_500),  # redelivered: same event_id
        ("complaints.b", "10", _complaint("10", "b"), 3_000),
        ("complaints.a", "11", _complaint("11", "a", conversation_id="10"), 4_000),
        ("complaints.unrouted", "12", _complaint("12", None), None),
        (
            "mentions.rejected",
            "1785459115422658617",
            {"tweet_id": "1785459115422658617", "reason": "unverified_author"},
            1,
        ),
        ("mentions.rejected", None, {"tweet_id": "1785459115422658617", "reason": "duplicate"}, 1),
        ("mentions.dlq", None, {"error": "not valid JSON"}, None),
    ]
    tables = build_tables(events, mention_times={"10": 1_000, "11": 3_500})
    assert tables.complaints_per_day == {("2024-05-02", "a"): 2, ("2024-05-02", "b"): 1,
                                         ("2024-05-02", "unrouted"): 1}  # fmt: skip
    assert tables.rejections_per_day == {("2024-05-01", "unverified_author"): 1,
                                         ("2024-05-01", "duplicate"): 1}  # fmt: skip
    assert tables.verified_per_day == {"2024-05-02": 3}
    assert tables.unverified_per_day == {"2024-05-01": 1}
    assert tables.multi_agency() == {2: 1, 1: 1, 0: 1}
    [(conversation, thread), *_] = tables.top_threads()
    assert (conversation, thread.posts, thread.agencies) == ("10", {"10", "11"}, {"a", "b"})
    assert thread.first_url.endswith("/status/10")
    assert tables.latencies == {"a": [1.0, 0.5], "b": [2.0]}
    assert tables.dead_letters == 1


def test_latency_summary_gives_percentiles_per_agency() -> None:
    events: list[Routed] = [
        ("complaints.a", str(i), _complaint(str(i), "a"), 1000 * i) for i in range(1, 101)
    ]
    tables = build_tables(events, mention_times={str(i): 0 for i in range(1, 101)})
    [(agency, count, p50, p90, p99, top)] = tables.latency_summary()
    assert (agency, count, top) == ("a", 100, 100.0)
    assert 50 <= p50 <= 51 and 90 <= p90 <= 91 and 99 <= p99 <= 100


def test_events_from_file_reads_routed_lines_and_bare_events() -> None:
    routed = {"topic": "complaints.a", "key": "1", "value": _complaint("1", "a")}
    tombstone = {"topic": "cases", "key": "a:1", "value": None}
    lines = [
        routed,
        tombstone,
        _complaint("2", None),
        {"tweet_id": "3", "reason": "retweet"},
        {"error": "x"},
    ]
    source = io.BytesIO(b"".join(orjson.dumps(line) + b"\n" for line in lines) + b"\n")
    read = [(topic, key) for topic, key, _, _ in events_from_file(source, "events.jsonl")]
    assert read == [
        ("complaints.a", "1"),
        ("cases", "a:1"),
        ("complaints.unrouted", None),
        ("mentions.rejected", None),
        ("mentions.dlq", None),
    ]


def test_events_from_file_refuses_a_case_line_without_its_key() -> None:
    source = io.BytesIO(b'{"topic": "cases", "key": null, "value": null}\n')
    with pytest.raises(AduanError, match=r"events\.jsonl line 1 is not an aduan event"):
        list(events_from_file(source, "events.jsonl"))


NOW = datetime(2024, 5, 10, tzinfo=UTC)


def test_responses_take_each_case_s_last_state_and_summarise_per_agency() -> None:
    events = _cases(
        # a: answered after 5, 0, 9, 2 and 1 working days; the 9 was late
        _case("1", "a", 5, True),
        _case("2", "a", 0, True),
        _case("3", "a", 9, False),
        _case("4", "a", 2, True),
        _case("5", "a", status="open"),
        _case("5", "a", 1, True),  # answered later: the last state counts
        _case("6", "a", status="open"),
        ("a:6", None),  # merged into another case: gone
        # b: 3 days late, 1 on time, one open, one open past its deadline, one overdue
        _case("11", "b", 3, False),
        _case("12", "b", 1, True),
        _case("13", "b", status="open", due_at="2024-05-20T17:00:00.000Z"),
        _case("14", "b", status="open", due_at="2024-05-09T17:00:00.000Z"),
        _case("15", "b", status="overdue"),
        # c: nothing answered yet
        _case("21", "c", status="open", due_at="2024-05-20T17:00:00.000Z"),
        # d: answered after 1 to 10 working days
        *(_case(str(30 + d), "d", d, d <= 5) for d in range(10, 0, -1)),
    )
    assert build_tables(events).responses(NOW) == [
        Responses("a", 5, 5, 4, 0.8, 2.0, 9, 0, 0),
        Responses("b", 5, 2, 1, 0.5, 2.0, 3, 1, 2),
        Responses("c", 1, 0, 0, None, None, None, 1, 0),
        # p90 by nearest rank: the 9th of 10 answers; the median averages the 5th and 6th
        Responses("d", 10, 10, 5, 0.5, 5.5, 9, 0, 0),
    ]


def test_an_open_case_is_overdue_from_its_deadline_on() -> None:
    [case] = _cases(_case("1", "a", status="open", due_at="2024-05-09T17:00:00.000Z"))
    tables = build_tables([case])
    [before] = tables.responses(datetime(2024, 5, 9, 16, 59, 59, tzinfo=UTC))
    [at] = tables.responses(datetime(2024, 5, 9, 17, tzinfo=UTC))
    assert (before.open, before.overdue_now) == (1, 0)
    assert (at.open, at.overdue_now) == (0, 1)


def test_the_response_table_and_chart_are_written(tmp_path: Path) -> None:
    events = _cases(
        _case("1", "a", 4, True),
        _case("2", "a", 7, False),
        _case("3", "c", status="overdue"),
    )
    written = write_report(build_tables(events), tmp_path, "cases", NOW)
    assert tmp_path / "responses.csv" in written and tmp_path / "responses.png" in written
    assert (tmp_path / "responses.csv").read_text().splitlines() == [
        "agency,cases,answered,answered_on_time,share_on_time,median_working_days,"
        "p90_working_days,open,overdue_now",
        "a,2,2,1,0.5,5.5,7,0,0",
        "c,1,0,0,,,,0,1",
    ]
    assert (tmp_path / "responses.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    page = (tmp_path / "index.html").read_text()
    assert "<td>a</td><td>2</td><td>2</td><td>1</td><td>50%</td><td>5.5</td><td>7</td>" in page
    assert "past their deadline at 2024-05-10T00:00:00+00:00" in page


def test_cases_from_kafka_are_the_latest_states_of_those_opened_in_the_window() -> None:
    def record(case: dict[str, Any] | None, key: str) -> tuple[bytes, bytes | None]:
        return key.encode(), None if case is None else orjson.dumps(case)

    early, inside = "2024-04-30T16:59:59.999Z", "2024-04-30T17:00:00.000Z"
    records = [
        record(_case("1", "a", status="open", opened_at=inside), "a:1"),
        record(_case("1", "a", 2, True, opened_at=inside), "a:1"),
        record(_case("2", "a", status="open", opened_at=early), "a:2"),  # before the window
        record(_case("3", "a", status="open", opened_at=inside), "a:3"),
        record(None, "a:3"),
        record(_case("4", "b", status="open", opened_at="2024-05-02T00:00:00.000Z"), "b:4"),
    ]
    window = Window(datetime(2024, 4, 30, 17, tzinfo=UTC), datetime(2024, 5, 2, tzinfo=UTC))
    assert cases_opened_in(records, window) == [
        ("cases", "a:1", _case("1", "a", 2, True, opened_at=inside), None)
    ]


def test_events_from_file_names_the_line_that_is_not_an_event() -> None:
    source = io.BytesIO(b'{"topic": "complaints.a", "key": null, "value": {}}\n{"hello": 1}\n')
    with pytest.raises(AduanError, match=r"events\.jsonl line 2 is not an aduan event"):
        list(events_from_file(source, "events.jsonl"))


@pytest.mark.parametrize("forgotten", [False, True])
def test_events_from_kafka_adds_the_cases_opened_in_the_window_and_skips_forgotten_posts(
    monkeypatch: pytest.MonkeyPatch, forgotten: bool
) -> None:
    inside = _case("1", "a", status="open", opened_at="2024-05-01T00:00:00.000Z")
    complaint = _complaint("1", "a")
    forgotten_one = _complaint("2", "a")
    mention = stream_line(make_post(id="1", conversation_id="900"))
    requests = [forget_request("post", "2", "citizen request", datetime.now(UTC))]
    window = Window(datetime(2024, 5, 1, tzinfo=UTC), datetime(2024, 5, 2, tzinfo=UTC))

    async def read_spans(*_: Any) -> Any:
        records = [
            # Keyed by its conversation: the post id is read from the message.
            SimpleNamespace(topic="mentions.raw", key=b"900", value=mention, timestamp=1_000),
            SimpleNamespace(
                topic="complaints.a", key=b"1", value=orjson.dumps(complaint), timestamp=2_000
            ),
            SimpleNamespace(
                topic="complaints.a", key=b"2", value=orjson.dumps(forgotten_one), timestamp=2_001
            ),
        ]
        yield SimpleNamespace(records=records)

    def read_to_end(_: Any, topic: str) -> tuple[list[Any], dict[int, int]]:
        assert topic == "cases"
        return [SimpleNamespace(key=b"a:1", value=orjson.dumps(inside))], {0: 1}

    monkeypatch.setattr(report, "complaint_topics", lambda _: ["complaints.a"])
    monkeypatch.setattr(report, "find_spans", lambda *_: [])
    monkeypatch.setattr(report, "read_spans", read_spans)
    monkeypatch.setattr(report, "read_to_end", read_to_end)
    recorded = Forgotten(requests if forgotten else [])
    monkeypatch.setattr(report.forget_requests, "forgotten", lambda _: recorded)
    events, mentions = report.events_from_kafka(Settings.from_env({}), window)
    kept = [] if forgotten else [("complaints.a", "2", forgotten_one, 2_001)]
    complaints = [("complaints.a", "1", complaint, 2_000), *kept]
    assert events == [*complaints, ("cases", "a:1", inside, None)]
    assert mentions == {"1": 1_000}


def test_a_withdrawn_complaint_counts_nowhere_in_the_tables() -> None:
    kept = _complaint("1", "a", complaint_id="1")
    withdrawn = _complaint("2", "a", complaint_id="2")
    request = forget_request("post", "2", "citizen request", datetime.now(UTC))
    notice = withdrawal(withdrawn, request, "2024-05-03T00:00:00.000Z")
    tables = build_tables(
        [
            ("complaints.a", "1", kept, None),
            ("complaints.a", "2", withdrawn, None),
            ("complaints.a", "2", notice, None),
        ]
    )
    assert sum(tables.complaints_per_day.values()) == 1
    assert set(tables.agencies_per_post) == {"1"}


def test_a_withdrawal_read_from_a_subscriber_file_is_placed_on_its_agency_topic() -> None:
    request = forget_request("post", "2", "citizen request", datetime.now(UTC))
    notice = withdrawal(_complaint("2", "a", complaint_id="2"), request, "2024-05-03T00:00Z")
    source = io.BytesIO(orjson.dumps(notice) + b"\n")
    assert list(events_from_file(source, "a.jsonl")) == [("complaints.a", None, notice, None)]


def test_report_of_the_routed_sample_writes_charts_tables_and_a_page(tmp_path: Path) -> None:
    routed = tmp_path / "routed.jsonl"
    assert main(["route", "--input", str(SAMPLE), "--output", str(routed)]) == 0
    out = tmp_path / "report"
    assert main(["report", "--from-file", str(routed), "--out", str(out)]) == 0

    with (out / "complaints_per_day.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    routed_complaints = sum(
        1 for line in routed.read_bytes().splitlines() if b'"topic":"complaints.' in line
    )
    assert sum(int(row["complaints"]) for row in rows) == routed_complaints
    cases: dict[str, Any] = {}
    for line in routed.read_bytes().splitlines():
        item = orjson.loads(line)
        if item["topic"] == "cases":
            cases[item["key"]] = item["value"]
    assert cases
    with (out / "responses.csv").open() as handle:
        responses = list(csv.DictReader(handle))
    assert sum(int(row["cases"]) for row in responses) == sum(1 for c in cases.values() if c)
    # every deadline of the sample's 2024 cases has passed by the time the report is made
    assert all(row["open"] == "0" for row in responses)
    charts = ("complaints", "rejections", "verified_share", "agencies_per_complaint", "responses")
    for chart in charts:
        assert (out / f"{chart}.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert not (out / "latency.png").exists()  # a file has no Kafka timestamps
    page = (out / "index.html").read_text()
    assert '<img src="complaints.png"' in page and "Top conversation threads" in page
    assert "Not available: latencies need the Kafka timestamps" in page
    assert "<h2>Answers to cases</h2>" in page


def test_report_refuses_until_without_since(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["report", "--from-file", str(SAMPLE), "--until", "2024-05-02T00:00:00Z",
                 "--out", str(tmp_path)])  # fmt: skip
    assert code == 1
    assert "--until goes with --since" in capsys.readouterr().err
