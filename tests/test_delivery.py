"""Delivery: preparing records (no broker) and the Kafka sink through an outage (real broker)."""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from fixtures_kafka import ROOT, free_port, topic_configs, topic_partitions
from kafka import KafkaConsumer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient
from kafka.errors import (
    InvalidRecordError,
    KafkaError,
    KafkaTimeoutError,
    MessageSizeTooLargeError,
    TopicAuthorizationFailedError,
)
from kafka.future import Future

from hotline.infra.kafka_broker import KAFKA_VERSION, KafkaBroker
from hotline.infra.topics import ensure_topics, topic_layout
from hotline.producers import delivery
from hotline.producers.base import (
    DeliveryConfig,
    OutboundRecord,
    RefusedEvent,
    Sequencer,
    SpoolFull,
)
from hotline.producers.delivery import KafkaEventSink, Preparer, caller_problem, family_of
from hotline.producers.simulator import MemorySink, SimConfig, simulate
from hotline.producers.spool import Spool
from hotline.schemas import KEY_FIELDS, CallOffered, Event, default_codec
from hotline.schemas.examples import all_examples
from hotline.settings import KafkaSettings
from hotline.workdays import CHINA_TZ

PHONES = ["13800138000", "+86 138-0013-8000", "(025)83123456", "025-8312 3456", "0086138001"]


def events_of_examples() -> list[Event]:
    return [e for e in all_examples() if isinstance(e, Event)]


# -- preparing (pure) ------------------------------------------------------------------------


def test_records_are_keyed_routed_encoded_and_labelled() -> None:
    preparer = Preparer()
    codec = default_codec()
    for event in events_of_examples():
        record = preparer.prepare(event)
        province = event.envelope.region_code[:2] + "0000"
        assert record.topic == f"hotline.raw.{province}.{family_of(event.RECORD_TYPE)}"
        assert codec.decode_model(record.value) == event
        assert record.header("event_type") == event.RECORD_TYPE.encode()
        assert record.header("event_id") == event.envelope.event_id.encode()
        fingerprint = codec.fingerprint(event.RECORD_TYPE).hex().encode()
        assert record.header("schema_fingerprint") == fingerprint
        assert record.key == getattr(event, KEY_FIELDS[event.RECORD_TYPE]).encode()


@pytest.mark.parametrize("phone", PHONES)
def test_a_phone_number_in_a_caller_field_is_refused_masked(phone: str) -> None:
    problem = caller_problem({"caller_id": phone})
    assert problem is not None and "phone number in clear" in problem
    assert phone not in problem


def test_hashed_or_absent_callers_pass() -> None:
    assert caller_problem({"caller_id": "ab" * 32, "call_id": "13800138000"}) is None
    assert caller_problem({"caller_id": None, "caller_hung_up_first": True}) is None


def test_a_model_built_without_validation_is_still_refused() -> None:
    offered = next(e for e in events_of_examples() if isinstance(e, CallOffered))
    smuggled = CallOffered.model_construct(**{**dict(offered), "caller_id": "13800138000"})
    with pytest.raises(RefusedEvent, match=r"caller_id holds a phone number in clear <11 digits"):
        Preparer().prepare(smuggled)


def test_sequencer_counts_per_producer() -> None:
    seq = Sequencer("p1", start=5)
    assert [seq.next() for _ in range(3)] == [5, 6, 7]


def test_refused_events_are_dead_lettered_locally_while_kafka_is_away(tmp_path: Path) -> None:
    config = DeliveryConfig(
        bootstrap_servers=f"127.0.0.1:{free_port()}", spool_root=tmp_path, bootstrap_timeout_ms=300
    )
    sink = KafkaEventSink(config, "p-away")
    assert sink.spooling  # nothing answers: straight to the spool
    offered = next(e for e in events_of_examples() if isinstance(e, CallOffered))
    sink.emit(CallOffered.model_construct(**{**dict(offered), "caller_id": "13800138000"}))
    sink.emit(offered)
    sink.close()
    assert sink.refused == Counter({"caller_in_clear": 1})
    lines = (tmp_path / "p-away" / "dead_letters.jsonl").read_text()
    assert "phone number in clear" in lines and "13800138000" not in lines
    assert sink.spooled == 1


# -- records Kafka refuses (a fake producer, no broker) --------------------------------------


class FakeKafka:
    """The broker, and kafka-python's producers of it as the sink uses them (:meth:`producer`).

    A value starting with ``big`` makes ``send`` raise ``MessageSizeTooLargeError`` (its
    ``max_request_size`` check); ``bad`` is refused by the broker (``InvalidRecordError``).
    As in kafka-python 3.0.12, that refusal makes the producer fatal: the other records of its
    batch (same key here), every record it had not acknowledged and every later one fail with
    that same error. While not ``up`` nothing answers and futures expire.
    """

    def __init__(self) -> None:
        self.up = True
        self.denied = False
        """The producer may not write the topic (``TopicAuthorizationFailedError``)."""
        self.written: list[bytes] = []

    def producer(self) -> FakeProducer:
        return FakeProducer(self)


class FakeProducer:
    """One producer of a :class:`FakeKafka`; each flush sends what is pending."""

    def __init__(self, kafka: FakeKafka) -> None:
        self.kafka = kafka
        self.fatal: KafkaError | None = None
        self._pending: list[tuple[OutboundRecord, Future]] = []

    def send(
        self, topic: str, value: bytes, key: bytes | None, headers: list[tuple[str, bytes]]
    ) -> Future:
        if value.startswith(b"big"):
            raise MessageSizeTooLargeError(f"The message is {len(value)} bytes when serialized")
        future = Future()
        self._pending.append((OutboundRecord(topic, key, value, tuple(headers)), future))
        return future

    def flush(self, timeout: float | None = None) -> None:
        pending, self._pending = self._pending, []
        refused = {r.key for r, _ in pending if r.value.startswith(b"bad")}
        for record, future in pending:
            if not self.kafka.up:
                future.failure(KafkaTimeoutError("Expiring 1 record(s): delivery timeout"))
            elif self.kafka.denied:
                future.failure(TopicAuthorizationFailedError(record.topic))
            elif record.key in refused or self.fatal is not None:
                self.fatal = self.fatal or InvalidRecordError("record refused by the broker")
                future.failure(self.fatal)
            else:
                self.kafka.written.append(record.value)
                future.success(None)

    def close(self, timeout: float | None = None) -> None:
        self._pending = []


@pytest.fixture
def kafka(monkeypatch: pytest.MonkeyPatch) -> FakeKafka:
    fake = FakeKafka()
    monkeypatch.setattr(delivery, "reachable", lambda *_args, **_kw: fake.up)
    monkeypatch.setattr(delivery, "new_producer", lambda *_args, **_kw: fake.producer())
    return fake


def record(
    value: bytes, key: bytes = b"C1", topic: str = "hotline.raw.320000.calls"
) -> OutboundRecord:
    headers = (("event_type", b"call.offered"), ("event_id", value))
    return OutboundRecord(topic, key, value, headers)


def values_of(n: int) -> list[bytes]:
    """``n`` distinct values of 64 bytes: a 1 KiB spool holds only a few of their records."""
    return [b"v%03d" % i + b"." * 60 for i in range(n)]


def dead_letters(spool_root: Path) -> list[tuple[str, str]]:
    path = spool_root / "p1" / "dead_letters.jsonl"
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    return [(line["event_id"], line["reason"]) for line in lines]


def test_a_record_too_large_to_send_is_dead_lettered_and_the_rest_go_on(
    tmp_path: Path, kafka: FakeKafka
) -> None:
    sink = KafkaEventSink(DeliveryConfig(spool_root=tmp_path), "p1")
    for value in (b"a", b"big", b"b", b"c"):
        sink.emit_record(record(value))
    sink.flush()
    assert not sink.spooling and sink.outages == 0
    assert kafka.written == [b"a", b"b", b"c"] and sink.sent == 3
    assert sink.refused == Counter({"MessageSizeTooLargeError": 1})
    [(event_id, reason)] = dead_letters(tmp_path)
    assert event_id == "big" and "MessageSizeTooLargeError" in reason
    sink.close()


@pytest.mark.parametrize(
    ("refused", "kind"), [(b"big", "MessageSizeTooLargeError"), (b"bad", "InvalidRecordError")]
)
def test_a_record_refused_while_draining_is_dead_lettered_and_the_spool_moves_on(
    tmp_path: Path, kafka: FakeKafka, refused: bytes, kind: str
) -> None:
    kafka.up = False
    sink = KafkaEventSink(DeliveryConfig(spool_root=tmp_path), "p1")
    assert sink.spooling
    sink.emit_record(record(b"a"))
    sink.emit_record(record(refused, key=b"C2"))  # alone in its batch
    sink.emit_record(record(b"b"))
    sink.emit_record(record(b"c"))
    sink.flush()
    kafka.up = True
    for _ in range(3):  # a stuck spool would send b and c again on each try
        sink.drain()
    assert kafka.written == [b"a", b"b", b"c"] and sink.sent == 3
    assert not sink.spooling and len(sink.spool) == 0
    assert sink.refused == Counter({kind: 1})
    [(event_id, reason)] = dead_letters(tmp_path)
    assert event_id == refused.decode() and kind in reason
    sink.close()


@pytest.mark.parametrize("spooling", [False, True], ids=["direct", "spooling"])
def test_the_batch_mates_of_a_refused_record_are_sent_again_not_dead_lettered(
    tmp_path: Path, kafka: FakeKafka, spooling: bool
) -> None:
    kafka.up = not spooling
    sink = KafkaEventSink(DeliveryConfig(spool_root=tmp_path), "p1")
    for value in (b"a", b"bad", b"b"):  # one key: one batch
        sink.emit_record(record(value))
    sink.emit_record(record(b"c", key=b"C2"))
    sink.flush()  # each fails with the refusal of bad: only bad, sent alone, is refused
    kafka.up = True
    assert sink.drain()
    assert kafka.written == [b"a", b"b", b"c"] and sink.sent == 3
    assert sink.outages == int(spooling)
    assert sink.refused == Counter({"InvalidRecordError": 1})
    assert [event_id for event_id, _ in dead_letters(tmp_path)] == ["bad"]
    sink.close()


def test_a_shared_settler_drops_only_the_producer_its_caller_used(
    kafka: FakeKafka, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The gateway's request threads share one Settler. A thread whose producer failed must
    not abandon the fresh producer another thread opened since (that thread's records would
    fail with it), and no producer is abandoned twice."""
    abandoned: list[object] = []
    monkeypatch.setattr(delivery, "abandon", abandoned.append)
    settler = delivery.Settler(kafka.producer)
    first = settler.open()
    settler.drop(first)  # thread A: its producer failed
    second = settler.open()  # thread B: a fresh one
    settler.drop(first)  # thread C, which had used the first too, drops it late
    assert settler.producer is second and abandoned == [first]
    assert settler.settle([record(b"a")], 1).error is None  # the fresh one works
    settler.drop()
    assert settler.producer is None and abandoned == [first, second]


@pytest.mark.parametrize("cause", ["up", "denied"])
def test_an_outage_or_a_forbidden_topic_holds_the_records_until_kafka_takes_them(
    tmp_path: Path, kafka: FakeKafka, cause: str
) -> None:
    """Kafka away (the futures expire: retriable), or a topic the producer may not write:
    not the record's fault but a configuration to fix (an ACL), and dead letters keep no
    payload, so dead-lettered the records would be lost. Both wait in the spool."""
    sink = KafkaEventSink(DeliveryConfig(spool_root=tmp_path), "p1")
    setattr(kafka, cause, cause != "up")
    for value in (b"a", b"b"):
        sink.emit_record(record(value))
    sink.flush()
    assert sink.spooling and sink.outages == 1 and len(sink.spool) == 2
    assert not sink.drain() and len(sink.spool) == 2  # still so: nothing dropped
    setattr(kafka, cause, cause == "up")
    assert sink.drain()
    assert kafka.written == [b"a", b"b"] and not sink.refused
    sink.close()


def test_a_full_spool_keeps_what_it_took_and_not_what_it_refused(
    tmp_path: Path, kafka: FakeKafka
) -> None:
    now = [0.0]
    config = DeliveryConfig(spool_root=tmp_path, spool_max_bytes=1024, spool_batch=3)
    kafka.up = False
    sink = KafkaEventSink(config, "p1", clock=lambda: now[0])
    values = values_of(100)
    taken = 0
    with pytest.raises(SpoolFull):
        for value in values:
            sink.emit_record(record(value))
            taken += 1
    refused = values[taken]
    with pytest.raises(SpoolFull):  # the emitter pauses and tries again; Kafka is still away
        sink.emit_record(record(refused))
    kafka.up = True
    now[0] += config.probe_interval_s  # the emitter tries again once the next probe is due
    sink.emit_record(record(refused))
    sink.flush()
    assert kafka.written == values[: taken + 1]  # the ones it took, in order, then the refused
    assert not sink.spooling and len(sink.spool) == 0
    sink.close()


def test_records_in_flight_when_kafka_goes_away_are_taken_even_if_the_spool_is_too_small(
    tmp_path: Path, kafka: FakeKafka
) -> None:
    """The records in flight (the fake acknowledges only at flush) do not fit in the spool when
    Kafka goes away: they are taken all the same and wait in memory, and the drain sends them
    although they never fit in the empty spool. SpoolFull is raised only for a record not
    taken, which the emitter emits again: each record reaches Kafka once, in order."""
    now = [0.0]
    config = DeliveryConfig(
        spool_root=tmp_path, spool_max_bytes=1024, spool_batch=3, drain_batch=10
    )
    sink = KafkaEventSink(config, "p1", clock=lambda: now[0])
    values = values_of(100)
    for value in values[:70]:
        sink.emit_record(record(value))
    kafka.up = False
    now[0] += config.outage_after_s
    emitted, pauses = 70, 0
    for _ in range(2 * len(values)):  # bounded: a sink that never takes a record fails here
        if emitted == len(values):
            break
        try:
            sink.emit_record(record(values[emitted]))
        except SpoolFull:  # not taken: the emitter pauses, Kafka comes back, the same again
            pauses += 1
            kafka.up = True
            now[0] += config.probe_interval_s
            continue
        emitted += 1
    assert emitted == len(values) and pauses == 1 and sink.outages == 1
    sink.flush()
    assert kafka.written == values  # each once, in order
    assert not sink.spooling and len(sink.spool) == 0
    sink.close()


@pytest.mark.parametrize("back", [True, False], ids=["kafka-back", "kafka-away"])
def test_close_sends_what_the_spool_had_no_room_for_or_says_it_is_lost(
    tmp_path: Path, kafka: FakeKafka, caplog: pytest.LogCaptureFixture, back: bool
) -> None:
    """Records taken that wait in memory (the spool too small for them) are sent by close's
    last drain if Kafka is back; before, flush's SpoolFull skipped the drain and they were lost
    with Kafka up. If Kafka is still away, close raises SpoolFull and logs how many are lost."""
    now = [0.0]
    config = DeliveryConfig(spool_root=tmp_path, spool_max_bytes=1024, drain_batch=10)
    sink = KafkaEventSink(config, "p1", clock=lambda: now[0])
    values = values_of(70)
    for value in values:
        sink.emit_record(record(value))
    kafka.up = False
    now[0] += config.outage_after_s
    sink.emit_record(record(b"last"))  # the outage: 71 taken, in memory
    assert sink.spooling and len(sink.spool) == 0
    kafka.up = back
    if back:
        sink.close()
        assert kafka.written == [*values, b"last"]
    else:
        with pytest.raises(SpoolFull):
            sink.close()
        assert kafka.written == [] and "closing: 71 records taken are lost" in caplog.text


def test_records_behind_a_refusal_are_sent_even_if_the_spool_is_too_small(
    tmp_path: Path, kafka: FakeKafka
) -> None:
    """A refusal in direct mode confirms the records not acknowledged through the spool; a
    spool too small for them neither makes flush raise SpoolFull nor keeps them from Kafka."""
    sink = KafkaEventSink(DeliveryConfig(spool_root=tmp_path, spool_max_bytes=1024), "p1")
    values = values_of(70)
    for value in values[:10]:
        sink.emit_record(record(value))
    sink.emit_record(record(b"bad", key=b"C2"))
    for value in values[10:]:
        sink.emit_record(record(value))
    sink.flush()
    assert kafka.written == values and sink.sent == len(values)
    assert sink.refused == Counter({"InvalidRecordError": 1}) and sink.outages == 0
    assert not sink.spooling and len(sink.spool) == 0
    sink.close()


# -- records the broker refuses (real broker) ------------------------------------------------


@pytest.fixture
def strict_topic(bootstrap: str, unique: str) -> str:
    """A raw topic whose ``max.message.bytes`` is 4096: the broker refuses an 8 KB record
    (kafka-python's own ``max_request_size`` check lets it through)."""
    kafka = KafkaSettings(bootstrap_servers=bootstrap, topic_prefix=unique)
    ensure_topics(bootstrap, [s for s in topic_layout(kafka, ["320000"]) if ".raw." in s.name])
    topic = f"{unique}.raw.320000.calls"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic,
                                        configs={"max.message.bytes": "4096"})])  # fmt: skip
    admin.close()
    deadline = time.monotonic() + 30
    while topic_configs(bootstrap, topic).get("max.message.bytes") != "4096":
        assert time.monotonic() < deadline, "the topic's max.message.bytes was not set"
        time.sleep(0.2)
    return topic


def keyed_records(topic: str, names: str) -> list[OutboundRecord]:
    """One record per letter (its event id), keyed alternately C0, C1; ``X`` is ``BIG``
    (the record :func:`padded` makes too large for the strict topic)."""
    return [
        record(b"BIG" if name == "X" else name.encode(), b"C%d" % (i % 2), topic)
        for i, name in enumerate(names)
    ]


def padded(records: list[OutboundRecord]) -> list[OutboundRecord]:
    """``records`` with the value of ``BIG`` grown by 8 KB of random bytes."""
    return [
        dataclasses.replace(r, value=r.value + os.urandom(8192)) if r.value == b"BIG" else r
        for r in records
    ]


def assert_good_ones_in_kafka_once_in_order(
    bootstrap: str, topic: str, records: list[OutboundRecord]
) -> None:
    good = [(r.header("event_id") or b"").decode() for r in records if r.value != b"BIG"]
    ids = consume_event_ids(bootstrap, [topic], len(good))
    assert sorted(ids) == sorted(good)  # each once
    for key in {r.key for r in records}:
        mine = [(r.header("event_id") or b"").decode() for r in records if r.key == key]
        assert [i for i in ids if i in mine] == [i for i in mine if i != "BIG"]  # in order


@pytest.mark.kafka
def test_direct_mode_dead_letters_only_the_record_the_broker_refuses(
    bootstrap: str, strict_topic: str, tmp_path: Path
) -> None:
    """After the broker refuses a record kafka-python fails every record its producer had
    not acknowledged with the same error: those must go in, not to the dead letters."""
    config = DeliveryConfig(bootstrap_servers=bootstrap, spool_root=tmp_path)
    sink = KafkaEventSink(config, "p1")
    records = keyed_records(strict_topic, "aXbcde")
    for i, r in enumerate(padded(records)):
        sink.emit_record(r)
        if i == 3:  # a, BIG, b, c, then d, e
            sink.flush()
    sink.flush()
    assert (sink.sent, sink.refused) == (5, Counter({"MessageSizeTooLargeError": 1}))
    assert not sink.spooling and len(sink.spool) == 0 and sink.outages == 0
    [(event_id, reason)] = dead_letters(tmp_path)
    assert event_id == "BIG" and "MessageSizeTooLargeError" in reason
    sink.close()
    assert_good_ones_in_kafka_once_in_order(bootstrap, strict_topic, records)


@pytest.mark.kafka
def test_a_drain_dead_letters_only_the_record_the_broker_refuses(
    bootstrap: str, strict_topic: str, tmp_path: Path
) -> None:
    config = DeliveryConfig(bootstrap_servers=bootstrap, spool_root=tmp_path)
    records = keyed_records(strict_topic, "abXcde")
    spool = Spool(config.spool_dir("p1"), config.spool_max_bytes, config.spool_segment_bytes)
    spool.append(padded(records))
    spool.close()
    sink = KafkaEventSink(config, "p1")  # drains the spool first
    assert not sink.spooling and len(sink.spool) == 0
    assert (sink.sent, sink.refused) == (5, Counter({"MessageSizeTooLargeError": 1}))
    [(event_id, reason)] = dead_letters(tmp_path)
    assert event_id == "BIG" and "MessageSizeTooLargeError" in reason
    sink.close()
    assert_good_ones_in_kafka_once_in_order(bootstrap, strict_topic, records)


# -- through an outage (real broker) ---------------------------------------------------------


@pytest.fixture
def own_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    """A broker of this test alone: it is stopped and started, so not the session's one."""
    broker = KafkaBroker(
        tmp_path_factory.mktemp("outage-kafka"),
        port=free_port(),
        controller_port=free_port(),
        heap="384m",
        lib_dir=ROOT / ".hotline" / "kafka" / f"lib-{KAFKA_VERSION}",
    )
    broker.start()
    try:
        broker.wait_ready(timeout=120)
        yield broker
    finally:
        broker.stop(timeout=30)


def consume_event_ids(bootstrap: str, topics: list[str], expected: int) -> list[str]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        parts = [TopicPartition(t, p) for t in topics for p in topic_partitions(consumer, t)]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        ids: list[str] = []
        deadline = time.monotonic() + 60
        while len(ids) < expected and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=1000).values():
                ids += [dict(m.headers)["event_id"].decode() for m in batch]
        for batch in consumer.poll(timeout_ms=2000).values():  # anything extra?
            ids += [dict(m.headers)["event_id"].decode() for m in batch]
        return ids
    finally:
        consumer.close()


OUTAGE_S = 60  # the broker stays away this long (issue 4: "broker stopped for 60 s")


@pytest.mark.kafka
@pytest.mark.slow
def test_outage_with_producer_restart_delivers_every_event_exactly_once(
    own_broker: KafkaBroker, tmp_path: Path
) -> None:
    memory = MemorySink()
    start = datetime(2025, 3, 3, 9, tzinfo=CHINA_TZ)
    config_sim = SimConfig(centers=["C330200", "C320100"], start=start, duration=timedelta(hours=1))
    simulate(config_sim, memory)
    events = memory.events
    assert len(events) > 5000
    kafka = KafkaSettings(bootstrap_servers=own_broker.bootstrap_servers)
    specs = topic_layout(kafka, ["320000", "330000"])
    ensure_topics(own_broker.bootstrap_servers, specs)
    raw = [s.name for s in specs if ".raw." in s.name]

    config = DeliveryConfig(
        bootstrap_servers=own_broker.bootstrap_servers,
        spool_root=tmp_path / "spool",
        outage_after_s=6,  # fresh topics elect leaders in a few seconds: no false outage
        probe_interval_s=0.5,
        request_timeout_ms=3000,
        delivery_timeout_ms=10_000,
        max_block_ms=1000,
        bootstrap_timeout_ms=1000,
        spool_batch=200,
    )
    first, second, third = events[:2000], events[2000:4000], events[4000:]

    sink = KafkaEventSink(config, "sim-outage")
    for event in first:
        sink.emit(event)
    sink.flush()
    assert not sink.spooling and sink.sent == len(first)

    outage_began = time.monotonic()
    own_broker.stop(timeout=30)
    for event in second[:1000]:  # these reach the producer, never the broker
        sink.emit(event)
    time.sleep(config.outage_after_s + 0.5)
    for event in second[1000:]:
        sink.emit(event)
    assert sink.spooling
    sink.close()  # the producer process "restarts" during the outage
    spool_dir = config.spool_dir("sim-outage")
    assert list(spool_dir.glob("*.seg"))

    sink = KafkaEventSink(config, "sim-outage")
    assert sink.spooling and len(sink.spool) == len(second)
    for event in third:
        sink.emit(event)
    sink.flush()
    time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - outage_began)))

    own_broker.start()
    own_broker.wait_ready(timeout=120)
    deadline = time.monotonic() + 90
    while not sink.drain() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not sink.spooling and len(sink.spool) == 0
    sink.close()
    assert not list(spool_dir.glob("*.seg"))

    ids = consume_event_ids(own_broker.bootstrap_servers, raw, len(events))
    expected = [e.envelope.event_id for e in events]
    assert len(ids) == len(expected)
    assert Counter(ids) == Counter(expected)
