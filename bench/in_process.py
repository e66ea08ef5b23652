"""The worker's ingest and groups steps in this process, with a stand-in for Kafka: record
batches are built and sent nowhere, group-topic messages are fed back to the groups step,
changelog writes are counted per key kind. No broker, no Faust consumer. Used by
``worker_steps.py`` (CPU per event) and ``worker_memory.py`` (memory over simulated days).

The steps run in this process's one thread (no executor, no other thread), so the CPU time of
that thread while they run (``time.thread_time``) is their CPU time; the wall time is kept
beside it (on a busy box it also counts the time the thread waited for a core)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from hotline.settings import KafkaSettings

if TYPE_CHECKING:
    from hotline.streams.worker_config import WorkerConfig

RawRecord = tuple[str, bytes | None, bytes]
"""A raw message: topic, key, value."""


def to_json(records: Iterable[RawRecord]) -> list[tuple[str, str, str]]:
    """Raw messages as JSON can carry them to a child interpreter (bytes as hex)."""
    return [(topic, (key or b"").hex(), value.hex()) for topic, key, value in records]


def from_json(rows: Iterable[Sequence[str]]) -> list[RawRecord]:
    """The raw messages of :func:`to_json` (an empty key: none)."""
    return [(t, bytes.fromhex(k) if k else None, bytes.fromhex(v)) for t, k, v in rows]


class _NoBroker:
    """What the outbox uses of aiokafka's producer: real record batches, sent nowhere."""

    async def partitions_for(self, topic: str) -> set[int]:
        return {0, 1, 2}

    def create_batch(self) -> Any:
        from aiokafka.producer.message_accumulator import BatchBuilder

        return BatchBuilder(256 * 1024, 0)

    async def send_batch(self, batch: Any, topic: str, *, partition: int) -> asyncio.Future:
        done = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


def bench_config(app_id: str, **more: Any) -> WorkerConfig:
    """A worker's settings for the in-process benches: replay mode (event time only), 3
    partitions, topics under the ``bench`` prefix; ``more`` on top."""
    from hotline.streams.worker_config import WorkerConfig

    return WorkerConfig(
        app_id=app_id,
        kafka=KafkaSettings(topic_prefix="bench"),
        partitions=3,
        wall_clock_skew_s=None,
        **more,
    )


def write_kind(key: bytes, value: bytes | None) -> tuple[str, str]:
    """The group and key kind of a changelog record (key ``"<group>|<kind>|…"``, JSON); the
    kind ends in ``-`` for a delete (no value)."""
    group, kind = key.decode().strip('"').split("|")[:2]
    return group, kind + "-" * (value is None)


class InProcessWorker:
    """A :class:`hotline.streams.app.Worker` (replay mode: event time only) fed raw messages
    through its ingest steps of ``ingest_batch`` messages; each step's group-topic messages go
    through its groups steps of ``group_batch`` (the worker's: 2,000 and 8). ``raw_topics``:
    every raw topic the feeds will have (a group's watermark waits for all of them)."""

    def __init__(self, raw_topics: Iterable[str], ingest_batch: int, group_batch: int) -> None:
        from hotline.streams.app import Worker

        self.worker = worker = Worker(bench_config("bench-steps", idle_flush_s=5))
        self.ingest_batch, self.group_batch = ingest_batch, group_batch
        self.sources = sorted(f"{topic}:0" for topic in set(raw_topics))
        self.ingest_s = self.groups_s = 0.0  # wall time (perf_counter)
        self.ingest_cpu_s = self.groups_cpu_s = 0.0  # CPU time of this thread (thread_time)
        self.state_writes: Counter[str] = Counter()  # per key kind (groups.py); "-": a delete
        client = _NoBroker()
        worker.outbox._client = lambda: client  # type: ignore[assignment]
        self._internal = worker.internal.get_topic_name()
        self._changelog = worker.table.changelog_topic.get_topic_name()
        self._fed_back: list[Any] = []
        self._group_offsets: dict[int, int] = defaultdict(int)
        self._raw_offsets: dict[str, int] = defaultdict(int)
        self._add = worker.outbox.add
        worker.outbox.add = self._add_and_feed_back  # type: ignore[method-assign]
        self._keep: frozenset[str] = frozenset()
        self.kept: list[RawRecord] = []
        """The messages sent to the topics of :meth:`keep`, in order."""

    def keep(self, topics: Iterable[str]) -> None:
        """Keep what the steps send to ``topics`` (:attr:`kept`), e.g. the sink's topics."""
        self._keep = frozenset(topics)

    def _add_and_feed_back(
        self, topic: str, key: Any, value: Any, partition: Any = None, after: bool = False
    ) -> None:
        from faust.types.tuples import Message

        if topic == self._internal:
            offset = self._group_offsets[partition]
            self._group_offsets[partition] += 1
            self._fed_back.append(
                Message(topic, partition, offset, time.time(), 0, [], key, value, None)
            )
        elif topic == self._changelog:
            self.state_writes[write_kind(key, value)[1]] += 1
        elif topic in self._keep:
            self.kept.append((topic, key, value))
        self._add(topic, key, value, partition, after=after)

    async def feed(self, records: Sequence[RawRecord]) -> None:
        """Every message through the steps; their wall seconds added to ``ingest_s``/
        ``groups_s``, their CPU seconds to ``ingest_cpu_s``/``groups_cpu_s``."""
        from aiokafka.structs import ConsumerRecord

        from hotline.streams.groups import NATIONAL_GROUP

        worker, fed_back = self.worker, self._fed_back
        raw = []
        for topic, key, value in records:
            now_ms = int(time.time() * 1000)
            offset = self._raw_offsets[topic]
            raw.append(ConsumerRecord(topic, 0, offset, now_ms, 0, key, value, None, 0, 0, ()))
            self._raw_offsets[topic] += 1
        for i in range(0, len(raw), self.ingest_batch):
            started, cpu = time.perf_counter(), time.thread_time()
            await worker._read(raw[i : i + self.ingest_batch])
            self.ingest_cpu_s += time.thread_time() - cpu
            self.ingest_s += time.perf_counter() - started
            while fed_back:
                batch, fed_back[:] = fed_back[: self.group_batch], fed_back[self.group_batch :]
                for msg in batch:
                    if worker.continuity.unknown([msg.tp]):
                        worker.continuity.start(msg.tp, msg.offset)
                    group = msg.key.decode()
                    if group not in worker.groups:  # the timer's part: its source partitions
                        state = worker._group(group)
                        if group != NATIONAL_GROUP:
                            state.expect([s for s in self.sources if f".raw.{group}." in s])
                started, cpu = time.perf_counter(), time.thread_time()
                await worker._process([SimpleNamespace(message=m) for m in batch])
                self.groups_cpu_s += time.thread_time() - cpu
                self.groups_s += time.perf_counter() - started

    def stats(self) -> dict[str, Any]:
        """The worker's counters, with the state writes per key kind."""
        return {**self.worker.stats, "state_writes": dict(self.state_writes.most_common())}
