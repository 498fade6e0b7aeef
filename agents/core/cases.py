"""Cases: which complaints an agency answered on X, and within how many working days.

A case of agency A is opened by a complaint routed to A; the citizen's replies to it (or to A's
answers) join it, and a post by one of A's accounts that replies to a post of the case answers it.
The cases of a thread are computed from the set of its posts alone, never from their order, so a
backfill or a second poller that delivers an answer before its complaint ends in the same state.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import NamedTuple

from agents.core.post import Post
from agents.core.registry import ANSWER_WITHIN_WORKING_DAYS, Registry
from agents.core.workdays import WorkCalendar
from schemas.events import SCHEMA_VERSION, Case, CaseStatus
from schemas.topics import CASES_TOPIC

CaseEmit = tuple[str, str, Case | None]
"""(topic, key `<agency-id>:<case_id>`, the case's state, or None: a tombstone)."""

Observer = Callable[[Case | None, Case | None], None]
"""Told (the state before, the state now) of every case that changed; None: no such case."""


class CasePost(NamedTuple):
    """What case tracking keeps of a post: a complaint routed to `agencies`, or (`by_agency`)
    a post by one of the accounts of `agencies[0]`. A named tuple: one is made for most posts,
    and a tuple is made fastest."""

    tweet_id: str
    complaint_id: str
    """The first post of its edit chain: the revisions of a post are one post to a case."""
    author_id: str
    parent_id: str | None
    created_at: str
    """ISO 8601 UTC as X writes it (`2024-05-01T03:04:05.000Z`): such strings sort as times."""
    agencies: tuple[str, ...]
    by_agency: bool

    def to_json(self) -> list[object]:
        return [
            self.tweet_id,
            self.complaint_id,
            self.author_id,
            self.parent_id,
            self.created_at,
            list(self.agencies),
            self.by_agency,
        ]

    @classmethod
    def from_json(cls, row: list[object]) -> CasePost:
        tweet_id, complaint_id, author_id, parent_id, created_at, agencies, by_agency = row
        return cls(
            str(tweet_id),
            str(complaint_id),
            str(author_id),
            None if parent_id is None else str(parent_id),
            str(created_at),
            tuple(str(agency) for agency in agencies),  # type: ignore[attr-defined]
            bool(by_agency),
        )


def case_post(post: Post, agencies: Iterable[str], by_agency: bool) -> CasePost | None:
    """The post as case tracking keeps it; None when it cannot take part in a case (no author or
    no time: the clock needs both)."""
    if post.author_id is None or post.created_at is None:
        return None
    return CasePost(
        post.tweet_id,
        post.complaint_id,
        post.author_id,
        post.in_reply_to_tweet_id,
        post.created_at,
        tuple(agencies),
        by_agency,
    )


def thread_key(post: Post) -> str:
    """The posts that can share a case share a conversation (X's id of the thread's first post);
    a post without one (v1.1) is a thread of its own."""
    return post.conversation_id or post.complaint_id


@dataclass(slots=True)
class Thread:
    """The posts of one conversation that case tracking remembers, and the cases last told."""

    posts: dict[str, CasePost] = field(default_factory=dict)
    told: dict[str, Case] = field(default_factory=dict)
    """Each case key with the state last emitted for it."""

    def newest(self) -> str:
        return max(post.created_at for post in self.posts.values())


class CaseBook:
    """Case tracking over any number of threads, kept in `threads` (a dict offline, a table
    of the worker live): `add` a post, get the changed cases back."""

    def __init__(
        self,
        registry: Registry,
        calendar: WorkCalendar,
        clock: Callable[[], datetime],
        threads: MutableMapping[str, Thread] | None = None,
        *,
        keep_days: float = 90,
        observer: Observer | None = None,
    ) -> None:
        self.registry = registry
        self.calendar = calendar
        self.clock = clock
        """The time `overdue` is judged at: a fixed one offline (`aduan route --now`)."""
        self.threads: MutableMapping[str, Thread] = {} if threads is None else threads
        self.keep = timedelta(days=keep_days)
        self.observer = observer
        self._within_of: Registry | None = None
        self._within_days: dict[str, int] = {}
        self._now: datetime | None = None
        self._now_text = ""
        self._dues: dict[tuple[str, int], str] = {}

    def add(self, key: str, post: CasePost) -> list[CaseEmit]:
        """Take `post` into thread `key`; the cases that changed, and tombstones for the keys of
        cases merged into another."""
        thread = self.threads.get(key)
        if thread is None:
            # Most threads are one complaint: its cases are plain, without the thread's rules.
            thread = Thread({post.tweet_id: post})
            emits = self._tell_first(thread, post)
        elif post.tweet_id in thread.posts:
            return []
        else:
            thread.posts[post.tweet_id] = post
            emits = self._tell(thread, self.clock(), frozenset(post.agencies))
        self.threads[key] = thread
        return emits

    def _now_iso(self) -> str:
        now = self.clock()
        if now is not self._now:
            self._now, self._now_text = now, _iso(now)
        return self._now_text

    def _due_iso(self, opened_at: str, within: int) -> str:
        # The WIB date, so the deadline, depends only on the UTC date and hour.
        key = opened_at[:13], within
        due = self._dues.get(key)
        if due is None:
            due = self._dues[key] = _due_iso(self.calendar, opened_at, within)
        return due

    def _within(self) -> dict[str, int]:
        """Each agency's working days to answer, for the registry in force."""
        if self._within_of is not self.registry:
            self._within_of = self.registry
            self._within_days = {a.id: a.answer_within_working_days for a in self.registry.agencies}
        return self._within_days

    def _tell_first(self, thread: Thread, post: CasePost) -> list[CaseEmit]:
        """What `_tell` would say of a thread of one post, said faster: each agency's case is
        the post alone, and an agency's post answers nothing."""
        if post.by_agency:
            return []
        now = self._now_iso()
        version = self.registry.version
        emits: list[CaseEmit] = []
        within = self._within()
        for agency in post.agencies:
            days = within.get(agency, ANSWER_WITHIN_WORKING_DAYS)
            due = self._due_iso(post.created_at, days)
            case: Case = {
                "case_id": post.complaint_id,
                "agency_id": agency,
                "citizen_id": post.author_id,
                "opened_at": post.created_at,
                "due_at": due,
                "posts": [post.tweet_id],
                "answers": 0,
                "first_answer_at": None,
                "first_answer_tweet_id": None,
                "working_days_to_answer": None,
                "answered_on_time": None,
                "status": "overdue" if now >= due else "open",
                "registry_version": version,
                "schema_version": SCHEMA_VERSION,
            }
            key = f"{agency}:{post.complaint_id}"
            thread.told[key] = case
            emits.append((CASES_TOPIC, key, case))
            if self.observer is not None:
                self.observer(None, case)
        return emits

    def overdue(self) -> list[CaseEmit]:
        """The open cases whose deadline passed by now, as new states; threads silent for the
        remembering time are forgotten (their last states stay on the topic)."""
        now = self.clock()
        emits: list[CaseEmit] = []
        horizon = _iso(now - self.keep)
        for key in list(self.threads):
            thread = self.threads[key]
            if thread.newest() < horizon:
                del self.threads[key]
                continue
            late = _iso(now)
            if any(c["status"] == "open" and c["due_at"] <= late for c in thread.told.values()):
                emits += self._tell(thread, now)
                self.threads[key] = thread
        return emits

    def _tell(
        self, thread: Thread, now: datetime, only: frozenset[str] | None = None
    ) -> list[CaseEmit]:
        """The thread's cases judged again (those of the agencies `only`, when given: a post
        changes no other agency's cases), and what changed."""
        posts = thread.posts.values()
        cases = cases_of(posts, self.registry, self.calendar, now, self.keep, only=only)
        if only is not None:
            kept = {k: case for k, case in thread.told.items() if case["agency_id"] not in only}
            cases = kept | cases
        emits: list[CaseEmit] = [
            (CASES_TOPIC, key, None) for key in thread.told if key not in cases
        ]
        emits += [
            (CASES_TOPIC, key, case) for key, case in cases.items() if thread.told.get(key) != case
        ]
        if self.observer is not None:
            for _topic, key, case in emits:
                self.observer(thread.told.get(key), case)
        thread.told = cases
        return emits

    def statuses(self) -> Counter[tuple[str, CaseStatus]]:
        """The cases of every thread remembered, by (agency, status) as last told."""
        return Counter(
            (case["agency_id"], case["status"])
            for key in list(self.threads)
            for case in self.threads[key].told.values()
        )


def cases_of(
    posts: Iterable[CasePost],
    registry: Registry,
    calendar: WorkCalendar,
    now: datetime,
    keep: timedelta = timedelta(days=90),
    *,
    only: frozenset[str] | None = None,
) -> dict[str, Case]:
    """Every case the posts make (at the agencies `only`, when given), by key
    `<agency-id>:<case_id>`: a function of the set of posts (and of `now`, for `overdue`),
    whatever order they came in."""
    by_agency: dict[str, list[CasePost]] = {}
    for post in posts:
        for agency in post.agencies:
            if only is None or agency in only:
                by_agency.setdefault(agency, []).append(post)
    cases: dict[str, Case] = {}
    for agency, agency_posts in sorted(by_agency.items()):
        found = _agency_cases(
            agency, agency_posts, registry=registry, calendar=calendar, now=now, keep=keep
        )
        for case in found:
            cases[f"{agency}:{case['case_id']}"] = case
    return cases


@dataclass(slots=True)
class _Unit:
    """A post and its revisions: what joins, opens or answers a case."""

    revisions: list[CasePost]
    parent: str | None = None

    @property
    def first(self) -> CasePost:
        return self.revisions[0]


def _agency_cases(
    agency: str,
    posts: list[CasePost],
    *,
    registry: Registry,
    calendar: WorkCalendar,
    now: datetime,
    keep: timedelta,
) -> Iterator[Case]:
    units: dict[str, _Unit] = {}
    for post in sorted(posts, key=_order):
        unit = units.setdefault(post.complaint_id, _Unit([]))
        unit.revisions.append(post)
    owner = {post.tweet_id: unit_id for unit_id, unit in units.items() for post in unit.revisions}
    for unit in units.values():
        unit.parent = _parent(unit, owner, units, keep)
    on_cycle = _on_cycles({unit_id: unit.parent for unit_id, unit in units.items()})
    case_of: dict[str, str | None] = {}
    for unit_id in sorted(units, key=lambda unit_id: _order(units[unit_id].first)):
        _resolve(unit_id, units, on_cycle, case_of)
    members: dict[str, list[_Unit]] = {}
    for unit_id, case_id in case_of.items():
        if case_id is not None:
            members.setdefault(case_id, []).append(units[unit_id])
    within = _answer_within(registry, agency)
    for case_id, case_units in sorted(members.items()):
        yield _case(
            agency,
            units[case_id],
            case_units,
            within=within,
            calendar=calendar,
            now=now,
            registry_version=registry.version,
        )


def _parent(
    unit: _Unit, owner: dict[str, str], units: dict[str, _Unit], keep: timedelta
) -> str | None:
    """The unit `unit` replies to, when it is one of the agency's and recent enough to remember."""
    parent_id = unit.first.parent_id
    parent = None if parent_id is None else owner.get(parent_id)
    if parent is None:
        return None
    older = _time(units[parent].first.created_at)
    if _time(unit.first.created_at) - older > keep:
        return None
    return parent


def _on_cycles(parents: dict[str, str | None]) -> set[str]:
    """The units whose chain of parents comes back to them (a reply to itself, a loop of replies
    that real X cannot make but input can): for them the parent is ignored."""
    state: dict[str, int] = {}
    cycles: set[str] = set()
    for start in parents:
        path: list[str] = []
        node: str | None = start
        while node is not None and node not in state:
            state[node] = 1
            path.append(node)
            node = parents.get(node)
        if node is not None and state.get(node) == 1 and node in path:
            cycles.update(path[path.index(node) :])
        for visited in path:
            state[visited] = 2
    return cycles


def _resolve(
    unit_id: str, units: dict[str, _Unit], on_cycle: set[str], case_of: dict[str, str | None]
) -> str | None:
    """The case `unit_id` belongs to (None: an agency post that answers nothing), walking up the
    chain of parents without recursion: threads can be long."""
    chain: list[str] = []
    node: str | None = unit_id
    while node is not None and node not in case_of:
        chain.append(node)
        node = None if node in on_cycle else units[node].parent
    for member in reversed(chain):
        unit = units[member]
        parent = None if member in on_cycle else unit.parent
        above = None if parent is None else case_of[parent]
        if unit.first.by_agency or (
            above is not None and units[above].first.author_id == unit.first.author_id
        ):
            case_of[member] = above
        else:
            case_of[member] = member
    return case_of[unit_id]


def _case(
    agency: str,
    opening: _Unit,
    members: list[_Unit],
    *,
    within: int,
    calendar: WorkCalendar,
    now: datetime,
    registry_version: str,
) -> Case:
    complaints = sorted(
        (post for unit in members if not unit.first.by_agency for post in unit.revisions),
        key=_order,
    )
    answers = [unit.first for unit in members if unit.first.by_agency]
    first_answer = min(answers, key=_order) if answers else None
    opened = _time(opening.first.created_at)
    due_iso = _due_iso(calendar, opening.first.created_at, within)
    due = _time(due_iso)
    status: CaseStatus = "open"
    answered_at = None
    if first_answer is not None:
        status = "answered"
        answered_at = _time(first_answer.created_at)
    elif now >= due:
        status = "overdue"
    return {
        "case_id": opening.first.complaint_id,
        "agency_id": agency,
        "citizen_id": opening.first.author_id,
        "opened_at": opening.first.created_at,
        "due_at": due_iso,
        "posts": [post.tweet_id for post in complaints],
        "answers": len(answers),
        "first_answer_at": None if first_answer is None else first_answer.created_at,
        "first_answer_tweet_id": None if first_answer is None else first_answer.tweet_id,
        "working_days_to_answer": (
            None if answered_at is None else calendar.working_days_between(opened, answered_at)
        ),
        "answered_on_time": None if answered_at is None else answered_at < due,
        "status": status,
        "registry_version": registry_version,
        "schema_version": SCHEMA_VERSION,
    }


def _answer_within(registry: Registry, agency: str) -> int:
    for candidate in registry.agencies:
        if candidate.id == agency:
            return candidate.answer_within_working_days
    return ANSWER_WITHIN_WORKING_DAYS  # an agency a newer registry no longer lists


@cache
def _due_iso(calendar: WorkCalendar, opened_at: str, within: int) -> str:
    """`due_at` for a case opened at `opened_at`: cached, as the complaints of a day share it."""
    return _iso(calendar.due_at(_time(opened_at), within))


def _order(post: CasePost) -> tuple[str, int, str]:
    """Oldest first; ties by the lower post id."""
    return post.created_at, len(post.tweet_id), post.tweet_id


def _time(iso: str) -> datetime:
    return datetime.fromisoformat(iso)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
