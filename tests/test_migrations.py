"""Migrations: applied once in order, recorded, checksums guarded, statements split safely."""

from __future__ import annotations

import socket
import uuid
from pathlib import Path

import pytest
from clickhouse_driver import Client
from typer.testing import CliRunner

from hotline.cli import app
from hotline.errors import RetryableError
from hotline.settings import ClickHouseSettings
from hotline.sinks.client import connect, execute
from hotline.sinks.errors import MigrationError
from hotline.sinks.migrate import load_migrations, migrate, split_statements, status

# -- without a server ----------------------------------------------------------------------------


def test_split_ignores_semicolons_in_quotes_and_comments() -> None:
    sql = """
    -- a comment; not a statement
    CREATE TABLE t (s String DEFAULT 'a;b', `we;ird` UInt8) ENGINE = Memory;
    /* block; comment */
    INSERT INTO t (s) VALUES ('it''s; fine'), ('back\\'slash;');
    ;
    SELECT "x;y" FROM t
    """
    statements = split_statements(sql)
    assert len(statements) == 3
    assert statements[0].startswith("CREATE TABLE") and "'a;b'" in statements[0]
    assert statements[1].endswith("('back\\'slash;')")
    assert statements[2] == 'SELECT "x;y" FROM t'


def test_split_rejects_an_unterminated_quote() -> None:
    with pytest.raises(MigrationError, match="unterminated"):
        split_statements("SELECT 'oops")


def test_shipped_migrations_load_in_order() -> None:
    migrations = load_migrations()
    assert [m.version for m in migrations] == sorted({m.version for m in migrations})
    assert migrations[0].filename == "0001_database.sql"


@pytest.mark.parametrize(
    ("files", "error"),
    [
        ({"1_bad.sql": "SELECT 1"}, "NNNN_lower_snake_name"),
        ({"0001_a.sql": "SELECT 1", "0001_b.sql": "SELECT 2"}, "share version 1"),
    ],
)
def test_badly_named_files_are_errors(tmp_path: Path, files: dict[str, str], error: str) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(MigrationError, match=error):
        load_migrations(tmp_path)


def test_unreachable_clickhouse_is_retryable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens once the socket closes
    client = connect(ClickHouseSettings(port=port))
    with pytest.raises(RetryableError, match="unreachable"):
        execute(client, "SELECT 1")


# -- with the session server ---------------------------------------------------------------------


def _database() -> str:
    return f"mig_{uuid.uuid4().hex[:10]}"


@pytest.mark.clickhouse
def test_shipped_migrations_apply_once(clickhouse_client: Client) -> None:
    database = _database()
    applied = migrate(clickhouse_client, database)
    assert [m.filename for m in applied] == [m.filename for m in load_migrations()]
    assert migrate(clickhouse_client, database) == []
    rows = status(clickhouse_client, database)
    assert [(r.version, r.name) for r in rows] == [(m.version, m.name) for m in applied]
    assert all(r.applied_at is not None for r in rows)
    recorded = clickhouse_client.execute(f"SELECT count() FROM {database}.schema_migrations")
    assert recorded == [(len(applied),)]


@pytest.mark.clickhouse
def test_pending_then_applied_and_changed_checksum_is_an_error(
    clickhouse_client: Client, tmp_path: Path
) -> None:
    database = _database()
    (tmp_path / "0001_first.sql").write_text(
        "CREATE TABLE IF NOT EXISTS {database}.a (s String DEFAULT 'x;y') ENGINE = Memory;\n"
        "INSERT INTO {database}.a VALUES ('one;two');\n"
    )
    assert [m.version for m in migrate(clickhouse_client, database, tmp_path)] == [1]
    (tmp_path / "0002_second.sql").write_text(
        "CREATE TABLE IF NOT EXISTS {database}.b (n UInt8) ENGINE = Memory"
    )
    before = status(clickhouse_client, database, tmp_path)
    assert [(r.version, r.applied_at is None) for r in before] == [(1, False), (2, True)]
    assert [m.name for m in migrate(clickhouse_client, database, tmp_path)] == ["second"]
    assert clickhouse_client.execute(f"SELECT s FROM {database}.a") == [("one;two",)]

    (tmp_path / "0001_first.sql").write_text(
        "-- edited\n" + (tmp_path / "0001_first.sql").read_text()
    )
    with pytest.raises(MigrationError, match=r"0001_first\.sql changed after it was applied"):
        migrate(clickhouse_client, database, tmp_path)


@pytest.mark.clickhouse
def test_a_failing_migration_is_not_recorded(clickhouse_client: Client, tmp_path: Path) -> None:
    database = _database()
    (tmp_path / "0001_broken.sql").write_text(
        "CREATE TABLE IF NOT EXISTS {database}.ok (n UInt8) ENGINE = Memory;\nSELEC oops;"
    )
    with pytest.raises(MigrationError, match=r"0001_broken\.sql, statement 2 of 2"):
        migrate(clickhouse_client, database, tmp_path)
    assert status(clickhouse_client, database, tmp_path)[0].applied_at is None
    (tmp_path / "0001_broken.sql").write_text(
        "CREATE TABLE IF NOT EXISTS {database}.ok (n UInt8) ENGINE = Memory;"
    )
    assert len(migrate(clickhouse_client, database, tmp_path)) == 1  # re-runnable statements


@pytest.mark.clickhouse
def test_cli_migrate_and_status(clickhouse_settings: ClickHouseSettings) -> None:
    env = {
        "HOTLINE_CLICKHOUSE__PORT": str(clickhouse_settings.port),
        "HOTLINE_CLICKHOUSE__DATABASE": _database(),
    }
    runner = CliRunner()
    first = runner.invoke(app, ["db", "migrate"], env=env)
    assert first.exit_code == 0, first.output
    assert "applied 0001_database.sql" in first.output
    again = runner.invoke(app, ["db", "migrate"], env=env)
    assert again.exit_code == 0 and "0 migration(s) applied" in again.output
    listed = runner.invoke(app, ["db", "status"], env=env)
    assert listed.exit_code == 0 and "0001  database" in listed.output
    assert "pending" not in listed.output


@pytest.mark.clickhouse
def test_cli_status_is_read_only_before_the_first_migrate(
    clickhouse_settings: ClickHouseSettings, clickhouse_client: Client
) -> None:
    database = _database()
    env = {
        "HOTLINE_CLICKHOUSE__PORT": str(clickhouse_settings.port),
        "HOTLINE_CLICKHOUSE__DATABASE": database,
    }
    listed = CliRunner().invoke(app, ["db", "status"], env=env)
    assert listed.exit_code == 3, listed.output
    assert f"database {database} does not exist yet: run hotline db migrate" in listed.output
    assert "0001  database" in listed.output and "pending" in listed.output
    exists = "SELECT count() FROM system.databases WHERE name = %(d)s"
    assert execute(clickhouse_client, exists, {"d": database}) == [(0,)]
