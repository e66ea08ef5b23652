"""Ticket and call events a province group rejects for the dead-letter topic, without stopping:
a late ticket event; another center's event under an id already held (two centers minted the
same call or ticket id); a ticket's end before its creation. Each is rejected once: a reload
from the table with the step redelivered gives the same, and does not dead-letter it again."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from itertools import count
from pathlib import Path

import pytest
from test_streams_alerts import T0, closed, created, env, reopened, resolved

from hotline.regions import default_registry
from hotline.schemas import (
    BusinessLine,
    CallAnswered,
    CallEnded,
    CallOffered,
    CallQueued,
    Channel,
    DeadLetterReason,
    Envelope,
    Event,
    HungUpBy,
    TicketAssigned,
    TicketCategory,
    TicketStatus,
    default_codec,
)
from hotline.streams.aggregate import Snapshot
from hotline.streams.app import Worker
from hotline.streams.config import StreamsConfig
from hotline.streams.groups import GroupOutput, GroupState, Inbound
from hotline.streams.worker_config import WorkerConfig

GROUP = "330000"
RAW_TOPIC = "hotline.raw.330000.calls"
DUE = T0 + timedelta(days=2)
NINGBO, HANGZHOU = ("C330200", "330203"), ("C330100", "330102")
CTI_ID = "1740961800.123"
"""A call id as an Asterisk-style CTI system mints it: two centers' systems may both."""
_seq = count(1)


def _group() -> GroupState:
    return GroupState(GROUP, StreamsConfig(), default_registry(), default_codec())


def _as(center: tuple[str, str], event: Event) -> Event:
    """``event`` emitted by another center (a fresh event id)."""
    env = event.envelope.model_copy(
        update={
            "center_id": center[0],
            "region_code": center[1],
            "event_id": str(uuid.uuid4()),
            "producer_id": f"p.{center[0]}",
        }
    )
    return event.model_copy(update={"envelope": env})


def _call(center: tuple[str, str], call_id: str, at: datetime, agent: str) -> list[Event]:
    """An answered call of ``center``: offered, queued, answered, ended."""

    def ev(model: type[Event], seconds: int, **fields: object) -> Event:
        env = Envelope(
            event_id=str(uuid.uuid4()),
            event_type=model.RECORD_TYPE,
            occurred_at=at + timedelta(seconds=seconds),
            center_id=center[0],
            region_code=center[1],
            producer_id=f"p.{center[0]}",
            sequence=next(_seq),
        )
        return model(envelope=env, call_id=call_id, **fields)

    return [
        ev(CallOffered, 0, channel=Channel.PHONE, caller_id="c" * 64),
        ev(CallQueued, 10, business_line=BusinessLine.PENSION),
        ev(CallAnswered, 25, agent_id=agent, wait_ms=15_000),
        ev(CallEnded, 200, agent_id=agent, talk_ms=170_000, hung_up_by=HungUpBy.CALLER),
    ]


def _inbound(events: Sequence[Event], first: int = 0) -> list[Inbound]:
    return [Inbound(e, "t", 0, first + i) for i, e in enumerate(events)]


def _run(events: Sequence[Event]) -> tuple[GroupState, GroupOutput]:
    """One step of ``events`` (offsets from 0), then the watermark a day on; both outputs."""
    group = _group()
    out = group.process(_inbound(events))
    end = group.advance(T0 + timedelta(days=1))
    out.records += end.records
    out.tickets += end.tickets
    out.rejected += end.rejected
    return group, out


def _latest(items: Sequence, key: str) -> dict:
    out: dict = {}
    for item in items:
        held = out.get(getattr(item, key))
        if held is None or item.version > held.version:
            out[getattr(item, key)] = item
    return out


def _counts(snapshots: Sequence[Snapshot]) -> dict:
    """The latest counts per snapshot key."""
    return {s.key: s.counts for s in sorted(snapshots, key=lambda s: s.version)}


def test_an_event_of_a_forgotten_ticket_is_dead_lettered_as_late() -> None:
    """A ticket evicted after its retention leaves a tombstone; an event of it that comes
    then is late. The group used to stop on it: its step took every rejected event for a
    call's (``AttributeError: 'TicketClosed' object has no attribute 'call_id'``)."""
    group = _group()
    group.process(
        [
            Inbound(created("T1", TicketCategory.COMPLAINT, T0, DUE), "t", 0, 0),
            Inbound(resolved("T1", T0 + timedelta(hours=1)), "t", 0, 1),
        ]
    )
    group.advance(T0 + timedelta(days=40))
    assert "T1" in group.tickets.tombstones
    late = Inbound(closed("T1", T0 + timedelta(days=40)), "t", 0, 2)
    out = group.process([late])
    assert [(r.reason, o) for r, o in out.rejected] == [("late", late)]
    group.dump({})  # the step's state writes too


# -- two centers, one id -------------------------------------------------------------------


def test_another_centers_call_under_a_held_call_id_is_rejected_and_the_first_kept() -> None:
    """Two centers of one province whose CTI systems both minted ``1740961800.123``: the
    second center's events used to be merged into the first one's call (one call counted,
    its facts a mix of both, nothing reported). They are rejected as invalid, naming the id
    and both centers; the first center's call is exactly what it is alone."""
    ningbo = _call(NINGBO, CTI_ID, T0, "C330200.A001")
    hangzhou = _call(HANGZHOU, CTI_ID, T0 + timedelta(seconds=40), "C330100.A007")
    mixed = [e for pair in zip(ningbo, hangzhou, strict=True) for e in pair]
    group, out = _run(mixed)
    _, alone = _run(ningbo)
    assert [(r.event, r.reason, r.check) for r, _ in out.rejected] == [
        (e, "invalid", "id_collision") for e in hangzhou
    ]
    detail = out.rejected[0][0].detail
    assert CTI_ID in detail and "C330200" in detail and "C330100" in detail
    assert [o.offset for _, o in out.rejected] == [1, 3, 5, 7]  # each its own source message
    assert _latest(out.records, "call_id") == _latest(alone.records, "call_id")
    assert [r.center_id for r in out.records] == ["C330200"]
    assert group.calls.stats["id_collisions"] == 4
    assert _counts(out.snapshots) == _counts(alone.snapshots)


def test_a_duplicate_is_not_a_collision_and_other_call_ids_are_untouched() -> None:
    """The same event twice is a duplicate (ignored), whichever center; each center's own
    ids (the queue_log adapter's ``<center>:<callid>``, UUIDs) make two calls."""
    ningbo = _call(NINGBO, f"C330200:{CTI_ID}", T0, "C330200.A001")
    hangzhou = _call(HANGZHOU, str(uuid.uuid4()), T0, "C330100.A007")
    group, out = _run([*ningbo, *ningbo[:2], *hangzhou, hangzhou[-1]])
    assert out.rejected == []
    assert {r.center_id for r in _latest(out.records, "call_id").values()} == {
        "C330200",
        "C330100",
    }
    assert group.calls.stats["duplicates"] == 3 and group.calls.stats["id_collisions"] == 0


def _ticket(center: tuple[str, str], ticket_id: str, at: datetime) -> list[Event]:
    """A complaint of ``center``: created, routed to a department (another unit), resolved
    after an hour."""
    events = [
        created(ticket_id, TicketCategory.COMPLAINT, at, at + timedelta(days=2)),
        TicketAssigned(
            envelope=env("ticket.assigned", at + timedelta(minutes=5)),
            ticket_id=ticket_id,
            assignee_id="C330100.dept.pension",  # routed elsewhere: still this center's ticket
            routed=True,
        ),
        resolved(ticket_id, at + timedelta(hours=1)),
    ]
    return [_as(center, e) for e in events]


def test_another_centers_ticket_under_a_held_ticket_id_is_rejected_and_the_first_kept() -> None:
    """Both centers number their tickets ``T0001``: the second center's events used to be
    merged into the first one's ticket. A ticket routed to another unit stays its center's
    (the schema has no event of another center for it): nothing legitimate is rejected."""
    ningbo = _ticket(NINGBO, "T0001", T0)
    hangzhou = _ticket(HANGZHOU, "T0001", T0 + timedelta(minutes=2))
    group, out = _run([ningbo[0], hangzhou[0], *ningbo[1:], *hangzhou[1:]])
    _, alone = _run(ningbo)
    assert [(r.event, r.reason, r.check) for r, _ in out.rejected] == [
        (e, "invalid", "id_collision") for e in hangzhou
    ]
    detail = out.rejected[0][0].detail
    assert "T0001" in detail and "C330200" in detail and "C330100" in detail
    assert _latest(out.tickets, "ticket_id") == _latest(alone.tickets, "ticket_id")
    assert out.ticket_counts == alone.ticket_counts
    assert len(group.tickets.states["T0001"].events) == 3


def test_collisions_survive_a_reload_and_are_not_dead_lettered_again() -> None:
    """After a crash the group is rebuilt from its table and the step since the last commit
    comes again: the same events are rejected (the held call and ticket still know their
    center), counted as redelivered, not dead-lettered a second time; a new event of the
    other center still is."""
    registry, codec, config = default_registry(), default_codec(), StreamsConfig()
    ningbo = [*_call(NINGBO, CTI_ID, T0, "A1"), *_ticket(NINGBO, "T0001", T0)]
    hangzhou = [*_call(HANGZHOU, CTI_ID, T0, "A2"), *_ticket(HANGZHOU, "T0001", T0)]
    group, table = _group(), {}
    group.process(_inbound(ningbo))
    group.dump(table)
    step = _inbound(hangzhou, first=len(ningbo))
    first = group.process(step)
    assert len(first.rejected) == len(hangzhou)
    group.dump(table)
    reloaded = GroupState.load(GROUP, table, config, registry, codec)
    again = reloaded.process(step)
    assert again.rejected == [] and again.redelivered == len(hangzhou)
    crashed = GroupState.load(GROUP, {}, config, registry, codec)  # nothing persisted yet
    crashed.process(_inbound(ningbo))
    assert [r for r, _ in crashed.process(step).rejected] == [r for r, _ in first.rejected]
    fresh = _as(HANGZHOU, hangzhou[0])
    new = reloaded.process(_inbound([fresh], first=len(ningbo) + len(hangzhou)))
    assert [(r.event, r.check) for r, _ in new.rejected] == [(fresh, "id_collision")]


def test_the_worker_dead_letters_a_collision_with_its_source_and_counts_it(
    tmp_path: Path,
) -> None:
    """Through the worker's output stage (no broker: its sends are captured): one dead letter
    per rejected event, reason ``invalid``, error type ``IdCollision``, with its source
    message; the worker's stats count them (``id_collision``)."""
    worker = Worker(WorkerConfig(app_id="t-collision", partitions=3, datadir=tmp_path))
    sent: list[tuple[str, bytes, bytes]] = []
    worker._send = lambda role, key, value: sent.append((role, key, value))  # type: ignore[method-assign]
    group = _group()
    group.process(_inbound(_call(NINGBO, CTI_ID, T0, "A1")))
    hangzhou = _call(HANGZHOU, CTI_ID, T0, "A2")[:2]
    out = group.process([Inbound(e, RAW_TOPIC, 2, 40 + i) for i, e in enumerate(hangzhou)])
    worker._emit(GROUP, out)
    codec = default_codec()
    dead = [codec.decode_model(value) for role, _, value in sent if role == "dead_letters"]
    assert [(d.reason, d.error_type, d.source_topic, d.source_offset) for d in dead] == [
        (DeadLetterReason.INVALID, "IdCollision", RAW_TOPIC, 40),
        (DeadLetterReason.INVALID, "IdCollision", RAW_TOPIC, 41),
    ]
    assert "C330100" in dead[0].error_detail and codec.decode_model(dead[0].original) == hangzhou[0]
    assert worker.stats["id_collision"] == 2 and worker.stats["dead_invalid"] == 2


# -- two centers, one id: the first one's call or ticket closed, its id held by its tombstone -


_CLOSED = {
    "call": (lambda center, at: _call(center, CTI_ID, at, "A1"), "call_id", timedelta(hours=3)),
    "ticket": (lambda center, at: _ticket(center, "T0001", at), "ticket_id", timedelta(days=8)),
}
"""Per kind: a center's call or ticket from a time, its id's field, and how long after ``T0``
the one from ``T0`` is evicted and its tombstone still holds its id (a call: evicted at offered
+ 2 h 10; a ticket: a week after its last event; the tombstone: as long again)."""


@pytest.mark.parametrize("kind", sorted(_CLOSED))
def test_another_centers_event_under_a_tombstones_id_is_a_collision_not_late(kind: str) -> None:
    """Ningbo's call (ticket) was closed and evicted; its tombstone holds the id for another
    retention. Hangzhou's new call (ticket) under that id used to be dead-lettered as
    ``late`` ("its call was already closed"): an operator would look for a clock problem, not
    for two centers minting one id. It is ``invalid`` (``id_collision``), naming both
    centers, also after a reload from the table; a later event of Ningbo's own is ``late``."""
    registry, codec, config = default_registry(), default_codec(), StreamsConfig()
    make, key, later = _CLOSED[kind]
    ningbo, group, table = make(NINGBO, T0), _group(), {}
    assert group.process(_inbound(ningbo)).rejected == []
    group.advance(T0 + later)
    held = group.calls.tombstones if kind == "call" else group.tickets.tombstones
    assert held[getattr(ningbo[0], key)].center == NINGBO[0]
    group.dump(table)
    reloaded = GroupState.load(GROUP, table, config, registry, codec)
    hangzhou = make(HANGZHOU, T0 + later)
    own = _as(NINGBO, ningbo[-1])  # a fresh event of the closed one's own center
    for g in (group, reloaded):
        out = g.process(_inbound([*hangzhou, own], first=10))
        assert [(r.event, r.reason, r.check) for r, _ in out.rejected] == [
            *((e, "invalid", "id_collision") for e in hangzhou),
            (own, "late", None),
        ]
        detail = out.rejected[0][0].detail
        assert "C330200" in detail and "C330100" in detail and "tombstone" in detail
        assert out.records == out.tickets == []
    if kind == "call":
        assert reloaded.calls.stats["id_collisions"] == len(hangzhou)
        assert reloaded.calls.stats["late"] == 1


def test_a_tombstone_written_before_1_dec_loads_without_its_center_and_rejects_as_late() -> None:
    """A running deployment's table has tombstones without their center (a call's image
    ``{"t": ms, ...}``, a ticket's ``<group>|kt|<ticket>`` = ms). They load; which center held
    the id cannot be told, so every event under it is ``late`` as before the upgrade (the
    detail says the tombstone names no center), until the tombstone expires like any other —
    and the old ticket key is deleted then."""
    registry, codec, config = default_registry(), default_codec(), StreamsConfig()
    group, table = _group(), {}
    group.process(_inbound([*_call(NINGBO, CTI_ID, T0, "A1"), *_ticket(NINGBO, "T0001", T0)]))
    group.advance(T0 + timedelta(days=8))
    group.dump(table)
    call_key, ticket_key = f"{GROUP}|c|{CTI_ID}", f"{GROUP}|ktc|T0001"
    del table[call_key]["tc"]  # what the worker before 1 Dec wrote
    table[f"{GROUP}|kt|T0001"] = table.pop(ticket_key)[0]
    old = GroupState.load(GROUP, table, config, registry, codec)
    assert old.calls.tombstones[CTI_ID].center is None
    assert old.tickets.tombstones["T0001"].center is None
    events = [
        _as(HANGZHOU, _call(HANGZHOU, CTI_ID, T0, "A2")[-1]),
        _as(HANGZHOU, closed("T0001", T0)),
    ]
    out = old.process(_inbound(events, first=20))
    assert [(r.event, r.reason) for r, _ in out.rejected] == [(e, "late") for e in events]
    assert all("names no center" in r.detail for r, _ in out.rejected)
    table[ticket_key] = [0, NINGBO[0]]  # a crash left both formats: the new one wins
    assert (
        GroupState.load(GROUP, table, config, registry, codec).tickets.tombstones["T0001"].center
        == NINGBO[0]
    )
    del table[ticket_key]
    old.advance(T0 + timedelta(days=16))
    old.dump(table)
    assert not old.calls.tombstones and not old.tickets.tombstones
    assert not [k for k in table if k.startswith((f"{GROUP}|kt", call_key))]


# -- a ticket's end before its creation ----------------------------------------------------


@pytest.mark.parametrize("end", [resolved, closed])
def test_an_end_before_the_creation_is_rejected_naming_both_times(end) -> None:  # type: ignore[no-untyped-def]
    """Resolved (or closed) three minutes before it was created (the two systems' clocks
    disagree): sorted before the creation, it used to be ignored without a word, and the
    ticket stayed open and overdue for ever. It is rejected as invalid; the ticket is open
    (and overdue past its due time) until an end that is after the creation comes."""
    early = end("T2", T0 - timedelta(minutes=3))
    group, out = _run([created("T2", TicketCategory.COMPLAINT, T0, DUE), early])
    [(rejected, origin)] = out.rejected
    assert (rejected.event, rejected.reason, rejected.check) == (
        early,
        "invalid",
        "end_before_created",
    )
    assert origin is not None and origin.offset == 1
    assert "2025-03-04T00:57:00+00:00" in rejected.detail
    assert "2025-03-04T01:00:00+00:00" in rejected.detail and "T2" in rejected.detail
    assert early.envelope.event_id not in group.tickets.states["T2"].events
    assert _latest(out.tickets, "ticket_id")["T2"].status is TicketStatus.CREATED
    later = group.process(_inbound([end("T2", T0 + timedelta(days=1, hours=1))], first=2))
    assert later.rejected == []
    after = [*later.tickets, *group.advance(T0 + timedelta(days=1, hours=2)).tickets]
    record = _latest(after, "ticket_id")["T2"]
    assert record.status is not TicketStatus.CREATED and not record.overdue


def test_an_end_read_before_its_creation_is_judged_when_the_creation_comes() -> None:
    """In arrival order the end may come first. Occurred after the creation, it is an
    ordinary resolution; occurred before it, it is rejected once the creation is read
    (from a step before: its source is no longer known, as an orphan's), and gone from the
    ticket's state in the table, so a reload does not bring it back."""
    registry, codec, config = default_registry(), default_codec(), StreamsConfig()
    fine = resolved("T3", T0 + timedelta(hours=1))
    early = resolved("T4", T0 - timedelta(minutes=3))
    group, table = _group(), {}
    assert group.process(_inbound([fine, early])).rejected == []
    group.dump(table)
    creations = [
        created("T3", TicketCategory.COMPLAINT, T0, DUE),
        created("T4", TicketCategory.COMPLAINT, T0, DUE),
    ]
    out = group.process(_inbound(creations, first=2))
    assert [(r.event, r.check, o) for r, o in out.rejected] == [(early, "end_before_created", None)]
    records = _latest([*out.tickets, *group.advance(T0 + timedelta(hours=2)).tickets], "ticket_id")
    assert records["T3"].status is TicketStatus.RESOLVED
    assert records["T4"].status is TicketStatus.CREATED
    group.dump(table)
    reloaded = GroupState.load(GROUP, table, config, registry, codec)
    assert early.envelope.event_id not in reloaded.tickets.states["T4"].events
    again = reloaded.process(_inbound([fine, early, *creations]))  # all redelivered
    assert again.rejected == [] and again.redelivered == 1


def test_an_end_in_the_same_millisecond_but_sequenced_before_the_creation_is_rejected() -> None:
    """The ticket's events are ordered by (time, sequence): an end at the creation's very
    millisecond with a lower sequence would be ignored as well. After it, it counts."""
    opened = created("T5", TicketCategory.CALLBACK, T0, DUE)
    seq = opened.envelope.sequence
    before = resolved("T5", T0)
    before = before.model_copy(
        update={"envelope": before.envelope.model_copy(update={"sequence": seq - 1})}
    )
    _, out = _run([opened, before])
    [(rejected, _)] = out.rejected
    assert rejected.event == before and "sequenced before it" in rejected.detail
    _, out = _run([opened, resolved("T5", T0)])  # same millisecond, a later sequence
    assert out.rejected == []
    assert _latest(out.tickets, "ticket_id")["T5"].status is TicketStatus.RESOLVED


def test_a_reopen_then_an_end_after_the_creation_are_ordinary() -> None:
    """Only ends and reopens before the creation are rejected: a reopen and a second
    resolution after it are the ticket's lifecycle."""
    events = [
        created("T6", TicketCategory.COMPLAINT, T0, DUE),
        resolved("T6", T0 + timedelta(hours=1)),
        reopened("T6", T0 + timedelta(hours=2)),
        resolved("T6", T0 + timedelta(hours=3)),
    ]
    _, out = _run(events)
    assert out.rejected == []
    assert _latest(out.tickets, "ticket_id")["T6"].reopens == 1


@pytest.mark.parametrize("arrives_first", [False, True])
def test_a_reopen_before_the_creation_is_rejected(arrives_first: bool) -> None:
    """A reopen that occurred before the ticket was created opened a spell before it existed:
    a dangerous call's alert opened then, with the reopen's due time. Rejected as invalid
    (``reopen_before_created``), read after the creation or held until it comes."""
    opened = created("T7", TicketCategory.DANGEROUS_CALL, T0, T0 + timedelta(hours=2))
    early = reopened("T7", T0 - timedelta(minutes=5))
    group, out = _run([early, opened] if arrives_first else [opened, early])
    assert [(r.event, r.reason, r.check) for r, _ in out.rejected] == [
        (early, "invalid", "reopen_before_created")
    ]
    assert "T7" in out.rejected[0][0].detail and "ticket.reopened" in out.rejected[0][0].detail
    [spell] = group.tickets.states["T7"].spells()
    assert (spell.opened_at, spell.due_at) == (T0, T0 + timedelta(hours=2))
    assert {a.opened_at for a in out.alerts} == {T0}
