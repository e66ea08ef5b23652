"""The whole pipeline on the real broker and server: simulator → KafkaEventSink → raw topics →
streams worker (subprocess, replay mode) → derived topics → sink → ClickHouse. Every grain
(minute, hour, day, month, year) at every level (county, city, province, national) of
``metric_counters`` equals the simulator's ledger exactly, rolled up with the streams' own
rule (:func:`hotline.streams.rollup.region_at`); call_records agree per region and minute;
``agent_minute`` and ``ticket_minute`` equal the ledger's agent time and ticket counts at
every level.

Faults: a replay of every offset by a fresh sink group changes nothing; the sink killed
(SIGKILL) mid-run twice and restarted, then ClickHouse stopped for 60 s under it, still ends
exact (nothing lost, nothing counted twice).

The simulation and the worker run once per module (the expensive part); each test truncates
the tables and sinks the derived topics from offset 0 with its own consumer group.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from clickhouse_driver import Client
from fixtures_clickhouse import emptied
from fixtures_kafka import ROOT
from test_streams_agent_time import Expected, agent_time_at_every_level
from test_streams_ticket_counts import Counts, ticket_counts_at_every_level

from hotline.infra.clickhouse_server import HOST, ClickHouseServer
from hotline.infra.kafka_broker import KafkaBroker
from hotline.infra.topics import ensure_topics, topic_layout
from hotline.producers.base import DeliveryConfig
from hotline.producers.delivery import KafkaEventSink
from hotline.producers.simulator import Ledger, SimConfig, simulate
from hotline.producers.simulator.params import Profile
from hotline.producers.simulator.runner import DEFAULT_START
from hotline.regions import default_registry
from hotline.schemas import AGENT_TIME_COUNTERS, TICKET_COUNT_COUNTERS, Level
from hotline.settings import ClickHouseSettings, KafkaSettings, Settings
from hotline.sinks.sink import Sink, SinkConfig
from hotline.streams.counters import LEDGER_NAMES
from hotline.streams.rollup import region_at

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse, pytest.mark.slow]

DATABASE = "hotline"
CHINA = ZoneInfo("Asia/Shanghai")
# Nanjing understaffed (the problem profile), Suzhou and Ningbo healthy, Hainan's provincial
# center (province-direct counties) as drawn: three provinces.
CENTERS = ["C320100", "C320500", "C330200", "C460000"]
PROFILES = {"C320100": Profile.UNDERSTAFFED, "C320500": Profile.HEALTHY, "C330200": Profile.HEALTHY}
PROVINCES = ["320000", "330000", "460000"]
# 07:30–10:00 China time = 23:30 UTC (the day before) – 02:00 UTC: the China day differs from
# the UTC day, so a day rollup in the wrong time zone would split it.
START = DEFAULT_START + timedelta(hours=7, minutes=30)
DURATION = timedelta(hours=2, minutes=30)
PARTITIONS = 2
GRAINS = ("minute", "hour", "day", "month", "year")
#: Snapshot column → ledger counter (the ledger's ``wait_ms`` is ``wait_ms_answered``).
COLUMNS = tuple(LEDGER_NAMES)

Key = tuple[str, str, str, int, str, str]  # grain, level, region, bucket (epoch s), line, channel


# -- the ledger rolled up the streams' way --------------------------------------------------------


def _buckets(minute: datetime) -> dict[str, int]:
    """The bucket (epoch seconds) of a UTC minute at each grain; days, months, years in China."""
    local = minute.astimezone(CHINA)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return {
        "minute": int(minute.timestamp()),
        "hour": int(minute.replace(minute=0).timestamp()),
        "day": int(midnight.timestamp()),
        "month": int(midnight.replace(day=1).timestamp()),
        "year": int(midnight.replace(month=1, day=1).timestamp()),
    }


def expected_from(ledger: Ledger) -> dict[Key, tuple[int, ...]]:
    registry = default_registry()
    out: dict[Key, list[int]] = defaultdict(lambda: [0] * len(COLUMNS))
    for (minute, region, line, channel), counters in ledger.call_rows().items():
        values = [counters[LEDGER_NAMES[c]] for c in COLUMNS]
        for grain, bucket in _buckets(minute).items():
            for level in Level:
                place = region_at(registry, region, level)
                key = (grain, level.value, place, bucket, line, channel)
                out[key] = [a + b for a, b in zip(out[key], values, strict=True)]
    return {k: tuple(v) for k, v in out.items() if any(v)}


def calls_from(ledger: Ledger) -> dict[tuple[str, int], tuple[int, int, int]]:
    """(region, minute) → (calls, queued, answered) from the ledger."""
    out: dict[tuple[str, int], list[int]] = defaultdict(lambda: [0, 0, 0])
    for (minute, region, _, _), c in ledger.call_rows().items():
        row = out[(region, int(minute.timestamp()))]
        row[0] += c["offered"]
        row[1] += c["queued"]
        row[2] += c["answered"]
    return {k: tuple(v) for k, v in out.items()}  # type: ignore[misc]


# -- what ClickHouse says -------------------------------------------------------------------------


def metrics_in(client: Client) -> dict[Key, tuple[int, ...]]:
    sums = ", ".join(f"sum({c})" for c in COLUMNS)
    rows = client.execute(
        f"SELECT grain, level, region_code, toUnixTimestamp(bucket), business_line, channel, "
        f"{sums} FROM {DATABASE}.metric_counters "
        f"GROUP BY grain, level, region_code, bucket, business_line, channel"
    )
    return {tuple(r[:6]): tuple(r[6:]) for r in rows if any(r[6:])}  # type: ignore[misc]


def calls_in(client: Client) -> dict[tuple[str, int], tuple[int, int, int]]:
    rows = client.execute(
        f"SELECT region_code, toUnixTimestamp(toStartOfMinute(started_at)) AS m, "
        f"count(), sum(queued), sum(answered) FROM {DATABASE}.call_records FINAL "
        f"GROUP BY region_code, m"
    )
    return {(r[0], r[1]): tuple(r[2:]) for r in rows}  # type: ignore[misc]


def agents_in(client: Client, end: datetime) -> Expected:
    """agent_minute before ``end`` (the worker also counts agents logged in after the span)."""
    rows = client.execute(
        f"SELECT level, region_code, toUnixTimestamp(bucket_start) * 1000, "
        f"{', '.join(AGENT_TIME_COUNTERS)} FROM {DATABASE}.agent_minute FINAL "
        f"WHERE toUnixTimestamp(bucket_start) < %(end)s",
        {"end": int(end.timestamp())},
    )
    return {(Level(r[0]), r[1], r[2]): tuple(r[3:]) for r in rows if any(r[3:])}


def tickets_in(client: Client) -> Counts:
    rows = client.execute(
        f"SELECT level, region_code, toUnixTimestamp(bucket_start) * 1000, category, "
        f"{', '.join(TICKET_COUNT_COUNTERS)} FROM {DATABASE}.ticket_minute FINAL"
    )
    return {(Level(r[0]), r[1], r[2], r[3]): tuple(r[4:]) for r in rows if any(r[4:])}


def late_in(client: Client) -> int:
    return client.execute(f"SELECT sum(late) FROM {DATABASE}.metric_minute FINAL")[0][0]


# -- the module's pipeline: simulation and worker, once ---------------------------------------


@dataclass
class Pipeline:
    kafka: KafkaSettings
    expected: dict[Key, tuple[int, ...]]
    calls: dict[tuple[str, int], tuple[int, int, int]]
    agents: Expected
    tickets: Counts
    end: datetime
    minute_keys: int
    home: Path


def _start_worker(kafka: KafkaSettings, home: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "HOTLINE_KAFKA__BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "HOTLINE_KAFKA__TOPIC_PREFIX": kafka.topic_prefix,
    }
    args = [
        sys.executable, "-m", "hotline", "streams", "worker",
        "--app-id", f"{kafka.topic_prefix}-app", "--replay", "--idle-flush", "4",
        "--partitions", str(PARTITIONS), "--datadir", str(home / "worker-data"),
        "--status-file", str(home / "worker-status.json"), "--loglevel", "warning",
    ]  # fmt: skip
    for province in PROVINCES:
        args += ["--province", province]
    log = (home / "worker.log").open("wb")
    return subprocess.Popen(
        args, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


@pytest.fixture(scope="module")
def pipeline(
    kafka_broker: KafkaBroker, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Pipeline]:
    home = tmp_path_factory.mktemp("e2e")
    kafka = KafkaSettings(
        bootstrap_servers=kafka_broker.bootstrap_servers,
        topic_prefix=f"e2e{os.getpid()}",
        raw_partitions=PARTITIONS,
        shared_partitions=PARTITIONS,
    )
    ensure_topics(kafka.bootstrap_servers, topic_layout(kafka, PROVINCES))
    config = SimConfig(
        seed=12333, centers=CENTERS, profiles=PROFILES, start=START, duration=DURATION
    )
    delivery = DeliveryConfig(
        bootstrap_servers=kafka.bootstrap_servers,
        topic_prefix=kafka.topic_prefix,
        spool_root=home / "spool",
    )
    # The worker starts after the simulation: it replays a 2.5 h backlog (the realistic case
    # of a restart or a late start), and may read one raw partition far ahead of another in
    # event time. The group's watermark is the least over its source partitions not released
    # (docs/streams.md, "Watermarks"), so no call is closed early and nothing is late.
    events = KafkaEventSink(delivery, "sim-e2e")
    ledger = Ledger(config.end)
    simulate(config, events, ledger)
    assert events.sent > 10_000 and not events.spooled
    expected = expected_from(ledger)
    worker = _start_worker(kafka, home)
    try:
        status = home / "worker-status.json"
        wait_for(status.exists, 120, "the worker to start")
        yield Pipeline(
            kafka,
            expected,
            calls_from(ledger),
            agent_time_at_every_level(ledger),
            ticket_counts_at_every_level(ledger.records()),
            config.end,
            sum(1 for k in expected if k[0] == "minute"),
            home,
        )
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()


@pytest.fixture
def admin(clickhouse_client: Client) -> Client:
    """Admin client with the schema migrated and every table empty."""
    return emptied(clickhouse_client, DATABASE)


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(1.0)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def exact(admin: Client, pipeline: Pipeline) -> Callable[[], bool]:
    def check() -> bool:
        try:  # records and agent time too: the sink may read their topics after the metrics
            return (
                metrics_in(admin) == pipeline.expected
                and calls_in(admin) == pipeline.calls
                and agents_in(admin, pipeline.end) == pipeline.agents
                and tickets_in(admin) == pipeline.tickets
            )
        except Exception:  # ClickHouse restarting: ask again
            return False

    return check


def describe(got: dict[Key, tuple[int, ...]], want: dict[Key, tuple[int, ...]]) -> str:
    """Where two metric maps differ, per grain and level, with an example each."""
    lines = []
    for grain in GRAINS:
        for level in Level:
            g = {k: v for k, v in got.items() if k[:2] == (grain, level.value)}
            w = {k: v for k, v in want.items() if k[:2] == (grain, level.value)}
            missing, extra = w.keys() - g.keys(), g.keys() - w.keys()
            wrong = [k for k in w.keys() & g.keys() if w[k] != g[k]]
            if missing or extra or wrong:
                sample = next(iter(wrong), None)
                lines.append(
                    f"{grain}/{level.value}: {len(w)} expected, {len(missing)} missing "
                    f"(e.g. {next(iter(missing), None)}), {len(extra)} extra "
                    f"(e.g. {next(iter(extra), None)}), {len(wrong)} wrong"
                    + (f" (e.g. {sample}: got {g[sample]}, want {w[sample]})" if sample else "")
                )
    return "\n".join(lines) or "equal"


def diagnostics(admin: Client) -> str:
    """What else ClickHouse knows: dead letters by stage and reason, late, closed by timeout."""
    dead = admin.execute(
        f"SELECT stage, reason, count(), any(error_detail) FROM {DATABASE}.dead_letters FINAL "
        "GROUP BY stage, reason"
    )
    extra = admin.execute(
        f"SELECT sum(late), sum(closed_by_timeout) FROM {DATABASE}.metric_minute FINAL "
        "WHERE level = 'county'"
    )
    gaps = admin.execute(f"SELECT count() FROM {DATABASE}.sequence_gaps FINAL")
    return f"\ndead letters: {dead}\nlate, closed_by_timeout: {extra}\ngaps: {gaps}"


def assert_exact(admin: Client, pipeline: Pipeline) -> None:
    got = metrics_in(admin)
    assert got == pipeline.expected, describe(got, pipeline.expected) + diagnostics(admin)
    for grain in GRAINS:
        for level in Level:
            want = {k: v for k, v in pipeline.expected.items() if k[:2] == (grain, level.value)}
            have = {k: v for k, v in got.items() if k[:2] == (grain, level.value)}
            assert want, (grain, level)
            assert have == want, (grain, level, len(have), len(want))
    assert got.keys() == pipeline.expected.keys()
    assert calls_in(admin) == pipeline.calls
    agents = agents_in(admin, pipeline.end)
    assert {k[0] for k in agents} == set(Level) and agents == pipeline.agents
    tickets = tickets_in(admin)
    assert {k[0] for k in tickets} == set(Level) and tickets == pipeline.tickets
    assert late_in(admin) == 0
    # no event dead-lettered as late, and no sequence gap: the simulation lost nothing
    late_dead = admin.execute(
        f"SELECT count() FROM {DATABASE}.dead_letters FINAL WHERE reason = 'late'"
    )[0][0]
    gaps = admin.execute(f"SELECT count() FROM {DATABASE}.sequence_gaps FINAL")[0][0]
    assert (late_dead, gaps) == (0, 0), diagnostics(admin)


# -- tests ---------------------------------------------------------------------------------------


def test_every_grain_and_level_equals_the_ledger_and_a_replay_changes_nothing(
    pipeline: Pipeline, admin: Client, clickhouse_settings: ClickHouseSettings
) -> None:
    settings = Settings(kafka=pipeline.kafka, clickhouse=clickhouse_settings)
    prefix = pipeline.kafka.topic_prefix
    config = SinkConfig(group_id=f"{prefix}-sink-a", batch_rows=5000, max_wait_s=0.5)
    first = Sink(settings, config)
    thread = threading.Thread(target=first.run, daemon=True)
    thread.start()
    try:
        with contextlib.suppress(AssertionError):
            wait_for(exact(admin, pipeline), 240, "ClickHouse to equal the ledger")
        assert_exact(admin, pipeline)
        time.sleep(3)  # the worker is idle by now: nothing more may change
    finally:
        first.stop()
        thread.join(60)
    assert_exact(admin, pipeline)
    before = (
        metrics_in(admin),
        calls_in(admin),
        agents_in(admin, pipeline.end),
        tickets_in(admin),
    )

    # The same offsets again: a fresh group reads every partition from offset 0.
    replay = Sink(settings, config.model_copy(update={"group_id": f"{prefix}-sink-b"}))
    thread = threading.Thread(target=replay.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: replay.stats.messages >= first.stats.messages, 120, "the replay")
        time.sleep(2)  # its last flush
    finally:
        replay.stop()
        thread.join(60)
    assert replay.stats.flushes > 0
    after = (
        metrics_in(admin),
        calls_in(admin),
        agents_in(admin, pipeline.end),
        tickets_in(admin),
    )
    assert after == before
    assert_exact(admin, pipeline)


def test_sink_killed_twice_and_clickhouse_down_60s_still_equal_the_ledger(
    pipeline: Pipeline,
    admin: Client,
    clickhouse: ClickHouseServer,
    clickhouse_settings: ClickHouseSettings,
    tmp_path: Path,
) -> None:
    env = {
        **os.environ,
        "HOTLINE_KAFKA__BOOTSTRAP_SERVERS": pipeline.kafka.bootstrap_servers,
        "HOTLINE_KAFKA__TOPIC_PREFIX": pipeline.kafka.topic_prefix,
        "HOTLINE_CLICKHOUSE__HOST": HOST,
        "HOTLINE_CLICKHOUSE__PORT": str(clickhouse_settings.port),
        "HOTLINE_CLICKHOUSE__DATABASE": DATABASE,
    }
    command = [
        sys.executable, "-m", "hotline", "sink",
        "--group", f"{pipeline.kafka.topic_prefix}-sink-k", "--batch-rows", "300",
        "--max-wait", "5", "--max-poll-records", "300",
    ]  # fmt: skip
    log_path = tmp_path / "sink.log"
    log = log_path.open("wb")

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(command, env=env, cwd=tmp_path, stdout=log, stderr=log)

    def minute_rows() -> int:
        return admin.execute(f"SELECT count() FROM {DATABASE}.metric_minute")[0][0]

    def subscribed() -> int:
        return log_path.read_text().count("sink subscribed")

    sink = start()
    try:
        for starts, share in enumerate((0.15, 0.35), start=1):  # kill -9 twice while writing
            # this process must have subscribed and written rows of its own, so the kill hits
            # a sink at work (the previous one may already have passed the share's target)
            target = max(int(share * pipeline.minute_keys), minute_rows())
            wait_for(
                lambda t=target, n=starts: subscribed() == n and minute_rows() > t,
                180,
                f"start {starts} to subscribe and write past {target} minute rows",
            )
            assert sink.poll() is None, log_path.read_text()[-3000:]
            sink.send_signal(signal.SIGKILL)
            sink.wait(10)
            assert not exact(admin, pipeline)(), "finished before the kill: not mid-run"
            sink = start()
        target = int(0.55 * pipeline.minute_keys)
        wait_for(lambda: minute_rows() > target, 180, f"{target} minute rows")
        assert not exact(admin, pipeline)(), "finished before the outage: not mid-run"
        clickhouse.stop(timeout=10)
        try:
            time.sleep(60)
            assert sink.poll() is None, log_path.read_text()[-3000:]
        finally:
            clickhouse.start()
            clickhouse.wait_ready(60)
        wait_for(exact(admin, pipeline), 240, "ClickHouse to equal the ledger after the faults")
        assert "retrying" in log_path.read_text()  # it did see the outage
        sink.send_signal(signal.SIGTERM)
        assert sink.wait(30) == 0
    finally:
        if sink.poll() is None:
            sink.kill()
            sink.wait()
    assert subscribed() == 3
    assert_exact(admin, pipeline)


def test_bucket_rule_sanity() -> None:
    """The ledger's grains: a UTC minute before China midnight belongs to the next China day."""
    minute = datetime(2025, 3, 2, 23, 59, tzinfo=UTC)
    buckets = _buckets(minute)
    assert datetime.fromtimestamp(buckets["day"], CHINA) == datetime(2025, 3, 3, tzinfo=CHINA)
    assert datetime.fromtimestamp(buckets["hour"], UTC) == datetime(2025, 3, 2, 23, tzinfo=UTC)
    assert datetime.fromtimestamp(buckets["month"], CHINA) == datetime(2025, 3, 1, tzinfo=CHINA)
