"""The real Kafka broker for ``@pytest.mark.kafka`` tests: one per session, on free ports.

The broker's home is a temporary folder; its jars are shared between sessions (and with the
default stack home) in ``.hotline/kafka/lib-<version>`` — override with
``HOTLINE_TEST_KAFKA_LIB``. The first session runs Maven (cached in ``~/.m2``).
"""

from __future__ import annotations

import itertools
import os
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hotline.infra.kafka_broker import KAFKA_VERSION, KafkaBroker

ROOT = Path(__file__).resolve().parent.parent


def topic_partitions(consumer: Any, topic: str, timeout_s: float = 60) -> set[int]:
    """The topic's partitions, waiting for its metadata (slow to come on a loaded machine: a
    consumer assigned to no partition reads nothing, and the test fails much later)."""
    deadline = time.monotonic() + timeout_s
    while not (parts := consumer.partitions_for_topic(topic)):
        assert time.monotonic() < deadline, f"no metadata for {topic} after {timeout_s} s"
        time.sleep(0.5)
    return set(parts)


_serial = itertools.count(1)


def create_topic(bootstrap: str, name: str, partitions: int) -> None:
    """Create a topic (replication factor 1: the test broker is one node)."""
    from kafka.admin import KafkaAdminClient, NewTopic

    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics([NewTopic(name, partitions, 1)])
    finally:
        admin.close()


def topic_configs(bootstrap: str, topic: str) -> dict[str, str]:
    """A topic's configs that differ from the broker's defaults: name → value."""
    from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        described = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    finally:
        admin.close()
    return {name: entry["value"] for name, entry in described["topic"][topic].items()}


def commit_offsets(bootstrap: str, group: str, offsets: dict[Any, int]) -> None:
    """Commit ``offsets`` ({kafka-python TopicPartition: offset}) for ``group``, from outside
    it (manual assignment: the group has no active member)."""
    from kafka import KafkaConsumer
    from kafka.structs import OffsetAndMetadata

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    consumer.assign(list(offsets))
    consumer.commit({tp: OffsetAndMetadata(o, "", -1) for tp, o in offsets.items()})
    consumer.close()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    """A running single-node KRaft broker, stopped at the end of the session."""
    lib = os.environ.get("HOTLINE_TEST_KAFKA_LIB")
    broker = KafkaBroker(
        tmp_path_factory.mktemp("kafka-home"),
        port=free_port(),
        controller_port=free_port(),
        heap="384m",
        lib_dir=Path(lib) if lib else ROOT / ".hotline" / "kafka" / f"lib-{KAFKA_VERSION}",
    )
    broker.start()
    try:
        broker.wait_ready(timeout=120)
        yield broker
    finally:
        broker.stop(timeout=30)


@pytest.fixture
def bootstrap(kafka_broker: KafkaBroker) -> str:
    """``host:port`` of the session's broker."""
    return kafka_broker.bootstrap_servers


@pytest.fixture
def unique(request: pytest.FixtureRequest) -> str:
    """A name unique to this test, safe for topics and group ids."""
    stem = re.sub(r"[^A-Za-z0-9]+", "-", request.node.name).strip("-")[:60]
    return f"t{os.getpid()}-{next(_serial)}-{stem}"
