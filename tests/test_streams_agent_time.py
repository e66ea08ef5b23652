"""Agent time in the worker's groups: every level equals the simulator's ledger, in order,
disordered and duplicated, and after crashes that leave any prefix of a step's state writes."""

from __future__ import annotations

import functools
import random
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import pytest
from group_driver import Latest, drive, in_batches, inbound

from hotline.centers import default_centers
from hotline.producers.simulator import Ledger, MemorySink, SimConfig, simulate
from hotline.producers.simulator.ledger import MAX_AGENT_STATE
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
from hotline.sinks.migrate import load_migrations
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
    batches_of: dict[str, list[list[Event]]],
    crash_every: int | None = None,
    torn: bool = False,
    config: StreamsConfig | None = None,
) -> tuple[Latest, list[GroupOutput]]:
    """The groups' agent time, last version per (level, region, minute), and every output;
    the reloaded state equals the state at the end."""
    config = config or StreamsConfig()
    latest, outs = Latest(lambda m: (m.level, m.region_code, m.minute_ms)), []  # type: ignore[attr-defined]

    def emit(out: GroupOutput) -> None:
        outs.append(out)
        latest.write(out.agent_times)

    groups = drive(batches_of, emit, crash_every, torn, config)
    registry, codec = default_registry(), default_codec()
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


def _state(
    agent: str, at: timedelta, state: AgentState, seq: int, center: str | None = None
) -> Event:
    """An agent state event at T0 + ``at`` (a simulated one with these fields replaced): in
    county 330203, or at ``center`` and its home region."""
    template = run()[0][0]
    place = {"region_code": "330203"}
    if center is not None:
        homes = {c.center_id: c.home for c in default_centers()}
        place = {"center_id": center, "region_code": homes[center]}
    env = template.envelope.model_copy(
        update={"event_id": f"E{agent}-{seq}", "occurred_at": T0 + at, "sequence": seq, **place}
    )
    return template.model_copy(
        update={"envelope": env, "agent_id": agent, "state": state, "reason": None}
    )


def test_clock_counts_until_the_next_state_and_rejects_what_is_closed() -> None:
    clock = AgentClock(MAX_AGENT_STATE)
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


HOUR, MINUTE = timedelta(hours=1), timedelta(minutes=1)


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def _minutes_of(rows: dict[tuple[int, str], list[int]], region: str) -> dict[int, list[int]]:
    """Minute ms → counters of ``region``, the minutes with any time."""
    return {minute: row for (minute, r), row in rows.items() if r == region and any(row)}


def _full_minutes(begin: timedelta, end: timedelta, counter: int) -> dict[int, list[int]]:
    """Each minute of [T0 + begin, T0 + end) entirely in ``counter`` (staffed too)."""
    row = [0] * len(AGENT_TIME_COUNTERS)
    row[counter] = row[0] = 60_000
    first, count = _ms(T0 + begin), (end - begin) // MINUTE
    return {first + k * 60_000: list(row) for k in range(count)}


def test_a_state_without_a_next_event_counts_twelve_hours_then_nothing() -> None:
    """Ready at T0 and no event after (a lost logout): exactly 12 h of ready and staffed time,
    closed hour by hour across a reload of the clock from its table image after 6 h; then the
    agent is forgotten. The ledger counts the same."""
    cap = StreamsConfig().max_agent_state
    assert cap == MAX_AGENT_STATE == timedelta(hours=12)
    ready = _state("A1", timedelta(0), AgentState.READY, 1)
    clock, rows = AgentClock(cap), {}
    clock.add(ready)
    for hour in range(1, 31):
        rows.update(clock.close(_ms(T0 + hour * HOUR)))
        if hour == 6:
            reloaded = AgentClock(cap)
            agent = (ready.envelope.center_id, "A1")
            reloaded.restore(agent, clock.image(agent) or [])
            reloaded.closed_ms, clock = clock.closed_ms, reloaded
    assert _minutes_of(rows, "330203") == _full_minutes(timedelta(0), 12 * HOUR, 1)
    assert not clock.timelines
    ledger = Ledger(T0 + 30 * HOUR)
    ledger.emit(ready)
    agents = [r for r in ledger.records() if r["kind"] == "agents"]
    assert (
        sum(r["staffed_ms"] for r in agents) == sum(r["ready_ms"] for r in agents) == 12 * 3600_000
    )
    assert max(r["minute"] for r in agents) == "2025-03-03T12:59:00.000Z"  # T0 + 11:59


def test_an_event_after_the_cap_counts_again_and_a_shorter_state_is_whole() -> None:
    """On call for 11 h 59 min and ready for exactly 12 h count whole; after 12 h 30 min of
    not ready, nothing from 12 h on, then the next state counts again from its event."""
    events = [
        (timedelta(0), AgentState.ON_CALL),
        (11 * HOUR + 59 * MINUTE, AgentState.READY),
        (23 * HOUR + 59 * MINUTE, AgentState.NOT_READY),
        (36 * HOUR + 29 * MINUTE, AgentState.ON_CALL),
        (37 * HOUR, AgentState.LOGGED_OUT),
    ]
    clock = AgentClock(MAX_AGENT_STATE)
    for seq, (at, state) in enumerate(events, 1):
        clock.add(_state("A1", at, state, seq))
    rows = _minutes_of(clock.close(_ms(T0 + 40 * HOUR)), "330203")
    not_ready = _full_minutes(23 * HOUR + 59 * MINUTE, 35 * HOUR + 59 * MINUTE, 4)
    for row in not_ready.values():
        row[0] = 0  # not ready is not staffed
    assert rows == {
        **_full_minutes(timedelta(0), 11 * HOUR + 59 * MINUTE, 2),
        **_full_minutes(11 * HOUR + 59 * MINUTE, 23 * HOUR + 59 * MINUTE, 1),
        **not_ready,
        **_full_minutes(36 * HOUR + 29 * MINUTE, 37 * HOUR, 2),
    }


@pytest.mark.parametrize("torn", [False, True], ids=["none-written", "torn-write"])
def test_the_configured_cap_applies_across_crashes_and_equals_the_ledger(torn: bool) -> None:
    """``max_agent_state`` = 3 h: Ningbo's agent, ready at T0 and again at T0 + 20 h until
    T0 + 21 h, counts 3 h and 1 h while a Hangzhou agent's hourly states move the watermark;
    the groups, crashed every other step, equal a ledger with the same cap at every level."""
    cap, end = 3 * HOUR, T0 + 31 * HOUR
    events = [
        _state("A1", timedelta(0), AgentState.READY, 1, "C330200"),
        *(
            _state(
                "H1", k * HOUR, (AgentState.READY, AgentState.NOT_READY)[k % 2], k + 1, "C330100"
            )
            for k in range(30)
        ),
        _state("A1", 20 * HOUR, AgentState.READY, 2, "C330200"),
        _state("A1", 21 * HOUR, AgentState.LOGGED_OUT, 3, "C330200"),
        _state("H1", 30 * HOUR, AgentState.LOGGED_OUT, 31, "C330100"),
    ]
    events.sort(key=lambda e: e.envelope.occurred_at)
    latest, outs = _drive(
        in_batches(events, size=2),
        crash_every=2,
        torn=torn,
        config=StreamsConfig(max_agent_state=cap),
    )
    ningbo = {
        m: list(c)
        for (level, region, m), c in _before(latest, end).items()
        if (level, region) == (Level.COUNTY, "330200")
    }
    assert ningbo == {
        **_full_minutes(timedelta(0), cap, 1),
        **_full_minutes(20 * HOUR, 21 * HOUR, 1),
    }
    ledger = Ledger(end, max_agent_state=cap)
    for e in events:
        ledger.emit(e)
    assert _before(latest, end) == agent_time_at_every_level(ledger)
    assert not _late(outs)


def _county(latest: Latest, region: str, end: datetime) -> dict[int, list[int]]:
    """Minute ms → counters of county ``region`` before ``end``, the minutes with any time."""
    rows = _before(latest, end)
    return {m: list(c) for (level, r, m), c in rows.items() if (level, r) == (Level.COUNTY, region)}


def _not_ready(begin: timedelta, end: timedelta) -> dict[int, list[int]]:
    """Each minute of [T0 + begin, T0 + end) not ready (not staffed)."""
    rows = _full_minutes(begin, end, 4)
    for row in rows.values():
        row[0] = 0
    return rows


@pytest.mark.parametrize("torn", [False, True], ids=["none-written", "torn-write"])
def test_two_centers_agents_of_one_number_count_each_their_own_time(torn: bool) -> None:
    """Ningbo's and Hangzhou's agent ``1001`` (one province group): each counts its own
    states, through crashes and reloads from the table image, and so does the ledger. Keyed
    by the agent id alone, they made one timeline: Ningbo's logout ended Hangzhou's ready
    time, Hangzhou's login ended Ningbo's."""
    end = T0 + 2 * HOUR
    events = [
        _state("1001", timedelta(0), AgentState.READY, 1, "C330200"),
        _state("1001", 10 * MINUTE, AgentState.READY, 3, "C330100"),
        _state("1001", 30 * MINUTE, AgentState.LOGGED_OUT, 2, "C330200"),
        _state("1001", 40 * MINUTE, AgentState.NOT_READY, 4, "C330100"),
        _state("1001", 50 * MINUTE, AgentState.LOGGED_OUT, 5, "C330100"),
    ]
    latest, outs = _drive(in_batches(events, size=1), crash_every=2, torn=torn)
    assert _county(latest, "330200", end) == _full_minutes(timedelta(0), 30 * MINUTE, 1)
    assert _county(latest, "330100", end) == {
        **_full_minutes(10 * MINUTE, 40 * MINUTE, 1),
        **_not_ready(40 * MINUTE, 50 * MINUTE),
    }
    ledger = Ledger(end)
    for e in events:
        ledger.emit(e)
    assert _before(latest, end) == agent_time_at_every_level(ledger)
    assert not _late(outs)


def test_a_timeline_of_the_previous_format_is_dropped_at_the_upgrade() -> None:
    """A table written before agents were keyed by center (``<group>|a|<agent id>``): its
    timelines are dropped at the load (the center of an image cannot be told: its entries
    carry the region, which may have several centers) and deleted at the next write. The
    minutes closed before stay as sent; an agent mid-shift counts from its next event, and
    nothing is counted twice (the old ready state does not go on beside the new one)."""
    config, registry, codec = StreamsConfig(), default_registry(), default_codec()
    group, latest = "330000", Latest(lambda m: (m.level, m.region_code, m.minute_ms))  # type: ignore[attr-defined]
    before = [
        _state("1001", timedelta(0), AgentState.READY, 1, "C330200"),
        _state("H1", timedelta(0), AgentState.READY, 2, "C330100"),
        _state("H1", 30 * MINUTE, AgentState.ON_CALL, 3, "C330100"),
    ]
    after = [
        _state("1001", 40 * MINUTE, AgentState.ON_CALL, 4, "C330200"),
        _state("1001", 45 * MINUTE, AgentState.LOGGED_OUT, 5, "C330200"),
        _state("H1", 50 * MINUTE, AgentState.LOGGED_OUT, 6, "C330100"),
    ]
    old = GroupState(group, config, registry, codec)
    latest.write(old.process(inbound(e, i, codec) for i, e in enumerate(before)).agent_times)
    assert old.agent_time.clock.closed_ms == _ms(T0 + 20 * MINUTE)  # 30 min − lateness
    table: dict = {}
    old.dump(table)
    for center, agent in old.agent_time.clock.timelines:  # as the previous worker wrote them
        table[f"{group}|a|{agent}"] = table.pop(f"{group}|a|{center}|{agent}")
    state = GroupState.load(group, table, config, registry, codec)
    assert not state.agent_time.clock.timelines
    assert sorted(state.legacy_agent_keys) == [f"{group}|a|1001", f"{group}|a|H1"]
    latest.write(state.held().agent_times)
    n = len(before)
    out = state.process(inbound(e, n + i, codec) for i, e in enumerate(after))
    latest.write(out.agent_times)
    latest.write(state.advance(state.flush_point()).agent_times)  # type: ignore[arg-type]
    state.dump(table)
    assert not table.keys() & {f"{group}|a|1001", f"{group}|a|H1"}
    end = T0 + 2 * HOUR
    assert _county(latest, "330200", end) == {
        **_full_minutes(timedelta(0), 20 * MINUTE, 1),
        **_full_minutes(40 * MINUTE, 45 * MINUTE, 2),
    }
    assert _county(latest, "330100", end) == _full_minutes(timedelta(0), 20 * MINUTE, 1)


def test_the_default_cap_is_the_clickhouse_agent_time_views() -> None:
    """The latest migration defining the ``agent_time`` view caps an interval at the streams'
    (and the ledger's) default, so center_occupancy and region_occupancy count the same."""
    views = [m.sql for m in load_migrations() if "VIEW {database}.agent_time AS" in m.sql]
    caps = re.findall(r"begin_ms \+ (\d+)\)", views[-1])  # the end: at most begin + cap
    assert caps == [str(StreamsConfig().max_agent_state // timedelta(milliseconds=1))]


def test_wire_record_is_the_model() -> None:
    codec = default_codec()
    snap = AgentMinute(Level.CITY, "330200", int(T0.timestamp() * 1000), 2, (9, 4, 3, 2, 1))
    model = AgentTimeSnapshot(**snap.to_avro())
    assert codec.encode("agent_time.snapshot", snap.to_avro()) == codec.encode_model(model)
    assert AgentMinute.from_dict(snap.to_dict()) == snap
