"""The worker's outputs, handed to the Kafka client in record batches.

Faust's ``send_soon`` costs a future, a queue hop and a task switch per message, and a step
of the groups agent emits thousands (snapshots, call records). The worker queues them in an
:class:`Outbox` (in order; the agents never wait) and a background task hands the queue to
the Kafka client every few milliseconds, as one record batch per topic partition.

Faust's commit calls ``producer.flush()`` after it took the offsets to commit: :meth:`Outbox.
guard` makes that flush send what is still queued here first, then flush the Kafka client,
and raise if a batch was not delivered — so a committed offset still implies that the
outputs of its events were delivered, and a commit never goes past a lost one (the worker
stops; its events are redelivered). State writes do not come here: they go through Faust's
table (docs/streams.md, "Writes", says why).
"""

from __future__ import annotations

import asyncio
import types
from typing import Any

import faust
from aiokafka.partitioner import DefaultPartitioner

__all__ = ["Outbox", "SendFailed"]

_PARTITIONER = DefaultPartitioner()


class SendFailed(RuntimeError):
    """A message handed to the Kafka client was not delivered."""


class Outbox:
    """Queued messages, in order; sent by :meth:`send` under one lock (so the background
    sender, the timer and a commit's flush never interleave their batches)."""

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
                raise SendFailed(f"a worker output was lost: {problem!r}")

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
