"""The KafkaBroker service: status, idempotent start, restart on its data, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from fixtures_kafka import ROOT, free_port
from kafka.admin import KafkaAdminClient

from hotline.errors import ConfigurationError
from hotline.infra.base import Service
from hotline.infra.kafka_broker import KAFKA_VERSION, KafkaBroker, KafkaBrokerError

LIB = ROOT / ".hotline" / "kafka" / f"lib-{KAFKA_VERSION}"


def test_the_version_comes_from_the_pom() -> None:
    assert KAFKA_VERSION.count(".") == 2
    assert (
        f"<kafka.version>{KAFKA_VERSION}</kafka.version>"
        in (ROOT / "infra" / "kafka" / "pom.xml").read_text()
    )


def test_it_is_a_service(tmp_path: Path) -> None:
    assert isinstance(KafkaBroker(tmp_path, 1, 2), Service)


def test_a_broker_never_started_reports_stopped_and_is_not_ready(tmp_path: Path) -> None:
    broker = KafkaBroker(tmp_path, free_port(), free_port(), lib_dir=LIB)
    status = broker.status()
    assert not status.running and status.pid is None and status.version == KAFKA_VERSION
    with pytest.raises(KafkaBrokerError, match=r"kafka\.log"):
        broker.wait_ready(timeout=2)
    broker.stop()  # stopping a stopped broker does nothing


def test_fetch_without_maven_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    broker = KafkaBroker(tmp_path, 1, 2, lib_dir=tmp_path / "lib")
    with pytest.raises(ConfigurationError, match="mvn"):
        broker.fetch()


def test_server_properties_are_single_node_kraft(tmp_path: Path) -> None:
    props = KafkaBroker(tmp_path, 19192, 19193).server_properties()
    assert "process.roles=broker,controller\n" in props
    assert "controller.quorum.voters=1@127.0.0.1:19193\n" in props
    assert "PLAINTEXT://127.0.0.1:19192" in props
    assert "offsets.topic.replication.factor=1\n" in props
    assert "group.initial.rebalance.delay.ms=0\n" in props


@pytest.mark.kafka
def test_status_of_the_running_broker(kafka_broker: KafkaBroker) -> None:
    status = kafka_broker.status()
    assert status.running and status.pid is not None
    assert status.endpoints["bootstrap"] == kafka_broker.bootstrap_servers
    kafka_broker.start()  # already running: nothing happens
    assert kafka_broker.status().pid == status.pid


@pytest.mark.kafka
@pytest.mark.slow
def test_stop_and_restart_keep_the_data(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    broker = KafkaBroker(tmp_path, free_port(), free_port(), heap="256m", lib_dir=LIB)
    broker.start()
    try:
        broker.wait_ready(timeout=120)
        cluster_id = broker.cluster_id_file.read_text()
        admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap_servers)
        admin.create_topics({"kept": {"num_partitions": 2, "replication_factor": 1}})
        admin.close()
        broker.stop(timeout=30)
        assert not broker.status().running
        assert "did not stop" not in caplog.text  # SIGTERM sufficed: a clean shutdown

        broker.start()
        broker.wait_ready(timeout=120)
        assert broker.cluster_id_file.read_text() == cluster_id
        admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap_servers)
        assert "kept" in admin.list_topics()
        admin.close()
    finally:
        broker.stop(timeout=30)
    assert not broker.status().running


@pytest.mark.kafka
def test_storage_formats_with_a_cluster_id_that_starts_with_a_dash(tmp_path: Path) -> None:
    broker = KafkaBroker(tmp_path, free_port(), free_port(), lib_dir=LIB)
    broker.fetch()
    broker.dir.mkdir(parents=True, exist_ok=True)
    broker.cluster_id_file.write_text("-" + "A" * 21 + "\n")  # base64url ids can start so
    broker.config_file.write_text(broker.server_properties())
    broker._format_storage()
    assert (broker.data_dir / "meta.properties").exists()
