"""`streams.serve.view`: the SQLite view of cases, their complaints' texts and their service
requests, from records."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from agents.core.forget import forget_request, withdrawal
from streams.serve.open311 import requests_json, service_request
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


def withdrawal_record(offset: int, complaint_id: str) -> Record:
    """The withdrawal of a forgotten complaint of kejati-jateng, as the sweep writes it."""
    complaint = {
        "complaint_id": complaint_id,
        "agency_id": "kejati-jateng",
        "tweet_id": complaint_id,
    }
    request = forget_request("post", complaint_id, "citizen request", datetime.now(UTC))
    notice = withdrawal(complaint, request, "2026-06-04T00:00:00.000Z")
    return Record(
        "complaints.kejati-jateng", 1, offset, complaint_id.encode(), orjson.dumps(notice), T0
    )


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
    apply(
        view,
        complaint_record(0, "10", "jalan rusak"),
        case_record(1),
        case_record(2, case_id="11"),
        withdrawal_record(3, "10"),
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


def served(view: View, names: dict[str, str] | None = None, **where: Any) -> list[Any]:
    """The service requests `where` selects, as `aduan serve` answers them."""
    body = requests_json(view.requests(CaseFilter(**where)), names or {})
    return list(orjson.loads(body))


def test_a_request_gets_its_complaints_text_in_whichever_order_they_come_and_loses_it_withdrawn(
    tmp_path: Path,
) -> None:
    view = View(tmp_path / "view.sqlite")
    notice = withdrawal_record(9, "10")
    apply(view, case_record(0))
    assert [(r["description"], r["media_url"]) for r in served(view)] == [(None, None)]
    apply(view, complaint_record(0, "10", "jalan rusak"))  # after its case, in a later batch
    assert [r["description"] for r in served(view)] == ["jalan rusak"]
    apply(view, case_record(1, status="overdue"), complaint_record(1, "10", "jalan ambles", 1))
    (overdue,) = served(view)
    assert overdue["status_notes"].startswith("Not answered, and overdue since")
    assert overdue["description"] == "jalan ambles"
    apply(view, notice, case_record(2, status="answered"))  # the case is rendered after it
    assert [(r["status"], r["description"], r["media_url"]) for r in served(view)] == [
        ("closed", None, None)
    ]
    apply(view, complaint_record(3, "11", "lampu mati"), case_record(3, case_id="11"), notice)
    assert [(r["service_request_id"], r["description"]) for r in served(view)] == [
        ("kejati-jateng:10", None),
        ("kejati-jateng:11", "lampu mati"),
    ]


def test_a_request_is_the_open311_mapping_of_its_case_named_as_the_registry_names_it_now(
    tmp_path: Path,
) -> None:
    view = View(tmp_path / "view.sqlite")
    apply(view, complaint_record(0, "10", "jalan rusak"), case_record(0))
    (row,) = view.cases(CaseFilter())
    case = orjson.loads(row.state)
    expected = service_request(case, row.text, row.url, "Kejati Jateng", row.updated_at)
    assert served(view, {"kejati-jateng": "Kejati Jateng"}) == [expected]
    renamed = served(view, {"kejati-jateng": "Kejaksaan Tinggi"})
    assert (renamed[0]["service_name"], renamed[0]["agency_responsible"]) == (
        "Kejaksaan Tinggi",
        "Kejaksaan Tinggi",
    )
    assert served(view)[0]["agency_responsible"] == "kejati-jateng"  # the registry lacks it


def test_requests_are_selected_and_ordered_as_cases_are(tmp_path: Path) -> None:
    view = View(tmp_path / "view.sqlite")
    apply(
        view,
        case_record(0, case_id="1", opened_at="2026-06-01T00:00:00.000Z"),
        case_record(1, case_id="2", opened_at="2026-06-02T00:00:00.000Z", status="answered"),
        case_record(2, agency="bpk-jateng", case_id="3", opened_at="2026-06-02T00:00:00.000Z"),
    )
    wheres: list[dict[str, Any]] = [
        {},
        {"agencies": ("kejati-jateng",)},
        {"agencies": ()},
        {"statuses": ("open",)},
        {"keys": ("bpk-jateng:3",)},
        {"limit": 1, "offset": 1},
    ]
    for where in wheres:
        keys = [row.key for row in view.cases(CaseFilter(**where))]
        assert [r["service_request_id"] for r in served(view, **where)] == keys


def test_a_reader_sees_what_was_applied_after_its_last_read(tmp_path: Path) -> None:
    view = View(tmp_path / "view.sqlite")
    apply(view, case_record(0, case_id="1"))
    assert len(served(view)) == 1
    apply(view, case_record(1, case_id="2"))
    assert len(served(view)) == 2


def test_a_case_that_cannot_be_served_keeps_its_last_state_and_one_under_a_foreign_key_is_skipped(
    tmp_path: Path,
) -> None:
    view = View(tmp_path / "view.sqlite")
    broken = {k: v for k, v in make_case().items() if k != "due_at"}
    apply(
        view,
        case_record(0),
        Record("cases", 0, 1, b"kejati-jateng:10", orjson.dumps(broken), T0),
        Record("cases", 0, 2, b"kejati-jateng:99", orjson.dumps(make_case()), T0),
    )
    assert [r["updated_datetime"] for r in served(view)] == ["2026-05-28T20:26:40.000Z"]
    assert view.positions() == {("cases", 0): 3}


def test_a_view_of_an_older_layout_is_built_again_from_the_start(tmp_path: Path) -> None:
    path = tmp_path / "view.sqlite"
    with closing(sqlite3.connect(path)) as db, db:
        db.execute("CREATE TABLE cases (key TEXT PRIMARY KEY, state BLOB NOT NULL)")
        db.execute("CREATE TABLE positions (topic TEXT, partition INTEGER, next_offset INTEGER)")
        db.execute("INSERT INTO positions VALUES ('cases', 0, 7)")
    view = View(path)
    assert view.positions() == {}
    apply(view, case_record(0))
    assert view.count() == 1
    assert View(path).positions() == {("cases", 0): 1}


def test_a_revision_read_after_the_withdrawal_does_not_bring_the_text_back(
    tmp_path: Path,
) -> None:
    view = View(tmp_path / "view.sqlite")
    apply(
        view, case_record(0), complaint_record(1, "10", "jalan rusak"), withdrawal_record(2, "10")
    )
    # Across batches, and within one: a later revision routed before the worker forgot it.
    apply(view, complaint_record(3, "10", "jalan rusak, revisi", revision=1))
    apply(
        view,
        withdrawal_record(4, "11"),
        complaint_record(5, "11", "lampu mati", revision=2),
        case_record(6, case_id="11"),
    )
    for key in ("kejati-jateng:10", "kejati-jateng:11"):
        row = view.case(key)
        assert row is not None and (row.text, row.url) == (None, None)
        (request_json,) = view.requests(CaseFilter(keys=(key,)))
        assert b"jalan rusak" not in request_json[1] and b"lampu mati" not in request_json[1]


def test_clear_empties_the_view_and_its_offsets_and_deleted_texts_are_overwritten(
    tmp_path: Path,
) -> None:
    view = View(tmp_path / "view.sqlite")
    apply(view, case_record(0), complaint_record(1, "10", "jalan rusak"))
    with closing(view.writer()) as db:
        assert db.execute("PRAGMA secure_delete").fetchone() == (1,)
        view.clear(db)
    assert (view.count(), view.positions(), view.case("kejati-jateng:10")) == (0, {}, None)
