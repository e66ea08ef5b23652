"""The per-call state machine: call lifecycle events and the survey → one versioned call record.

Pure and deterministic; the Faust agent is a thin shell around :class:`CallAssembly`. Rules
(docs/streams.md says why):

* **State** is keyed by call id and holds the call's distinct events (a duplicate event id is
  ignored). Facts are a function of that *set*: per event type the event with the greatest
  ``(occurred_at, event_id)`` wins, so any arrival order gives the same facts.
* **Counters** are the simulator's (:mod:`hotline.streams.counters`).
* **Completion.** A call is emitted when its ``call.ended`` is known (live views count it at
  once); a survey that comes later is a change like any other (next version). A call without
  ``call.ended`` ``call_horizon`` after it was offered is closed by timeout
  (``closed_by_timeout``).
* **Versions.** The first record of a call has version 1. Whatever changes it later (a late
  survey, a late event, a repeat flag that flips) is emitted again with version + 1; the
  aggregation keeps the latest version of each call, so totals stay exact. If a new version
  moves the call to another bucket (its line was learnt late), a zero *retraction* at the new
  version goes to the old bucket.
* **repeat_7d** (the simulator's rule): the call's caller id (not null) offered another call at
  most ``repeat_window`` before this one (ties broken by call id).
* **Watermark** = the greatest ``occurred_at`` seen (or a later ``now`` given to
  :meth:`CallAssembly.advance`), unless the caller passes its own watermark to
  :meth:`CallAssembly.add` (the worker: the minimum over its source partitions). A call is
  evicted ``call_horizon + lateness`` after it was offered; an event for an evicted call, or
  for an unknown call that occurred before watermark − (call_horizon + lateness), is **late**:
  rejected for the dead-letter topic. Events of a call whose ``call.offered`` never came are
  rejected as **orphan** after the horizon. An evicted call leaves a
  :class:`~hotline.streams.rejects.Tombstone` (its id, eviction time and center) for another
  ``call_horizon + lateness``.
* **Id collision.** Call ids are unique across the network (docs/events.md): an event whose
  call is held with another ``center_id`` is another center's call under the same id. It is
  rejected as **invalid** (:func:`~hotline.streams.rejects.id_collision`); the held call is
  left as it was. A tombstone holds the id the same way: another center's event is a
  collision, not late.
"""

from __future__ import annotations

import bisect
import heapq
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from hotline.producers.simulator.facts import CallFacts, call_counters
from hotline.schemas import CallRecord, Event
from hotline.streams.config import StreamsConfig
from hotline.streams.counters import BucketKey, Contribution, call_contribution, zero
from hotline.streams.rejects import Rejected, Tombstone, id_collision

_MINUTE = timedelta(minutes=1)

__all__ = [
    "CALL_EVENT_TYPES",
    "Batch",
    "CallAssembly",
    "CallOutput",
    "CallState",
    "RepeatIndex",
    "Status",
    "build_record",
    "facts_of",
    "status_of",
]

CALL_EVENT_TYPES = frozenset(
    {
        "call.offered",
        "call.ivr_outcome",
        "call.queued",
        "call.answered",
        "call.abandoned",
        "call.transferred",
        "call.ended",
        "survey.response",
    }
)


class Status(StrEnum):
    OPEN = "open"
    FINAL = "final"
    TIMED_OUT = "timed_out"
    ORPHAN = "orphan"


@dataclass(slots=True)
class CallState:
    """One call's distinct events and the last record emitted for it."""

    call_id: str
    events: dict[str, Event] = field(default_factory=dict)
    winners: dict[str, Event] = field(default_factory=dict)
    """Per event type: its winning event (:meth:`latest`), kept up to date by :meth:`add`."""
    emitted: CallRecord | None = None
    emitted_key: BucketKey | None = None
    built_from: tuple[int, bool, bool] | None = None
    """What the last record built was made of: (events, repeat within 7 days, timed out).
    Events are only ever added, so the same again would build the same record."""

    def add(self, event: Event) -> bool:
        """Keep ``event``; False if its event id was seen already (a duplicate)."""
        event_id = event.envelope.event_id
        if event_id in self.events:
            return False
        self.events[event_id] = event
        best = self.winners.get(event.RECORD_TYPE)
        if best is None or (event.envelope.occurred_at, event_id) > (
            best.envelope.occurred_at,
            best.envelope.event_id,
        ):
            self.winners[event.RECORD_TYPE] = event
        return True

    def latest(self, kind: str) -> Event | None:
        """The winning event of one type: greatest ``(occurred_at, event_id)``."""
        return self.winners.get(kind)

    @property
    def first_seen(self) -> datetime:
        return min(e.envelope.occurred_at for e in self.events.values())

    @property
    def center_id(self) -> str:
        """The center of the call's events (all of them: another center's are rejected)."""
        return next(iter(self.events.values())).envelope.center_id


def facts_of(state: CallState, repeat_7d: bool = False) -> CallFacts | None:
    """The simulator's :class:`CallFacts` of a call; None until its ``call.offered`` is seen."""
    offered = state.latest("call.offered")
    if offered is None:
        return None
    env = offered.envelope
    facts = CallFacts(
        call_id=state.call_id,
        offered_at=env.occurred_at,
        center_id=env.center_id,
        region_code=env.region_code,
        channel=offered.channel,  # type: ignore[attr-defined]
        caller_id=offered.caller_id,  # type: ignore[attr-defined]
        repeat_7d=repeat_7d,
    )
    if (ivr := state.latest("call.ivr_outcome")) is not None:
        facts.ivr_outcome = ivr.outcome  # type: ignore[attr-defined]
        facts.self_service_kind = ivr.self_service_kind  # type: ignore[attr-defined]
    if (queued := state.latest("call.queued")) is not None:
        facts.business_line = queued.business_line  # type: ignore[attr-defined]
    if (answered := state.latest("call.answered")) is not None:
        facts.answer_wait_ms = answered.wait_ms  # type: ignore[attr-defined]
    if (abandoned := state.latest("call.abandoned")) is not None:
        facts.abandon_wait_ms = abandoned.wait_ms  # type: ignore[attr-defined]
    facts.transferred = state.latest("call.transferred") is not None
    if (ended := state.latest("call.ended")) is not None:
        facts.ended = True
        facts.talk_ms = ended.talk_ms  # type: ignore[attr-defined]
        facts.hold_ms = ended.hold_ms  # type: ignore[attr-defined]
        facts.acw_ms = ended.acw_ms  # type: ignore[attr-defined]
        facts.hung_up_by = ended.hung_up_by  # type: ignore[attr-defined]
    if (survey := state.latest("survey.response")) is not None:
        facts.survey = survey.result  # type: ignore[attr-defined]
    return facts


def status_of(state: CallState, watermark: datetime, config: StreamsConfig) -> Status:
    """Where the call stands at ``watermark`` (the completion rule of the module docstring)."""
    offered = state.latest("call.offered")
    if offered is None:
        expired = watermark >= state.first_seen + config.call_horizon
        return Status.ORPHAN if expired else Status.OPEN
    if state.latest("call.ended") is not None:
        return Status.FINAL
    if watermark >= offered.envelope.occurred_at + config.call_horizon:
        return Status.TIMED_OUT
    return Status.OPEN


def _next_deadline(state: CallState, config: StreamsConfig) -> datetime:
    """The next watermark at which time alone changes the call's status or evicts it."""
    offered = state.latest("call.offered")
    if offered is None:
        return state.first_seen + config.call_horizon
    if state.latest("call.ended") is None and state.emitted is None:
        return offered.envelope.occurred_at + config.call_horizon
    return offered.envelope.occurred_at + config.retention


def build_record(
    state: CallState,
    facts: CallFacts,
    config: StreamsConfig,
    timed_out: bool,
    version: int,
    counters: Mapping[str, int] | None = None,
) -> CallRecord:
    """The :class:`CallRecord` of a call's facts (counter flags from ``call_counters``, or
    ``counters`` when the caller computed them already)."""
    c = call_counters(facts, config.thresholds) if counters is None else counters
    answered = state.latest("call.answered")
    ended = state.latest("call.ended")
    transfer = state.latest("call.transferred")
    if facts.answer_wait_ms is not None:
        wait_ms = facts.answer_wait_ms
    else:
        wait_ms = facts.abandon_wait_ms or 0
    agent_id = answered.agent_id if answered is not None else None  # type: ignore[attr-defined]
    if agent_id is None and ended is not None:
        agent_id = ended.agent_id  # type: ignore[attr-defined]
    return CallRecord(
        call_id=facts.call_id,
        center_id=facts.center_id,
        region_code=facts.region_code,
        channel=facts.channel,
        business_line=facts.business_line,
        agent_id=agent_id,
        started_at=facts.offered_at,
        ended_at=ended.envelope.occurred_at if ended is not None else None,
        self_served=bool(c["self_served"]),
        queued=bool(c["queued"]),
        answered=bool(c["answered"]),
        abandoned=bool(c["abandoned"]),
        short_abandoned=bool(c["short_abandoned"]),
        answered_in_sl=bool(c["answered_in_sl"]),
        wait_ms=wait_ms,
        talk_ms=facts.talk_ms,
        hold_ms=facts.hold_ms,
        acw_ms=facts.acw_ms,
        transferred=facts.transferred,
        transfer_target=transfer.target if transfer is not None else None,  # type: ignore[attr-defined]
        caller_hung_up_first=bool(c["caller_hung_up_first"]),
        repeat_7d=bool(c["repeat_7d"]),
        survey_result=facts.survey,
        closed_by_timeout=timed_out,
        short_abandon_threshold_ms=config.short_abandon_ms,
        service_level_threshold_ms=config.service_level_ms,
        version=version,
        self_service_kind=facts.self_service_kind if c["self_served"] else None,
    )


class RepeatIndex:
    """Offered times per caller id, to answer "did this caller call in the window before?"."""

    def __init__(self, window: StreamsConfig | None = None) -> None:
        self.window = (window or StreamsConfig()).repeat_window
        self._by_caller: dict[str, list[tuple[datetime, str]]] = {}
        self._of_call: dict[str, tuple[str, datetime]] = {}
        self._expiry: list[tuple[datetime, str, str]] = []
        """(offered, caller, call) of every put, earliest first (a moved call's old entry
        stays until it is popped, then ignored): pruning costs what it removes."""

    def put(self, call_id: str, caller_id: str, offered_at: datetime) -> list[str]:
        """Record (or move) a call; returns the ids of the caller's calls, which may flip."""
        previous = self._of_call.get(call_id)
        if previous == (caller_id, offered_at):
            return []
        if previous is not None:
            self._remove(call_id, *previous)
        self._of_call[call_id] = (caller_id, offered_at)
        heapq.heappush(self._expiry, (offered_at, caller_id, call_id))
        calls = self._by_caller.setdefault(caller_id, [])
        bisect.insort(calls, (offered_at, call_id))
        return [cid for _, cid in calls]

    def is_repeat(self, call_id: str) -> bool:
        """True if the caller has a call offered at most ``window`` before this one."""
        found = self._of_call.get(call_id)
        if found is None:
            return False
        caller_id, at = found
        calls = self._by_caller[caller_id]
        i = bisect.bisect_left(calls, (at, call_id))
        return i > 0 and at - calls[i - 1][0] <= self.window

    def prune(self, before: datetime) -> None:
        """Forget calls offered before ``before``."""
        expiry = self._expiry
        while expiry and expiry[0][0] < before:
            at, caller_id, call_id = heapq.heappop(expiry)
            if self._of_call.get(call_id) == (caller_id, at):
                del self._of_call[call_id]
                self._remove(call_id, caller_id, at)

    def _remove(self, call_id: str, caller_id: str, at: datetime) -> None:
        calls = self._by_caller[caller_id]
        del calls[bisect.bisect_left(calls, (at, call_id))]
        if not calls:
            del self._by_caller[caller_id]

    def __len__(self) -> int:
        return len(self._of_call)


@dataclass(frozen=True, slots=True)
class CallOutput:
    """A call record and the matching counter contribution (same version).

    ``retraction`` is set when this version moved the call to another bucket (e.g. its
    ``call.queued`` arrived after a first record): zero counters for the old bucket at the
    new version, so the old bucket drops the call's earlier contribution.
    """

    record: CallRecord
    contribution: Contribution
    retraction: Contribution | None = None

    @property
    def contributions(self) -> tuple[Contribution, ...]:
        if self.retraction is None:
            return (self.contribution,)
        return (self.retraction, self.contribution)


@dataclass(slots=True)
class Batch:
    """What one step emitted."""

    records: list[CallOutput] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)

    def extend(self, other: Batch) -> None:
        self.records.extend(other.records)
        self.rejected.extend(other.rejected)


class CallAssembly:
    """Folds raw call events into versioned call records; see the module docstring.

    ``add`` takes one event; ``advance`` moves the watermark (e.g. from a wall clock when
    events stop); ``close`` ends the input (every open call is closed by timeout). Each
    returns the :class:`Batch` it produced. ``stats`` counts duplicates, late and orphan
    events, id collisions, and repeat fixes that came too late (the later call was already
    evicted).
    """

    def __init__(self, config: StreamsConfig | None = None) -> None:
        self.config = config or StreamsConfig()
        self.states: dict[str, CallState] = {}
        self.tombstones: dict[str, Tombstone] = {}
        self._tombstone_heap: list[tuple[datetime, str]] = []
        """(evicted at, call id), earliest first, for pruning; entries of a tombstone set
        again are ignored when popped."""
        self.repeats = RepeatIndex(self.config)
        self._retention = self.config.retention
        self._thresholds = self.config.thresholds
        self.watermark: datetime | None = None
        self.stats: Counter[str] = Counter()
        self._timers: list[tuple[datetime, int, str]] = []
        self._timer_seq = 0
        self._next_prune: datetime | None = None
        """The watermark's next minute: pruning runs once per minute of the watermark."""

    # -- input ------------------------------------------------------------------------------

    def add(self, event: Event, watermark: datetime | None = None) -> Batch:
        """One event. The watermark moves to the event's time, or to ``watermark`` when the
        caller keeps its own (the worker's group: the minimum over its source partitions)."""
        out = Batch()
        if event.RECORD_TYPE not in CALL_EVENT_TYPES:
            raise ValueError(f"not a call event: {event.RECORD_TYPE}")
        at = event.envelope.occurred_at
        moved = at if watermark is None else watermark
        self.watermark = moved if self.watermark is None else max(self.watermark, moved)
        call_id: str = event.call_id  # type: ignore[attr-defined]
        state = self.states.get(call_id)
        if state is None:
            if (tombstone := self.tombstones.get(call_id)) is not None:
                rejected = tombstone.reject(event, "call_id", "its call was already closed")
                self.stats["late" if rejected.check is None else "id_collisions"] += 1
                out.rejected.append(rejected)
                return out
            if at < self.watermark - self._retention:
                self.stats["late"] += 1
                out.rejected.append(
                    Rejected(event, "late", "occurred before watermark - (horizon + lateness)")
                )
                return out
            state = self.states[call_id] = CallState(call_id)
        elif event.envelope.event_id not in state.events:
            collision = id_collision(event, "call_id", state.center_id)
            if collision is not None:
                self.stats["id_collisions"] += 1
                out.rejected.append(collision)
                return out
        if not state.add(event):
            self.stats["duplicates"] += 1
        else:
            if event.RECORD_TYPE == "call.offered":
                self._offered(state, event, out)
            self._refresh(state, out)
            self._schedule(state)
        self._fire(out)
        return out

    def advance(self, now: datetime) -> Batch:
        """Move the watermark to ``now`` (if later) and run what became due."""
        self.watermark = now if self.watermark is None else max(self.watermark, now)
        out = Batch()
        self._fire(out)
        return out

    def close(self) -> Batch:
        """End of input: close every call as the horizon would (tests, batch replays)."""
        if self.watermark is None:
            return Batch()
        latest = max((s.first_seen for s in self.states.values()), default=self.watermark)
        return self.advance(max(self.watermark, latest) + self.config.retention)

    # -- internals --------------------------------------------------------------------------

    def _offered(self, state: CallState, event: Event, out: Batch) -> None:
        winner = state.latest("call.offered")
        caller_id = winner.caller_id if winner is not None else None  # type: ignore[attr-defined]
        if winner is not event or caller_id is None:
            return
        for other in self.repeats.put(state.call_id, caller_id, event.envelope.occurred_at):
            if other == state.call_id:
                continue
            other_state = self.states.get(other)
            if other_state is None:
                if other in self.tombstones:
                    wanted = self.repeats.is_repeat(other)
                    self.stats["repeat_fix_missed"] += int(wanted)
                continue
            if other_state.emitted is not None:
                self._refresh(other_state, out)

    def _refresh(self, state: CallState, out: Batch) -> None:
        """Emit the call's record if it is complete (or was emitted) and changed."""
        assert self.watermark is not None
        status = status_of(state, self.watermark, self.config)
        if status is Status.ORPHAN:
            self._evict(state)
            for event in sorted(state.events.values(), key=lambda e: e.envelope.occurred_at):
                self.stats["orphan"] += 1
                out.rejected.append(
                    Rejected(event, "orphan", "no call.offered within the call horizon")
                )
            return
        if state.emitted is None and status is Status.OPEN:
            return
        repeat, timed_out = self.repeats.is_repeat(state.call_id), status is Status.TIMED_OUT
        made_of = (len(state.events), repeat, timed_out)
        if state.emitted is not None and state.built_from == made_of:
            return  # nothing it is made of changed: the same record
        facts = facts_of(state, repeat)
        assert facts is not None
        previous = state.emitted
        version = previous.version + 1 if previous is not None else 1
        counters = call_counters(facts, self._thresholds)
        record = build_record(state, facts, self.config, timed_out, version, counters)
        state.built_from = made_of
        if previous is not None and record.model_copy(update={"version": previous.version}) == (
            previous
        ):
            return
        state.emitted = record
        contribution = call_contribution(facts, version, self._thresholds, timed_out, counters)
        retraction = None
        if state.emitted_key is not None and state.emitted_key != contribution.key:
            retraction = Contribution(state.call_id, version, state.emitted_key, zero())
        state.emitted_key = contribution.key
        out.records.append(CallOutput(record, contribution, retraction))

    def _schedule(self, state: CallState) -> None:
        self._timer_seq += 1
        deadline = _next_deadline(state, self.config)
        heapq.heappush(self._timers, (deadline, self._timer_seq, state.call_id))

    def _fire(self, out: Batch) -> None:
        assert self.watermark is not None
        while self._timers and self._timers[0][0] <= self.watermark:
            _, _, call_id = heapq.heappop(self._timers)
            state = self.states.get(call_id)
            if state is None:
                continue
            offered = state.latest("call.offered")
            if (
                offered is not None
                and self.watermark >= offered.envelope.occurred_at + self._retention
            ):
                self._refresh(state, out)
                self._evict(state)
                continue
            self._refresh(state, out)
            if call_id in self.states:
                self._schedule(state)
        self._prune()

    def restore_tombstone(self, call_id: str, tombstone: Tombstone) -> None:
        """A tombstone from a table image (not a change: nothing to write back)."""
        dict.__setitem__(self.tombstones, call_id, tombstone)
        heapq.heappush(self._tombstone_heap, (tombstone.at, call_id))

    def _evict(self, state: CallState) -> None:
        assert self.watermark is not None
        del self.states[state.call_id]
        self.tombstones[state.call_id] = Tombstone(self.watermark, state.center_id)
        heapq.heappush(self._tombstone_heap, (self.watermark, state.call_id))

    def _prune(self) -> None:
        assert self.watermark is not None
        if self._next_prune is not None and self.watermark < self._next_prune:
            return  # the same minute (the watermark never moves back)
        self._next_prune = self.watermark.replace(second=0, microsecond=0) + _MINUTE
        keep_after = self.watermark - self._retention
        self.repeats.prune(keep_after - self.config.repeat_window)
        heap, tombstones = self._tombstone_heap, self.tombstones
        while heap and heap[0][0] < keep_after:
            evicted_at, call_id = heapq.heappop(heap)
            tombstone = tombstones.get(call_id)
            if tombstone is not None and tombstone.at == evicted_at:
                del tombstones[call_id]
