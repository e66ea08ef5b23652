"""Consumer-group lag and throughput from committed offsets (kafka-python's admin client)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from kafka import KafkaConsumer
from kafka.admin import KafkaAdminClient
from kafka.errors import KafkaError

from hotline.errors import RetryableError

__all__ = ["PartitionStatus", "group_status"]


@dataclass(frozen=True, slots=True)
class PartitionStatus:
    topic: str
    partition: int
    committed: int
    end: int
    lag: int
    rate: float
    """Committed messages per second over the sampling interval."""


def group_status(bootstrap: str, group_id: str, interval: float) -> list[PartitionStatus]:
    """Sample the group's committed offsets twice, ``interval`` apart; lag at the second."""
    try:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="hotline-status")
        consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    except KafkaError as exc:
        raise RetryableError(f"cannot reach Kafka at {bootstrap}: {exc}") from exc
    try:
        first = admin.list_group_offsets(group_id)[group_id]
        started = time.monotonic()
        time.sleep(interval)
        second = admin.list_group_offsets(group_id)[group_id]
        elapsed = max(time.monotonic() - started, 1e-6)
        ends = consumer.end_offsets(list(second))
    finally:
        admin.close()
        consumer.close()
    rows = []
    for tp, meta in sorted(second.items()):
        before = first.get(tp)
        committed = max(meta.offset, 0)
        rate = (committed - max(before.offset, 0)) / elapsed if before is not None else 0.0
        end = ends.get(tp, committed)
        rows.append(PartitionStatus(tp.topic, tp.partition, committed, end, end - committed, rate))
    return rows
