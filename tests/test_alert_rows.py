"""One row per alert id in ClickHouse, however many derivations of it the stream emitted.

Two derivations of one alert (the live run, and the replay of a step whose outputs reached
Kafka before a kill -9 lost its state) share its id, but not always its ``opened_at``: the
alerts table is keyed by the id (migration 0019), so FINAL — the dashboard's feed, the
analysts — sees one row, the latest version. Real server; the alerts come from the engine.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from clickhouse_driver import Client
from fixtures_clickhouse import PASSWORDS
from test_streams_alerts import MIN, T0, call

from hotline.dashboards.queries import Warehouse, alert_feed
from hotline.dashboards.timerange import TimeRange
from hotline.infra.clickhouse_server import HOST, ClickHouseServer
from hotline.schemas import Alert, default_codec
from hotline.settings import ClickHouseSettings
from hotline.sinks.migrate import default_migrations, migrate
from hotline.sinks.rows import TABLES, to_rows
from hotline.sinks.writer import Writer
from hotline.streams.alerts import AlertEngine
from hotline.streams.config import AlertsConfig, StreamsConfig
from hotline.workdays import CHINA_TZ

pytestmark = pytest.mark.clickhouse

DATABASE = "hotline"  # the fixture's users.xml filters this database for analyst_320000
CODEC = default_codec()


@pytest.fixture
def admin(clickhouse: ClickHouseServer) -> Iterator[Client]:
    client = Client(HOST, port=clickhouse.tcp_port)
    migrate(client, DATABASE)
    client.execute(f"TRUNCATE TABLE {DATABASE}.alerts")
    yield client
    client.execute(f"TRUNCATE TABLE {DATABASE}.alerts")
    client.disconnect()


def _unreachable(late_answer_first: bool) -> list[Alert]:
    """Nanjing's center unreachable from 01:00 (T0), one answered call at 01:05 read late,
    answered calls again from 01:30 (the alert closes). Live: the window ends are evaluated
    minute by minute and the late call comes after 01:10 was judged; the replay after a crash
    (state lost) reads it before it evaluates: the same alert opens at 01:16."""
    config = StreamsConfig(alerts=AlertsConfig(settle=timedelta(0)))
    engine = AlertEngine("320000", config, lambda _center: "320100")
    unanswered = [call("C320100", m, answered=False) for m in range(30)]
    late = call("C320100", 5, answered=True)
    out: list[Alert] = []
    if late_answer_first:
        engine.add_records([*unanswered, late])
        out += engine.evaluate(T0 + 30 * MIN)
    else:
        for m, record in enumerate(unanswered):
            engine.add_records([record, *([late] if m == 20 else [])])
            out += engine.evaluate(T0 + (m + 1) * MIN)
    for m in range(30, 45):
        engine.add_records([call("C320100", m, answered=True)])
        out += engine.evaluate(T0 + (m + 1) * MIN)
    return out


def _write(client: Client, alerts: list[Alert]) -> None:
    """Through the sink's rows and writer, one insert per record (as separate sink batches)."""
    writer = Writer(client, DATABASE)
    for offset, alert in enumerate(alerts):
        value = CODEC.encode_model(alert)
        (routed,) = to_rows(CODEC, value, topic="hotline.alerts", partition=0, offset=offset)
        assert routed.table == "alerts"
        writer.write({routed.table: [routed.row]})


def test_an_alert_derived_twice_is_one_row_for_the_dashboard_and_the_analyst(
    admin: Client, clickhouse: ClickHouseServer
) -> None:
    live, replay = _unreachable(False), _unreachable(True)
    assert {a.alert_id for a in live} == {a.alert_id for a in replay}  # one alert
    assert live[0].opened_at != replay[0].opened_at  # opened at 01:10, or at 01:16
    crashed = live[:1] + replay  # the live version reached Kafka, then the worker was killed
    assert [(a.version, a.closed_at is None) for a in crashed] == [(1, True), (1, True), (2, False)]
    _write(admin, crashed)

    settings = ClickHouseSettings(host=HOST, port=clickhouse.tcp_port, database=DATABASE)
    dashboard = Warehouse(settings, "dashboard", PASSWORDS["dashboard"])
    day = T0.astimezone(CHINA_TZ).replace(hour=0, minute=0)
    feed = alert_feed(dashboard, None, TimeRange("today", "hour", day, day + timedelta(days=1)))
    last = replay[-1]
    assert [(r["alert_id"], r["opened"], r["closed"] != "") for r in feed] == [
        (last.alert_id, f"{last.opened_at.astimezone(CHINA_TZ):%Y-%m-%d %H:%M:%S}", True)
    ]  # once, closed (before 0019: also the live copy, open for ever)

    jiangsu = Client(
        HOST, port=clickhouse.tcp_port, user="analyst_320000", password=PASSWORDS["analyst_320000"]
    )
    try:
        sql = f"SELECT alert_id, version FROM {DATABASE}.alerts FINAL"
        assert jiangsu.execute(sql) == [(last.alert_id, 2)]
    finally:
        jiangsu.disconnect()


def _row(alert_id: str, region: str, opened: datetime, version: int, closed: bool) -> tuple:
    return (
        alert_id, "threshold", "warning", region, "", opened,
        opened + timedelta(hours=1) if closed else None, f"{alert_id} v{version}", alert_id,
        version, f"{region[:2]}0000",
    )  # fmt: skip


def migrated_before(client: Client, database: str, migration: str, tmp_path: Path) -> None:
    """``database`` made anew with every migration before ``migration`` (its file name)."""
    for source in default_migrations().iterdir():
        if source.name.endswith(".sql") and source.name < migration:
            (tmp_path / source.name).write_text(source.read_text(encoding="utf-8"))
    client.execute(f"DROP DATABASE IF EXISTS {database}")
    migrate(client, database, tmp_path)


@pytest.mark.parametrize(
    ("table", "migration", "old_key"),
    [
        ("alerts", "0019_alerts_keyed_by_their_id.sql", "province_code, kind, opened_at, alert_id"),
        (
            "sequence_gaps",
            "0020_sequence_gaps_keyed_by_their_id.sql",
            "province_code, opened_at, alert_id",
        ),
    ],
)
def test_the_migration_merges_the_copies_of_each_alert_id(
    clickhouse: ClickHouseServer, tmp_path: Path, table: str, migration: str, old_key: str
) -> None:
    """Alerts (0019) or sequence gaps (0020) written under the old key (0002): copies of one
    id that differ in opened_at, even in two months (two partitions), are one row after the
    migration — its highest version, or between equal versions the later insert."""
    database = f"{table}_before_{migration[:4]}"
    client = Client(HOST, port=clickhouse.tcp_port)
    try:
        migrated_before(client, database, migration, tmp_path)
        writer = Writer(client, database)
        march, april = datetime(2025, 3, 31, 15, tzinfo=UTC), datetime(2025, 4, 1, 1, tzinfo=UTC)
        for row in (
            _row("A", "320102", march, 1, closed=False),
            _row("A", "320102", april, 1, closed=False),
            _row("A", "320102", april, 2, closed=True),
            _row("B", "330106", march, 1, closed=False),
            _row("B", "330106", march + MIN, 1, closed=True),  # the same version, inserted later
        ):
            writer.insert(table, [row])
        key = f"SELECT sorting_key FROM system.tables WHERE database = '{database}'"
        assert client.execute(f"{key} AND name = '{table}'") == [(old_key,)]
        before = client.execute(f"SELECT alert_id FROM {database}.{table} FINAL ORDER BY alert_id")
        assert before == [("A",), ("A",), ("B",), ("B",)]  # each twice under the old key

        applied = [m.filename for m in migrate(client, database)]
        assert applied[0] == migration
        assert client.execute(f"{key} AND name = '{table}'") == [("province_code, alert_id",)]
        columns = ", ".join(TABLES[table])
        final = client.execute(
            f"SELECT {columns}, province_code FROM {database}.{table} FINAL ORDER BY alert_id"
        )
        assert [(r[0], r[5].replace(tzinfo=UTC), r[6] is not None, r[9], r[10]) for r in final] == [
            ("A", april, True, 2, "320000"),
            ("B", march + MIN, True, 1, "330000"),
        ]
    finally:
        client.execute(f"DROP DATABASE IF EXISTS {database}")
        client.disconnect()
        shutil.rmtree(tmp_path, ignore_errors=True)
