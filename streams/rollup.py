"""Roll-ups: base snapshots → city → province → national, each from the level below only.

Each level is a table of :class:`~hotline.streams.aggregate.VersionedSum` whose parts are the
child snapshots (part = child region code, version = the child snapshot's version), so a child
snapshot written twice, or an older one after a newer, changes nothing. National consumes
province snapshots only (no caller-level data crosses the province boundary).

Which region a snapshot rolls into (:func:`region_at`), so that **every level partitions all
calls** (each level's totals equal the national totals):

* city level: a county's parent when that is a prefecture-level city; a county-level unit
  directly under its province (省直辖县级: 仙桃 429004, 济源 419001, 海南 4690xx, and the
  Corps' cities 6590xx under 660000) stands for itself; a call about a city stands for the
  city, and a call about a whole province (the 省本级 center's own calls) stands for the
  province code — the provincial-level center counts as one city-level unit (DOMAIN.md);
* province level: the provincial unit (兵团 660000 for the Corps' cities);
* national level: :data:`~hotline.streams.aggregate.NATIONAL_CODE`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from functools import lru_cache

from hotline.regions import RegionRegistry, default_registry
from hotline.schemas import Level
from hotline.streams.aggregate import BUCKET, NATIONAL_CODE, Snapshot, VersionedSum
from hotline.streams.config import StreamsConfig

__all__ = ["CHILD_LEVEL", "ROLLUP_LEVELS", "Rollup", "RollupKey", "region_at"]

#: The levels built by roll-up, in order, and the level each consumes.
ROLLUP_LEVELS: tuple[Level, ...] = (Level.CITY, Level.PROVINCE, Level.NATIONAL)
CHILD_LEVEL: dict[Level, Level] = {
    Level.CITY: Level.COUNTY,
    Level.PROVINCE: Level.CITY,
    Level.NATIONAL: Level.PROVINCE,
}

#: (region code, bucket start, business line, channel)
RollupKey = tuple[str, datetime, str, str]


def region_at(registry: RegionRegistry, code: str, level: Level) -> str:
    """The region ``code`` counts under at ``level`` (the rules of the module docstring)."""
    if level is Level.COUNTY:
        return code
    if level is Level.NATIONAL:
        return NATIONAL_CODE
    if level is Level.PROVINCE:
        return registry.province_of(code).code
    region = registry.get(code)
    if region.level == "county" and region.parent is not None:
        parent = registry.get(region.parent)
        return parent.code if parent.level == "city" else region.code
    return region.code


class Rollup:
    """One roll-up level: consumes snapshots of :data:`CHILD_LEVEL` ``[level]``."""

    def __init__(
        self,
        level: Level,
        registry: RegionRegistry | None = None,
        config: StreamsConfig | None = None,
    ) -> None:
        if level not in CHILD_LEVEL:
            raise ValueError(f"no roll-up builds level {level!r}")
        self.level = level
        self.child_level = CHILD_LEVEL[level]
        self.config = config or StreamsConfig()
        self.cells: dict[RollupKey, VersionedSum] = {}
        self.watermark: datetime | None = None
        self.follow = True
        """Children move the watermark (False: only :meth:`advance` does; see Aggregator)."""
        self.stats: Counter[str] = Counter()
        registry = registry or default_registry()
        self._target = lru_cache(maxsize=65536)(lambda code: region_at(registry, code, level))

    def closes_at(self, bucket_start: datetime) -> datetime:
        """A level closes one lateness horizon after the level below it."""
        return bucket_start + BUCKET + self.config.retention + self.config.lateness

    def add(self, child: Snapshot) -> set[RollupKey]:
        """Apply one child snapshot; the keys whose snapshot changed (empty if late/stale)."""
        return self.add_all((child,))

    def add_all(self, children: Iterable[Snapshot]) -> set[RollupKey]:
        """Apply child snapshots; the keys whose snapshot changed. Each is judged late against
        the watermark before them, which then moves to the latest of their minutes (when it
        follows its children): their order does not matter. (Children come sorted by region;
        judged one by one, a region's later minutes made another's earlier minutes of the same
        batch late when the batch spanned more than the horizon.)"""
        changed: set[RollupKey] = set()
        watermark, latest = self.watermark, None
        for child in children:
            if child.level is not self.child_level:
                raise ValueError(
                    f"{self.level} consumes {self.child_level} snapshots, not {child.level}"
                )
            minute = child.bucket_start
            if latest is None or minute > latest:
                latest = minute
            if watermark is not None and watermark >= self.closes_at(minute):
                self.stats["late"] += 1
                continue
            key = (self._target(child.region_code), minute, child.business_line, child.channel)
            cell = self.cells.setdefault(key, VersionedSum())
            if not cell.apply(child.region_code, child.version, child.counts):
                self.stats["stale"] += 1
                continue
            changed.add(key)
        if self.follow and latest is not None:
            self.watermark = latest if watermark is None else max(watermark, latest)
        return changed

    def snapshot(self, key: RollupKey) -> Snapshot:
        cell = self.cells[key]
        region, minute, line, channel = key
        return Snapshot(self.level, region, minute, line, channel, cell.version, cell.total)

    def snapshots(self, keys: Iterable[RollupKey] | None = None) -> list[Snapshot]:
        chosen = sorted(self.cells if keys is None else keys)
        return [self.snapshot(k) for k in chosen if k in self.cells]

    def advance(self, now: datetime) -> list[RollupKey]:
        """Move the watermark to ``now``; evict and return the cells that closed."""
        minute = now.replace(second=0, microsecond=0)
        self.watermark = minute if self.watermark is None else max(self.watermark, minute)
        closed = sorted(k for k in self.cells if self.watermark >= self.closes_at(k[1]))
        for key in closed:
            del self.cells[key]
        return closed
