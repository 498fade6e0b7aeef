"""`aduan report` without a broker: its tables, and the files it writes from a file of events."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import orjson
import pytest

from agents.core.errors import AduanError
from streams.cli import main
from streams.history.report import events_from_file
from streams.history.report_tables import build_tables, post_day

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


def test_a_post_day_is_its_created_at_date_else_the_date_in_its_snowflake_id() -> None:
    assert post_day("1", "2024-05-02T23:59:59.000Z") == "2024-05-02"
    # 1785459115422658617 was made at 2024-05-01T00:00:00Z (X ids carry their creation time)
    assert post_day("1785459115422658617") == "2024-05-01"
    assert post_day("not-a-number") == "unknown"


def test_tables_count_each_event_once_and_group_threads_and_agencies() -> None:
    events = [
        ("complaints.a", _complaint("10", "a"), 2_000),
        ("complaints.a", _complaint("10", "a"), 2_500),  # redelivered: same event_id
        ("complaints.b", _complaint("10", "b"), 3_000),
        ("complaints.a", _complaint("11", "a", conversation_id="10"), 4_000),
        ("complaints.unrouted", _complaint("12", None), None),
        (
            "mentions.rejected",
            {"tweet_id": "1785459115422658617", "reason": "unverified_author"},
            1,
        ),
        ("mentions.rejected", {"tweet_id": "1785459115422658617", "reason": "duplicate"}, 1),
        ("mentions.dlq", {"error": "not valid JSON"}, None),
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
    events = [("complaints.a", _complaint(str(i), "a"), 1000 * i) for i in range(1, 101)]
    tables = build_tables(events, mention_times={str(i): 0 for i in range(1, 101)})
    [(agency, count, p50, p90, p99, top)] = tables.latency_summary()
    assert (agency, count, top) == ("a", 100, 100.0)
    assert 50 <= p50 <= 51 and 90 <= p90 <= 91 and 99 <= p99 <= 100


def test_events_from_file_reads_routed_lines_and_bare_events() -> None:
    routed = {"topic": "complaints.a", "key": "1", "value": _complaint("1", "a")}
    lines = [routed, _complaint("2", None), {"tweet_id": "3", "reason": "retweet"}, {"error": "x"}]
    source = io.BytesIO(b"".join(orjson.dumps(line) + b"\n" for line in lines) + b"\n")
    topics = [topic for topic, _, _ in events_from_file(source, "events.jsonl")]
    assert topics == ["complaints.a", "complaints.unrouted", "mentions.rejected", "mentions.dlq"]


def test_events_from_file_names_the_line_that_is_not_an_event() -> None:
    source = io.BytesIO(b'{"topic": "complaints.a", "key": null, "value": {}}\n{"hello": 1}\n')
    with pytest.raises(AduanError, match=r"events\.jsonl line 2 is not an aduan event"):
        list(events_from_file(source, "events.jsonl"))


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
    for chart in ("complaints", "rejections", "verified_share", "agencies_per_complaint"):
        assert (out / f"{chart}.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert not (out / "latency.png").exists()  # a file has no Kafka timestamps
    page = (out / "index.html").read_text()
    assert '<img src="complaints.png"' in page and "Top conversation threads" in page
    assert "Not available: latencies need the Kafka timestamps" in page


def test_report_refuses_until_without_since(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["report", "--from-file", str(SAMPLE), "--until", "2024-05-02T00:00:00Z",
                 "--out", str(tmp_path)])  # fmt: skip
    assert code == 1
    assert "--until goes with --since" in capsys.readouterr().err
