"""The Faust worker: thin shells around the pure core (docs/streams.md, "Faust worker").

Topology::

    hotline.raw.<province>.{calls,surveys,tickets,agents,qa}   (keyed by call/ticket/agent id)
      │  task `ingest` (its own consumer, :class:`RawReader`): decode (codec), validate
      │  (model, known region, plausible time, province of the topic) → invalid:
      │  hotline.deadletter (reason, original bytes; a phone number in clear masked)
      ▼
    <app id>-groups (internal, keyed and partitioned by group = province code)
      │  agent `groups`: per province GroupState (calls → records, buckets, city and
      │  province roll-ups; sequence gaps), state in the changelog-backed table `state`
      ├─► hotline.records.calls       CallRecord, key call id, versioned
      ├─► hotline.metrics.snapshots   MetricSnapshot (county, city, province), versioned
      ├─► hotline.metrics.agents      AgentTimeSnapshot (county, city, province), closed minutes
      ├─► hotline.metrics.tickets     TicketCountSnapshot (county, city, province), versioned
      ├─► hotline.deadletter / hotline.sequence-gaps
      └─► <app id>-groups, group 000000: province snapshots only (metrics, agent time,
                                         ticket counts) → national snapshots

Every batch (ingest: ``getmany``; groups: ``take_events``): process, queue the outputs, then
the changed state keys, and deliver them (:mod:`hotline.streams.delivery`: record batches,
awaited until the broker has them) before the batch ends. Ingest commits a batch, and Faust
acknowledges a groups batch, only after that, so a committed offset implies its state and
outputs are in Kafka; a crash redelivers from the last
commit and the pure core's dedupe and versioned sums make the replay change nothing. A step
that fails is never acknowledged: the worker exits at once (:meth:`Worker._fatal`). Outputs
lost with a crash after their state was persisted are re-sent when the group is loaded
(:meth:`GroupState.held`).

A wall-clock timer (never a window-close callback) advances watermarks: live mode to
``now - wall_clock_skew``; replay mode closes a group idle for ``idle_flush_s`` once its
input is processed to its end (:meth:`Worker._caught_up`).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import re
import time
import uuid
import zlib
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import faust
import orjson
from aiokafka import TopicPartition
from aiokafka.structs import ConsumerRecord
from faust.types import EventT, Message

from hotline.errors import ConfigurationError
from hotline.infra.topics import (
    RAW_FAMILIES,
    TopicSpec,
    ensure_topics,
    missing_topics,
    raw_topic,
    shared_topic,
)
from hotline.regions import RegionRegistry, default_registry
from hotline.schemas import (
    AgentTimeSnapshot,
    CodecError,
    DeadLetter,
    DeadLetterReason,
    Event,
    Level,
    MetricSnapshot,
    TicketCountSnapshot,
    default_codec,
)
from hotline.schemas.redact import may_hold_phone_number, phone_number_problem, redact_original
from hotline.schemas.types import EARLIEST_OCCURRED_AT
from hotline.status_file import write_status
from hotline.streams.agents import AgentMinute
from hotline.streams.aggregate import Snapshot
from hotline.streams.alerts import gap_record
from hotline.streams.changelog_reader import BulkRecoveryTableManager
from hotline.streams.continuity import Continuity, MissedReader
from hotline.streams.delivery import ChangelogWriter, Outbox
from hotline.streams.groups import (
    NATIONAL_GROUP,
    GroupOutput,
    GroupState,
    Inbound,
    center_region,
    group_keys,
)
from hotline.streams.raw_reader import RawReader
from hotline.streams.recovery_log import RecoveryLog
from hotline.streams.ticket_counts import TicketCount
from hotline.streams.worker_config import WorkerConfig

__all__ = ["Worker", "create_app", "group_partition"]

log = logging.getLogger(__name__)
_RAW: dict[str, Any] = {"key_serializer": "raw", "value_serializer": "raw"}
_PROVINCE_TOPIC = re.compile(r"\.raw\.(\d{6})\.")


_SNAPSHOT = MetricSnapshot.RECORD_TYPE
_AGENT_TIME = AgentTimeSnapshot.RECORD_TYPE
_TICKET_COUNT = TicketCountSnapshot.RECORD_TYPE
_BUNDLE_BYTES = 256 * 1024
"""A group-topic message carries at most about this much (Faust's producer takes 1 MB)."""
_ITEM_OVERHEAD = 160
"""An item's JSON beside its base64 event (names, topic, offsets)."""
_BUNDLE_SNAPSHOTS = 500
"""Province snapshots per message to the national group (about 250 bytes each)."""
_DECODED_MAX = 20_000
"""Decoded events kept for the groups agent (:attr:`Worker._decoded`)."""
_START_TRIES = 5
_START_PAUSE_S = 1.0
"""Asking the group's committed offsets after a rebalance (:meth:`Worker._starts`)."""
RECOVERY_SAMPLE_S = 0.2
"""Seconds between two looks at the state table's recovery (:class:`RecoveryLog`)."""
STARTING_STATUS_S = 1.0
"""Seconds between two status files of phase ``starting`` (before the first assignment)."""
Phase = Literal["starting", "recovering", "rebalancing", "running"]
"""The worker's phase in its status file (:meth:`Worker._write_status`)."""


class _App(faust.App):
    """Faust's app, calling :attr:`on_starting` as it starts: before its consumer joins the
    group (Faust has no signal for that; its tasks and timers start after the first
    recovery)."""

    on_starting: Callable[[], None] | None = None

    async def on_start(self) -> None:
        await super().on_start()
        if self.on_starting is not None:
            self.on_starting()


def _bundled(items: list[dict[str, Any]]) -> bytes:
    """One group-topic message for several items, kept in order (``k`` = ``B``)."""
    return orjson.dumps({"k": "B", "i": items})


def state_origin_offset(event_id: str) -> int:
    """The ``source_offset`` of a dead letter whose source message is not known any more (an
    event judged from the group's state, e.g. an orphan): the top 63 bits of its event id (a
    UUID), so that each such dead letter keeps a row of its own in ClickHouse's
    ``dead_letters`` (keyed by source topic, partition, offset and stage) and a replay of the
    same one replaces it."""
    return uuid.UUID(event_id).int >> 65


def _ts_ms(timestamp: float | None) -> int:
    """A Kafka message timestamp (Faust: seconds, float) in ms; 0 when unknown."""
    return int(timestamp * 1000) if timestamp else 0


def groups_topic(config: WorkerConfig) -> TopicSpec:
    """The group topic, ``<app id>-groups``: created by :func:`ensure_groups_topic` before the
    worker starts."""
    return TopicSpec(f"{config.app_id}-groups", config.partitions)


def ensure_groups_topic(config: WorkerConfig) -> None:
    """Create the group topic if it does not exist, and wait until the broker's metadata has
    it. Faust would create it itself just before its consumer subscribes, and a consumer whose
    first metadata lacked it was seen to leave it unassigned for minutes (``Ignoring missing
    topic``: the groups stage processed nothing, 1 of 6 broker test runs)."""
    ensure_topics(config.kafka.bootstrap_servers, [groups_topic(config)])


class RawTopicsMissing(ConfigurationError):
    """Raw topics the worker reads are not on the broker."""

    def __init__(self, config: WorkerConfig, missing: Sequence[str], wanted: int) -> None:
        shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if missing[3:] else "")
        super().__init__(
            f"{len(missing)} of the {wanted} raw topics this worker reads are missing on Kafka "
            f"at {config.kafka.bootstrap_servers}: {shown}"
        )
        self.hint = (
            "create them with `hotline stack init`, or set HOTLINE_KAFKA__TOPIC_PREFIX to the "
            f"producers' prefix (it is {config.kafka.topic_prefix!r})"
        )


def require_raw_topics(config: WorkerConfig, names: Sequence[str]) -> None:
    """Refuse to start without the raw topics to read (:class:`RawTopicsMissing`): the raw
    reader's consumer would wait for them, logging an error ten times a second, and fail
    after 40 s — a stack not provisioned, or another topic prefix than the producers'."""
    if missing := missing_topics(config.kafka.bootstrap_servers, names):
        raise RawTopicsMissing(config, missing, len(names))


def group_partition(group: str, partitions: int) -> int:
    """The internal topic's (and the state table's) partition of a group."""
    return zlib.crc32(group.encode()) % partitions


CHANGELOG_CONFIGS = {"segment.ms": str(60 * 60 * 1000), "segment.bytes": str(64 * 1024 * 1024)}
"""The state table's changelog topic (created by Faust, compacted): a segment closes after an
hour or 64 MiB, so the broker's cleaner compacts all but the last hour of writes. With the
broker's defaults (7 days, 1 GiB) a restart read up to a week of every write back, not the
table's keys (docs/streams.md, "Restart")."""


class GroupTable(faust.Table):
    """A table whose keys (``<group>|…``) live in their group's partition, wherever written
    (in a batch of several partitions, or from the timer)."""

    def partition_for_key(self, key: Any) -> int | None:
        return group_partition(str(key).partition("|")[0], self.partitions)

    async def on_recovery_completed(self, active_tps: set[Any], standby_tps: set[Any]) -> None:
        """After a rebalance's recovery, also forget the keys of the partitions no longer
        assigned that the worker wrote itself (:class:`ChangelogWriter` writes the store
        directly): the memory store forgets only the keys it recovered. Kept, they outlived
        the partition; if it came back after its tombstones were compacted away (a day after
        the other worker deleted them), its recovery could not delete them, and stale state —
        an open call the other worker had closed — was loaded again."""
        await self.data.on_recovery_completed(active_tps, standby_tps)
        mine = {tp.partition for tp in active_tps}
        store = self.data
        for key in [k for k in store if self.partition_for_key(k) not in mine]:
            del store[key]  # the store only: no changelog record
        await self.call_recover_callbacks()


def _snapshot_dict(s: Snapshot) -> dict[str, Any]:
    return {
        "level": s.level.value,
        "region": s.region_code,
        "bucket": int(s.bucket_start.timestamp() * 1000),
        "line": s.business_line,
        "channel": s.channel,
        "version": s.version,
        "counts": list(s.counts),
    }


def _snapshot_of(d: dict[str, Any]) -> Snapshot:
    return Snapshot(
        Level(d["level"]),
        d["region"],
        datetime.fromtimestamp(d["bucket"] / 1000, UTC),
        d["line"],
        d["channel"],
        int(d["version"]),
        tuple(int(x) for x in d["counts"]),
    )


class Worker:
    """The app, its topics and table, and the in-memory groups of the assigned partitions."""

    def __init__(self, config: WorkerConfig, registry: RegionRegistry | None = None) -> None:
        self.config = config
        self.registry = registry or default_registry()
        self.codec = default_codec()
        kafka = config.kafka
        provinces = config.provinces or tuple(r.code for r in self.registry.provinces())
        self.provinces = frozenset(provinces)
        self.stats: Counter[str] = Counter()
        self.groups: dict[str, GroupState] = {}
        self.last_input: dict[str, float] = {}
        self.heard: dict[str, dict[str, float]] = defaultdict(dict)
        """Per group and source partition: when it last sent an event (monotonic)."""
        self.flushed: set[str] = set()
        self.flushed_at: dict[str, float] = {}
        """Per group: wall-clock time of its last idle flush (replay mode; the status file)."""
        self.rebalance_began_at: float | None = None
        """When the latest rebalance after the first join began (its revocation, wall clock):
        the status file keeps it after the phase has moved on, with ``rebalance_paused_s``."""
        self.rebalance_paused_s: float | None = None
        """How long the latest rebalance paused processing, to its end (recovery done); None
        while it lasts."""
        self._bundles: dict[str, list[Any]] = {}
        """Per group: the items of the current ingest batch not sent yet, their size."""
        self._decoded: dict[tuple[str, int, int], tuple[bytes, Event]] = {}
        """Raw events validated by ingest, by source offset, with their bytes: the groups
        agent of the same worker takes them instead of decoding the bytes again."""
        self._highwaters: dict[Any, int | None] = {}
        """Per raw partition: its highwater, asked once per ingest step (:meth:`_behind`)."""
        self._processed: dict[Any, int] = {}
        """Per group-topic partition: the last offset the groups agent processed."""
        self._progress_at = time.monotonic()
        """When the groups agent last processed a step (or a rebalance restarted the clock)."""
        app = self.app = _App(
            config.app_id,
            broker=f"kafka://{kafka.bootstrap_servers}",
            store="memory://",
            datadir=str(config.datadir),
            web_enabled=config.web_port is not None,
            web_port=config.web_port or 6066,
            web_bind=config.web_host,
            topic_partitions=config.partitions,
            table_standby_replicas=0,
            consumer_auto_offset_reset="earliest",
            broker_commit_interval=1.0,
            broker_session_timeout=10.0,
            broker_heartbeat_interval=1.0,
            # the outbox's record batches (streams/delivery.py) hold up to this much
            producer_max_batch_size=256 * 1024,
            key_serializer="json",  # the state table's changelog; topics below are raw
            value_serializer="json",
            TableManager=BulkRecoveryTableManager,  # a restart reads the changelog in bulk
        )
        self.outbox = Outbox(lambda: app.producer._ensure_producer())  # aiokafka's producer
        self.continuity = Continuity()
        self.missed = MissedReader(kafka.bootstrap_servers)
        raw_names = [raw_topic(kafka, p, f) for p in sorted(self.provinces) for f in RAW_FAMILIES]
        self.raw_names = tuple(raw_names)
        self.reader = RawReader(
            kafka.bootstrap_servers,
            f"{config.app_id}-ingest",
            raw_names,
            on_assigned=self._restart_idle_timers,
            resume_from=config.app_id,  # the raw topics' reader before 29 Nov
        )
        """Ingest's own consumer of the raw topics (not Faust's: see raw_reader.py)."""
        self.internal = app.topic(
            groups_topic(config).name,
            partitions=config.partitions,
            internal=True,
            key_type=bytes,
            value_type=bytes,
            **_RAW,
        )
        self.out = {
            role: shared_topic(kafka, role)
            for role in (
                "call_records",
                "ticket_records",
                "metric_snapshots",
                "agent_time",
                "ticket_counts",
                "alerts",
                "dead_letters",
                "sequence_gaps",
                "queues",
            )
        }
        self.table = app.tables.add(
            GroupTable(
                app=app,
                name="state",
                default=None,
                partitions=config.partitions,
                key_type=str,
                extra_topic_configs=CHANGELOG_CONFIGS,
            )
        )
        self.state = ChangelogWriter(self.table, self.outbox)
        """The table as :meth:`GroupState.dump` writes it: store + changelog via the outbox."""
        app.task(self._ingest)
        app.agent(self.internal, name="groups")(self._groups)
        app.timer(config.tick_s)(self._tick)
        app.on_partitions_revoked.connect(self._revoked)
        app.on_rebalance_complete.connect(self._rebalanced)
        app.on_before_shutdown.connect(self._closing)
        self.recovery_log = RecoveryLog()
        self._reporting_recoveries = False
        app.on_partitions_assigned.connect(self._report_recoveries)
        app.on_starting = self._report_start
        self.table.on_recover(self._restored)

    def _send(self, role: str, key: bytes, value: bytes) -> None:
        """Queue an output (partitioned by key) for this step's delivery."""
        self.outbox.add(self.out[role], key, value)

    async def _deliver(self) -> None:
        """Deliver what this step queued (and wait for any other step's delivery); a
        delivery that fails in any way (not acknowledged, no metadata for a topic) stops the
        worker: the timer's writes, too, must not be lost."""
        try:
            await self.outbox.deliver()
        except Exception as exc:
            self._fatal(exc)

    async def _steps(
        self,
        batches: AsyncIterator[Sequence[EventT]],
        step: Callable[[Sequence[EventT]], Awaitable[None]],
    ) -> None:
        """An agent: ``step`` on each batch; a step that raises stops the worker."""
        async for events in batches:
            try:
                await step(events)
            except Exception as exc:  # any failure: the batch must not be acknowledged
                self._fatal(exc)

    def _fatal(self, exc: BaseException) -> None:
        """Exit at once, committing nothing more: Faust would acknowledge the events of a
        batch whose agent raised (``take_events`` acks in a ``finally``) and restart the
        agent, so their lost writes would be lost for good. Restarted, the worker resumes
        from the last commit."""
        log.critical("worker step failed, exiting without a commit: %r", exc, exc_info=exc)
        for handler in logging.getLogger().handlers:
            handler.flush()
        os._exit(70)

    async def _revoked(self, sender: Any, revoked: set[Any], **_kwargs: Any) -> None:
        """Drop the in-memory groups of the revoked group-topic partitions, at once.

        Faust sends this after the agents have finished their current events (each step
        delivered its writes before it ended); what the timer queued is delivered here
        first, before another worker can recover the partitions. A group must not outlive its
        partition in memory: another worker may own it next and write newer state to the
        changelog; if the partition comes back (eager rebalancing revokes everything, and a
        worker that leaves hands its partitions back) the group is loaded again from the
        recovered table. Dropping it only in the timer, as before, let a group survive a
        revoke–reassign between two ticks (``_tick`` skips rebalances) with the state it had
        before the other worker's events: those events were lost — a ``call.queued``
        processed by the other worker, then the call counted under line ``other``.
        The status file says ``rebalancing`` from here (the timer, too, until the recovery's
        sample task writes ``recovering``).
        """
        await self._deliver()
        name = self.internal.get_topic_name()
        lost = {tp.partition for tp in revoked if tp.topic == name}
        n = self.config.partitions
        for group in [g for g in self.groups if group_partition(g, n) in lost]:
            log.info("group %s revoked", group)
            del self.groups[group]
        if self._reporting_recoveries and not self.app.should_stop:  # not the first join
            self.rebalance_began_at, self.rebalance_paused_s = time.time(), None
            self._write_status("rebalancing")

    async def _closing(self, sender: Any = None, **_kwargs: Any) -> None:
        await self.reader.stop()
        await self.missed.close()

    async def _rebalanced(self, sender: Any = None, **_kwargs: Any) -> None:
        """A rebalance paused every group: idle time starts again (no premature flush);
        every partition resumes at its committed offset. Its pause is over (recovery done)."""
        if self.rebalance_began_at is not None and self.rebalance_paused_s is None:
            self.rebalance_paused_s = round(time.time() - self.rebalance_began_at, 3)
        self.continuity.reset()
        self._restart_idle_timers()
        self._progress_at = time.monotonic()
        self.stats["rebalances"] += 1

    def _report_start(self) -> None:
        """The app starts: the status file says so (phase ``starting``) now and each
        :data:`STARTING_STATUS_S` until the first partition assignment, however long joining
        the consumer group takes (the other members' rebalance)."""
        self._write_status("starting")

        async def beat() -> None:
            while True:
                await asyncio.sleep(STARTING_STATUS_S)
                if self._reporting_recoveries:
                    return
                self._write_status("starting")

        self.app.add_future(beat())

    async def _report_recoveries(self, sender: Any, assigned: Any, **_kwargs: Any) -> None:
        """A partition assignment: the state table's recovery follows, so the status file
        says ``recovering`` now (else a quick one left ``starting`` or ``rebalancing`` until
        the timer's next tick: a second or two); from the first one on, a task samples each
        recovery for the log (:mod:`hotline.streams.recovery_log`) and writes the status file
        at each sample while it runs, as Faust starts the app's tasks and timers only after
        the first recovery and the timer writes nothing during a rebalance: a long recovery
        looked like a dead worker."""
        self.recovery_log.assigned(time.monotonic())
        self._write_status("recovering")  # from the assignment: a quick recovery has no sample
        if self._reporting_recoveries:
            return
        self._reporting_recoveries = True
        recovery = self.app.tables.recovery

        async def sample() -> None:
            while True:
                recovering = recovery.in_recovery
                remaining = recovery.active_remaining_total() if recovering else 0
                line = self.recovery_log.see(time.monotonic(), recovering, remaining)
                if line is not None:
                    log.info(line)
                if recovering:
                    self._write_status("recovering", remaining)
                await asyncio.sleep(RECOVERY_SAMPLE_S)

        self.app.add_future(sample())

    async def _restored(self) -> None:
        """The table's recovery callback: its last log line."""
        log.info(self.recovery_log.restored(time.monotonic(), len(self.table.data)))

    def _restart_idle_timers(self) -> None:
        """After a rebalance (of the groups or of ingest's raw partitions) no group and no
        source partition has been idle yet: their input may only have paused."""
        now = time.monotonic()
        for group in self.last_input:
            self.last_input[group] = now
        for heard in self.heard.values():
            for source in heard:
                heard[source] = now

    # -- ingest: raw → validated → the group topic ------------------------------------------

    async def _ingest(self) -> None:
        """The ingest stage, an app task: the raw topics through :class:`RawReader`, which
        commits a batch after :meth:`_read` delivered it; a failure stops the worker."""
        config = self.config
        try:
            await self.reader.start()
            await self.reader.run(self._read, config.batch_size, config.batch_within_s)
        except Exception as exc:
            self._fatal(exc)

    async def _read(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
        """An ingest step: validate, bundle per group, deliver."""
        self._highwaters.clear()
        latest = datetime.now(UTC) + timedelta(seconds=self.config.max_future_s)
        for msg in records:
            self.stats["raw_in"] += 1
            data = msg.value or b""  # a null value is undecodable, dead-lettered as such
            ts = msg.timestamp / 1000  # Faust's unit, as the group topic's items carry it
            group = self._validate(data, msg.topic, msg.partition, msg.offset, ts, latest)
            if group is None:
                continue
            item = {
                "k": "e",
                "t": msg.topic,
                "p": msg.partition,
                "o": msg.offset,
                "ts": ts,
                "b": int(self._behind(msg.topic, msg.partition, msg.offset)),
                "d": base64.b64encode(data).decode(),
            }
            self._bundle(group, item, len(item["d"]))
        self._send_bundles()
        await self._deliver()  # before the batch's events are acknowledged

    async def _without_gaps(self, events: Sequence[EventT]) -> list[Message]:
        """The messages of a batch, each preceded by any offsets of its partition that Faust
        skipped, read from Kafka (:mod:`hotline.streams.continuity`)."""
        continuity = self.continuity
        if unknown := continuity.unknown(ev.message.tp for ev in events):
            starts = await self._starts(unknown)
            for tp in unknown:
                continuity.start(tp, starts.get(tp))
        out: list[Message] = []
        for ev in events:
            msg = ev.message
            if (gap := continuity.missing(msg.tp, msg.offset)) is not None:
                missed = await self.missed.read(msg.tp, *gap)
                log.warning(
                    "%s:%d: offsets %d..%d were skipped by the consumer; read %d from Kafka",
                    msg.topic,
                    msg.partition,
                    gap[0],
                    gap[1] - 1,
                    len(missed),
                )
                self.stats["skipped_read"] += len(missed)
                out += missed
            out.append(msg)
            continuity.processed(msg.tp, msg.offset)
        return out

    async def _starts(self, tps: list[Any]) -> dict[Any, int]:
        """Where the groups stage resumes ``tps``: the group's committed offsets, or the
        earliest where nothing was committed. Asked up to :data:`_START_TRIES` times (the
        broker busy in a rebalance), then the step fails and the worker exits (70): going on
        without them left the first messages after a rebalance unchecked — where Faust was
        seen to skip offsets — and the restart resumes from the commit, exactly."""
        attempt = 1
        while True:
            try:
                starts = await self._committed(tps)
                if never := [tp for tp in tps if tp not in starts]:  # nothing committed
                    starts.update(await self.app.consumer.earliest_offsets(*never))
                return starts
            except Exception as exc:
                if attempt == _START_TRIES:
                    raise
                log.warning("committed offsets not known (%r): asking again", exc)
                attempt += 1
                await asyncio.sleep(_START_PAUSE_S)

    def _behind(self, topic: str, partition: int, offset: int) -> bool:
        """Whether the partition had more messages after ``offset`` when it was fetched (its
        highwater as known at the start of the ingest step; unknown counts as behind). A
        group's watermark waits for the source partitions that are behind (docs/streams.md,
        "Watermarks")."""
        highwaters = self._highwaters
        tp = (topic, partition)
        if tp not in highwaters:
            highwaters[tp] = self.reader.highwater(TopicPartition(topic, partition))
        highwater = highwaters[tp]
        return highwater is None or offset + 1 < highwater

    def _validate(
        self,
        data: bytes,
        topic: str,
        partition: int,
        offset: int,
        timestamp: float,
        latest: datetime,
    ) -> str | None:
        """The event's group (its province), or None after dead-lettering it; an event that
        occurred after ``latest`` (the step's wall clock + ``max_future_s``) is implausible."""
        try:
            event = self.codec.decode_model(data)
        except CodecError as exc:
            reason = (
                DeadLetterReason.INVALID
                if "decoded record is invalid" in str(exc)
                else DeadLetterReason.UNDECODABLE
            )
            self._dead(reason, "CodecError", str(exc), data, topic, partition, offset)
            self._note_dead(topic, partition, offset, timestamp)
            return None
        problem = None
        if not isinstance(event, Event):
            problem = f"{event.RECORD_TYPE} is not a raw event"
        else:
            env = event.envelope
            if env.region_code not in self.registry:
                problem = f"unknown region code {env.region_code}"
            elif not EARLIEST_OCCURRED_AT <= env.occurred_at <= latest:
                problem = f"implausible occurred_at {env.occurred_at.isoformat()}"
            elif may_hold_phone_number(data) and (problem := phone_number_problem(event.to_avro())):
                self.stats["phone_in_id"] += 1
            else:
                province = self.registry.province_of(env.region_code).code
                if f".raw.{province}." not in topic:
                    problem = f"region {env.region_code} is not in the province of {topic}"
                else:
                    decoded = self._decoded
                    decoded[(topic, partition, offset)] = (data, event)
                    if len(decoded) > _DECODED_MAX:  # the oldest: its group is far behind
                        del decoded[next(iter(decoded))]
                    return province
        self._dead(
            DeadLetterReason.INVALID, "InvalidEvent", problem, data, topic, partition, offset
        )
        self._note_dead(topic, partition, offset, timestamp)
        return None

    def _note_dead(self, topic: str, partition: int, offset: int, timestamp: float) -> None:
        """Tell the topic's province group about a dead letter (dead-letter spike alerts)."""
        match = _PROVINCE_TOPIC.search(topic)
        if match is None or match.group(1) not in self.provinces:
            return
        note = {
            "k": "d",
            "src": f"{topic}:{partition}:{offset}",
            "ts": _ts_ms(timestamp),
            "b": int(self._behind(topic, partition, offset)),  # as for an event
        }
        self._bundle(match.group(1), note, 0)

    def _dead(
        self,
        reason: DeadLetterReason,
        error_type: str,
        detail: str,
        data: bytes,
        topic: str,
        partition: int,
        offset: int,
        stage: str = "streams.ingest",
    ) -> None:
        self.stats[f"dead_{reason.value}"] += 1
        # A phone number in clear (a producer that skipped pseudonymisation) is masked in
        # the original, in place; other bytes are kept exactly (docs/privacy.md).
        redacted = redact_original(self.codec, data)
        if redacted.changed:
            self.stats["masked_originals"] += 1
        record = DeadLetter(
            reason=reason,
            stage=stage,
            source_topic=topic,
            source_partition=partition,
            source_offset=max(offset, 0),
            original=redacted.data,
            error_type=error_type,
            error_detail=redacted.detail(detail, 2000),
            failed_at=datetime.now(UTC),
        )
        self._send(
            "dead_letters",
            f"{topic}:{partition}:{offset}".encode(),
            self.codec.encode_model(record),
        )

    def _bundle(self, group: str, item: dict[str, Any], size: int) -> None:
        """Queue an item (an event or a dead-letter note) for its group; the items of an
        ingest batch go to the group topic as one message per group (:meth:`_send_bundles`),
        in order, not one message per event."""
        bundle = self._bundles.setdefault(group, [[], 0])
        bundle[0].append(item)
        bundle[1] += size + _ITEM_OVERHEAD
        if bundle[1] >= _BUNDLE_BYTES:  # well below the producer's max request size
            self._to_group(group, _bundled(bundle[0]))
            del self._bundles[group]

    def _send_bundles(self) -> None:
        for group, (items, _) in self._bundles.items():
            self._to_group(group, _bundled(items))
        self._bundles.clear()

    def _to_group(self, group: str, value: bytes) -> None:
        self.outbox.add(
            self.internal.get_topic_name(),
            group.encode(),
            value,
            group_partition(group, self.config.partitions),
        )

    # -- groups: the stateful stage ---------------------------------------------------------

    async def _groups(self, stream: faust.StreamT) -> None:
        config = self.config
        batches = stream.take_events(config.group_batch, config.group_within_s)
        await self._steps(batches, self._process)

    async def _process(self, events: Sequence[EventT]) -> None:
        """A groups step: each group's items through its state, outputs and state written,
        delivered."""
        messages = await self._without_gaps(events)
        by_group: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for msg in messages:
            value = orjson.loads(msg.value)
            items = value["i"] if value["k"] == "B" else [value]  # a bundle, or one item
            by_group[msg.key.decode()].extend(items)
        for group, items in by_group.items():
            state = self._group(group)
            self.last_input[group] = time.monotonic()
            self.flushed.discard(group)
            if group == NATIONAL_GROUP:
                late = state.national_late()
                out = state.process_snapshots(
                    [_snapshot_of(i["s"]) for i in items if i["k"] == "s"],
                    [AgentMinute.from_dict(i["a"]) for i in items if i["k"] == "a"],
                    [TicketCount.from_dict(i["t"]) for i in items if i["k"] == "t"],
                )
                if dropped := state.national_late() - late:
                    self.stats["national_late"] += dropped
                    log.warning(
                        "national group: %d province snapshots dropped as late: the national "
                        "minutes they update were closed (a province far behind the latest "
                        "province minute; national_lateness), and lack them",
                        dropped,
                    )
            else:
                inbound = []
                for i in items:
                    if i["k"] != "e":
                        continue
                    data = base64.b64decode(i["d"])
                    hit = self._decoded.pop((i["t"], i["p"], i["o"]), None)
                    event = (
                        hit[1]
                        if hit is not None and hit[0] == data
                        else self.codec.decode_model(data)
                    )
                    inbound.append(
                        Inbound(
                            event,  # type: ignore[arg-type]
                            i["t"],
                            i["p"],
                            i["o"],
                            _ts_ms(i.get("ts")),
                            bool(i.get("b", 0)),
                            i["d"],
                        )
                    )
                heard = self.heard[group]
                for item in inbound:
                    heard[item.source_partition] = self.last_input[group]
                self.stats["group_in"] += len(inbound)
                out = state.process(inbound)
                notes = [i for i in items if i["k"] == "d"]
                for note in notes:
                    if "b" in note:
                        state.source_status(note["src"].rpartition(":")[0], bool(note["b"]))
                if notes:
                    dead = [(note["src"], note["ts"]) for note in notes]
                    self._emit(group, state.process_dead_letters(dead))
            self._emit(group, out)
            state.dump(self.state)
        await self._deliver()  # before the batch's events are acknowledged
        self._progress_at = time.monotonic()
        processed = self._processed
        for msg in messages:
            tp, offset = msg.tp, msg.offset
            if offset > processed.get(tp, -1):
                processed[tp] = offset

    def _group(self, group: str) -> GroupState:
        state = self.groups.get(group)
        if state is None:
            state = GroupState.load(
                group, self._table_items(group), self.config.streams, self.registry, self.codec
            )
            self.groups[group] = state
            self.flushed.discard(group)  # a flush before a revoke: another worker's since
            state.hold_at_end = self.config.wall_clock_skew_s is None  # replay mode
            if group != NATIONAL_GROUP:  # until the timer told it its source partitions
                state.hold_until_sources_known()
            self.last_input.setdefault(group, time.monotonic())
            now = time.monotonic()
            for source in state.holding():  # the idle bound starts again after a load
                self.heard[group][source] = now
            held = state.held()
            log.info(
                "group %s loaded: %d calls, %d snapshots re-sent",
                group,
                len(state.calls.states),
                len(held.snapshots),
            )
            if state.legacy_agent_keys:
                log.warning(
                    "group %s: %d agent timelines of the previous format (keyed by agent id "
                    "alone) dropped; each of those agents counts from its next event",
                    group,
                    len(state.legacy_agent_keys),
                )
            self._emit(group, held)
        return state

    def _table_items(self, group: str) -> list[tuple[str, Any]]:
        prefix = group + "|"
        return [(k, v) for k, v in self.table.data.items() if str(k).startswith(prefix)]

    def _emit(self, group: str, out: GroupOutput) -> None:
        encode, encode_as = self.codec.encode_model, self.codec.encode
        state = self.groups.get(group)
        encode_record = state.record_bytes if state is not None else encode
        send = self._send
        for record in out.records:
            send("call_records", record.call_id.encode(), encode_record(record))
        for snap in out.snapshots:
            key = "|".join(
                (
                    snap.level.value,
                    snap.region_code,
                    snap.bucket_start.isoformat(),
                    snap.business_line,
                    snap.channel,
                )
            )
            send("metric_snapshots", key.encode(), encode_as(_SNAPSHOT, snap.to_avro()))
        for minute in out.agent_times:
            send("agent_time", minute.key.encode(), encode_as(_AGENT_TIME, minute.to_avro()))
        for count in out.ticket_counts:
            send(
                "ticket_counts",
                count.key.encode(),
                encode_as(_TICKET_COUNT, count.to_avro()),
            )
        if group != NATIONAL_GROUP:
            children = [{"k": "s", "s": _snapshot_dict(s)} for s in out.province_snapshots]
            children += [{"k": "a", "a": a.to_dict()} for a in out.province_agent_times]
            children += [{"k": "t", "t": t.to_dict()} for t in out.province_ticket_counts]
            for i in range(0, len(children), _BUNDLE_SNAPSHOTS):
                self._to_group(NATIONAL_GROUP, _bundled(children[i : i + _BUNDLE_SNAPSHOTS]))
        for rejected, origin in out.rejected:
            reason = DeadLetterReason(rejected.reason)
            data = self.codec.encode_model(rejected.event)
            topic, partition, offset = (
                (origin.topic, origin.partition, origin.offset)
                if origin is not None
                else (
                    self.config.app_id + "-state",
                    -1,
                    state_origin_offset(rejected.event.envelope.event_id),
                )
            )
            error_type = f"{reason.value.title()}Event"
            if rejected.check is not None:  # e.g. id_collision: IdCollision
                self.stats[rejected.check] += 1
                error_type = rejected.check.title().replace("_", "")
            self._dead(
                reason,
                error_type,
                rejected.detail,
                data,
                topic,
                partition,
                offset,
                stage="streams.assemble",
            )
        for gap in out.gaps:
            self.stats["sequence_gaps"] += 1
            region = center_region(gap["center_id"]) or group
            send("sequence_gaps", gap["producer_id"].encode(), encode(gap_record(gap, region)))
        for ticket in out.tickets:
            send("ticket_records", ticket.ticket_id.encode(), encode(ticket))
        for alert in out.alerts:
            send("alerts", alert.dedupe_key.encode(), encode(alert))
        for queue in out.queues:
            send("queues", queue.center_id.encode(), encode(queue))
        self.stats["queues_out"] += len(out.queues)
        self.stats["tickets_out"] += len(out.tickets)
        self.stats["alerts_out"] += len(out.alerts)
        self.stats["records_out"] += len(out.records)
        self.stats["snapshots_out"] += len(out.snapshots)
        self.stats["agent_times_out"] += len(out.agent_times)
        self.stats["ticket_counts_out"] += len(out.ticket_counts)
        self.stats["late"] += len(out.late)
        self.stats["redelivered_rejected"] += out.redelivered

    # -- the timer --------------------------------------------------------------------------

    def _mine(self) -> list[TopicPartition]:
        """The group-topic partitions assigned to this worker."""
        name = self.internal.get_topic_name()
        return [tp for tp in self.app.consumer.assignment() if tp.topic == name]

    def _assigned(self) -> set[int]:
        return {tp.partition for tp in self._mine()}

    async def _tick(self) -> None:
        """The timer's step; what it queued is delivered at its end."""
        try:
            await self._advance_groups()
        finally:
            await self._deliver()

    async def _advance_groups(self) -> None:
        if self.app.rebalancing:
            if not self.app.tables.recovery.in_recovery:  # else its sample task writes it
                self._write_status("rebalancing")
            return
        await self._watch_for_a_stall()
        if self.app.rebalancing:  # began while the stall watch asked the broker: next tick
            return
        assigned = self._assigned()
        n = self.config.partitions
        for group in list(self.groups):
            if group_partition(group, n) not in assigned:
                log.info("group %s revoked", group)
                del self.groups[group]
        for group in group_keys(str(k) for k in self.table.data):
            if group not in self.groups and group_partition(group, n) in assigned:
                self._group(group)
        for group, state in list(self.groups.items()):
            if not state.sources_known:
                await self._expect_sources(group, state)
                if self.app.rebalancing:
                    return  # a rebalance started while asking the broker: next tick
        now = time.monotonic()
        caught_up: bool | None = None  # asked of the broker once per tick, when needed
        for group, state in list(self.groups.items()):
            out = None
            holding = state.holding() if group != NATIONAL_GROUP else []
            heard = self.heard[group]
            bound = self.config.source_idle_s
            idle = [s for s in holding if now - heard.setdefault(s, now) >= bound]
            if idle:  # a partition silent this long no longer holds the watermark back
                log.info("group %s: source partitions idle, released: %s", group, idle)
                self.stats["sources_released"] += len(idle)
                self._emit(group, state.release(idle))
                out = GroupOutput()
            behind = state.behind() if group != NATIONAL_GROUP else []
            if self.config.wall_clock_skew_s is not None and group != NATIONAL_GROUP and not behind:
                # live mode: the wall clock moves the watermark only once the group's input is
                # read (catching up a backlog, the partitions' event times rule)
                wall = datetime.now(UTC) - timedelta(seconds=self.config.wall_clock_skew_s)
                out = state.advance(wall)
            idle = now - self.last_input.get(group, now)
            flushable = (
                self.config.idle_flush_s is not None
                and group != NATIONAL_GROUP  # no timers of its own; a flush would evict
                and group not in self.flushed
                and idle >= self.config.idle_flush_s
            )
            if flushable and caught_up is None:
                caught_up = await self._caught_up()
                if self.app.rebalancing or self.groups.get(group) is not state:
                    break  # revoked while asking the broker: leave it to the next tick
            if self.last_input.get(group, now) > now:
                flushable = False  # a step took input for it while the tick asked the broker
            if flushable and caught_up and (point := state.flush_point()) is not None:
                out = state.advance(point, flush=True)
                self.flushed.add(group)
                self.flushed_at[group] = time.time()
                self.stats["idle_flushes"] += 1
                log.info("group %s idle for %.1fs: flushed to %s", group, idle, point)
            wall = state.tick_wall(int(time.time() * 1000))
            if wall.alerts:
                self._emit(group, wall)
                out = out or GroupOutput()
            queues = state.queue_output()
            if queues.queues:
                self._emit(group, queues)
            if out is not None:
                self._emit(group, out)
                state.dump(self.state)
        self._write_status()

    async def _expect_sources(self, group: str, state: GroupState) -> None:
        """Tell a (re)loaded province group which of its raw partitions have input (end
        offset > 0, whichever worker owns them): one it has not seen yet holds its watermark
        like a partition that is behind, and in replay mode so does an empty one, until its
        first event or the idle bound (docs/streams.md, "Watermarks over source partitions").
        Until then the group's watermark does not move."""
        tps = []
        for family in RAW_FAMILIES:
            partitions = self.reader.partitions(raw_topic(self.config.kafka, group, family))
            if not partitions:
                return  # no metadata yet (or ingest not started): next tick
            tps += partitions
        ends = await self.reader.end_offsets(tps)
        if (
            self.app.rebalancing  # revoked meanwhile: no state write for another owner
            or self.groups.get(group) is not state
            or any(ends.get(tp) is None for tp in tps)
        ):
            return
        sources = [f"{tp.topic}:{tp.partition}" for tp in tps if ends[tp]]
        empty = [f"{tp.topic}:{tp.partition}" for tp in tps if not ends[tp]]
        state.expect(sources, empty)
        log.info(
            "group %s: %d source partitions with input, %d empty; holding the watermark "
            "until their first event or the idle bound: %s",
            group,
            len(sources),
            len(empty),
            state.unheard(),
        )
        if state.watermark_ms is not None:
            self._emit(group, state.advance(datetime.fromtimestamp(state.watermark_ms / 1000, UTC)))
        state.dump(self.state)

    async def _caught_up(self) -> bool:
        """True when every raw partition is processed to its end, by whichever worker owns
        it, and this worker's groups agent has processed its group partitions to their end.

        Replay mode closes an idle group only then: a group also looks idle while its input
        waits in Kafka (a restart still recovering, a rebalance handing partitions over, a
        loaded machine), and closing it then would turn the rest of its calls into orphans.
        With two workers a group's raw partitions may belong to the *other* worker, so this
        worker's own read offsets say nothing about them: the raw topics are checked by the
        consumer group's committed offsets (an ingest step delivers its bundles before its
        events are acknowledged, so a committed raw offset implies its events are in the group
        topic), and only then the group topic's end offsets are taken and compared with what
        this worker's groups agent has *processed* (or the group committed). Faust's read
        offsets are no proof: they count messages fetched into the agent's buffer but not
        processed yet (a restarted worker busy loading its groups for seconds would close them
        with events still buffered).
        """
        mine = self._mine()
        if not mine:
            return False
        raw = [tp for topic in self.raw_names for tp in self.reader.partitions(topic)]
        if not raw:
            return False
        ends = await self.reader.end_offsets(raw)
        committed = await self.reader.committed(raw)
        if not all(end == 0 or committed.get(tp, -1) >= end for tp, end in ends.items()):
            return False
        return not await self._unprocessed(mine)

    async def _unprocessed(self, mine: list[TopicPartition]) -> list[TopicPartition]:
        """Those of this worker's group-topic partitions ``mine`` with input (end offsets
        asked now) that its groups agent has not processed (nor the group committed)."""
        highwaters = await self.app.consumer.highwaters(*mine)
        done = await self._committed(mine)
        return [
            tp
            for tp, end in highwaters.items()
            if end and max(self._processed.get(tp, -1) + 1, done.get(tp, 0)) < end
        ]

    async def _watch_for_a_stall(self) -> None:
        """Exit (70, like a failed step) when the groups agent processed nothing for
        ``stall_s`` while input waited: Faust's consumer was seen to stop fetching after a
        restart's recovery (docs/streams.md, "Stalls"). Restarted, the worker resumes from
        the last commit, exactly; stalled, it would hold its provinces' input forever."""
        limit = self.config.stall_s
        if limit is None or time.monotonic() - self._progress_at < limit:
            return
        mine = self._mine()
        waiting = await self._unprocessed(mine) if mine else []
        if self.app.rebalancing or time.monotonic() - self._progress_at < limit:
            return  # a rebalance or a step meanwhile: not a stall
        if waiting:
            self._fatal(
                RuntimeError(
                    f"groups stage: nothing processed for {limit:.0f} s while "
                    f"{len(waiting)} group-topic partitions had input ({waiting}): "
                    "Faust's consumer stalled"
                )
            )
        self._progress_at = time.monotonic()  # idle, not stalled: ask again after `limit`

    async def _committed(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        """The consumer group's committed offsets of ``tps`` (assigned here or not)."""
        thread = self.app.consumer._thread  # the aiokafka consumer runs in its own thread

        async def fetch() -> dict[TopicPartition, int]:
            aio = thread._ensure_consumer()
            out = {}
            for tp in tps:
                offset = await aio.committed(tp)
                if offset is not None:
                    out[tp] = offset
            return out

        return await thread.call_thread(fetch)

    def _write_status(self, phase: Phase = "running", remaining: int = 0) -> None:
        """The status file (docs/streams.md, "Status file and health"): phase ``starting``
        until the first assignment; ``running`` from the timer, ``rebalancing`` from it
        during a later rebalance; ``recovering`` while the state table recovers, with the
        changelog messages left to read (``remaining``) and the most seen left (``total``)."""
        path = self.config.status_file
        if path is None:
            return
        status: dict[str, Any] = {"phase": phase}
        if phase == "recovering":
            status["recovery"] = {"remaining": remaining, "total": self.recovery_log.total}
        status |= {
            "stats": {**self.stats, "ingest_commit_failures": self.reader.commit_failures},
            "groups": {
                g: {
                    "calls": len(s.calls.states),
                    "watermark": wm.isoformat() if (wm := s.watermark_at()) else None,
                    "flushed": g in self.flushed,
                    "flushed_at": self.flushed_at.get(g),
                    "behind": s.behind(),
                    "unheard": s.unheard(),
                    "centers": {
                        c: datetime.fromtimestamp(ms / 1000, UTC).isoformat()
                        for c, ms in sorted(s.last_event_ms.items())
                    },
                }
                for g, s in self.groups.items()
            },
            "state_keys": len(self.table.data),
            "last_rebalance": None
            if self.rebalance_began_at is None
            else {"at": self.rebalance_began_at, "paused_s": self.rebalance_paused_s},
        }
        write_status(path, "streams worker", status)


def create_app(config: WorkerConfig) -> faust.App:
    """The Faust app of ``config`` (the :class:`Worker` is reachable as ``app.hotline``)."""
    worker = Worker(config)
    worker.app.hotline = worker  # type: ignore[attr-defined]
    return worker.app
