"""The worker's group state without a broker: the table image survives a "crash" (rebuild from
the image, replay the batches since the last dump) and the result still equals the ledger."""

from __future__ import annotations

import asyncio
from collections import defaultdict

from aiokafka import TopicPartition
from test_streams_reconcile import CENTERS, expected_at, run

from hotline.regions import default_registry
from hotline.schemas import Level, default_codec
from hotline.streams.app import Worker, group_partition
from hotline.streams.config import StreamsConfig
from hotline.streams.counters import ledger_view
from hotline.streams.groups import NATIONAL_GROUP, GroupState, Inbound, SequenceTracker
from hotline.streams.pipeline import SnapshotStore
from hotline.streams.worker_config import WorkerConfig

assert CENTERS


def _drive(crash_every: int | None) -> SnapshotStore:
    """Batches of each province in turn (as the group topic interleaves them); with
    ``crash_every``, every so many batches the group is rebuilt from its last table image
    and the batch is replayed (its outputs went out, its state did not)."""
    registry, codec, config = default_registry(), default_codec(), StreamsConfig()
    events, _ = run()
    by_group = defaultdict(list)
    for e in events:
        by_group[registry.province_of(e.envelope.region_code).code].append(e)
    store = SnapshotStore()
    national = GroupState(NATIONAL_GROUP, config, registry, codec)
    tables: dict[str, dict] = {g: {} for g in by_group}
    states = {g: GroupState(g, config, registry, codec) for g in by_group}
    batches = {g: [v[i : i + 300] for i in range(0, len(v), 300)] for g, v in by_group.items()}
    done = dict.fromkeys(by_group, 0)

    def emit(out) -> None:
        store.write(out.snapshots)
        store.write(national.process_snapshots(out.province_snapshots).snapshots)

    steps = 0
    while any(done[g] < len(batches[g]) for g in by_group):
        for g in by_group:
            if done[g] >= len(batches[g]):
                continue
            emit(states[g].process(Inbound(e, "t", 0, 0) for e in batches[g][done[g]]))
            steps += 1
            if crash_every and steps % crash_every == 0:
                states[g] = GroupState.load(g, tables[g], config, registry, codec)
                emit(states[g].held())
                continue  # replay the same batch
            states[g].dump(tables[g])
            done[g] += 1
    for g, state in states.items():
        point = state.flush_point()
        assert point is not None
        emit(state.advance(point))
        state.dump(tables[g])
        reloaded = GroupState.load(g, tables[g], config, registry, codec)
        assert reloaded.aggregator.snapshots() == state.aggregator.snapshots()
        assert reloaded.calls.tombstones == state.calls.tombstones
    return store


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
