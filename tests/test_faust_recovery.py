"""Faust table recovery on the real broker: kill -9 a worker mid-stream, restart it, and its
table comes back exactly as the changelog holds it.

Faust trusts the broker's "latest offset" answer to decide that a table's changelog has been
read completely; a broker that answers it wrongly makes a restarted worker lose updates for
good (docs/stack.md, section Kafka). The restarted worker's table, as recovery left it and
before any message is processed, must equal every key's last changelog record.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fixtures_kafka import free_port, topic_partitions
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

APP = Path(__file__).resolve().parent / "faust_apps" / "counter_app.py"
PARTITIONS = 4
KEYS = [f"key-{i:02d}" for i in range(50)]
TOTAL = 20_000


def _produce(bootstrap: str, topic: str, keys: list[str]) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, acks="all")
    for i, key in enumerate(keys):
        producer.send(topic, key=key.encode(), value=str(i).encode())
    producer.flush()
    producer.close()


def _read_counts(path: Path) -> dict[str, int]:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def _wait_for(path: Path, predicate, timeout: float, worker: subprocess.Popen) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    counts: dict[str, int] = {}
    while time.monotonic() < deadline:
        counts = _read_counts(path)
        if predicate(counts):
            return counts
        assert worker.poll() is None, f"worker exited with {worker.returncode}: see {worker.args}"
        time.sleep(0.2)
    raise AssertionError(f"timed out; last counts sum to {sum(counts.values())}")


def _changelog_table(bootstrap: str, topic: str) -> dict[str, dict[str, int]]:
    """The table as its changelog says: the last value per key, read to the end."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    partitions = [TopicPartition(topic, p) for p in topic_partitions(consumer, topic)]
    consumer.assign(partitions)
    consumer.seek_to_beginning()
    end = consumer.end_offsets(partitions)
    latest: dict[str, dict[str, int]] = {}
    while any(consumer.position(tp) < end[tp] for tp in partitions):
        for records in consumer.poll(timeout_ms=1000).values():
            for record in records:
                if record.value is not None:
                    latest[json.loads(record.key)] = json.loads(record.value)
    consumer.close()
    return latest


def _wait_for_file(path: Path, timeout: float, worker: subprocess.Popen) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            return json.loads(path.read_text())
        assert worker.poll() is None, f"worker exited with {worker.returncode}: see {worker.args}"
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {path.name}")


@pytest.mark.parametrize("bulk", ["0", "1", "interrupted"], ids=["faust", "bulk", "interrupted"])
def test_a_restarted_worker_recovers_its_table_to_the_changelogs_end(
    bootstrap: str, unique: str, tmp_path, bulk: str
):
    """With Faust's own recovery; with the worker's, which reads in bulk first; and with the
    worker's failing halfway through its first batch, Faust's reading on from there."""
    source = f"{unique}-source"
    app_id = f"{unique}-app"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics({source: {"num_partitions": PARTITIONS, "replication_factor": 1}})
    admin.close()
    keys = [KEYS[(i * 7 + i // 50) % len(KEYS)] for i in range(TOTAL)]
    output = tmp_path / "counts.json"
    env = {
        **os.environ,
        "COUNTER_APP_ID": app_id,
        "COUNTER_BROKER": bootstrap,
        "COUNTER_SOURCE": source,
        "COUNTER_PARTITIONS": str(PARTITIONS),
        "COUNTER_DATADIR": str(tmp_path / "faust-data"),
        "COUNTER_OUTPUT": str(output),
        "COUNTER_WEB_PORT": str(free_port()),
        "COUNTER_BULK": bulk,
    }

    def start_worker(name: str) -> subprocess.Popen:
        log = (tmp_path / f"{name}.log").open("wb")
        return subprocess.Popen(
            [sys.executable, str(APP), "worker", "--loglevel", "info"],
            env={**env, "COUNTER_RECOVERED": str(tmp_path / f"{name}-recovered.json")},
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    _produce(bootstrap, source, keys[: TOTAL // 2])
    worker = start_worker("worker-1")
    try:
        _wait_for(output, lambda c: sum(c.values()) >= TOTAL // 8, timeout=90, worker=worker)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()
    killed_at = sum(_read_counts(output).values())
    assert killed_at < TOTAL // 2, "the worker finished before the kill: not mid-stream"
    output.unlink()
    persisted = _changelog_table(bootstrap, f"{app_id}-counts-changelog")
    assert sum(entry["n"] for entry in persisted.values()) >= TOTAL // 16  # much to recover

    _produce(bootstrap, source, keys[TOTAL // 2 : TOTAL * 3 // 4])
    worker = start_worker("worker-2")
    try:
        recovered = _wait_for_file(tmp_path / "worker-2-recovered.json", 90, worker)
        assert recovered == persisted
        log = (tmp_path / "worker-2.log").read_text()
        read = [int(n) for n in re.findall(r"changelog read in bulk: (\d+) messages", log)]
        stopped = "changelog read in bulk stopped (RuntimeError('interrupted by the test'))"
        if bulk == "0":
            assert not read, read
        elif bulk == "1":
            assert read and read[0] > 0 and stopped not in log, read
        else:  # its half batch applied, no offset moved: Faust read it all again
            assert read and read[0] == 0 and stopped in log, log[-3000:]
        counted = sum(entry["n"] for entry in persisted.values())
        # counts on — at least what arrives after its recovery: messages Faust fetched before
        # its seek to the committed offsets can be dropped (docs/stack.md, Faust)
        _produce(bootstrap, source, keys[TOTAL * 3 // 4 :])
        _wait_for(output, lambda c: sum(c.values()) > counted, timeout=60, worker=worker)
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
