"""The bulk read of the state changelog (streams/changelog_reader.py) without a broker: its
consumer is a stand-in, the recovery and the table are the worker's own."""

from __future__ import annotations

import asyncio

from aiokafka import ConsumerRecord, TopicPartition
from faust.types import TP

from hotline.streams.app import Worker
from hotline.streams.changelog_reader import BulkRecovery
from hotline.streams.worker_config import WorkerConfig


def _record(tp: TP, offset: int) -> ConsumerRecord:
    key, value = f'"330000|k{offset}"'.encode(), b'{"n": 1}'
    return ConsumerRecord(tp.topic, tp.partition, offset, 0, 0, key, value, None, 0, 0, ())


class _StandIn:
    """The bulk read's consumer without a broker: what a test does not override does nothing."""

    def __init__(self, **_settings: object) -> None:
        pass

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def assign(self, _tps: list) -> None: ...

    def seek(self, _tp: TopicPartition, _offset: int) -> None: ...

    def pause(self, _tp: TopicPartition) -> None: ...


def test_a_rebalance_during_the_bulk_read_stops_it_before_it_applies_more(
    tmp_path, monkeypatch
) -> None:
    """Found by a code audit (30 Nov): Faust revokes a partition and filters
    ``active_offsets`` when the next rebalance begins, then signals it; a batch the bulk read
    fetched meanwhile was still applied, and put the revoked partition's offset back. A memory
    store drops the keys of a revoked partition, so a later recovery of it would have started
    at that offset, not at the beginning: the keys before it lost."""
    worker = Worker(WorkerConfig(app_id="t-bulk", partitions=3, datadir=tmp_path))
    recovery = worker.app.tables.recovery
    assert isinstance(recovery, BulkRecovery)
    tp = TP(worker.table.changelog_topic.get_topic_name(), 0)
    recovery.tp_to_table[tp] = worker.table
    recovery.active_tps.add(tp)
    recovery.active_offsets[tp] = -1
    recovery.active_highwaters[tp] = 9

    class Reader(_StandIn):
        """A consumer whose fetch returns while the next rebalance begins (as Faust does it)."""

        async def position(self, _tp: TopicPartition) -> int:
            return 10

        async def getmany(self, **_limits: object) -> dict:
            recovery.revoke(tp)  # Recovery.on_rebalance: revoked, offsets filtered, signalled
            recovery.active_tps.clear()
            recovery.signal_recovery_start.set()
            return {TopicPartition(tp.topic, tp.partition): [_record(tp, i) for i in range(10)]}

    monkeypatch.setattr("hotline.streams.changelog_reader.AIOKafkaConsumer", Reader)
    asyncio.run(recovery._read_in_bulk({tp}))
    assert tp not in recovery.active_offsets
    assert dict(worker.table.data) == {}


def test_the_bulk_read_lets_other_tasks_see_its_progress_between_batches(
    tmp_path, monkeypatch
) -> None:
    """A fetch whose records are buffered returns without waiting: the bulk read held the event
    loop from its first batch to its last, and the worker's recovery sampler (log lines, the
    status file's ``recovering`` phase) never saw how far it was."""
    worker = Worker(WorkerConfig(app_id="t-bulk", partitions=3, datadir=tmp_path))
    recovery = worker.app.tables.recovery
    tp = TP(worker.table.changelog_topic.get_topic_name(), 0)
    recovery.tp_to_table[tp] = worker.table
    recovery.active_tps.add(tp)
    recovery.active_offsets[tp] = -1
    recovery.active_highwaters[tp] = 29
    batches = [[_record(tp, i) for i in range(first, first + 10)] for first in (0, 10, 20)]

    class Reader(_StandIn):
        """A consumer with three batches buffered: each fetch returns at once."""

        read = 0

        async def position(self, _tp: TopicPartition) -> int:
            return self.read

        async def getmany(self, **_limits: object) -> dict:
            batch = batches[self.read // 10]
            self.read += len(batch)
            return {TopicPartition(tp.topic, tp.partition): batch}

    monkeypatch.setattr("hotline.streams.changelog_reader.AIOKafkaConsumer", Reader)
    seen: list[int] = []

    async def read_while_sampling() -> None:
        async def sample() -> None:
            while True:
                seen.append(recovery.active_remaining_total())
                await asyncio.sleep(0)

        sampler = asyncio.create_task(sample())
        await asyncio.sleep(0)
        await recovery._read_in_bulk({tp})
        sampler.cancel()

    asyncio.run(read_while_sampling())
    assert recovery.active_remaining_total() == 0 and len(worker.table.data) == 30
    assert {20, 10} <= set(seen), seen  # messages left after the first and the second batch
