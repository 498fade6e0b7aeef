"""The view `aduan serve` answers from: each case's latest state and the text of the complaint that
opened it, in an embedded SQLite database built from the topics, with the offsets it was built up
to. Every instance keeps a view of its own, as Kafka Streams' interactive queries do: more load,
more instances, and no database server (docs/decisions/0034-serve-from-a-sqlite-view.md)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

import orjson

from schemas.topics import CASES_TOPIC, COMPLAINT_TOPIC_PREFIX, UNROUTED_TOPIC

_SCHEMA = """
PRAGMA journal_mode = WAL;
CREATE TABLE IF NOT EXISTS cases (
    key TEXT PRIMARY KEY,
    agency_id TEXT NOT NULL,
    case_id TEXT NOT NULL,
    status TEXT NOT NULL,
    opened_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    state BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS cases_by_agency ON cases (agency_id, opened_at);
CREATE INDEX IF NOT EXISTS cases_by_time ON cases (opened_at);
CREATE TABLE IF NOT EXISTS complaints (
    agency_id TEXT NOT NULL,
    complaint_id TEXT NOT NULL,
    revision INTEGER NOT NULL,
    text TEXT NOT NULL,
    url TEXT NOT NULL,
    PRIMARY KEY (agency_id, complaint_id)
);
CREATE TABLE IF NOT EXISTS positions (
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL,
    next_offset INTEGER NOT NULL,
    PRIMARY KEY (topic, partition)
);
"""


class Record(NamedTuple):
    """A Kafka record as the view takes it."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: int
    """Milliseconds since the epoch."""


@dataclass(frozen=True, slots=True)
class CaseRow:
    """A case as the view holds it, with its complaint's text and link where the view has them."""

    key: str
    agency_id: str
    state: bytes
    """The case event's JSON."""
    updated_at: str
    text: str | None
    url: str | None


@dataclass(frozen=True, slots=True)
class CaseFilter:
    agencies: tuple[str, ...] | None = None
    """None: every agency."""
    keys: tuple[str, ...] = ()
    """Empty: any case."""
    statuses: tuple[str, ...] = ()
    """Case statuses (open, overdue, answered); empty: any."""
    opened_from: str | None = None
    opened_to: str | None = None
    """Both bounds inclusive, as aduan stores times (ISO 8601 UTC to the millisecond)."""
    limit: int = 1000
    offset: int = 0


def is_view_topic(topic: str) -> bool:
    """The topics the view is built from: `cases` and every agency's complaints."""
    return topic == CASES_TOPIC or (
        topic.startswith(COMPLAINT_TOPIC_PREFIX) and topic != UNROUTED_TOPIC
    )


class View:
    """The SQLite database at `path`: one writer (the follower) and any number of readers."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as db:
            db.executescript(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
        db.execute("PRAGMA synchronous = NORMAL")  # WAL: a crash loses no committed view
        return db

    @contextmanager
    def reader(self) -> Iterator[sqlite3.Connection]:
        with closing(self._connect()) as db:
            yield db

    def positions(self) -> dict[tuple[str, int], int]:
        """The next offset to read of each topic partition the view has read."""
        with self.reader() as db:
            rows = db.execute("SELECT topic, partition, next_offset FROM positions")
            return {(topic, partition): offset for topic, partition, offset in rows}

    def apply(self, db: sqlite3.Connection, records: Iterable[Record]) -> int:
        """Take `records` in, and their offsets, in one transaction: a view and its offsets
        never disagree, so a restarted instance resumes where its view ends."""
        count = 0
        ends: dict[tuple[str, int], int] = {}
        with db:
            for record in records:
                if record.topic == CASES_TOPIC:
                    _case(db, record)
                else:
                    _complaint(db, record)
                ends[record.topic, record.partition] = record.offset + 1
                count += 1
            db.executemany(
                "INSERT INTO positions VALUES (?, ?, ?) ON CONFLICT (topic, partition) "
                "DO UPDATE SET next_offset = excluded.next_offset",
                [(topic, partition, offset) for (topic, partition), offset in ends.items()],
            )
        return count

    def writer(self) -> sqlite3.Connection:
        """The follower's connection."""
        return self._connect()

    def case(self, key: str) -> CaseRow | None:
        with self.reader() as db:
            rows = db.execute(_SELECT + " WHERE c.key = ?", (key,)).fetchall()
        return _row(rows[0]) if rows else None

    def cases(self, where: CaseFilter) -> list[CaseRow]:
        """The cases `where` selects, the most recently opened first."""
        clauses: list[str] = []
        arguments: list[object] = []
        _any_of(clauses, arguments, "c.agency_id", where.agencies)
        _any_of(clauses, arguments, "c.key", where.keys or None)
        _any_of(clauses, arguments, "c.status", where.statuses or None)
        if where.opened_from is not None:
            clauses.append("c.opened_at >= ?")
            arguments.append(where.opened_from)
        if where.opened_to is not None:
            clauses.append("c.opened_at <= ?")
            arguments.append(where.opened_to)
        sql = _SELECT
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        sql += " ORDER BY c.opened_at DESC, c.key LIMIT ? OFFSET ?"
        arguments += [where.limit, where.offset]
        with self.reader() as db:
            return [_row(row) for row in db.execute(sql, arguments)]

    def count(self) -> int:
        with self.reader() as db:
            (count,) = db.execute("SELECT count(*) FROM cases").fetchone()
            return int(count)


_SELECT = (
    "SELECT c.key, c.agency_id, c.state, c.updated_at, m.text, m.url FROM cases c "
    "LEFT JOIN complaints m ON m.agency_id = c.agency_id AND m.complaint_id = c.case_id"
)


def _row(row: Sequence[object]) -> CaseRow:
    key, agency, state, updated, text, url = row
    assert isinstance(state, bytes)  # the schema's BLOB
    return CaseRow(
        str(key),
        str(agency),
        state,
        str(updated),
        None if text is None else str(text),
        None if url is None else str(url),
    )


def _any_of(
    clauses: list[str], arguments: list[object], column: str, values: Sequence[str] | None
) -> None:
    if values is not None:
        clauses.append(f"{column} IN ({', '.join('?' * len(values))})" if values else "0")
        arguments.extend(values)


def _case(db: sqlite3.Connection, record: Record) -> None:
    if record.key is None:
        return
    key = record.key.decode(errors="replace")
    if record.value is None:
        db.execute("DELETE FROM cases WHERE key = ?", (key,))  # merged into another case
        return
    try:
        case = orjson.loads(record.value)
        row = (
            key,
            str(case["agency_id"]),
            str(case["case_id"]),
            str(case["status"]),
            str(case["opened_at"]),
            _iso(record.timestamp),
            record.value,
        )
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return  # not a case aduan wrote: nothing to serve
    db.execute(
        "INSERT INTO cases VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET "
        "status = excluded.status, updated_at = excluded.updated_at, state = excluded.state",
        row,
    )


def _complaint(db: sqlite3.Connection, record: Record) -> None:
    try:
        event = orjson.loads(record.value or b"null")
        agency, complaint = str(event["agency_id"]), str(event["complaint_id"])
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return
    if "withdrawn_at" in event:
        # Forgotten: the case keeps its clock, and the view no longer has its text.
        db.execute(
            "DELETE FROM complaints WHERE agency_id = ? AND complaint_id = ?", (agency, complaint)
        )
        return
    try:
        row = (agency, complaint, int(event["revision"]), str(event["text"]), str(event["url"]))
    except (KeyError, TypeError, ValueError):
        return
    db.execute(
        "INSERT INTO complaints VALUES (?, ?, ?, ?, ?) ON CONFLICT (agency_id, complaint_id) "
        "DO UPDATE SET revision = excluded.revision, text = excluded.text, url = excluded.url "
        "WHERE excluded.revision >= complaints.revision",
        row,
    )


def _iso(milliseconds: int) -> str:
    moment = datetime.fromtimestamp(milliseconds / 1000, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
