"""What the inbox lists, pure: an agency's unanswered cases with their working days, and the
province's agencies ranked by the share of cases answered on time; times in WIB."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from agents.core.workdays import WIB, WorkCalendar, wib_date
from schemas.events import Case
from streams.history.report_tables import Responses


@dataclass(frozen=True, slots=True)
class InboxCase:
    """An unanswered case as the inbox lists it; times in WIB."""

    key: str
    opened: str
    last_day: str
    """The last day to answer on."""
    overdue: bool
    working_days: int
    """Working days left to answer in after today; once overdue, those since the last day."""
    text: str | None
    """None once forgotten."""
    url: str | None
    """The post on X; None once forgotten, or for a link that is not https."""


@dataclass(frozen=True, slots=True)
class Standing:
    """An agency's place in the overview; `rank` is None while no case of it was answered or
    is overdue."""

    rank: int | None
    agency_id: str
    name: str
    responses: Responses
    share_on_time: float | None
    """Cases answered on time, of those answered or overdue: an unanswered case past its
    deadline counts against the agency, as an answer given late does."""


def working_days_left(due_at: datetime, now: datetime, calendar: WorkCalendar) -> int:
    """The working days after today, in WIB, up to the last day to answer: 0 on that day."""
    return calendar.working_days_between(now, _last_day(due_at))


def working_days_overdue(due_at: datetime, now: datetime, calendar: WorkCalendar) -> int:
    """The working days after the last day to answer, up to today in WIB."""
    return calendar.working_days_between(_last_day(due_at), now)


def _last_day(due_at: datetime) -> datetime:
    # `due_at` is 00:00 WIB of the day after the last day to answer.
    return due_at - timedelta(days=1)


def inbox_case(
    key: str,
    case: Case,
    text: str | None,
    url: str | None,
    *,
    now: datetime,
    calendar: WorkCalendar,
) -> InboxCase:
    """An unanswered case as the inbox lists it at `now`."""
    due = datetime.fromisoformat(case["due_at"])
    overdue = now >= due
    count = working_days_overdue if overdue else working_days_left
    return InboxCase(
        key=key,
        opened=moment_shown(datetime.fromisoformat(case["opened_at"])),
        last_day=day_shown(wib_date(_last_day(due))),
        overdue=overdue,
        working_days=count(due, now, calendar),
        text=text,
        # aduan writes X's https links; anything else (javascript:) must not become a link.
        url=url if url is not None and url.startswith("https://") else None,
    )


def ranking(responses: list[Responses], names: Mapping[str, str]) -> list[Standing]:
    """Agencies by share answered on time, then by cases answered; those with no case answered
    or overdue last, unranked. `names` are the registry's agencies, each of which is listed."""
    rows = {row.agency: row for row in responses}
    for agency in names:
        rows.setdefault(agency, Responses(agency, 0, 0, 0, None, None, None, 0, 0))
    shares = {agency: _share_on_time(row) for agency, row in rows.items()}
    ordered = sorted(
        rows.values(),
        key=lambda row: (
            shares[row.agency] is None,
            -(shares[row.agency] or 0),
            -row.answered,
            row.agency,
        ),
    )
    return [
        Standing(
            None if shares[row.agency] is None else place,
            row.agency,
            names.get(row.agency, row.agency),
            row,
            shares[row.agency],
        )
        for place, row in enumerate(ordered, 1)
    ]


def _share_on_time(row: Responses) -> float | None:
    judged = row.answered + row.overdue_now
    return row.answered_on_time / judged if judged else None


def day_shown(day: date) -> str:
    return f"{day:%a} {day.day} {day:%b %Y}"


def moment_shown(moment: datetime) -> str:
    wib = moment.astimezone(WIB)
    return f"{day_shown(wib.date())}, {wib:%H:%M} WIB"
