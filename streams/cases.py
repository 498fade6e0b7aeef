"""Case tracking set up from the settings, for `aduan route`, `aduan replay` and the worker."""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from datetime import datetime

from agents.core.cases import CaseBook, Observer, Thread
from agents.core.registry import Registry
from agents.core.workdays import WorkCalendar, load_calendar
from streams.settings import Settings


def new_case_book(
    settings: Settings,
    registry: Registry,
    clock: Callable[[], datetime],
    threads: MutableMapping[str, Thread] | None = None,
    observer: Observer | None = None,
) -> CaseBook:
    """A case book with the working-day calendar of `ADUAN_CALENDAR` and the remembering time of
    `ADUAN_CASE_DAYS`."""
    path = settings.calendar_file()
    calendar = WorkCalendar() if path is None else load_calendar(path)
    return CaseBook(
        registry, calendar, clock, threads, keep_days=settings.case_days, observer=observer
    )
