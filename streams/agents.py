"""Agent state events → staffed, ready, on-call, after-call-work and not-ready time per minute
and region, at every level (the occupancy denominator of DOMAIN.md).

An agent — a center's agent id, :data:`AgentKey` (agent numbers are per center: two centers'
``1001`` are two agents) — is in the state of its latest event (by ``(occurred_at, sequence,
event_id)``) until its next one; the interval is split at minute boundaries and counted for the
region of the event that started it (its center's). ``not_ready`` with reason ``acw`` is
after-call work; staffed = ready + on call + after-call work; logged out counts nothing;
``logged_in`` and other not-ready reasons count as not ready. The rules are the simulator
ledger's own function (:func:`agent_time_field`), imported, not rewritten.

**Cap.** One state counts at most ``max_state`` (``StreamsConfig.max_agent_state``, 12 h by
default, as the ledger and the ClickHouse ``agent_time`` view): an agent whose logout was lost
counts as logged out from then until its next event, instead of staffed for days.

**Closing.** A minute is counted once, when the group's watermark has passed it by the
lateness horizon (:meth:`AgentClock.close`): every agent's state through that minute is known
then, so its snapshot is final. An agent event older than the closed minutes is *late*
(dead-lettered, not counted); a duplicate event id is ignored. Each agent keeps its events
since the closed minutes plus the last one before them (the state it is in), unless that
one counts nothing from the closed minutes on (logged out, or its state past the cap).

**Crash safety** (the table image is written as a prefix, pages → timelines → meta): a
timeline is pruned only to what a close from the *previous* closed minute needs, so a state
reloaded with any prefix of a step's writes closes the same minutes to the same counters.

**Versions.** A province group's snapshots of a minute are final when sent (version 1, sent
again unchanged after a reload). The national group sums the provinces' province-level
snapshots of a minute; its version is the sum of theirs (:class:`NationalAgentTime`).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from hotline.producers.simulator.ledger import agent_time_field
from hotline.regions import RegionRegistry
from hotline.schemas import AGENT_TIME_COUNTERS, Event, Level
from hotline.streams.aggregate import NATIONAL_CODE, MinuteCounts
from hotline.streams.rollup import region_at

__all__ = [
    "AgentClock",
    "AgentKey",
    "AgentMinute",
    "AgentTime",
    "NationalAgentTime",
]

_MINUTE_MS = 60_000
_INDEX = {name: i for i, name in enumerate(AGENT_TIME_COUNTERS)}
_STAFFED = frozenset(_INDEX[name] for name in ("ready_ms", "on_call_ms", "acw_ms"))
_LOGGED_OUT = -1
_PROVINCE_LEVELS = (Level.COUNTY, Level.CITY, Level.PROVINCE)

AgentKey = tuple[str, str]
"""(center id, agent id): an agent (its events' envelope ``center_id`` and ``agent_id``)."""
Entry = tuple[int, int, str, int, str]
"""One agent event: (occurred ms, sequence, event id, counter index or -1 when logged out,
region code)."""
Rows = dict[tuple[int, str], list[int]]
"""(minute start ms, region code) → ms per :data:`AGENT_TIME_COUNTERS`."""


@dataclass(frozen=True, slots=True)
class AgentMinute(MinuteCounts):
    """Agent time of one minute × level × region at one version (an ``agent_time.snapshot``)."""

    def counters(self) -> dict[str, int]:
        return dict(zip(AGENT_TIME_COUNTERS, self.counts, strict=True))

    def to_avro(self) -> dict[str, Any]:
        """The wire record as the codec's dict."""
        return {**self.avro_head(), **self.counters()}


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def _count(rows: Rows, region: str, index: int, begin: int, end: int) -> None:
    """Add the interval [begin, end) of counter ``index`` to ``rows``, split by minute."""
    while begin < end:
        minute = begin - begin % _MINUTE_MS
        stop = min(end, minute + _MINUTE_MS)
        row = rows.get((minute, region))
        if row is None:
            row = rows[(minute, region)] = [0] * len(AGENT_TIME_COUNTERS)
        row[index] += stop - begin
        if index in _STAFFED:
            row[0] += stop - begin
        begin = stop


class AgentClock:
    """Each agent's recent state events → agent time per closed minute and region."""

    def __init__(self, max_state: timedelta) -> None:
        self.max_state_ms = max_state // timedelta(milliseconds=1)
        """The longest one state counts (then logged out until the agent's next event)."""
        self.timelines: dict[AgentKey, list[Entry]] = {}
        self.closed_ms: int | None = None
        """Minutes before this are counted and final (None: nothing closed yet)."""
        self.dirty: set[AgentKey] = set()
        """Agents whose timeline changed since the last table write."""

    def add(self, event: Event) -> bool:
        """Take one ``agent.state`` event; False if it is late (before the closed minutes)."""
        env = event.envelope
        agent: AgentKey = (env.center_id, event.agent_id)  # type: ignore[attr-defined]
        timeline = self.timelines.setdefault(agent, [])
        if any(entry[2] == env.event_id for entry in timeline):
            return True  # a duplicate
        at = _ms(env.occurred_at)
        if self.closed_ms is not None and at < self.closed_ms:
            if not timeline:
                del self.timelines[agent]
            return False
        name = agent_time_field(event)
        index = _INDEX[name] if name is not None else _LOGGED_OUT
        bisect.insort(timeline, (at, env.sequence, env.event_id, index, env.region_code))
        self.dirty.add(agent)
        return True

    def close(self, until_ms: int) -> Rows:
        """Count every agent's time from the closed minutes up to ``until_ms`` (a minute
        boundary); nothing if that is not later."""
        start = self.closed_ms
        if start is not None and until_ms <= start:
            return {}
        rows: Rows = {}
        for agent, timeline in list(self.timelines.items()):
            first = 0 if start is None else max(0, bisect.bisect_left(timeline, (start,)) - 1)
            for i in range(first, len(timeline)):
                at, _, _, index, region = timeline[i]
                if at >= until_ms:
                    break
                end = timeline[i + 1][0] if i + 1 < len(timeline) else until_ms
                begin = at if start is None else max(at, start)
                if index != _LOGGED_OUT:
                    stop = min(end, at + self.max_state_ms, until_ms)
                    _count(rows, region, index, begin, stop)
            self._prune(agent, timeline, first, start)
        self.closed_ms = until_ms
        return rows

    def _prune(self, agent: AgentKey, timeline: list[Entry], first: int, start: int | None) -> None:
        """Drop what a close from ``start`` (the previous closed minute) no longer needs."""
        if start is None:
            return
        if first:
            del timeline[:first]
            self.dirty.add(agent)
        if len(timeline) == 1 and self._over(timeline[0], start):
            del self.timelines[agent]  # nothing left to count
            self.dirty.add(agent)

    def _over(self, entry: Entry, start: int) -> bool:
        """Whether an agent's state counts nothing from ``start`` on: logged out before it,
        or past the cap by then."""
        at, index = entry[0], entry[3]
        return at < start and (index == _LOGGED_OUT or at + self.max_state_ms <= start)

    def image(self, agent: AgentKey) -> list[list[Any]] | None:
        """An agent's table value (None: nothing kept)."""
        timeline = self.timelines.get(agent)
        return [list(entry) for entry in timeline] if timeline else None

    def restore(self, agent: AgentKey, image: Iterable[list[Any]]) -> None:
        self.timelines[agent] = [
            (int(at), int(seq), str(eid), int(index), str(region))
            for at, seq, eid, index, region in image
        ]


@dataclass(slots=True)
class _Pages:
    """Snapshot cells per minute, kept for re-sending until their minute is evicted."""

    pages: dict[int, dict[str, list[int]]] = field(default_factory=dict)
    """minute ms → cell name → [version, *counts]."""
    dirty: set[int] = field(default_factory=set)

    def evict(self, before_ms: int) -> None:
        """Forget the minutes before ``before_ms``."""
        for minute in [m for m in self.pages if m < before_ms]:
            del self.pages[minute]
            self.dirty.add(minute)


class AgentTime(_Pages):
    """A province group: its agents' clock, and the county, city and province snapshots of
    the minutes closed (kept as pages for re-sending after a reload)."""

    def __init__(self, registry: RegionRegistry, max_state: timedelta) -> None:
        super().__init__()
        self.clock = AgentClock(max_state)
        self.registry = registry

    def close(self, until_ms: int) -> list[AgentMinute]:
        """Close the minutes up to ``until_ms``: their snapshots at every province level."""
        out: list[AgentMinute] = []
        cells: dict[tuple[int, Level, str], list[int]] = {}
        for (minute, region), counts in sorted(self.clock.close(until_ms).items()):
            for level in _PROVINCE_LEVELS:
                target = region_at(self.registry, region, level)
                total = cells.setdefault((minute, level, target), [0] * len(counts))
                total[:] = map(int.__add__, total, counts)
        for (minute, level, region), counts in sorted(cells.items()):
            self.pages.setdefault(minute, {})[f"{level.value}|{region}"] = [1, *counts]
            self.dirty.add(minute)
            out.append(AgentMinute(level, region, minute, 1, tuple(counts)))
        return out

    def held(self) -> list[AgentMinute]:
        """Every kept snapshot (sent again after a reload: same version, same counters)."""
        return [
            AgentMinute(Level(name.partition("|")[0]), name.partition("|")[2], minute, v, tuple(c))
            for minute, page in sorted(self.pages.items())
            for name, (v, *c) in sorted(page.items())
        ]


@dataclass(slots=True)
class NationalAgentTime(_Pages):
    """The national group: province snapshots → national snapshots, per minute the latest
    version of each province (pages keyed by province code); the version is their sum."""

    late: int = 0
    """Province snapshots dropped because their minute was closed (since start)."""

    def add(
        self, children: Iterable[AgentMinute], closed_before_ms: int | None
    ) -> list[AgentMinute]:
        """Apply province snapshots; the national snapshots that changed. A child of a minute
        before ``closed_before_ms`` (already evicted) is dropped."""
        changed: set[int] = set()
        for child in children:
            if child.level is not Level.PROVINCE:
                raise ValueError(f"national agent time takes province snapshots, not {child.level}")
            if closed_before_ms is not None and child.minute_ms < closed_before_ms:
                self.late += 1
                continue
            page = self.pages.setdefault(child.minute_ms, {})
            old = page.get(child.region_code)
            if old is not None and old[0] >= child.version:
                continue
            page[child.region_code] = [child.version, *child.counts]
            self.dirty.add(child.minute_ms)
            changed.add(child.minute_ms)
        return [self._total(minute) for minute in sorted(changed)]

    def _total(self, minute: int) -> AgentMinute:
        parts = self.pages[minute].values()
        version = sum(p[0] for p in parts)
        counts = tuple(map(sum, zip(*(p[1:] for p in parts), strict=True)))
        return AgentMinute(Level.NATIONAL, NATIONAL_CODE, minute, version, counts)

    def held(self) -> list[AgentMinute]:
        return [self._total(minute) for minute in sorted(self.pages)]
