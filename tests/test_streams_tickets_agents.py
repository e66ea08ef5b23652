"""Tickets reconcile with the simulator's ledger, in any arrival order (agent time:
test_streams_agent_time.py)."""

from __future__ import annotations

import functools
import logging
import random
import uuid
from datetime import UTC, datetime, timedelta
from itertools import count

import pytest

from hotline.producers.simulator import Ledger, MemorySink, SimConfig, facts, simulate
from hotline.producers.simulator.ledger import iso
from hotline.schemas import (
    BusinessLine,
    Envelope,
    Event,
    TicketCategory,
    TicketClosed,
    TicketCreated,
    TicketReopened,
    TicketResolved,
    TicketStatus,
)
from hotline.streams.alerts import AlertEngine
from hotline.streams.config import StreamsConfig
from hotline.streams.tickets import (
    TicketBook,
    TicketState,
    policy_due_at,
    ticket_counters,
    tickets_open,
)


@functools.cache
def run() -> tuple[tuple[Event, ...], tuple[dict, ...], datetime]:
    """Two working days at two centers (tickets need time to resolve)."""
    config = SimConfig(seed=99, centers=["C330200", "C320100"], duration=timedelta(days=2))
    sink = MemorySink()
    ledger = Ledger(config.end.astimezone(UTC))
    simulate(config, sink, ledger)
    return tuple(sink.events), tuple(ledger.records()), config.end.astimezone(UTC)


def _states(events: list[Event]) -> dict[str, TicketState]:
    states: dict[str, TicketState] = {}
    for e in events:
        if e.RECORD_TYPE.startswith("ticket."):
            states.setdefault(e.ticket_id, TicketState(e.ticket_id)).add(e)  # type: ignore[attr-defined]
    return states


def _shuffled() -> list[Event]:
    events = list(run()[0])
    events += events[::7]  # duplicates
    random.Random(5).shuffle(events)
    return events


def test_ticket_counters_and_backlog_equal_the_ledger() -> None:
    _, ledger, end = run()
    states = _states(_shuffled())
    want = {
        (r["minute"], r["region_code"], r["category"]): [
            r["created"], r["resolved"], r["resolved_on_time"],
        ]
        for r in ledger
        if r["kind"] == "tickets"
    }  # fmt: skip
    got = {(iso(m), region, cat): v for (m, region, cat), v in ticket_counters(states).items()}
    assert got == want and sum(v[0] for v in want.values()) > 20
    backlog = {
        (r["region_code"], r["category"]): [r["open"], r["overdue"]]
        for r in ledger
        if r["kind"] == "tickets_open_at_end"
    }
    assert tickets_open(states, end) == backlog


def test_ticket_record_as_of() -> None:
    states = _states(list(run()[0]))
    _, _, end = run()
    records = [s.record(end) for s in states.values()]
    assert all(r is not None for r in records)
    closed = [r for r in records if r is not None and r.status == TicketStatus.CLOSED]
    assert closed and all(r.resolved_at is not None and r.on_time is not None for r in closed)
    for r in records:
        assert r is not None
        assert r.overdue == (r.status not in (TicketStatus.RESOLVED, TicketStatus.CLOSED)
                             and r.due_at < end)  # fmt: skip


def test_policy_due_time_is_two_working_days_for_a_complaint() -> None:
    friday = datetime(2025, 3, 7, 2, 0, tzinfo=UTC)  # 10:00 China time, Friday
    assert policy_due_at(TicketCategory.COMPLAINT, friday) == datetime(
        2025, 3, 11, 2, 0, tzinfo=UTC
    )  # Monday, Tuesday
    for state in _states(list(run()[0])).values():
        created = state.created()
        assert created is not None
        category = created.category  # type: ignore[attr-defined]
        expected = policy_due_at(category, created.envelope.occurred_at)
        assert created.due_at == expected  # type: ignore[attr-defined]


# -- hand-made tickets: closed without a resolution; the due time is the service rule -----------

_seq = count(1)
CST = timedelta(hours=8)


def _cst(*args: int) -> datetime:
    """A China-time wall clock moment, in UTC."""
    return datetime(*args, tzinfo=UTC) - CST


def _env(kind: str, at: datetime) -> Envelope:
    return Envelope(
        event_id=str(uuid.uuid4()),
        event_type=kind,
        occurred_at=at,
        center_id="C330200",
        region_code="330203",
        producer_id="p1",
        sequence=next(_seq),
    )


def _created(at: datetime, due: datetime, category=TicketCategory.COMPLAINT) -> TicketCreated:
    return TicketCreated(
        envelope=_env("ticket.created", at),
        ticket_id="T1",
        category=category,
        business_line=BusinessLine.PENSION,
        due_at=due,
    )


def _resolved(at: datetime) -> TicketResolved:
    return TicketResolved(envelope=_env("ticket.resolved", at), ticket_id="T1")


def _closed(at: datetime) -> TicketClosed:
    return TicketClosed(envelope=_env("ticket.closed", at), ticket_id="T1")


def _reopened(at: datetime, due: datetime | None = None) -> TicketReopened:
    return TicketReopened(envelope=_env("ticket.reopened", at), ticket_id="T1", due_at=due)


def _state(*events: Event) -> TicketState:
    state = TicketState("T1")
    for e in reversed(events):  # arrival order does not matter
        state.add(e)
    return state


def _ledger(end: datetime, *events: Event) -> tuple[dict, dict]:
    """(ticket rows, backlog) of the ledger fed ``events`` in emission order."""
    ledger = Ledger(end)
    for e in events:
        ledger.emit(e)
    rows = {
        (r["minute"], r["region_code"], r["category"]): [
            r["created"], r["resolved"], r["resolved_on_time"],
        ]
        for r in ledger.records()
        if r["kind"] == "tickets"
    }  # fmt: skip
    backlog = {
        (r["region_code"], r["category"]): [r["open"], r["overdue"]]
        for r in ledger.records()
        if r["kind"] == "tickets_open_at_end"
    }
    return rows, backlog


def _agrees_with_ledger(end: datetime, *events: Event) -> None:
    rows, backlog = _ledger(end, *events)
    states = {"T1": _state(*events)}
    assert {(iso(m), r, c): v for (m, r, c), v in ticket_counters(states).items()} == rows
    assert tickets_open(states, end) == backlog


def test_a_ticket_closed_without_a_resolution_is_no_longer_open() -> None:
    at = _cst(2025, 3, 4, 9)  # Tuesday: a complaint is due Thursday 09:00
    due = policy_due_at(TicketCategory.COMPLAINT, at)
    events = (_created(at, due), _closed(at + timedelta(hours=3)))  # withdrawn
    state = _state(*events)
    later = due + timedelta(days=10)
    assert state.at(later) == (False, due)
    assert tickets_open({"T1": state}, later) == {}
    record = state.record(later)
    assert record is not None and record.status is TicketStatus.CLOSED
    assert record.closed_at == at + timedelta(hours=3)
    assert (record.resolved_at, record.on_time, record.overdue) == (None, None, False)
    # a close is not a resolution: created counts, nothing resolved
    assert [v for v in ticket_counters({"T1": state}).values()] == [[1, 0, 0]]
    _agrees_with_ledger(later, *events)
    # before the close it was open (and not yet due)
    assert state.at(at + timedelta(hours=1)) == (True, due)


def test_a_reopen_after_a_close_opens_the_ticket_again() -> None:
    at = _cst(2025, 3, 4, 9)
    due = policy_due_at(TicketCategory.COMPLAINT, at)
    reopen = _cst(2025, 3, 10, 15)  # Monday: the rule starts again, due Wednesday 15:00
    events = (
        _created(at, due),
        _resolved(at + timedelta(hours=2)),
        _closed(at + timedelta(hours=5)),
        _reopened(reopen),
    )
    state = _state(*events)
    new_due = _cst(2025, 3, 12, 15)
    assert state.at(reopen) == (True, new_due)
    record = state.record(new_due + timedelta(minutes=1))
    assert record is not None and record.status is TicketStatus.REOPENED
    assert (record.resolved_at, record.closed_at, record.on_time) == (None, None, None)
    assert record.overdue and record.due_at == new_due and record.reopens == 1
    assert tickets_open({"T1": state}, new_due + timedelta(minutes=1)) == {
        ("330203", "complaint"): [1, 1]
    }
    _agrees_with_ledger(new_due + timedelta(minutes=1), *events)
    # closed again without a second resolution: not open, the first resolution no longer
    # describes the ticket (it was reopened after it)
    events += (_closed(new_due + timedelta(hours=1)),)
    state = _state(*events)
    record = state.record(new_due + timedelta(days=1))
    assert record is not None and record.closed_at == new_due + timedelta(hours=1)
    assert (record.resolved_at, record.on_time, record.overdue) == (None, None, False)
    _agrees_with_ledger(new_due + timedelta(days=1), *events)


def test_a_closed_ticket_is_evicted_and_never_marked_overdue() -> None:
    config = StreamsConfig()
    book = TicketBook(config.ticket_retention, 4.0, (TicketCategory.COMPLAINT,))
    at = _cst(2025, 3, 4, 9)
    book.add(_created(at, policy_due_at(TicketCategory.COMPLAINT, at)))
    book.add(_closed(at + timedelta(hours=1)))
    changes, _, evicted = book.advance(at + timedelta(hours=1))
    assert [c.record.status for c in changes] == [TicketStatus.CLOSED] and evicted == []
    changes, _, evicted = book.advance(at + timedelta(days=3))  # past due: no overdue mark
    assert all(not c.record.overdue for c in changes) and book.marks.get("T1", []) == []
    _, _, evicted = book.advance(at + timedelta(hours=1) + config.ticket_retention * 2)
    assert evicted == ["T1"] and "T1" not in book.states


def test_the_due_time_is_the_service_rule_not_the_producers() -> None:
    # Created Friday 26 Sep 2025 10:00 China time. Sunday 28 Sep was a make-up working day
    # (调休 for the National Day holiday), so 2 working days end Monday 29 Sep 10:00; a
    # center computing with a plain weekday rule says Tuesday 30 Sep 10:00.
    at = _cst(2025, 9, 26, 10)
    policy, producer = _cst(2025, 9, 29, 10), _cst(2025, 9, 30, 10)
    assert policy_due_at(TicketCategory.COMPLAINT, at) == policy
    events = (_created(at, producer), _resolved(_cst(2025, 9, 30, 9)))
    state = _state(*events)
    assert state.resolutions() == [(_cst(2025, 9, 30, 9), False)]  # late, not on time
    record = state.record(_cst(2025, 9, 30, 9))
    assert record is not None and record.due_at == policy and record.on_time is False
    open_then = state.record(_cst(2025, 9, 29, 11))
    assert open_then is not None and open_then.overdue and open_then.due_at == policy
    assert state.at(_cst(2025, 9, 29, 11)) == (True, policy)
    _agrees_with_ledger(_cst(2025, 9, 29, 11), *events[:1])  # overdue in the backlog
    _agrees_with_ledger(_cst(2025, 10, 1), *events)
    rows, _ = _ledger(_cst(2025, 10, 1), *events)
    assert sorted(rows.values()) == [[0, 1, 0], [1, 0, 0]]
    # the due-time warning is judged against the rule's due time too
    book = TicketBook(StreamsConfig().ticket_retention, 4.0, (TicketCategory.COMPLAINT,))
    book.add(events[0])
    (change,), _, _ = book.advance(_cst(2025, 9, 29, 7))
    (warning,) = AlertEngine("440000", StreamsConfig()).on_ticket(
        change.record, _cst(2025, 9, 29, 7), change.spells
    )
    assert change.record.due_at == policy and warning.opened_at == _cst(2025, 9, 29, 6)


def test_a_reopen_starts_the_service_rule_again_from_the_reopen_time() -> None:
    at = _cst(2025, 3, 4, 9)  # Tuesday
    reopen = _cst(2025, 3, 6, 20)  # Thursday evening; producer says 1 h later
    events = (
        _created(at, policy_due_at(TicketCategory.COMPLAINT, at)),
        _resolved(at + timedelta(hours=4)),
        _reopened(reopen, due=reopen + timedelta(hours=1)),
        _resolved(_cst(2025, 3, 10, 19)),  # Monday 19:00, before Monday 20:00
    )
    state = _state(*events)
    assert state.at(reopen) == (True, _cst(2025, 3, 10, 20))  # Fri, Mon (weekend skipped)
    assert state.resolutions() == [(at + timedelta(hours=4), True), (_cst(2025, 3, 10, 19), True)]
    _agrees_with_ledger(_cst(2025, 3, 11), *events)
    # a reopen without a due time gets the rule too (not the old, passed due time)
    events = (*events[:2], _reopened(reopen))
    assert _state(*events).at(reopen) == (True, _cst(2025, 3, 10, 20))
    _agrees_with_ledger(_cst(2025, 3, 11), *events)


def test_the_producers_due_time_stands_in_only_where_the_calendar_cannot_decide() -> None:
    at = _cst(2027, 3, 2, 9)  # beyond the pinned chinesecalendar's years
    stated = _cst(2027, 3, 4, 9)
    events = (_created(at, stated), _resolved(at + timedelta(days=1)), _reopened(stated))
    state = _state(*events)
    assert state.at(at) == (True, stated) and state.at(stated) == (True, stated)
    _agrees_with_ledger(stated + timedelta(days=1), *events)
    # a dangerous call needs no calendar: the rule holds
    dangerous = _state(_created(at, stated, TicketCategory.DANGEROUS_CALL))
    assert dangerous.at(at) == (True, at + timedelta(hours=2))


def test_the_stand_in_is_a_warning_once_per_uncovered_year(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An operator learns that due times are no longer the service rule's (the calendar ran
    out: a complaint from 2026-12-30 on is due in 2027); the worker goes on."""
    monkeypatch.setattr(facts, "_stood_in_years", set())
    book = TicketBook(StreamsConfig().ticket_retention, 4.0, (TicketCategory.COMPLAINT,))
    at, stated = _cst(2026, 12, 30, 17, 30), _cst(2027, 1, 4, 17, 30)
    for ticket_id in ("T1", "T2"):
        book.add(_created(at, stated).model_copy(update={"ticket_id": ticket_id}))
    with caplog.at_level(logging.WARNING, logger=facts.__name__):
        changes, _, _ = book.advance(at)
        book.advance(stated + timedelta(hours=1))
    assert [c.record.due_at for c in changes] == [stated, stated]
    (warning,) = [r for r in caplog.records if r.name == facts.__name__]
    assert warning.levelno == logging.WARNING
    assert "2027" in warning.getMessage() and "due_at" in warning.getMessage()
    assert "chinesecalendar 1.11.0" in warning.getMessage()


def test_a_backlog_marks_every_missed_due_time_as_a_live_run() -> None:
    """Resolved late, reopened, resolved late again: read as it happens or all at once (a
    backlog), the ticket gets both overdue marks and ends at the same version. The backlog
    used to set a timer at the latest due time only, so the first one went unmarked."""
    events = (
        _created(_cst(2025, 3, 4, 9), _cst(2025, 3, 6, 9)),  # Tuesday: due Thursday 09:00
        _resolved(_cst(2025, 3, 7, 10)),  # Friday: late
        _reopened(_cst(2025, 3, 10, 9)),  # Monday: due Wednesday 09:00
        _resolved(_cst(2025, 3, 13, 10)),  # Thursday: late
    )

    def run(backlog: bool) -> tuple[list[int], list[tuple[int, bool]]]:
        book = TicketBook(StreamsConfig().ticket_retention, 4.0, (TicketCategory.COMPLAINT,))
        now, end, records = _cst(2025, 3, 4, 9), _cst(2025, 3, 14), []
        while now < end:
            for e in events:
                if backlog or e.envelope.occurred_at <= now:
                    book.add(e)  # live: read when it happens (duplicates are ignored)
            changes, _, _ = book.advance(now)
            records += [(c.record.version, c.record.overdue) for c in changes if c.emitted]
            now += timedelta(hours=1)
        return book.marks["T1"], records

    (live_marks, live), (backlog_marks, backlog) = run(backlog=False), run(backlog=True)
    dues = [_cst(2025, 3, 6, 9), _cst(2025, 3, 12, 9)]
    assert live_marks == backlog_marks == [int(d.timestamp() * 1000) for d in dues]
    assert live[-1] == backlog[-1] == (6, False)  # 4 events + 2 marks
