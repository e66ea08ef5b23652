"""The worker's group state without a broker: the table image survives a "crash" (rebuild from
the image, replay the batches since the last dump) and the result still equals the ledger."""

from __future__ import annotations

import asyncio
import base64
import functools
import itertools
import time
import zlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka import TopicPartition
from faust.types import TP
from group_driver import WriteLog, drive, in_batches, inbound, write
from test_streams_alerts import T0, created, reopened, resolved
from test_streams_reconcile import CENTERS, expected_at, run
from test_streams_rejects import HANGZHOU, NINGBO, _call, _inbound

from hotline.infra.topics import raw_topic
from hotline.producers.simulator import Ledger, MemorySink, SimConfig, simulate
from hotline.producers.simulator.runner import DEFAULT_START
from hotline.regions import default_registry
from hotline.schemas import (
    AGENT_TIME_COUNTERS,
    TICKET_COUNT_COUNTERS,
    Alert,
    AlertKind,
    Event,
    Level,
    TicketCategory,
    default_codec,
)
from hotline.status_file import describe, read_status
from hotline.streams.agents import AgentMinute
from hotline.streams.alerts import alert_id, working_time_before
from hotline.streams.app import Worker, group_partition
from hotline.streams.calls import CALL_EVENT_TYPES
from hotline.streams.config import StreamsConfig
from hotline.streams.counters import ledger_view
from hotline.streams.groups import (
    NATIONAL_GROUP,
    GroupOutput,
    GroupState,
    Inbound,
    SequenceTracker,
)
from hotline.streams.pipeline import SnapshotStore
from hotline.streams.ticket_counts import TicketCount
from hotline.streams.worker_config import WorkerConfig

assert CENTERS
HOUR = timedelta(hours=1)


def _drive(crash_every: int | None, torn: bool = False) -> SnapshotStore:
    """Each province's call events in batches of 300 through its group (group_driver: with
    ``crash_every``, rebuilt from the table holding none or a prefix of a step's writes, and
    the batch replayed); the snapshots, last version wins. The reloaded end state equals the
    end state."""
    registry, codec, config = default_registry(), default_codec(), StreamsConfig()
    store = SnapshotStore()
    groups = drive(
        in_batches(run()[0], size=300), lambda out: store.write(out.snapshots), crash_every, torn
    )
    for g, (state, table) in groups.items():
        reloaded = GroupState.load(g, table, config, registry, codec)
        assert reloaded.aggregator.snapshots() == state.aggregator.snapshots()
        assert reloaded.calls.tombstones == state.calls.tombstones
    return store


def test_tombstones_and_repeat_entries_of_a_reloaded_group_expire_like_the_others() -> None:
    registry, codec, config = default_registry(), default_codec(), StreamsConfig()
    events, _ = run()
    group = "330000"
    mine = [e for e in events if registry.province_of(e.envelope.region_code).code == group]
    state, table = GroupState(group, config, registry, codec), {}
    state.process(Inbound(e, "t", 0, 0) for e in mine)
    state.advance(state.flush_point())  # every call closed and evicted: tombstones
    state.dump(table)
    reloaded = GroupState.load(group, table, config, registry, codec)
    assert reloaded.calls.tombstones and len(reloaded.calls.repeats)
    later = state.flush_point() + config.retention + config.repeat_window + timedelta(days=1)
    for s in (state, reloaded):
        s.advance(later)
        assert not s.calls.tombstones and not len(s.calls.repeats)


def test_events_given_as_read_make_the_same_table_as_events_encoded_again() -> None:
    """The worker hands each event's bytes as read (``Inbound.image``) so the call's state
    image need not encode it again: the table is the same. A conflicting duplicate (same
    event id, other content) is dropped and leaves the kept event's bytes, also after a
    reload."""
    registry, codec, config = default_registry(), default_codec(), StreamsConfig()
    events, _ = run()
    group = "330000"
    mine = [e for e in events if registry.province_of(e.envelope.region_code).code == group][:3000]
    tables = []
    for as_read in (False, True):
        state, table = GroupState(group, config, registry, codec), {}
        for i in range(0, len(mine), 500):
            state.process(
                inbound(e, j, codec) if as_read else Inbound(e, "t", 0, j)
                for j, e in enumerate(mine[i : i + 500])
            )
            state.dump(table)
        tables.append(table)
    assert tables[0] == tables[1]
    offered = next(e for e in mine if e.RECORD_TYPE == "call.offered")
    other = offered.model_copy(
        update={"envelope": offered.envelope.model_copy(update={"sequence": 10**6})}
    )
    reloaded = GroupState.load(group, tables[1], config, registry, codec)
    for state in (reloaded, GroupState(group, config, registry, codec)):
        table = dict(tables[1])
        state.process([inbound(offered, 0, codec)])
        state.process([inbound(other, 1, codec)])
        state.dump(table)
        images = table[f"{group}|c|{offered.call_id}"]["e"]
        assert base64.b64encode(codec.encode_model(offered)).decode() in images
        assert base64.b64encode(codec.encode_model(other)).decode() not in images


def _check(store: SnapshotStore) -> None:
    for level in Level:
        got = {
            (s.region_code, s.bucket_start, s.business_line, s.channel): ledger_view(s.counts)
            for s in store.at_level(level)
            if any(s.counts)
        }
        assert got == expected_at(level), level


def test_group_states_equal_the_ledger_at_every_level() -> None:
    _check(_drive(None))


def test_reload_from_the_table_image_and_replay_is_exact() -> None:
    _check(_drive(crash_every=3))


def test_a_state_write_torn_by_a_crash_then_replayed_is_exact() -> None:
    _check(_drive(crash_every=3, torn=True))


@pytest.mark.parametrize("crash_every", [None, 3], ids=["no-crash", "torn-writes"])
def test_the_national_group_evicts_the_minutes_it_closed_and_stays_exact(
    crash_every: int | None,
) -> None:
    """The national roll-up's watermark follows its children (the latest province minute); a
    cell it closed (``Rollup.closes_at``: the retention and ``national_lateness``, here 10
    minutes, behind it) is evicted and deleted from the table. Before, no national cell was
    ever evicted: the state grew by ~3,500 keys per simulated day of two centers
    (``bench/worker_memory.py``). Every level still equals the ledger, also when every
    group, the national one too, crashes every third step with a torn state write."""
    config = StreamsConfig(national_lateness=timedelta(minutes=10))
    store = SnapshotStore()
    groups = drive(
        in_batches(run()[0], size=300),
        lambda out: store.write(out.snapshots),
        crash_every,
        torn=True,
        config=config,
    )
    _check(store)
    national, table = groups[NATIONAL_GROUP]
    rollup = national.rollups[0]
    kept = {minute for _, minute, _, _ in rollup.cells}
    sent = {s.bucket_start for s in store.at_level(Level.NATIONAL)}
    assert rollup.watermark is not None
    assert kept and all(rollup.closes_at(minute) > rollup.watermark for minute in kept)
    assert min(sent) < min(kept)  # some were evicted
    assert sum(key.startswith(f"{NATIONAL_GROUP}|x|") for key in table) == len(rollup.cells)


def test_sequence_tracker_reports_holes_only_after_the_horizon() -> None:
    seq = SequenceTracker(horizon_ms=1000)
    for s, at in [(0, 0), (1, 10), (4, 20), (2, 30)]:
        seq.see("p", "C1", s, at)
    assert seq.expire(500) == []
    seq.see("p", "C1", 3, 600)  # filled in time
    assert seq.expire(5000) == []
    seq.see("p", "C1", 9, 5000)
    gaps = seq.expire(6000)
    assert [(g["first_missing"], g["last_missing"]) for g in gaps] == [(5, 8)]


def test_two_centers_naming_their_producers_alike_keep_their_own_sequences() -> None:
    """Sequences were tracked per producer id alone: two centers' ``cti-01`` (a vendor's
    default) shared one state, so each one's events opened holes in the other's (reported as
    hundreds of lost events) or filled them (hiding a real loss)."""
    seq = SequenceTracker(horizon_ms=1000)
    for i in range(6):
        seq.see("cti-01", "C330200", i, 10 * i)
        seq.see("cti-01", "C320100", 100 + i, 10 * i + 5)
    assert seq.expire(10_000) == []
    seq.see("cti-01", "C320100", 109, 10_000)  # 106..108 lost at Nanjing only
    seq.see("cti-01", "C330200", 6, 10_000)
    gaps = seq.expire(20_000)
    assert [
        (g["center_id"], g["producer_id"], g["first_missing"], g["last_missing"]) for g in gaps
    ] == [("C320100", "cti-01", 106, 108)]


@pytest.mark.parametrize("new_key_first", [True, False])
def test_sequence_states_of_the_previous_format_are_kept_under_their_center(
    new_key_first: bool,
) -> None:
    """Keys of the previous format (``s|<producer>``) are loaded under the center they
    recorded, rewritten as ``s|<center>|<producer>`` and deleted at the next dump; where both
    are read, the state further on wins whatever the order they are read in."""
    config, registry, codec = StreamsConfig(), default_registry(), default_codec()
    group, old_key, new_key = "330000", "330000|s|cti-01", "330000|s|C330200|cti-01"
    old = {"c": "C330200", "max": 9, "miss": [[3, 4, 0]]}
    newer = {"c": "C330200", "max": 12, "miss": []}
    items = [(old_key, old)]
    state = GroupState.load(group, items, config, registry, codec)
    assert state.sequences.producers == {("C330200", "cti-01"): old}
    assert state.legacy_sequence_keys == [old_key]
    table = dict(items)
    state.dump(table)
    assert {k: v for k, v in table.items() if "|s|" in k} == {new_key: old}
    ahead = {"c": "C330200", "max": 15, "miss": []}  # an older worker went on (rolling upgrade)
    for pair, wins in [((newer, old), newer), ((newer, ahead), ahead)]:
        both = [(new_key, pair[0]), (old_key, pair[1])]
        items = both if new_key_first else both[::-1]
        state = GroupState.load(group, items, config, registry, codec)
        assert state.sequences.producers == {("C330200", "cti-01"): wins}


def test_worker_drops_the_groups_of_revoked_partitions_at_once(tmp_path) -> None:
    """A group must not outlive its partition in memory (docs/streams.md, "Rebalance"): if the
    partition comes back after another worker processed its events, the stale group would
    silently miss them. No broker: the revocation signal's handler is called directly."""
    worker = Worker(WorkerConfig(app_id="t-revoke", partitions=3, datadir=tmp_path))
    registry, codec, config = default_registry(), default_codec(), StreamsConfig()
    groups = ["330000", "320000", "460000", "660000", NATIONAL_GROUP]
    worker.groups = {g: GroupState(g, config, registry, codec) for g in groups}
    lost = group_partition("330000", 3)
    topic = worker.internal.get_topic_name()
    revoked = {TopicPartition(topic, lost), TopicPartition("other-topic", (lost + 1) % 3)}
    asyncio.run(worker._revoked(None, revoked))
    assert sorted(worker.groups) == sorted(g for g in groups if group_partition(g, 3) != lost)
    assert "330000" not in worker.groups


# -- watermarks over source partitions; sequence gaps -------------------------------------------


def _partition_of(event, partitions: int) -> int:
    """The raw partition of an event: keyed by call/ticket/agent id, as the producers do."""
    key = next(
        (getattr(event, a) for a in ("call_id", "ticket_id", "agent_id") if hasattr(event, a)),
        event.envelope.event_id,
    )
    return zlib.crc32(key.encode()) % partitions


def _skewed(events, partitions: int, head: int = 50) -> list[Inbound]:
    """A backlog read unevenly: the first ``head`` events of every partition (each partition
    is seen early), then partition 0 to its end, then partition 1, … Every event but the last
    of its partition is ``behind`` (more input after it)."""
    parts: list[list] = [[] for _ in range(partitions)]
    for e in events:
        parts[_partition_of(e, partitions)].append(e)
    tagged = [
        [Inbound(e, "raw", p, i, behind=i < len(part) - 1) for i, e in enumerate(part)]
        for p, part in enumerate(parts)
    ]
    order = [item for part in tagged for item in part[:head]]
    order += [item for part in tagged for item in part[head:]]
    return order


def _feed(
    groups: dict[str, GroupState],
    items: list[Inbound],
    store: SnapshotStore,
    outs: list,
    release: bool = False,
    hold_at_end: bool = True,
):
    """Each province's items through its group in batches of 300, then an idle flush; with
    ``release``, every source partition is released after each batch (the watermark is then
    the latest event seen); ``hold_at_end``: the groups' (False: live mode's)."""
    registry = default_registry()
    national = groups.setdefault(
        NATIONAL_GROUP, GroupState(NATIONAL_GROUP, StreamsConfig(), registry, default_codec())
    )

    def emit(out) -> None:
        outs.append(out)
        store.write(out.snapshots)
        store.write(national.process_snapshots(out.province_snapshots).snapshots)

    by_group = defaultdict(list)
    for item in items:
        by_group[registry.province_of(item.event.envelope.region_code).code].append(item)
    for g, mine in by_group.items():
        state = groups.setdefault(g, GroupState(g, StreamsConfig(), registry, default_codec()))
        state.hold_at_end = hold_at_end
        for i in range(0, len(mine), 300):
            emit(state.process(mine[i : i + 300]))
            if release:
                emit(state.release(state.holding()))
    for g, state in groups.items():
        if g != NATIONAL_GROUP and (point := state.flush_point()) is not None:
            emit(state.advance(point))


def _exact_but_late_otherwise(items: list[Inbound], **otherwise: bool) -> None:
    """``items`` through their groups (:func:`_feed`) equal the ledger, with nothing rejected
    or late; fed with the options ``otherwise``, some of them are dead-lettered as late."""
    store, outs = SnapshotStore(), []
    _feed({}, items, store, outs)
    assert [r for o in outs for r, _ in o.rejected] == []
    assert [x for o in outs for x in o.late] == []
    _check(store)
    other: list = []
    _feed({}, items, SnapshotStore(), other, **otherwise)
    assert any(r.reason == "late" for o in other for r, _ in o.rejected)


def test_a_partition_read_hours_ahead_does_not_close_the_calls_of_another() -> None:
    """Bug 1 (docs/streams.md, "Watermarks"): a backlog read one raw partition far ahead of
    the other. With the watermark = the latest event seen, the lagging partition's calls were
    closed early and their later events dead-lettered as late; with the watermark = the
    minimum over the partitions still behind, the result equals the ledger."""
    events, _ = run()
    # with the old watermark (the latest event seen) the skew really is beyond the horizon
    _exact_but_late_otherwise(_skewed(events, partitions=2), release=True)


def test_a_partition_read_to_its_end_holds_the_watermark_until_released() -> None:
    """Found by ``bench/worker_memory.py --broker`` (docs/streams.md, "Watermarks"): history
    sent at full speed while the worker reads it. Ingest tags a message as caught up when it
    was the last its consumer knew of (a highwater a moment old), but the producer was still
    writing that partition — its next events hours (of event time) older than what another
    partition had shown. With the watermark = the latest event seen once no partition is
    behind, ~6 % of a day's call events were dead-lettered as late. Here every partition
    claims to be caught up after each of its events (the same skewed order): a partition
    read to its end still holds the watermark, and the result equals the ledger. Live mode
    keeps the old rule (its wall clock moves the watermark past such partitions anyway)."""
    events, _ = run()
    items = [Inbound(i.event, i.topic, i.partition, i.offset) for i in _skewed(events, 2)]
    assert not any(i.behind for i in items)
    _exact_but_late_otherwise(items, hold_at_end=False)


def test_per_partition_watermarks_survive_a_reload() -> None:
    registry, codec, config = default_registry(), default_codec(), StreamsConfig()
    events, _ = run()
    items = [i for i in _skewed(events, partitions=2) if i.event.envelope.region_code[:2] == "33"]
    state = GroupState("330000", config, registry, codec)
    state.process(items[:400])
    table: dict = {}
    state.dump(table)
    again = GroupState.load("330000", table, config, registry, codec)
    assert again.sources == state.sources and again.behind() == state.behind() != []
    assert again.watermark_ms == state.watermark_ms
    # releasing the lagging partition (the worker's idle bound) lets the watermark move on
    lagging = min(state.sources, key=lambda s: state.sources[s][0])
    before = again.watermark_ms
    again.release([lagging])
    assert lagging not in again.behind() and again.watermark_ms >= before


@functools.cache
def _hour_at(center: str) -> tuple:
    """One hour at one center, everything the simulator emits (sequences are gapless)."""
    config = SimConfig(
        seed=7, centers=[center], start=DEFAULT_START + timedelta(hours=9), duration=HOUR
    )
    sink = MemorySink()
    simulate(config, sink, Ledger(config.end))
    return tuple(sink.events)


def _all_events() -> tuple:
    """One hour at Ningbo's center (calls only: no agents' states)."""
    return _hour_at("C330200")


def _gaps(events) -> list[dict]:
    outs: list = []
    _feed({}, _skewed(events, partitions=3, head=20), SnapshotStore(), outs)
    return [g for o in outs for g in o.gaps]


def test_a_gapless_stream_spread_over_partitions_raises_no_gap() -> None:
    """Bug 2: one producer's events are spread over several raw partitions (keyed by call
    id), so its sequence numbers arrive out of order — hours apart in a skewed backlog. A
    hole is reported only once the watermark (the least over the partitions not released)
    passed the event after it by the lateness horizon: none here."""
    events = _all_events()
    producers = {e.envelope.producer_id for e in events}
    for p in producers:
        seqs = sorted(e.envelope.sequence for e in events if e.envelope.producer_id == p)
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), p  # gapless indeed
    assert _gaps(events) == []


def test_a_dropped_event_raises_exactly_one_gap() -> None:
    events = list(_all_events())
    lost = events[len(events) // 2]
    gaps = _gaps([e for e in events if e is not lost])
    assert [(g["producer_id"], g["first_missing"], g["last_missing"]) for g in gaps] == [
        (lost.envelope.producer_id, lost.envelope.sequence, lost.envelope.sequence)
    ]


def test_a_partition_not_seen_yet_holds_the_watermark_once_expected() -> None:
    """The rebalance-test failure (docs/streams.md, "Rebalance"): a group's first events came
    from one sparse partition (tickets: ~20 messages over 2 h, or the one injected ticket at
    +1 h), read well ahead of the call partitions not seen yet — which did not hold the
    watermark back, and it never moves back. Held until the shell tells the group which
    partitions have input (``expect``), the watermark waits for every one of them."""
    registry, codec, config = default_registry(), default_codec(), StreamsConfig()
    events = sorted(_all_events(), key=lambda e: e.envelope.occurred_at)
    offered = [e for e in events if e.RECORD_TYPE == "call.offered"]
    sparse, calls = offered[5::60][:6], offered[:5]  # a sparse partition; a dense one
    assert sparse[-1].envelope.occurred_at - calls[0].envelope.occurred_at > timedelta(minutes=20)
    first = [Inbound(e, "sparse", 0, i, behind=True) for i, e in enumerate(sparse)]
    then = [Inbound(e, "calls", 0, i, behind=True) for i, e in enumerate(calls)]

    old = GroupState("330000", config, registry, codec)  # the partition not seen: no hold
    old.process(first)
    old.process(then)
    assert old.watermark_ms == int(sparse[-1].envelope.occurred_at.timestamp() * 1000)

    new = GroupState("330000", config, registry, codec)
    new.hold_until_sources_known()
    new.process(first)
    assert new.watermark_ms is None
    new.expect(["sparse:0", "calls:0", "surveys:0"])
    assert new.watermark_ms is None and new.behind() == ["calls:0", "sparse:0", "surveys:0"]
    new.process(then)
    assert new.watermark_ms is None  # surveys:0 not seen yet
    new.release(["surveys:0"])  # the worker's idle bound
    assert new.watermark_ms == int(calls[-1].envelope.occurred_at.timestamp() * 1000)


def test_a_partition_empty_when_expected_holds_the_watermark_in_replay_mode() -> None:
    """The false sequence gap of 2 Dec (history sent while the worker reads it): the first
    ``qa.evaluation`` of Hainan's producer (sequence 4726) went to a ``qa`` partition still
    empty when the group was told its partitions, so that partition did not hold the
    watermark; the call partitions ran more than the lateness ahead before it was read, and
    its hole was reported as a gap. Told as empty, it holds the watermark in replay mode
    until its first event (or its release) — not in live mode, where the wall clock rules."""
    registry, codec, config = default_registry(), default_codec(), StreamsConfig()
    events = sorted(_all_events(), key=lambda e: e.envelope.occurred_at)
    start = events[0].envelope.occurred_at
    first = next(i for i, e in enumerate(events) if e.envelope.occurred_at > start + HOUR / 12)
    later = events[first]  # the empty partition's first event, 5 minutes in
    calls = [e for e in events if e is not later]
    assert calls[-1].envelope.occurred_at - later.envelope.occurred_at > 2 * config.lateness

    def run(hold_at_end: bool, empty: list[str]) -> tuple[GroupState, list[dict]]:
        state = GroupState("330000", config, registry, codec)
        state.hold_at_end = hold_at_end
        state.hold_until_sources_known()
        state.expect(["calls:0"], empty)
        n = len(calls)
        out = state.process(
            [Inbound(e, "calls", 0, i, behind=i < n - 1) for i, e in enumerate(calls)]
        )
        gaps = list(out.gaps)
        gaps += state.process([Inbound(later, "qa", 0, 0)]).gaps
        return state, gaps

    held, gaps = run(hold_at_end=True, empty=["qa:0"])
    assert gaps == [] and held.sequences.producers[("C330200", "sim.C330200")]["miss"] == []
    assert held.watermark_ms == int(later.envelope.occurred_at.timestamp() * 1000)
    _, gaps = run(hold_at_end=True, empty=[])  # before: not told, so not held
    assert [g["first_missing"] for g in gaps] == [later.envelope.sequence]
    live, _ = run(hold_at_end=False, empty=["qa:0"])
    assert live.watermark_ms == int(calls[-1].envelope.occurred_at.timestamp() * 1000)


def test_a_group_waiting_for_its_partitions_still_feeds_its_alerts() -> None:
    """While a new group holds its watermark (a partition with input not seen yet), its call
    records still go to the alert minutes and a dangerous call alerts at once. Before, the
    records of those steps were never counted in the alert windows (not even once the
    watermark started), and the dangerous call waited for the watermark (up to the idle
    bound). The records and snapshots are those of a group that does not wait."""
    registry, codec, config = default_registry(), default_codec(), StreamsConfig()
    events = sorted(_all_events(), key=lambda e: e.envelope.occurred_at)
    start = events[0].envelope.occurred_at
    calls = [
        e
        for e in events
        if e.RECORD_TYPE in CALL_EVENT_TYPES and e.envelope.occurred_at < start + HOUR / 3
    ]
    danger = created("D1", TicketCategory.DANGEROUS_CALL, start, start + 2 * HOUR)
    items = [Inbound(e, "calls", 0, i, behind=True) for i, e in enumerate(calls)]
    items.append(Inbound(danger, "tickets", 0, 0))

    waiting = GroupState("330000", config, registry, codec)
    waiting.hold_until_sources_known()
    waiting.expect(["calls:0", "tickets:0", "surveys:0"])
    out = waiting.process(items)
    assert waiting.watermark_ms is None and out.records
    counted = {
        call_id
        for (scope, _), cell in waiting.alerts.minutes.cells.items()
        if scope == "p:330000"
        for call_id, part in cell.items()
        if part[0] > 0  # a record's version (not the provisional count of a call in progress)
    }
    assert counted == {r.call_id for r in out.records}
    assert [(a.kind, a.opened_at) for a in out.alerts] == [(AlertKind.DANGEROUS_CALL, start)]
    free = GroupState("330000", config, registry, codec).process(items)
    assert out.records == free.records and out.snapshots == free.snapshots
    released = waiting.release(["surveys:0"])  # the watermark starts: no second alert
    assert waiting.watermark_ms is not None
    assert [a for a in released.alerts if a.kind is AlertKind.DANGEROUS_CALL] == []


START = datetime(2025, 3, 3, 1, tzinfo=UTC)


def _reopened_danger(ticket: str) -> list[Event]:
    """A dangerous call created, resolved half an hour later, reopened at +5 h."""
    return [
        created(ticket, TicketCategory.DANGEROUS_CALL, START, START + 2 * HOUR),
        resolved(ticket, START + HOUR / 2),
        reopened(ticket, START + 5 * HOUR),
    ]


def test_a_waiting_group_alerts_a_reopened_dangerous_call_at_the_reopen() -> None:
    """A dangerous call created, resolved and reopened, all read while the group waits for a
    partition: its alerts are the worker's ticket path's — the first episode opened at the
    creation and closed at the resolution, the second opened at the reopen. (Until 1 Dec the
    step gave episode 1 the reopen's time: the same id as the live run's first alert, another
    opened_at.)"""
    registry, codec, config = default_registry(), default_codec(), StreamsConfig()
    waiting = GroupState("330000", config, registry, codec)
    waiting.hold_until_sources_known()
    waiting.expect(["calls:0", "tickets:0"])
    ticket = _reopened_danger("D2")
    out = waiting.process([Inbound(e, "tickets", 0, i) for i, e in enumerate(ticket)])
    assert waiting.watermark_ms is None
    assert [(a.alert_id, a.opened_at, a.closed_at) for a in out.alerts] == [
        (alert_id("dangerous_call|D2", 1), START, START + HOUR / 2),
        (alert_id("dangerous_call|D2", 2), START + 5 * HOUR, None),
    ]


def _table_rows(alerts: list[Alert]) -> dict[str, tuple]:
    """What the alerts table keeps per id: the highest version, the later one of equals."""
    rows: dict[str, Alert] = {}
    for a in alerts:
        if a.alert_id not in rows or a.version >= rows[a.alert_id].version:
            rows[a.alert_id] = a
    return {i: (a.version, a.opened_at, a.closed_at) for i, a in rows.items()}


_CUTS = pytest.mark.parametrize(
    ("cut", "kept", "lost"),
    [
        (cut, kept, lost)
        for cut in [(1, 1, 1), (1, 2), (2, 1), (3,)]
        for kept, lost in [(0, 0), (0, 1), (0, 2), (1, 1), (1, 2)]
        if kept + lost <= len(cut)
    ],
)
"""Three events read in steps of ``cut`` events: the state of the first ``kept`` steps is
persisted, the next ``lost`` steps' alerts go out but their state is lost (a kill -9), and the
events since come back in one step."""


def _alert_rows_by_steps(
    ticket: list[Event], cut: tuple[int, ...], kept: int, lost: int
) -> dict[str, tuple]:
    """The alerts of ``ticket`` read as :data:`_CUTS` says end as the live run's (one event a
    step): ids, opened and closed times, versions; the live run's table rows."""
    registry, codec, config = default_registry(), default_codec(), StreamsConfig()
    events = [inbound(e, i, codec) for i, e in enumerate(ticket)]
    live = GroupState("330000", config, registry, codec)
    expected = [a for item in events for a in live.process([item]).alerts]
    bounds = [sum(cut[:k]) for k in range(len(cut) + 1)]
    steps = [events[lo:hi] for lo, hi in itertools.pairwise(bounds)]
    group, table = GroupState("330000", config, registry, codec), {}
    emitted = []
    for k, step in enumerate(steps[: kept + lost] if lost else steps):
        emitted += group.process(step).alerts
        if k < kept or not lost:
            write(group, table)
    if lost:
        group = GroupState.load("330000", table, config, registry, codec)
        emitted += group.held().alerts
        emitted += group.process([item for step in steps[kept:] for item in step]).alerts
    assert _table_rows(emitted) == _table_rows(expected)
    return _table_rows(expected)


@_CUTS
def test_a_dangerous_calls_episodes_do_not_depend_on_its_steps(
    cut: tuple[int, ...], kept: int, lost: int
) -> None:
    """A dangerous call created, resolved and reopened, read in steps (:data:`_CUTS`): every
    way gives the live run's episodes (ids, opened and closed times, versions). Until 1 Dec
    the engine judged the latest record only: a step reading the resolution with the reopen
    kept episode 1 open, so a replay left the table's closed copy of it and the reopen never
    alerted; one reading all three gave episode 1 the reopen's time (two rows under the old
    alerts key)."""
    assert len(_alert_rows_by_steps(_reopened_danger("D7"), cut, kept, lost)) == 2


@_CUTS
def test_a_complaints_due_episodes_do_not_depend_on_its_steps(
    cut: tuple[int, ...], kept: int, lost: int
) -> None:
    """A complaint resolved after its due time and reopened, read in steps (:data:`_CUTS`):
    every way gives the live run's due alert, the first spell's, opened at its warning time
    and closed at the resolution. Until 1 Dec a step reading the late resolution with the
    reopen judged the reopened spell only: the first spell's alert was never raised."""
    due = START + 2 * 24 * HOUR  # Wednesday 09:00 China time
    ticket = [
        created("C7", TicketCategory.COMPLAINT, START, due),
        resolved("C7", due + HOUR),
        reopened("C7", due + 24 * HOUR),
    ]
    assert _alert_rows_by_steps(ticket, cut, kept, lost) == {
        alert_id("ticket_due|C7", 1): (2, working_time_before(due, 4.0), due + HOUR)
    }


class _Consumer:
    """What :meth:`Worker._caught_up` asks of Faust's consumer, no broker: every partition has
    10 messages, all fetched (Faust's read offsets at the end)."""

    def __init__(self, worker: Worker) -> None:
        internal = worker.internal.get_topic_name()
        self.mine = [TopicPartition(internal, p) for p in range(3)]
        self._read_offset = dict.fromkeys(self.mine, 9)

    def assignment(self) -> set:
        return set(self.mine)

    async def highwaters(self, *tps: TopicPartition) -> dict:
        return dict.fromkeys(tps, 10)


class _Reader:
    """What :meth:`Worker._caught_up` asks of ingest's reader: 3 partitions of each raw topic,
    10 messages each, all committed by the ingest group."""

    def partitions(self, topic: str) -> list[TopicPartition]:
        return [TopicPartition(topic, p) for p in range(3)]

    async def end_offsets(self, tps: list[TopicPartition]) -> dict:
        return dict.fromkeys(tps, 10)

    async def committed(self, tps: list[TopicPartition]) -> dict:
        return dict.fromkeys(tps, 10)


async def _nothing() -> None:
    """A worker step stubbed out (no broker, no producer: outputs stay queued)."""


def test_replay_is_caught_up_only_when_the_groups_agent_processed_its_input(tmp_path) -> None:
    """Fetched is not processed: a restarted worker busy loading its groups once idle-flushed
    them while their input sat in the agent's buffer (orphans in the kill -9 test)."""
    worker = Worker(WorkerConfig(app_id="t-caught", partitions=3, datadir=tmp_path))
    consumer = worker.app._consumer = _Consumer(worker)
    worker.reader = _Reader()  # type: ignore[assignment]
    committed: dict = {}

    async def fetch_committed(tps: list) -> dict:
        return {tp: committed[tp] for tp in tps}  # the group topic, in Faust's group

    worker._committed = fetch_committed  # type: ignore[method-assign]
    for tp in consumer.mine:
        committed[tp] = 4  # the group topic: redelivered from 4 after a restart
    assert not asyncio.run(worker._caught_up())
    worker._processed = dict.fromkeys(consumer.mine, 9)
    assert asyncio.run(worker._caught_up())
    worker._processed = {}
    for tp in consumer.mine:
        committed[tp] = 10  # all processed and committed before the restart
    assert asyncio.run(worker._caught_up())


def test_a_groups_stage_without_progress_while_input_waits_exits(tmp_path, monkeypatch) -> None:
    """Faust's consumer once stopped fetching after a restart's recovery (CI, 29 Nov): the
    worker exits when nothing was processed for ``stall_s`` with input waiting, not when idle."""
    worker = Worker(WorkerConfig(app_id="t-stall", partitions=3, datadir=tmp_path, stall_s=60))
    consumer = worker.app._consumer = _Consumer(worker)  # every partition ends at offset 10
    committed = dict.fromkeys(consumer.mine, 10)

    async def fetch_committed(tps: list) -> dict:
        return {tp: committed[tp] for tp in tps}

    worker._committed = fetch_committed  # type: ignore[method-assign]
    exits: list[BaseException] = []
    worker._fatal = exits.append  # type: ignore[method-assign,assignment]
    clock = [1000.0]
    monkeypatch.setattr("hotline.streams.app.time.monotonic", lambda: clock[0])
    worker._progress_at = 1000.0

    clock[0] += 59
    asyncio.run(worker._watch_for_a_stall())  # not yet: the broker is not even asked
    clock[0] += 2
    asyncio.run(worker._watch_for_a_stall())
    assert exits == []  # everything committed: idle, not stalled
    assert worker._progress_at == clock[0]  # looks again a period later

    committed[consumer.mine[1]] = 7  # three messages wait
    clock[0] += 30
    asyncio.run(worker._watch_for_a_stall())
    assert exits == []
    clock[0] += 31
    asyncio.run(worker._watch_for_a_stall())
    assert len(exits) == 1 and "nothing processed for 60 s" in str(exits[0])


def _province_calls(group: str) -> list[Event]:
    """The simulated run's call events of one province, in the order they were sent."""
    registry = default_registry()
    return [
        e
        for e in run()[0]
        if e.RECORD_TYPE in CALL_EVENT_TYPES
        and registry.province_of(e.envelope.region_code).code == group
    ]


def _straddling_steps(group: str) -> list[list[Inbound]]:
    """A province's call events from two source partitions (by call id) in three steps: the
    first half hour of both, then the rest of partition 0 (hours ahead of partition 1), then
    the rest of partition 1 — as a worker catching up a backlog reads them, one partition's
    fetch far ahead of another's."""
    codec = default_codec()
    calls = sorted(_province_calls(group), key=lambda e: e.envelope.occurred_at)
    mid = calls[0].envelope.occurred_at + timedelta(minutes=30)
    offsets = [0, 0]

    def source(e: Event) -> int:
        return zlib.crc32(e.call_id.encode()) % 2  # type: ignore[attr-defined]

    def step(events: list[Event]) -> list[Inbound]:
        items = []
        for e in events:
            items.append(inbound(e, offsets[source(e)], codec, source(e)))
            offsets[source(e)] += 1
        return items

    later = [e for e in calls if e.envelope.occurred_at >= mid]
    return [
        step([e for e in calls if e.envelope.occurred_at < mid]),
        step([e for e in later if source(e) == 0]),
        step([e for e in later if source(e) == 1]),
    ]


def _with_the_last_write_torn(
    group: str, steps: list[list[Inbound]], cut: int | None
) -> tuple[SnapshotStore, dict[str, tuple[int, str | None, bool]]]:
    """The steps through a group, each state write whole; with ``cut``, only the first
    ``cut`` writes of the last step persist (a kill -9 mid-write), the group is reloaded and
    the last *two* steps are delivered again (the consumer's commit lagged behind both). The
    snapshots (last version wins) and each call's last record (version, line, timed out)."""
    registry, codec, config = default_registry(), default_codec(), StreamsConfig()
    store, records = SnapshotStore(), {}

    def out(output: GroupOutput) -> None:
        store.write(output.snapshots)
        for r in output.records:
            if r.call_id not in records or r.version > records[r.call_id][0]:
                records[r.call_id] = (r.version, r.business_line, r.closed_by_timeout)

    state, table = GroupState(group, config, registry, codec), {}
    for i, items in enumerate(steps):
        out(state.process(items))
        last = i == len(steps) - 1
        write(state, table, cut=(lambda _n: cut) if last and cut is not None else None)
    if cut is not None:
        state = GroupState.load(group, table, config, registry, codec)
        out(state.held())
        for items in steps[-2:]:
            out(state.process(items))
            write(state, table)
    out(state.advance(state.flush_point()))
    return store, records


def test_a_torn_state_write_does_not_close_calls_whose_events_are_replayed() -> None:
    """Found in a kill -9 broker run: a worker catching up a backlog got a step whose events
    spanned hours of one source partition; it was killed while writing that step's state,
    after the group's meta record (its source partitions' positions) but before some call
    keys. Reloaded, the group's watermark was hours ahead of those calls' persisted states:
    the replayed steps closed them by timeout (line unknown) before their own events came
    back, and those were dead-lettered as late — one call counted under two lines. The meta
    record is written after the calls now: a persisted watermark implies every state it
    was computed from. Every cut at a boundary between key kinds of the last step's write
    (and two among its call keys), replayed, ends as the uninterrupted run does."""
    group = "330000"
    steps = _straddling_steps(group)
    recorder = WriteLog()
    state = GroupState(group, StreamsConfig(), default_registry(), default_codec())
    for items in steps[:-1]:
        state.process(items)
        state.dump({})
    state.process(steps[-1])
    state.dump(recorder)
    kinds = [key.split("|")[1] for key, _ in recorder.log]
    cuts = {0, len(kinds)} | {i for i in range(1, len(kinds)) if kinds[i] != kinds[i - 1]}
    calls = [i for i, kind in enumerate(kinds) if kind == "c"]
    cuts |= {calls[len(calls) // 3], calls[2 * len(calls) // 3]}  # some call keys, not all
    assert {"m", "c"} <= set(kinds) and len(cuts) > 4, kinds
    whole, records = _with_the_last_write_torn(group, steps, None)
    assert len(records) > 1000
    for cut in sorted(cuts):
        store, replayed = _with_the_last_write_torn(group, steps, cut)
        assert replayed == records, (cut, kinds[cut - 1 : cut + 1])
        for level in (Level.COUNTY, Level.CITY, Level.PROVINCE):
            got = {s.key: s.counts for s in store.at_level(level) if any(s.counts)}
            assert got == {s.key: s.counts for s in whole.at_level(level) if any(s.counts)}


def test_redelivered_events_of_closed_calls_are_not_dead_lettered_again() -> None:
    """After a crash, the events since the last commit come again. Those of calls closed
    meanwhile used to be dead-lettered as late (and counted towards the dead-letter spike
    alert) although they had been counted. An event at or below the greatest offset the
    group processed of its partition (persisted with the meta record) is a redelivery: its
    rejection is counted, not dead-lettered. A new event of a closed call still is."""
    registry, codec, config = default_registry(), default_codec(), StreamsConfig()
    group = "330000"
    calls = _province_calls(group)
    items = [inbound(e, offset, codec) for offset, e in enumerate(calls)]
    last = items[-500:]
    state, table = GroupState(group, config, registry, codec), {}
    for i in range(0, len(items), 500):
        state.process(items[i : i + 500])
        state.dump(table)
    assert state.read_to == {"t:0": len(items) - 1}
    state.advance(state.flush_point())  # every call closed and evicted: tombstones
    state.dump(table)
    reloaded = GroupState.load(group, table, config, registry, codec)
    again = reloaded.process(last)
    assert again.rejected == [] and again.redelivered == len(last)
    fresh = Inbound(calls[-1], "t", 0, len(items), image=last[-1].image)  # past the offsets
    new = reloaded.process([fresh])
    assert [(r.reason, o) for r, o in new.rejected] == [("late", fresh)]
    assert new.redelivered == 0


def test_a_group_back_from_another_worker_is_idle_flushed_again(tmp_path, monkeypatch) -> None:
    """A worker idle-flushes a group, loses it to a second worker that processes later calls,
    and gets it back when that worker leaves before its own flush: the group must be flushed
    again, or its last calls stay open and their minutes are never sent. The flushed mark
    used to outlive the revoke (found looking for a cell missing in the join/leave broker
    test, CI 30 Nov; whether it caused that is not known). No broker: the rebalance
    handlers and the timer's step are called directly."""
    worker = Worker(
        WorkerConfig(
            app_id="t-reflush",
            partitions=3,
            datadir=tmp_path,
            wall_clock_skew_s=None,  # replay mode (--replay), as in the broker tests
            idle_flush_s=4,
        )
    )
    worker.app._consumer = _Consumer(worker)
    worker.reader = _Reader()  # type: ignore[assignment]

    async def caught_up() -> bool:
        return True

    worker._caught_up = caught_up  # type: ignore[method-assign]
    worker._watch_for_a_stall = _nothing  # type: ignore[method-assign]
    worker._deliver = _nothing  # type: ignore[method-assign]  # no producer: outputs stay queued

    def fatal(exc: BaseException) -> None:
        raise exc

    worker._fatal = fatal  # type: ignore[method-assign,assignment]
    clock = [1000.0]
    monkeypatch.setattr("hotline.streams.app.time.monotonic", lambda: clock[0])
    group, codec = "330000", default_codec()
    calls = _province_calls(group)
    offered_at: dict[str, datetime] = {}
    for e in calls:
        offered_at.setdefault(e.call_id, e.envelope.occurred_at)  # type: ignore[attr-defined]
    start = min(offered_at.values())
    first = [e for e in calls if offered_at[e.call_id] < start + timedelta(minutes=20)]  # type: ignore[attr-defined]
    later = start + timedelta(hours=2, minutes=40)  # past where the first flush moves to
    second = [e for e in calls if offered_at[e.call_id] >= later]  # type: ignore[attr-defined]
    state = worker._group(group)
    state.process([inbound(e, i, codec) for i, e in enumerate(first)])
    state.dump(worker.state)
    worker.last_input[group] = clock[0]

    def idle_ticks() -> None:
        for _ in range(3):  # sources released, then the group flushed once it is idle
            clock[0] += 300
            asyncio.run(worker._advance_groups())

    idle_ticks()
    assert worker.stats["idle_flushes"] == 1 and not worker.groups[group].calls.states
    assert worker.groups[group].watermark_ms < second[0].envelope.occurred_at.timestamp() * 1000
    revoked = {TopicPartition(worker.internal.get_topic_name(), group_partition(group, 3))}
    asyncio.run(worker._revoked(None, revoked))
    other = GroupState.load(
        group, worker._table_items(group), StreamsConfig(), default_registry(), codec
    )  # the second worker: the rest of the calls, not flushed before it leaves
    other.process([inbound(e, len(first) + i, codec) for i, e in enumerate(second)])
    other.dump(worker.state)
    assert other.calls.states
    asyncio.run(worker._rebalanced())
    idle_ticks()
    assert worker.stats["idle_flushes"] == 2
    assert not worker.groups[group].calls.states


def test_a_group_reloaded_in_live_mode_waits_for_the_backlog_of_its_partitions(
    tmp_path, monkeypatch
) -> None:
    """Found by an audit (30 Nov): a live worker restarted after a downtime reloads its groups
    from the table, whose meta record says each source partition was read to its end. Its
    first tick moved the watermark to the wall clock (minus the skew) before ingest forwarded
    any of the backlog: the backlog's agent events were dead-lettered as late and the holes
    its uneven reading revealed reported as sequence gaps. Reloaded, a partition with input
    is behind until its next event says otherwise, and then the wall clock moves the
    watermark again. No broker: the timer's step and the group are called directly."""
    worker = Worker(WorkerConfig(app_id="t-live", partitions=3, datadir=tmp_path, stall_s=None))
    worker.app._consumer = _Consumer(worker)
    group = "320000"
    families = {"call": "calls", "survey": "surveys", "ticket": "tickets", "agent": "agents"}
    events = sorted(_hour_at("C320100"), key=lambda e: e.envelope.occurred_at)  # agents too
    assert any(e.RECORD_TYPE == "agent.state" for e in events)
    stop = events[0].envelope.occurred_at + timedelta(minutes=20)
    wall = events[-1].envelope.occurred_at + timedelta(minutes=20)  # restarted 20 min after
    offsets: dict = defaultdict(int)

    def forwarded(part: list) -> list[Inbound]:
        """As ingest forwards a backlog: the first 20 events of each partition, then each
        partition to its end (its last event not behind)."""
        parts: dict = defaultdict(list)
        for e in part:
            family = families.get(e.RECORD_TYPE.split(".")[0], "qa")
            tp = (raw_topic(worker.config.kafka, group, family), _partition_of(e, 3))
            parts[tp].append(Inbound(e, *tp, offsets[tp]))
            offsets[tp] += 1
        for items in parts.values():
            items[:-1] = [replace(i, behind=True) for i in items[:-1]]
        return [i for items in parts.values() for i in items[:20]] + [
            i for items in parts.values() for i in items[20:]
        ]

    state = worker._group(group)
    state.expect([])
    state.process(forwarded([e for e in events if e.envelope.occurred_at < stop]))
    state.dump(worker.state)
    stopped_at, seen = state.watermark_ms, sorted(state.sources)

    class Reader(_Reader):
        async def end_offsets(self, tps: list[TopicPartition]) -> dict:
            return {tp: 10 if f"{tp.topic}:{tp.partition}" in seen else 0 for tp in tps}

    class Wall(datetime):
        @classmethod
        def now(cls, tz=None):
            return wall

    worker.reader = Reader()  # type: ignore[assignment]
    monkeypatch.setattr("hotline.streams.app.datetime", Wall)
    worker.groups.clear()  # the restart: rebuilt from the table
    asyncio.run(worker._advance_groups())  # the first tick, before any of the backlog
    reloaded = worker.groups[group]
    backlog = forwarded([e for e in events if e.envelope.occurred_at >= stop])
    outs = [reloaded.process(backlog[i : i + 300]) for i in range(0, len(backlog), 300)]
    late = [r.event.RECORD_TYPE for o in outs for r, _ in o.rejected]
    gaps = [g["first_missing"] for o in outs for g in o.gaps]
    assert (len(late), len(gaps)) == (0, 0)  # were 746 agent events and 133 gaps
    assert reloaded.watermark_ms is not None and reloaded.watermark_ms >= stopped_at
    asyncio.run(worker._advance_groups())  # caught up: the wall clock rules again
    assert reloaded.watermark_ms == int((wall - timedelta(minutes=10)).timestamp() * 1000)


def test_a_rebalance_during_the_stall_watch_ends_the_tick(tmp_path) -> None:
    """Found by a code audit (30 Nov): the timer's step went on after its stall watch asked
    the broker, even when a rebalance began meanwhile; it would load again the groups the
    revocation had just dropped and write their state for a partition another worker may
    own next."""
    worker = Worker(WorkerConfig(app_id="t-stall-watch", partitions=3, datadir=tmp_path))
    worker.app._consumer = _Consumer(worker)
    worker.reader = _Reader()  # type: ignore[assignment]
    group = "330000"
    state = worker._group(group)
    state.process([inbound(e, i, default_codec()) for i, e in enumerate(_all_events()[:50])])
    state.dump(worker.state)
    everything = {TopicPartition(worker.internal.get_topic_name(), p) for p in range(3)}

    async def a_rebalance_begins() -> None:
        worker.app.rebalancing = True
        await worker._revoked(None, everything)

    worker._deliver = _nothing  # type: ignore[method-assign]  # no producer: outputs stay queued
    worker._watch_for_a_stall = a_rebalance_begins  # type: ignore[method-assign]
    asyncio.run(worker._advance_groups())
    assert worker.groups == {}


def test_a_rebalance_stays_in_the_status_file_after_its_phase(tmp_path) -> None:
    """The CI run of 2 Dec: a quick join's rebalance lasted 7–18 ms, shorter than a look at
    the status file; the file keeps the latest one (when, how long processing paused) after
    its phase ``rebalancing`` has gone. No broker: the app's own callbacks are called."""
    status = tmp_path / "status.json"
    worker = Worker(
        WorkerConfig(app_id="t-rebalance", partitions=3, datadir=tmp_path, status_file=status)
    )
    worker._deliver = _nothing  # type: ignore[method-assign]
    asyncio.run(worker._rebalanced())  # the first join's: no rebalance to report
    worker._write_status()
    assert read_status(status, max_age_s=60).body["last_rebalance"] is None
    worker._reporting_recoveries = True  # assigned once: from now on, a later rebalance
    before = time.time()
    asyncio.run(worker._revoked(None, set()))
    body = read_status(status, max_age_s=60).body
    assert body["phase"] == "rebalancing"
    assert body["last_rebalance"]["paused_s"] is None
    assert before <= body["last_rebalance"]["at"] <= time.time()
    asyncio.run(worker._rebalanced())
    worker._write_status()
    body = read_status(status, max_age_s=60).body
    assert (body["phase"], body["stats"]["rebalances"]) == ("running", 2)
    assert 0 <= body["last_rebalance"]["paused_s"] <= time.time() - before


def test_recovery_forgets_the_keys_the_worker_wrote_for_partitions_it_lost(tmp_path) -> None:
    """Found by a code audit (30 Nov): the memory store forgets, after a rebalance's
    recovery, the keys of lost partitions that it recovered, but not those the worker wrote
    itself (ChangelogWriter writes the store directly). They outlived the partition, and if it
    came back after the other owner's tombstones were compacted away, its recovery could not
    delete them: stale state loaded again. No broker: the table's own callback is called."""
    worker = Worker(WorkerConfig(app_id="t-forget", partitions=3, datadir=tmp_path))
    groups = ["330000", "320000", "460000", "660000", NATIONAL_GROUP]
    for g in groups:
        worker.state[f"{g}|m"] = {"wm": 1}
    kept = group_partition("330000", 3)
    changelog = worker.table.changelog_topic.get_topic_name()
    asyncio.run(worker.table.on_recovery_completed({TP(changelog, kept)}, set()))
    assert sorted(worker.table.data) == sorted(
        f"{g}|m" for g in groups if group_partition(g, 3) == kept
    )
    assert len(worker.table.data) < len(groups)  # some groups live in the other partitions


def test_a_group_that_took_input_while_the_tick_asked_the_broker_is_not_flushed(
    tmp_path, monkeypatch
) -> None:
    """Found by a code audit (30 Nov): replay mode decided that a group was idle before it
    asked the broker whether the input was all processed, and flushed it after the answer
    even when a groups step had taken new input for it meanwhile — closing its calls early,
    their later events orphans. No broker: the answer comes with a step's input."""
    worker = Worker(
        WorkerConfig(
            app_id="t-idle-race",
            partitions=3,
            datadir=tmp_path,
            wall_clock_skew_s=None,  # replay mode
            idle_flush_s=4,
            stall_s=None,
        )
    )
    worker.app._consumer = _Consumer(worker)
    worker.reader = _Reader()  # type: ignore[assignment]
    clock = [1000.0]
    monkeypatch.setattr("hotline.streams.app.time.monotonic", lambda: clock[0])
    group = "330000"
    state = worker._group(group)
    state.process([inbound(e, i, default_codec()) for i, e in enumerate(_all_events()[:50])])
    state.expect([])
    worker.last_input[group] = clock[0]

    async def a_step_meanwhile() -> bool:
        clock[0] += 1
        worker.last_input[group] = clock[0]  # what _process does for the group's input
        return True

    worker._caught_up = a_step_meanwhile  # type: ignore[method-assign]
    worker._deliver = _nothing  # type: ignore[method-assign]
    clock[0] += 300  # idle for the flush's bound, as far as the tick knows when it starts
    asyncio.run(worker._advance_groups())
    assert worker.stats["idle_flushes"] == 0 and group not in worker.flushed


def test_the_national_group_counts_the_province_snapshots_it_drops_as_late() -> None:
    """A province days behind the latest province minute (beyond ``national_lateness`` and
    the national retention): the national group drops its snapshots (metrics, agent time,
    ticket counts) and says how many (the worker adds them to its ``national_late`` counter
    and logs a warning); before, the national level lacked them with nothing counted."""
    registry, codec = default_registry(), default_codec()
    province = GroupState("330000", StreamsConfig(), registry, codec)
    events, _ = run()
    ningbo = [e for e in events if e.envelope.center_id == "C330200"]
    out = province.process([inbound(e, i, codec) for i, e in enumerate(ningbo)])
    flushed = province.advance(province.flush_point())
    snapshots = out.province_snapshots + flushed.province_snapshots
    assert snapshots
    minute = int(snapshots[0].bucket_start.timestamp() * 1000)
    agents = [AgentMinute(Level.PROVINCE, "330000", minute, 1, (0,) * len(AGENT_TIME_COUNTERS))]
    tickets = [
        TicketCount(Level.PROVINCE, "330000", minute, 1, (0,) * len(TICKET_COUNT_COUNTERS), "x")
    ]
    national = GroupState(NATIONAL_GROUP, StreamsConfig(), registry, codec)
    ahead = replace(snapshots[-1], region_code="320000")
    ahead = replace(ahead, bucket_start=ahead.bucket_start + timedelta(days=4))
    national.process_snapshots([ahead])
    assert national.national_late() == 0
    national.process_snapshots(snapshots, agents, tickets)
    assert national.national_late() == len(snapshots) + 2


def test_a_crashed_group_replays_its_batch_before_the_others_move_on(monkeypatch) -> None:
    """group_driver: a kill -9 stops the whole worker, which then reads each group's input
    again from the last commit, so a crash does not put one province behind the others in
    event time. Before, the driver went on to the other groups and replayed the crashed
    batch in the next round: with two provinces and a crash every 4th step, one of them
    crashed every other step and fell ever further behind; in a 9-day run (hunt: week24,
    seed 1) over 2 days behind, beyond ``national_lateness``, and the national group dropped
    its snapshots as late (~1,700 call keys, 81 ticket-count and 3,951 agent-time keys short
    at national level only): an artefact of the driver, not a loss of the worker's."""
    steps: list[tuple[str, str]] = []
    process = GroupState.process

    def recorded(self: GroupState, items: Iterable[Inbound]) -> GroupOutput:
        items = list(items)
        steps.append((self.group, items[0].event.envelope.event_id))
        return process(self, items)

    monkeypatch.setattr(GroupState, "process", recorded)
    events = [e for e in run()[0] if e.envelope.center_id in ("C330200", "C460000")]
    batches_of = in_batches(events, size=100)
    first = {g: {b[0].envelope.event_id: i for i, b in enumerate(v)} for g, v in batches_of.items()}
    drive(batches_of, lambda out: None, crash_every=4)
    done = dict.fromkeys(batches_of, 0)
    for group, event_id in steps:
        batch = first[group][event_id]
        done[group] = max(done[group], batch + 1)
        lag = [done[g] for g, v in batches_of.items() if done[g] < len(v)]
        assert max(lag, default=0) - min(lag, default=0) <= 1, (group, batch, done)
    assert len(steps) > sum(map(len, batches_of.values()))  # some were replayed


def test_the_driver_gives_a_groups_events_the_offsets_kafka_would() -> None:
    """group_driver: a group's source offsets run on over its batches (a replay gets the
    same ones). Before, each batch started again at offset 0, so an event of a later batch
    at an offset the group had read before looked redelivered: its rejection was counted,
    not dead-lettered — here a call event sent again after its call closed."""
    events = [e for e in run()[0] if e.envelope.center_id == "C330200"]
    again = events[0]  # the first call's first event, as a new message at the end
    rejected: list = []
    drive(
        {"330000": [*in_batches(events, size=100)["330000"], [again]]},
        lambda out: rejected.extend(r for r, _ in out.rejected),
    )
    assert [(r.event.envelope.event_id, r.reason) for r in rejected] == [
        (again.envelope.event_id, "late")
    ]


def test_the_status_file_shows_each_centers_latest_event_and_health_the_quiet_one(
    tmp_path,
) -> None:
    """A group keeps each center's latest event time (in its meta record: a reload keeps
    it); the status file lists it, and ``hotline health`` names the center whose input
    stopped 15 min or more before the watermark (Ningbo's last call at 09:00, Hangzhou's at
    09:30). No broker."""
    registry, codec, config = default_registry(), default_codec(), StreamsConfig()
    group = GroupState("330000", config, registry, codec)
    ningbo = _call(NINGBO, "n-1", T0, "A1")
    hangzhou = _call(HANGZHOU, "h-1", T0 + timedelta(minutes=30), "A2")
    group.process(_inbound([*ningbo, *hangzhou]))
    table: dict = {}
    group.dump(table)
    loaded = GroupState.load("330000", table, config, registry, codec)
    last = {"C330200": ningbo[-1], "C330100": hangzhou[-1]}
    assert loaded.last_event_ms == {
        c: int(e.envelope.occurred_at.timestamp() * 1000) for c, e in last.items()
    }
    status = tmp_path / "status.json"
    worker = Worker(WorkerConfig(app_id="t-centers", datadir=tmp_path, status_file=status))
    worker.groups["330000"] = loaded
    worker._write_status()
    read = read_status(status, max_age_s=60)
    assert read.body["groups"]["330000"]["centers"] == {
        "C330100": "2025-03-04T01:33:20+00:00",
        "C330200": "2025-03-04T01:03:20+00:00",
    }
    quiet = (
        "no event for 15 min or more before the watermark: C330200 (latest 2025-03-04 01:03 UTC)"
    )
    assert "    " + quiet in describe(read)
