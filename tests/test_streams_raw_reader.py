"""Ingest's own consumer of the raw topics (streams/raw_reader.py): against the real broker, a
batch is committed only after its step returned, a failed step commits nothing, and the next
reader of the group starts where the last one committed; without one, how a batch is gathered
from ``getmany``."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable

import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.structs import ConsumerRecord
from fixtures_kafka import commit_offsets, create_topic
from kafka import KafkaProducer
from kafka import TopicPartition as KafkaTopicPartition
from kafka.admin import KafkaAdminClient

from hotline.streams.raw_reader import RawReader


def _produce(bootstrap: str, topic: str, first: int, count: int) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    for i in range(first, first + count):
        producer.send(topic, value=str(i).encode(), partition=i % 2)
    producer.flush()
    producer.close()


async def _read(reader: RawReader, expect: int, fail: bool = False) -> list[int]:
    """Run ``reader`` until it has stepped ``expect`` values (or its first step raised)."""
    seen: list[int] = []

    async def step(records: list[ConsumerRecord[bytes, bytes]]) -> None:
        if fail:
            raise RuntimeError("step failed")
        seen.extend(int(r.value or b"") for r in records)
        if len(seen) >= expect:
            asyncio.get_running_loop().create_task(reader.stop())  # after this step's commit

    await reader.start()
    try:
        await asyncio.wait_for(reader.run(step, max_records=7, within_s=0.1), 60)
    finally:
        await reader.stop()
    return seen


async def _committed(reader: RawReader, topic: str) -> dict[TopicPartition, int]:
    probe = RawReader(reader.bootstrap_servers, reader.group_id, [topic])
    await probe.start()
    try:
        return await probe.committed([TopicPartition(topic, p) for p in range(2)])
    finally:
        await probe.stop()


@pytest.mark.kafka
def test_commits_after_each_step_and_resumes_there(bootstrap: str, unique: str) -> None:
    create_topic(bootstrap, unique, 2)
    _produce(bootstrap, unique, 0, 40)
    group = f"{unique}-ingest"

    failing = RawReader(bootstrap, group, [unique])
    with pytest.raises(RuntimeError, match="step failed"):
        asyncio.run(_read(failing, 40, fail=True))
    assert asyncio.run(_committed(failing, unique)) == {}  # nothing of the failed batch

    first = RawReader(bootstrap, group, [unique])
    assert sorted(asyncio.run(_read(first, 40))) == list(range(40))  # from the start
    ends = {TopicPartition(unique, p): 20 for p in range(2)}
    assert asyncio.run(_committed(first, unique)) == ends

    _produce(bootstrap, unique, 40, 10)
    second = RawReader(bootstrap, group, [unique])
    assert sorted(asyncio.run(_read(second, 10))) == list(range(40, 50))  # only what is new


@pytest.mark.kafka
def test_a_partition_never_committed_starts_at_the_old_groups_offset(
    bootstrap: str, unique: str
) -> None:
    """An upgraded worker: the raw topics were read by its Faust group until 29 Nov."""
    create_topic(bootstrap, unique, 2)
    _produce(bootstrap, unique, 0, 40)  # partition 0: 0, 2, … 38; partition 1: 1, 3, … 39
    old = f"{unique}-app"
    commit_offsets(
        bootstrap, old, {KafkaTopicPartition(unique, 0): 15, KafkaTopicPartition(unique, 1): 20}
    )

    first = RawReader(bootstrap, f"{old}-ingest", [unique], resume_from=old)
    assert sorted(asyncio.run(_read(first, 5))) == [30, 32, 34, 36, 38]
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:  # adopted, they are gone from the old group (no lag that nothing will ever read)
        assert admin.list_group_offsets(old)[old] == {}
    finally:
        admin.close()
    _produce(bootstrap, unique, 40, 4)
    second = RawReader(bootstrap, f"{old}-ingest", [unique], resume_from=old)
    assert sorted(asyncio.run(_read(second, 4))) == [40, 41, 42, 43]  # its own commits now


class _Trickle:
    """``getmany`` at a low rate: one record per call, a few ms apart."""

    def __init__(self) -> None:
        self.offsets = itertools.count()

    async def getmany(self, timeout_ms: int, max_records: int) -> dict:
        await asyncio.sleep(0.002)
        offset = next(self.offsets)
        return {
            TopicPartition("t", 0): [
                ConsumerRecord("t", 0, offset, 0, 0, None, b"x", None, 0, 1, ())
            ]
        }


def test_a_batch_is_gathered_up_to_max_records_or_for_within_s() -> None:
    """``getmany`` alone returns what arrived since the last call: at 2,000 events/s, steps of
    a few events each, and the freshness bench's p99 rose to 2.9–3.5 s (docs/streams.md)."""
    reader = RawReader("127.0.0.1:1", "g", ["t"])
    reader.consumer = _Trickle()  # type: ignore[assignment]
    full = asyncio.run(reader._batch(max_records=5, within_s=60))
    assert [r.offset for r in full[TopicPartition("t", 0)]] == [0, 1, 2, 3, 4]
    gathered = asyncio.run(reader._batch(max_records=100_000, within_s=0.2))
    assert 1 < len(gathered[TopicPartition("t", 0)]) < 100_000  # several calls, then the bound


async def _read_while_a_reader_joins(bootstrap: str, topic: str, group: str) -> dict[str, list]:
    """Values 0, 1, … sent to ``topic``'s two partitions every 10 ms for 6 s; reader ``a``
    gathers 2 s batches from the start, reader ``b`` joins the group after 2 s (a rebalance in
    the middle of one of ``a``'s batches). Both run until the group committed every value."""
    seen: dict[str, list[int]] = {"a": [], "b": []}
    readers = {name: RawReader(bootstrap, group, [topic]) for name in seen}

    def step(name: str) -> Callable[[list[ConsumerRecord[bytes, bytes]]], Awaitable[None]]:
        async def record(records: list[ConsumerRecord[bytes, bytes]]) -> None:
            seen[name].extend(int(r.value or b"") for r in records)

        return record

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    tasks = []
    try:
        await readers["a"].start()
        tasks.append(asyncio.create_task(readers["a"].run(step("a"), 100_000, 2.0)))
        sent = 0
        for tick in range(600):
            if tick == 200:
                await readers["b"].start()
                tasks.append(asyncio.create_task(readers["b"].run(step("b"), 100_000, 2.0)))
            await producer.send_and_wait(topic, str(sent).encode(), partition=sent % 2)
            sent += 1
            await asyncio.sleep(0.01)
        ends = {TopicPartition(topic, p): (sent + 1 - p) // 2 for p in range(2)}
        for _ in range(300):  # until both partitions are committed to their end
            if await readers["a"].committed(list(ends)) == ends:
                break
            await asyncio.sleep(0.2)
    finally:
        await producer.stop()
        for reader in readers.values():
            await reader.stop()
        await asyncio.gather(*tasks)
    seen["sent"] = list(range(sent))
    return seen


@pytest.mark.kafka
def test_a_batch_gathered_across_a_rebalance_is_read_again(bootstrap: str, unique: str) -> None:
    """A reader joins while the other gathers a batch: the batch is dropped (it began before
    the rebalance), and what it held must be read again — including records its consumer
    fetched *after* the new assignment (from the committed offset), whose position had
    already moved past them. They were lost: in the join/leave test of the worker, one
    ingest batch of ~40 events in 13 raw partitions never reached the group topic (30 Nov)."""
    create_topic(bootstrap, unique, 2)
    seen = asyncio.run(_read_while_a_reader_joins(bootstrap, unique, f"{unique}-ingest"))
    assert seen["a"] and seen["b"], "both readers stepped"
    lost = sorted(set(seen["sent"]) - set(seen["a"] + seen["b"]))
    assert not lost, f"{len(lost)} of {len(seen['sent'])} values never stepped: {lost}"


@pytest.mark.kafka
def test_a_stop_during_the_start_leaves_no_consumer_running(bootstrap: str, unique: str) -> None:
    """A CI run of 2 Dec: SIGTERM reached a worker while its raw reader started; ``stop``
    found no consumer yet, the start then kept the one it made running (and the worker hung
    until killed). Now the start stops it."""
    create_topic(bootstrap, unique, 2)
    reader = RawReader(bootstrap, f"{unique}-ingest", [unique])

    async def stop_while_starting() -> None:
        starting = asyncio.create_task(reader.start())
        await asyncio.sleep(0)  # the start is under way: its consumer made, not started yet
        await reader.stop()
        await starting

    asyncio.run(stop_while_starting())
    assert reader.consumer is None
