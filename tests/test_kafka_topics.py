"""The topic layout (names, partitions, retention) and its idempotent provisioning."""

from __future__ import annotations

import re

import pytest
from fixtures_kafka import topic_configs
from kafka.admin import KafkaAdminClient

from hotline.errors import ConfigurationError
from hotline.infra.topics import (
    RAW_FAMILIES,
    SHARED_TOPICS,
    connect_problems,
    ensure_topics,
    host_and_port,
    province_topics,
    raw_pattern,
    raw_topic,
    shared_topic,
    topic_layout,
)
from hotline.settings import KafkaSettings

SETTINGS = KafkaSettings(raw_partitions=2, shared_partitions=3, raw_retention_hours=5)


def test_province_topics_live_in_the_province_namespace() -> None:
    names = [spec.name for spec in province_topics(SETTINGS, "320000")]
    assert names == [f"hotline.raw.320000.{family}" for family in RAW_FAMILIES]
    assert all(spec.partitions == 2 for spec in province_topics(SETTINGS, "320000"))
    assert province_topics(SETTINGS, "320000")[0].configs["retention.ms"] == str(5 * 3_600_000)


def test_layout_covers_each_province_once_plus_the_shared_topics() -> None:
    layout = topic_layout(SETTINGS, ["110000", "320000", "110000"])
    assert len(layout) == 2 * len(RAW_FAMILIES) + len(SHARED_TOPICS)
    assert len({spec.name for spec in layout}) == len(layout)
    shared = {spec.name: spec for spec in layout if ".raw." not in spec.name}
    assert shared_topic(SETTINGS, "dead_letters") in shared
    assert all(spec.partitions == 3 for spec in shared.values())


def test_the_prefix_comes_from_the_settings() -> None:
    settings = KafkaSettings(topic_prefix="pilot")
    assert raw_topic(settings, "440000", "calls") == "pilot.raw.440000.calls"
    assert shared_topic(settings, "alerts") == "pilot.alerts"


def test_raw_pattern_matches_every_province_of_one_family() -> None:
    pattern = re.compile(raw_pattern(SETTINGS, "calls"))
    assert pattern.match("hotline.raw.320000.calls")
    assert not pattern.match("hotline.raw.320000.tickets")
    assert not pattern.match("hotline.records.calls")


@pytest.mark.parametrize("code", ["320100", "32000", "abcdef", "000000"])
def test_non_provincial_codes_are_refused(code: str) -> None:
    with pytest.raises(ConfigurationError):
        province_topics(SETTINGS, code)


def test_unknown_family_and_role_are_refused() -> None:
    with pytest.raises(ConfigurationError):
        raw_topic(SETTINGS, "320000", "faxes")
    with pytest.raises(ConfigurationError):
        shared_topic(SETTINGS, "faxes")


@pytest.mark.kafka
def test_provisioning_is_idempotent(bootstrap: str, unique: str) -> None:
    settings = KafkaSettings(
        topic_prefix=unique, raw_partitions=2, shared_partitions=3, raw_retention_hours=5
    )
    layout = topic_layout(settings, ["320000", "110000"])
    first = ensure_topics(bootstrap, layout)
    assert set(first.created) == {spec.name for spec in layout} and not first.existing
    again = ensure_topics(bootstrap, layout)
    assert not again.created and set(again.existing) == {spec.name for spec in layout}

    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        described = {t["name"]: t for t in admin.describe_topics([s.name for s in layout])}
        for spec in layout:
            assert len(described[spec.name]["partitions"]) == spec.partitions
    finally:
        admin.close()
    raw = raw_topic(settings, "320000", "calls")
    assert topic_configs(bootstrap, raw)["retention.ms"] == str(5 * 3_600_000)


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("kafka:9092", ("kafka", 9092)),
        (" kafka1 ", ("kafka1", 9092)),  # no port: Kafka's, as the clients take it
        ("[::1]:29092", ("::1", 29092)),
        ("[::1]", ("::1", 9092)),
        ("::1", ("::1", 9092)),
        ("PLAINTEXT://broker.example:9093", ("broker.example", 9093)),
        (":9092", ("127.0.0.1", 9092)),
    ],
)
def test_the_kafka_probe_reads_bootstrap_addresses_as_the_clients_do(
    address: str, expected: tuple[str, int]
) -> None:
    """``kafka1,kafka2`` is a valid bootstrap list (port 9092); the probe refused it as 'not
    reachable' (int('kafka1')), stopping the sink, the worker, stack init and simulate."""
    assert host_and_port(address) == expected


def test_the_kafka_probe_names_an_address_with_a_bad_port() -> None:
    assert connect_problems("kafka:abc", 0.1) == [
        "kafka:abc: invalid literal for int() with base 10: 'abc'"
    ]
