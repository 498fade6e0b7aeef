"""What X's compliance jobs answer: the job record, each result line checked against the
actions and reasons X documents, and the report of what `aduan compliance check` made of them.
No Kafka and no tweepy here: running the jobs, forgetting and sending the dead letters are
`streams.x.compliance`'s."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Literal

import orjson

from agents.core.errors import AduanError
from agents.core.forget import forget_request
from agents.core.post import Malformed
from agents.core.route import dead_letter
from schemas.events import DeadLetter, ForgetKind, ForgetRequest
from schemas.topics import DEAD_LETTER_TOPIC

if TYPE_CHECKING:
    # The report only names the type: importing it would load the Kafka client.
    from streams.forget.run import Outcome

JobType = Literal["tweets", "users"]

KIND: dict[JobType, ForgetKind] = {"tweets": "post", "users": "user"}

NOUN: dict[JobType, str] = {"tweets": "posts", "users": "users"}

FORGET_REASONS: dict[JobType, frozenset[str]] = {
    # `bounced` ("failed compliance check") comes with `action: delete` too in X's docs.
    "tweets": frozenset({"deleted", "protected", "suspended", "deactivated", "bounced"}),
    "users": frozenset({"deleted", "protected", "suspended", "deactivated"}),
}
"""The reasons of `action: delete` that X documents for each job type: aduan forgets them."""

IGNORED: dict[str, tuple[frozenset[str], str]] = {
    "scrub_geo": (
        frozenset({"scrub_geo", "geo_scrubbed"}),
        "aduan asks X for no geo fields, so there is no location to remove",
    ),
    "rehydrate": (
        frozenset({"tweet_edited"}),
        "an edit is a new post for X; when it still mentions an agency it reaches aduan as a "
        "revision of the same complaint",
    ),
}
"""The other actions X documents, their reasons, and why aduan has nothing to do for them."""

REQUIRED = ("id", "action", "reason")
"""The fields of a result line aduan acts on; X's docs say `redacted_at` is not always there,
and `created_at` is not needed."""


class ComplianceError(AduanError):
    """An X compliance job could not be run to its end, or its results not read whole."""


@dataclass(slots=True)
class Job:
    """One compliance job as aduan started it."""

    type: JobType
    id: str
    ids: frozenset[str]
    """The ids uploaded: a result naming any other is not believed."""
    download_url: str = field(repr=False)
    status: str = "created"

    @property
    def name(self) -> str:
        return f"X compliance job {self.id} ({NOUN[self.type]})"


@dataclass(frozen=True, slots=True)
class Verdict:
    """One valid result line: what X says of an uploaded id."""

    id: str
    action: str
    reason: str

    @property
    def forgets(self) -> bool:
        return self.action == "delete"


@dataclass(slots=True)
class Results:
    """A job's results file as read: valid verdicts and dead letters (key, record)."""

    verdicts: list[Verdict] = field(default_factory=list)
    dead: list[tuple[bytes, DeadLetter]] = field(default_factory=list)
    lines: int = 0
    """The number of the last complete line read."""
    broken: str | None = None
    """Why the download stopped before the end of the file, if it did."""


@dataclass(slots=True)
class Report:
    """What one `aduan compliance check` did."""

    checked: dict[JobType, int] = field(default_factory=dict)
    """The ids sent to X, per job type."""
    results: int = 0
    forgotten: int = 0
    dead_lettered: int = 0
    ignored: dict[str, int] = field(default_factory=dict)
    outcomes: list[Outcome] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def summary(self) -> str:
        sent = " and ".join(f"{n} {KIND[t]} ids" for t, n in self.checked.items()) or "no ids"
        said = (
            f"sent {sent} to X: {self.results} result(s), {self.forgotten} forgotten, "
            f"{self.dead_lettered} dead-lettered to {DEAD_LETTER_TOPIC}"
        )
        for action, count in sorted(self.ignored.items()):
            said += f", {count} {action} ignored ({IGNORED[action][1]})"
        return said

    def raise_failures(self) -> None:
        """A `ComplianceError` naming every job that did not end well, if any did not."""
        if self.failures:
            raise ComplianceError("; ".join(self.failures))


def read_results(job: Job, lines: Iterable[tuple[int, bytes] | str]) -> Results:
    """Each line checked strictly: a JSON object whose `id` is one `job` uploaded and whose
    `action` and `reason` X documents for its type. Any other line becomes a dead letter and
    the rest of the file still counts."""
    results = Results()
    for item in lines:
        if isinstance(item, str):
            results.broken = item
            break
        number, raw = item
        results.lines = number
        if not raw.strip():
            continue
        verdict = _verdict(job, raw)
        if isinstance(verdict, Verdict):
            results.verdicts.append(verdict)
            continue
        text = raw.decode("utf-8", "backslashreplace")
        error = f"{job.name}, result line {number}: {verdict}"
        key = f"x-compliance:{job.id}:{number}".encode()
        results.dead.append((key, dead_letter(Malformed(error, text), number)))
    return results


def _verdict(job: Job, raw: bytes) -> Verdict | str:
    """The verdict of one result line, or what is wrong with it."""
    try:
        item = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return "not a JSON object (a cut or damaged line)"
    if not isinstance(item, dict):
        return "not a JSON object"
    values = [item.get(name) for name in REQUIRED]
    missing = [n for n, v in zip(REQUIRED, values, strict=True) if not isinstance(v, str) or not v]
    if missing:
        return f"no {' or '.join(missing)} string"
    ident, action, reason = (str(value) for value in values)
    if not (ident.isascii() and ident.isdigit()):
        return f"id {ident!r} is not an X id (digits)"
    if ident not in job.ids:
        return f"id {ident} was not uploaded to this job"
    if action == "delete":
        known = FORGET_REASONS[job.type]
    elif action in IGNORED:
        known = IGNORED[action][0]
    else:
        return f"unknown action {action!r}"
    if reason not in known:
        return f"unknown reason {reason!r} for action {action!r} on {NOUN[job.type]}"
    return Verdict(ident, action, reason)


def honour(job: Job, results: Results, report: Report, now: datetime) -> list[ForgetRequest]:
    """The requests to forget that `job`'s results make, one per id; counted in `report`."""
    report.results += len(results.verdicts)
    named: dict[str, ForgetRequest] = {}
    for verdict in results.verdicts:
        if not verdict.forgets:
            report.ignored[verdict.action] = report.ignored.get(verdict.action, 0) + 1
        elif verdict.id not in named:
            reason = f"x-compliance: {verdict.reason} (job {job.id})"
            named[verdict.id] = forget_request(KIND[job.type], verdict.id, reason, now)
    if results.broken is not None and not results.lines:
        report.failures.append(
            f"the results of {job.name} could not be downloaded ({results.broken}); nothing "
            "of it was forgotten. Run aduan compliance check again"
        )
    elif results.broken is not None:
        report.failures.append(
            f"the download of the results of {job.name} broke off after {results.lines} "
            f"complete line(s) ({results.broken}); those were honoured. Run aduan "
            "compliance check again to check the rest"
        )
    return list(named.values())
