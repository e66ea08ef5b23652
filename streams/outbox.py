"""The worker's outputs and state writes, handed to the Kafka client in one go per step.

Faust's ``send_soon`` (and a table's ``__setitem__``, which sends the changelog record that
way) costs a future, a queue hop and a task switch per message; a step of the groups agent
writes thousands (snapshots, call records, changed state keys). :class:`Outbox` collects a
step's messages in order and :meth:`Outbox.send` hands them to the Kafka client as one record
batch per topic partition, with no buffer in between: they are in the client's accumulator
when it returns.

Faust's commit calls ``producer.flush()``, which also flushes the Kafka client, so a
committed offset still implies that the outputs and state writes of its events were
delivered. :meth:`Outbox.guard` makes that flush send what is still queued here first, and
raise if a message was not delivered, so a commit never goes past a lost write (the worker
stops; its events are redelivered).
:class:`ChangelogWriter` is the mapping that :meth:`GroupState.dump` writes to: the table's
store plus its changelog record (the same bytes, partition and tombstones as Faust's).
"""

from __future__ import annotations

import asyncio
import types
from typing import Any

import faust
from aiokafka.partitioner import DefaultPartitioner

__all__ = ["ChangelogWriter", "Outbox", "SendFailed"]

_PARTITIONER = DefaultPartitioner()


class SendFailed(RuntimeError):
    """A message handed to the Kafka client was not delivered."""


class Outbox:
    """Messages of the current step, in order; sent by :meth:`send` under one lock (so two
    coroutines — the groups agent and the timer — never interleave their writes)."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, bytes | None, bytes | None, int | None]] = []
        self.sent = 0
        self._futures: list[asyncio.Future[Any]] = []
        self._lock = asyncio.Lock()

    def add(
        self, topic: str, key: bytes | None, value: bytes | None, partition: int | None = None
    ) -> None:
        """Queue a message (``partition`` None: by the client's partitioner of the key)."""
        self.messages.append((topic, key, value, partition))

    async def send(self, producer: faust.types.ProducerT) -> int:
        """Hand every queued message to the Kafka client, in order; how many.

        One record batch per topic partition (aiokafka's ``create_batch``/``send_batch``,
        split when full), so the client does its per-message work (metadata, futures) once
        per batch. A message without a partition goes where the client's default partitioner
        (murmur2 of the key, as Kafka's Java client) would put it.
        """
        async with self._lock:
            messages, self.messages = self.messages, []
            if not messages:
                return 0
            client = producer._ensure_producer()  # type: ignore[attr-defined]  # aiokafka's
            partitions: dict[str, list[int]] = {}
            batches: dict[tuple[str, int], Any] = {}
            for topic, key, value, partition in messages:
                if partition is None:
                    known = partitions.get(topic)
                    if known is None:
                        known = partitions[topic] = sorted(await client.partitions_for(topic))
                    partition = _PARTITIONER(key, known, known)
                batch = batches.get((topic, partition))
                if batch is None:
                    batch = batches[(topic, partition)] = client.create_batch()
                if batch.append(key=key, value=value, timestamp=None) is None:  # full
                    self._futures.append(await client.send_batch(batch, topic, partition=partition))
                    batch = batches[(topic, partition)] = client.create_batch()
                    if batch.append(key=key, value=value, timestamp=None) is None:
                        raise SendFailed(f"a message of {len(value or b'')} bytes for {topic} "
                                         "does not fit in a record batch")  # fmt: skip
            for (topic, partition), batch in batches.items():
                self._futures.append(await client.send_batch(batch, topic, partition=partition))
            self.sent += len(messages)
            self._futures = [f for f in self._futures if not f.done() or _failure(f) is not None]
            return len(messages)

    def check(self) -> None:
        """Raise :class:`SendFailed` if a message handed over was not delivered."""
        for future in self._futures:
            if future.done() and (problem := _failure(future)) is not None:
                raise SendFailed(f"a worker output or state write was lost: {problem!r}")

    def guard(self, producer: faust.types.ProducerT) -> None:
        """Make ``producer.flush()`` (before every commit and hand-over) send what is still
        queued here first, and raise when a send failed."""
        flush = producer.flush

        async def checked_flush(_self: Any) -> None:
            await self.send(producer)
            await flush()
            self.check()

        producer.flush = types.MethodType(checked_flush, producer)  # type: ignore[method-assign]


def _failure(future: asyncio.Future[Any]) -> BaseException | None:
    if future.cancelled():
        return asyncio.CancelledError("send cancelled")
    return future.exception()


class ChangelogWriter:
    """``store[key] = value`` / ``store.pop(key)`` on a Faust table without its per-key
    ``send_soon``: the value goes to the table's store, its changelog record to the outbox
    (serialized as Faust does, to the table's partition for the key; a delete is a tombstone,
    as Faust's ``on_key_del`` sends it)."""

    def __init__(self, table: faust.Table, outbox: Outbox) -> None:
        self.table = table
        self.outbox = outbox
        self.topic = table.changelog_topic
        self.name = self.topic.get_topic_name()

    def __setitem__(self, key: str, value: Any) -> None:
        self.table.data[key] = value
        self._log(key, self.topic.prepare_value(value, self.table.value_serializer)[0])

    def pop(self, key: str, default: Any = None) -> Any:
        found = self.table.data.pop(key, default)
        self._log(key, None)
        return found

    def _log(self, key: str, value: bytes | None) -> None:
        raw_key = self.topic.prepare_key(key, self.table.key_serializer)[0]
        self.outbox.add(self.name, raw_key, value, self.table.partition_for_key(key))
