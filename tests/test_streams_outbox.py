"""The worker's outbox, without a broker: order and batching per partition, and a commit's
flush that sends what is queued and fails on a lost batch."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka.partitioner import DefaultPartitioner

from hotline.streams.outbox import Outbox, SendFailed


class Batch:
    """A record batch of at most ``room`` messages (``append`` returns None when full)."""

    def __init__(self, room: int) -> None:
        self.records: list[tuple[Any, Any]] = []
        self.room = room

    def append(self, *, key: Any, value: Any, timestamp: Any) -> object | None:
        if len(self.records) >= self.room:
            return None
        self.records.append((key, value))
        return object()


class Client:
    """A stand-in for Faust's producer and its aiokafka client (batch API): records what is
    sent per batch; ``fail`` names keys whose batch fails."""

    def __init__(self, fail: frozenset[bytes] = frozenset(), room: int = 100) -> None:
        self.sent: list[tuple[str, Any, Any, int]] = []
        self.batches = 0
        self.flushes = 0
        self.fail = fail
        self.room = room

    def _ensure_producer(self) -> Client:
        return self

    async def partitions_for(self, topic: str) -> set[int]:
        return {0, 1, 2}

    def create_batch(self) -> Batch:
        return Batch(self.room)

    async def send_batch(self, batch: Batch, topic: str, *, partition: int) -> asyncio.Future:
        self.batches += 1
        self.sent += [(topic, key, value, partition) for key, value in batch.records]
        future = asyncio.get_running_loop().create_future()
        if any(key in self.fail for key, _ in batch.records):
            future.set_exception(OSError("broker gone"))
        else:
            future.set_result(None)
        return future

    async def flush(self) -> None:
        self.flushes += 1


def test_messages_go_out_in_order_per_partition_and_only_once() -> None:
    async def scenario() -> Client:
        outbox, client = Outbox(), Client(room=2)
        for i in range(5):
            outbox.add("a", b"k%d" % i, b"x", 1)
        outbox.add("b", b"key", None, 0)
        outbox.add("c", b"key", b"v")  # no partition: the default partitioner's
        assert await outbox.send(client) == 7
        outbox.add("a", b"k5", b"y", 1)
        assert await outbox.send(client) == 1
        assert await outbox.send(client) == 0
        assert outbox.sent == 8
        return client

    client = asyncio.run(scenario())
    assert [k for t, k, _, p in client.sent if t == "a"] == [b"k%d" % i for i in range(6)]
    assert ("b", b"key", None, 0) in client.sent
    assert ("c", b"key", b"v", DefaultPartitioner()(b"key", [0, 1, 2], [0, 1, 2])) in client.sent
    assert client.batches == 6  # a: 2 + 2 + 1 (full batches split), b, c; then a again


def test_the_guarded_flush_sends_what_is_queued_and_fails_on_a_lost_write() -> None:
    async def scenario() -> None:
        outbox, client = Outbox(), Client(fail=frozenset({b"lost"}))
        outbox.guard(client)  # type: ignore[arg-type]
        outbox.add("a", b"kept", b"x", 1)
        await client.flush()  # what a commit does first
        assert client.sent == [("a", b"kept", b"x", 1)] and client.flushes == 1
        outbox.add("a", b"lost", b"y")
        await outbox.send(client)
        with pytest.raises(SendFailed, match="broker gone"):
            await client.flush()

    asyncio.run(scenario())
