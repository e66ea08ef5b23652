"""The HTTP ingest gateway: auth, limits, per-event checks, and acknowledged delivery."""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from fixtures_kafka import free_port, topic_configs, topic_partitions
from kafka import KafkaConsumer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient

from hotline.errors import RetryableError
from hotline.infra.topics import ensure_topics, topic_layout
from hotline.producers.base import DeliveryConfig, OutboundRecord
from hotline.producers.delivery import Preparer
from hotline.producers.gateway import (
    BatchSender,
    GatewayConfig,
    KafkaBatchSender,
    RateLimiter,
    TokenStore,
    create_app,
)
from hotline.schemas import CallOffered, Event
from hotline.schemas.examples import all_examples, demo_caller_id
from hotline.schemas.qa import QaEvaluation
from hotline.settings import KafkaSettings

NINGBO, NANJING = "C330200", "C320100"


def example_json(kind: type[Event], center: str, region: str, n: int) -> dict[str, Any]:
    """The JSON of the first example event of ``kind``, as ``center``'s n-th event."""
    base = next(e for e in all_examples() if isinstance(e, kind))
    data = json.loads(base.model_dump_json())
    data["envelope"].update(
        center_id=center,
        region_code=region,
        event_id=f"00000000-0000-4000-8000-{n:012d}",
        producer_id=f"{center}-cti",
        sequence=n,
    )
    return data


def offered_json(center: str, region: str, n: int, caller: str | None = None) -> dict[str, Any]:
    data = example_json(CallOffered, center, region, n)
    data["call_id"] = f"{center}-call-{n}"
    data["caller_id"] = caller if caller is not None else demo_caller_id(f"caller-{n}")
    return data


class MemorySender(BatchSender):
    def __init__(self, fail: bool = False) -> None:
        self.records: list[OutboundRecord] = []
        self.fail = fail

    def send(self, records: list[OutboundRecord], timeout_s: float) -> dict[int, str]:
        if self.fail:
            raise RetryableError("broker away")
        self.records += records
        return {}

    def reachable(self, timeout_s: float) -> bool:
        return not self.fail


@pytest.fixture
def tokens(tmp_path: Path) -> TokenStore:
    return TokenStore(tmp_path / "tokens.json")


def client_for(
    tokens: TokenStore, sender: BatchSender, **config: Any
) -> tuple[TestClient, str, str]:
    ningbo, nanjing = tokens.add(NINGBO), tokens.add(NANJING)
    config.setdefault("dead_letters_file", tokens.path.parent / "dead_letters.jsonl")
    app = create_app(GatewayConfig(**config), tokens, sender)
    return TestClient(app), ningbo, nanjing


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_tokens_are_stored_hashed_and_shown_once(tokens: TokenStore) -> None:
    token = tokens.add(NINGBO)
    text = tokens.path.read_text()
    assert token not in text and token.startswith("hl_")
    assert tokens.path.stat().st_mode & 0o777 == 0o600
    again = TokenStore(tokens.path)
    assert again.center_of(token) == NINGBO and again.center_of("hl_wrong") is None
    assert again.revoke(NINGBO) == 1 and TokenStore(tokens.path).center_of(token) is None


def test_no_token_or_unknown_token_is_401(tokens: TokenStore) -> None:
    client, _, _ = client_for(tokens, MemorySender())
    body = {"events": [offered_json(NINGBO, "330203", 1)]}
    assert client.post("/v1/events", json=body).status_code == 401
    response = client.post("/v1/events", json=body, headers=auth("hl_not-a-token"))
    assert response.status_code == 401 and response.headers["WWW-Authenticate"] == "Bearer"


def test_a_city_cannot_emit_for_another_city(tokens: TokenStore) -> None:
    sender = MemorySender()
    client, ningbo, _ = client_for(tokens, sender)
    events = [
        offered_json(NINGBO, "330203", 1),  # its own center and region
        offered_json(NANJING, "320102", 2),  # another center's id
        offered_json(NINGBO, "320102", 3),  # its own id, a Nanjing region
    ]
    response = client.post("/v1/events", json={"events": events}, headers=auth(ningbo))
    assert response.status_code == 200
    body = response.json()
    assert (body["accepted"], body["rejected"]) == (1, 2)
    reasons = {r["index"]: r["reason"] for r in body["results"] if r["status"] == "rejected"}
    assert "not the token's center C330200" in reasons[1]
    assert "does not serve region 320102" in reasons[2]
    assert [r.key for r in sender.records] == [b"C330200-call-1"]


def test_a_city_cannot_send_under_another_centers_producer_id(tokens: TokenStore) -> None:
    """Sequence gaps are tracked per producer id: Nanjing's id (or a vendor default two
    centers share) under Ningbo's token would hide Nanjing's lost events or invent some."""
    sender = MemorySender()
    client, ningbo, _ = client_for(tokens, sender)
    events = [offered_json(NINGBO, "330203", n) for n in (1, 2, 3)]
    events[1]["envelope"]["producer_id"] = f"{NANJING}-cti"
    events[2]["envelope"]["producer_id"] = "cti-01"
    response = client.post("/v1/events", json={"events": events}, headers=auth(ningbo))
    body = response.json()
    assert (body["accepted"], body["rejected"]) == (1, 2)
    reasons = {r["index"]: r["reason"] for r in body["results"] if r["status"] == "rejected"}
    assert reasons[1].startswith("producer_id 'C****00-cti' does not contain the token's center")
    assert reasons[2].startswith("producer_id 'cti-01' does not contain the token's center")
    assert "(e.g. C330200-cti)" in reasons[2]
    assert [r.key for r in sender.records] == [b"C330200-call-1"]


def _evaluation_json(center: str, region: str, n: int, **fields: Any) -> dict[str, Any]:
    data = example_json(QaEvaluation, center, region, n)
    data.update(evaluation_id=f"{center}-qa-{n}", evaluated_region_code=region, **fields)
    return data


def test_a_center_sends_only_internal_evaluations_of_itself(tokens: TokenStore) -> None:
    """A city's token could file a national mystery-shopper score, or score another center."""
    sender = MemorySender()
    client, ningbo, _ = client_for(tokens, sender)
    own = {"kind": "internal", "evaluated_center_id": NINGBO}
    events = [
        _evaluation_json(NINGBO, "330203", 1, **own),
        _evaluation_json(NINGBO, "330203", 2, **{**own, "kind": "mystery_shopper"}),
        _evaluation_json(NINGBO, "330203", 3, **{**own, "evaluated_center_id": NANJING}),
        {**_evaluation_json(NINGBO, "330203", 4, **own), "evaluated_region_code": "320102"},
    ]
    response = client.post("/v1/events", json={"events": events}, headers=auth(ningbo))
    body = response.json()
    assert (body["accepted"], body["rejected"]) == (1, 3), body
    reasons = [r["reason"] for r in body["results"] if r["status"] == "rejected"]
    assert all(
        reason.startswith("a center's token sends only internal evaluations of its own calls")
        for reason in reasons
    ), reasons
    assert [r.key for r in sender.records] == [events[0]["evaluation_id"].encode()]


def test_malformed_events_are_rejected_with_reasons_and_index(tokens: TokenStore) -> None:
    sender = MemorySender()
    client, ningbo, _ = client_for(tokens, sender)
    no_call_id = offered_json(NINGBO, "330203", 4)
    del no_call_id["call_id"]
    bad_type = offered_json(NINGBO, "330203", 5)
    bad_type["envelope"]["event_type"] = "call.teleported"
    events = [
        offered_json(NINGBO, "330203", 1),
        offered_json(NINGBO, "330203", 2, caller="+86 138 0013 8000"),
        "not an event",
        offered_json(NINGBO, "330203", 3),
        no_call_id,
        bad_type,
    ]
    response = client.post("/v1/events", json={"events": events}, headers=auth(ningbo))
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["accepted", "rejected", "rejected", "accepted",
                                              "rejected", "rejected"]  # fmt: skip
    assert results[1]["reason"].startswith("caller_in_clear")
    assert "0013" not in response.text and "8000" not in results[1]["reason"]
    assert results[2]["reason"] == "not a JSON object"
    assert "call_id: Field required" in results[4]["reason"]
    assert "unknown event type 'call.teleported'" in results[5]["reason"]
    assert len(sender.records) == 2


def test_too_large_body_or_batch_is_413(tokens: TokenStore) -> None:
    client, ningbo, _ = client_for(tokens, MemorySender(), max_body_bytes=4096, max_events=3)
    big = {"events": [offered_json(NINGBO, "330203", i) for i in range(20)]}
    response = client.post("/v1/events", json=big, headers=auth(ningbo))
    assert response.status_code == 413 and "exceeds 4096 bytes" in response.text
    four = {"events": [offered_json(NINGBO, "330203", i) for i in range(4)]}
    assert len(json.dumps(four)) < 4096
    response = client.post("/v1/events", json=four, headers=auth(ningbo))
    assert response.status_code == 413 and "4 events exceed 3" in response.text


def test_rate_limit_is_429_with_retry_after(tokens: TokenStore) -> None:
    clock = [0.0]
    sender = MemorySender()
    ningbo = tokens.add(NINGBO)
    limiter = RateLimiter(rate=1.0, burst=2, clock=lambda: clock[0])
    config = GatewayConfig(dead_letters_file=tokens.path.parent / "dead_letters.jsonl")
    client = TestClient(create_app(config, tokens, sender, limiter=limiter))
    body = {"events": [offered_json(NINGBO, "330203", 1)]}
    codes = [client.post("/v1/events", json=body, headers=auth(ningbo)).status_code
             for _ in range(3)]  # fmt: skip
    assert codes == [200, 200, 429]
    limited = client.post("/v1/events", json=body, headers=auth(ningbo))
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    clock[0] += 1.0
    assert client.post("/v1/events", json=body, headers=auth(ningbo)).status_code == 200


def test_a_retryable_send_error_is_503_with_retry_after(tokens: TokenStore) -> None:
    client, ningbo, _ = client_for(tokens, MemorySender(fail=True))
    body = {"events": [offered_json(NINGBO, "330203", 1)]}
    response = client.post("/v1/events", json=body, headers=auth(ningbo))
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"


def test_no_kafka_is_503_with_retry_after_and_healthz_says_so(tokens: TokenStore) -> None:
    """The real Kafka sender, with nothing listening where the broker should be: batches get
    503, and so does ``/healthz`` (a container's healthcheck fails), its counters still in it."""
    sender = KafkaBatchSender(DeliveryConfig(bootstrap_servers=f"127.0.0.1:{free_port()}"))
    client, ningbo, _ = client_for(tokens, sender)
    body = {"events": [offered_json(NINGBO, "330203", 1)]}
    response = client.post("/v1/events", json=body, headers=auth(ningbo))
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"
    health = client.get("/healthz")
    assert health.status_code == 503, health.text
    assert health.json()["status"] == "unavailable" and health.json()["kafka"] == "unreachable"
    assert health.json()["unavailable"] == 1 and health.json()["tokens_error"] is None
    sender.close()


def test_openapi_docs_are_served(tokens: TokenStore) -> None:
    client, _, _ = client_for(tokens, MemorySender())
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    assert "/v1/events" in spec["paths"]


# -- with the real broker ----------------------------------------------------------------


def event_ids_in(kafka: KafkaSettings, topic: str, expected: int) -> list[str]:
    """The ``event_id`` headers of ``topic``'s records in partition order, read until
    ``expected`` of them came or 30 s passed."""
    consumer = KafkaConsumer(bootstrap_servers=kafka.bootstrap_servers, enable_auto_commit=False)
    try:
        parts = [TopicPartition(topic, p) for p in topic_partitions(consumer, topic)]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        seen: list[str] = []
        deadline = time.monotonic() + 30
        while len(seen) < expected and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                seen += [dict(m.headers)["event_id"].decode() for m in batch]
        return seen
    finally:
        consumer.close()


@pytest.fixture
def kafka_sender(bootstrap: str, unique: str) -> Iterator[tuple[KafkaBatchSender, KafkaSettings]]:
    kafka = KafkaSettings(bootstrap_servers=bootstrap, topic_prefix=unique)
    ensure_topics(bootstrap, [s for s in topic_layout(kafka, ["330000"]) if ".raw." in s.name])
    sender = KafkaBatchSender(DeliveryConfig(bootstrap_servers=bootstrap, topic_prefix=unique))
    yield sender, kafka
    sender.close()


@pytest.mark.kafka
def test_healthz_is_ok_while_kafka_is_reachable(
    tokens: TokenStore, kafka_sender: tuple[KafkaBatchSender, KafkaSettings]
) -> None:
    client, _, _ = client_for(tokens, kafka_sender[0])
    health = client.get("/healthz")
    assert health.status_code == 200, health.text
    assert health.json()["status"] == "ok" and health.json()["kafka"] == "ok"
    assert health.json()["accepted"] == 0 and health.json()["tokens_error"] is None


@pytest.mark.kafka
def test_accepted_events_are_in_kafka_when_the_answer_comes(
    tokens: TokenStore, kafka_sender: tuple[KafkaBatchSender, KafkaSettings]
) -> None:
    from hotline.producers.delivery import Preparer

    sender, kafka = kafka_sender
    ningbo = tokens.add(NINGBO)
    config = GatewayConfig(dead_letters_file=tokens.path.parent / "dead_letters.jsonl")
    app = create_app(config, tokens, sender, preparer=Preparer(kafka))
    client = TestClient(app)
    events = [offered_json(NINGBO, "330203", i) for i in range(10)]
    events[3]["caller_id"] = "13800138000"
    events[7]["envelope"]["region_code"] = "320102"
    del events[8]["channel"]
    response = client.post("/v1/events", json={"events": events}, headers=auth(ningbo))
    assert response.status_code == 200, response.text
    accepted = {r["event_id"] for r in response.json()["results"] if r["status"] == "accepted"}
    assert len(accepted) == 7

    seen = event_ids_in(kafka, f"{kafka.topic_prefix}.raw.330000.calls", 7)
    assert sorted(seen) == sorted(accepted)
    # the three rejected events are in the gateway's dead-letter file, the number masked
    text = config.dead_letters_file.read_text()
    assert [json.loads(line)["index"] for line in text.splitlines()] == [3, 7, 8]
    assert "13800138000" not in text


class PaddingPreparer(Preparer):
    """Pads the record of one event with incompressible bytes, so that Kafka refuses it."""

    def __init__(self, kafka: KafkaSettings, event_id: str, size: int) -> None:
        super().__init__(kafka)
        self.event_id, self.size = event_id, size

    def prepare(self, event: Event) -> OutboundRecord:
        record = super().prepare(event)
        if event.envelope.event_id != self.event_id:
            return record
        return dataclasses.replace(record, value=record.value + os.urandom(self.size))


@pytest.mark.kafka
@pytest.mark.parametrize("where", ["producer", "broker"])
def test_a_record_kafka_refuses_is_rejected_and_its_batch_mates_go_in(
    tokens: TokenStore, kafka_sender: tuple[KafkaBatchSender, KafkaSettings], where: str
) -> None:
    """Above ``max_request_size`` ``send`` refuses the record itself; above the topic's
    ``max.message.bytes`` the broker does, after which kafka-python fails every record its
    producer has not acknowledged: neither may turn the batch into a 503 for ever, nor lose
    a batch-mate or the next batch. One call id: one partition, so the order is checked."""
    sender, kafka = kafka_sender
    topic = f"{kafka.topic_prefix}.raw.330000.calls"
    size = 2 * 1024 * 1024
    if where == "broker":
        size = 8192
        admin = KafkaAdminClient(bootstrap_servers=kafka.bootstrap_servers)
        admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic,
                                            configs={"max.message.bytes": "4096"})])  # fmt: skip
        admin.close()
        deadline = time.monotonic() + 30
        while topic_configs(kafka.bootstrap_servers, topic).get("max.message.bytes") != "4096":
            assert time.monotonic() < deadline, "the topic's max.message.bytes was not set"
            time.sleep(0.2)
    events = [offered_json(NINGBO, "330203", i) for i in range(8)]
    for event in events:
        event["call_id"] = f"{NINGBO}-call-1"
    big = events[2]["envelope"]["event_id"]
    ningbo = tokens.add(NINGBO)
    config = GatewayConfig(dead_letters_file=tokens.path.parent / "dead_letters.jsonl")
    app = create_app(config, tokens, sender, preparer=PaddingPreparer(kafka, big, size))
    client = TestClient(app)

    first = client.post("/v1/events", json={"events": events[:6]}, headers=auth(ningbo))
    assert first.status_code == 200, first.text
    assert first.json()["accepted"] == 5 and first.json()["rejected"] == 1
    refused = first.json()["results"][2]
    assert refused["status"] == "rejected" and refused["event_id"] == big
    assert refused["reason"].startswith("Kafka refused the record: ")
    assert "MessageSizeTooLargeError" in refused["reason"]
    second = client.post("/v1/events", json={"events": events[6:]}, headers=auth(ningbo))
    assert second.status_code == 200 and second.json()["accepted"] == 2, second.text

    expected = [e["envelope"]["event_id"] for i, e in enumerate(events) if i != 2]
    assert event_ids_in(kafka, topic, len(expected)) == expected  # each once, in send order

    [line] = [json.loads(x) for x in config.dead_letters_file.read_text().splitlines()]
    assert (line["index"], line["kind"], line["event_id"]) == (2, "kafka_refused", big)
    assert line["reason"] == refused["reason"]
    health = client.get("/healthz").json()
    assert health["accepted"] == 7 and health["rejected_by_kind"] == {"kafka_refused": 1}
    assert health["dead_letters"] == 1 and health["unavailable"] == 0
