"""Consumer-group lag and throughput from committed offsets (kafka-python's admin client)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from kafka import KafkaConsumer
from kafka.admin import KafkaAdminClient
from kafka.errors import KafkaError

from hotline.errors import RetryableError
from hotline.infra.topics import require_kafka

__all__ = ["PartitionStatus", "group_status"]


@dataclass(frozen=True, slots=True)
class PartitionStatus:
    group: str
    topic: str
    partition: int
    committed: int
    end: int
    lag: int
    rate: float
    """Committed messages per second over the sampling interval."""


def group_status(
    bootstrap: str, groups: Sequence[str], interval: float, *, connect_timeout: float = 3.0
) -> list[PartitionStatus]:
    """Sample the groups' committed offsets twice, ``interval`` apart; lag at the second.

    A broker that does not accept a connection within ``connect_timeout`` seconds fails at
    once, before the Kafka clients would retry (and log) for half a minute.
    """
    require_kafka(bootstrap, connect_timeout)
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap, client_id="hotline-status", request_timeout_ms=10_000
        )
        consumer = KafkaConsumer(
            bootstrap_servers=bootstrap, enable_auto_commit=False, request_timeout_ms=10_000
        )
    except KafkaError as exc:
        raise RetryableError(f"cannot reach Kafka at {bootstrap}: {exc}") from exc
    try:
        first = {g: admin.list_group_offsets(g)[g] for g in groups}
        started = time.monotonic()
        time.sleep(interval)
        second = {g: admin.list_group_offsets(g)[g] for g in groups}
        elapsed = max(time.monotonic() - started, 1e-6)
        ends = consumer.end_offsets([tp for offsets in second.values() for tp in offsets])
    finally:
        admin.close()
        consumer.close()
    rows = []
    for group in groups:
        for tp, meta in sorted(second[group].items()):
            before = first[group].get(tp)
            committed = max(meta.offset, 0)
            rate = (committed - max(before.offset, 0)) / elapsed if before is not None else 0.0
            end = ends.get(tp, committed)
            lag = end - committed
            rows.append(PartitionStatus(group, tp.topic, tp.partition, committed, end, lag, rate))
    return rows
