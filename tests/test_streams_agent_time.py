"""Agent time in the worker's groups: every level equals the simulator's ledger, in order,
disordered and duplicated, and after crashes that leave any prefix of a step's state writes."""

from __future__ import annotations

import functools
import random
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import pytest
from group_driver import Latest, drive, in_batches

from hotline.centers import default_centers
from hotline.producers.simulator import Ledger, MemorySink, SimConfig, simulate
from hotline.producers.simulator.runner import DEFAULT_START
from hotline.regions import default_registry
from hotline.schemas import (
    AGENT_TIME_COUNTERS,
    AgentState,
    AgentTimeSnapshot,
    Event,
    Level,
    default_codec,
)
from hotline.streams.agents import AgentClock, AgentMinute
from hotline.streams.aggregate import BUCKET
from hotline.streams.calls import CALL_EVENT_TYPES
from hotline.streams.config import StreamsConfig
from hotline.streams.groups import NATIONAL_GROUP, GroupOutput, GroupState
from hotline.streams.rollup import region_at

CENTERS = ["C330200", "C320100", "C460000", "C660000"]
T0 = datetime(2025, 3, 3, 1, 0, tzinfo=UTC)
Expected = dict[tuple[Level, str, int], tuple[int, ...]]


def agent_time_at_every_level(ledger: Ledger) -> Expected:
    """The ledger's agent time at every level: (level, region, minute ms) → counters."""
    registry, homes = default_registry(), {c.center_id: c.home for c in default_centers()}
    expected: dict[tuple[Level, str, int], list[int]] = {}
    for row in ledger.records():
        if row["kind"] != "agents":
            continue
        minute = int(datetime.fromisoformat(row["minute"]).timestamp() * 1000)
        for level in Level:
            key = (level, region_at(registry, homes[row["center_id"]], level), minute)
            total = expected.setdefault(key, [0] * len(AGENT_TIME_COUNTERS))
            total[:] = [t + row[name] for t, name in zip(total, AGENT_TIME_COUNTERS, strict=True)]
    return {k: tuple(v) for k, v in expected.items()}


def snapshots_before(rows: Iterable[AgentTimeSnapshot], end: datetime) -> Expected:
    """Wire snapshots (the latest per key) as :func:`agent_time_at_every_level` has them: the
    minutes before ``end`` with any time (the worker also counts agents still logged in after
    the simulated span)."""
    return {
        (s.level, s.region_code, int(s.bucket_start.timestamp() * 1000)): counts
        for s in rows
        if s.bucket_start < end
        and any(counts := tuple(getattr(s, name) for name in AGENT_TIME_COUNTERS))
    }


@functools.cache
def simulated() -> tuple[tuple[Event, ...], datetime, Expected]:
    """Five working-day hours at four centers: every event and the ledger's agent time."""
    start, duration = DEFAULT_START + timedelta(hours=8), timedelta(hours=5)
    config = SimConfig(seed=7, centers=CENTERS, start=start, duration=duration)
    sink, ledger = MemorySink(), Ledger(config.end)
    simulate(config, sink, ledger)
    return tuple(sink.events), config.end, agent_time_at_every_level(ledger)


@functools.cache
def run() -> tuple[tuple[Event, ...], datetime, Expected]:
    """:func:`simulated`, its agent events only."""
    events, end, expected = simulated()
    return tuple(e for e in events if e.RECORD_TYPE == "agent.state"), end, expected


def _before(latest: Latest, end: datetime) -> Expected:
    cut = int(end.timestamp() * 1000)
    rows = latest.rows.values()
    return {
        (m.level, m.region_code, m.minute_ms): m.counts
        for m in rows
        if m.minute_ms < cut and any(m.counts)
    }


def _drive(
    batches_of: dict[str, list[list[Event]]], crash_every: int | None = None, torn: bool = False
) -> tuple[Latest, list[GroupOutput]]:
    """The groups' agent time, last version per (level, region, minute), and every output;
    the reloaded state equals the state at the end."""
    latest, outs = Latest(lambda m: (m.level, m.region_code, m.minute_ms)), []  # type: ignore[attr-defined]

    def emit(out: GroupOutput) -> None:
        outs.append(out)
        latest.write(out.agent_times)

    groups = drive(batches_of, emit, crash_every, torn)
    registry, codec, config = default_registry(), default_codec(), StreamsConfig()
    for g, (state, table) in groups.items():
        reloaded = GroupState.load(g, table, config, registry, codec)
        assert reloaded.agent_time.clock.timelines == state.agent_time.clock.timelines
        assert reloaded.agent_time.pages == state.agent_time.pages
    return latest, outs


def _late(outs: list[GroupOutput]) -> list[Event]:
    rejected = (r.event for out in outs for r, _ in out.rejected)
    return [e for e in rejected if e.RECORD_TYPE == "agent.state"]


def test_agent_time_equals_the_ledger_at_every_level() -> None:
    events, end, expected = run()
    latest, outs = _drive(in_batches(list(events)))
    assert len(expected) > 500 and {k[0] for k in expected} == set(Level)
    assert _before(latest, end) == expected
    assert not _late(outs)


def test_disordered_and_duplicated_delivery_is_exact() -> None:
    """Each batch shuffled with duplicates of its own events and of an earlier batch's:
    those of minutes already closed come back as late, none is counted twice."""
    events, end, expected = run()
    rng = random.Random(11)
    batches_of = in_batches(list(events))
    for batches in batches_of.values():
        sent = list(batches)
        for i, batch in enumerate(sent):
            mixed = batch + batch[::5] + (sent[i - 4][::3] if i >= 4 else [])
            rng.shuffle(mixed)
            batches[i] = mixed
    latest, outs = _drive(batches_of)
    assert _before(latest, end) == expected
    ids = {e.envelope.event_id for e in events}
    late = _late(outs)
    assert late and all(e.envelope.event_id in ids for e in late)


@pytest.mark.parametrize("torn", [False, True], ids=["none-written", "torn-write"])
def test_crashes_then_replay_are_exact(torn: bool) -> None:
    events, end, expected = run()
    latest, outs = _drive(in_batches(list(events)), crash_every=3, torn=torn)
    assert _before(latest, end) == expected
    assert not _late(outs)


def test_the_national_group_evicts_the_agent_time_of_the_minutes_it_closed() -> None:
    """With the call events, whose snapshots move the national roll-up's watermark: the
    national agent-time pages of the minutes it closed (as its cells close: the retention and
    ``national_lateness``, here an hour, behind it) are evicted, and deleted from the table.
    Every level still equals the ledger."""
    events, end, expected = simulated()
    kinds = {"agent.state", *CALL_EVENT_TYPES}
    config = StreamsConfig(national_lateness=timedelta(hours=1))
    latest = Latest(lambda m: (m.level, m.region_code, m.minute_ms))  # type: ignore[attr-defined]
    groups = drive(
        in_batches([e for e in events if e.RECORD_TYPE in kinds]),
        lambda out: latest.write(out.agent_times),
        config=config,
    )
    assert _before(latest, end) == expected
    national, table = groups[NATIONAL_GROUP]
    watermark = national.rollups[0].watermark
    assert watermark is not None
    kept = national.national_agent_time.pages
    closed_before = watermark - BUCKET - national.config.retention - national.config.lateness
    assert kept and min(kept) >= closed_before.timestamp() * 1000
    sent = {m.minute_ms for m in latest.rows.values() if m.level is Level.NATIONAL}
    assert min(sent) < min(kept)  # some were evicted
    assert sum(key.startswith(f"{NATIONAL_GROUP}|y|") for key in table) == len(kept)


def _state(agent: str, at: timedelta, state: AgentState, seq: int) -> Event:
    """An agent state event at T0 + ``at`` (a simulated one with these fields replaced)."""
    template = run()[0][0]
    env = template.envelope.model_copy(
        update={
            "event_id": f"E{agent}-{seq}",
            "occurred_at": T0 + at,
            "sequence": seq,
            "region_code": "330203",
        }
    )
    return template.model_copy(
        update={"envelope": env, "agent_id": agent, "state": state, "reason": None}
    )


def test_clock_counts_until_the_next_state_and_rejects_what_is_closed() -> None:
    clock = AgentClock()
    minute = timedelta(minutes=1)
    assert clock.add(_state("A1", timedelta(seconds=30), AgentState.READY, 1))
    assert clock.add(_state("A1", minute + timedelta(seconds=15), AgentState.ON_CALL, 2))
    assert clock.add(
        _state("A1", minute + timedelta(seconds=15), AgentState.ON_CALL, 2)
    )  # duplicate
    rows = clock.close(int((T0 + 2 * minute).timestamp() * 1000))
    t0 = int(T0.timestamp() * 1000)
    staffed, ready, on_call = 0, 1, 2
    assert rows[(t0, "330203")][ready] == 30_000 == rows[(t0, "330203")][staffed]
    assert rows[(t0 + 60_000, "330203")][ready] == 15_000
    assert rows[(t0 + 60_000, "330203")][on_call] == 45_000
    assert not clock.add(
        _state("A1", minute + timedelta(seconds=50), AgentState.READY, 3)
    )  # closed
    assert clock.add(_state("A1", 2 * minute + timedelta(seconds=20), AgentState.LOGGED_OUT, 4))
    rows = clock.close(int((T0 + 4 * minute).timestamp() * 1000))
    assert rows == {(t0 + 120_000, "330203"): [20_000, 0, 20_000, 0, 0]}
    clock.close(int((T0 + 5 * minute).timestamp() * 1000))
    assert not clock.timelines  # logged out before the closed minutes: forgotten


def test_wire_record_is_the_model() -> None:
    codec = default_codec()
    snap = AgentMinute(Level.CITY, "330200", int(T0.timestamp() * 1000), 2, (9, 4, 3, 2, 1))
    model = AgentTimeSnapshot(**snap.to_avro())
    assert codec.encode("agent_time.snapshot", snap.to_avro()) == codec.encode_model(model)
    assert AgentMinute.from_dict(snap.to_dict()) == snap
