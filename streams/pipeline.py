"""The pure pipeline: raw call events → call records → base snapshots → roll-ups, per batch.

This is what the Faust app does, minus Kafka: each stage is fed the previous stage's output of
the same batch, and a snapshot is emitted once per changed key per batch (not per event).
:class:`SnapshotStore` is the downstream contract in miniature: it keeps the highest version
per key, as the ClickHouse sink does.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from hotline.regions import RegionRegistry
from hotline.schemas import Event, Level
from hotline.streams.aggregate import Aggregator, LateContribution, Snapshot
from hotline.streams.calls import Batch, CallAssembly, CallOutput
from hotline.streams.config import StreamsConfig
from hotline.streams.rejects import Rejected
from hotline.streams.rollup import ROLLUP_LEVELS, Rollup

__all__ = ["Pipeline", "PipelineOutput", "SnapshotStore"]


@dataclass(slots=True)
class PipelineOutput:
    """Everything one step emitted."""

    records: list[CallOutput] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    late: list[LateContribution] = field(default_factory=list)
    snapshots: list[Snapshot] = field(default_factory=list)


class SnapshotStore:
    """Last-version-wins per snapshot key (level, region, bucket, line, channel)."""

    def __init__(self) -> None:
        self.rows: dict[tuple[Level, str, datetime, str, str], Snapshot] = {}
        self.writes = 0

    def write(self, snapshots: Iterable[Snapshot]) -> None:
        for snap in snapshots:
            self.writes += 1
            held = self.rows.get(snap.key)
            if held is None or snap.version > held.version:
                self.rows[snap.key] = snap

    def at_level(self, level: Level) -> list[Snapshot]:
        return [s for s in self.rows.values() if s.level is level]


class Pipeline:
    """Call assembly, aggregation and every roll-up level, driven batch by batch."""

    def __init__(
        self, config: StreamsConfig | None = None, registry: RegionRegistry | None = None
    ) -> None:
        self.config = config or StreamsConfig()
        self.calls = CallAssembly(self.config)
        self.aggregator = Aggregator(self.config)
        self.rollups = [Rollup(level, registry, self.config) for level in ROLLUP_LEVELS]

    def process(self, events: Iterable[Event]) -> PipelineOutput:
        """One batch of raw call events through every stage."""
        batch = Batch()
        for event in events:
            batch.extend(self.calls.add(event))
        return self._downstream(batch)

    def advance(self, now: datetime) -> PipelineOutput:
        """Move every watermark to ``now`` (a wall clock, when events stop)."""
        out = self._downstream(self.calls.advance(now))
        self._evict(now)
        return out

    def close(self) -> PipelineOutput:
        """End of input: close every call and emit the last snapshots."""
        return self._downstream(self.calls.close())

    def _downstream(self, batch: Batch) -> PipelineOutput:
        out = PipelineOutput(records=batch.records, rejected=batch.rejected)
        keys, out.late = self.aggregator.add_all(c for o in batch.records for c in o.contributions)
        children = self.aggregator.snapshots(keys)
        out.snapshots.extend(children)
        for rollup in self.rollups:
            children = rollup.snapshots(rollup.add_all(children))
            out.snapshots.extend(children)
        return out

    def _evict(self, now: datetime) -> None:
        self.aggregator.advance(now)
        for rollup in self.rollups:
            rollup.advance(now)
