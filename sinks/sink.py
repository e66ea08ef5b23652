"""The ClickHouse sink: derived topics → tables, offsets committed only after ClickHouse confirmed.

Lifecycle (:meth:`Sink.run`): subscribe (consumer group, ``enable_auto_commit=False``) → loop
{poll → :func:`~hotline.sinks.rows.to_rows` per message → append to the batch of its table →
flush when a table holds ``batch_rows`` rows or the oldest pending row is ``max_wait_s`` old}
→ on stop (SIGTERM/SIGINT or :meth:`Sink.stop`) a last flush and commit, then close.

A flush writes every pending table (:class:`~hotline.sinks.writer.Writer`), then commits the
offsets of everything polled so far. Exactly-once *effect*: the tables are ReplacingMergeTree
keyed by each record's identity (versioned records keep the highest version, immutable ones
collapse), rollups are recomputed from FINAL; so a message written again after a crash,
a failed commit or a rebalance changes no result. No insert deduplication token is needed
(batches are not deterministic across restarts: they are cut by time too).

ClickHouse away (:class:`~hotline.errors.RetryableError` / :class:`~hotline.errors.Backpressure`):
keep the pending rows, retry with exponential backoff while polling a paused consumer
(heartbeats and group membership), resume after the write went through. Nothing is committed
until then; a stop meanwhile leaves at once without committing them (:meth:`Sink._abandon`).
The one rule that keeps this lossless: **every record a poll returns goes into the pending
batch, whichever loop polled** (:meth:`Sink._take`). Pausing only bounds memory; it
cannot be relied on for correctness, because a rebalance inside a poll gives a newly assigned
partition a fresh, unpaused state (kafka-python 3.x) and that same poll may return its records.
See :meth:`Sink._flush_until_done`.

Revocation: pending rows of a partition revoked meanwhile are still written (the new owner
reads them again from the last committed offset: a repeat the Replacing tables absorb), but
their offsets are never committed by this member (:meth:`Sink._commit` commits only what is
assigned at commit time).
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hotline.errors import Backpressure, RetryableError
from hotline.infra.topics import SHARED_TOPICS, require_kafka, shared_topic
from hotline.schemas import Codec, default_codec
from hotline.settings import Settings
from hotline.sinks.client import connect
from hotline.sinks.rows import STAGE, to_rows
from hotline.sinks.writer import Writer
from hotline.status_file import write_status

log = logging.getLogger(__name__)

#: The shared topics the sink reads (every one of infra.topics.SHARED_TOPICS).
SINK_ROLES: tuple[str, ...] = tuple(SHARED_TOPICS)


class SinkConfig(BaseModel):
    """How the sink batches, backs off and which group it joins."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    group_id: str = "hotline-clickhouse-sink"
    batch_rows: int = Field(10_000, ge=1, description="flush when one table has this many rows")
    max_wait_s: float = Field(2.0, gt=0, description="flush when the oldest row is this old")
    poll_timeout_s: float = Field(0.5, gt=0)
    max_poll_records: int = Field(5_000, ge=1)
    backoff_initial_s: float = Field(0.5, gt=0)
    backoff_max_s: float = Field(15.0, gt=0)
    agent_states: bool = Field(True, description="also read the raw agent topics (agent_states)")
    progress_every_s: float = Field(
        60.0, gt=0, description="log what was written at most this often (after a flush)"
    )
    status_file: Path | None = Field(
        None, description="write the stats as JSON here about once a second (hotline health)"
    )
    auto_offset_reset: str = "earliest"


@dataclass
class SinkStats:
    """Counts since start (for logs, tests and the bench)."""

    messages: int = 0
    committed: int = 0
    """Messages whose offsets were committed (after their rows were written)."""
    rows: int = 0
    dead_letters: int = 0
    flushes: int = 0
    retries: int = 0
    by_table: dict[str, int] = field(default_factory=dict)


def topic_pattern(settings: Settings, *, agent_states: bool) -> str:
    """One regex for every topic the sink reads (kafka-python takes a list or a pattern)."""
    prefix = settings.kafka.topic_prefix.replace(".", r"\.")
    names = [SHARED_TOPICS[role].replace(".", r"\.") for role in SINK_ROLES]
    if agent_states:
        names.append(r"raw\.[1-9]\d0000\.agents")
    return rf"^{prefix}\.({'|'.join(names)})$"


class Sink:
    """One consumer, one ClickHouse client; :meth:`run` until :meth:`stop`."""

    def __init__(
        self,
        settings: Settings,
        config: SinkConfig | None = None,
        *,
        codec: Codec | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self.config = config or SinkConfig()
        self.codec = codec or default_codec()
        self.clock = clock
        self.sleep = sleep
        self.stats = SinkStats()
        self._stopping = threading.Event()
        self._batches: dict[str, list[tuple[Any, ...]]] = {}
        self._oldest: float | None = None
        self._offsets: dict[Any, int] = {}  # TopicPartition → next offset to commit
        self._uncommitted: dict[Any, int] = {}  # TopicPartition → messages since the commit
        self._reported = (clock(), 0)  # (when, committed) at the last progress report
        self._status_at: float | None = None  # clock() at the last status file
        self._roles = {shared_topic(settings.kafka, role): role for role in SINK_ROLES}
        self._consumer: Any = None
        self._client = connect(settings.clickhouse)
        self._writer = Writer(self._client, settings.clickhouse.database)

    # -- control -------------------------------------------------------------------------------

    def stop(self, *_: object) -> None:
        """Ask :meth:`run` to flush, commit and return (safe from a signal handler)."""
        self._stopping.set()

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)

    # -- the loop ------------------------------------------------------------------------------

    def run(self) -> SinkStats:
        """Consume until stopped; the last pending rows are flushed and committed on the way out."""
        from kafka import KafkaConsumer
        from kafka.errors import KafkaError

        bootstrap = self.settings.kafka.bootstrap_servers
        require_kafka(bootstrap)
        try:
            self._consumer = KafkaConsumer(
                bootstrap_servers=bootstrap,
                group_id=self.config.group_id,
                enable_auto_commit=False,
                auto_offset_reset=self.config.auto_offset_reset,
                max_poll_records=self.config.max_poll_records,
                client_id="hotline-sink",
            )
        except KafkaError as exc:
            raise RetryableError(f"cannot reach Kafka at {bootstrap}: {exc}") from exc
        pattern = topic_pattern(self.settings, agent_states=self.config.agent_states)
        self._consumer.subscribe(pattern=pattern)
        log.info("sink subscribed to %s as group %s", pattern, self.config.group_id)
        try:
            while not self._stopping.is_set():
                self._poll(self.config.poll_timeout_s)
                if self._due():
                    self._flush_until_done()
            self._flush_until_done()
        finally:
            self._consumer.close(autocommit=False)
            self._client.disconnect()
        log.info("sink stopped: %s", self.stats)
        return self.stats

    def _poll(self, timeout_s: float) -> None:
        """Poll once (main loop and retries alike): take what came, and write the status
        file at most once a second, so that its age says whether this loop still runs."""
        self._take(self._consumer.poll(timeout_ms=int(timeout_s * 1000)))
        path, now = self.config.status_file, self.clock()
        if path is not None and (self._status_at is None or now - self._status_at >= 1.0):
            write_status(path, "sink", {"stats": asdict(self.stats)})
            self._status_at = now

    def _take(self, polled: dict[Any, list[Any]]) -> None:
        """Add every polled record to the pending batches and advance the offsets to commit.

        Every :meth:`KafkaConsumer.poll` result goes through here: the consumer's position has
        moved past these records, so dropping one would let a later commit skip it.
        """
        for tp, messages in polled.items():
            role = self._roles.get(tp.topic)
            for message in messages:
                for routed in to_rows(
                    self.codec,
                    message.value,
                    topic=tp.topic,
                    partition=tp.partition,
                    offset=message.offset,
                    role=role,
                ):
                    self._batches.setdefault(routed.table, []).append(routed.row)
                    if routed.table == "dead_letters" and routed.row[0] == STAGE:
                        self.stats.dead_letters += 1
                self.stats.messages += 1
                self._uncommitted[tp] = self._uncommitted.get(tp, 0) + 1
                self._offsets[tp] = message.offset + 1
            if messages and self._oldest is None:
                self._oldest = self.clock()

    def _due(self) -> bool:
        if self._oldest is None:
            return False
        if any(len(rows) >= self.config.batch_rows for rows in self._batches.values()):
            return True
        return self.clock() - self._oldest >= self.config.max_wait_s

    def _flush_until_done(self) -> None:
        """Write and commit; while ClickHouse is away, back off and retry, polling paused.

        Between retries the consumer is polled to keep its group membership. Before every such
        poll the *whole current assignment* is paused again, because a rebalance gives newly
        assigned partitions a fresh, unpaused state. A poll can still return records: the
        rebalance happens inside the poll and the same poll fetches the new partition. Those
        records are not dropped (the position has moved past them): :meth:`_take` adds them to
        the pending batch, which the next attempt writes and only then commits. So no record
        is ever skipped, and memory grows by at most one poll (``max_poll_records``) per
        rebalance during the outage.
        """
        delay = self.config.backoff_initial_s
        paused = False
        while True:
            try:
                self._flush()
                break
            except (RetryableError, Backpressure) as exc:
                if self._stopping.is_set():
                    self._abandon(exc)
                    return
                self.stats.retries += 1
                paused = True
                log.warning("ClickHouse write failed (%s); retrying in %.1f s", exc, delay)
                deadline = self.clock() + delay
                while self.clock() < deadline and not self._stopping.is_set():
                    self._consumer.pause(*self._consumer.assignment())
                    self._poll(0.2)
                    self.sleep(min(0.2, max(0.0, deadline - self.clock())))
                delay = min(delay * 2, self.config.backoff_max_s)
        if paused:
            self._consumer.resume(*self._consumer.paused())

    def _abandon(self, exc: Exception) -> None:
        """Asked to stop while ClickHouse is away: leave without committing the pending rows.

        Their offsets stay where the last confirmed write left them, so the group reads them
        again at its next start: nothing is lost, and a stop does not wait for ClickHouse.
        """
        pending = sum(self._uncommitted.values())
        log.warning(
            "stopping with ClickHouse away (%s): %d polled messages not written and not "
            "committed; the group reads them again at its next start",
            exc,
            pending,
        )
        self._batches, self._offsets, self._uncommitted, self._oldest = {}, {}, {}, None

    def _flush(self) -> None:
        if self._batches:
            # Commit order: 1. insert every table's rows and recompute the touched rollups
            # (ClickHouse confirms each statement) → 2. commit the Kafka offsets of all of it.
            # A crash between 1 and 2 redelivers the rows; the Replacing tables absorb them.
            self._writer.write(self._batches)
            for table, rows in self._batches.items():
                self.stats.by_table[table] = self.stats.by_table.get(table, 0) + len(rows)
                self.stats.rows += len(rows)
            self.stats.flushes += 1
        self._batches = {}
        self._oldest = None
        self._commit()
        self._report()

    def _report(self) -> None:
        """Log the progress since the last report, at most every ``progress_every_s``."""
        now, stats = self.clock(), self.stats
        since, committed = self._reported
        if now - since < self.config.progress_every_s:
            return
        rate = (stats.committed - committed) / (now - since)
        log.info(
            "sink: %d messages committed (%.0f/s over the last %.0f s), %d rows, "
            "%d dead letters, %d retries since start",
            stats.committed,
            rate,
            now - since,
            stats.rows,
            stats.dead_letters,
            stats.retries,
        )
        self._reported = (now, stats.committed)

    def _commit(self) -> None:
        from kafka.errors import CommitFailedError, KafkaError
        from kafka.structs import OffsetAndMetadata

        if not self._offsets:
            return
        # Only partitions assigned now: one revoked since its records were polled belongs to
        # another member, which reads it again from the last committed offset (our rows of it
        # are written: a repeat). Committing it from here could move the group past records
        # the new owner polled but has not written yet.
        assigned = self._consumer.assignment()
        offsets = {
            tp: OffsetAndMetadata(offset, "", -1)
            for tp, offset in self._offsets.items()
            if tp in assigned
        }
        try:
            if offsets:
                self._consumer.commit(offsets)
                self.stats.committed += sum(self._uncommitted.get(tp, 0) for tp in offsets)
        except (CommitFailedError, KafkaError) as exc:
            # The rows are in ClickHouse; whoever owns the partitions now redelivers them and
            # the Replacing tables absorb the repeat.
            log.warning("commit failed after a confirmed write (%s); redelivery is safe", exc)
        self._offsets = {}
        self._uncommitted = {}
