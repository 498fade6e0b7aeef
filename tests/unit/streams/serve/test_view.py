"""`streams.serve.view`: the SQLite view of cases and their complaints' texts, from records."""

from __future__ import annotations

from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from agents.core.forget import forget_request, withdrawal
from streams.serve.view import CaseFilter, Record, View, is_view_topic
from tests.unit.agents.factories import make_case

T0 = 1_780_000_000_000


def case_record(offset: int, agency: str = "kejati-jateng", **fields: Any) -> Record:
    case = make_case(agency=agency, **fields)
    key = f"{agency}:{case['case_id']}".encode()
    return Record("cases", 0, offset, key, orjson.dumps(case), T0 + offset)


def complaint_record(
    offset: int, complaint_id: str, text: str, revision: int = 0, agency: str = "kejati-jateng"
) -> Record:
    event = {
        "complaint_id": complaint_id,
        "agency_id": agency,
        "revision": revision,
        "text": text,
        "url": f"https://x.com/warga/status/{complaint_id}",
    }
    return Record(f"complaints.{agency}", 1, offset, complaint_id.encode(), orjson.dumps(event), T0)


def apply(view: View, *records: Record) -> None:
    with closing(view.writer()) as db:
        view.apply(db, records)


def test_a_case_is_served_with_its_complaints_latest_text_and_the_time_it_last_changed(
    tmp_path: Path,
) -> None:
    view = View(tmp_path / "view.sqlite")
    apply(
        view,
        complaint_record(0, "10", "jalan rusak", revision=1),
        complaint_record(1, "10", "jalan rusak parah", revision=0),  # an older revision, late
        case_record(5),
        case_record(6, status="answered", first_answer_at="2026-06-03T02:00:00.000Z"),
    )
    row = view.case("kejati-jateng:10")
    assert row is not None
    assert orjson.loads(row.state)["status"] == "answered"
    assert (row.text, row.url) == ("jalan rusak", "https://x.com/warga/status/10")
    assert row.updated_at == "2026-05-28T20:26:40.006Z"
    assert view.positions() == {("complaints.kejati-jateng", 1): 2, ("cases", 0): 7}


def test_a_withdrawn_complaint_leaves_its_case_without_text_and_a_tombstone_ends_a_case(
    tmp_path: Path,
) -> None:
    view = View(tmp_path / "view.sqlite")
    complaint = {"complaint_id": "10", "agency_id": "kejati-jateng", "tweet_id": "10"}
    request = forget_request("post", "10", "citizen request", datetime.now(UTC))
    notice = withdrawal(complaint, request, "2026-06-04T00:00:00.000Z")
    apply(
        view,
        complaint_record(0, "10", "jalan rusak"),
        case_record(1),
        case_record(2, case_id="11"),
        Record("complaints.kejati-jateng", 1, 3, b"10", orjson.dumps(notice), T0),
        Record("cases", 0, 4, b"kejati-jateng:11", None, T0),
    )
    row = view.case("kejati-jateng:10")
    assert row is not None and (row.text, row.url) == (None, None)
    assert view.case("kejati-jateng:11") is None
    assert view.count() == 1


def test_cases_are_filtered_by_agency_key_status_and_opening_time_newest_first(
    tmp_path: Path,
) -> None:
    view = View(tmp_path / "view.sqlite")
    apply(
        view,
        case_record(0, case_id="1", opened_at="2026-06-01T00:00:00.000Z"),
        case_record(1, case_id="2", opened_at="2026-06-02T00:00:00.000Z", status="overdue"),
        case_record(2, case_id="3", opened_at="2026-06-03T00:00:00.000Z", status="answered"),
        case_record(3, agency="bpk-jateng", case_id="4", opened_at="2026-06-02T00:00:00.000Z"),
    )

    def keys(**where: Any) -> list[str]:
        return [row.key for row in view.cases(CaseFilter(**where))]

    assert keys() == ["kejati-jateng:3", "bpk-jateng:4", "kejati-jateng:2", "kejati-jateng:1"]
    assert keys(agencies=("bpk-jateng",)) == ["bpk-jateng:4"]
    assert keys(agencies=()) == []
    assert keys(statuses=("open", "overdue"), agencies=("kejati-jateng",)) == [
        "kejati-jateng:2",
        "kejati-jateng:1",
    ]
    assert keys(keys=("kejati-jateng:1", "bpk-jateng:4"), agencies=("kejati-jateng",)) == [
        "kejati-jateng:1"
    ]
    day = {"opened_from": "2026-06-02T00:00:00.000Z", "opened_to": "2026-06-02T23:59:59.999Z"}
    assert keys(**day) == ["bpk-jateng:4", "kejati-jateng:2"]
    assert keys(opened_to="2026-06-02T00:00:00.000Z", statuses=("open",)) == [
        "bpk-jateng:4",
        "kejati-jateng:1",
    ]
    assert keys(limit=1) == ["kejati-jateng:3"]
    assert keys(limit=2, offset=1) == ["bpk-jateng:4", "kejati-jateng:2"]


def test_records_that_are_not_aduans_are_skipped_but_their_offsets_are_taken(
    tmp_path: Path,
) -> None:
    view = View(tmp_path / "view.sqlite")
    apply(
        view,
        Record("cases", 0, 0, b"x:1", b"not json", T0),
        Record("cases", 0, 1, None, b"{}", T0),
        Record("complaints.kejati-jateng", 0, 0, b"1", b'{"complaint_id": "1"}', T0),
    )
    assert view.count() == 0
    assert view.positions() == {("cases", 0): 2, ("complaints.kejati-jateng", 0): 1}


def test_the_view_is_built_from_cases_and_the_agencies_complaint_topics_only() -> None:
    assert is_view_topic("cases")
    assert is_view_topic("complaints.kejati-jateng")
    assert not is_view_topic("complaints.unrouted")
    assert not is_view_topic("mentions.raw")
    assert not is_view_topic("replay-1.complaints.kejati-jateng")
