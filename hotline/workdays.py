"""Working-day arithmetic on China's official calendar, for ticket due times.

A complaint gets an answer within 2 working days (DOMAIN.md). Which days are working days
follows the State Council's yearly holiday arrangement, including weekend days made working
days (调休). The pinned ``chinesecalendar`` package (import ``chinese_calendar``) decides that;
nothing here checks weekdays by itself. It covers the years its release ships data for
(1.11.0: 2004–2026). For a year it does not cover, the operator can give the State Council's
arrangement in a calendar file (:func:`load_calendar_file`, ``HOTLINE_CALENDAR_FILE``) until a
release has it; any other date raises :class:`CalendarNotCovered` — upgrade the package when
the State Council publishes the next year's arrangement (usually in November).

Rules (repeated in ``docs/regions.md``, section "Working days"):

- Calendar days are **China days** (UTC+8, no daylight saving). A naive datetime is taken as
  China local time; an aware one is judged by its China-local date and the result is given
  back in the caller's time zone.
- :func:`add_working_days` — created on a working day at time *t*: due on the *n*-th working
  day after it, at *t*. Created on a weekend or holiday: the clock starts at 00:00 of the next
  working day, so the due time is 00:00 of the *n*-th working day after that one (the ticket
  gets *n* whole working days). ``n == 0`` gives the start of the clock.
- :func:`working_days_between` — the number of working days after ``a``'s day up to and
  including ``b``'s day (negative when ``b`` is before ``a``); so for a working-day start,
  ``working_days_between(a, add_working_days(a, n)) == n``.
"""

from __future__ import annotations

import datetime as dt
import logging
import tomllib
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

import chinese_calendar

from hotline.errors import ConfigurationError

__all__ = [
    "CALENDAR_VERSION",
    "CHINA_TZ",
    "CalendarNotCovered",
    "add_working_days",
    "assume_weekdays",
    "china_date",
    "china_minute",
    "is_working_day",
    "load_calendar_file",
    "next_working_day",
    "working_days_between",
]

#: China Standard Time; China has not used daylight saving since 1991.
CHINA_TZ = dt.timezone(dt.timedelta(hours=8), "CST")
CALENDAR_VERSION: str = getattr(chinese_calendar, "__version__", "unknown")
_ONE_DAY = dt.timedelta(days=1)
log = logging.getLogger(__name__)

_SUPPLEMENT: dict[int, tuple[frozenset[dt.date], frozenset[dt.date]]] = {}
"""Per year the package does not cover: its days off and its weekend working days (调休), from
the operator's calendar file (:func:`load_calendar_file`)."""


def _package_years() -> list[int]:
    """The years the installed ``chinesecalendar`` has data for."""
    return sorted({d.year for d in chinese_calendar.holidays})


class CalendarNotCovered(ConfigurationError):
    """A date outside the years the installed ``chinesecalendar`` release has data for.

    ``args`` is ``(day,)``, so the error can be rebuilt from them, as pickle and SimPy (which
    re-raises a process's error as ``type(exc)(*exc.args)``) do."""

    def __init__(self, day: dt.date) -> None:
        super().__init__(day)
        self.day = day

    def __str__(self) -> str:
        years = _package_years()
        span = f"{years[0]}–{years[-1]}" if years else "none"
        return (
            f"the official calendar of {self.day.isoformat()} is not known to chinesecalendar "
            f"{CALENDAR_VERSION} (covers {span}); upgrade the pinned package, or give the "
            f"year's official arrangement in a calendar file (HOTLINE_CALENDAR_FILE, "
            f"docs/regions.md)"
        )


def assume_weekdays(years: Iterable[int]) -> list[int]:
    """For each of ``years`` that neither the package nor the calendar file covers, take
    Monday–Friday as the working days, without holidays or 调休: a stand-in for a simulation
    (``hotline simulate --unknown-years weekdays``), never for real tickets. Returns the years
    it stood in for."""
    stood_in = []
    for year in years:
        try:
            _is_workday(dt.date(year, 1, 1))
        except CalendarNotCovered:
            _SUPPLEMENT[year] = (frozenset(), frozenset())
            stood_in.append(year)
    _is_workday.cache_clear()
    return stood_in


def load_calendar_file(path: Path) -> list[int]:
    """Take the official arrangement of each year in ``path`` (TOML: a ``[YYYY]`` table with
    ``holidays``, the days off, and ``workdays``, the weekend days made working days; each a
    list of dates and ``[first, last]`` ranges) that the package does not cover; a year it
    covers is left to it, with a warning. Replaces what an earlier call took; returns the
    years taken. Raises :class:`ConfigurationError` naming the file and what is wrong."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigurationError(f"calendar file {path}: cannot be read ({exc})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"calendar file {path}: not valid TOML ({exc})") from None
    covered = set(_package_years())
    taken: dict[int, tuple[frozenset[dt.date], frozenset[dt.date]]] = {}
    for key, table in data.items():
        where = f"calendar file {path}, [{key}]"
        if not (len(key) == 4 and key.isdigit() and isinstance(table, dict)):
            raise ConfigurationError(f"{where}: expected a table per year, [YYYY]")
        if unknown := sorted(set(table) - {"holidays", "workdays"}):
            raise ConfigurationError(f"{where}: unknown key {unknown[0]!r} (holidays, workdays)")
        year = int(key)
        off = _days(table.get("holidays", []), year, f"{where} holidays")
        on = _days(table.get("workdays", []), year, f"{where} workdays")
        if not off:
            raise ConfigurationError(f"{where}: no holidays (every year has New Year's Day)")
        if both := sorted(off & on):
            raise ConfigurationError(f"{where}: {both[0]} is both a holiday and a workday")
        if weekdays := sorted(d for d in on if d.weekday() < 5):
            raise ConfigurationError(
                f"{where}: workdays are weekend days made working days (调休); "
                f"{weekdays[0]} is a weekday"
            )
        if year in covered:
            log.warning("%s: ignored, chinesecalendar %s has the year", where, CALENDAR_VERSION)
            continue
        taken[year] = (frozenset(off), frozenset(on))
    _SUPPLEMENT.clear()
    _SUPPLEMENT.update(taken)
    _is_workday.cache_clear()
    log.info("calendar file %s: the official arrangement of %s", path, sorted(taken) or "no year")
    return sorted(taken)


def _days(items: object, year: int, where: str) -> set[dt.date]:
    """The dates of a calendar file's list: dates and ``[first, last]`` ranges, all in ``year``."""
    if not isinstance(items, list):
        raise ConfigurationError(f"{where}: expected a list of dates")
    days: set[dt.date] = set()
    for item in items:
        ends = item if isinstance(item, list) else [item, item]
        if len(ends) != 2 or not all(_is_date(e) for e in ends) or ends[0] > ends[1]:
            raise ConfigurationError(
                f"{where}: {item!r} is neither a date (2027-01-01) nor a range "
                f"([2027-02-06, 2027-02-12])"
            )
        first, last = ends
        if first.year != year or last.year != year:
            raise ConfigurationError(f"{where}: {item!r} is not in {year}")
        days.update(first + dt.timedelta(days=i) for i in range((last - first).days + 1))
    return days


def _is_date(value: object) -> bool:
    """A TOML local date (not a date-time, which is a ``datetime`` subclass of ``date``)."""
    return isinstance(value, dt.date) and not isinstance(value, dt.datetime)


def china_date(moment: dt.date | dt.datetime) -> dt.date:
    """The China-local calendar day of ``moment`` (naive datetimes are China local time)."""
    if isinstance(moment, dt.datetime):
        if moment.tzinfo is not None:
            moment = moment.astimezone(CHINA_TZ)
        return moment.date()
    return moment


def china_minute(moment: dt.datetime) -> str:
    """``moment`` as users read it: China time to the minute (``2025-02-10 15:00``)."""
    return moment.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M")


def is_working_day(day: dt.date | dt.datetime) -> bool:
    """True if ``day`` is an official working day (incl. 调休 weekend days)."""
    return _is_workday(china_date(day))


@lru_cache(maxsize=8192)
def _is_workday(d: dt.date) -> bool:
    """``chinese_calendar.is_workday``, remembered per day (~0.1 ms a call uncached; the ticket
    due rule asks for the same few days over and over); for a year it does not cover, the
    calendar file's arrangement (:func:`load_calendar_file`). Errors are not remembered."""
    try:
        return bool(chinese_calendar.is_workday(d))
    except NotImplementedError:
        arrangement = _SUPPLEMENT.get(d.year)
        if arrangement is None:
            raise CalendarNotCovered(d) from None
    off, on = arrangement
    return d in on or (d.weekday() < 5 and d not in off)


def next_working_day(day: dt.date | dt.datetime) -> dt.date:
    """The first working day strictly after ``day``."""
    d = china_date(day) + _ONE_DAY
    while not is_working_day(d):
        d += _ONE_DAY
    return d


def add_working_days(start: dt.datetime, n: int) -> dt.datetime:
    """The due time ``n`` working days after ``start`` (rules in the module docstring)."""
    if n < 0:
        raise ValueError(f"n must be zero or positive, not {n}")
    local = start.astimezone(CHINA_TZ) if start.tzinfo is not None else start
    day = local.date()
    if is_working_day(day):
        clock = local
    else:
        day = next_working_day(day)
        clock = dt.datetime.combine(day, dt.time(0), tzinfo=local.tzinfo)
    for _ in range(n):
        day = next_working_day(day)
    due = dt.datetime.combine(day, clock.timetz())
    return due.astimezone(start.tzinfo) if start.tzinfo is not None else due


def working_days_between(a: dt.date | dt.datetime, b: dt.date | dt.datetime) -> int:
    """Working days after ``a``'s day up to and including ``b``'s day; negative if b < a."""
    first, last = china_date(a), china_date(b)
    sign = 1
    if last < first:
        first, last, sign = last, first, -1
    count = 0
    d = first + _ONE_DAY
    while d <= last:
        count += is_working_day(d)
        d += _ONE_DAY
    return sign * count
