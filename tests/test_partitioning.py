"""Kafka's key → partition mapping with the Rust murmur2 (infra/partitioning.py) equals both
Python clients' own default partitioners, key for key."""

from __future__ import annotations

from aiokafka.partitioner import DefaultPartitioner as AiokafkaPartitioner
from hypothesis import given, settings
from hypothesis import strategies as st
from kafka.partitioner import DefaultPartitioner as KafkaPythonPartitioner

from hotline.infra.partitioning import FastKeyPartitioner, key_partition


class _Cluster:
    """What a partitioner asks of kafka-python's cluster metadata."""

    def __init__(self, topic: str, count: int) -> None:
        self.partitions = {topic: set(range(count))}

    def topics(self) -> set[str]:
        return set(self.partitions)

    def partitions_for_topic(self, topic: str) -> set[int]:
        return self.partitions[topic]

    def available_partitions_for_topic(self, topic: str) -> set[int]:
        return self.partitions[topic]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=120), st.integers(min_value=1, max_value=64))
def test_keys_land_where_aiokafkas_default_partitioner_puts_them(key: bytes, count: int) -> None:
    partitions = list(range(count))
    assert key_partition(key, partitions) == AiokafkaPartitioner()(key, partitions, partitions)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=120), st.integers(min_value=1, max_value=64))
def test_keys_land_where_kafka_pythons_default_partitioner_puts_them(
    key: bytes, count: int
) -> None:
    cluster = _Cluster("t", count)
    ours = FastKeyPartitioner().partition("t", None, key, None, b"v", cluster)
    theirs = KafkaPythonPartitioner().partition("t", None, key, None, b"v", cluster)
    assert ours == theirs


def test_a_message_without_a_key_goes_to_some_partition() -> None:
    cluster = _Cluster("t", 3)
    assert FastKeyPartitioner().partition("t", None, None, None, b"v", cluster) in {0, 1, 2}
