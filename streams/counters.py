"""Per-call counter contributions, keyed by (offered minute, region, business line, channel).

The counting rules are the simulator's, imported and not rewritten: the ledger, this processor
and the tests must agree exactly (:mod:`hotline.producers.simulator.facts`):

* :func:`~hotline.producers.simulator.facts.call_counters` gives a call's counters;
* bucket rule: the UTC minute of ``call.offered`` (``minute_bucket``), the region of that
  ``call.offered`` envelope, its channel, and ``ledger_business_line`` (the queue's line; for a
  call that never queued, the line of its self-service kind, else ``other``).

A :class:`Contribution` carries the snapshot's counter names (:data:`COUNTERS`, the order of
:class:`~hotline.schemas.MetricSnapshot`): the ledger's ``wait_ms`` (answered calls only) is
``wait_ms_answered``; ``wait_ms_abandoned``, ``closed_by_timeout`` and ``late`` are extra.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hotline.producers.simulator.facts import (
    CallFacts,
    Thresholds,
    call_counters,
    ledger_business_line,
    minute_bucket,
)
from hotline.schemas import METRIC_COUNTERS

__all__ = [
    "COUNTERS",
    "LEDGER_NAMES",
    "BucketKey",
    "Contribution",
    "Counts",
    "add_counts",
    "call_contribution",
    "counts_from",
    "ledger_view",
    "sub_counts",
    "zero",
]

#: Snapshot counters in :class:`~hotline.schemas.MetricSnapshot` order.
COUNTERS: tuple[str, ...] = METRIC_COUNTERS
#: Snapshot counter → the simulator ledger's column (for the counters the ledger has).
LEDGER_NAMES: dict[str, str] = {
    name: ("wait_ms" if name == "wait_ms_answered" else name)
    for name in COUNTERS
    if name not in ("wait_ms_abandoned", "closed_by_timeout", "late")
}
_INDEX = {name: i for i, name in enumerate(COUNTERS)}
LATE_INDEX = _INDEX["late"]

#: Counter values in :data:`COUNTERS` order.
Counts = tuple[int, ...]


def zero() -> Counts:
    return (0,) * len(COUNTERS)


def add_counts(a: Counts, b: Counts) -> Counts:
    return tuple(map(operator.add, a, b))


def sub_counts(a: Counts, b: Counts) -> Counts:
    return tuple(map(operator.sub, a, b))


def counts_from(values: Mapping[str, int]) -> Counts:
    """Counts from a mapping of snapshot counter names (missing names are 0)."""
    unknown = values.keys() - _INDEX.keys()
    if unknown:
        raise ValueError(f"unknown counters: {sorted(unknown)}")
    return tuple(int(values.get(name, 0)) for name in COUNTERS)


def ledger_view(counts: Counts) -> dict[str, int]:
    """The counters under the ledger's column names (the ledger's subset)."""
    return {ledger: counts[_INDEX[name]] for name, ledger in LEDGER_NAMES.items()}


@dataclass(frozen=True, slots=True, order=True)
class BucketKey:
    """One base aggregation cell: offered minute × region (as on the call) × line × channel."""

    bucket_start: datetime
    region_code: str
    business_line: str
    channel: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "bucket_start": int(self.bucket_start.timestamp() * 1000),
            "region_code": self.region_code,
            "business_line": self.business_line,
            "channel": self.channel,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BucketKey:
        return cls(
            datetime.fromtimestamp(data["bucket_start"] / 1000, UTC),
            data["region_code"],
            data["business_line"],
            data["channel"],
        )


@dataclass(frozen=True, slots=True)
class Contribution:
    """What one version of one call adds to its bucket; a newer version replaces an older."""

    call_id: str
    version: int
    key: BucketKey
    counts: Counts

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (for an internal repartition topic)."""
        return {
            "call_id": self.call_id,
            "version": self.version,
            "key": self.key.to_dict(),
            "counts": list(self.counts),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Contribution:
        counts = tuple(int(v) for v in data["counts"])
        if len(counts) != len(COUNTERS):
            raise ValueError(f"expected {len(COUNTERS)} counters, got {len(counts)}")
        return cls(data["call_id"], int(data["version"]), BucketKey.from_dict(data["key"]), counts)


def call_contribution(
    facts: CallFacts,
    version: int,
    thresholds: Thresholds,
    closed_by_timeout: bool = False,
    counters: Mapping[str, int] | None = None,
) -> Contribution:
    """The contribution of one call's facts: the simulator's counters under snapshot names
    (``counters``: the call's ``call_counters``, when the caller computed them already)."""
    c = call_counters(facts, thresholds) if counters is None else counters
    values = {LEDGER_NAME_TO_SNAPSHOT.get(k, k): v for k, v in c.items()}
    values["wait_ms_abandoned"] = (facts.abandon_wait_ms or 0) if c["abandoned"] else 0
    values["closed_by_timeout"] = int(closed_by_timeout)
    key = BucketKey(
        minute_bucket(facts.offered_at),
        facts.region_code,
        ledger_business_line(facts).value,
        facts.channel.value,
    )
    return Contribution(facts.call_id, version, key, counts_from(values))


LEDGER_NAME_TO_SNAPSHOT = {"wait_ms": "wait_ms_answered"}


def total(contributions: Iterable[Contribution]) -> Counts:
    """The sum of some contributions' counts."""
    out = zero()
    for c in contributions:
        out = add_counts(out, c.counts)
    return out
