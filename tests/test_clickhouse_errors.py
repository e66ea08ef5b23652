"""How ClickHouse errors are classified for callers: retry, back off, or give up."""

from __future__ import annotations

import pytest
from clickhouse_driver import errors as driver_errors

from hotline.errors import ConfigurationError
from hotline.infra.clickhouse_server import ClickHouseServer
from hotline.settings import ClickHouseSettings
from hotline.sinks.client import connect, execute, sql_head, translated_errors
from hotline.sinks.errors import (
    ClickHouseBusy,
    ClickHouseLoginRefused,
    ClickHouseQueryError,
    ClickHouseUnavailable,
)

_codes = driver_errors.ErrorCodes


@pytest.mark.parametrize(
    ("code", "message", "expected"),
    [
        (_codes.ABORTED, "Server shutdown is called", ClickHouseUnavailable),
        (_codes.QUERY_WAS_CANCELLED, "Query was cancelled", ClickHouseUnavailable),
        (_codes.MEMORY_LIMIT_EXCEEDED, "Memory limit exceeded", ClickHouseUnavailable),
        (_codes.TOO_MANY_PARTS, "Too many parts", ClickHouseBusy),
        (_codes.SYNTAX_ERROR, "Syntax error", ClickHouseQueryError),
        (_codes.UNKNOWN_TABLE, "Table hotline.nope does not exist", ClickHouseQueryError),
    ],
)
def test_server_errors_are_classified_by_code(
    code: int, message: str, expected: type[Exception]
) -> None:
    error = driver_errors.ServerException(f"DB::Exception: {message}. Stack trace:\n...", code)
    with pytest.raises(expected) as raised, translated_errors("INSERT INTO hotline.metric_month"):
        raise error
    assert str(raised.value).startswith("INSERT INTO hotline.metric_month: ")
    assert message in str(raised.value)


def test_a_dropped_connection_is_unavailable() -> None:
    with pytest.raises(ClickHouseUnavailable, match="unreachable"), translated_errors("SELECT 1"):
        raise ConnectionResetError("connection reset by peer")


@pytest.mark.parametrize(
    ("user", "setting"),
    [
        ("analyst", "HOTLINE_CLICKHOUSE__ANALYST_PASSWORD"),
        ("analyst_320000", "HOTLINE_CLICKHOUSE__PROVINCE_PASSWORDS"),
        ("nobody", "HOTLINE_CLICKHOUSE__USER and HOTLINE_CLICKHOUSE__PASSWORD"),
    ],
)
@pytest.mark.clickhouse
def test_a_refused_login_names_the_setting_of_its_password(
    user: str, setting: str, clickhouse: ClickHouseServer
) -> None:
    """A real server with the project's users.xml; before, the server's message ended in
    'Stack trace:' and named no setting."""
    settings = ClickHouseSettings(host="127.0.0.1", port=clickhouse.tcp_port)
    client = connect(settings, database="default", user=user, password="wrong")
    with pytest.raises(ClickHouseLoginRefused) as refused:
        execute(client, "SELECT 1")
    assert str(refused.value) == (
        f"SELECT 1: ClickHouse refused the login of {user} (Authentication failed: wrong password, "
        "or no such user): "
        f"check {setting}, the same as the server's users.xml was written with"
    )
    assert isinstance(refused.value, ConfigurationError) and refused.value.code == 516


def test_a_typed_querys_failure_is_named_by_its_first_line_trimmed() -> None:
    assert sql_head("\n   SELECT count()\n   FROM calls\n") == "SELECT count()"
    assert sql_head("  " + "x" * 100) == "x" * 80
    assert sql_head(" \n ") == "query"
