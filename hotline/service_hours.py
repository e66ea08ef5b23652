"""A center's human-service hours: windows of the China-local day, on working days or every day.

The simulator staffs its centers by them (``--service-hours``); the stream worker's alerts
judge silence by them (docs/streams.md, "Alerts"). A window is ``(start, end)`` in minutes
since China-local midnight, end exclusive; ``(0, 1440)`` is 00:00–24:00.
"""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime
from typing import Literal

from hotline.errors import ConfigurationError
from hotline.workdays import CHINA_TZ, CalendarNotCovered, is_working_day

__all__ = [
    "DAY_MINUTES",
    "ServiceHours",
    "format_service_hours",
    "in_service",
    "parse_service_hours",
    "window_gaps",
]

ServiceHours = tuple[tuple[int, int], ...]
DAY_MINUTES = 24 * 60
_WINDOW = re.compile(r"(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})")


def parse_service_hours(text: str) -> ServiceHours:
    """``HH:MM-HH:MM[,HH:MM-HH:MM…]`` (China time, ``24:00`` allowed as an end) → windows, in
    time order and not overlapping; :class:`ConfigurationError` naming the wrong part."""
    windows: list[tuple[int, int]] = []
    for raw in text.split(","):
        match = _WINDOW.fullmatch(raw.strip())
        if match is None:
            raise ConfigurationError(f"service hours {raw.strip()!r}: expected HH:MM-HH:MM")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if m1 > 59 or m2 > 59 or not 0 <= start < end <= DAY_MINUTES:
            raise ConfigurationError(
                f"service hours {raw.strip()!r}: a window is HH:MM-HH:MM within 00:00-24:00, "
                "start before end"
            )
        windows.append((start, end))
    if any(gap < 0 for gap in window_gaps(windows)[:-1]):
        raise ConfigurationError(f"service hours {text!r}: windows in time order, no overlap")
    return tuple(windows)


def window_gaps(windows: ServiceHours | list[tuple[int, int]]) -> list[int]:
    """Minutes from each window's end to the next one's start; the last to the next day's
    first window."""
    gaps = [b[0] - a[1] for a, b in itertools.pairwise(windows)]
    gaps.append(windows[0][0] + DAY_MINUTES - windows[-1][1])
    return gaps


def format_service_hours(windows: ServiceHours) -> list[str]:
    """``["08:30-12:00", "00:00-24:00"]`` for windows in minutes."""
    return [f"{s // 60:02d}:{s % 60:02d}-{e // 60:02d}:{e % 60:02d}" for s, e in windows]


def in_service(
    at_ms: int, windows: ServiceHours, days: Literal["working", "every"] = "working"
) -> bool:
    """Whether the moment ``at_ms`` (epoch ms) lies in a window of its China-local day, on a
    working day of China's calendar (``days="working"``) or on any day. A day the calendar
    does not cover counts Monday to Friday."""
    local = datetime.fromtimestamp(at_ms / 1000, UTC).astimezone(CHINA_TZ)
    if days == "working":
        try:
            working = is_working_day(local.date())
        except CalendarNotCovered:
            working = local.weekday() < 5
        if not working:
            return False
    minute = local.hour * 60 + local.minute
    return any(start <= minute < end for start, end in windows)
