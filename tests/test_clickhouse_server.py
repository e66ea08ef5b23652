"""The embedded ClickHouse server: a real engine over TCP/HTTP, durable, with users.xml users."""

from __future__ import annotations

import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest
from clickhouse_driver import Client
from fixtures_clickhouse import PASSWORDS, ROW_FILTER_TABLE
from pydantic import SecretStr

from hotline.errors import ConfigurationError
from hotline.infra.base import Service, ServiceError
from hotline.infra.clickhouse_server import HOST, ClickHouseServer, render_config_xml
from hotline.infra.clickhouse_users import (
    ANYWHERE,
    POSITION_COLUMNS,
    FilteredTable,
    ProvinceUser,
    UsersConfig,
    render_users_xml,
)
from hotline.settings import load_settings
from hotline.sinks.analyst import password_of
from hotline.sinks.client import execute
from hotline.sinks.errors import ClickHouseQueryError

# -- without a server ----------------------------------------------------------------------------


def test_users_xml_has_row_filters_per_scoped_user_and_table() -> None:
    config = UsersConfig(
        province_users=(ProvinceUser(province_code="320000"),),
        filtered_tables=(
            FilteredTable(name="calls"),
            FilteredTable(name="t2", province_column="p"),
        ),
        admin_password=SecretStr("secret"),
    )
    xml = render_users_xml(config)
    assert "<filter>province_code = '320000'</filter>" in xml
    assert "<filter>p = '320000'</filter>" in xml
    assert "GRANT SELECT ON hotline.calls" in xml
    assert "secret" not in xml and "password_sha256_hex" in xml


def test_exposed_users_xml_needs_passwords_and_drops_passwordless_scoped_users() -> None:
    with pytest.raises(ConfigurationError, match="analyst"):
        render_users_xml(UsersConfig(networks=ANYWHERE, admin_password=SecretStr("a")))
    config = UsersConfig(
        networks=ANYWHERE,
        admin_password=SecretStr("a"),
        analyst_password=SecretStr("b"),
        dashboard_password=SecretStr("c"),
    )
    with pytest.raises(ConfigurationError, match="qa_writer"):
        render_users_xml(config)
    xml = render_users_xml(config.model_copy(update={"qa_writer_password": SecretStr("d")}))
    assert "<analyst_320000" not in xml and "<dashboard" in xml and "<qa_writer" in xml


def test_province_users_given_a_password_are_in_an_exposed_users_xml(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in [("PASSWORD", "a"), ("ANALYST_PASSWORD", "b"),
                        ("DASHBOARD_PASSWORD", "c"), ("QA_WRITER_PASSWORD", "d")]:  # fmt: skip
        monkeypatch.setenv(f"HOTLINE_CLICKHOUSE__{name}", value)
    monkeypatch.setenv("HOTLINE_CLICKHOUSE__PROVINCE_PASSWORDS", '{"320000": "js-secret"}')
    settings = load_settings()
    xml = render_users_xml(UsersConfig.from_settings(settings, networks=ANYWHERE))
    assert "<analyst_320000" in xml and "<analyst_330000" not in xml
    assert "js-secret" not in xml
    assert password_of(settings.clickhouse, "analyst_320000") == "js-secret"  # hotline sql
    assert password_of(settings.clickhouse, "analyst_330000") == ""
    monkeypatch.setenv("HOTLINE_CLICKHOUSE__PROVINCE_PASSWORDS", '{"990000": "x"}')
    with pytest.raises(ConfigurationError, match="PROVINCE_PASSWORDS names no province: 990000"):
        UsersConfig.from_settings(load_settings())


def test_config_xml_rotates_the_logs_at_information_level(tmp_path: Path) -> None:
    import xml.etree.ElementTree as ET

    logger = ET.fromstring(render_config_xml(tmp_path, 9000, 8123)).find("logger")
    assert logger is not None
    assert logger.findtext("level") == "information"
    assert logger.findtext("size") == "10M" and logger.findtext("count") == "5"
    assert logger.findtext("log") == str(tmp_path / "log" / "clickhouse.log")


def test_child_exiting_early_fails_start_loudly(tmp_path: Path) -> None:
    server = ClickHouseServer(tmp_path, 1, 2, UsersConfig(), python="/bin/false")
    server.start()
    with pytest.raises(ServiceError, match="exited before it was ready"):
        server.wait_ready(10)
    server.stop()


# -- with the session server ---------------------------------------------------------------------


@pytest.mark.clickhouse
def test_serves_the_pinned_engine(clickhouse: ClickHouseServer) -> None:
    assert isinstance(clickhouse, Service)
    status = clickhouse.status()
    assert status.running and status.pid == clickhouse.pid()
    assert status.version is not None and status.version.startswith("26.9."), status
    assert status.endpoints["tcp"] == f"{HOST}:{clickhouse.tcp_port}"


@pytest.mark.clickhouse
def test_start_is_idempotent(clickhouse: ClickHouseServer) -> None:
    pid = clickhouse.pid()
    clickhouse.start()
    assert clickhouse.pid() == pid


@pytest.mark.clickhouse
def test_create_insert_select(clickhouse_client: Client) -> None:
    table = f"default.t_{uuid.uuid4().hex[:8]}"
    clickhouse_client.execute(
        f"CREATE TABLE {table} (id UInt32, at DateTime64(3, 'UTC'), tags Map(String, UInt8)) "
        "ENGINE = MergeTree ORDER BY id"
    )
    clickhouse_client.execute(
        f"INSERT INTO {table} (id, tags) VALUES", [(i, {"a": 1}) for i in range(1000)]
    )
    assert clickhouse_client.execute(f"SELECT count(), sum(id) FROM {table}") == [(1000, 499500)]


@pytest.mark.clickhouse
def test_http_port_answers(clickhouse: ClickHouseServer) -> None:
    query = urllib.parse.urlencode({"query": "SELECT 1 + 1"})
    with urllib.request.urlopen(f"http://{HOST}:{clickhouse.http_port}/?{query}", timeout=10) as r:
        assert r.read() == b"2\n"


@pytest.mark.clickhouse
def test_users_xml_row_filter_and_readonly(
    clickhouse: ClickHouseServer, clickhouse_client: Client
) -> None:
    admin = clickhouse_client
    admin.execute("CREATE DATABASE IF NOT EXISTS hotline")
    admin.execute(
        f"CREATE TABLE IF NOT EXISTS hotline.{ROW_FILTER_TABLE} (province_code String, n UInt32) "
        "ENGINE = MergeTree ORDER BY n"
    )
    admin.execute(f"TRUNCATE TABLE hotline.{ROW_FILTER_TABLE}")
    admin.execute(
        f"INSERT INTO hotline.{ROW_FILTER_TABLE} VALUES",
        [("320000", 1), ("110000", 2), ("320000", 3)],
    )
    admin.execute("CREATE TABLE IF NOT EXISTS hotline.unlisted (x UInt8) ENGINE = Memory")

    def user(name: str) -> Client:
        return Client(HOST, port=clickhouse.tcp_port, user=name, password=PASSWORDS[name])

    select = f"SELECT n FROM hotline.{ROW_FILTER_TABLE} ORDER BY n"
    jiangsu = user("analyst_320000")
    assert jiangsu.execute(select) == [(1,), (3,)]
    with pytest.raises(ClickHouseQueryError) as denied:
        execute(jiangsu, "SELECT * FROM hotline.unlisted")
    assert denied.value.code == 497  # ACCESS_DENIED: tables not listed are not granted
    assert user("analyst").execute(select) == [(1,), (2,), (3,)]
    for name in ("analyst", "dashboard", "analyst_320000"):
        with pytest.raises(ClickHouseQueryError) as readonly:
            execute(user(name), f"INSERT INTO hotline.{ROW_FILTER_TABLE} VALUES", [("320000", 9)])
        assert readonly.value.code in (164, 497), name  # READONLY / ACCESS_DENIED
    with pytest.raises(ClickHouseQueryError, match="Authentication failed"):
        execute(
            Client(HOST, port=clickhouse.tcp_port, user="analyst", password="wrong"), "SELECT 1"
        )


@pytest.mark.clickhouse
def test_a_province_analyst_cannot_count_other_provinces_rows(
    clickhouse: ClickHouseServer, clickhouse_client: Client
) -> None:
    """A row filter hides rows, not what the engine knows of them: the position of a row in its
    part (Xinjiang's rows sort after Jiangsu's, so their first offset was Jiangsu's row count)
    and the row counts and sizes of ``system.tables`` / ``system.columns``, which every user
    may read. Scoped users get neither; their own rows and DESCRIBE still work."""
    admin = clickhouse_client
    admin.execute("CREATE DATABASE IF NOT EXISTS hotline")
    table = f"hotline.{ROW_FILTER_TABLE}"
    admin.execute(
        f"CREATE OR REPLACE TABLE {table} (province_code String, n UInt32) "
        "ENGINE = MergeTree ORDER BY (province_code, n)"
    )
    admin.execute(
        f"INSERT INTO {table} VALUES",
        [("320000", n) for n in range(7)] + [("650000", 100), ("650000", 101)],
    )
    xinjiang = Client(
        HOST, port=clickhouse.tcp_port, user="analyst_650000", password=PASSWORDS["analyst_650000"]
    )
    try:
        assert xinjiang.execute(f"SELECT n FROM {table} ORDER BY n") == [(100,), (101,)]
        for column in POSITION_COLUMNS:
            with pytest.raises(ClickHouseQueryError) as denied:
                execute(xinjiang, f"SELECT min({column}) FROM {table}")
            assert denied.value.code == 497, column  # ACCESS_DENIED
        sizes = (
            "SELECT name, total_rows, total_bytes FROM system.tables "
            f"WHERE database = 'hotline' AND name = '{ROW_FILTER_TABLE}'"
        )
        assert admin.execute(sizes)[0][1] == 9  # what the analyst would have read
        assert xinjiang.execute(sizes) == []
        assert xinjiang.execute("SELECT * FROM system.columns WHERE database = 'hotline'") == []
        described = xinjiang.execute(f"DESCRIBE TABLE {table}")
        assert [row[0] for row in described] == ["province_code", "n"]
    finally:
        xinjiang.disconnect()


#: Ways around a row filter a province analyst must be refused (ACCESS_DENIED): table
#: functions that read files, URLs, other servers or a table's index, and the system tables
#: that show every user's queries or every province's parts.
BYPASSES = (
    "SELECT * FROM file('/etc/passwd', 'LineAsString')",
    "SELECT * FROM url('http://127.0.0.1:9/', 'LineAsString')",
    f"SELECT * FROM remote('127.0.0.1', 'hotline', '{ROW_FILTER_TABLE}', 'analyst', "
    f"'{PASSWORDS['analyst']}')",
    f"SELECT * FROM mergeTreeIndex('hotline', '{ROW_FILTER_TABLE}')",
    f"SELECT * FROM mergeTreeAnalyzeIndexes('hotline', '{ROW_FILTER_TABLE}')",
    f"SELECT * FROM loop(hotline.{ROW_FILTER_TABLE}) LIMIT 1",
    "SELECT * FROM executable('id', 'TSV', 'x String')",
    "SELECT * FROM system.parts",
    "SELECT * FROM system.parts_columns",
    "SELECT * FROM system.processes",
    "SELECT * FROM system.events",
    "SELECT * FROM system.mutations",
    "SELECT * FROM system.dictionaries",
    "SELECT * FROM system.query_cache",
)


@pytest.mark.clickhouse
def test_a_province_analyst_finds_no_way_around_the_row_filter(
    clickhouse: ClickHouseServer, clickhouse_client: Client
) -> None:
    """Table functions that do read the project's tables (``merge``, ``view``) apply the row
    filter; the others, and the system tables that would show other provinces' data, are
    refused."""
    admin = clickhouse_client
    admin.execute("CREATE DATABASE IF NOT EXISTS hotline")
    table = f"hotline.{ROW_FILTER_TABLE}"
    admin.execute(
        f"CREATE TABLE IF NOT EXISTS {table} (province_code String, n UInt32) "
        "ENGINE = MergeTree ORDER BY n"
    )
    admin.execute(f"TRUNCATE TABLE {table}")
    admin.execute(f"INSERT INTO {table} VALUES", [("320000", 1), ("110000", 2)])
    jiangsu = Client(
        HOST, port=clickhouse.tcp_port, user="analyst_320000", password=PASSWORDS["analyst_320000"]
    )
    try:
        for sql in (
            f"SELECT n FROM merge('hotline', '^{ROW_FILTER_TABLE}$')",
            f"SELECT n FROM view(SELECT n FROM {table})",
            f"SELECT n FROM {table} WHERE province_code = '110000' OR 1",
        ):
            assert jiangsu.execute(sql) == [(1,)], sql
        for sql in BYPASSES:
            with pytest.raises(ClickHouseQueryError) as refused:
                execute(jiangsu, sql)
            assert refused.value.code == 497, sql  # ACCESS_DENIED
    finally:
        jiangsu.disconnect()


@pytest.mark.clickhouse
def test_readonly_users_take_the_query_timeout_and_nothing_else(
    clickhouse: ClickHouseServer,
) -> None:
    """Grafana's ClickHouse datasource sends ``max_execution_time`` with every query: the
    read-only users accept that one setting and still refuse any other, a change of
    ``readonly`` itself, writes and DDL."""
    for name in ("analyst", "dashboard", "analyst_320000"):
        client = Client(HOST, port=clickhouse.tcp_port, user=name, password=PASSWORDS[name])
        taken = execute(
            client,
            "SELECT toString(getSetting('max_execution_time'))",
            settings={"max_execution_time": 65},
        )
        assert taken == [("65",)], name
        # (a setting sent with the value it already has is accepted, so these all change one)
        others = (("max_threads", 1), ("max_memory_usage", 10**9), ("readonly", 0), ("readonly", 2))
        for setting, value in others:
            with pytest.raises(ClickHouseQueryError) as refused:
                execute(client, "SELECT 1", settings={setting: value})
            assert refused.value.code == 164, (name, setting)  # READONLY
        for sql in (
            "SET readonly = 2",
            "SET max_threads = 1",
            "CREATE TABLE hotline.not_yours (n UInt8) ENGINE = Memory",
            f"INSERT INTO hotline.{ROW_FILTER_TABLE} VALUES ('320000', 9)",
        ):
            with pytest.raises(ClickHouseQueryError) as refused:
                execute(client, sql)
            assert refused.value.code in (164, 497), (name, sql)  # READONLY / ACCESS_DENIED
        client.disconnect()


@pytest.mark.clickhouse
def test_data_survives_stop_start_and_sigkill(
    clickhouse: ClickHouseServer, clickhouse_client: Client
) -> None:
    table = f"default.durable_{uuid.uuid4().hex[:8]}"
    clickhouse_client.execute(f"CREATE TABLE {table} (n UInt32) ENGINE = MergeTree ORDER BY n")
    clickhouse_client.execute(f"INSERT INTO {table} VALUES", [(n,) for n in range(100)])
    clickhouse_client.disconnect()

    clickhouse.stop(timeout=10)
    assert not clickhouse.status().running
    clickhouse.start()
    clickhouse.wait_ready(60)
    client = Client(HOST, port=clickhouse.tcp_port)
    assert client.execute(f"SELECT count() FROM {table}") == [(100,)]
    client.execute(f"INSERT INTO {table} VALUES", [(n,) for n in range(100, 150)])
    client.disconnect()

    pid = clickhouse.pid()
    clickhouse.kill()  # SIGKILL, no chance to flush
    assert clickhouse.pid() is None
    time.sleep(0.2)
    clickhouse.start()
    clickhouse.wait_ready(60)
    assert clickhouse.pid() != pid
    client = Client(HOST, port=clickhouse.tcp_port)
    assert client.execute(f"SELECT count(), max(n) FROM {table}") == [(150, 149)]
    client.disconnect()


@pytest.mark.clickhouse
def test_a_second_server_on_a_taken_port_fails_with_the_log_tail(
    clickhouse: ClickHouseServer, tmp_path: Path
) -> None:
    other = ClickHouseServer(tmp_path, clickhouse.tcp_port, clickhouse.http_port, UsersConfig())
    other.start()
    try:
        with pytest.raises(ServiceError) as failed:
            other.wait_ready(30)
    finally:
        other.stop()
    message = str(failed.value)
    assert "child.log" in message and "Address already in use" in message
    assert clickhouse.status().running


def test_the_embedded_server_refuses_an_admin_password_before_launching(tmp_path: Path) -> None:
    """Its engine serves as the passwordless admin: with a password the child ended at once in
    AUTHENTICATION_FAILED and `stack up` said only 'clickhouse exited before it was ready'."""
    server = ClickHouseServer(tmp_path, 1, 2, UsersConfig(admin_password=SecretStr("pw")))
    with pytest.raises(ConfigurationError, match="unset HOTLINE_CLICKHOUSE__PASSWORD"):
        server.start()
    assert not (tmp_path / "users.xml").exists() and server.pid() is None
