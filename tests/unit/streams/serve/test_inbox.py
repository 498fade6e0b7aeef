"""`streams.serve.inbox`: the web inbox over a view, through FastAPI's test client (no broker)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, date, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx2
import orjson
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from agents.core.workdays import WorkCalendar
from schemas.events import CaseStatus
from streams.serve.app import Served, create_app
from streams.serve.inbox import COOKIE
from streams.serve.inbox_rows import inbox_case, working_days_left, working_days_overdue
from streams.serve.keys import Keyring, key_record, new_key, record_key
from streams.serve.view import Record, View
from tests.unit.agents.factories import build_registry, make_case

REGISTRY = build_registry()
NOW = datetime(2026, 6, 4, 3, 0, tzinfo=UTC)
"""Thursday 4 June 2026, 10:00 WIB."""
CALENDAR = WorkCalendar()
"""The holiday library's: Wednesday 27 and Thursday 28 May and Monday 1 June 2026 are off."""

DASH = "\N{EN DASH}"
"""What a page shows for a figure that has no value yet."""
PUNGLI = (
    "@KejatiJateng mohon tindak lanjut laporan dugaan pungli di layanan SIM Semarang, sudah dua "
    "minggu belum ada kabar"
)
DANA_DESA = "@KejatiJateng laporan saya soal penyimpangan dana desa di Kab. Demak belum dijawab"
AUDIT = "@BPKJateng kapan hasil audit pengadaan alat kesehatan RSUD Tugurejo diumumkan?"
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)> & "quotes"'

# (agency, case id, status, opened at, working days to answer, answered on time, text)
CASES: list[tuple[str, str, CaseStatus, str, int | None, bool | None, str | None]] = [
    ("kejati-jateng", "11", "open", "2026-06-02T02:00:00.000Z", None, None, PUNGLI),
    ("kejati-jateng", "12", "overdue", "2026-05-21T02:00:00.000Z", None, None, DANA_DESA),
    (
        "kejati-jateng",
        "13",
        "answered",
        "2026-05-25T02:00:00.000Z",
        1,
        True,
        "@KejatiJateng terima kasih, laporan sudah diterima",
    ),
    ("kejati-jateng", "14", "open", "2026-06-03T02:00:00.000Z", None, None, HOSTILE),
    ("kejati-jateng", "15", "open", "2026-06-02T05:00:00.000Z", None, None, None),
    (
        "kejati-jateng",
        "16",
        "answered",
        "2026-04-01T02:00:00.000Z",
        7,
        False,
        "@KejatiJateng mohon info jadwal sidang kasus korupsi bansos",
    ),
    (
        "pt-semarang",
        "30",
        "answered",
        "2026-01-05T02:00:00.000Z",
        9,
        False,
        "@PT_Semarang putusan banding perkara saya kapan diunggah?",
    ),
    (
        "pt-semarang",
        "31",
        "answered",
        "2026-05-04T02:00:00.000Z",
        2,
        True,
        "@PT_Semarang salinan putusan belum bisa diunduh di SIPP",
    ),
    (
        "pt-semarang",
        "32",
        "answered",
        "2026-05-05T02:00:00.000Z",
        3,
        True,
        "@PT_Semarang antrean PTSP hari ini sangat panjang",
    ),
    (
        "pt-semarang",
        "33",
        "answered",
        "2026-05-06T02:00:00.000Z",
        6,
        False,
        "@PT_Semarang e-court error sejak pagi",
    ),
    ("bpk-jateng", "21", "open", "2026-06-03T03:00:00.000Z", None, None, AUDIT),
    (
        "bpk-jateng",
        "22",
        "answered",
        "2026-05-12T02:00:00.000Z",
        0,
        True,
        "@BPKJateng LHP pemda tahun lalu bisa diakses di mana?",
    ),
]
"""Case 30 was opened more than 90 days before `NOW`: the overview leaves it out. Case 15's
complaint was forgotten: the view has no text for it. Case 14's link is not X's."""


def inbox_records() -> list[Record]:
    """The records of `CASES`, as the view reads them from `cases` and the complaint topics."""
    records = []
    for offset, (agency, case_id, status, opened, days, on_time, text) in enumerate(CASES):
        opened_at = datetime.fromisoformat(opened)
        due = CALENDAR.due_at(opened_at, 5).isoformat(timespec="milliseconds")
        answered = {
            "first_answer_at": opened,
            "working_days_to_answer": days,
            "answered_on_time": on_time,
            "answers": 1,
        }
        case = make_case(
            status,
            agency,
            case_id=case_id,
            opened_at=opened,
            due_at=due.replace("+00:00", "Z"),
            **(answered if status == "answered" else {}),
        )
        key = f"{agency}:{case_id}".encode()
        records.append(Record("cases", 0, offset, key, orjson.dumps(case), 1_780_000_000_000))
        if text is not None:
            url = (
                "javascript:alert(1)"
                if case_id == "14"
                else f"https://x.com/warga/status/{case_id}"
            )
            complaint = {
                "complaint_id": case_id,
                "agency_id": agency,
                "revision": 0,
                "text": text,
                "url": url,
            }
            topic = f"complaints.{agency}"
            records.append(Record(topic, 0, offset, key, orjson.dumps(complaint), 0))
    return records


class Ready:
    ready = True


def inbox_app(
    view: View, keyring: Keyring, clock: datetime = NOW, calendar: WorkCalendar = CALENDAR
) -> FastAPI:
    served = Served(
        view, Ready(), keyring, lambda: REGISTRY, lambda: clock, CollectorRegistry(), calendar
    )
    return create_app(served)


def add_key(keyring: Keyring, agency: str | None) -> str:
    key_id, key = new_key()
    keyring.add(key_record(agency, key_id, key, NOW))
    return key


class Rows(HTMLParser):
    """The cells' texts of the table rows that carry `data-<name>`, by its value."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.attribute = f"data-{name}"
        self.rows: dict[str, list[str]] = {}
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "tr" and values.get(self.attribute):
            self._row = self.rows.setdefault(str(values[self.attribute]), [])
        elif tag == "td" and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._row is not None and self._cell is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr":
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def flat(html: str) -> str:
    """`html` with every run of white space as one space."""
    return " ".join(html.split())


def rows(html: str, name: str) -> dict[str, list[str]]:
    parser = Rows(name)
    parser.feed(html)
    return parser.rows


@pytest.fixture
def keyring() -> Keyring:
    return Keyring()


@pytest.fixture
def view(tmp_path: Path) -> View:
    view = View(tmp_path / "view.sqlite")
    with closing(view.writer()) as db:
        view.apply(db, inbox_records())
    return view


@pytest.fixture
def client(view: View, keyring: Keyring) -> Iterator[TestClient]:
    with TestClient(inbox_app(view, keyring), raise_server_exceptions=False) as test_client:
        yield test_client


def sign_in(client: TestClient, key: str) -> httpx2.Response:
    return client.post("/inbox/sign-in", data={"key": key}, follow_redirects=False)


def test_without_a_cookie_the_inbox_is_a_form_to_paste_a_key(client: TestClient) -> None:
    page = client.get("/inbox")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<form method="post" action="/inbox/sign-in">' in page.text
    assert '<input type="password" id="key" name="key"' in page.text
    assert "Sign out" not in page.text
    assert "<script" not in page.text


def test_signing_in_keeps_the_key_in_a_strict_http_only_cookie(
    client: TestClient, keyring: Keyring
) -> None:
    key = add_key(keyring, "kejati-jateng")
    signed = sign_in(client, key)
    assert (signed.status_code, signed.headers["location"]) == (303, "/inbox")
    cookie = signed.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}={key};")
    assert {"HttpOnly", "Path=/inbox", "SameSite=strict"} <= {p.strip() for p in cookie.split(";")}
    assert "Secure" not in cookie  # plain http: a Secure cookie would never come back
    page = client.get("/inbox")
    assert page.status_code == 200
    assert "<h1>Kejaksaan Tinggi Jawa Tengah</h1>" in page.text
    assert page.headers["cache-control"] == "no-store"


def test_over_https_the_cookie_is_secure(view: View, keyring: Keyring) -> None:
    key = add_key(keyring, "kejati-jateng")
    with TestClient(inbox_app(view, keyring), base_url="https://inbox.example") as client:
        cookie = sign_in(client, key).headers["set-cookie"]
        assert "Secure" in {p.strip() for p in cookie.split(";")}
        signed_out = client.post("/inbox/sign-out", follow_redirects=False)
        assert "Secure" in {p.strip() for p in signed_out.headers["set-cookie"].split(";")}


def test_an_agency_sees_its_unanswered_cases_the_earliest_due_first(
    client: TestClient, keyring: Keyring
) -> None:
    sign_in(client, add_key(keyring, "kejati-jateng"))
    page = client.get("/inbox").text
    assert "4 unanswered cases, 1 of them overdue, as of Thu 4 Jun 2026, 10:00 WIB" in flat(page)
    forgotten = "The text is forgotten (the post was deleted, or its author asked)."
    assert rows(page, "case") == {
        # key, opened (WIB), the last day to answer, working days, complaint and link
        "kejati-jateng:12": [
            "kejati-jateng:12",
            "Thu 21 May 2026, 09:00 WIB",
            "Tue 2 Jun 2026",
            "overdue by 2",
            f"{DANA_DESA} the post on X",
        ],
        "kejati-jateng:11": [
            "kejati-jateng:11",
            "Tue 2 Jun 2026, 09:00 WIB",
            "Tue 9 Jun 2026",
            "3 left",
            f"{PUNGLI} the post on X",
        ],
        "kejati-jateng:15": [
            "kejati-jateng:15",
            "Tue 2 Jun 2026, 12:00 WIB",
            "Tue 9 Jun 2026",
            "3 left",
            forgotten,
        ],
        "kejati-jateng:14": [
            "kejati-jateng:14",
            "Wed 3 Jun 2026, 09:00 WIB",
            "Wed 10 Jun 2026",
            "4 left",
            " ".join(HOSTILE.split()),
        ],
    }
    assert list(rows(page, "case")) == [
        "kejati-jateng:12",
        "kejati-jateng:11",
        "kejati-jateng:15",
        "kejati-jateng:14",
    ]
    assert '<a href="https://x.com/warga/status/12" rel="noopener noreferrer">' in page


def test_a_key_for_one_agency_never_shows_another_s_cases(
    client: TestClient, keyring: Keyring
) -> None:
    sign_in(client, add_key(keyring, "kejati-jateng"))
    kejati = client.get("/inbox").text
    assert AUDIT not in kejati
    assert "bpk-jateng" not in kejati
    assert "Province overview" not in kejati
    sign_in(client, add_key(keyring, "bpk-jateng"))
    bpk = client.get("/inbox").text
    assert list(rows(bpk, "case")) == ["bpk-jateng:21"]
    assert "kejati-jateng" not in bpk
    assert PUNGLI not in bpk


def test_a_hostile_complaint_text_is_escaped_and_a_link_other_than_https_is_dropped(
    client: TestClient, keyring: Keyring
) -> None:
    sign_in(client, add_key(keyring, "kejati-jateng"))
    page = client.get("/inbox")
    escaped = (
        "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt; "
        "&amp; &#34;quotes&#34;"
    )
    assert escaped in page.text
    assert "<script" not in page.text
    assert "<img" not in page.text
    assert "javascript:" not in page.text
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "script-src" not in policy


@pytest.mark.parametrize(
    "content_type", ["application/x-www-form-urlencoded", "text/plain", "multipart/form-data"]
)
def test_a_bad_key_shows_the_form_again_with_401_and_says_nothing_of_any_agency(
    client: TestClient, keyring: Keyring, content_type: str
) -> None:
    revoked_id, revoked = new_key()
    keyring.add(key_record("kejati-jateng", revoked_id, revoked, NOW))
    keyring.remove(record_key("kejati-jateng", revoked_id))
    unlisted = add_key(keyring, "dishub-jateng")  # an agency the registry no longer lists
    bad_keys = ["", "   ", "not a key", "aduan_0123456789abcdef_" + "A" * 43, revoked, unlisted]
    pages = []
    for key in bad_keys:
        page = client.post(
            "/inbox/sign-in", content=f"key={key}", headers={"content-type": content_type}
        )
        assert page.status_code == 401
        assert "set-cookie" not in page.headers
        pages.append(page.text)
    assert len(set(pages)) == 1  # the same page, whatever the key was
    assert "That key is not valid." in pages[0]
    assert '<form method="post" action="/inbox/sign-in">' in pages[0]
    for agency in [*REGISTRY.agency_ids, "dishub-jateng", "Kejaksaan"]:
        assert agency not in pages[0]
    assert client.get("/inbox").status_code == 200  # no cookie: the form, no error


def test_signing_out_clears_the_cookie(client: TestClient, keyring: Keyring) -> None:
    sign_in(client, add_key(keyring, "kejati-jateng"))
    signed_out = client.post("/inbox/sign-out", follow_redirects=False)
    assert (signed_out.status_code, signed_out.headers["location"]) == (303, "/inbox")
    cookie = signed_out.headers["set-cookie"]
    assert cookie.startswith(f'{COOKIE}="";')
    assert "Max-Age=0" in cookie
    assert "Path=/inbox" in cookie
    page = client.get("/inbox")
    assert (page.status_code, "Sign in" in page.text) == (200, True)
    assert PUNGLI not in page.text


def test_a_revoked_key_is_signed_out_at_the_next_page(client: TestClient, keyring: Keyring) -> None:
    key_id, key = new_key()
    keyring.add(key_record("kejati-jateng", key_id, key, NOW))
    sign_in(client, key)
    keyring.remove(record_key("kejati-jateng", key_id))
    page = client.get("/inbox")
    assert page.status_code == 401
    assert "no longer valid" in page.text
    assert PUNGLI not in page.text
    assert "Max-Age=0" in page.headers["set-cookie"]


def test_the_admin_overview_ranks_agencies_by_share_answered_on_time(
    client: TestClient, keyring: Keyring
) -> None:
    sign_in(client, add_key(keyring, None))
    page = client.get("/inbox").text
    assert "<h1>Province overview</h1>" in page
    assert "opened in the last 90 days, as of Thu 4 Jun 2026, 10:00 WIB" in flat(page)
    standings = rows(page, "agency")
    # rank, name, cases, answered, on time, share, open, overdue, median working days. Case 30 of
    # pt-semarang, answered late, is older than 90 days: with it the share would be 50%. Kejati's
    # overdue case counts as one answered late: 1 on time of 2 answered and 1 overdue.
    assert standings == {
        "bpk-jateng": ["1", "BPK Perwakilan Jawa Tengah", "2", "1", "1", "100%", "1", "0", "0"],
        "pt-semarang": ["2", "Pengadilan Tinggi Semarang", "3", "3", "2", "67%", "0", "0", "3"],
        "kejati-jateng": ["3", "Kejaksaan Tinggi Jawa Tengah", "6", "2", "1", "33%", "3", "1", "4"],
        "pemprov-jateng": [
            DASH,
            "Pemerintah Provinsi Jawa Tengah",
            "0",
            "0",
            "0",
            DASH,
            "0",
            "0",
            DASH,
        ],
    }
    assert list(standings) == ["bpk-jateng", "pt-semarang", "kejati-jateng", "pemprov-jateng"]


def test_the_calendar_the_app_was_given_counts_the_working_days(
    view: View, keyring: Keyring
) -> None:
    app = inbox_app(view, keyring, calendar=WorkCalendar(days_off=frozenset({date(2026, 6, 8)})))
    with TestClient(app) as client:
        sign_in(client, add_key(keyring, "kejati-jateng"))
        cases = rows(client.get("/inbox").text, "case")
    assert cases["kejati-jateng:11"][3] == "2 left"  # Friday 5 and Tuesday 9 June


@pytest.mark.parametrize(
    ("now", "overdue", "days"),
    [
        ("2026-06-02T03:00:00+00:00", False, 5),  # the day it was opened
        ("2026-06-05T16:59:59+00:00", False, 2),  # Friday 23:59 WIB: Monday and Tuesday left
        ("2026-06-06T03:00:00+00:00", False, 2),  # Saturday: still Monday and Tuesday
        ("2026-06-09T16:59:59+00:00", False, 0),  # the last day, 23:59 WIB
        ("2026-06-09T17:00:00+00:00", True, 1),  # due: Wednesday 00:00 WIB is a working day
        ("2026-06-13T03:00:00+00:00", True, 3),  # Saturday: Wednesday to Friday passed
        ("2026-06-17T03:00:00+00:00", True, 5),  # Tuesday 16 June was a holiday
    ],
)
def test_working_days_left_and_overdue_with_a_fixed_clock(
    now: str, overdue: bool, days: int
) -> None:
    case = make_case(
        "open", opened_at="2026-06-02T02:00:00.000Z", due_at="2026-06-09T17:00:00.000Z"
    )
    moment = datetime.fromisoformat(now)
    shown = inbox_case("kejati-jateng:10", case, "t", None, now=moment, calendar=CALENDAR)
    assert (shown.overdue, shown.working_days) == (overdue, days)
    due = datetime.fromisoformat(case["due_at"])
    counted = working_days_overdue if overdue else working_days_left
    assert counted(due, moment, CALENDAR) == days


def test_a_case_past_its_deadline_is_overdue_before_the_worker_says_so(
    view: View, keyring: Keyring
) -> None:
    later = datetime(2026, 6, 10, 3, 0, tzinfo=UTC)  # Wednesday: case 11 was due at 00:00 WIB
    with TestClient(inbox_app(view, keyring, later)) as client_later:
        sign_in(client_later, add_key(keyring, "kejati-jateng"))
        page = client_later.get("/inbox").text
    assert rows(page, "case")["kejati-jateng:11"][3] == "overdue by 1"
    assert "4 unanswered cases, 3 of them overdue" in flat(page)


def test_inbox_pages_are_not_in_the_openapi_document(client: TestClient) -> None:
    paths: dict[str, Any] = client.get("/openapi.json").json()["paths"]
    assert not [path for path in paths if path.startswith("/inbox")]


@pytest.mark.parametrize(
    "headers",
    [{"Sec-Fetch-Site": "cross-site"}, {"Origin": "https://elsewhere.example"}],
)
def test_a_form_posted_from_another_site_neither_signs_in_nor_out(
    client: TestClient, keyring: Keyring, headers: dict[str, str]
) -> None:
    key = add_key(keyring, "kejati-jateng")
    posted = client.post(
        "/inbox/sign-in", data={"key": key}, headers=headers, follow_redirects=False
    )
    assert posted.status_code == 403
    assert "set-cookie" not in posted.headers
    sign_in(client, key)
    out = client.post("/inbox/sign-out", headers=headers, follow_redirects=False)
    assert (out.status_code, "set-cookie" in out.headers) == (403, False)
    same = {"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"}
    assert client.post("/inbox/sign-out", headers=same, follow_redirects=False).status_code == 303


def test_a_form_with_more_fields_than_the_inbox_asks_for_is_a_bad_key(client: TestClient) -> None:
    posted = client.post("/inbox/sign-in", data={f"f{n}": "x" for n in range(6)})
    assert posted.status_code == 401
