"""One processing group of the worker — a province, or the nation — with its table image.

The worker keys its stateful stage by **group**: every call event of a province goes to the
province's group (so repeat_7d sees all of a caller's calls in the province, and one partition
holds a call, its bucket and its city/province roll-ups), and province snapshots go to the
national group (:data:`NATIONAL_GROUP`), which sees nothing caller-level.

:class:`GroupState` is pure: the pure core's objects plus *dirty tracking*, and a flat key →
JSON image of everything (``dump`` writes the changed keys to any mutable mapping, ``load``
rebuilds the objects from it). In the Faust app the mapping is a changelog-backed table.

Write order (``dump``): agent-time pages (snapshots of closed minutes) and ticket count
cells, then national/roll-up cells (the highest level first: province, then city), then base
buckets, then alerts and tickets, then sequence state, then agent timelines, then calls — one
key per call holding its state, or once evicted its tombstone, and its repeat entry (one write
where there were up to three) — and the meta record last (watermarks, source partitions'
positions, the closed agent minute). All of a group's keys go to one changelog partition, so a
crash persists a *prefix* of these writes; since each stage applies versioned parts
idempotently, a persisted downstream cell without its upstream call state is re-derived on
redelivery to the same version (no double count), a call state is never persisted without the
cells it fed, and a watermark never without the states it was computed from: persisted ahead of
them, it would close the calls whose events the redelivery brings back, as late (a kill -9
while a step spanning hours of one partition was written; docs/streams.md, "Fixed bug").
"""

from __future__ import annotations

import base64
import bisect
import functools
from collections import Counter
from collections.abc import Iterable, Iterator, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from hotline.centers import UnknownCenter, default_centers
from hotline.producers.simulator.facts import call_counters
from hotline.regions import RegionRegistry
from hotline.schemas import (
    Alert,
    CallRecord,
    Codec,
    Event,
    Level,
    QueueSnapshot,
    TicketCategory,
    TicketRecord,
)
from hotline.streams.agents import AgentMinute, AgentTime, NationalAgentTime
from hotline.streams.aggregate import (
    BUCKET,
    Aggregator,
    LateContribution,
    Snapshot,
    VersionedSum,
)
from hotline.streams.alerts import AlertEngine, _Entry
from hotline.streams.calls import (
    CALL_EVENT_TYPES,
    Batch,
    CallAssembly,
    CallState,
    facts_of,
)
from hotline.streams.config import StreamsConfig
from hotline.streams.counters import BucketKey
from hotline.streams.queues import QueueBoard
from hotline.streams.rejects import Rejected, Tombstone
from hotline.streams.rollup import Rollup, RollupKey
from hotline.streams.ticket_counts import TicketCount, TicketCounts
from hotline.streams.tickets import TicketBook, TicketState

__all__ = [
    "NATIONAL_GROUP",
    "GroupOutput",
    "GroupState",
    "Inbound",
    "SequenceTracker",
    "group_keys",
]

NATIONAL_GROUP = "000000"
RELEASED, BEHIND, AT_END = 0, 1, 2
"""A source partition's progress as the group knows it (:attr:`GroupState.sources`): silent
for the shell's idle bound (no longer holds the watermark), more input after its latest
message when read, or read to its end (holds the watermark until its next message or its
release: its producer may still be writing, and not necessarily in step with the others)."""
PROVINCE_LEVELS = (Level.CITY, Level.PROVINCE)
ANSWER_FACTS = frozenset({"call.offered", "call.queued", "call.answered"})
"""The call events that make (or change) an answered call's provisional alert counts."""


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class TrackedDict(dict):  # type: ignore[type-arg]
    """A dict that remembers which keys were set or deleted (``dirty``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.dirty: set[Any] = set()

    def __setitem__(self, key: Any, value: Any) -> None:
        self.dirty.add(key)
        super().__setitem__(key, value)

    def __delitem__(self, key: Any) -> None:
        self.dirty.add(key)
        super().__delitem__(key)


@dataclass(frozen=True, slots=True)
class Inbound:
    """A raw event for a province group, with where it came from (for dead letters)."""

    event: Event
    topic: str
    partition: int
    offset: int
    timestamp_ms: int = 0
    """The source message's broker timestamp (dead-letter spikes are judged on it)."""
    behind: bool = False
    """The source partition had more messages after this one when it was read (its
    highwater): the partition still has unread input and holds the group's watermark."""
    image: str | None = None
    """The event's codec bytes as read, base64 (as in a call's state image); None: the
    state image encodes the event again."""

    @property
    def source(self) -> str:
        return f"{self.topic}:{self.partition}:{self.offset}"

    @property
    def source_partition(self) -> str:
        return f"{self.topic}:{self.partition}"


@dataclass(slots=True)
class GroupOutput:
    """What one step of a group emitted."""

    records: list[CallRecord] = field(default_factory=list)
    snapshots: list[Snapshot] = field(default_factory=list)
    tickets: list[TicketRecord] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    rejected: list[tuple[Rejected, Inbound | None]] = field(default_factory=list)
    late: list[LateContribution] = field(default_factory=list)
    gaps: list[dict[str, Any]] = field(default_factory=list)
    queues: list[QueueSnapshot] = field(default_factory=list)
    agent_times: list[AgentMinute] = field(default_factory=list)
    ticket_counts: list[TicketCount] = field(default_factory=list)
    redelivered: int = 0
    """Rejections of redelivered events, not dead-lettered (:meth:`GroupState.process`)."""

    @property
    def province_snapshots(self) -> list[Snapshot]:
        """What the national group consumes (aggregates only)."""
        return [s for s in self.snapshots if s.level is Level.PROVINCE]

    @property
    def province_agent_times(self) -> list[AgentMinute]:
        """The agent time the national group consumes."""
        return [a for a in self.agent_times if a.level is Level.PROVINCE]

    @property
    def province_ticket_counts(self) -> list[TicketCount]:
        """The ticket counts the national group consumes."""
        return [t for t in self.ticket_counts if t.level is Level.PROVINCE]


_NO_HOLE = 2**63
"""A producer's earliest hole when it has none (no hole is ever due)."""


def _hole_lo(hole: list[int]) -> int:
    return hole[0]


class SequenceTracker:
    """Per producer: the highest sequence seen and the missing ranges not yet filled. A
    producer is a ``(center_id, producer_id)`` pair: two centers may name theirs alike (a
    vendor's default ``cti-01``), and one must neither fill nor open the other's holes.

    A hole is reported (and forgotten) once it stays open ``horizon`` of event time; until
    then a late arrival fills it (raw topics are keyed by call id, so a producer's events
    arrive interleaved across partitions). The first sequence seen of a producer starts it.

    A producer's state is its table image, ``{"c": center, "max": highest, "miss": [[lo, hi,
    noticed_ms], …]}``, the holes disjoint and sorted by ``lo`` (new holes only open above
    ``max``, a fill splits one hole in place): a late sequence finds its hole by bisection and
    changes only that hole, so an event costs O(log holes), not a rebuild of the whole list.
    ``c`` repeats the key's center: a worker of the previous format (keys by producer alone)
    reads it, and so does :meth:`GroupState.load` for such a worker's keys.
    A producer is marked dirty (rewritten to the changelog) only when its state changed.
    """

    def __init__(self, horizon_ms: int) -> None:
        self.horizon_ms = horizon_ms
        self.producers: TrackedDict = TrackedDict()
        self.stats: Counter[str] = Counter()
        self._earliest: dict[tuple[str, str], int] = {}
        """Per producer: a lower bound of its holes' noticed times (absent: not known, e.g.
        after a reload; computed on the next :meth:`expire`). Not part of the image."""

    def see(self, producer_id: str, center_id: str, sequence: int, at_ms: int) -> None:
        producer = (center_id, producer_id)
        state = self.producers.get(producer)
        if state is None:
            self.producers[producer] = {"c": center_id, "max": sequence, "miss": []}
            return
        top = state["max"]
        if sequence > top:
            if sequence > top + 1:
                state["miss"].append([top + 1, sequence - 1, at_ms])
                earliest = self._earliest.get(producer)
                if earliest is not None and at_ms < earliest:
                    self._earliest[producer] = at_ms
            state["max"] = sequence
        else:
            miss = state["miss"]
            i = bisect.bisect_right(miss, sequence, key=_hole_lo) - 1
            if i < 0:
                return  # below every hole: seen already
            lo, hi, noticed = miss[i]
            if sequence > hi:
                return  # between holes: seen already
            if lo == hi:
                del miss[i]
            elif sequence == lo:
                miss[i] = [lo + 1, hi, noticed]
            elif sequence == hi:
                miss[i] = [lo, hi - 1, noticed]
            else:
                miss[i] = [lo, sequence - 1, noticed]
                miss.insert(i + 1, [sequence + 1, hi, noticed])
        self.producers.dirty.add(producer)

    def expire(self, watermark_ms: int) -> list[dict[str, Any]]:
        """Holes open for ``horizon`` or more: reported as gaps and forgotten."""
        gaps = []
        for producer, state in list(self.producers.items()):
            earliest = self._earliest.get(producer)
            if earliest is not None and watermark_ms - earliest < self.horizon_ms:
                continue  # no hole is due yet
            miss = state["miss"]
            due = [m for m in miss if watermark_ms - m[2] >= self.horizon_ms]
            if due:
                miss[:] = [m for m in miss if watermark_ms - m[2] < self.horizon_ms]
                self.producers.dirty.add(producer)
            # no hole left: any new one is noticed at or after an event of this producer
            self._earliest[producer] = min((m[2] for m in miss), default=_NO_HOLE)
            for lo, hi, noticed in due:
                self.stats["gaps"] += 1
                self.stats["missing"] += hi - lo + 1
                gaps.append(
                    {
                        "producer_id": producer[1],
                        "center_id": producer[0],
                        "first_missing": lo,
                        "last_missing": hi,
                        "missing": hi - lo + 1,
                        "noticed_at_ms": noticed,
                        "reported_at_ms": watermark_ms,
                    }
                )
        return gaps


@functools.cache
def _center_homes() -> dict[str, str]:
    return {c.center_id: c.home for c in default_centers()}


@functools.cache
def _province_centers(province: str) -> tuple[tuple[str, str], ...]:
    """(center id, home) of the centers whose home lies in ``province``."""
    return tuple((c.center_id, c.home) for c in default_centers().centers_of_province(province))


def center_region(center_id: str) -> str | None:
    """A center's home region in the default registry (None for an unknown center)."""
    try:
        return _center_homes().get(center_id)
    except UnknownCenter:  # pragma: no cover - the mapping never raises
        return None


def group_keys(store: Iterable[str]) -> set[str]:
    """The groups that have state in ``store`` (by their meta key)."""
    return {k[: -len("|m")] for k in store if k.endswith("|m")}


class GroupState:
    """The pure core of one group plus its table image; see the module docstring."""

    def __init__(
        self, group: str, config: StreamsConfig, registry: RegionRegistry, codec: Codec
    ) -> None:
        self.group = group
        self.config = config
        self.codec = codec
        self.national = group == NATIONAL_GROUP
        if self.national:  # one partition merges every province, each at its own pace
            config = config.model_copy(update={"lateness": config.national_lateness})
            self.config = config
        self.calls = CallAssembly(config)
        self.calls.states = TrackedDict()  # type: ignore[assignment]
        self.calls.tombstones = TrackedDict()  # type: ignore[assignment]
        self.calls.repeats._of_call = TrackedDict()  # type: ignore[assignment]
        self.aggregator = Aggregator(config)
        levels = (Level.NATIONAL,) if self.national else PROVINCE_LEVELS
        self.rollups = [Rollup(level, registry, config) for level in levels]
        self.sequences = SequenceTracker(int(config.lateness.total_seconds() * 1000))
        self.max_event_ms: int | None = None
        self.last_event_ms: dict[str, int] = {}
        """Per center: the latest event time of its events read (any event). In the meta
        record; the status file shows it, ``hotline health`` the centers quiet for a while."""
        self.sources: dict[str, list[int]] = {}
        """Per source partition (``topic:partition``): [greatest event time, :data:`BEHIND`,
        :data:`AT_END` or :data:`RELEASED`]."""
        self.read_to: dict[str, int] = {}
        """Per source partition: the greatest offset processed. Persisted in the meta record,
        which is written last, so an event at or below it was processed before and what it
        made is in Kafka: a redelivery after a crash."""
        self.watermark_ms: int | None = None
        """The group's event-time watermark (see :meth:`_watermark`); never moves back."""
        self.hold_at_end = True
        """Whether a partition read to its end holds the watermark (replay mode). The worker
        turns it off in live mode, where the wall clock moves the watermark past such
        partitions anyway and their producers write what happens now."""
        self.sources_known = True
        """False while the shell has not yet told the group which source partitions it has
        (:meth:`expect`): the watermark does not move meanwhile (a partition not seen yet
        must hold it back like one that is behind)."""
        self._advanced_minute: int | None = None
        if not self.national:  # their watermark is the group's, not the latest data seen
            self.aggregator.follow = False
            for rollup in self.rollups:
                rollup.follow = False
        rules = config.alerts
        self.tickets = TicketBook(
            config.ticket_retention, rules.due_warning_working_hours, rules.due_categories
        )
        hours = (
            {} if self.national else rules.hours_of(group, (c for c, _ in _province_centers(group)))
        )
        self.alerts = AlertEngine(group, config, center_region, hours)
        self.queues = QueueBoard()
        self.agent_time = AgentTime(registry, config.max_agent_state)
        """A province's agents and its snapshots of closed minutes (unused by national)."""
        self.national_agent_time = NationalAgentTime()
        """National: the provinces' agent time summed (unused by a province)."""
        self.legacy_agent_keys: list[str] = []
        """Agent timelines of the previous format (keyed by the agent id alone, before agents
        were keyed by center) found at the load: deleted at the next :meth:`dump`."""
        self.legacy_sequence_keys: list[str] = []
        """Producers' sequence states of the previous format (keyed by the producer id alone)
        found at the load: kept under ``(center, producer)``, rewritten and deleted at the next
        :meth:`dump`."""
        kept = BUCKET + self.config.retention + self.config.lateness
        self._kept_ms = int(kept.total_seconds() * 1000)
        """How long a minute's agent-time page or ticket count is kept behind the watermark
        (as a bucket is)."""
        self.ticket_counts = TicketCounts(registry, self._kept_ms)
        self._dirty_calls: set[str] = set()
        self._encoded: dict[str, dict[str, str]] = {}
        """Per call id: its events' codec bytes (base64) as in the state image: as read
        (:attr:`Inbound.image`, or from the table at a load), else encoded once per event
        instead of at every write of the call's state."""
        self._record_bytes: dict[str, tuple[CallRecord, bytes]] = {}
        """Per call id: its latest record and that record's codec bytes."""
        self._dirty_buckets: set[BucketKey] = set()
        self._dirty_cells: list[set[RollupKey]] = [set() for _ in self.rollups]

    # -- processing -------------------------------------------------------------------------

    def process(self, items: Iterable[Inbound]) -> GroupOutput:
        """A batch of raw events of this province (call events feed the assembly)."""
        batch = Batch()
        origin: dict[str, Inbound] = {}
        late_agents: list[tuple[Rejected, Inbound]] = []
        tickets: set[str] = set()
        answering: set[str] = set()
        watermark_before = self.watermark_ms  # a batch may span hours of a sparse province
        read_before, read_to = dict(self.read_to), self.read_to
        for item in items:
            source = item.source_partition
            if item.offset > read_to.get(source, -1):
                read_to[source] = item.offset
            env = item.event.envelope
            at = _ms(env.occurred_at)
            self.max_event_ms = at if self.max_event_ms is None else max(self.max_event_ms, at)
            if at > self.last_event_ms.get(env.center_id, -1):
                self.last_event_ms[env.center_id] = at
            self._see_source(source, at, item.behind)
            self.sequences.see(env.producer_id, env.center_id, env.sequence, at)
            origin[env.event_id] = item
            if item.event.RECORD_TYPE.startswith("ticket."):
                batch.rejected.extend(self.tickets.add(item.event))
                tickets.add(item.event.ticket_id)  # type: ignore[attr-defined]
                continue
            if item.event.RECORD_TYPE == "agent.state":
                if not self.agent_time.clock.add(item.event):
                    detail = "its minute's agent time was already closed (lateness passed)"
                    late_agents.append((Rejected(item.event, "late", detail), item))
                continue
            if item.event.RECORD_TYPE not in CALL_EVENT_TYPES:
                continue
            self._dirty_calls.add(item.event.call_id)  # type: ignore[attr-defined]
            wm = self.watermark_ms  # None: held before any watermark (unseen partitions)
            batch.extend(self.calls.add(item.event, watermark=_dt(wm if wm is not None else 0)))
            call_id = item.event.call_id  # type: ignore[attr-defined]
            state = self.calls.states.get(call_id)
            kept = state is not None and state.events.get(env.event_id) is item.event
            if item.image is not None and kept:  # not a duplicate: its bytes are the image
                self._encoded.setdefault(call_id, {})[env.event_id] = item.image
            self.queues.see(call_id, state)
            if item.event.RECORD_TYPE in ANSWER_FACTS and state is not None:
                answering.add(call_id)
        out = self._downstream(batch, origin)
        self._count_answered(answering)
        out.rejected.extend(late_agents)
        # an event redelivered after a crash was processed before, and what that made (its
        # counts, or its dead letter) is in Kafka: rejected now (late: its call was closed
        # meanwhile), it is counted, not dead-lettered a second time
        kept = [
            (r, o)
            for r, o in out.rejected
            if o is None or o.offset > read_before.get(o.source_partition, -1)
        ]
        out.redelivered = len(out.rejected) - len(kept)
        out.rejected = kept
        for ticket_id in sorted(tickets):
            state = self.tickets.states.get(ticket_id)
            if state is not None:
                out.ticket_counts.extend(self.ticket_counts.update(state, watermark_before))
        if self.watermark_ms is not None:
            self._close(out, _dt(self.watermark_ms))
        else:
            self._alert_inputs(out, tickets)
        return out

    def _alert_inputs(self, out: GroupOutput, tickets: Iterable[str]) -> None:
        """No watermark yet (a new group waiting for its source partitions): the step's call
        records still go to the alert minutes, its dead letters are noted, and a dangerous
        call alerts at once. Ticket records, due times and windows wait for the watermark
        (:meth:`_tickets_and_alerts`), which judges these tickets again (no second alert)."""
        if self.national:
            return
        self.alerts.add_records(out.records)
        for ticket_id in sorted(tickets):
            state = self.tickets.states.get(ticket_id)
            if state is None or not state.events:
                continue
            record = state.record(state.ordered()[-1].envelope.occurred_at)
            if record is not None and record.category is TicketCategory.DANGEROUS_CALL:
                out.alerts.extend(self.alerts.on_ticket(record, record.created_at, state.spells()))
        self._note_dead_letters(out)

    def _note_dead_letters(self, out: GroupOutput) -> None:
        """The step's rejected events, for the dead-letter spike (by their source message)."""
        for _, origin in out.rejected:
            if origin is not None and origin.timestamp_ms:
                self.alerts.add_dead_letter(origin.source, origin.timestamp_ms)

    def _count_answered(self, call_ids: Iterable[str]) -> None:
        """The alert engine's provisional counts of the answered calls without a record yet
        (talking: their record comes with ``call.ended``), once per call and batch; the
        counters are the records' (``call_counters``), so the first record replaces them."""
        if self.national:
            return
        states, thresholds = self.calls.states, self.config.thresholds
        for call_id in call_ids:
            state = states.get(call_id)
            if state is None or state.emitted is not None or "call.answered" not in state.winners:
                continue
            facts = facts_of(state)
            if facts is not None:
                counters = call_counters(facts, thresholds)
                self.alerts.add_answered(call_id, facts.center_id, facts.offered_at, counters)

    # -- the watermark over source partitions -----------------------------------------------

    def _see_source(self, source: str, at_ms: int, behind: bool) -> None:
        entry = self.sources.get(source)
        progress = BEHIND if behind else AT_END
        if entry is None:
            self.sources[source] = [at_ms, progress]
        else:
            entry[0] = at_ms if entry[0] is None else max(entry[0], at_ms)
            entry[1] = progress
        self._watermark()

    def hold_until_sources_known(self) -> None:
        """The shell does not know yet which source partitions have input: hold the
        watermark until :meth:`expect` (a new or reloaded group, before its first step)."""
        self.sources_known = False

    def expect(self, sources: Iterable[str], empty: Iterable[str] = ()) -> None:
        """The source partitions (``topic:partition``) that have input, and those that have
        none yet (``empty``), told once after the group was created or (re)loaded: each with
        input is *behind* until its next event says otherwise (or the shell releases it). One
        not seen yet has no event time and holds the watermark until its first event. Without
        this, the first batch — e.g. the one message of a small partition, read to its end —
        moved the watermark to its event time, and the partitions seen later could not hold
        it back (it never moves back): buckets closed early, false sequence gaps, orphans. One
        seen before the load may have been read to its end then (the meta record says so) and
        have a backlog now: in live mode a worker restarted after a downtime moved the
        watermark to the wall clock at its first tick, before ingest forwarded any of the
        backlog, which was then late. An empty one is *read to its end* with no event time:
        like a partition read to its end, it holds the watermark in replay mode (its producer
        may be about to write: history sent while the worker reads it) until its first event
        or its release, and not in live mode."""
        for source in sources:
            entry = self.sources.get(source)
            if entry is None:
                self.sources[source] = [None, BEHIND]  # type: ignore[list-item]
            else:
                entry[1] = BEHIND
        for source in empty:
            self.sources.setdefault(source, [None, AT_END])  # type: ignore[arg-type]
        self.sources_known = True
        self._watermark()

    def _watermark(self) -> int | None:
        """The group's watermark: the least event time over the source partitions that hold
        it (:meth:`holding`); when none does, the greatest event time seen. One raw partition
        read hours ahead of another (a backlog) thus cannot close the calls and buckets of the
        other one — nor can it, in replay mode, when the other was read to its end while its
        producer was still writing (history sent at full speed: its next events may be hours
        older than what the first one has shown). Never moves back."""
        if self.max_event_ms is None or not self.sources_known:
            return self.watermark_ms
        holding = [wm for wm, progress in self.sources.values() if self._holds(progress)]
        if None in holding:  # a partition not seen yet (with input, or empty and held)
            return self.watermark_ms
        point = min(holding) if holding else self.max_event_ms
        if self.watermark_ms is None or point > self.watermark_ms:
            self.watermark_ms = point
        return self.watermark_ms

    def watermark_at(self) -> datetime | None:
        """The watermark the group closes by: a province's over its source partitions (None
        while it is held before its first value), the nation's roll-up's."""
        if self.national:
            return self.rollups[0].watermark
        return None if self.watermark_ms is None else _dt(self.watermark_ms)

    def unheard(self) -> list[str]:
        """The source partitions that hold the watermark with no event seen yet (with input
        not read yet, or empty in replay mode): until their first event or their release."""
        return sorted(
            s for s, (at, progress) in self.sources.items() if at is None and self._holds(progress)
        )

    def behind(self) -> list[str]:
        """The source partitions that still have unread input (or input not seen yet)."""
        return sorted(s for s, (_, progress) in self.sources.items() if progress == BEHIND)

    def holding(self) -> list[str]:
        """The source partitions that hold the watermark: behind, or read to their end (with
        :attr:`hold_at_end`) and not released (the shell releases one silent for its idle
        bound)."""
        return sorted(s for s, (_, progress) in self.sources.items() if self._holds(progress))

    def _holds(self, progress: int) -> bool:
        return progress == BEHIND or (progress == AT_END and self.hold_at_end)

    def source_status(self, source: str, behind: bool) -> None:
        """A source partition's progress without an event (e.g. its message was dead-lettered:
        ``behind`` = it had more input after it)."""
        entry = self.sources.get(source)
        if entry is not None:
            entry[1] = BEHIND if behind else AT_END
            self._watermark()

    def release(self, sources: Iterable[str]) -> GroupOutput:
        """Stop waiting for ``sources`` (idle too long: the shell's wall-clock bound); the
        watermark may move on, and what became due is closed."""
        for source in sources:
            if source in self.sources:
                self.sources[source][1] = RELEASED
        self._watermark()
        if self.watermark_ms is None:
            return GroupOutput()
        return self.advance(_dt(self.watermark_ms))

    def _close(self, out: GroupOutput, now: datetime) -> None:
        """After a step at watermark ``now``: evict closed buckets and cells, expire sequence
        holes, then tickets and alerts."""
        self._evict_once_a_minute(out, now)
        out.gaps.extend(self.sequences.expire(_ms(now)))
        self._tickets_and_alerts(out, now)

    def _evict_once_a_minute(self, out: GroupOutput, now: datetime) -> None:
        """:meth:`_evict_closed` at the first watermark ``now`` of each minute (buckets and
        cells only close at whole minutes)."""
        minute = _ms(now) // 60_000
        if minute != self._advanced_minute:
            self._advanced_minute = minute
            self._evict_closed(out, now)

    def _evict_closed(self, out: GroupOutput, now: datetime) -> None:
        """Evict the buckets and roll-up cells closed at watermark ``now``, then the minutes'
        agent time and ticket counts (:meth:`_close_minutes`)."""
        self._dirty_buckets.update(self.aggregator.advance(now))
        for rollup, dirty in zip(self.rollups, self._dirty_cells, strict=True):
            dirty.update(rollup.advance(now))
        self._close_minutes(out, now)

    def _close_minutes(self, out: GroupOutput, now: datetime) -> None:
        """Province: close agent time up to ``now`` - lateness (whole minutes). Both: forget
        the agent-time pages and ticket counts of minutes whose buckets are evicted too."""
        if self.national:
            watermark = self.rollups[0].watermark
            if watermark is not None:
                self.national_agent_time.evict(_ms(watermark) - self._kept_ms)
                self.ticket_counts.evict(_ms(watermark))
            return
        self.ticket_counts.evict(_ms(now))
        lateness_ms = int(self.config.lateness.total_seconds() * 1000)
        until = (_ms(now) - lateness_ms) // 60_000 * 60_000
        out.agent_times.extend(self.agent_time.close(until))
        self.agent_time.evict(_ms(now) - self._kept_ms)

    def process_dead_letters(self, notes: Iterable[tuple[str, int]]) -> GroupOutput:
        """Dead letters of this province's raw topics (``(source, broker timestamp ms)``)."""
        for source, at_ms in notes:
            self.alerts.add_dead_letter(source, at_ms)
        out = GroupOutput()
        out.alerts.extend(self.alerts.evaluate_dead_letters())
        return out

    def tick_wall(self, now_ms: int) -> GroupOutput:
        """The wall clock moved (dead-letter minutes are judged on broker time). It moves
        their clock only once no source partition is behind (or not known yet): while
        input is behind — a restart's backlog — the dead letters' own timestamps rule, as
        the event times rule the watermark."""
        out = GroupOutput()
        if not self.national:
            caught_up = self.sources_known and not self.behind()
            wall = now_ms if caught_up else None
            out.alerts.extend(self.alerts.evaluate_dead_letters(wall))
        return out

    def _tickets_and_alerts(
        self, out: GroupOutput, now: datetime, heard: datetime | None = None
    ) -> None:
        """Tickets and alerts after a step: ticket records, then every alert rule (``heard``:
        :meth:`AlertEngine.evaluate`'s)."""
        if self.national:
            return
        changes, rejected, evicted = self.tickets.advance(now)
        watermark = self.tickets.watermark or now
        for change in changes:
            if change.emitted:
                out.tickets.append(change.record)
            out.alerts.extend(self.alerts.on_ticket(change.record, watermark, change.spells))
        for r in rejected:
            out.rejected.append((r, None))
        for ticket_id in evicted:
            self.alerts.forget_ticket(ticket_id)
        self.alerts.add_records(out.records)
        out.alerts.extend(self.alerts.add_gaps(out.gaps))
        out.alerts.extend(self.alerts.evaluate(watermark, heard))
        self._note_dead_letters(out)

    def process_snapshots(
        self,
        children: Iterable[Snapshot],
        agent_times: Iterable[AgentMinute] = (),
        ticket_counts: Iterable[TicketCount] = (),
    ) -> GroupOutput:
        """National group: province snapshots (metrics, agent time, ticket counts) → national
        snapshots."""
        out = GroupOutput()
        self._roll(list(children), out, start=0)
        watermark = self.rollups[0].watermark
        wm = _ms(watermark) if watermark is not None else None
        closed_before = wm - self._kept_ms if wm is not None else None
        out.agent_times.extend(self.national_agent_time.add(agent_times, closed_before))
        out.ticket_counts.extend(self.ticket_counts.add_provinces(ticket_counts, wm))
        # a closed minute's cells are never updated again (its late children are dropped):
        # evict them as the roll-up's watermark, which follows its children, passes them
        if watermark is not None:
            self._evict_once_a_minute(out, watermark)
        return out

    def national_late(self) -> int:
        """National group: the province snapshots (metrics, agent time, ticket counts) dropped
        since start because the national minute they update was closed: a province further
        behind the latest province minute than the national roll-up keeps its minutes open
        (``national_lateness`` on top of its retention), or one replaying such minutes."""
        return (
            self.rollups[0].stats["late"]
            + self.national_agent_time.late
            + self.ticket_counts.late_provinces
        )

    def advance(self, now: datetime, flush: bool = False) -> GroupOutput:
        """Move the watermarks to ``now``: close calls and buckets that became due. ``flush``:
        a replay's input ended (:meth:`flush_point`), so no center was heard after its
        latest event."""
        if not self.national and (self.watermark_ms is None or _ms(now) > self.watermark_ms):
            self.watermark_ms = _ms(now)
        out = self._downstream(self.calls.advance(now), {}) if not self.national else GroupOutput()
        self._evict_closed(out, now)
        out.gaps.extend(self.sequences.expire(_ms(now)))
        heard = _dt(self.max_event_ms) if flush and self.max_event_ms is not None else None
        self._tickets_and_alerts(out, now, heard)
        return out

    def queue_output(self) -> GroupOutput:
        """The live queue of the province's centers, as of the latest event seen (only the
        centers whose queue changed, or unchanged for a minute; all after a (re)load)."""
        out = GroupOutput()
        if not self.national and self.max_event_ms is not None:
            out.queues.extend(
                self.queues.snapshots(
                    _province_centers(self.group), self.max_event_ms, self.calls.states
                )
            )
        return out

    def flush_point(self) -> datetime | None:
        """Where an idle flush moves the watermark: the latest event + the whole retention."""
        if self.national:
            wms = [r.watermark for r in self.rollups if r.watermark is not None]
            return max(wms) + self.config.retention + self.config.lateness if wms else None
        if self.max_event_ms is None:
            return None
        return _dt(self.max_event_ms) + self.config.retention

    def _downstream(self, batch: Batch, origin: dict[str, Inbound]) -> GroupOutput:
        out = GroupOutput()
        for rejected in batch.rejected:
            out.rejected.append((rejected, origin.get(rejected.event.envelope.event_id)))
            if rejected.event.RECORD_TYPE in CALL_EVENT_TYPES:  # not a ticket's
                self._dirty_calls.add(rejected.event.call_id)  # type: ignore[attr-defined]
        contributions = []
        for o in batch.records:
            out.records.append(o.record)
            self._dirty_calls.add(o.record.call_id)
            contributions.extend(o.contributions)
        keys, out.late = self.aggregator.add_all(contributions)
        self._dirty_buckets |= keys
        children = self.aggregator.snapshots(keys)
        out.snapshots.extend(children)
        self._roll(children, out, start=0)
        return out

    def _roll(self, children: list[Snapshot], out: GroupOutput, start: int) -> None:
        for rollup, dirty in zip(self.rollups[start:], self._dirty_cells[start:], strict=True):
            keys = rollup.add_all(children)
            dirty |= keys
            children = rollup.snapshots(keys)
            out.snapshots.extend(children)

    def held(self) -> GroupOutput:
        """Everything the group holds, as outputs: re-emitted after a (re)load, so an output
        lost in a crash after its state was persisted is written again (same version)."""
        out = GroupOutput()
        out.snapshots.extend(self.aggregator.snapshots())
        for rollup in self.rollups:
            out.snapshots.extend(rollup.snapshots())
        out.records.extend(s.emitted for s in self.calls.states.values() if s.emitted)
        out.agent_times.extend(self._agent_pages.held())
        out.ticket_counts.extend(self.ticket_counts.held())
        out.alerts.extend(self.alerts.book.alerts())
        if self.max_event_ms is not None and not self.national:
            self.tickets.schedule_all()  # every held ticket's record, at the same version
            changes, _, _ = self.tickets.advance(self.tickets.watermark or _dt(self.max_event_ms))
            out.tickets.extend(c.record for c in changes)
        return out

    # -- the table image --------------------------------------------------------------------

    @property
    def _agent_pages(self) -> AgentTime | NationalAgentTime:
        return self.national_agent_time if self.national else self.agent_time

    def _k(self, *parts: object) -> str:
        return self.group + "|" + "|".join(map(str, parts))

    def dump(self, store: MutableMapping[str, Any]) -> int:
        """Write every changed key to ``store`` (module docstring: order); the count."""
        writes = 0

        def put(key: str, value: Any) -> None:
            nonlocal writes
            writes += 1
            if value is None:
                store.pop(key, None)
            else:
                store[key] = value

        # outputs derived from agent timelines and ticket states, before those
        pages = self._agent_pages
        for minute in sorted(pages.dirty):
            put(self._k("y", minute), pages.pages.get(minute))
        pages.dirty.clear()
        counts = self.ticket_counts
        for key in sorted(counts.dirty):
            put(self._k("tc", counts.table_key(key)), counts.cells.get(key))
        counts.dirty.clear()
        # the highest level first: a cell persisted without its parent's update would not
        # pass the replayed change on (its part is already there, so it is ignored as stale)
        levels = list(zip(self.rollups, self._dirty_cells, strict=True))
        for rollup, dirty in reversed(levels):
            for key in sorted(dirty):
                region, minute, line, channel = key
                cell = rollup.cells.get(key)
                put(
                    self._k("x", rollup.level.value, region, _ms(minute), line, channel),
                    cell.to_dict() if cell is not None else None,
                )
            dirty.clear()
        for bkey in sorted(self._dirty_buckets):
            cell = self.aggregator.buckets.get(bkey)
            put(
                self._k(
                    "b", _ms(bkey.bucket_start), bkey.region_code, bkey.business_line, bkey.channel
                ),
                cell.to_dict() if cell is not None else None,
            )
        self._dirty_buckets.clear()
        self._dump_alerts_and_tickets(put)
        for center_id, producer_id in sorted(self.sequences.producers.dirty):
            put(
                self._k("s", center_id, producer_id),
                self.sequences.producers.get((center_id, producer_id)),
            )
        self.sequences.producers.dirty.clear()
        for key in self.legacy_sequence_keys:  # the previous format's (:meth:`load`)
            put(key, None)
        self.legacy_sequence_keys.clear()
        if not self.national:
            for key in self.legacy_agent_keys:  # the previous format's (:meth:`load`)
                put(key, None)
            self.legacy_agent_keys.clear()
            clock = self.agent_time.clock
            for agent in sorted(clock.dirty):
                put(self._k("a", *agent), clock.image(agent))
            clock.dirty.clear()
        # one key per call: its state, or once evicted its tombstone, and its repeat entry
        calls = self.calls
        states, tombstones, of_call = calls.states, calls.tombstones, calls.repeats._of_call
        tracked = (states, tombstones, of_call)
        changed = self._dirty_calls.union(*(t.dirty for t in tracked))  # type: ignore[attr-defined]
        for call_id in sorted(changed):
            state = states.get(call_id)
            image = self._state_image(state) if state is not None else {}
            if state is None:
                self._encoded.pop(call_id, None)
                self._record_bytes.pop(call_id, None)
            if (evicted := tombstones.get(call_id)) is not None:
                image["t"], image["tc"] = _ms(evicted.at), evicted.center
            if (entry := of_call.get(call_id)) is not None:
                image["rp"] = [entry[0], _ms(entry[1])]
            put(self._k("c", call_id), image or None)
        self._dirty_calls.clear()
        for t in tracked:
            t.dirty.clear()  # type: ignore[attr-defined]
        # the watermarks and source positions last: persisted, they imply all of the above
        put(self._k("m"), self._meta())
        return writes

    def _dump_alerts_and_tickets(self, put: Any) -> None:
        """Alerts (downstream of tickets and calls) first, then tickets."""
        engine, book = self.alerts, self.tickets
        for key in sorted(engine.book.dirty):
            entry = engine.book.entries.get(key)
            put(self._k("al", key), entry.to_dict() if entry is not None else None)
        for scope, minute in sorted(engine.minutes.dirty):
            cell = engine.minutes.cells.get((scope, minute))
            put(self._k("am", scope, minute), cell)
        for minute in sorted(engine.dead_dirty):
            ids = engine.dead.get(minute)
            put(self._k("ad", minute), sorted(ids) if ids else None)
        put(self._k("ae"), engine.meta())
        encode = self.codec.encode_model
        for ticket_id in sorted(book.dirty):
            state = book.states.get(ticket_id)
            image = None
            if state is not None:
                image = {
                    "e": [_b64(encode(e)) for e in state.events.values()],
                    "m": book.marks.get(ticket_id, []),
                }
            put(self._k("k", ticket_id), image)
            tomb = book.tombstones.get(ticket_id)
            put(self._k("ktc", ticket_id), [_ms(tomb.at), tomb.center] if tomb else None)
            put(self._k("kt", ticket_id), None)  # the format of earlier versions (:meth:`load`)
        engine.book.dirty.clear()
        engine.minutes.dirty.clear()
        engine.dead_dirty.clear()
        book.dirty.clear()

    def _meta(self) -> dict[str, Any]:
        def opt(at: datetime | None) -> int | None:
            return _ms(at) if at is not None else None

        return {
            "calls": opt(self.calls.watermark),
            "agg": opt(self.aggregator.watermark),
            "rollups": {r.level.value: opt(r.watermark) for r in self.rollups},
            "max_event": self.max_event_ms,
            "tickets": opt(self.tickets.watermark),
            "wm": self.watermark_ms,
            "src": {s: list(v) for s, v in self.sources.items()},
            "read": dict(self.read_to),
            "agents": self.agent_time.clock.closed_ms,
            "centers": dict(self.last_event_ms),
        }

    def _state_image(self, state: CallState) -> dict[str, Any]:
        encode = self.codec.encode_model
        encoded = self._encoded.setdefault(state.call_id, {})
        images = []
        for event_id, event in state.events.items():  # an event id's event never changes
            image = encoded.get(event_id)
            if image is None:
                image = encoded[event_id] = _b64(encode(event))
            images.append(image)
        return {
            "e": images,
            "r": _b64(self.record_bytes(state.emitted)) if state.emitted is not None else None,
            "k": state.emitted_key.to_dict() if state.emitted_key is not None else None,
        }

    def _load_sequence(self, key: str, rest: str, value: dict[str, Any]) -> None:
        """A producer's sequence state, keyed ``<center>|<producer>``, or of the previous
        format, keyed by the producer alone: that one goes under its recorded center and is
        rewritten at the next dump. Where both are read (a crash between the dump's write of
        the new key and its delete of the old, or an older worker during a rolling upgrade),
        the state further on (the higher sequence) wins, whatever the order they are read in."""
        center_id, keyed, producer_id = rest.partition("|")
        if not keyed:
            self.legacy_sequence_keys.append(key)
            center_id, producer_id = value["c"], rest
        producer = (center_id, producer_id)
        producers = self.sequences.producers
        held = producers.get(producer)
        if held is None or value["max"] > held["max"]:
            dict.__setitem__(producers, producer, value)
        if not keyed:
            producers.dirty.add(producer)

    def _load_call(self, call_id: str, value: dict[str, Any], decode: Any) -> None:
        """One call's key: its state (``e``, ``r``, ``k``), tombstone (``t``, its center
        ``tc``: absent in earlier versions), repeat entry (``rp``)."""
        if "e" in value:
            state = CallState(call_id)
            images = self._encoded[call_id] = {}
            for data in value["e"]:
                event = decode(base64.b64decode(data))
                if state.add(event):
                    images[event.envelope.event_id] = data
            if value["r"] is not None:
                state.emitted = decode(base64.b64decode(value["r"]))
            if value["k"] is not None:
                state.emitted_key = BucketKey.from_dict(value["k"])
            dict.__setitem__(self.calls.states, call_id, state)
        if "t" in value:
            self.calls.restore_tombstone(call_id, Tombstone(_dt(value["t"]), value.get("tc")))
        if "rp" in value:
            caller_id, at = value["rp"]
            self.calls.repeats.put(call_id, caller_id, _dt(at))

    def record_bytes(self, record: CallRecord) -> bytes:
        """The codec bytes of a call's latest record, encoded once for its output and its
        state image."""
        cached = self._record_bytes.get(record.call_id)
        if cached is not None and cached[0] is record:
            return cached[1]
        data = self.codec.encode_model(record)
        self._record_bytes[record.call_id] = (record, data)
        return data

    @classmethod
    def load(
        cls,
        group: str,
        store: MutableMapping[str, Any] | Iterable[tuple[str, Any]],
        config: StreamsConfig,
        registry: RegionRegistry,
        codec: Codec,
    ) -> GroupState:
        """Rebuild a group from its keys in ``store`` (a mapping or ``(key, value)`` pairs)."""
        self = cls(group, config, registry, codec)
        prefix = group + "|"
        items: Iterator[tuple[str, Any]] = iter(
            store.items() if isinstance(store, MutableMapping) else store
        )
        decode = codec.decode_model
        levels = {r.level.value: r for r in self.rollups}
        meta: dict[str, Any] = {}
        for key, value in items:
            if not key.startswith(prefix) or value is None:
                continue
            kind, _, rest = key[len(prefix) :].partition("|")
            if kind == "m":
                meta = value
            elif kind == "c":
                self._load_call(rest, value, decode)
            elif kind == "s":
                self._load_sequence(key, rest, value)
            elif kind == "y":
                self._agent_pages.pages[int(rest)] = {k: list(v) for k, v in value.items()}
            elif kind == "a":
                center_id, known, agent_id = rest.partition("|")
                if known:
                    self.agent_time.clock.restore((center_id, agent_id), value)
                else:  # the previous format, keyed by the agent id alone: dropped
                    self.legacy_agent_keys.append(key)
            elif kind == "tc":
                self.ticket_counts.restore(rest, value)
            elif kind == "b":
                ms, region, line, channel = rest.split("|")
                bkey = BucketKey(_dt(int(ms)), region, line, channel)
                self.aggregator.buckets[bkey] = VersionedSum.from_dict(value)
            elif kind == "al":
                self.alerts.book.entries[rest] = _Entry.from_dict(value)
            elif kind == "am":
                scope, _, ms = rest.rpartition("|")
                self.alerts.minutes.cells[(scope, int(ms))] = value
            elif kind == "ad":
                self.alerts.dead[int(rest)] = set(value)
            elif kind == "ae":
                self.alerts.load_meta(value)
            elif kind == "k":
                ticket = self.tickets.states[rest] = TicketState(rest)
                for data in value["e"]:
                    ticket.add(decode(base64.b64decode(data)))  # type: ignore[arg-type]
                if value["m"]:
                    self.tickets.marks[rest] = list(value["m"])
            elif kind == "ktc":
                at, center = value
                self.tickets.tombstones[rest] = Tombstone(_dt(at), center)
            elif kind == "kt":  # earlier versions: no center (a ktc key supersedes it)
                self.tickets.tombstones.setdefault(rest, Tombstone(_dt(value), None))
            elif kind == "x":
                level, region, ms, line, channel = rest.split("|")
                levels[level].cells[(region, _dt(int(ms)), line, channel)] = VersionedSum.from_dict(
                    value
                )
        self.calls.repeats._of_call.dirty.clear()  # type: ignore[attr-defined]

        def opt(ms: int | None) -> datetime | None:
            return _dt(ms) if ms is not None else None

        self.calls.watermark = opt(meta.get("calls"))
        self.aggregator.watermark = opt(meta.get("agg"))
        for level, ms in meta.get("rollups", {}).items():
            if level in levels:
                levels[level].watermark = opt(ms)
        self.max_event_ms = meta.get("max_event")
        self.last_event_ms = dict(meta.get("centers", {}))
        self.sources = {s: list(v) for s, v in meta.get("src", {}).items()}
        self.read_to = dict(meta.get("read", {}))
        self.watermark_ms = meta.get("wm", self.max_event_ms)
        self.tickets.watermark = opt(meta.get("tickets"))
        self.agent_time.clock.closed_ms = meta.get("agents")
        for call_id, state in self.calls.states.items():
            self.calls._schedule(state)
            self.queues.see(call_id, state)
        return self
