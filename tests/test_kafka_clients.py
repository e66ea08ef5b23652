"""kafka-python and aiokafka against the embedded broker: round trips, compression, groups."""

from __future__ import annotations

import asyncio
import importlib.util

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import KafkaAdminClient

pytestmark = pytest.mark.kafka

PARTITIONS = 3
COUNT = 300
KEYS = [f"call-{i}".encode() for i in range(17)]


def _messages() -> list[tuple[bytes, bytes, list[tuple[str, bytes]]]]:
    return [
        (KEYS[i % len(KEYS)], f"value-{i}".encode() * 5, [("seq", str(i).encode()), ("src", b"t")])
        for i in range(COUNT)
    ]


def _create(bootstrap: str, topic: str, partitions: int = PARTITIONS) -> None:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics(
            {topic: {"num_partitions": partitions, "replication_factor": 1}},
            wait_for_metadata=True,
        )
    finally:
        admin.close()


def _check(received: list[tuple[int, bytes, bytes, list[tuple[str, bytes]]]]) -> None:
    """All messages arrived once, with key, value and headers, and each key on one partition."""
    sent = _messages()
    assert sorted((k, v, list(h)) for _, k, v, h in received) == sorted(
        (k, v, h) for k, v, h in sent
    )
    partitions_of: dict[bytes, set[int]] = {}
    for partition, key, _, _ in received:
        partitions_of.setdefault(key, set()).add(partition)
    assert all(len(p) == 1 for p in partitions_of.values())


def _kp_produce(bootstrap: str, topic: str, compression: str | None) -> None:
    producer = KafkaProducer(
        bootstrap_servers=bootstrap, acks="all", compression_type=compression, linger_ms=5
    )
    for key, value, headers in _messages():
        producer.send(topic, key=key, value=value, headers=headers)
    producer.flush()
    producer.close()


def _kp_consume(bootstrap: str, topic: str, group: str | None = None, limit: int = COUNT):
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=15_000,
    )
    received = []
    for record in consumer:
        received.append((record.partition, record.key, record.value, list(record.headers)))
        if len(received) == limit:
            break
    return consumer, received


async def _aio_produce(bootstrap: str, topic: str, compression: str | None) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", compression_type=compression, linger_ms=5
    )
    await producer.start()
    try:
        futures = [
            await producer.send(topic, key=key, value=value, headers=headers)
            for key, value, headers in _messages()
        ]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def _aio_consume(bootstrap: str, topic: str, group: str | None = None, limit: int = COUNT):
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    received = []
    try:
        async with asyncio.timeout(30):
            while len(received) < limit:
                batches = await consumer.getmany(timeout_ms=500, max_records=limit - len(received))
                for records in batches.values():
                    for r in records:
                        received.append((r.partition, r.key, r.value, list(r.headers)))
        if group is not None:
            await consumer.commit()
    finally:
        await consumer.stop()
    return received


KP_CODECS = ["gzip", None]
if importlib.util.find_spec("lz4"):
    KP_CODECS.append("lz4")


@pytest.mark.parametrize("compression", KP_CODECS)
def test_kafka_python_round_trip(bootstrap: str, unique: str, compression: str | None) -> None:
    _create(bootstrap, unique)
    _kp_produce(bootstrap, unique, compression)
    consumer, received = _kp_consume(bootstrap, unique)
    consumer.close()
    _check(received)


@pytest.mark.parametrize("compression", ["gzip", None])
def test_aiokafka_round_trip(bootstrap: str, unique: str, compression: str | None) -> None:
    _create(bootstrap, unique)
    asyncio.run(_aio_produce(bootstrap, unique, compression))
    _check(asyncio.run(_aio_consume(bootstrap, unique)))


def test_clients_read_each_others_batches(bootstrap: str, unique: str) -> None:
    _create(bootstrap, f"{unique}-a")
    _create(bootstrap, f"{unique}-b")
    _kp_produce(bootstrap, f"{unique}-a", "gzip")
    _check(asyncio.run(_aio_consume(bootstrap, f"{unique}-a")))
    asyncio.run(_aio_produce(bootstrap, f"{unique}-b", "gzip"))
    consumer, received = _kp_consume(bootstrap, f"{unique}-b")
    consumer.close()
    _check(received)


def test_kafka_python_group_resumes_after_commit(bootstrap: str, unique: str) -> None:
    _create(bootstrap, unique)
    _kp_produce(bootstrap, unique, None)
    first, part_one = _kp_consume(bootstrap, unique, group=unique, limit=COUNT // 3)
    first.commit()
    first.close()
    second, part_two = _kp_consume(bootstrap, unique, group=unique, limit=COUNT - COUNT // 3)
    second.close()
    # the second member starts exactly after the committed offsets: no gap, no repeat
    _check(part_one + part_two)


def test_aiokafka_group_resumes_after_commit(bootstrap: str, unique: str) -> None:
    _create(bootstrap, unique)
    asyncio.run(_aio_produce(bootstrap, unique, None))
    part_one = asyncio.run(_aio_consume(bootstrap, unique, group=unique, limit=COUNT // 3))
    part_two = asyncio.run(_aio_consume(bootstrap, unique, group=unique, limit=COUNT - COUNT // 3))
    _check(part_one + part_two)
