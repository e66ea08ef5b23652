"""Alerts: rules over a province group's facts → versioned :class:`~hotline.schemas.Alert`s.

Pure logic; time is what the caller passes (event-time watermarks, or broker timestamps for
dead letters), so every rule is tested with a hand-made clock. docs/streams.md ("Alerts")
lists the rules and their defaults (:class:`~hotline.streams.config.AlertsConfig`).

**Dedupe and ids.** Every alert has a ``dedupe_key`` naming what it is about
(``center_unreachable|C330200``, ``threshold|connection_rate|330000``,
``dangerous_call|<ticket id>`` …). :class:`AlertBook` holds at most one open alert per key:
raising an open key changes nothing (or escalates it: same alert, next version); a key opens a
new *episode* only after its previous alert closed. The alert id is a hash of
``dedupe_key#episode``, so a replay after a crash re-derives the same ids, and the closing
record is the same alert at a later version (a sink keeps the highest version).

**Hysteresis.** Windowed rules are evaluated at whole-minute window ends. A rule opens on
"bad" and closes only after "clear" (a stricter condition: threshold + margin, or an answered
call) held for ``hold`` without interruption — so a rate hovering at its threshold cannot
flap, and an open key never raises a second alert.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any

from hotline.schemas import Alert, AlertKind, CallRecord, Severity, TicketCategory, TicketRecord
from hotline.service_hours import in_service
from hotline.streams.config import CenterHours, StreamsConfig
from hotline.workdays import CHINA_TZ, CalendarNotCovered, china_minute, is_working_day

__all__ = [
    "AlertBook",
    "AlertEngine",
    "MinuteCounts",
    "Spell",
    "alert_id",
    "gap_record",
    "working_time_before",
]

_MIN = 60_000
#: Catch-up limit: after a long stop only the last hours of window ends are evaluated.
_MAX_CATCH_UP_MS = 6 * 3_600_000
_QUEUED, _ANSWERED, _IN_SL, _SHORT = range(4)
PROVISIONAL = 0
"""The version of an answered call's counts before its first record (records start at 1):
any record of the call replaces them (:meth:`AlertEngine.add_answered`)."""


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def _td(delta: timedelta) -> int:
    return int(delta.total_seconds() * 1000)


def alert_id(dedupe_key: str, episode: int) -> str:
    """The deterministic id of the ``episode``-th alert of ``dedupe_key``."""
    return "AL" + hashlib.sha256(f"{dedupe_key}#{episode}".encode()).hexdigest()[:24]


@dataclass(frozen=True, slots=True)
class Spell:
    """One time a ticket was open: from its creation or a reopen (with the due time that
    started then) to its first resolution or close after it (None: still open)."""

    opened_at: datetime
    due_at: datetime
    ended_at: datetime | None


def open_at(record: TicketRecord, at: datetime) -> bool:
    """Whether the ticket of ``record`` is open at ``at``: neither resolved nor closed by
    then (an end read ahead of ``at``, from a backlog, has not happened there yet)."""
    ends = [end for end in (record.resolved_at, record.closed_at) if end is not None]
    return not ends or min(ends) > at


def working_time_before(due: datetime, hours: float) -> datetime:
    """The moment with ``hours`` of working-day time left until ``due`` (China calendar:
    only time on working days counts, all 24 h of them, as the due-time rule counts days)."""
    left = timedelta(hours=hours)
    local = due.astimezone(CHINA_TZ)
    day, end = local.date(), local
    try:
        for _ in range(60):
            start = datetime.combine(day, time(0), CHINA_TZ)
            if is_working_day(day):
                if end - start >= left:
                    return (end - left).astimezone(due.tzinfo)
                left -= end - start
            day, end = day - timedelta(days=1), start
    except CalendarNotCovered:
        pass
    return due - timedelta(hours=hours)


def gap_record(gap: dict[str, Any], region_code: str) -> Alert:
    """One detected sequence gap as the record of ``hotline.sequence-gaps`` (an ``Alert`` of
    kind ``sequence_gap``, closed when reported: the events are declared lost)."""
    producer = f"{gap['center_id']}|{gap['producer_id']}"
    key = f"gap|{producer}|{gap['first_missing']}-{gap['last_missing']}"
    return Alert(
        alert_id=alert_id(key, 1),
        kind=AlertKind.SEQUENCE_GAP,
        severity=Severity.WARNING,
        region_code=region_code,
        center_id=gap["center_id"],
        opened_at=_dt(gap["noticed_at_ms"]),
        closed_at=_dt(gap["reported_at_ms"]),
        message=(
            f"producer {gap['producer_id']}: {gap['missing']} event(s) missing "
            f"(sequence {gap['first_missing']}..{gap['last_missing']})"
        ),
        dedupe_key=key,
        version=1,
    )


def _count_range(ranges: list[list[int]], gap: dict[str, Any]) -> int:
    """How many of ``gap``'s sequences are not in ``ranges`` yet (``[first, last, reported
    ms]``, disjoint, sorted); those are added (merged with the ranges they touch)."""
    lo, hi, at = gap["first_missing"], gap["last_missing"], gap["reported_at_ms"]
    uncovered = hi - lo + 1
    for r_lo, r_hi, _ in ranges:
        uncovered -= max(0, min(hi, r_hi) - max(lo, r_lo) + 1)
    if uncovered <= 0:
        return 0
    merged, kept = [lo, hi, at], []
    for r in ranges:
        if r[1] + 1 < lo or r[0] > hi + 1:
            kept.append(r)
        else:
            merged = [min(merged[0], r[0]), max(merged[1], r[1]), max(merged[2], r[2])]
    ranges[:] = sorted([*kept, merged])
    return uncovered


@dataclass(slots=True)
class _Entry:
    """One dedupe key: its episode count, last alert, and since when it has been clear."""

    episode: int = 0
    alert: Alert | None = None
    clear_since: int | None = None
    extra: int = 0
    """Sequence gaps: the events counted lost in this episode."""
    ranges: list[list[int]] = field(default_factory=list)
    """Sequence gaps: the ranges counted in this episode, ``[first, last, reported ms]``,
    disjoint and sorted, merged when they touch; those reported ``gap_quiet`` before the
    latest are forgotten (:meth:`AlertEngine.add_gaps`)."""
    silent_since: int | None = None
    """An unreachable center's open alert: since when no call of the center was seen (ms),
    said in its message once; None while its calls are seen."""
    in_hours: bool = False
    """An unreachable center's alert that its silence in service hours opened, and no queued
    call escalated since: its messages say "in its service hours"."""

    @property
    def open(self) -> bool:
        return self.alert is not None and self.alert.closed_at is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "ep": self.episode,
            "a": self.alert.model_dump_json() if self.alert is not None else None,
            "cs": self.clear_since,
            "x": self.extra,
            **({"g": self.ranges} if self.ranges else {}),
            **({"ss": self.silent_since} if self.silent_since is not None else {}),
            **({"ih": True} if self.in_hours else {}),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> _Entry:
        alert = Alert.model_validate_json(d["a"]) if d["a"] is not None else None
        return cls(
            d["ep"], alert, d["cs"], d.get("x", 0), d.get("g", []), d.get("ss"), d.get("ih", False)
        )


class AlertBook:
    """At most one open alert per dedupe key; opening, escalating and closing make versions.

    ``entries`` is a mutable mapping key → :class:`_Entry`; the shell swaps in a tracked dict
    and writes the dirty keys (``mark``) to its table."""

    def __init__(self) -> None:
        self.entries: dict[str, _Entry] = {}
        self.dirty: set[str] = set()

    def mark(self, key: str) -> None:
        self.dirty.add(key)

    def get(self, key: str) -> _Entry:
        entry = self.entries.get(key)
        if entry is None:
            entry = self.entries[key] = _Entry()
        return entry

    def raise_(
        self,
        key: str,
        kind: AlertKind,
        severity: Severity,
        region_code: str,
        center_id: str | None,
        at: datetime,
        message: str,
        update_message: bool = False,
    ) -> Alert | None:
        """Open ``key`` (a new episode) unless open; escalate an open alert's severity (and
        message), or with ``update_message`` its message alone (next version). The alert
        emitted, or None (nothing changed: an open key raises nothing)."""
        entry = self.get(key)
        if entry.clear_since is not None:
            entry.clear_since = None
            self.mark(key)
        if entry.open:
            assert entry.alert is not None
            if entry.alert.severity == severity and (
                not update_message or entry.alert.message == message
            ):
                return None
            entry.alert = entry.alert.model_copy(
                update={
                    "severity": severity,
                    "message": message,
                    "version": entry.alert.version + 1,
                }
            )
        else:
            entry.episode += 1
            entry.alert = Alert(
                alert_id=alert_id(key, entry.episode),
                kind=kind,
                severity=severity,
                region_code=region_code,
                center_id=center_id,
                opened_at=at,
                message=message,
                dedupe_key=key,
                version=1,
            )
        self.mark(key)
        return entry.alert

    def clear(
        self, key: str, at: datetime, hold: timedelta = timedelta(0), since: datetime | None = None
    ) -> Alert | None:
        """``key``'s condition is clear at ``at`` (clear since ``since`` if it was not yet:
        default ``at``); it closes once clear for ``hold``."""
        entry = self.entries.get(key)
        if entry is None or not entry.open:
            return None
        assert entry.alert is not None
        at_ms = _ms(at)
        if entry.clear_since is None:
            entry.clear_since = at_ms if since is None else _ms(since)
            self.mark(key)
        if at_ms - entry.clear_since < _td(hold):
            return None
        entry.alert = entry.alert.model_copy(
            update={"closed_at": max(at, entry.alert.opened_at), "version": entry.alert.version + 1}
        )
        entry.clear_since = None
        self.mark(key)
        return entry.alert

    def not_clear(self, key: str) -> None:
        """Neither bad nor clear: an open alert's hold starts again."""
        entry = self.entries.get(key)
        if entry is not None and entry.clear_since is not None:
            entry.clear_since = None
            self.mark(key)

    def forget(self, key: str) -> None:
        """Drop a closed key that cannot come back (its ticket was evicted)."""
        entry = self.entries.get(key)
        if entry is not None and not entry.open:
            del self.entries[key]
            self.mark(key)

    def alerts(self) -> list[Alert]:
        return [e.alert for e in self.entries.values() if e.alert is not None]


class MinuteCounts:
    """Per scope (``c:<center>``, ``p:<province>``) × offered minute: the latest
    ``(version, queued, answered, answered_in_sl, short_abandoned)`` of each call — applying
    a call record twice, or an older version, changes nothing. A :data:`PROVISIONAL` entry
    (an answered call still in progress) is replaced by any record, or by other provisional
    counts (e.g. its ``call.queued`` came after its answer)."""

    def __init__(self) -> None:
        self.cells: dict[tuple[str, int], dict[str, list[int]]] = {}
        self.dirty: set[tuple[str, int]] = set()
        self._sums: dict[tuple[str, int], list[int]] = {}
        """Per cell: its calls' counts summed, until the cell changes (:meth:`window`)."""

    def add(self, scope: str, minute_ms: int, call_id: str, version: int, counts: list[int]):
        cell = self.cells.setdefault((scope, minute_ms), {})
        held = cell.get(call_id)
        if (
            held is not None
            and held[0] >= version
            and (held[0] != PROVISIONAL or held[1:] == counts)
        ):
            return  # not newer (provisional counts: the same again)
        cell[call_id] = [version, *counts]
        self.dirty.add((scope, minute_ms))
        self._sums.pop((scope, minute_ms), None)

    def window(self, scope: str, start_ms: int, end_ms: int) -> list[int]:
        total = [0, 0, 0, 0]
        for minute in range(start_ms, end_ms, _MIN):
            key = (scope, minute)
            summed = self._sums.get(key)
            if summed is None:
                cell = self.cells.get(key)
                if cell is None:
                    continue
                summed = self._sums[key] = [
                    sum(part[i + 1] for part in cell.values()) for i in range(4)
                ]
            for i in range(4):
                total[i] += summed[i]
        return total

    def seen(self, scope: str, start_ms: int, end_ms: int) -> list[int]:
        """The minutes in ``[start_ms, end_ms)`` that hold a call of ``scope`` (any call: one
        that queued nobody too), in order."""
        return [m for m in range(start_ms, end_ms, _MIN) if self.cells.get((scope, m))]

    def scopes(self, prefix: str) -> set[str]:
        return {s for s, _ in self.cells if s.startswith(prefix)}

    def prune(self, before_ms: int) -> None:
        for key in [k for k in self.cells if k[1] < before_ms]:
            del self.cells[key]
            self._sums.pop(key, None)
            self.dirty.add(key)


def _pct(x: float) -> str:
    return f"{x * 100:.1f}%"


class AlertEngine:
    """The alert rules of one province group (docs/streams.md, "Alerts").

    Inputs: call records (:meth:`add_records`), answered calls still in progress
    (:meth:`add_answered`), ticket records (:meth:`on_ticket`), sequence
    gaps (:meth:`add_gaps`), dead letters (:meth:`add_dead_letter`). Time: :meth:`evaluate`
    (event-time watermark: windowed call rules, gap episodes) and :meth:`evaluate_dead_letters`
    (broker/wall-clock time). Every method returns the alerts it emitted (new versions).
    """

    def __init__(
        self,
        province: str,
        config: StreamsConfig,
        center_region: Callable[[str], str | None] = lambda _c: None,
        service_hours: Mapping[str, CenterHours] | None = None,
    ) -> None:
        self.province = province
        self.config = config
        self.rules = config.alerts
        self.center_region = center_region
        self.hours = dict(service_hours or {})
        """The service hours of the province's centers that have some (center id → hours):
        they are unreachable when silent in them, and queued calls count only in them."""
        silent = _td(self.rules.silent_period) if self.hours else 0
        self._horizon_ms = max(
            _td(self.rules.rate_period), _td(self.rules.unreachable_period), silent
        )
        """How far back the windowed rules look: the minutes kept."""
        self.book = AlertBook()
        self.minutes = MinuteCounts()
        self.dead: dict[int, set[str]] = {}
        self.dead_dirty: set[int] = set()
        self.evaluated_ms: int | None = None
        """The last window end evaluated (a whole minute)."""
        self.first_ms: int | None = None
        """The first minute the windows were evaluated from: silence before it is unknown."""
        self.dead_clock_ms: int | None = None
        self.dead_evaluated_ms: int | None = None
        """The last dead-letter minute judged."""
        self.dead_late: set[int] = set()
        """Judged minutes that went over the limit with dead letters read late (within the
        grace, :meth:`add_dead_letter`): raised at the next :meth:`evaluate_dead_letters`."""

    def _region(self, center_id: str | None) -> str:
        if center_id is None:
            return self.province
        return self.center_region(center_id) or self.province

    # -- inputs -----------------------------------------------------------------------------

    def add_records(self, records: Iterable[CallRecord]) -> None:
        """Count each call (its latest version) in its center's and province's minute."""
        floor = self._floor()
        for r in records:
            counts = [int(r.queued), int(r.answered), int(r.answered_in_sl), int(r.short_abandoned)]
            self._count(r.call_id, r.center_id, r.started_at, r.version, counts, floor)

    def add_answered(
        self, call_id: str, center_id: str, offered_at: datetime, counters: dict[str, int]
    ) -> None:
        """Count an answered call that has no record yet (still talking: its record comes
        with ``call.ended``) at version :data:`PROVISIONAL`, which its first record replaces.
        ``counters``: the call's ``call_counters`` (the rule the records use)."""
        counts = [
            counters["queued"],
            counters["answered"],
            counters["answered_in_sl"],
            counters["short_abandoned"],
        ]
        self._count(call_id, center_id, offered_at, PROVISIONAL, counts, self._floor())

    def _floor(self) -> int | None:
        """The earliest minute a window still to be evaluated can hold (None: any)."""
        return None if self.evaluated_ms is None else self.evaluated_ms - self._horizon_ms

    def _count(
        self,
        call_id: str,
        center_id: str,
        offered_at: datetime,
        version: int,
        counts: list[int],
        floor: int | None,
    ) -> None:
        minute = _ms(offered_at) // _MIN * _MIN
        if floor is not None and minute < floor:
            return  # behind every window still to be evaluated
        self.minutes.add("c:" + center_id, minute, call_id, version, counts)
        self.minutes.add("p:" + self.province, minute, call_id, version, counts)

    def add_dead_letter(self, source: str, at_ms: int) -> None:
        """A dead letter (``source``: ``topic:partition:offset``, counted once) at ``at_ms``
        (the source message's broker timestamp). A minute already judged still takes dead
        letters for the grace (``lateness``: read late, e.g. from a backlog or behind another
        partition); one that goes over the limit so is raised then (:attr:`dead_late`)."""
        minute = at_ms // _MIN * _MIN
        self.dead_clock_ms = at_ms if self.dead_clock_ms is None else max(self.dead_clock_ms, at_ms)
        judged = self.dead_evaluated_ms is not None and minute <= self.dead_evaluated_ms
        if judged and minute + _MIN <= self.dead_clock_ms - _td(self.config.lateness):
            return
        ids = self.dead.setdefault(minute, set())
        if source not in ids:
            ids.add(source)
            self.dead_dirty.add(minute)
            if judged and len(ids) == self.rules.dead_letters_per_minute + 1:
                self.dead_late.add(minute)

    def add_gaps(self, gaps: Iterable[dict[str, Any]]) -> list[Alert]:
        """One alert per producer gap episode: opened by its first gap, updated by later
        ones (one version per step), closed ``gap_quiet`` after its last (in
        :meth:`evaluate`). Only sequences not counted yet in the episode count: a gap
        reported again (replayed after a crash between the alert and the sequence state
        writes) changes nothing."""
        out = []
        by_producer: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for gap in gaps:
            by_producer.setdefault((gap["center_id"], gap["producer_id"]), []).append(gap)
        for (center_id, producer_id), batch in by_producer.items():
            key = f"sequence_gap|{center_id}|{producer_id}"
            entry = self.book.get(key)
            if not entry.open:
                entry.extra, entry.ranges = 0, []
            new = [(g, n) for g in batch if (n := _count_range(entry.ranges, g))]
            if not new:
                continue  # reported before: counted
            newest = max(r[2] for r in entry.ranges)
            entry.ranges[:] = [r for r in entry.ranges if newest - r[2] < _td(self.rules.gap_quiet)]
            missing = entry.extra + sum(n for _, n in new)
            first = min(new, key=lambda g: g[0]["noticed_at_ms"])[0]
            alert = self.book.raise_(
                key,
                AlertKind.SEQUENCE_GAP,
                Severity.WARNING,
                self._region(first["center_id"]),
                first["center_id"],
                _dt(first["noticed_at_ms"]),
                f"producer {producer_id}: {missing} event(s) lost (sequence gaps)",
                update_message=True,
            )
            entry.extra = missing
            entry.clear_since = max(g["reported_at_ms"] for g, _ in new)  # quiet starts again
            self.book.mark(key)
            if alert is not None:
                out.append(alert)
        return out

    def on_ticket(
        self, record: TicketRecord, watermark: datetime, spells: Sequence[Spell]
    ) -> list[Alert]:
        """Dangerous calls (critical, at once, until resolved or closed: one episode per open
        spell of the ticket, :meth:`_dangerous_call`) and due times (warning
        ``due_warning_working_hours`` before, critical once missed, until resolved or closed:
        one episode per open spell that reached its warning time, :meth:`_due_times`)."""
        out: list[Alert] = []
        if record.category == TicketCategory.DANGEROUS_CALL:
            out += self._dangerous_call(record, spells)
        if record.category in self.rules.due_categories:
            out += self._due_times(record, watermark, spells)
        return out

    def _due_times(
        self, record: TicketRecord, watermark: datetime, spells: Sequence[Spell]
    ) -> list[Alert]:
        """One episode of a ticket's due alert per open spell that reached its warning time
        (``due_warning_working_hours`` of working time before the spell's due time) while
        open: opened at that warning time, critical once the due time passed, closed at the
        spell's end (critical first if it ended after its due time). Judged at ``watermark``:
        a spell that starts after it (a reopen read ahead, from a backlog) has not begun there,
        one that ends after it is still open there. So the ids, times and severities follow
        from the ticket's events, not from how a step batched them: a step that reads a late
        resolution and a reopen together (a sparse hour, a backlog, a crash's replay) raises
        the first spell's episode, born closed, as a live run did. A reopen of the open
        ticket ends its spell (and episode) and starts the next one with the due time started
        again. The book's latest episode belongs to the last spell whose warning time is not
        after its ``opened_at``: the spells before are done, the later ones are new episodes;
        it closes at its spell's end even if that end, read late, came before its warning
        time. The latest version of each episode that changed is emitted."""
        key = f"ticket_due|{record.ticket_id}"
        hours = self.rules.due_warning_working_hours
        begun = [s for s in spells if s.opened_at <= watermark]
        dues = [s.due_at for s in begun]
        warns = [working_time_before(due, hours) for due in dues]
        entry = self.book.entries.get(key)
        latest = entry.alert.opened_at if entry is not None and entry.alert is not None else None
        owner = max((i for i, w in enumerate(warns) if latest and w <= latest), default=-1)
        out: dict[str, Alert] = {}
        for i in range(max(owner, 0), len(begun)):
            spell, due, warn = begun[i], dues[i], warns[i]
            ended = spell.ended_at if spell.ended_at and spell.ended_at <= watermark else None
            reached = watermark >= warn if ended is None else ended > warn
            if i == owner and not self.book.get(key).open:
                continue  # its episode closed already
            if i != owner and not reached:
                continue  # ended before its warning time, or not there yet
            changed = []
            if reached:
                changed.append(self._ticket_due(key, record, due, ended or watermark, warn))
            if ended is not None:
                changed.append(self.book.clear(key, ended))
            out |= {a.alert_id: a for a in changed if a is not None}
        return list(out.values())

    def _ticket_due(
        self, key: str, record: TicketRecord, due: datetime, at: datetime, opened: datetime
    ) -> Alert | None:
        """Raise ``key`` (a spell due at ``due``) as judged at ``at``: critical once the due
        time passed, else a warning; opened at ``opened`` (the warning time), however the
        watermark stepped."""
        shown = china_minute(due)
        ticket = f"{record.category.value} ticket {record.ticket_id}"
        if at > due:
            severity, message = Severity.CRITICAL, f"{ticket} missed its due time {shown}"
        else:
            hours = self.rules.due_warning_working_hours
            severity = Severity.WARNING
            message = f"{ticket}: less than {hours:g} working hours left (due {shown})"
        return self.book.raise_(
            key,
            AlertKind.TICKET_OVERDUE,
            severity,
            record.region_code,
            record.center_id,
            opened,
            message,
        )

    def _dangerous_call(self, record: TicketRecord, spells: Sequence[Spell]) -> list[Alert]:
        """Episode *n* of a dangerous call's alert is the ticket's *n*-th open spell: opened at
        its start (creation or reopen), closed at its end. Its id and times thus follow from
        the ticket's events, not from how a step batched them: a crash's replay that reads a
        creation, resolution and reopen at once (or a backlog) derives the episodes a live
        run did. The latest version of each episode that changed is emitted."""
        key = f"dangerous_call|{record.ticket_id}"
        out: dict[str, Alert] = {}
        for number, spell in enumerate(spells, 1):
            entry = self.book.get(key)
            if entry.episode < number:
                a = self.book.raise_(
                    key,
                    AlertKind.DANGEROUS_CALL,
                    Severity.CRITICAL,
                    record.region_code,
                    record.center_id,
                    spell.opened_at,
                    f"dangerous call: ticket {record.ticket_id} needs escalation and a call "
                    f"back by {china_minute(spell.due_at)}",
                )
                if a is not None:
                    out[a.alert_id] = a
            if spell.ended_at is not None and entry.episode == number:
                a = self.book.clear(key, spell.ended_at)
                if a is not None:
                    out[a.alert_id] = a
        return list(out.values())

    def forget_ticket(self, ticket_id: str) -> None:
        for key in (f"dangerous_call|{ticket_id}", f"ticket_due|{ticket_id}"):
            self.book.forget(key)

    # -- time -------------------------------------------------------------------------------

    def evaluate(self, watermark: datetime, heard: datetime | None = None) -> list[Alert]:
        """Evaluate every whole-minute window end up to ``watermark - settle``. ``heard``
        (default ``watermark``): the time up to which the province's input is known to have
        run — a replay's end-of-input flush moves the watermark past it, and silence there
        is the input's end, not a center's (:meth:`_silent_in_hours`)."""
        target = (_ms(watermark) - _td(self.rules.settle)) // _MIN * _MIN
        heard_ms = _ms(watermark if heard is None else heard)
        out: list[Alert] = []
        if self.evaluated_ms is None:
            starts = [m for _, m in self.minutes.cells]
            if starts:
                self.evaluated_ms = self.first_ms = min(starts)
        if self.evaluated_ms is not None:
            start = max(self.evaluated_ms + _MIN, target - _MAX_CATCH_UP_MS)
            for end in range(start, target + 1, _MIN):
                out += self._windows(end, heard_ms)
                self.evaluated_ms = end
                self.minutes.prune(end - self._horizon_ms)
        out += self._gap_quiet(_ms(watermark))
        return out

    def _windows(self, end: int, heard_ms: int) -> list[Alert]:
        rules = self.rules
        at = _dt(end)
        out = []
        centers = {s[2:] for s in self.minutes.scopes("c:")}
        centers |= {
            k.partition("|")[2]
            for k, e in self.book.entries.items()
            if e.open and k.startswith("center_unreachable|")
        }
        centers |= set(self.hours)
        period = _td(rules.unreachable_period)
        for center in sorted(centers):
            key = f"center_unreachable|{center}"
            queued, answered, _, short = self.minutes.window("c:" + center, end - period, end)
            seen = self.minutes.seen("c:" + center, end - period, end)
            out += self._silence(key, center, end, seen)
            hours = self.hours.get(center)
            waited = queued - short  # short abandons are no evidence
            if (
                waited >= rules.unreachable_min_queued
                and answered == 0
                and (hours is None or in_service(end - _MIN, hours.windows, hours.days))
                and self._unanswered_since("c:" + center, end) <= end - period
            ):
                a = self.book.raise_(
                    key,
                    AlertKind.CENTER_UNREACHABLE,
                    Severity.CRITICAL,
                    self._region(center),
                    center,
                    at,
                    f"center {center}: {waited} calls queued and none answered in "
                    f"{period // _MIN} min",
                )
                if a is not None:
                    self.book.get(key).in_hours = False  # evidence of callers now, not silence
            elif answered > 0 or (queued == 0 and seen):
                a = self.book.clear(key, at, rules.unreachable_hold)
            else:  # calls waiting, too few or too recent; or none heard at all
                self.book.not_clear(key)
                a = None
            out += [a] if a is not None else []
            if hours is not None:
                out += self._silent_in_hours(key, center, end, hours, heard_ms)
        period = _td(rules.rate_period)
        q, a_, sl, short = self.minutes.window("p:" + self.province, end - period, end)
        limits = rules.rates_of(self.province)
        for name, rate, limit in (
            ("connection_rate", a_ / q if q else 1.0, limits.connection),
            ("service_level", sl / (q - short) if q > short else 1.0, limits.service_level),
        ):
            key = f"threshold|{name}|{self.province}"
            if q >= rules.rate_min_queued and rate < limit:
                alert = self.book.raise_(
                    key,
                    AlertKind.THRESHOLD,
                    Severity.WARNING,
                    self.province,
                    None,
                    at,
                    f"{name.replace('_', ' ')} below {_pct(limit)} over "
                    f"{period // _MIN} min in {self.province} ({q} queued)",
                )
            elif q < rules.rate_min_queued or rate >= rules.rate_close(limit):
                alert = self.book.clear(key, at, rules.rate_hold)
            else:
                self.book.not_clear(key)
                alert = None
            out += [alert] if alert is not None else []
        return out

    def _silence(self, key: str, center: str, end: int, seen: list[int]) -> list[Alert]:
        """An open unreachable alert whose center sends no call in the window ending at
        ``end`` stays open: none queued is no evidence when nothing is heard (its phone
        system, or its link to the federation, may be down). Its message says so once, since
        the end of the last minute with a call, and once more when calls are seen again (the
        silence's span), whatever the rule then finds. ``seen``: the window's minutes with a
        call of the center."""
        entry = self.book.entries.get(key)
        if entry is None or not entry.open or bool(seen) == (entry.silent_since is None):
            return []
        assert entry.alert is not None
        since = entry.silent_since
        if since is None:
            before = self.minutes.seen("c:" + center, end - self._horizon_ms, end)
            since = before[-1] + _MIN if before else end - _td(self.rules.unreachable_period)
            entry.silent_since = since
            message = f"no calls seen since {china_minute(_dt(since))} (China time)"
        else:
            entry.silent_since = None
            upto = max(seen[0], since)
            message = (
                f"no calls seen from {china_minute(_dt(since))} to "
                f"{china_minute(_dt(upto))} (China time)"
            )
        if entry.in_hours:
            message = f"center {center}: {message}, in its service hours"
        else:
            message = f"center {center}: unreachable, then {message}"
        alert = self.book.raise_(
            key,
            AlertKind.CENTER_UNREACHABLE,
            entry.alert.severity,
            entry.alert.region_code,
            center,
            entry.alert.opened_at,
            message,
            update_message=True,
        )
        return [alert] if alert is not None else []

    def _silent_in_hours(
        self, key: str, center: str, end: int, hours: CenterHours, heard_ms: int
    ) -> list[Alert]:
        """A center with service hours that sent no call in the ``silent_period`` ending at
        ``end``, all of it in its hours (after the first minute evaluated, and not after
        ``heard_ms``, :meth:`evaluate`'s ``heard``), is unreachable as far as the federation
        can tell (warning; escalated to critical by queued calls that nobody answers):
        ``center C320100: no calls seen since 2025-03-03 09:00 (China time), in its service
        hours``. It closes as an unreachable center's alert does, once its calls are seen
        again (:meth:`_silence` says the span)."""
        entry = self.book.entries.get(key)
        start = end - _td(self.rules.silent_period)
        if (
            (entry is not None and entry.open)
            or self.first_ms is None
            or start < self.first_ms
            or end > heard_ms
            or self.minutes.seen("c:" + center, start, end)
            or not all(in_service(m, hours.windows, hours.days) for m in range(start, end, _MIN))
        ):
            return []
        alert = self.book.raise_(
            key,
            AlertKind.CENTER_UNREACHABLE,
            Severity.WARNING,
            self._region(center),
            center,
            _dt(end),
            f"center {center}: no calls seen since {china_minute(_dt(start))} (China time), "
            "in its service hours",
        )
        entry = self.book.get(key)
        entry.in_hours, entry.silent_since = True, start
        return [alert] if alert is not None else []

    def _unanswered_since(self, scope: str, end: int) -> int:
        """The minute of the earliest queued call (short abandons left out) that no answered
        call followed, looking back at most ``_horizon_ms`` from ``end`` (``end`` if there is
        none): the center has been unreachable since then."""
        since = end
        for minute in range(end - _MIN, end - self._horizon_ms - 1, -_MIN):
            queued, answered, _, short = self.minutes.window(scope, minute, minute + _MIN)
            if answered:
                break
            if queued > short:
                since = minute
        return since

    def _gap_quiet(self, now_ms: int) -> list[Alert]:
        out = []
        quiet = _td(self.rules.gap_quiet)
        for key, entry in list(self.book.entries.items()):
            if not key.startswith("sequence_gap|") or not entry.open:
                continue
            assert entry.clear_since is not None
            if now_ms - entry.clear_since >= quiet:
                since = entry.clear_since
                a = self.book.clear(key, _dt(now_ms))
                entry.clear_since = None
                if a is not None:
                    # closed at the end of the quiet period, whatever the evaluation step
                    a = a.model_copy(update={"closed_at": max(_dt(since + quiet), a.opened_at)})
                    entry.alert = a
                    out.append(a)
        return out

    def evaluate_dead_letters(self, now_ms: int | None = None) -> list[Alert]:
        """Judge every dead-letter minute that ended (plus 10 s grace) by ``now_ms`` (the
        wall clock) or the latest dead letter's timestamp."""
        if now_ms is not None and self.dead_clock_ms is not None:
            self.dead_clock_ms = max(self.dead_clock_ms, now_ms)
        if self.dead_clock_ms is None:
            return []
        last = (self.dead_clock_ms - 10_000) // _MIN * _MIN - _MIN
        if self.dead_evaluated_ms is None:
            if not self.dead:
                return []
            self.dead_evaluated_ms = min(self.dead) - _MIN
        key = f"dead_letters|{self.province}"
        rules = self.rules
        out = self._late_dead_letters(key)
        minute = self.dead_evaluated_ms + _MIN
        while minute <= last:
            if not self.dead and not self.book.get(key).open:
                self.dead_evaluated_ms = last
                break
            count = len(self.dead.get(minute, ()))  # kept for the grace (_late_dead_letters)
            if count:
                self.dead_dirty.add(minute)
            at = _dt(minute + _MIN)
            if count > rules.dead_letters_per_minute:
                a = self._dead_letter_spike(key, _dt(minute))
            else:
                # clear since the clean minute's start: closes after ``hold`` of clean minutes
                a = self.book.clear(key, at, rules.dead_letter_hold, since=_dt(minute))
            out += [a] if a is not None else []
            self.dead_evaluated_ms = minute
            minute += _MIN
        if not self.book.get(key).open and self.book.get(key).episode == 0:
            del self.book.entries[key]
        return out

    def _late_dead_letters(self, key: str) -> list[Alert]:
        """Forget the judged dead-letter minutes older than the grace; raise the judged ones
        that went over the limit since (:attr:`dead_late`): a new episode opened at that
        minute (not before the last one closed), or, when open, the hold starts again if the
        minute fell in it."""
        assert self.dead_clock_ms is not None and self.dead_evaluated_ms is not None
        horizon = self.dead_clock_ms - _td(self.config.lateness)
        for minute in [m for m in self.dead if m <= self.dead_evaluated_ms]:
            if minute + _MIN <= horizon:
                del self.dead[minute]
                self.dead_dirty.add(minute)
        out = []
        for minute in sorted(self.dead_late):
            entry = self.book.get(key)
            if entry.open:
                # the hold runs from its first clean minute's start: a late spike in it restarts it
                if entry.clear_since is not None and entry.clear_since <= minute:
                    self.book.not_clear(key)
                continue
            opened = _dt(minute)
            if entry.alert is not None and entry.alert.closed_at is not None:
                opened = max(opened, entry.alert.closed_at)
            a = self._dead_letter_spike(key, opened)
            out += [a] if a is not None else []
        self.dead_late.clear()
        return out

    def _dead_letter_spike(self, key: str, opened: datetime) -> Alert | None:
        """Raise the province's dead-letter spike, opened at ``opened``."""
        per_minute = self.rules.dead_letters_per_minute
        return self.book.raise_(
            key,
            AlertKind.THRESHOLD,
            Severity.WARNING,
            self.province,
            None,
            opened,
            f"dead letters: more than {per_minute} a minute in {self.province}",
        )

    # -- state image ------------------------------------------------------------------------

    def meta(self) -> dict[str, Any]:
        return {
            "ev": self.evaluated_ms,
            "fs": self.first_ms,
            "dc": self.dead_clock_ms,
            "de": self.dead_evaluated_ms,
            "dl": sorted(self.dead_late),
        }

    def load_meta(self, meta: dict[str, Any]) -> None:
        self.evaluated_ms = meta.get("ev")
        self.first_ms = meta.get("fs", self.evaluated_ms)  # before 2 Dec: not kept
        self.dead_clock_ms = meta.get("dc")
        self.dead_evaluated_ms = meta.get("de")
        self.dead_late = set(meta.get("dl", ()))
