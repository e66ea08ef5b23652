"""``hotline streams status`` against the real broker: a group's committed offsets, lag and
rate per partition, and a group that committed nothing."""

from __future__ import annotations

import pytest
from fixtures_kafka import commit_offsets, create_topic
from kafka import KafkaProducer, TopicPartition
from typer.testing import CliRunner

from hotline.cli import app
from hotline.streams.status import group_status

pytestmark = pytest.mark.kafka


def test_status_shows_committed_offsets_lag_and_rate_per_partition(
    bootstrap: str, unique: str
) -> None:
    create_topic(bootstrap, unique, 2)
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    for i in range(30):
        producer.send(unique, value=b"x", partition=i % 2)  # 15 per partition
    producer.flush()
    producer.close()
    p0, p1 = TopicPartition(unique, 0), TopicPartition(unique, 1)
    group = f"{unique}-group"
    commit_offsets(bootstrap, group, {p0: 10, p1: 15})

    rows = group_status(bootstrap, [group], 0.2)
    assert [(r.group, r.topic, r.partition, r.committed, r.end, r.lag) for r in rows] == [
        (group, unique, 0, 10, 15, 5),
        (group, unique, 1, 15, 15, 0),
    ]
    assert all(r.rate == 0.0 for r in rows)  # nothing committed between the samples

    ingest = f"{group}-ingest"  # the worker's raw topics are read by <app id>-ingest
    commit_offsets(bootstrap, ingest, {p0: 15, p1: 12})

    env = {"HOTLINE_KAFKA__BOOTSTRAP_SERVERS": bootstrap}
    shown = CliRunner().invoke(
        app, ["streams", "status", "--app-id", group, "--interval", "0.2"], env=env
    )
    assert shown.exit_code == 0, shown.output
    assert f"group {ingest}\n" in shown.output and f"group {group}\n" in shown.output
    assert "total lag 8" in shown.output
    none = CliRunner().invoke(
        app, ["streams", "status", "--app-id", f"{unique}-idle", "--interval", "0.1"], env=env
    )
    assert none.exit_code == 1 and "no committed offsets" in none.output
