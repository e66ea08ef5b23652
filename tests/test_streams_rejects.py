"""Ticket and call events a province group rejects for the dead-letter topic, without stopping:
a late ticket event."""

from __future__ import annotations

from datetime import timedelta

from test_streams_alerts import T0, closed, created, resolved

from hotline.regions import default_registry
from hotline.schemas import TicketCategory, default_codec
from hotline.streams.config import StreamsConfig
from hotline.streams.groups import GroupState, Inbound

GROUP = "330000"
DUE = T0 + timedelta(days=2)


def _group() -> GroupState:
    return GroupState(GROUP, StreamsConfig(), default_registry(), default_codec())


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
