"""Time ranges of the dashboards and the grain (table) each one reads.

============  =========================================  ======================
range         bounds (China time, end exclusive)          grain (table)
============  =========================================  ======================
``live``      the last ``live_minutes`` whole minutes      minute (metric_minute)
``today``     today 00:00 → tomorrow 00:00                 hour (metric_hour)
``7d``        6 days ago 00:00 → tomorrow 00:00            day (metric_day)
``month``     the 1st of this month → the 1st of the next  day (metric_day)
``year``      1 January → next 1 January                   month (metric_month)
``custom``    ``from`` 00:00 → the day after ``to``         hour ≤ 2 days; month when
                                                            whole months over 92 days;
                                                            else day
============  =========================================  ======================

Every bucket of a grain lies wholly inside the bounds, so sums are exact (no partial buckets).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from hotline.errors import InvalidInput

CHINA = ZoneInfo("Asia/Shanghai")
RangeKind = Literal["live", "today", "7d", "month", "year", "custom"]
Grain = Literal["minute", "hour", "day", "month"]
RANGES: tuple[RangeKind, ...] = ("live", "today", "7d", "month", "year", "custom")
RANGE_LABELS = {
    "live": "实时",
    "today": "今日",
    "7d": "近7天",
    "month": "本月",
    "year": "本年",
    "custom": "自定义",
}
GRAIN_LABELS = {"minute": "分钟", "hour": "小时", "day": "日", "month": "月"}
MAX_CUSTOM_DAYS = 3 * 366
#: The China days whose bounds ClickHouse's ``DateTime`` (1970-01-01 to 2106-02-07 UTC) holds:
#: outside them ``toDateTime`` saturates (a range of 1900 would read 1970) or Python overflows.
FIRST_DAY, LAST_DAY = date(1970, 1, 2), date(2105, 12, 31)


@dataclass(frozen=True, slots=True)
class TimeRange:
    kind: RangeKind
    grain: Grain
    start: datetime  # aware, China time, inclusive
    end: datetime  # aware, China time, exclusive

    @property
    def label(self) -> str:
        last = self.end - (timedelta(minutes=1) if self.grain == "minute" else timedelta(days=1))
        if self.kind == "live":
            span = f"{self.start:%Y-%m-%d %H:%M}–{self.end:%H:%M}"
        elif self.kind == "today" or self.start.date() == last.date():
            span = f"{self.start:%Y-%m-%d}"
        else:
            span = f"{self.start:%Y-%m-%d}至{last:%Y-%m-%d}"
        return f"{RANGE_LABELS[self.kind]}（{span}，按{GRAIN_LABELS[self.grain]}）"

    @property
    def slug(self) -> str:
        """The span for a file name: ``20250303``, ``20250225-20250303``, or for minutes
        ``20250303-0931-1030`` (first and last bucket)."""
        if self.grain == "minute":
            return f"{self.start:%Y%m%d-%H%M}-{self.end - timedelta(minutes=1):%H%M}"
        last = self.end - timedelta(days=1)
        if self.start.date() == last.date():
            return f"{self.start:%Y%m%d}"
        return f"{self.start:%Y%m%d}-{last:%Y%m%d}"

    @property
    def start_ts(self) -> int:
        return int(self.start.timestamp())

    @property
    def end_ts(self) -> int:
        return int(self.end.timestamp())

    def buckets(self) -> list[str]:
        """Every bucket of the grain in the range, as the series label it (China time,
        ``YYYY-MM-DD HH:MM``): a curve's axis, with the buckets that have no row too."""
        step = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1)}.get(self.grain)
        out, at = [], self.start
        while at < self.end:
            out.append(f"{at:%Y-%m-%d %H:%M}")
            if step is not None:  # minutes and hours: instants (China has no DST)
                at += step
            elif self.grain == "day":
                at = _midnight(at.date() + timedelta(days=1))
            else:
                at = _midnight((at.date() + timedelta(days=32)).replace(day=1))
        return out

    def as_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "grain": self.grain,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "label": self.label,
            "slug": self.slug,
        }


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=CHINA)


def _parse_day(text: str | None, name: str) -> date:
    """The date of query parameter ``name`` (named as the request names it)."""
    if not text:
        raise InvalidInput(f"缺少参数 {name}（日期，格式 YYYY-MM-DD）")
    try:
        day = date.fromisoformat(text)
    except ValueError as exc:
        raise InvalidInput(f"参数 {name} 须为日期，格式 YYYY-MM-DD，收到 {text!r}") from exc
    if not FIRST_DAY <= day <= LAST_DAY:
        raise InvalidInput(
            f"参数 {name} 须在 {FIRST_DAY} 至 {LAST_DAY} 之间（ClickHouse 的时间范围），收到 {day}"
        )
    return day


def resolve(
    kind: str,
    now: datetime,
    *,
    from_: str | None = None,
    to: str | None = None,
    live_minutes: int = 60,
    names: tuple[str, str] = ("from", "to"),
) -> TimeRange:
    """The bounds and grain of range ``kind`` at ``now`` (aware); InvalidInput if unusable.

    ``names`` are the query parameters ``from_`` and ``to`` came from, for the messages
    (``/api/compare`` reads two periods, ``a_from``/``a_to`` and ``b_from``/``b_to``).
    """
    local = now.astimezone(CHINA)
    today = local.date()
    if kind == "live":
        end = local.replace(second=0, microsecond=0) + timedelta(minutes=1)
        return TimeRange("live", "minute", end - timedelta(minutes=live_minutes), end)
    if kind == "today":
        start = _midnight(today)
        return TimeRange("today", "hour", start, start + timedelta(days=1))
    if kind == "7d":
        end = _midnight(today + timedelta(days=1))
        return TimeRange("7d", "day", end - timedelta(days=7), end)
    if kind == "month":
        first = today.replace(day=1)
        following = (first + timedelta(days=32)).replace(day=1)
        return TimeRange("month", "day", _midnight(first), _midnight(following))
    if kind == "year":
        return TimeRange(
            "year",
            "month",
            _midnight(date(today.year, 1, 1)),
            _midnight(date(today.year + 1, 1, 1)),
        )
    if kind == "custom":
        from_name, to_name = names
        first, last = _parse_day(from_, from_name), _parse_day(to, to_name)
        if last < first:
            raise InvalidInput(f"时段结束早于开始：{to_name} {last} 在 {from_name} {first} 之前")
        days = (last - first).days + 1
        if days > MAX_CUSTOM_DAYS:
            raise InvalidInput(
                f"时段 {from_name}–{to_name} 共 {days} 天，最多 {MAX_CUSTOM_DAYS} 天"
            )
        after = last + timedelta(days=1)
        grain: Grain = "day"
        if days <= 2:
            grain = "hour"
        elif days > 92 and first.day == 1 and after.day == 1:
            grain = "month"
        return TimeRange("custom", grain, _midnight(first), _midnight(after))
    raise InvalidInput(f"参数 range 须为 {'、'.join(RANGES)} 之一，收到 {kind!r}")
