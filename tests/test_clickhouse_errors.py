"""How ClickHouse errors are classified for callers: retry, back off, or give up."""

from __future__ import annotations

import pytest
from clickhouse_driver import errors as driver_errors

from hotline.sinks.client import translated_errors
from hotline.sinks.errors import ClickHouseBusy, ClickHouseQueryError, ClickHouseUnavailable

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
