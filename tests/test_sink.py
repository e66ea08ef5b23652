"""The ClickHouse sink against the real broker and server: exact tables under redelivery,
replay, kill -9, ClickHouse outage and poison messages; per-province row filters everywhere.

Every test produces derived records (as the streams would) with the codec, runs the sink and
compares the deduplicated tables (FINAL) with what the records say: counts and sums.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import phonenumbers
import pytest
from clickhouse_driver import Client
from fixtures_clickhouse import PASSWORDS, emptied
from kafka import KafkaProducer
from phonenumbers import PhoneNumberType
from typer.testing import CliRunner

from hotline.cli import app
from hotline.infra.clickhouse_server import HOST, ClickHouseServer
from hotline.infra.clickhouse_users import FILTERED_TABLES
from hotline.infra.topics import TopicSpec, ensure_topics, shared_topic, shared_topics
from hotline.regions import default_registry
from hotline.schemas import (
    AgentState,
    AgentStateChanged,
    AgentTimeSnapshot,
    Alert,
    AlertKind,
    BusinessLine,
    CallRecord,
    Channel,
    DeadLetter,
    DeadLetterReason,
    Envelope,
    Level,
    MetricSnapshot,
    QueueSnapshot,
    Record,
    SelfServiceKind,
    Severity,
    SurveyResult,
    TicketCategory,
    TicketCountSnapshot,
    TicketRecord,
    TicketStatus,
    default_codec,
)
from hotline.settings import ClickHouseSettings, KafkaSettings, Settings
from hotline.sinks.rows import TABLES, Routed, place, to_rows
from hotline.sinks.sink import Sink, SinkConfig
from hotline.sinks.writer import Writer

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "hotline"  # the fixture's users.xml grants and filters this database
CODEC = default_codec()
# Recent enough for every TTL, whole hours in China time.
T0 = (datetime.now(UTC) - timedelta(days=3)).replace(minute=0, second=0, microsecond=0)
REGIONS = ("320102", "320205", "330106")  # Nanjing, Wuxi (Jiangsu), Hangzhou (Zhejiang)
# Just outside ClickHouse's DateTime range, which ends 2106-02-07 06:28:15 UTC.
_PAST_2106 = datetime(2106, 2, 7, 6, 29, tzinfo=UTC)
_BEFORE_1970 = datetime(1969, 12, 31, 23, 59, tzinfo=UTC)


# -- data: what the streams would emit, with repeats and older versions after newer ones ---------


@dataclass
class Produced:
    """Messages in send order, and the exact final state they stand for."""

    messages: list[tuple[str, bytes]]  # (role or raw topic suffix, value)
    calls: int
    talk_ms: int
    tickets: int
    snapshot_offered: int
    snapshot_keys: int
    agent_events: int
    alerts: int
    gaps: int
    agent_minutes: int
    staffed_ms: int
    on_call_ms: int
    ticket_minutes: int
    tickets_created: int
    tickets_resolved: int
    tickets_on_time: int


def _call(i: int, version: int) -> CallRecord:
    answered = i % 4 != 0
    return CallRecord(
        call_id=f"c{i}",
        center_id=f"ctr-{REGIONS[i % 3]}",
        region_code=REGIONS[i % 3],
        channel=Channel.PHONE,
        business_line=BusinessLine.PENSION if i % 2 else BusinessLine.MEDICAL,
        agent_id=f"a{i % 5}" if answered else None,
        started_at=T0 + timedelta(seconds=37 * i),
        ended_at=T0 + timedelta(seconds=37 * i + 200) if version > 1 else None,
        queued=True,
        answered=answered,
        abandoned=not answered,
        answered_in_sl=answered and i % 3 != 0,
        wait_ms=1000 * (i % 40),
        talk_ms=(10_000 + i) * version if answered else 0,
        survey_result=SurveyResult.SATISFIED if answered and version > 1 else None,
        version=version,
    )


def _snapshot(region: str, minute: int, version: int) -> MetricSnapshot:
    level = Level.COUNTY
    return MetricSnapshot(
        bucket_start=T0 + timedelta(minutes=minute),
        level=level,
        region_code=region,
        business_line=BusinessLine.PENSION,
        channel=Channel.PHONE,
        version=version,
        offered=10 * version + minute,
        queued=8 * version,
        answered=7 * version,
        answered_in_sl=6 * version,
        survey_responses=3,
        survey_satisfied=2,
        survey_basic=1,
    )


def _agent_time(level: Level, region: str, minute: int, version: int) -> AgentTimeSnapshot:
    ready, on_call, acw = 30_000 - 10_000 * version, 20_000 * version + minute, 5_000
    return AgentTimeSnapshot(
        bucket_start=T0 + timedelta(minutes=minute),
        level=level,
        region_code=region,
        version=version,
        staffed_ms=ready + on_call + acw,
        ready_ms=ready,
        on_call_ms=on_call,
        acw_ms=acw,
        not_ready_ms=1_000 * version,
    )


def _ticket_count(
    level: Level, region: str, minute: int, category: TicketCategory, version: int
) -> TicketCountSnapshot:
    return TicketCountSnapshot(
        bucket_start=T0 + timedelta(minutes=minute),
        level=level,
        region_code=region,
        category=category,
        version=version,
        created=3 * version + minute % 5,
        resolved=2 * version,
        resolved_on_time=version + (1 if category == TicketCategory.COMPLAINT else 0),
    )


def _ticket(i: int, version: int) -> TicketRecord:
    resolved = version > 1
    created = T0 + timedelta(minutes=i)
    return TicketRecord(
        ticket_id=f"t{i}",
        center_id=f"ctr-{REGIONS[i % 3]}",
        region_code=REGIONS[i % 3],
        category=TicketCategory.COMPLAINT,
        business_line=BusinessLine.PENSION,
        status=TicketStatus.RESOLVED if resolved else TicketStatus.CREATED,
        created_at=created,
        due_at=created + timedelta(days=2),
        resolved_at=created + timedelta(days=1) if resolved else None,
        on_time=True if resolved else None,
        as_of=created + timedelta(days=version),
        version=version,
    )


def _agent_event(i: int) -> AgentStateChanged:
    state = (AgentState.LOGGED_IN, AgentState.READY, AgentState.ON_CALL, AgentState.READY)[i % 4]
    return AgentStateChanged(
        envelope=Envelope(
            event_id=f"00000000-0000-4000-8000-{i:012d}",
            event_type="agent.state",
            occurred_at=T0 + timedelta(minutes=5 * i),
            center_id="ctr-320102",
            region_code="320102",
            producer_id="acd-1",
            sequence=i,
        ),
        agent_id="a1",
        state=state,
    )


def _alert(i: int, kind: AlertKind) -> Alert:
    return Alert(
        alert_id=f"{kind.value}-{i}",
        kind=kind,
        severity=Severity.WARNING,
        region_code=REGIONS[i % 3],
        opened_at=T0 + timedelta(minutes=i),
        message=f"alert {i}",
        dedupe_key=f"{kind.value}:{i}",
        version=1,
    )


def _queue(i: int) -> QueueSnapshot:
    center, home = (("C320100", "320100"), ("C330100", "330100"), ("C320200", "320200"))[i % 3]
    return QueueSnapshot(
        center_id=center,
        region_code=home,
        as_of=T0 + timedelta(seconds=i),
        waiting=i,
        longest_wait_ms=1000 * i,
    )


def make_data(n_calls: int = 300, tag: str = "") -> Produced:
    def enc(record: Record) -> bytes:
        return CODEC.encode_model(record)

    messages: list[tuple[str, bytes]] = []
    for i in range(n_calls):
        first, final = enc(_call(i, 1)), enc(_call(i, 2))
        messages += [("call_records", first), ("call_records", final)]
        if i % 3 == 0:  # a repeat, and an older version after the newer one
            messages += [("call_records", final), ("call_records", first)]
    snapshot_offered = 0
    keys = [(r, m) for r in REGIONS for m in range(0, 150, 7)]  # spans three hours
    for region, minute in keys:
        messages += [("metric_snapshots", enc(_snapshot(region, minute, v))) for v in (1, 2, 1, 2)]
        snapshot_offered += _snapshot(region, minute, 2).offered
    agent_keys = [(Level.COUNTY, r) for r in REGIONS] + [
        (Level.CITY, "320100"),
        (Level.PROVINCE, "320000"),
        (Level.NATIONAL, "000000"),
    ]
    agent_minutes = [(level, r, m) for level, r in agent_keys for m in range(0, 150, 29)]
    for level, region, minute in agent_minutes:
        messages += [
            ("agent_time", enc(_agent_time(level, region, minute, v))) for v in (1, 2, 2, 1)
        ]
    staffed = sum(_agent_time(*key, 2).staffed_ms for key in agent_minutes)
    on_call = sum(_agent_time(*key, 2).on_call_ms for key in agent_minutes)
    ticket_minutes = [
        (level, r, m, category)
        for level, r in agent_keys
        for m in range(0, 150, 37)
        for category in (TicketCategory.COMPLAINT, TicketCategory.DANGEROUS_CALL)
    ]
    for level, region, minute, category in ticket_minutes:
        messages += [
            ("ticket_counts", enc(_ticket_count(level, region, minute, category, v)))
            for v in (2, 1, 2, 1)
        ]
    final_counts = [_ticket_count(*key, 2) for key in ticket_minutes]
    for i in range(30):
        messages += [("ticket_records", enc(_ticket(i, v))) for v in (1, 2, 1)]
    messages += [("agents", enc(_agent_event(i))) for i in range(12)] * 2
    messages += [("alerts", enc(_alert(i, AlertKind.THRESHOLD))) for i in range(6)] * 2
    messages += [("sequence_gaps", enc(_alert(i, AlertKind.SEQUENCE_GAP))) for i in range(4)]
    messages += [("queues", enc(_queue(i))) for i in range(6)]
    talk = sum(_call(i, 2).talk_ms for i in range(n_calls))
    return Produced(
        messages,
        n_calls,
        talk,
        30,
        snapshot_offered,
        len(keys),
        12,
        6,
        4,
        len(agent_minutes),
        staffed,
        on_call,
        len(ticket_minutes),
        sum(c.created for c in final_counts),
        sum(c.resolved for c in final_counts),
        sum(c.resolved_on_time for c in final_counts),
    )


# -- fixtures ------------------------------------------------------------------------------------


@pytest.fixture
def admin(clickhouse_client: Client) -> Client:
    """Admin client with the project schema migrated and every table empty."""
    return emptied(clickhouse_client, DATABASE)


@pytest.fixture
def settings(bootstrap: str, unique: str, clickhouse_settings: ClickHouseSettings) -> Settings:
    kafka = KafkaSettings(bootstrap_servers=bootstrap, topic_prefix=unique, shared_partitions=2)
    specs = [*shared_topics(kafka), TopicSpec(f"{unique}.raw.320000.agents", 2, {})]
    ensure_topics(bootstrap, specs)
    return Settings(kafka=kafka, clickhouse=clickhouse_settings)


def produce(settings: Settings, messages: list[tuple[str, bytes]]) -> None:
    producer = KafkaProducer(bootstrap_servers=settings.kafka.bootstrap_servers, acks="all")
    prefix = settings.kafka.topic_prefix
    for i, (role, value) in enumerate(messages):
        topic = (
            f"{prefix}.raw.320000.agents"
            if role == "agents"
            else shared_topic(settings.kafka, role)
        )
        producer.send(topic, key=str(i % 7).encode(), value=value)
    producer.flush()
    producer.close()


class SinkThread:
    """A sink running in a thread of the test process."""

    def __init__(self, settings: Settings, config: SinkConfig) -> None:
        self.sink = Sink(settings, config)
        self.thread = threading.Thread(target=self.sink.run, daemon=True)

    def __enter__(self) -> Sink:
        self.thread.start()
        return self.sink

    def __exit__(self, *_: object) -> None:
        self.sink.stop()
        self.thread.join(60)
        assert not self.thread.is_alive()


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def wait_for_dead_letters(admin: Client, sink: Sink, messages: int, dead: int) -> None:
    """Wait until ``sink`` has read ``messages`` messages and ``dead`` dead letters are stored."""
    wait_for(lambda: sink.stats.messages == messages, 60, "all messages")
    wait_for(
        lambda: admin.execute(f"SELECT count() FROM {DATABASE}.dead_letters")[0][0] == dead,
        30,
        "dead letters",
    )


def assert_committed_to_the_end(settings: Settings, group: str, roles: list[str]) -> None:
    """The broker's committed offsets of ``group`` equal the end offsets of every partition of
    the shared topics ``roles``: nothing left to read, nothing to read again."""
    from kafka import KafkaConsumer, TopicPartition

    probe = KafkaConsumer(
        bootstrap_servers=settings.kafka.bootstrap_servers, group_id=group, enable_auto_commit=False
    )
    try:
        parts = [
            TopicPartition(topic, p)
            for topic in (shared_topic(settings.kafka, role) for role in roles)
            for p in sorted(probe.partitions_for_topic(topic) or ())
        ]
        assert parts
        committed = {tp: probe.committed(tp) or 0 for tp in parts}  # None: empty, never read
        assert committed == probe.end_offsets(parts)
    finally:
        probe.close()


def state(admin: Client) -> dict[str, tuple[object, ...]]:
    """Everything the tests compare, read deduplicated."""
    db = DATABASE
    queries = {
        "calls": f"SELECT count(), sum(talk_ms), sum(answered) FROM {db}.call_records FINAL",
        "tickets": f"SELECT count(), countIf(on_time = 1) FROM {db}.tickets FINAL",
        "history": f"SELECT count() FROM {db}.ticket_history FINAL",
        "minute": f"SELECT count(), sum(offered), sum(answered) FROM {db}.metric_minute FINAL",
        "hour": f"SELECT count(), sum(offered), sum(answered) FROM {db}.metric_hour FINAL",
        "day": f"SELECT count(), sum(offered) FROM {db}.metric_day FINAL",
        "month": f"SELECT count(), sum(offered) FROM {db}.metric_month FINAL",
        "agents": f"SELECT count() FROM {db}.agent_states FINAL",
        "agent_minute": f"SELECT count(), sum(staffed_ms), sum(on_call_ms), max(version) "
        f"FROM {db}.agent_minute FINAL",
        "occupancy": f"SELECT sum(staffed_ms) FROM {db}.region_occupancy",
        "ticket_minute": f"SELECT count(), sum(created), sum(resolved), sum(resolved_on_time), "
        f"max(version) FROM {db}.ticket_minute FINAL",
        "ticket_days": f"SELECT sum(created), sum(resolved), sum(resolved_on_time) "
        f"FROM {db}.region_ticket_rates",
        "alerts": f"SELECT count() FROM {db}.alerts FINAL",
        "gaps": f"SELECT count() FROM {db}.sequence_gaps FINAL",
        "dead": f"SELECT count() FROM {db}.dead_letters FINAL",
        "rates": f"SELECT sum(offered), sum(answered) FROM {db}.metric_rates "
        "WHERE grain = 'year' AND business_line = 'all' AND channel = 'all'",
    }
    return {name: admin.execute(sql)[0] for name, sql in queries.items()}


def expected(data: Produced) -> dict[str, tuple[object, ...]]:
    answered_calls = sum(1 for i in range(data.calls) if i % 4 != 0)
    minute_answered = 14 * data.snapshot_keys
    return {
        "calls": (data.calls, data.talk_ms, answered_calls),
        "tickets": (data.tickets, data.tickets),
        "history": (2 * data.tickets,),
        "minute": (data.snapshot_keys, data.snapshot_offered, minute_answered),
        "agents": (data.agent_events,),
        "agent_minute": (data.agent_minutes, data.staffed_ms, data.on_call_ms, 2),
        "occupancy": (data.staffed_ms,),
        "ticket_minute": (
            data.ticket_minutes,
            data.tickets_created,
            data.tickets_resolved,
            data.tickets_on_time,
            2,
        ),
        "ticket_days": (data.tickets_created, data.tickets_resolved, data.tickets_on_time),
        "alerts": (data.alerts,),
        "gaps": (data.gaps,),
        "rates": (data.snapshot_offered, minute_answered),
    }


def assert_exact(admin: Client, data: Produced) -> dict[str, tuple[object, ...]]:
    got = state(admin)
    for name, want in expected(data).items():
        assert got[name] == want, name
    for grain in ("hour", "day", "month"):
        assert got[grain][1] == data.snapshot_offered, grain
    return got


def caught_up(admin: Client, data: Produced) -> Callable[[], bool]:
    def check() -> bool:
        got = state(admin)
        return all(got[name] == want for name, want in expected(data).items())

    return check


# -- tests ---------------------------------------------------------------------------------------


def test_end_to_end_then_replay_changes_nothing(admin: Client, settings: Settings) -> None:
    data = make_data()
    produce(settings, data.messages)
    config = SinkConfig(group_id=f"{settings.kafka.topic_prefix}-a", batch_rows=200, max_wait_s=0.5)
    with SinkThread(settings, config) as sink:
        wait_for(lambda: sink.stats.messages == len(data.messages), 90, "the sink to read all")
        wait_for(caught_up(admin, data), 30, "exact tables")
    first = assert_exact(admin, data)
    assert first["dead"] == (0,)

    # The same offsets again: a fresh group reads every partition from offset 0.
    replay = config.model_copy(update={"group_id": f"{settings.kafka.topic_prefix}-b"})
    with SinkThread(settings, replay) as sink:
        wait_for(lambda: sink.stats.messages == len(data.messages), 90, "the replay")
        time.sleep(1.5)  # the last flush
    assert state(admin) == first


def test_poison_messages_go_to_dead_letters_and_are_committed_past(
    admin: Client,
    settings: Settings,
    clickhouse: ClickHouseServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="hotline.sinks.sink")
    good = CODEC.encode_model(_call(1, 2))
    bad_region = CODEC.encode("call.record", {**_call(2, 2).to_avro(), "region_code": "999999"})
    # fits the Avro long but not the UInt32 column: used to stop the sink at every restart
    too_long = CODEC.encode(
        "call.record", {**_call(3, 2).to_avro(), "service_level_threshold_ms": 2**32}
    )
    # a minute ClickHouse's DateTime cannot hold: the same, with the INSERT of every snapshot
    # of its batch; the edges of that range are rows (and their rollups)
    snapshot = _snapshot("320102", 0, 1)
    edges = [
        CODEC.encode_model(snapshot.model_copy(update={"bucket_start": instant}))
        for instant in (datetime(1970, 1, 1, tzinfo=UTC), datetime(2106, 2, 7, 6, 28, tzinfo=UTC))
    ]
    too_late = CODEC.encode("metric.snapshot", {**snapshot.to_avro(), "bucket_start": _PAST_2106})
    messages = [
        ("call_records", b"\x00not avro at all"),
        ("call_records", bad_region),
        ("call_records", too_long),
        ("call_records", good),
        ("alerts", good),  # a call record is fine, but on the alerts topic it is routed anyway
        ("metric_snapshots", too_late),
        *(("metric_snapshots", edge) for edge in edges),
    ]
    produce(settings, messages)
    config = SinkConfig(
        group_id=f"{settings.kafka.topic_prefix}-p", max_wait_s=0.3, progress_every_s=0.1
    )
    with SinkThread(settings, config) as sink:
        wait_for_dead_letters(admin, sink, len(messages), 4)
        assert sink.stats.dead_letters == 4
        wait_for(lambda: sink.stats.committed == len(messages), 30, "the commit")
    progress = [r.getMessage() for r in caplog.records if r.getMessage().startswith("sink: ")]
    assert progress and progress[-1].startswith("sink: 8 messages committed (")
    assert progress[-1].endswith("4 dead letters, 0 retries since start")
    rows = admin.execute(
        f"SELECT reason, error_type, error_detail, base64Decode(original_base64), stage "
        f"FROM {DATABASE}.dead_letters ORDER BY reason DESC, error_detail"
    )
    assert rows[0][0] == "undecodable" and rows[0][1] == "CodecError"
    assert rows[0][3] == "\x00not avro at all"
    assert rows[1][0] == "invalid" and "region_code" in rows[1][2]
    assert rows[2][0] == "invalid" and "service_level_threshold_ms" in rows[2][2]
    assert rows[3][0] == "invalid" and "bucket_start 2106-02-07T06:29:00" in rows[3][2]
    assert {r[4] for r in rows} == {"sinks.clickhouse"}
    assert admin.execute(f"SELECT count() FROM {DATABASE}.call_records FINAL") == [(1,)]
    for table in ("metric_minute", "metric_hour", "metric_day", "metric_month"):
        assert admin.execute(f"SELECT count() FROM {DATABASE}.{table} FINAL") == [(2,)], table
    # Jiangsu's user sees the dead letters of Jiangsu's records (Nanjing's), and only those.
    jiangsu = Client(
        HOST, port=clickhouse.tcp_port, user="analyst_320000", password=PASSWORDS["analyst_320000"]
    )
    try:
        seen = jiangsu.execute(
            f"SELECT region_code, province_code, error_detail FROM {DATABASE}.dead_letters "
            "ORDER BY error_detail"
        )
    finally:
        jiangsu.disconnect()
    assert [(region, province) for region, province, _ in seen] == [("320102", "320000")] * 2
    assert "service_level_threshold_ms" in seen[0][2] and "bucket_start" in seen[1][2]
    # Committed past: the group's offsets are at the end of every partition it read.
    assert_committed_to_the_end(settings, config.group_id, ["call_records", "alerts"])


def test_dead_letter_originals_reach_clickhouse_masked_or_byte_for_byte(
    admin: Client, settings: Settings, clickhouse: ClickHouseServer
) -> None:
    """docs/privacy.md, "Dead letters": a number in clear in a string field of an original that
    is no caller field (an agent id) no longer reaches ``dead_letters.original_base64`` in clear,
    whether the sink or an older worker dead-lettered it; a valid late event's original, with
    ids of long digit runs of a known shape, stays byte for byte (replayable)."""
    mobile = str(phonenumbers.example_number_for_type("CN", PhoneNumberType.MOBILE).national_number)
    bad_call = CODEC.encode(
        "call.record", {**_call(2, 2).to_avro(), "region_code": "999999", "agent_id": mobile}
    )
    late = _agent_event(1).to_avro()
    late["envelope"].update(center_id="C320100", producer_id="ql.C320100.queue_log")
    late["agent_id"] = "C320100:Local:8008_from-queue:n.608426"
    late_event = CODEC.encode("agent.state", late)
    leaky_event = CODEC.encode("agent.state", {**late, "agent_id": mobile})

    def worker(reason: DeadLetterReason, original: bytes, detail: str, offset: int) -> bytes:
        return CODEC.encode_model(
            DeadLetter(
                reason=reason,
                stage="streams.ingest",
                source_topic="hotline.raw.320000.agents",
                source_partition=0,
                source_offset=offset,
                original=original,
                error_type="LateEvent" if reason == DeadLetterReason.LATE else "CodecError",
                error_detail=detail,
                failed_at=T0,
            )
        )

    messages = [
        ("call_records", bad_call),
        ("dead_letters", worker(DeadLetterReason.LATE, late_event, "late", 7)),
        ("dead_letters", worker(DeadLetterReason.INVALID, leaky_event, "an older worker's", 8)),
    ]
    produce(settings, messages)
    config = SinkConfig(group_id=f"{settings.kafka.topic_prefix}-m", max_wait_s=0.3)
    with SinkThread(settings, config) as sink:
        wait_for_dead_letters(admin, sink, len(messages), 3)
    rows = {
        (stage, reason): (detail, base64.b64decode(original))
        for stage, reason, detail, original in admin.execute(
            f"SELECT stage, reason, error_detail, original_base64 FROM {DATABASE}.dead_letters"
        )
    }
    assert rows[("streams.ingest", "late")] == ("late", late_event)
    for key, data, field in (
        (("sinks.clickhouse", "invalid"), bad_call, "agent_id"),
        (("streams.ingest", "invalid"), leaky_event, "agent_id"),
    ):
        detail, original = rows[key]
        assert detail.startswith(f"original masked: {field} held a run of 5+ digits"), key
        assert mobile.encode() not in original and len(original) == len(data)
        assert CODEC.decode_as_written(original)[1][field] == "*" * 9 + mobile[-2:]


def test_clickhouse_down_mid_run_loses_nothing(
    admin: Client, settings: Settings, clickhouse: ClickHouseServer, tmp_path: Path
) -> None:
    """… and the sink stays alive meanwhile: it keeps writing its status file while it
    retries, and ``hotline health`` shows the retries and exits 0."""
    data = make_data(n_calls=200)
    half = len(data.messages) // 2
    produce(settings, data.messages[:half])
    config = SinkConfig(
        group_id=f"{settings.kafka.topic_prefix}-d",
        batch_rows=100,
        max_wait_s=0.3,
        backoff_initial_s=0.5,
        backoff_max_s=4,
        max_poll_records=100,
        status_file=tmp_path / "sink-status.json",
    )
    with SinkThread(settings, config) as sink:
        wait_for(lambda: sink.stats.flushes > 0, 60, "a first flush")
        clickhouse.stop(timeout=10)
        try:
            produce(settings, data.messages[half:])
            # a write must fail and be retried; on a loaded machine the first attempt can take
            # a while (the driver's timeouts), so wait for it rather than for a fixed time
            wait_for(lambda: sink.stats.retries > 0, 90, "a failed write retried")
            read_while_down = sink.stats.messages
            written_while_down = _status_written(config)
            time.sleep(3)
            assert sink.stats.messages == read_while_down  # paused: memory stays bounded
            assert _status_written(config) > written_while_down  # alive while it retries
            health = CliRunner().invoke(app, ["health", str(config.status_file)])
            assert health.exit_code == 0, health.output
            assert re.search(r", retries [1-9]\d*$", health.stdout.splitlines()[1]), health.stdout
        finally:
            clickhouse.start()
            clickhouse.wait_ready(60)
        wait_for(lambda: sink.stats.messages == len(data.messages), 90, "the rest")
        wait_for(caught_up(admin, data), 60, "exact tables after the outage")
    assert_exact(admin, data)


def _status_written(config: SinkConfig) -> float:
    """When the sink last wrote its status file (``at``)."""
    assert config.status_file is not None
    return json.loads(config.status_file.read_text())["at"]


def test_a_stop_while_clickhouse_is_down_leaves_uncommitted_and_loses_nothing(
    admin: Client, settings: Settings, clickhouse: ClickHouseServer
) -> None:
    """Stopped while ClickHouse is away, the sink leaves without waiting for it and without
    committing; a restart once ClickHouse is back writes everything. Before the fix the stop
    waited for ClickHouse (the thread never ended)."""
    from kafka import KafkaConsumer, TopicPartition

    data = make_data(n_calls=100)
    produce(settings, data.messages)
    config = SinkConfig(
        group_id=f"{settings.kafka.topic_prefix}-s", max_wait_s=0.3, backoff_max_s=15
    )
    clickhouse.stop(timeout=10)
    try:
        with SinkThread(settings, config) as sink:
            wait_for(lambda: sink.stats.retries > 0, 90, "a failed write retried")
        assert sink.stats.committed == 0
    finally:
        clickhouse.start()
        clickhouse.wait_ready(60)
    probe = KafkaConsumer(
        bootstrap_servers=settings.kafka.bootstrap_servers,
        group_id=config.group_id,
        enable_auto_commit=False,
    )
    try:
        topic = shared_topic(settings.kafka, "call_records")
        parts = [TopicPartition(topic, p) for p in sorted(probe.partitions_for_topic(topic))]
        assert [probe.committed(tp) for tp in parts] == [None] * len(parts)
    finally:
        probe.close()
    with SinkThread(settings, config):
        wait_for(caught_up(admin, data), 90, "exact tables after the restart")
    assert_exact(admin, data)


def test_sink_killed_mid_batch_and_restarted_is_exact(
    admin: Client, settings: Settings, tmp_path: Path
) -> None:
    # enough that the sink cannot write it all between its first row and the kill (with 600
    # calls a fresh-clone CI run once saw everything written before the kill landed)
    data = make_data(n_calls=2400)
    produce(settings, data.messages)
    env = {
        **os.environ,
        "HOTLINE_KAFKA__BOOTSTRAP_SERVERS": settings.kafka.bootstrap_servers,
        "HOTLINE_KAFKA__TOPIC_PREFIX": settings.kafka.topic_prefix,
        "HOTLINE_CLICKHOUSE__HOST": HOST,
        "HOTLINE_CLICKHOUSE__PORT": str(settings.clickhouse.port),
        "HOTLINE_CLICKHOUSE__DATABASE": DATABASE,
    }
    command = [
        sys.executable, "-m", "hotline", "sink",
        "--group", f"{settings.kafka.topic_prefix}-k", "--batch-rows", "50", "--max-wait", "5",
        "--max-poll-records", "100",
    ]  # fmt: skip
    log = (tmp_path / "sink.log").open("wb")
    first = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=log, stderr=log)
    try:
        wait_for(
            lambda: admin.execute(f"SELECT count() FROM {DATABASE}.call_records")[0][0] > 0,
            60,
            "the first rows",
        )
        first.send_signal(signal.SIGKILL)  # mid-run: rows written, offsets partly committed
        first.wait(10)
        assert not caught_up(admin, data)()  # it really died halfway
        second = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=log, stderr=log)
        try:
            wait_for(caught_up(admin, data), 120, "exact tables after the restart")
            wait_for(
                lambda: (tmp_path / "sink.log").read_text().count("sink subscribed") == 2,
                30,
                "the second sink to run",
            )
        finally:
            second.send_signal(signal.SIGTERM)
            assert second.wait(30) == 0
    finally:
        if first.poll() is None:
            first.kill()
    assert_exact(admin, data)


# Tables this test's data leaves empty or national: the filter is checked, not the contents.
NOT_FROM_THIS_DATA = {
    "dead_letters",
    "ticket_backlog",
    "agent_states",
    "agent_time",
    "qa_evaluations",  # quality evaluations are imported, not sunk
    "qa_center_coverage",
    "qa_live_unreachable_days",
}


def test_jiangsu_analyst_sees_only_jiangsu_through_every_table_and_view(
    admin: Client, settings: Settings, clickhouse: ClickHouseServer
) -> None:
    data = make_data(n_calls=60)
    produce(settings, data.messages)
    config = SinkConfig(group_id=f"{settings.kafka.topic_prefix}-f", max_wait_s=0.3)
    with SinkThread(settings, config) as sink:
        wait_for(lambda: sink.stats.messages == len(data.messages), 60, "all messages")
        wait_for(caught_up(admin, data), 30, "exact tables")
    jiangsu = Client(
        HOST, port=clickhouse.tcp_port, user="analyst_320000", password=PASSWORDS["analyst_320000"]
    )
    try:
        for table in FILTERED_TABLES:
            sql = f"SELECT count(), countIf(province_code != '320000') FROM {DATABASE}.{table.name}"
            seen, foreign = jiangsu.execute(sql)[0]
            everything = admin.execute(
                f"SELECT count(), countIf(province_code = '320000') FROM {DATABASE}.{table.name}"
            )[0]
            assert foreign == 0, table.name
            assert seen == everything[1], table.name
            if table.name not in NOT_FROM_THIS_DATA:
                assert everything[0] > seen > 0, table.name
    finally:
        jiangsu.disconnect()


def test_rows_are_placed_by_the_region_registry_not_by_digits() -> None:
    registry = default_registry()
    assert place(registry, "call_records", "320102") == ("320000", "320100")
    assert place(registry, "call_records", "659001") == ("660000", "659001")  # 石河子, the Corps
    assert place(registry, "call_records", "429004") == ("420000", "429004")  # 仙桃
    assert place(registry, "call_records", "110101") == ("110000", "110100")  # 东城区
    assert place(registry, "metric_minute", "000000") == ("000000",)
    assert place(registry, "agent_minute", "000000") == ("000000",)
    assert place(registry, "agent_minute", "659001") == ("660000",)
    assert place(registry, "ticket_minute", "000000") == ("000000",)
    assert place(registry, "ticket_minute", "429004") == ("420000",)  # 仙桃


def test_agent_time_snapshots_become_agent_minute_rows_of_whole_minutes() -> None:
    snapshot = _agent_time(Level.NATIONAL, "000000", 3, 2)
    [routed] = to_rows(CODEC, CODEC.encode_model(snapshot), topic="t", partition=0, offset=0)
    assert routed.table == "agent_minute"
    assert dict(zip(TABLES["agent_minute"], routed.row, strict=True)) == {
        "level": "national",
        "region_code": "000000",
        "bucket_start": T0 + timedelta(minutes=3),
        "staffed_ms": 55_003,
        "ready_ms": 10_000,
        "on_call_ms": 40_003,
        "acw_ms": 5_000,
        "not_ready_ms": 2_000,
        "version": 2,
        "province_code": "000000",
    }
    five = CODEC.encode("agent_time.snapshot", {**snapshot.to_avro(), "bucket_seconds": 300})
    [dead] = to_rows(CODEC, five, topic="t", partition=0, offset=1)
    assert dead.table == "dead_letters" and dead.row[1] == "invalid"
    assert "bucket_seconds 300 != 60" in dead.row[7]


def test_ticket_count_snapshots_become_ticket_minute_rows_of_whole_minutes() -> None:
    snapshot = _ticket_count(Level.CITY, "659001", 7, TicketCategory.DANGEROUS_CALL, 3)
    [routed] = to_rows(CODEC, CODEC.encode_model(snapshot), topic="t", partition=0, offset=0)
    assert routed.table == "ticket_minute"
    assert dict(zip(TABLES["ticket_minute"], routed.row, strict=True)) == {
        "level": "city",
        "region_code": "659001",
        "bucket_start": T0 + timedelta(minutes=7),
        "category": "dangerous_call",
        "created": 11,
        "resolved": 6,
        "resolved_on_time": 3,
        "version": 3,
        "province_code": "660000",  # the Corps' city: by the registry, not by its digits
    }
    five = CODEC.encode("ticket_count.snapshot", {**snapshot.to_avro(), "bucket_seconds": 300})
    [dead] = to_rows(CODEC, five, topic="t", partition=0, offset=1)
    assert dead.table == "dead_letters" and dead.row[1] == "invalid"
    assert "bucket_seconds 300 != 60" in dead.row[7]


def test_partition_assigned_while_retrying_is_not_skipped(
    admin: Client, settings: Settings, clickhouse: ClickHouseServer
) -> None:
    """A second member leaves while the sink retries a failed write: the partition it held
    comes to the sink unpaused (kafka-python gives a newly assigned partition a fresh state),
    and the retry loop's polls read its records. They must be written, not dropped: before the
    fix every record of that partition polled during the outage was skipped and committed past.
    """
    from kafka import KafkaConsumer

    from hotline.sinks.sink import topic_pattern

    topic = shared_topic(settings.kafka, "call_records")
    group = f"{settings.kafka.topic_prefix}-r"
    t0 = (datetime.now(UTC) - timedelta(days=1)).replace(microsecond=0)
    producer = KafkaProducer(bootstrap_servers=settings.kafka.bootstrap_servers, acks="all")

    def send(first: int, last: int) -> None:
        for i in range(first, last):
            call = CallRecord(
                call_id=f"r{i}",
                center_id="C320100",
                region_code="320102",
                channel=Channel.PHONE,
                business_line=BusinessLine.PENSION,
                started_at=t0 + timedelta(seconds=i),
                version=1,
            )
            producer.send(topic, CODEC.encode_model(call), partition=i % 2)
        producer.flush()

    def calls() -> int:
        return admin.execute(f"SELECT count() FROM {DATABASE}.call_records FINAL")[0][0]

    send(0, 100)  # 50 per partition
    other = KafkaConsumer(
        bootstrap_servers=settings.kafka.bootstrap_servers,
        group_id=group,
        enable_auto_commit=False,
        client_id="other-member",
    )
    other.subscribe(pattern=topic_pattern(settings, agent_states=True))
    config = SinkConfig(
        group_id=group, max_wait_s=0.3, backoff_initial_s=0.5, backoff_max_s=1, max_poll_records=20
    )
    sink_thread = SinkThread(settings, config)
    sink = sink_thread.sink
    clickhouse.stop(timeout=10)  # down before the sink's first write
    down = True

    def assigned(consumer: KafkaConsumer | None) -> set[int]:
        if consumer is None:
            return set()
        return {tp.partition for tp in list(consumer.assignment()) if tp.topic == topic}

    try:
        with sink_thread:
            # Both members in the group, each with one partition of call_records; the sink
            # retrying its first write. A member keeps its old assignment until it has taken
            # part in the rebalance (kafka-python), so wait for the two views to agree.
            deadline = time.monotonic() + 60
            while not (
                len(assigned(other)) == 1
                and assigned(sink._consumer) == {0, 1} - assigned(other)
                and sink.stats.retries > 0
            ):
                assert time.monotonic() < deadline, "the group did not balance"
                other.poll(timeout_ms=200)
            other.close(autocommit=False)  # leaves: its partition goes to the retrying sink
            other = None
            wait_for(lambda: assigned(sink._consumer) == {0, 1}, 30, "the sink to get both")
            retries = sink.stats.retries
            wait_for(lambda: sink.stats.retries >= retries + 2, 30, "retries after the move")
            clickhouse.start()  # ClickHouse back
            clickhouse.wait_ready(60)
            down = False
            send(100, 110)  # live traffic on both partitions
            wait_for(lambda: calls() == 110, 30, "every call written")
            wait_for(lambda: sink.stats.committed >= 110, 30, "the commit")
    finally:
        if down:
            clickhouse.start()
            clickhouse.wait_ready(60)
        if other is not None:
            other.close(autocommit=False)
        producer.close()
    assert calls() == 110
    assert_committed_to_the_end(settings, group, ["call_records"])


@pytest.mark.parametrize(
    ("record_type", "record", "column", "instant"),
    [
        ("metric.snapshot", _snapshot("320102", 0, 1), "bucket_start", _PAST_2106),
        ("metric.snapshot", _snapshot("320102", 0, 1), "bucket_start", _BEFORE_1970),
        (
            "agent_time.snapshot",
            _agent_time(Level.CITY, "320100", 0, 1),
            "bucket_start",
            _PAST_2106,
        ),
        (
            "ticket_count.snapshot",
            _ticket_count(Level.CITY, "320100", 0, TicketCategory.COMPLAINT, 1),
            "bucket_start",
            _BEFORE_1970,
        ),
        # call_records.day (a Date) wrapped round: a call of 2200 was stored on 2020-07-27
        ("call.record", _call(1, 2), "started_at", datetime(2200, 1, 1, tzinfo=UTC)),
        ("call.record", _call(1, 2), "ended_at", datetime(1960, 1, 1, tzinfo=UTC)),
        ("ticket.record", _ticket(1, 2), "due_at", datetime(2300, 1, 1, tzinfo=UTC)),
        ("alert.record", _alert(1, AlertKind.THRESHOLD), "opened_at", _BEFORE_1970),
        ("queue.snapshot", _queue(1), "as_of", _PAST_2106),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_an_instant_clickhouse_cannot_store_is_a_dead_letter(
    record_type: str, record: Record, column: str, instant: datetime
) -> None:
    """Outside DateTime's range (1970-01-01 … 2106-02-07 06:28:15 UTC) a minute bucket failed
    its INSERT (a ClickHouse error that is not retried: the sink stopped, at every restart
    again) and a call's China `day` wrapped round; now such a record is a dead letter naming
    the column."""
    value = CODEC.encode(record_type, {**record.to_avro(), column: instant})
    [dead] = to_rows(CODEC, value, topic="t", partition=0, offset=0)
    assert dead.table == "dead_letters" and dead.row[1] == "invalid"
    assert f"{column} {instant.isoformat()} is outside" in dead.row[7]


def test_an_agent_event_clickhouse_cannot_store_is_a_dead_letter() -> None:
    event = _agent_event(1).to_avro()
    event["envelope"]["occurred_at"] = _PAST_2106
    [dead] = to_rows(CODEC, CODEC.encode("agent.state", event), topic="t", partition=0, offset=0)
    assert dead.table == "dead_letters" and "occurred_at 2106-02-07T06:29:00+00:00" in dead.row[7]


def test_the_edges_of_what_clickhouse_stores_are_rows() -> None:
    for instant in (datetime(1970, 1, 1, tzinfo=UTC), datetime(2106, 2, 7, 6, 28, tzinfo=UTC)):
        snapshot = _snapshot("320102", 0, 1).model_copy(update={"bucket_start": instant})
        [routed] = to_rows(CODEC, CODEC.encode_model(snapshot), topic="t", partition=0, offset=0)
        assert routed.table == "metric_minute"


def _where(routed: list[Routed]) -> tuple[str, str, str]:
    [dead] = routed
    row = dict(zip(TABLES["dead_letters"], dead.row, strict=True))
    return row["stage"], row["region_code"], row["province_code"]


def test_a_dead_letter_is_in_the_province_it_came_from() -> None:
    """analyst_<province> reads dead_letters filtered on province_code, and the streams raise a
    dead-letter spike per province; but every row had region '' (so province ''): no province
    user ever saw one. Now: the record's region when it decoded with one the registry places,
    else the province of the raw topic it came from, else ''."""
    worker = DeadLetter(
        reason=DeadLetterReason.INVALID,
        stage="streams.ingest",
        source_topic="hotline.raw.660000.calls",  # the Corps' raw topic
        source_partition=1,
        source_offset=7,
        original=b"\x00bad",
        error_type="ContractViolation",
        error_detail="…",
        failed_at=T0,
    )
    bad_call = CODEC.encode("call.record", {**_call(1, 2).to_avro(), "region_code": "659001"})
    bad_call = CODEC.encode(
        "call.record", {**CODEC.decode(bad_call)[1], "service_level_threshold_ms": 2**32}
    )
    bad_agent = _agent_event(1).to_avro()
    bad_agent["envelope"]["occurred_at"] = _PAST_2106

    def rows(value: bytes, topic: str) -> list[Routed]:
        return to_rows(CODEC, value, topic=topic, partition=0, offset=0)

    dead_letters = "hotline.dead-letters"
    assert _where(rows(CODEC.encode_model(worker), dead_letters)) == (
        "streams.ingest",
        "",
        "660000",
    )
    # the sink's own: the record's region (石河子, the Corps' city: 660000 by the registry)
    assert _where(rows(bad_call, "hotline.call-records")) == (
        "sinks.clickhouse",
        "659001",
        "660000",
    )
    agents = "hotline.raw.320000.agents"
    assert _where(rows(CODEC.encode("agent.state", bad_agent), agents)) == (
        "sinks.clickhouse",
        "320102",
        "320000",
    )
    assert _where(rows(b"\x00not avro", agents)) == ("sinks.clickhouse", "", "320000")
    assert _where(rows(b"\x00not avro", "hotline.call-records")) == ("sinks.clickhouse", "", "")
    unknown = CODEC.encode("call.record", {**_call(1, 2).to_avro(), "region_code": "999999"})
    assert _where(rows(unknown, "hotline.call-records")) == ("sinks.clickhouse", "", "")


def test_a_self_served_calls_kind_is_stored(admin: Client) -> None:
    """CallRecord v2's self_service_kind (what the IVR served) was dropped by the sink: the
    table had no column for it (migration 0022)."""
    served = _call(1, 2).model_copy(
        update={"self_served": True, "self_service_kind": SelfServiceKind.PENSION_ACCOUNT}
    )
    routed = [
        r
        for call in (served, _call(2, 2))
        for r in to_rows(CODEC, CODEC.encode_model(call), topic="t", partition=0, offset=0)
    ]
    assert {r.table for r in routed} == {"call_records"}
    Writer(admin, DATABASE).insert("call_records", [r.row for r in routed])
    stored = admin.execute(
        f"SELECT call_id, self_service_kind FROM {DATABASE}.call_records ORDER BY call_id"
    )
    assert stored == [("c1", "pension_account"), ("c2", "")]
