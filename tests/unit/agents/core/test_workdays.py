"""`agents.core.workdays`: Indonesian working days in WIB and the calendar file's corrections.

Expected values are counted by hand from the 2025-2026 decrees: Eid al-Fitr 2026 falls on Sat 21
and Sun 22 March, Nyepi on Thu 19 March, with joint leave on 18, 20, 23 and 24 March; New Year's
Day 2026 is a Thursday and 2027 a Friday."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from agents.core.errors import CalendarError
from agents.core.workdays import WorkCalendar, load_calendar

ROOT = Path(__file__).resolve().parents[4]
WIB = timezone(timedelta(hours=7))
LIBRARY = WorkCalendar()


def wib(text: str) -> datetime:
    """A moment written in WIB, e.g. "2026-03-19 10:00"."""
    return datetime.fromisoformat(text).replace(tzinfo=WIB)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("day", "working"),
    [
        ("2026-02-06", True),  # Friday
        ("2026-02-07", False),  # Saturday
        ("2026-02-08", False),  # Sunday
        ("2026-03-18", False),  # Nyepi joint leave
        ("2026-03-19", False),  # Nyepi
        ("2026-03-20", False),  # Eid al-Fitr joint leave
        ("2026-03-23", False),  # Eid al-Fitr joint leave
        ("2026-03-24", False),  # Eid al-Fitr joint leave
        ("2026-03-25", True),
        ("2026-12-24", False),  # Christmas joint leave
        ("2026-12-31", True),
        ("2027-01-01", False),  # New Year's Day
    ],
)
def test_weekends_holidays_and_joint_leave_are_not_working_days(day: str, working: bool) -> None:
    assert LIBRARY.is_working_day(date.fromisoformat(day)) is working


def test_a_weekend_does_not_count() -> None:
    friday = wib("2026-02-06 10:00")
    assert LIBRARY.due_at(friday, 1) == utc("2026-02-09 17:00")  # 00:00 WIB Tue 10 Feb
    assert LIBRARY.due_at(friday, 5) == utc("2026-02-13 17:00")  # 00:00 WIB Sat 14 Feb
    assert LIBRARY.working_days_between(friday, wib("2026-02-08 20:00")) == 0
    assert LIBRARY.working_days_between(friday, wib("2026-02-09 08:00")) == 1


def test_the_eid_al_fitr_2026_joint_leave_does_not_count() -> None:
    # Working days after Thu 19 March: Wed 25, Thu 26, Fri 27, Mon 30, Tue 31.
    opened = wib("2026-03-19 10:00")
    assert LIBRARY.due_at(opened, 5) == utc("2026-03-31 17:00")  # 00:00 WIB Wed 1 April
    assert LIBRARY.working_days_between(opened, wib("2026-03-24 23:59")) == 0
    assert LIBRARY.working_days_between(opened, wib("2026-03-25 09:00")) == 1
    assert LIBRARY.working_days_between(wib("2026-03-17 10:00"), wib("2026-04-01 09:00")) == 6


@pytest.mark.parametrize(
    ("opened", "days", "due"),
    [
        # Thu 31 Dec, (Fri 1 Jan), Mon 4 Jan.
        ("2026-12-30 10:00", 2, "2027-01-04 17:00"),
        # Wed 31 Dec, (Thu 1 Jan), Fri 2, Mon 5, Tue 6, Wed 7 Jan.
        ("2025-12-30 10:00", 5, "2026-01-07 17:00"),
    ],
)
def test_a_year_boundary_and_new_years_day(opened: str, days: int, due: str) -> None:
    assert LIBRARY.due_at(wib(opened), days) == utc(due)


def test_working_days_between_across_a_year_boundary() -> None:
    # Wed 31 Dec 2025, Fri 2 Jan and Mon 5 Jan 2026.
    assert LIBRARY.working_days_between(wib("2025-12-30 10:00"), wib("2026-01-05 12:00")) == 3


def test_days_off_and_working_days_correct_the_library() -> None:
    calendar = WorkCalendar(
        days_off=frozenset({date(2026, 2, 9)}), working_days=frozenset({date(2026, 3, 24)})
    )
    assert not calendar.is_working_day(date(2026, 2, 9))
    assert calendar.is_working_day(date(2026, 3, 24))
    # Mon 9 Feb is off: the first working day after Fri 6 Feb is Tue 10 Feb.
    assert calendar.due_at(wib("2026-02-06 10:00"), 1) == utc("2026-02-10 17:00")
    # Tue 24, Wed 25, Thu 26, Fri 27, Mon 30 March: due 00:00 WIB Tue 31 March.
    assert calendar.due_at(wib("2026-03-19 10:00"), 5) == utc("2026-03-30 17:00")
    assert calendar.working_days_between(wib("2026-02-06 10:00"), wib("2026-02-10 10:00")) == 1


def test_working_days_do_not_turn_a_weekend_into_a_working_day() -> None:
    assert not WorkCalendar(working_days=frozenset({date(2026, 3, 21)})).is_working_day(
        date(2026, 3, 21)
    )


def test_a_date_both_off_and_working_is_refused() -> None:
    day = frozenset({date(2026, 3, 24)})
    with pytest.raises(ValueError, match="both off and working"):
        WorkCalendar(days_off=day, working_days=day)


def test_the_wib_date_counts_not_the_utc_date() -> None:
    # Both moments are on 5 February in UTC, but on Thu 5 and Fri 6 February in WIB.
    late_thursday = utc("2026-02-05 16:30")  # 23:30 WIB Thu
    early_friday = utc("2026-02-05 17:30")  # 00:30 WIB Fri
    assert LIBRARY.due_at(late_thursday, 1) == utc("2026-02-06 17:00")  # 00:00 WIB Sat 7 Feb
    assert LIBRARY.due_at(early_friday, 1) == utc("2026-02-09 17:00")  # 00:00 WIB Tue 10 Feb
    answered = wib("2026-02-06 01:00")
    assert LIBRARY.working_days_between(late_thursday, answered) == 1
    assert LIBRARY.working_days_between(early_friday, answered) == 0


def test_due_at_is_in_utc_whatever_the_zone_of_opened_at() -> None:
    due = LIBRARY.due_at(wib("2026-02-06 10:00"), 1)
    assert due.utcoffset() == timedelta(0)
    assert due == LIBRARY.due_at(utc("2026-02-06 03:00"), 1)


def test_zero_working_days_is_due_at_the_next_midnight() -> None:
    assert LIBRARY.due_at(wib("2026-02-06 14:00"), 0) == utc("2026-02-06 17:00")
    with pytest.raises(ValueError, match="at least 0"):
        LIBRARY.due_at(wib("2026-02-06 14:00"), -1)


def test_a_same_day_or_earlier_answer_is_zero_working_days() -> None:
    opened = wib("2026-02-09 08:00")
    assert LIBRARY.working_days_between(opened, wib("2026-02-09 23:59")) == 0
    assert LIBRARY.working_days_between(opened, wib("2026-02-04 10:00")) == 0


def test_naive_datetimes_are_refused() -> None:
    naive = datetime(2026, 2, 6, 10, 0)
    with pytest.raises(ValueError, match="no time zone"):
        LIBRARY.due_at(naive, 5)
    with pytest.raises(ValueError, match="no time zone"):
        LIBRARY.working_days_between(wib("2026-02-06 10:00"), naive)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "calendar.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_load_calendar_reads_both_lists(tmp_path: Path) -> None:
    path = write(
        tmp_path, 'days_off:\n  - 2026-12-31\n  - "2026-02-09"\nworking_days: [2026-03-24]\n'
    )
    assert load_calendar(path) == WorkCalendar(
        days_off=frozenset({date(2026, 12, 31), date(2026, 2, 9)}),
        working_days=frozenset({date(2026, 3, 24)}),
    )


@pytest.mark.parametrize("text", ["", "# nothing yet\n", "days_off:\nworking_days: []\n"])
def test_an_empty_calendar_changes_nothing(tmp_path: Path, text: str) -> None:
    assert load_calendar(write(tmp_path, text)) == WorkCalendar()


def test_the_bundled_calendar_loads() -> None:
    assert load_calendar(ROOT / "deploy" / "calendar.yaml") == WorkCalendar()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("days_of: [2026-12-31]\n", "unknown key(s) ['days_of']; only 'days_off' and"),
        ("- 2026-12-31\n", "expected a mapping with optional 'days_off' and 'working_days'"),
        ("days_off: 2026-12-31\n", "days_off: expected a list of dates"),
        (
            "days_off: [2026-12-31, 2026-02-30]\n",
            "days_off[1]: '2026-02-30' is not a date; write it as YYYY-MM-DD",
        ),
        ("working_days: [2026-3-24]\n", "working_days[0]: '2026-3-24' is not a date"),
        ("working_days: [20260324]\n", "working_days[0]: 20260324 is not a date"),
        ("days_off: ['2026-12-31T00:00']\n", "days_off[0]: '2026-12-31T00:00' is not a date"),
        (
            "days_off: [2026-12-31, '2026-12-31']\n",
            "days_off[1]: 2026-12-31 is listed twice; remove one",
        ),
        (
            "working_days: [2026-03-21]\n",
            "working_days: 2026-03-21 is a Saturday; weekends are never working days",
        ),
        (
            "days_off: [2026-03-24]\nworking_days: [2026-03-24]\n",
            "2026-03-24 is in both days_off and working_days",
        ),
        ("days_off: [2026-12-31\n", "not valid YAML at line 2, column 1"),
    ],
)
def test_load_calendar_errors_name_the_file_and_the_entry(
    tmp_path: Path, text: str, message: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(CalendarError) as info:
        load_calendar(path)
    assert str(info.value).startswith(f"{path}: ")
    assert message in str(info.value)


def test_a_missing_calendar_file_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(CalendarError, match="calendar file not found; set ADUAN_CALENDAR"):
        load_calendar(tmp_path / "missing.yaml")
