"""The ingest stage's own reader of the raw topics (docs/streams.md, "Ingest reads with its own
consumer").

Faust hands its agents one message at a time (per message: a callback raced against the flow
control event in ``wait_first``, four tasks, a queue hop), about 69 µs per message on this
machine. Ingest is stateless, so it reads with a plain aiokafka consumer instead: ``getmany``
batches in the consumer group ``<app id>-ingest``, offsets committed after the step that
forwarded a batch delivered its outputs. A batch is never committed before it is delivered,
so a crash redelivers, never loses.

Steps and revocations exclude each other (one lock): a revocation waits for the step in
progress, commits what it left, and a batch fetched across a rebalance is dropped unprocessed
and read again: by the partition's next owner from the committed offset, or, still assigned
here, from the batch's first record of it (:meth:`RawReader._read_again`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Collection

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import CommitFailedError, ConsumerStoppedError, IllegalStateError
from aiokafka.structs import ConsumerRecord
from kafka import TopicPartition as KafkaTopicPartition
from kafka.admin import KafkaAdminClient
from kafka.errors import NoError

__all__ = ["RawReader"]

log = logging.getLogger(__name__)

Step = Callable[[list[ConsumerRecord[bytes, bytes]]], Awaitable[None]]
Fetched = dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]


class RawReader(ConsumerRebalanceListener):
    """An aiokafka consumer of ``topics`` in the group ``group_id``, run by :meth:`run`."""

    def __init__(
        self,
        bootstrap_servers: str,
        group_id: str,
        topics: Collection[str],
        on_assigned: Callable[[], None] = lambda: None,
        resume_from: str | None = None,
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.group_id = group_id
        self.topics = tuple(topics)
        self.on_assigned = on_assigned
        self.resume_from = resume_from
        """A consumer group whose committed offsets :meth:`start` adopts for the partitions
        this group never committed: the worker's Faust group, which read the raw topics before
        29 Nov (an upgraded worker goes on where it stopped, not from the start). Adopted,
        they are deleted from that group: nothing reads them any more, and left there they
        showed as a lag that only grew (``hotline streams status``, Kafka's own tools)."""
        self.consumer: AIOKafkaConsumer | None = None
        """Created by :meth:`start` (aiokafka wants a running event loop)."""
        self.commit_failures = 0
        self._lock = asyncio.Lock()
        self._pending: dict[TopicPartition, int] = {}
        """Offsets (next to read) delivered but not committed yet."""
        self._generation = 0
        """Incremented by every revocation: a batch fetched before one is dropped."""
        self._stopping = False

    async def start(self) -> None:
        """Join the group (the old reader's offsets adopted first); a :meth:`stop` that came
        during the start stops the consumer it made, as one cut short does."""
        if self.resume_from is not None:
            try:
                await self._adopt_offsets(self.resume_from)
            except Exception as exc:  # the broker busy: the reset policy (earliest) it is
                log.warning(
                    "%s: offsets of %s not adopted: %r", self.group_id, self.resume_from, exc
                )
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap_servers,
            group_id=self.group_id,
            client_id=f"{self.group_id}-reader",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=10_000,
            heartbeat_interval_ms=1_000,
        )
        consumer.subscribe(topics=list(self.topics), listener=self)
        try:
            await consumer.start()
        except BaseException:  # cancelled, or the topics never came: no client left running
            await consumer.stop()
            raise
        if self._stopping:  # stop() came while it started, with no consumer yet to stop
            await consumer.stop()
            return
        self.consumer = consumer

    async def _adopt_offsets(self, old: str) -> None:
        """Commit ``old``'s offsets of our topics' partitions that this group never committed,
        before joining (a seek on assignment races aiokafka's own reset to ``earliest``)."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap_servers)
        await admin.start()
        try:
            theirs = await admin.list_consumer_group_offsets(old)
            mine = await admin.list_consumer_group_offsets(self.group_id)
        finally:
            await admin.close()
        adopt = {
            tp: meta.offset
            for tp, meta in theirs.items()
            if tp.topic in self.topics and meta.offset >= 0 and tp not in mine
        }
        if adopt:
            committer = AIOKafkaConsumer(
                bootstrap_servers=self.bootstrap_servers,
                group_id=self.group_id,
                enable_auto_commit=False,
            )
            await committer.start()
            try:
                committer.assign(list(adopt))
                await committer.commit(adopt)
            finally:
                await committer.stop()
            log.info("%s: %d partitions start where %s stopped", self.group_id, len(adopt), old)
        if stale := [tp for tp in theirs if tp.topic in self.topics]:
            await asyncio.to_thread(self._delete_offsets, old, stale)

    def _delete_offsets(self, group: str, partitions: list[TopicPartition]) -> None:
        """Delete ``group``'s committed offsets of ``partitions`` (kafka-python's admin: aiokafka
        has no such call); a partition the broker refuses is logged and kept."""
        admin = KafkaAdminClient(
            bootstrap_servers=self.bootstrap_servers, client_id=f"{self.group_id}-cleanup"
        )
        try:
            results = admin.delete_group_offsets(
                group, [KafkaTopicPartition(tp.topic, tp.partition) for tp in partitions]
            )
        finally:
            admin.close()
        kept = {tp: error for tp, error in results.items() if error is not NoError}
        if kept:
            log.warning("%s: offsets of %s not deleted: %s", self.group_id, group, kept)
        if deleted := len(results) - len(kept):
            log.info("%s: %d offsets of %s deleted (read here now)", self.group_id, deleted, group)

    async def run(self, step: Step, max_records: int, within_s: float) -> None:
        """Until :meth:`stop`: a batch of up to ``max_records``, gathered for at most
        ``within_s`` after its first record, through ``step`` (each partition's records in
        order), then its offsets committed. What ``step`` raises is raised here, with nothing
        of its batch committed."""
        while not self._stopping:
            generation = self._generation
            try:
                fetched = await self._batch(max_records, within_s)
            except ConsumerStoppedError:
                if self._stopping:
                    return
                raise
            async with self._lock:
                if self._stopping:
                    continue
                if generation != self._generation:  # revoked meanwhile: dropped
                    self._read_again(fetched)
                    continue
                if fetched:
                    await step([r for records in fetched.values() for r in records])
                    for tp, records in fetched.items():
                        self._pending[tp] = records[-1].offset + 1
                if self._pending:
                    await self._commit()

    def _read_again(self, fetched: Fetched) -> None:
        """Rewind the partitions of a dropped batch that are assigned here (still or again)
        to the batch's first record of each. The new assignment reset their positions to the
        committed offsets, but a batch gathered across the rebalance may hold records fetched
        *after* that reset: the position had moved past them, and dropped they were lost (the
        next commit went beyond them). Records of a partition now owned by another worker are
        read by it from the committed offset."""
        consumer = self.consumer
        assert consumer is not None
        assigned = consumer.assignment()
        for tp, records in fetched.items():
            if tp in assigned and records:
                consumer.seek(tp, min(r.offset for r in records))

    async def _batch(self, max_records: int, within_s: float) -> Fetched:
        """Records as ``getmany`` returns them, gathered until ``max_records`` or ``within_s``
        after the first: ``getmany`` alone returns whatever arrived since the last call, and
        at low rates that is a step — a delivery, a commit, a group-topic bundle — per few
        events, which the groups stage then takes a state write each for."""
        consumer = self.consumer
        assert consumer is not None, "start() first"
        fetched = await consumer.getmany(
            timeout_ms=max(int(within_s * 1000), 1), max_records=max_records
        )
        count = sum(len(records) for records in fetched.values())
        deadline = time.monotonic() + within_s
        while fetched and count < max_records and (left := deadline - time.monotonic()) > 0:
            more = await consumer.getmany(
                timeout_ms=max(int(left * 1000), 1), max_records=max_records - count
            )
            for tp, records in more.items():
                fetched.setdefault(tp, []).extend(records)
                count += len(records)
        return fetched

    async def _commit(self) -> None:
        """Commit the pending offsets of the partitions still assigned; one that fails (a
        rebalance started) stays pending: the revocation or the next step commits it."""
        consumer = self.consumer
        assert consumer is not None
        assigned = consumer.assignment()
        offsets = {tp: o for tp, o in self._pending.items() if tp in assigned}
        try:
            if offsets:
                await consumer.commit(offsets)
        except (CommitFailedError, IllegalStateError) as exc:
            self.commit_failures += 1
            log.warning("%s: commit failed, kept for later: %r", self.group_id, exc)
            return
        self._pending.clear()

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        """Wait for the step in progress, commit what it delivered, drop fetched batches."""
        async with self._lock:
            self._generation += 1
            if self._pending:
                await self._commit()
            self._pending.clear()

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        log.info("%s: assigned %d raw partitions", self.group_id, len(assigned))
        self.on_assigned()

    async def stop(self) -> None:
        """Let the step in progress finish and commit, then leave the group."""
        async with self._lock:
            self._stopping = True
            if self._pending:
                await self._commit()
        if self.consumer is not None:
            await self.consumer.stop()

    # -- what the worker asks of the raw topics (nothing known before :meth:`start`) ------

    def highwater(self, tp: TopicPartition) -> int | None:
        """The partition's end offset as of its last fetch (None: not fetched, not ours)."""
        consumer = self.consumer
        if consumer is None or tp not in consumer.assignment():  # aiokafka asserts it is
            return None
        return consumer.highwater(tp)

    def partitions(self, topic: str) -> list[TopicPartition]:
        """The topic's partitions, from this consumer's metadata (empty: not known yet)."""
        known = self.consumer.partitions_for_topic(topic) if self.consumer is not None else None
        return [TopicPartition(topic, p) for p in sorted(known or ())]

    async def end_offsets(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        assert self.consumer is not None, "start() first"
        return await self.consumer.end_offsets(tps)

    async def committed(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        """The group's committed offsets of ``tps``, whichever worker owns them."""
        assert self.consumer is not None, "start() first"
        out: dict[TopicPartition, int] = {}
        for tp in tps:
            offset = await self.consumer.committed(tp)
            if offset is not None:
                out[tp] = offset
        return out
