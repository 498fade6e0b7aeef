"""The view `aduan serve` answers from: each case's latest state, the text of the complaint that
opened it, and the case as an Open311 service request rendered once, in an embedded SQLite
database built from the topics, with the offsets it was built up to. Every instance keeps a view
of its own, as Kafka Streams' interactive queries do: more load, more instances, and no database
server (docs/decisions/0034-serve-from-a-sqlite-view.md)."""

from __future__ import annotations

import sqlite3
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from schemas.topics import CASES_TOPIC, COMPLAINT_TOPIC_PREFIX, UNROUTED_TOPIC
from streams.serve.view_batch import Batch

LAYOUT = 3
"""The version of the tables below, kept as SQLite's `user_version`. A view of another layout is
dropped and built again from the topics, which hold everything it holds."""

MAP_BYTES = 1 << 30
"""How much of the view a reader maps into memory, where it reads without copying pages."""

_TABLES = ("cases", "complaints", "withdrawn", "positions")
_SCHEMA = """
CREATE TABLE cases (
    key TEXT PRIMARY KEY,
    agency_id TEXT NOT NULL,
    case_id TEXT NOT NULL,
    status TEXT NOT NULL,
    opened_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    state BLOB NOT NULL,
    request BLOB NOT NULL
);
CREATE INDEX cases_by_agency ON cases (agency_id, opened_at DESC, key);
CREATE INDEX cases_by_time ON cases (opened_at DESC, key);
CREATE TABLE complaints (
    agency_id TEXT NOT NULL,
    complaint_id TEXT NOT NULL,
    revision INTEGER NOT NULL,
    text TEXT NOT NULL,
    url TEXT NOT NULL,
    PRIMARY KEY (agency_id, complaint_id)
) WITHOUT ROWID;
CREATE TABLE withdrawn (
    agency_id TEXT NOT NULL,
    complaint_id TEXT NOT NULL,
    PRIMARY KEY (agency_id, complaint_id)
) WITHOUT ROWID;
CREATE TABLE positions (
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
        self._idle: deque[sqlite3.Connection] = deque()
        """Readers' connections not in use: appended and popped atomically."""
        path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as db:
            db.execute("PRAGMA journal_mode = WAL")
            (layout,) = db.execute("PRAGMA user_version").fetchone()
            if layout != LAYOUT:
                script = "".join(f"DROP TABLE IF EXISTS {t};" for t in _TABLES) + _SCHEMA
                db.executescript(f"BEGIN; {script} PRAGMA user_version = {LAYOUT}; COMMIT;")

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
        db.execute("PRAGMA synchronous = NORMAL")  # WAL: a crash loses no committed view
        return db

    @contextmanager
    def reader(self) -> Iterator[sqlite3.Connection]:
        """A connection to read with inside the block; it then goes back to a pool, where it
        keeps the pages it mapped for the next reader."""
        try:
            db = self._idle.pop()
        except IndexError:
            db = self._connect()
            db.execute(f"PRAGMA mmap_size = {MAP_BYTES}")
        try:
            yield db
        except BaseException:
            db.close()  # it may hold a statement part read: no later reader gets it
            raise
        self._idle.append(db)

    def positions(self) -> dict[tuple[str, int], int]:
        """The next offset to read of each topic partition the view has read."""
        with self.reader() as db:
            rows = db.execute("SELECT topic, partition, next_offset FROM positions")
            return {(topic, partition): offset for topic, partition, offset in rows}

    def apply(self, db: sqlite3.Connection, records: Iterable[Record]) -> int:
        """Take `records` in, and their offsets, in one transaction: a view and its offsets
        never disagree, so a restarted instance resumes where its view ends."""
        batch = Batch(db)
        ends: dict[tuple[str, int], int] = {}
        count = 0
        with db:
            db.execute("BEGIN")  # now, not at the first write: each read would be a transaction
            for record in records:
                if record.topic == CASES_TOPIC:
                    batch.case(record)
                else:
                    batch.complaint(record)
                ends[record.topic, record.partition] = record.offset + 1
                count += 1
            batch.write()
            db.executemany(
                "INSERT INTO positions VALUES (?, ?, ?) ON CONFLICT (topic, partition) "
                "DO UPDATE SET next_offset = excluded.next_offset",
                [(topic, partition, offset) for (topic, partition), offset in ends.items()],
            )
        return count

    def writer(self) -> sqlite3.Connection:
        """The follower's connection; what it deletes is overwritten, so that a forgotten text
        is not left readable in the file's free pages."""
        db = self._connect()
        db.execute("PRAGMA secure_delete = ON")
        return db

    def clear(self, db: sqlite3.Connection) -> None:
        """Empty the view and its offsets, to be built again from the topics."""
        with db:
            for table in _TABLES:
                db.execute(f"DELETE FROM {table}")

    def case(self, key: str) -> CaseRow | None:
        with self.reader() as db:
            rows = db.execute(_SELECT_ROWS + " WHERE c.key = ?", (key,)).fetchall()
        return _row(rows[0]) if rows else None

    def cases(self, where: CaseFilter) -> list[CaseRow]:
        """The cases `where` selects, the most recently opened first."""
        sql, arguments = _selection(_SELECT_ROWS, where)
        with self.reader() as db:
            return [_row(row) for row in db.execute(sql, arguments)]

    def requests(self, where: CaseFilter) -> list[tuple[str, bytes]]:
        """The service requests of the cases `where` selects, the most recently opened first:
        each its agency's id and its `open311.unnamed_request`, for `open311.requests_json`."""
        sql, arguments = _selection(_SELECT_REQUESTS, where)
        with self.reader() as db:
            found: list[tuple[str, bytes]] = db.execute(sql, arguments).fetchall()
            return found

    def states(self, opened_from: str) -> Iterator[tuple[str, str, bytes]]:
        """Agency, key and state of each case opened from `opened_from` on, one agency's after
        another's: a reader can hold one agency's cases at a time."""
        with self.reader() as db:
            yield from db.execute(
                "SELECT agency_id, key, state FROM cases WHERE opened_at >= ? ORDER BY agency_id",
                (opened_from,),
            )

    def count(self) -> int:
        with self.reader() as db:
            (count,) = db.execute("SELECT count(*) FROM cases").fetchone()
            return int(count)


_SELECT_ROWS = (
    "SELECT c.key, c.agency_id, c.state, c.updated_at, m.text, m.url FROM cases c "
    "LEFT JOIN complaints m ON m.agency_id = c.agency_id AND m.complaint_id = c.case_id"
)
_SELECT_REQUESTS = "SELECT c.agency_id, c.request FROM cases c"


def _selection(select: str, where: CaseFilter) -> tuple[str, list[object]]:
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
    sql = select
    if clauses:
        sql += " WHERE " + " AND ".join(clauses)
    # The order of the indexes, so that a page is read off one of them without sorting.
    sql += " ORDER BY c.opened_at DESC, c.key LIMIT ? OFFSET ?"
    arguments += [where.limit, where.offset]
    return sql, arguments


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
