"""How the view takes in a batch of records: each case written, and its Open311 service request
rendered, once per batch, whatever order the case and its complaint arrive in."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NamedTuple

import orjson

from schemas.events import Case
from streams.serve.open311 import unnamed_request

if TYPE_CHECKING:
    from streams.serve.view import Record

_SELECT_STALE = (
    "SELECT c.key, c.state, c.updated_at, m.text, m.url FROM cases c LEFT JOIN complaints m "
    "ON m.agency_id = c.agency_id AND m.complaint_id = c.case_id "
    "WHERE c.key IN (SELECT value FROM json_each(?))"
)


class _Taken(NamedTuple):
    """A case state taken from `cases`, to be written at the end of its batch."""

    case: Case
    agency_id: str
    case_id: str
    status: str
    opened_at: str
    updated_at: str
    state: bytes
    request: bytes


class Batch:
    """The records of one `apply`, with the outcome of applying them one by one in order, but
    each case written, and its service request rendered, once: a complaint's text is written as
    it comes, and a case rendered with the text in the view then, and rendered again at the end
    if a complaint of it changed after."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self.cases: dict[str, _Taken | None] = {}
        """The last state of each case in the batch; None: ended."""
        self.stale: set[str] = set()
        """Cases whose complaint changed after they were last rendered."""

    def case(self, record: Record) -> None:
        if record.key is None:
            return
        key = record.key.decode(errors="replace")
        if record.value is None:
            self.cases[key] = None  # merged into another case
            self.stale.discard(key)
            return
        try:
            case = orjson.loads(record.value)
            agency, case_id = str(case["agency_id"]), str(case["case_id"])
            if key != f"{agency}:{case_id}":
                return  # a complaint finds its case by the key aduan gives it
            updated = _iso(record.timestamp)
            text, url = self._text(agency, case_id)
            request = unnamed_request(case, text, url, updated)
            taken = _Taken(
                case,
                agency,
                case_id,
                str(case["status"]),
                str(case["opened_at"]),
                updated,
                record.value,
                request,
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            return  # not a case aduan wrote: nothing to serve
        self.cases[key] = taken
        self.stale.discard(key)

    def complaint(self, record: Record) -> None:
        try:
            event = orjson.loads(record.value or b"null")
            agency, complaint = str(event["agency_id"]), str(event["complaint_id"])
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return
        if "withdrawn_at" in event:
            # Forgotten: the case keeps its clock, and the view no longer has its text, nor takes
            # it again from a revision that comes after.
            self.db.execute("INSERT OR IGNORE INTO withdrawn VALUES (?, ?)", (agency, complaint))
            changed = self.db.execute(
                "DELETE FROM complaints WHERE agency_id = ? AND complaint_id = ?",
                (agency, complaint),
            )
        else:
            try:
                row = (
                    agency,
                    complaint,
                    int(event["revision"]),
                    str(event["text"]),
                    str(event["url"]),
                )
            except (KeyError, TypeError, ValueError):
                return
            changed = self.db.execute(
                "INSERT INTO complaints SELECT ?, ?, ?, ?, ? WHERE NOT EXISTS "
                "(SELECT 1 FROM withdrawn WHERE agency_id = ?1 AND complaint_id = ?2) "
                "ON CONFLICT (agency_id, complaint_id) DO UPDATE SET "
                "revision = excluded.revision, text = excluded.text, url = excluded.url "
                "WHERE excluded.revision >= complaints.revision",
                row,
            )
        if changed.rowcount > 0:
            self.stale.add(f"{agency}:{complaint}")

    def write(self) -> None:
        """Write the batch's cases, and render again those whose complaint changed after."""
        db = self.db
        for key in self.stale:
            taken = self.cases.get(key)
            if taken is not None:
                text, url = self._text(taken.agency_id, taken.case_id)
                request = unnamed_request(taken.case, text, url, taken.updated_at)
                self.cases[key] = taken._replace(request=request)
        db.executemany(
            "DELETE FROM cases WHERE key = ?",
            [(key,) for key, taken in self.cases.items() if taken is None],
        )
        db.executemany(
            "INSERT INTO cases VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET "
            "agency_id = excluded.agency_id, case_id = excluded.case_id, "
            "status = excluded.status, opened_at = excluded.opened_at, "
            "updated_at = excluded.updated_at, state = excluded.state, "
            "request = excluded.request",
            [(key, *taken[1:]) for key, taken in self.cases.items() if taken is not None],
        )
        # The cases of the complaints that changed, read at once: most have none yet.
        keys = orjson.dumps(list(self.stale - self.cases.keys())).decode()
        renders = []
        for key, state, updated, text, url in db.execute(_SELECT_STALE, (keys,)):
            case: Any = orjson.loads(state)
            renders.append((unnamed_request(case, text, url, updated), key))
        db.executemany("UPDATE cases SET request = ? WHERE key = ?", renders)

    def _text(self, agency: str, complaint: str) -> tuple[str | None, str | None]:
        found = self.db.execute(
            "SELECT text, url FROM complaints WHERE agency_id = ? AND complaint_id = ?",
            (agency, complaint),
        ).fetchone()
        return (None, None) if found is None else (str(found[0]), str(found[1]))


def _iso(milliseconds: int) -> str:
    moment = datetime.fromtimestamp(milliseconds / 1000, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
