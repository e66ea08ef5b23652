"""Ticket lifecycle events → the latest :class:`TicketRecord`, and ticket counters.

State is keyed by ticket id and holds the ticket's distinct events (duplicates by event id are
ignored); everything is computed from them sorted by ``(occurred_at, sequence, event_id)``,
so the arrival order does not matter. Rules (the simulator's ledger counts the same way):

* **due time**: the national service rule, :func:`policy_due_at` (complaint: 2 working days
  on China's official calendar incl. 调休 make-up days, via :mod:`hotline.workdays`; a
  dangerous call: 2 hours; per category in ``TICKET_DUE_WORKDAYS``), computed here from the
  ``ticket.created`` time; a ``ticket.reopened`` starts the rule again from the reopen time.
  The producer's ``ticket.created.due_at`` / ``ticket.reopened.due_at`` (a center's own
  system's date, possibly from a plain weekday rule) is **ignored** for the record and for
  scoring; ``TicketRecord`` has no field for it, so it is not carried (the raw event keeps it).
  Only where the installed calendar does not cover the dates does it stand in
  (:func:`~hotline.producers.simulator.facts.ticket_due_at`, with a warning once per uncovered
  year), rather than stop the stream.
* **resolved on time**: each ``ticket.resolved`` counts in the UTC minute it occurred; it is on
  time if it occurred at or before the due time in force then. A ``ticket.closed`` is not a
  resolution: it counts nowhere.
* **open / overdue at a point in time**: open from created or reopened until resolved **or
  closed** (closed for good, e.g. withdrawn; a later reopen opens it again); overdue if open
  and the due time in force is before that point.
* **record**: ``resolved_at`` / ``on_time`` and ``closed_at`` are those of the resolution and
  the close since the ticket was last created/reopened (a reopen clears them), so the record
  is open exactly when both are null.
* **rejected as invalid** (dead-lettered, the ticket held as it was): an event of another
  center than the ticket's, or than its tombstone's once forgotten (two centers minted the
  same ticket id: ``id_collision``), and a ``ticket.resolved`` / ``ticket.closed`` that
  occurred before the ticket's ``ticket.created`` (the systems' clocks disagree:
  ``end_before_created``) — sorted before it, it would be ignored and leave the ticket open
  and overdue for ever — or a ``ticket.reopened`` that did (``reopen_before_created``: it
  would open the ticket before it existed). One that arrives first is held until the
  ``ticket.created`` comes and judged then.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from hotline.producers.simulator.facts import minute_bucket, policy_due_at, ticket_due_at
from hotline.schemas import Event, TicketCategory, TicketRecord, TicketStatus
from hotline.streams.alerts import Spell, open_at, working_time_before
from hotline.streams.rejects import Rejected, Tombstone, id_collision

__all__ = [
    "TicketBook",
    "TicketChange",
    "TicketState",
    "policy_due_at",
    "ticket_counters",
    "tickets_open",
]

_STATUS = {
    "ticket.created": TicketStatus.CREATED,
    "ticket.assigned": TicketStatus.ASSIGNED,
    "ticket.callback_made": TicketStatus.CALLBACK_MADE,
    "ticket.resolved": TicketStatus.RESOLVED,
    "ticket.reopened": TicketStatus.REOPENED,
    "ticket.closed": TicketStatus.CLOSED,
}
_OPENS = ("ticket.created", "ticket.reopened")
_ENDS = ("ticket.resolved", "ticket.closed")


def _order(e: Event) -> tuple[datetime, int, str]:
    """A ticket's events are taken in this order."""
    return e.envelope.occurred_at, e.envelope.sequence, e.envelope.event_id


@dataclass(slots=True)
class TicketState:
    """One ticket's distinct events."""

    ticket_id: str
    events: dict[str, Event] = field(default_factory=dict)

    def add(self, event: Event) -> bool:
        """Keep ``event``; False for a duplicate event id."""
        if event.envelope.event_id in self.events:
            return False
        self.events[event.envelope.event_id] = event
        return True

    @property
    def center_id(self) -> str:
        """The center of the ticket's events (all of them: another center's are rejected)."""
        return next(iter(self.events.values())).envelope.center_id

    def ordered(self) -> list[Event]:
        return sorted(self.events.values(), key=_order)

    def created(self) -> Event | None:
        return next((e for e in self.ordered() if e.RECORD_TYPE == "ticket.created"), None)

    def timeline(self) -> list[tuple[Event, datetime | None]]:
        """Each event in order with the due time in force after it: :func:`policy_due_at`
        from the ``ticket.created`` time, started again at each ``ticket.reopened`` time
        (None before the rule could start; the producer's ``due_at`` is not used)."""
        created = self.created()
        category = None if created is None else created.category  # type: ignore[attr-defined]
        out: list[tuple[Event, datetime | None]] = []
        due: datetime | None = None
        for e in self.ordered():
            if e.RECORD_TYPE in _OPENS and category is not None:
                due = ticket_due_at(category, e, due)
            out.append((e, due))
        return out

    def spells(self) -> list[Spell]:
        """The ticket's open spells in time order: they follow from its events alone, however
        the events were batched. A reopen of an open ticket ends its spell and starts the
        next one, as it starts the due time again."""
        out: list[Spell] = []
        for e, due in self.timeline():
            at = e.envelope.occurred_at
            is_open = bool(out) and out[-1].ended_at is None
            if is_open and (e.RECORD_TYPE in _ENDS or e.RECORD_TYPE == "ticket.reopened"):
                out[-1] = Spell(out[-1].opened_at, out[-1].due_at, at)
                is_open = False
            if e.RECORD_TYPE in _OPENS and not is_open and due is not None:
                out.append(Spell(at, due, None))
        return out

    def resolutions(self) -> list[tuple[datetime, bool]]:
        """(resolved at, on time) for each resolution, in time order."""
        return [
            (e.envelope.occurred_at, e.envelope.occurred_at <= due)
            for e, due in self.timeline()
            if e.RECORD_TYPE == "ticket.resolved" and due is not None
        ]

    def counts_by_minute(self) -> dict[tuple[int, str, str], tuple[int, int, int]]:
        """(minute start ms, region, category) → (created, resolved, resolved on time) of this
        ticket: created in the minute of ``ticket.created``, each resolution in its minute, in
        the region and category of the creation (nothing until ``ticket.created`` is seen)."""
        created = self.created()
        if created is None:
            return {}
        region, category = created.envelope.region_code, created.category.value  # type: ignore[attr-defined]
        rows: dict[tuple[int, str, str], tuple[int, int, int]] = {}

        def add(at: datetime, counts: tuple[int, int, int]) -> None:
            key = (int(minute_bucket(at).timestamp() * 1000), region, category)
            old = rows.get(key, (0, 0, 0))
            rows[key] = (old[0] + counts[0], old[1] + counts[1], old[2] + counts[2])

        add(created.envelope.occurred_at, (1, 0, 0))
        for at, on_time in self.resolutions():
            add(at, (0, 1, int(on_time)))
        return rows

    def at(self, moment: datetime) -> tuple[bool, datetime | None]:
        """(open, due time in force) from the events that occurred by ``moment``: open after
        created/reopened, not after resolved or closed."""
        is_open, due = False, None
        for e, due_then in self.timeline():
            if e.envelope.occurred_at > moment:
                break
            due = due_then
            if e.RECORD_TYPE in _OPENS:
                is_open = True
            elif e.RECORD_TYPE in _ENDS:
                is_open = False
        return is_open, due

    def record(self, as_of: datetime, version: int = 1) -> TicketRecord | None:
        """The ticket's record as of ``as_of``; None until ``ticket.created`` is seen."""
        created = self.created()
        if created is None:
            return None
        events: list[Event] = []
        due: datetime | None = None
        resolved_at: datetime | None = None
        closed_at: datetime | None = None
        on_time: bool | None = None
        for e, due_then in self.timeline():
            at = e.envelope.occurred_at
            if at > as_of:
                break
            events.append(e)
            due = due_then
            if e.RECORD_TYPE in _OPENS:  # (re)opened: the earlier end no longer holds
                resolved_at = closed_at = on_time = None
            elif e.RECORD_TYPE == "ticket.resolved" and due is not None:
                resolved_at, on_time = at, at <= due
            elif e.RECORD_TYPE == "ticket.closed":
                closed_at = at
        assert due is not None
        is_open = resolved_at is None and closed_at is None
        return TicketRecord(
            ticket_id=self.ticket_id,
            center_id=created.envelope.center_id,
            region_code=created.envelope.region_code,
            call_id=created.call_id,  # type: ignore[attr-defined]
            category=created.category,  # type: ignore[attr-defined]
            business_line=created.business_line,  # type: ignore[attr-defined]
            status=_STATUS[events[-1].RECORD_TYPE],
            created_at=created.envelope.occurred_at,
            due_at=due,
            resolved_at=resolved_at,
            closed_at=closed_at,
            callbacks=sum(e.RECORD_TYPE == "ticket.callback_made" for e in events),
            reopens=sum(e.RECORD_TYPE == "ticket.reopened" for e in events),
            on_time=on_time,
            overdue=is_open and due < as_of,
            as_of=as_of,
            version=version,
        )


def ticket_counters(
    states: dict[str, TicketState],
) -> dict[tuple[datetime, str, str], list[int]]:
    """(minute, region, category) → [created, resolved, resolved on time] of all tickets."""
    rows: dict[tuple[datetime, str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for state in states.values():
        for (ms, region, category), counts in state.counts_by_minute().items():
            row = rows[(datetime.fromtimestamp(ms / 1000, UTC), region, category)]
            row[:] = map(int.__add__, row, counts)
    return dict(rows)


def tickets_open(
    states: dict[str, TicketState], moment: datetime
) -> dict[tuple[str, str], list[int]]:
    """(region, category) → [open, overdue] at ``moment``."""
    rows: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for state in states.values():
        created = state.created()
        if created is None:
            continue
        is_open, due = state.at(moment)
        if is_open:
            key = (created.envelope.region_code, created.category.value)  # type: ignore[attr-defined]
            rows[key][0] += 1
            rows[key][1] += int(due is not None and due < moment)
    return dict(rows)


_AFTER_CREATION = {"ticket.resolved": "end", "ticket.closed": "end", "ticket.reopened": "reopen"}
"""The events that cannot come before the ticket's creation, and what their rule calls them."""


def _before_created(event: Event, created: Event) -> Rejected | None:
    """``event`` (an end, or a reopen: :data:`_AFTER_CREATION`) rejected as ``invalid`` if it
    comes before ``created`` in the ticket's order (:func:`_order`: it occurred earlier, or in
    the same millisecond with a lower sequence): ``end_before_created`` (sorted before the
    creation, it would be ignored and leave the ticket open for ever) or
    ``reopen_before_created`` (it would open the ticket before it existed)."""
    if _order(event) > _order(created):
        return None
    at, opened = event.envelope.occurred_at.isoformat(), created.envelope.occurred_at.isoformat()
    detail = (
        f"{event.RECORD_TYPE} of ticket {created.ticket_id} occurred at {at}, "  # type: ignore[attr-defined]
        f"before its ticket.created at {opened}"
        f"{' (sequenced before it)' if at == opened else ''}: do the systems' clocks disagree?"
    )
    return Rejected(
        event, "invalid", detail, f"{_AFTER_CREATION[event.RECORD_TYPE]}_before_created"
    )


@dataclass(slots=True)
class TicketChange:
    """A ticket whose record changed (a new version) or that needs its alerts re-judged."""

    record: TicketRecord
    emitted: bool
    spells: tuple[Spell, ...] = ()
    """The ticket's open spells (:meth:`TicketState.spells`): a dangerous call's alert has one
    episode per spell."""


class TicketBook:
    """Every held ticket of a province: versioned records, overdue marks, timers, eviction.

    * **Version** = distinct events + overdue marks, so it depends on the state only (a replay
      re-issues the same version); ``as_of`` = the latest event or mark.
    * **Overdue mark**: when the watermark passes the due time in force while the ticket is
      open, the due time is recorded and the record re-emitted with ``overdue`` true.
    * **Eviction**: a resolved/closed ticket ``ticket_retention`` after its last event (a
      :class:`~hotline.streams.rejects.Tombstone` holds its id for another ``ticket_retention``:
      later events of its center are late, another center's an id collision); events of a
      ticket without ``ticket.created`` are rejected as orphans after ``ticket_retention``.
    * **Timers** (while open at the watermark, also with its end read ahead): at each due time
      of the events read, its warning time (``warn_hours`` of working time before it, for the
      categories with due-time alerts) and each open spell's end, the ticket is judged again.
    """

    def __init__(
        self,
        retention: timedelta,
        warn_hours: float,
        warn_categories: tuple[TicketCategory, ...],
    ) -> None:
        self.retention = retention
        self.warn_hours = warn_hours
        self.warn_categories = warn_categories
        self.states: dict[str, TicketState] = {}
        self.marks: dict[str, list[int]] = {}
        self.tombstones: dict[str, Tombstone] = {}
        self.versions: dict[str, int] = {}
        self.watermark: datetime | None = None
        self.dirty: set[str] = set()
        """Tickets whose state changed (for the shell's table)."""
        self.pending: set[str] = set()
        """Tickets to judge at the next :meth:`advance`."""
        self._timers: list[tuple[datetime, str]] = []

    # -- input ------------------------------------------------------------------------------

    def add(self, event: Event) -> list[Rejected]:
        """Keep a ticket event (duplicates ignored; the ticket is judged at :meth:`advance`),
        or reject it (module docstring): ``late`` once its ticket was forgotten, ``invalid``
        if another center's (also while a forgotten one's tombstone holds the id), or an end
        or reopen before the creation. A ``ticket.created`` rejects the ends and reopens held
        that occurred before it: removed from the ticket, they are returned too."""
        ticket_id: str = event.ticket_id  # type: ignore[attr-defined]
        state = self.states.get(ticket_id)
        if state is None:
            if (tombstone := self.tombstones.get(ticket_id)) is not None:
                return [tombstone.reject(event, "ticket_id", "its ticket was already forgotten")]
            state = self.states[ticket_id] = TicketState(ticket_id)
        elif event.envelope.event_id in state.events:
            return []  # a duplicate
        else:
            collision = id_collision(event, "ticket_id", state.center_id)
            if collision is not None:
                return [collision]
        created = state.created()
        if event.RECORD_TYPE in _AFTER_CREATION and created is not None:
            rejected = _before_created(event, created)
            if rejected is not None:
                return [rejected]
        out = []
        if event.RECORD_TYPE == "ticket.created" and created is None:  # held ones not judged
            for held in list(state.events.values()):
                if held.RECORD_TYPE in _AFTER_CREATION and (bad := _before_created(held, event)):
                    del state.events[held.envelope.event_id]
                    out.append(bad)
        state.add(event)
        self.dirty.add(ticket_id)
        self.pending.add(ticket_id)
        return out

    def advance(self, now: datetime) -> tuple[list[TicketChange], list[Rejected], list[str]]:
        """Move the watermark; (changed tickets, rejected events, evicted ticket ids)."""
        self.watermark = now if self.watermark is None else max(self.watermark, now)
        due = {tid for tid in self.pending if tid in self.states}
        self.pending.clear()
        while self._timers and self._timers[0][0] <= self.watermark:
            due.add(heapq.heappop(self._timers)[1])
        changes, rejected, evicted = [], [], []
        for ticket_id in sorted(due):
            state = self.states.get(ticket_id)
            if state is None:
                continue
            change = self._judge(state)
            if change is not None:
                changes.append(change)
            gone = self._evict(state)
            if gone is not None:
                rejected += gone
                evicted.append(ticket_id)
        for tid, tombstone in list(self.tombstones.items()):
            if tombstone.at + self.retention < self.watermark:
                del self.tombstones[tid]
                self.dirty.add(tid)
        return changes, rejected, evicted

    # -- internals --------------------------------------------------------------------------

    def _judge(self, state: TicketState) -> TicketChange | None:
        assert self.watermark is not None
        events = state.ordered()
        eviction = events[-1].envelope.occurred_at + self.retention
        heapq.heappush(self._timers, (eviction, state.ticket_id))
        if state.created() is None:
            return None
        marks = self.marks.setdefault(state.ticket_id, [])
        is_open, due = state.at(self.watermark)
        if is_open and due is not None and due < self.watermark and _ms(due) not in marks:
            marks.append(_ms(due))
            self.dirty.add(state.ticket_id)
        as_of = max([events[-1].envelope.occurred_at, *(_dt(m + 1) for m in marks)])
        version = len(events) + len(marks)
        record = state.record(as_of, version)
        assert record is not None
        emitted = self.versions.get(state.ticket_id) != version
        self.versions[state.ticket_id] = version
        spells = state.spells()
        if open_at(record, self.watermark):  # also when its end was read ahead (a backlog)
            # judged again at every due time of the events read (a backlog may hold a late
            # resolution and a reopen after it: each is marked if the ticket is still open when
            # it passes), its warning time, and every spell's end (its alerts close there)
            dues = {d for _, d in state.timeline() if d is not None}
            moments = {d + timedelta(milliseconds=1) for d in dues}
            moments |= {s.ended_at for s in spells if s.ended_at is not None}
            if record.category in self.warn_categories:
                moments |= {working_time_before(d, self.warn_hours) for d in dues}
            for moment in sorted(moments):
                if moment > self.watermark:
                    heapq.heappush(self._timers, (moment, state.ticket_id))
        return TicketChange(record, emitted, tuple(spells))

    def _evict(self, state: TicketState) -> list[Rejected] | None:
        assert self.watermark is not None
        events = state.ordered()
        if not events or events[-1].envelope.occurred_at + self.retention > self.watermark:
            return None
        if state.created() is None:
            out = [
                Rejected(e, "orphan", "no ticket.created within the ticket retention")
                for e in events
            ]
        elif state.at(self.watermark)[0]:
            return None  # still open: held until resolved or closed
        else:
            out = []
        del self.states[state.ticket_id]
        self.marks.pop(state.ticket_id, None)
        self.versions.pop(state.ticket_id, None)
        self.tombstones[state.ticket_id] = Tombstone(self.watermark, state.center_id)
        self.dirty.add(state.ticket_id)
        return out

    def schedule_all(self) -> None:
        """After a reload: judge every ticket at the next :meth:`advance`."""
        self.pending.update(self.states)


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)
