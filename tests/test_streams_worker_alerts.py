"""Tickets and alerts in the group state without a broker: a rebuild from the table image
with the batch replayed ("crash") gives the same ticket records and alerts (highest version
per id) as an uninterrupted run; an unstaffed line raises one unreachable alert per episode,
the last kept open when the input ends."""

from __future__ import annotations

import functools
from collections import defaultdict
from datetime import timedelta

from hotline.producers.simulator import Ledger, MemorySink, SimConfig, simulate
from hotline.producers.simulator.params import Profile
from hotline.producers.simulator.runner import DEFAULT_START
from hotline.regions import default_registry
from hotline.schemas import AlertKind, Event, default_codec
from hotline.streams.config import StreamsConfig
from hotline.streams.groups import GroupState, Inbound


@functools.cache
def events() -> tuple[Event, ...]:
    config = SimConfig(
        seed=11,
        centers=["C330200", "C320100"],
        profiles={"C320100": Profile.UNSTAFFED_LINE},
        start=DEFAULT_START + timedelta(hours=8),
        duration=timedelta(hours=6),
    )
    sink = MemorySink()
    simulate(config, sink, Ledger(config.end))
    return tuple(sink.events)


def _latest(items, key) -> dict:  # type: ignore[no-untyped-def]
    out: dict = {}
    for item in items:
        held = out.get(key(item))
        if held is None or item.version > held.version:
            out[key(item)] = item
    return out


def _drive(crash_every: int | None) -> tuple[dict, dict]:
    registry, codec, config = default_registry(), default_codec(), StreamsConfig()
    by_group = defaultdict(list)
    for e in events():
        by_group[registry.province_of(e.envelope.region_code).code].append(e)
    tickets, alerts = [], []
    for g, evs in by_group.items():
        table: dict = {}
        state = GroupState(g, config, registry, codec)
        batches = [evs[i : i + 400] for i in range(0, len(evs), 400)]
        i = steps = 0
        while i < len(batches):
            out = state.process(Inbound(e, "t", 0, 0) for e in batches[i])
            tickets += out.tickets
            alerts += out.alerts
            steps += 1
            if crash_every and steps % crash_every == 0:
                state = GroupState.load(g, table, config, registry, codec)
                held = state.held()
                tickets += held.tickets
                alerts += held.alerts
                continue
            state.dump(table)
            i += 1
        point = state.flush_point()
        assert point is not None
        out = state.advance(point)
        tickets += out.tickets
        alerts += out.alerts
    return (
        _latest(tickets, lambda t: t.ticket_id),
        _latest(alerts, lambda a: a.alert_id),
    )


def test_tickets_and_alerts_survive_reloads() -> None:
    tickets, alerts = _drive(None)
    assert len(tickets) > 10
    unreachable = [a for a in alerts.values() if a.kind is AlertKind.CENTER_UNREACHABLE]
    assert {a.center_id for a in unreachable} == {"C320100"}
    # the input ends at 14:00 with the line still unstaffed: nothing says it recovered, so
    # the flush closes every episode but the last, which says since when it heard nothing
    *done, last = sorted(unreachable, key=lambda a: a.opened_at)
    assert all(a.closed_at is not None for a in done) and last.closed_at is None
    assert last.message == (
        "center C320100: unreachable, then no calls seen since 2025-03-03 14:00 (China time)"
    )
    assert len(unreachable) <= 3  # morning, afternoon (at most a lunch-time split): no storm
    again = _drive(crash_every=3)
    assert again == (tickets, alerts)
