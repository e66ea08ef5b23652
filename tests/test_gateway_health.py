"""The gateway's Kafka health is probed at most once per TTL, by one request at a time."""

from __future__ import annotations

import threading
from pathlib import Path

from fastapi.testclient import TestClient

from hotline.producers.base import OutboundRecord
from hotline.producers.gateway.app import GatewayConfig, create_app
from hotline.producers.gateway.health import KafkaHealth
from hotline.producers.gateway.sender import BatchSender
from hotline.producers.gateway.tokens import TokenStore


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_an_answer_is_kept_for_its_ttl_then_asked_again() -> None:
    answers, asked, clock = iter([True, False]), [], Clock()

    def probe() -> bool:
        asked.append(clock.now)
        return next(answers)

    health = KafkaHealth(probe, ttl_s=2.0, clock=clock)
    assert health.up() is True
    clock.now += 1.9
    assert health.up() is True
    assert len(asked) == 1
    clock.now += 0.2
    assert health.up() is False
    assert len(asked) == 2


def test_while_one_request_probes_the_others_answer_with_the_last_result() -> None:
    clock, started, release = Clock(), threading.Event(), threading.Event()
    answers = iter([True, False])

    def probe() -> bool:
        answer = next(answers)
        if not answer:  # the second probe: Kafka hangs
            started.set()
            release.wait(5)
        return answer

    health = KafkaHealth(probe, ttl_s=1.0, clock=clock)
    assert health.up() is True
    clock.now += 5
    slow = threading.Thread(target=health.up)
    slow.start()
    assert started.wait(5)
    assert health.up() is True  # not blocked behind the hanging probe, not a second probe
    release.set()
    slow.join(5)
    assert health.up() is False  # the probe's own answer, fresh now


class CountingSender(BatchSender):
    def __init__(self) -> None:
        self.probes = 0

    def send(self, records: list[OutboundRecord], timeout_s: float) -> dict[int, str]:
        return {}

    def reachable(self, timeout_s: float) -> bool:
        self.probes += 1
        return True


def test_healthz_calls_in_a_row_probe_kafka_once(tmp_path: Path) -> None:
    sender = CountingSender()
    config = GatewayConfig(dead_letters_file=tmp_path / "dead.jsonl", health_ttl_s=60)
    client = TestClient(create_app(config, TokenStore(tmp_path / "tokens.json"), sender))
    answers = [client.get("/healthz") for _ in range(20)]
    assert {a.status_code for a in answers} == {200}
    assert {a.json()["kafka"] for a in answers} == {"ok"}
    assert sender.probes == 1
