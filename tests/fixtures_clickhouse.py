"""Session fixtures: one real embedded ClickHouse server on free ports in a tmp folder.

Tests that use it must carry ``@pytest.mark.clickhouse``; an unmarked test that asks for it
fails, so ``-m "not clickhouse"`` really skips every test that needs the server.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from clickhouse_driver import Client
from pydantic import SecretStr

from hotline.infra.clickhouse_server import HOST, ClickHouseServer
from hotline.infra.clickhouse_users import (
    FILTERED_TABLES,
    FilteredTable,
    ProvinceUser,
    UsersConfig,
)
from hotline.settings import ClickHouseSettings
from hotline.sinks.migrate import migrate

# A table with a province column that the scoped test user may read (its rows only).
ROW_FILTER_TABLE = "row_filter_probe"
PASSWORDS = {
    "analyst": "analyst-pw",
    "dashboard": "dashboard-pw",
    "qa_writer": "qa-writer-pw",
    "analyst_320000": "js-pw",
    "analyst_650000": "xj-pw",  # Xinjiang
    "analyst_660000": "corps-pw",  # the Xinjiang Production and Construction Corps
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def clickhouse_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClickHouseServer]:
    users = UsersConfig(
        analyst_password=SecretStr(PASSWORDS["analyst"]),
        dashboard_password=SecretStr(PASSWORDS["dashboard"]),
        qa_writer_password=SecretStr(PASSWORDS["qa_writer"]),
        province_users=tuple(
            ProvinceUser(province_code=code, password=SecretStr(PASSWORDS[f"analyst_{code}"]))
            for code in ("320000", "650000", "660000")
        ),
        filtered_tables=(FilteredTable(name=ROW_FILTER_TABLE), *FILTERED_TABLES),
    )
    with running_server(tmp_path_factory.mktemp("clickhouse"), users) as server:
        yield server


@contextlib.contextmanager
def running_server(
    home: Path, users: UsersConfig, env: dict[str, str] | None = None
) -> Iterator[ClickHouseServer]:
    """An embedded server on free ports, ready, stopped at the end; ``env`` is added to the
    environment it starts with."""
    server = ClickHouseServer(home, free_port(), free_port(), users)
    with pytest.MonkeyPatch.context() as patch:
        for name, value in (env or {}).items():
            patch.setenv(name, value)
        server.start()
    try:
        server.wait_ready(60)
        yield server
    finally:
        server.stop(timeout=10)


@pytest.fixture
def clickhouse(
    request: pytest.FixtureRequest, clickhouse_server: ClickHouseServer
) -> ClickHouseServer:
    """The running server; only for tests marked ``clickhouse``."""
    if request.node.get_closest_marker("clickhouse") is None:
        pytest.fail(f"{request.node.nodeid} uses ClickHouse but is not marked clickhouse")
    clickhouse_server.start()  # a test may have stopped it
    clickhouse_server.wait_ready(60)
    return clickhouse_server


@pytest.fixture
def clickhouse_settings(clickhouse: ClickHouseServer) -> ClickHouseSettings:
    return ClickHouseSettings(
        host=HOST, port=clickhouse.tcp_port, http_port=clickhouse.http_port, database="hotline"
    )


@pytest.fixture
def clickhouse_client(clickhouse: ClickHouseServer) -> Iterator[Client]:
    """An admin client (database ``default``) of the session server."""
    client = Client(HOST, port=clickhouse.tcp_port)
    yield client
    client.disconnect()


def emptied(client: Client, database: str) -> Client:
    """``client`` (an admin) with the project's schema migrated into ``database`` and every
    table of it empty."""
    migrate(client, database)
    tables = client.execute(
        "SELECT name FROM system.tables WHERE database = %(db)s AND engine LIKE '%%MergeTree' "
        "AND name != 'schema_migrations'",
        {"db": database},
    )
    for (table,) in tables:
        client.execute(f"TRUNCATE TABLE {database}.{table}")
    return client
