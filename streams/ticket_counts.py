"""Ticket counters per minute × region × category at every level: created, resolved, and
resolved on time (the rules of :meth:`hotline.streams.tickets.TicketState.counts_by_minute`).

A ticket counts ``created`` in the minute of its ``ticket.created`` and, for each resolution,
``resolved`` (and ``resolved_on_time`` when on time) in the resolution's minute, in the region
and category of its creation. A cell is a sum of **parts**, each the latest ``(version,
counts)`` of one ticket (province group: county, city and province cells take the ticket
directly, at ``region_at`` of its region) or of one province (national group, from the
province snapshots); the cell's version is the sum of its parts' versions, so re-applying a
part or an older version changes nothing and a replay re-issues the same version. A ticket's
version is its number of distinct events; the cells it counts in only grow (a creation is
fixed, resolutions are only added), so no part is ever withdrawn.

A cell is kept (and sent again after a reload) until the watermark passes its minute by the
group's retention + lateness, as a bucket is; a ticket's counts in minutes already evicted are
not applied again (its creation minute, when it is resolved days later). A resolution that
arrives after its own minute was evicted is therefore missing from the counts (the ticket
record still has it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from hotline.regions import RegionRegistry
from hotline.schemas import TICKET_COUNT_COUNTERS, Level
from hotline.streams.aggregate import NATIONAL_CODE, MinuteCounts
from hotline.streams.rollup import region_at
from hotline.streams.tickets import TicketState

__all__ = ["TicketCount", "TicketCounts"]

_PROVINCE_LEVELS = (Level.COUNTY, Level.CITY, Level.PROVINCE)

CellKey = tuple[str, str, int, str]
"""(level, region code, minute start ms, category)."""


@dataclass(frozen=True, slots=True)
class TicketCount(MinuteCounts):
    """Ticket counters of one minute × level × region × category at one version (a
    ``ticket_count.snapshot``)."""

    category: str

    def to_avro(self) -> dict[str, Any]:
        """The wire record as the codec's dict."""
        counters = dict(zip(TICKET_COUNT_COUNTERS, self.counts, strict=True))
        return {**self.avro_head(), "category": self.category, **counters}

    def to_dict(self) -> dict[str, Any]:
        """For the group topic (province → national)."""
        return {**MinuteCounts.to_dict(self), "category": self.category}


class TicketCounts:
    """A group's ticket count cells (parts: tickets in a province group, provinces in the
    national one) and which changed since the last table write."""

    def __init__(self, registry: RegionRegistry, kept_ms: int) -> None:
        self.registry = registry
        self.kept_ms = kept_ms
        """How long a cell is kept behind the watermark."""
        self.cells: dict[CellKey, dict[str, list[int]]] = {}
        """Cell → part → [version, *counts]."""
        self.dirty: set[CellKey] = set()
        self.late_provinces = 0
        """Province counts dropped because their minute was closed (national group)."""

    def _apply(self, key: CellKey, part: str, version: int, counts: Iterable[int]) -> bool:
        parts = self.cells.setdefault(key, {})
        old = parts.get(part)
        if old is not None and old[0] >= version:
            return False
        parts[part] = [version, *counts]
        self.dirty.add(key)
        return True

    def _closed(self, minute_ms: int, watermark_ms: int | None) -> bool:
        return watermark_ms is not None and minute_ms < watermark_ms - self.kept_ms

    def update(self, state: TicketState, watermark_ms: int | None) -> list[TicketCount]:
        """A ticket changed (province group): the cells whose counters changed."""
        changed: set[CellKey] = set()
        version = len(state.events)
        for (minute, region, category), counts in state.counts_by_minute().items():
            if self._closed(minute, watermark_ms):
                continue
            for level in _PROVINCE_LEVELS:
                key = (level.value, region_at(self.registry, region, level), minute, category)
                if self._apply(key, state.ticket_id, version, counts):
                    changed.add(key)
        return [self.count(k) for k in sorted(changed)]

    def add_provinces(
        self, children: Iterable[TicketCount], watermark_ms: int | None
    ) -> list[TicketCount]:
        """Province counts (national group): the national cells that changed."""
        changed: set[CellKey] = set()
        for child in children:
            if child.level is not Level.PROVINCE:
                raise ValueError(f"national ticket counts take province counts, not {child.level}")
            if self._closed(child.minute_ms, watermark_ms):
                self.late_provinces += 1
                continue
            key = (Level.NATIONAL.value, NATIONAL_CODE, child.minute_ms, child.category)
            if self._apply(key, child.region_code, child.version, child.counts):
                changed.add(key)
        return [self.count(k) for k in sorted(changed)]

    def count(self, key: CellKey) -> TicketCount:
        """A cell as a snapshot: parts summed, versions summed."""
        parts = self.cells[key].values()
        counts = tuple(map(sum, zip(*(p[1:] for p in parts), strict=True)))
        level, region, minute, category = key
        version = sum(p[0] for p in parts)
        return TicketCount(Level(level), region, minute, version, counts, category)

    def evict(self, watermark_ms: int) -> None:
        """Forget the cells whose minute the watermark passed by the kept span."""
        for key in [k for k in self.cells if self._closed(k[2], watermark_ms)]:
            del self.cells[key]
            self.dirty.add(key)

    def held(self) -> list[TicketCount]:
        """Every kept cell (sent again after a reload: same versions)."""
        return [self.count(k) for k in sorted(self.cells)]

    @staticmethod
    def table_key(key: CellKey) -> str:
        return "|".join(map(str, key))

    def restore(self, table_key: str, parts: Mapping[str, list[int]]) -> None:
        level, region, minute, category = table_key.split("|")
        self.cells[(level, region, int(minute), category)] = {p: list(v) for p, v in parts.items()}
