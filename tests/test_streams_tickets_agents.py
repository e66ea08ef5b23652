"""Tickets reconcile with the simulator's ledger, in any arrival order (agent time:
test_streams_agent_time.py)."""

from __future__ import annotations

import functools
import random
from datetime import UTC, datetime, timedelta

from hotline.producers.simulator import Ledger, MemorySink, SimConfig, simulate
from hotline.producers.simulator.ledger import iso
from hotline.schemas import Event, TicketCategory, TicketStatus
from hotline.streams.tickets import TicketState, policy_due_at, ticket_counters, tickets_open


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
