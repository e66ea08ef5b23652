"""Kafka's default key → partition mapping (murmur2 of the key, as the Java client and both
Python clients compute it), with the hash in Rust (``murmurhash2``): ~0.2 µs a key instead of
~8 µs for the clients' pure-Python murmur2."""

from __future__ import annotations

from typing import Any

from kafka.partitioner import DefaultPartitioner
from murmurhash2 import murmurhash2

__all__ = ["FastKeyPartitioner", "key_partition"]

_KAFKA_SEED = 0x9747B28C
"""The seed of Kafka's murmur2 (its Java client's ``Utils.murmur2``)."""


def key_partition(key: bytes, partitions: list[int]) -> int:
    """Where Kafka's default partitioner puts a keyed message: the positive murmur2 of the key
    modulo the number of partitions (``partitions`` sorted)."""
    return partitions[(murmurhash2(key, _KAFKA_SEED) & 0x7FFFFFFF) % len(partitions)]


class FastKeyPartitioner(DefaultPartitioner):
    """kafka-python's default partitioner, the keyed case through :func:`key_partition`."""

    def partition(
        self,
        topic: str,
        key: Any,
        serialized_key: bytes | None,
        value: Any,
        serialized_value: bytes | None,
        cluster: Any,
    ) -> int:
        if serialized_key is None or topic not in cluster.topics():
            return super().partition(topic, key, serialized_key, value, serialized_value, cluster)
        return key_partition(serialized_key, sorted(cluster.partitions_for_topic(topic)))
