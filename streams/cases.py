"""Case tracking set up from the settings, for `aduan route`, `aduan replay`, the worker and
`aduan serve`'s inbox."""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from datetime import datetime

from agents.core.cases import CaseBook, Observer, Thread
from agents.core.registry import Registry
from agents.core.workdays import WorkCalendar, load_calendar
from streams.settings import Settings


def work_calendar(settings: Settings) -> WorkCalendar:
    """The working-day calendar: the holiday library's, with `ADUAN_CALENDAR`'s changes."""
    path = settings.calendar_file()
    return WorkCalendar() if path is None else load_calendar(path)


def new_case_book(
    settings: Settings,
    registry: Registry,
    clock: Callable[[], datetime],
    threads: MutableMapping[str, Thread] | None = None,
    observer: Observer | None = None,
) -> CaseBook:
    """A case book with the working-day calendar of `ADUAN_CALENDAR` and the remembering time of
    `ADUAN_CASE_DAYS`."""
    return CaseBook(
        registry,
        work_calendar(settings),
        clock,
        threads,
        keep_days=settings.case_days,
        observer=observer,
    )
