"""Working days on the official calendar: real 2025/2026 holiday arrangements."""

from __future__ import annotations

import datetime as dt
import logging
import pickle
from collections.abc import Iterator
from pathlib import Path

import chinese_calendar
import pytest

from hotline import workdays
from hotline.errors import ConfigurationError
from hotline.workdays import (
    CHINA_TZ,
    CalendarNotCovered,
    add_working_days,
    is_working_day,
    load_calendar_file,
    next_working_day,
    working_days_between,
)

D = dt.date
T = dt.datetime


# -- is_working_day: 调休 and holidays ------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "working"),
    [
        # National Day + Mid-Autumn 2025: 10-01..10-08 off; Sun 09-28 and Sat 10-11 worked.
        (D(2025, 9, 27), False),  # ordinary Saturday
        (D(2025, 9, 28), True),  # Sunday made a working day
        (D(2025, 10, 1), False),
        (D(2025, 10, 6), False),  # Monday inside the golden week
        (D(2025, 10, 8), False),
        (D(2025, 10, 9), True),
        (D(2025, 10, 11), True),  # Saturday made a working day
        (D(2025, 10, 12), False),
        # Spring Festival 2026: 02-15..02-23 off; Sat 02-14 and Sat 02-28 worked.
        (D(2026, 2, 14), True),
        (D(2026, 2, 16), False),  # Monday, 除夕
        (D(2026, 2, 17), False),  # 春节
        (D(2026, 2, 23), False),  # Monday, last day off
        (D(2026, 2, 24), True),
        (D(2026, 2, 28), True),
        # National Day 2026: 10-01..10-07 off; Sun 09-20 and Sat 10-10 worked.
        (D(2026, 9, 20), True),
        (D(2026, 10, 7), False),
        (D(2026, 10, 10), True),
        (D(2026, 1, 4), True),  # Sunday after New Year 2026
    ],
)
def test_official_calendar(day: dt.date, working: bool) -> None:
    assert is_working_day(day) is working


# -- add_working_days -----------------------------------------------------------------------


def test_created_on_a_working_day_keeps_the_time_of_day() -> None:
    # Tue 2025-09-30 10:00, 2 working days: Thu 10-09 (1), Fri 10-10 (2).
    assert add_working_days(T(2025, 9, 30, 10), 2) == T(2025, 10, 10, 10)
    # Fri 2025-10-10, 1 working day: the 调休 Saturday.
    assert add_working_days(T(2025, 10, 10, 9, 30), 1) == T(2025, 10, 11, 9, 30)
    # Ordinary week: Mon → Wed.
    assert add_working_days(T(2025, 11, 3, 16, 45), 2) == T(2025, 11, 5, 16, 45)


def test_spring_festival_2026() -> None:
    # Fri 02-13 15:00: Sat 02-14 (调休, 1), Tue 02-24 (2).
    assert add_working_days(T(2026, 2, 13, 15), 2) == T(2026, 2, 24, 15)
    # Sat 02-14 is itself a working day.
    assert add_working_days(T(2026, 2, 14, 11), 2) == T(2026, 2, 25, 11)


def test_created_on_a_holiday_or_weekend_starts_at_the_next_working_day() -> None:
    # 2025-10-03 (holiday) → clock starts Thu 10-09 00:00; +2 → Sat 10-11 00:00 (调休).
    assert add_working_days(T(2025, 10, 3, 20), 2) == T(2025, 10, 11, 0)
    # Ordinary Saturday 2025-09-27 → the 调休 Sunday 09-28 00:00 starts the clock.
    assert add_working_days(T(2025, 9, 27, 10), 0) == T(2025, 9, 28, 0)
    assert add_working_days(T(2025, 9, 27, 10), 2) == T(2025, 9, 30, 0)
    # 除夕 2026-02-16 → Tue 02-24 00:00; +2 → Thu 02-26 00:00.
    assert add_working_days(T(2026, 2, 16, 8), 2) == T(2026, 2, 26, 0)


@pytest.mark.parametrize(
    ("start", "due"),
    [
        # Wed 2026-09-30 17:30, the eve of National Day (10-01..10-07 off): Thu 10-08 (1),
        # Fri 10-09 (2).
        (T(2026, 9, 30, 17, 30), T(2026, 10, 9, 17, 30)),
        # Fri 2026-10-09 17:30: Sat 10-10 is a 调休 working day (1), Sun off, Mon 10-12 (2).
        (T(2026, 10, 9, 17, 30), T(2026, 10, 12, 17, 30)),
        # Created on the 调休 Saturday itself: Mon 10-12 (1), Tue 10-13 (2).
        (T(2026, 10, 10, 17, 30), T(2026, 10, 13, 17, 30)),
        # Mid-Autumn Fri 2026-09-25 (a holiday): the clock starts Mon 09-28 00:00.
        (T(2026, 9, 25, 17, 30), T(2026, 9, 30, 0, 0)),
        # Labour Day 2026 (05-01..05-05 off, Sat 05-09 worked), either side of midnight.
        (T(2026, 4, 30, 23, 59), T(2026, 5, 7, 23, 59)),
        (T(2026, 5, 1, 0, 30), T(2026, 5, 8, 0, 0)),
    ],
)
def test_two_working_days_around_the_2026_holidays(start: dt.datetime, due: dt.datetime) -> None:
    assert add_working_days(start, 2) == due


def test_a_utc_moment_just_before_china_midnight_is_the_next_china_day() -> None:
    # 2026-04-30 16:30 UTC is 05-01 00:30 in China, a holiday (not the working 04-30).
    start = T(2026, 4, 30, 16, 30, tzinfo=dt.UTC)
    assert add_working_days(start, 2) == T(2026, 5, 7, 16, 0, tzinfo=dt.UTC)  # 05-08 00:00 CST
    assert add_working_days(start - dt.timedelta(minutes=31), 2) == T(
        2026, 5, 7, 15, 59, tzinfo=dt.UTC
    )


def test_zero_and_negative() -> None:
    assert add_working_days(T(2025, 9, 30, 10), 0) == T(2025, 9, 30, 10)
    with pytest.raises(ValueError):
        add_working_days(T(2025, 9, 30, 10), -1)


def test_aware_datetimes_use_china_days() -> None:
    utc = dt.UTC
    # 2025-09-30 20:00 UTC is 10-01 04:00 in China: a holiday.
    start = T(2025, 9, 30, 20, tzinfo=utc)
    due = add_working_days(start, 1)
    assert due.tzinfo is utc
    assert due.astimezone(CHINA_TZ) == T(2025, 10, 10, 0, tzinfo=CHINA_TZ)
    # 2025-09-30 01:00 UTC is 09:00 the same day in China: a working day.
    due = add_working_days(T(2025, 9, 30, 1, tzinfo=utc), 2)
    assert due == T(2025, 10, 10, 1, tzinfo=utc)


# -- working_days_between -------------------------------------------------------------------


def test_working_days_between() -> None:
    assert working_days_between(D(2025, 9, 30), D(2025, 10, 10)) == 2
    assert working_days_between(D(2025, 10, 10), D(2025, 9, 30)) == -2
    assert working_days_between(D(2026, 2, 13), D(2026, 2, 24)) == 2
    assert working_days_between(D(2026, 2, 13), D(2026, 2, 13)) == 0
    # The whole golden week 2025 plus the weekends around it: 09-27 .. 10-12.
    assert working_days_between(D(2025, 9, 26), D(2025, 10, 12)) == 6  # 28,29,30, 9,10,11
    start = T(2025, 9, 30, 10)
    for n in range(8):
        assert working_days_between(start, add_working_days(start, n)) == n


def test_next_working_day() -> None:
    assert next_working_day(D(2025, 9, 30)) == D(2025, 10, 9)
    assert next_working_day(D(2026, 2, 13)) == D(2026, 2, 14)


# -- coverage -------------------------------------------------------------------------------


def test_dates_outside_the_library_raise_calendar_not_covered() -> None:
    with pytest.raises(CalendarNotCovered, match=r"2027-01-04.*chinesecalendar 1\.11\.0") as e:
        is_working_day(D(2027, 1, 4))
    assert isinstance(e.value, ConfigurationError)
    with pytest.raises(CalendarNotCovered, match="2003-12-31"):
        is_working_day(D(2003, 12, 31))
    # Running into an uncovered year while counting also raises.
    with pytest.raises(CalendarNotCovered, match="2027-01-01"):
        add_working_days(T(2026, 12, 30, 9), 3)


def test_calendar_not_covered_is_rebuilt_from_its_args() -> None:
    """SimPy re-raises a process's error as ``type(exc)(*exc.args)``, pickle likewise: the
    rebuilt error keeps its message (it used to fail with an AttributeError instead)."""
    with pytest.raises(CalendarNotCovered) as e:
        is_working_day(D(2031, 3, 3))
    for copy in (type(e.value)(*e.value.args), pickle.loads(pickle.dumps(e.value))):
        assert isinstance(copy, CalendarNotCovered) and copy.day == D(2031, 3, 3)
        assert str(copy) == str(e.value) and "2031-03-03" in str(copy)


# -- the calendar file: years the package does not cover ------------------------------------


@pytest.fixture
def no_file_taken(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """What a test's calendar file adds is gone after it (and so are the days remembered)."""
    monkeypatch.setattr(workdays, "_SUPPLEMENT", {})
    workdays._is_workday.cache_clear()
    yield
    workdays._is_workday.cache_clear()


_A_2027 = """
# not the real 2027 arrangement: a made-up one, for the rules
[2027]
holidays = [[2027-01-01, 2027-01-03], 2027-02-08]
workdays = [2027-01-09]
"""


def test_a_calendar_file_gives_an_uncovered_year(tmp_path: Path, no_file_taken: None) -> None:
    path = tmp_path / "calendar.toml"
    path.write_text(_A_2027)
    assert load_calendar_file(path) == [2027]
    assert not is_working_day(D(2027, 1, 1))  # a holiday (Friday)
    assert not is_working_day(D(2027, 1, 3))  # a holiday (Sunday)
    assert is_working_day(D(2027, 1, 4))  # a Monday
    assert is_working_day(D(2027, 1, 9))  # a Saturday made a working day
    assert not is_working_day(D(2027, 1, 10))  # a Sunday
    assert not is_working_day(D(2027, 2, 8))  # a Monday off
    # across the year's end: Thu 2026-12-31 (the package's) + 2 = Tue 2027-01-05
    assert add_working_days(T(2026, 12, 31, 9), 2) == T(2027, 1, 5, 9)
    with pytest.raises(CalendarNotCovered, match="HOTLINE_CALENDAR_FILE"):
        is_working_day(D(2028, 1, 3))  # a year the file does not have


def test_the_file_states_a_real_year_exactly(
    tmp_path: Path, no_file_taken: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """2026 as the package has it, written as a calendar file and read as if the package did
    not cover it, gives the package's answer on every day of the year."""
    year = [D(2026, 1, 1) + dt.timedelta(days=i) for i in range(365)]
    truth = {d: bool(chinese_calendar.is_workday(d)) for d in year}
    off = sorted(d for d in chinese_calendar.holidays if d.year == 2026)
    on = sorted(d for d in chinese_calendar.workdays if d.year == 2026 and d.weekday() >= 5)
    path = tmp_path / "calendar.toml"
    path.write_text(f"[2026]\nholidays = [{', '.join(map(str, off))}]\n"
                    f"workdays = [{', '.join(map(str, on))}]\n")  # fmt: skip

    def not_covered(day: dt.date) -> bool:
        raise NotImplementedError

    monkeypatch.setattr(workdays, "_package_years", lambda: [])
    monkeypatch.setattr(chinese_calendar, "is_workday", not_covered)
    assert load_calendar_file(path) == [2026]
    assert {d: is_working_day(d) for d in year} == truth


def test_a_year_the_package_covers_is_left_to_it(
    tmp_path: Path, no_file_taken: None, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "calendar.toml"
    path.write_text("[2026]\nholidays = [2026-03-02]\n")  # a Monday, not off in 2026
    with caplog.at_level(logging.WARNING, logger="hotline.workdays"):
        assert load_calendar_file(path) == []
    assert is_working_day(D(2026, 3, 2))
    assert "[2026]: ignored, chinesecalendar 1.11.0 has the year" in caplog.text


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("[2027\n", "not valid TOML"),
        ("holidays = [2027-01-01]\n", "expected a table per year"),
        ("[twenty]\nholidays = [2027-01-01]\n", "expected a table per year"),
        ("[2027]\nholiday = [2027-01-01]\n", "unknown key 'holiday'"),
        ("[2027]\nworkdays = [2027-01-09]\n", "no holidays"),
        ("[2027]\nholidays = 2027-01-01\n", "expected a list of dates"),
        ("[2027]\nholidays = ['2027-01-01']\n", "'2027-01-01' is neither a date"),
        ("[2027]\nholidays = [2027-01-01T08:00:00]\n", "is neither a date"),
        ("[2027]\nholidays = [[2027-01-03, 2027-01-01]]\n", "is neither a date"),
        ("[2027]\nholidays = [2028-01-01]\n", "is not in 2027"),
        ("[2027]\nholidays = [2027-01-09]\nworkdays = [2027-01-09]\n", "both a holiday"),
        ("[2027]\nholidays = [2027-01-01]\nworkdays = [2027-01-08]\n", "2027-01-08 is a weekday"),
    ],
)
def test_a_wrong_calendar_file_is_a_clear_error(
    tmp_path: Path, no_file_taken: None, text: str, says: str
) -> None:
    path = tmp_path / "calendar.toml"
    path.write_text(text)
    with pytest.raises(ConfigurationError, match=f"calendar file {path}") as e:
        load_calendar_file(path)
    assert says in str(e.value)
    with pytest.raises(ConfigurationError, match="cannot be read"):
        load_calendar_file(tmp_path / "missing.toml")
