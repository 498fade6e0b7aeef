"""Indonesian working days in WIB: the clock that an agency's answers are measured by."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from agents.core.errors import CalendarError

# Indonesia has kept Western Indonesia Time at UTC+7 without daylight saving since 1964, so a
# fixed offset is exact for every date aduan sees and needs no tz database.
WIB = timezone(timedelta(hours=7), "WIB")

_CATEGORIES = ("public", "government")
"""National public holidays and the joint leave days (cuti bersama) of civil servants."""

_KEYS = ("days_off", "working_days")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_TIMESTAMP = "tag:yaml.org,2002:timestamp"


class _Loader(yaml.SafeLoader):
    """Safe YAML that leaves dates as text: PyYAML would raise a bare ValueError for 2026-02-30,
    naming neither the line nor the entry."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag != _TIMESTAMP]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@cache
def _library_days_off(year: int) -> frozenset[date]:
    """The holiday library's public holidays and joint leave days of `year`."""
    # Imported on first use: routing without cases never counts working days.
    import holidays  # noqa: PLC0415

    return frozenset(holidays.country_holidays("ID", years=year, categories=_CATEGORIES))


@dataclass(frozen=True, slots=True)
class WorkCalendar:
    """Monday to Friday in WIB, less Indonesian public holidays and joint leave days, with an
    operator's corrections: joint leave days are decreed each year and sometimes moved."""

    days_off: frozenset[date] = frozenset()
    """Extra non-working days."""
    working_days: frozenset[date] = frozenset()
    """Holidays or joint leave days of the library that are working days after all. Weekends
    stay off: these only cancel library holidays."""

    def __post_init__(self) -> None:
        both = self.days_off & self.working_days
        if both:
            raise ValueError(f"dates both off and working: {sorted(both)}")

    def is_working_day(self, day: date) -> bool:
        """Whether `day`, a date in WIB, is a working day."""
        if day.weekday() >= 5 or day in self.days_off:
            return False
        return day in self.working_days or day not in _library_days_off(day.year)

    def due_at(self, opened_at: datetime, working_days: int) -> datetime:
        """00:00 WIB of the day after the `working_days`-th working day after the WIB date of
        `opened_at`, in UTC."""
        if working_days < 0:
            raise ValueError(f"working_days must be at least 0, not {working_days}")
        return _due_at(self, wib_date(opened_at), working_days)

    def working_days_between(self, opened_at: datetime, answered_at: datetime) -> int:
        """The working days after the WIB date of `opened_at` up to and including that of
        `answered_at`: 0 for the same day or an earlier one."""
        first, last = wib_date(opened_at), wib_date(answered_at)
        return sum(
            1
            for offset in range(1, (last - first).days + 1)
            if self.is_working_day(first + timedelta(days=offset))
        )


@cache
def _due_at(calendar: WorkCalendar, opened_on: date, working_days: int) -> datetime:
    """Cached: every complaint of a day shares its deadline, and cases are judged often."""
    day = opened_on
    left = working_days
    while left:
        day += timedelta(days=1)
        if calendar.is_working_day(day):
            left -= 1
    return datetime.combine(day + timedelta(days=1), time(), WIB).astimezone(UTC)


def wib_date(moment: datetime) -> date:
    """The date in WIB of an aware `moment`."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{moment.isoformat()} has no time zone; pass an aware datetime")
    return moment.astimezone(WIB).date()


def load_calendar(path: Path) -> WorkCalendar:
    """Read and validate the calendar overrides at `path`."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CalendarError(
            f"{path}: calendar file not found; set ADUAN_CALENDAR to the working-day calendar "
            "(the checkout's deploy/calendar.yaml, or your own)"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CalendarError(f"{path}: cannot read the calendar: {exc}") from exc
    return parse_calendar(text, source=str(path))


def parse_calendar(text: str, source: str) -> WorkCalendar:
    """Validate calendar YAML `text`; `source` names it in error messages."""
    try:
        document = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise CalendarError(f"{source}: not valid YAML{where}: {problem}") from None
    if document is None:
        return WorkCalendar()
    if not isinstance(document, dict):
        raise CalendarError(
            f"{source}: expected a mapping with optional 'days_off' and 'working_days' lists"
        )
    extra = set(document) - set(_KEYS)
    if extra:
        raise CalendarError(
            f"{source}: unknown key(s) {sorted(map(str, extra))}; only 'days_off' and "
            "'working_days'"
        )
    days_off = _dates(document.get("days_off"), f"{source}: days_off")
    working_days = _dates(document.get("working_days"), f"{source}: working_days")
    for day in sorted(working_days):
        if day.weekday() >= 5:
            raise CalendarError(
                f"{source}: working_days: {day.isoformat()} is a {day:%A}; weekends are never "
                "working days, remove it"
            )
    both = sorted(days_off & working_days)
    if both:
        raise CalendarError(
            f"{source}: {both[0].isoformat()} is in both days_off and working_days; keep it in "
            "the one that is true"
        )
    return WorkCalendar(days_off=days_off, working_days=working_days)


def _dates(entries: Any, where: str) -> frozenset[date]:
    if entries is None:
        return frozenset()
    if not isinstance(entries, list):
        raise CalendarError(f"{where}: expected a list of dates such as 2026-03-20")
    days: set[date] = set()
    for index, entry in enumerate(entries):
        day = _date(entry)
        if day is None:
            raise CalendarError(
                f"{where}[{index}]: {entry!r} is not a date; write it as YYYY-MM-DD, "
                "e.g. 2026-03-20"
            )
        if day in days:
            raise CalendarError(
                f"{where}[{index}]: {day.isoformat()} is listed twice; remove one of them"
            )
        days.add(day)
    return frozenset(days)


def _date(entry: Any) -> date | None:
    if not isinstance(entry, str) or not _ISO_DATE.fullmatch(entry):
        return None
    try:
        return date.fromisoformat(entry)
    except ValueError:
        return None
