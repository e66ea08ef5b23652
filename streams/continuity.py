"""Offsets the agents must not miss: Faust's consumer can skip a message around a seek.

faust-streaming 0.15.3 keeps a read offset per partition and drops a fetched message below it
(``Consumer._drain_messages``); a message further ahead than the next offset is taken as a
*gap* (as in a compacted topic), and the offsets in between are committed as if acknowledged.
A rebalance seeks every partition to its committed offset; records fetched before the seek but
delivered after it then make such a gap, and the re-fetched messages fall below the read
offset. Seen in the kill -9 broker test (29 Nov): right after a restart, the groups agent was
given offsets 14 and 16 of a group-topic partition but never 15, Faust committed past it, and
its 451 events were lost (sequence gaps, orphans). It happened in about 1 run in 4 once the
agents awaited their deliveries (:mod:`hotline.streams.delivery`), and can happen to any
agent whose fetch loop holds records across a seek.

:class:`Continuity` remembers per topic partition the next offset an agent must process: after
each rebalance, the consumer group's committed offset (where Faust resumes), then the last
offset processed + 1. An agent checks each batch against it and reads the offsets it was not
given straight from Kafka (:class:`MissedReader`, its own unassigned consumer), processing
them first, in the same step: Faust acknowledges the batch, and commits the gap, only after.
A message given again (below the next offset) is processed again; the stages are idempotent.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, TopicPartition
from faust.types import TP, Message

__all__ = ["Continuity", "MissedReader"]


class Continuity:
    """Per topic partition, the next offset an agent must process."""

    def __init__(self) -> None:
        self._next: dict[TP, int | None] = {}

    def reset(self) -> None:
        """After a rebalance: every partition starts again at its committed offset."""
        self._next.clear()

    def unknown(self, tps: Iterable[TP]) -> list[TP]:
        """The partitions whose start is not known yet (ask :meth:`start` first)."""
        return sorted({tp for tp in tps if tp not in self._next})

    def start(self, tp: TP, offset: int | None) -> None:
        """Where Faust resumes ``tp`` (None: unknown, the first message sets it)."""
        self._next[tp] = offset

    def missing(self, tp: TP, offset: int) -> tuple[int, int] | None:
        """``(first, stop)`` of the offsets skipped before ``offset``, or None."""
        expected = self._next.get(tp)
        return (expected, offset) if expected is not None and offset > expected else None

    def processed(self, tp: TP, offset: int) -> None:
        """``offset`` of ``tp`` is processed (a lower one again: nothing changes)."""
        expected = self._next.get(tp)
        if expected is None or offset + 1 > expected:
            self._next[tp] = offset + 1


class MissedReader:
    """Reads a range of offsets of one partition with its own consumer (no group, no
    commits), for the messages Faust's consumer skipped."""

    def __init__(self, bootstrap_servers: str, timeout_s: float = 60.0) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.timeout_s = timeout_s
        self._consumer: AIOKafkaConsumer | None = None

    async def read(self, tp: TP, first: int, stop: int) -> list[Message]:
        """The messages of ``tp`` at offsets ``first`` ≤ offset < ``stop``, in order, as
        Faust's :class:`Message` (offsets deleted by retention are simply not there)."""
        consumer = await self._started()
        part = TopicPartition(tp.topic, tp.partition)
        consumer.assign([part])
        consumer.seek(part, first)
        out: list[Message] = []
        deadline = time.monotonic() + self.timeout_s
        while await consumer.position(part) < stop:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{tp.topic}:{tp.partition} offsets {first}..{stop - 1} "
                                   f"not read in {self.timeout_s:.0f} s")  # fmt: skip
            batch = await consumer.getmany(part, timeout_ms=500)
            for record in batch.get(part, []):
                if record.offset >= stop:
                    break
                out.append(
                    Message(
                        record.topic,
                        record.partition,
                        record.offset,
                        record.timestamp / 1000,
                        record.timestamp_type,
                        dict(record.headers or ()),
                        record.key,
                        record.value,
                        None,
                        tp=tp,
                    )
                )
        return out

    async def _started(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self.bootstrap_servers,
                enable_auto_commit=False,
                group_id=None,
                auto_offset_reset="earliest",  # an offset deleted by retention: the next kept
            )
            await consumer.start()
            self._consumer = consumer
        return self._consumer

    async def close(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None
