"""One row per dead letter (source message and stage) in ClickHouse, however many times a
replay sent it (migration 0023). Real server."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from clickhouse_driver import Client
from test_alert_rows import migrated_before

from hotline.infra.clickhouse_server import HOST, ClickHouseServer
from hotline.sinks.migrate import migrate
from hotline.sinks.writer import Writer

pytestmark = pytest.mark.clickhouse

MIGRATION = "0023_dead_letters_one_row_per_source_message.sql"
TOPIC = "hotline.raw.320000.calls"


def _row(offset: int, stage: str, failed_at: datetime, detail: str) -> tuple:
    """A ``dead_letters`` row in the sink's column order (``TABLES``)."""
    return (
        stage, "invalid", TOPIC, 0, offset, "AAEC", "InvalidEvent", detail, failed_at,
        "320102", "320000",
    )  # fmt: skip


def test_a_replayed_dead_letter_in_the_next_month_is_one_row(
    clickhouse: ClickHouseServer, tmp_path: Path
) -> None:
    """A dead letter sent again by a replay in the next month (a new ``failed_at``) was a
    second row under the month partition (0002) that no merge ever removed (only FINAL hid
    it); after 0023 merges make it one row, the later copy, while the same message's dead
    letter of another stage keeps its own row, and a copy written afterwards in yet another
    month replaces it too."""
    database = "dead_letters_before_0023"
    client = Client(HOST, port=clickhouse.tcp_port)
    try:
        migrated_before(client, database, MIGRATION, tmp_path)
        writer = Writer(client, database)
        march = datetime(2025, 3, 31, 23, 59, tzinfo=UTC)
        april = march + timedelta(minutes=2)
        for row in (
            _row(5, "streams.ingest", march, "live run"),
            _row(5, "streams.ingest", april, "replay"),
            _row(5, "sinks.clickhouse", march, "the sink's own"),
            _row(6, "streams.ingest", march, "another message"),
        ):
            writer.insert("dead_letters", [row])
        table = f"SELECT partition_key FROM system.tables WHERE database = '{database}'"
        merged = f"OPTIMIZE TABLE {database}.dead_letters FINAL"
        rows = f"""SELECT source_offset, stage, error_detail, failed_at
            FROM {database}.dead_letters ORDER BY source_offset, stage, failed_at"""
        assert client.execute(f"{table} AND name = 'dead_letters'") == [("toYYYYMM(failed_at)",)]
        client.execute(merged)
        assert [r[:3] for r in client.execute(rows)] == [
            (5, "sinks.clickhouse", "the sink's own"),
            (5, "streams.ingest", "live run"),  # counted twice before 0023
            (5, "streams.ingest", "replay"),
            (6, "streams.ingest", "another message"),
        ]

        assert [m.filename for m in migrate(client, database)] == [MIGRATION]
        assert client.execute(f"{table} AND name = 'dead_letters'") == [("",)]
        writer.insert("dead_letters", [_row(6, "streams.ingest", april + timedelta(days=31), "x")])
        client.execute(merged)
        assert [r[:3] for r in client.execute(rows)] == [
            (5, "sinks.clickhouse", "the sink's own"),
            (5, "streams.ingest", "replay"),
            (6, "streams.ingest", "x"),
        ]
        assert client.execute(rows)[1][3].replace(tzinfo=UTC) == april
    finally:
        client.execute(f"DROP DATABASE IF EXISTS {database}")
        client.disconnect()
        shutil.rmtree(tmp_path, ignore_errors=True)
