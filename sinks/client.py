"""The one place that builds clickhouse-driver clients and translates their errors.

Use :func:`connect` to get a :class:`clickhouse_driver.Client` from settings and
:func:`execute` (or the :func:`translated_errors` context) so that callers only ever see
:mod:`hotline.sinks.errors`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from clickhouse_driver import Client
from clickhouse_driver import errors as driver_errors

from hotline.settings import ClickHouseSettings
from hotline.sinks.errors import (
    ClickHouseBusy,
    ClickHouseLoginRefused,
    ClickHouseQueryError,
    ClickHouseUnavailable,
    ClickHouseUnreachable,
)

_codes = driver_errors.ErrorCodes
# Server-side errors that pass: the same statement may succeed later. A server that is
# shutting down answers statements in flight with ABORTED ("Server shutdown is called") or
# QUERY_WAS_CANCELLED; both come back once it is up again.
RETRYABLE_CODES = frozenset(
    {
        _codes.ABORTED,
        _codes.QUERY_WAS_CANCELLED,
        _codes.TIMEOUT_EXCEEDED,
        _codes.SOCKET_TIMEOUT,
        _codes.NETWORK_ERROR,
        _codes.TOO_MANY_SIMULTANEOUS_QUERIES,
        _codes.TABLE_IS_READ_ONLY,
        _codes.ALL_CONNECTION_TRIES_FAILED,
        _codes.MEMORY_LIMIT_EXCEEDED,
    }
)
BACKPRESSURE_CODES = frozenset({_codes.TOO_MANY_PARTS})
AUTHENTICATION_FAILED = 516  # not among clickhouse-driver's ErrorCodes
# The setting that holds each project user's password (docs/analysts.md, docs/stack.md).
_PASSWORD_SETTINGS = {
    "analyst": "HOTLINE_CLICKHOUSE__ANALYST_PASSWORD",
    "dashboard": "HOTLINE_CLICKHOUSE__DASHBOARD_PASSWORD",
    "qa_writer": "HOTLINE_CLICKHOUSE__QA_WRITER_PASSWORD",
}
_REFUSED_USER = re.compile(r"(?:DB::Exception: )?([\w.-]+): Authentication failed")


def connect(
    settings: ClickHouseSettings,
    *,
    database: str | None = None,
    user: str | None = None,
    password: str | None = None,
    **client_settings: Any,
) -> Client:
    """A client for ``settings``; no connection is made until the first query.

    ``database`` defaults to ``settings.database``; pass ``"default"`` before that database
    exists. ``user``/``password`` override the admin credentials (e.g. a read-only user).
    ``client_settings`` go to ClickHouse as query settings.
    """
    return Client(
        settings.host,
        port=settings.port,
        user=user if user is not None else settings.user,
        password=password if password is not None else settings.password.get_secret_value(),
        database=database if database is not None else settings.database,
        client_name="hotline",
        connect_timeout=5,
        send_receive_timeout=60,
        settings=client_settings or None,
    )


@contextmanager
def translated_errors(what: str) -> Iterator[None]:
    """Turn clickhouse-driver and socket errors raised inside into hotline errors."""
    try:
        yield
    except driver_errors.ServerException as exc:
        message = f"{what}: {first_line(exc.message).removesuffix(' Stack trace:')}"
        if exc.code == AUTHENTICATION_FAILED:
            raise ClickHouseLoginRefused(login_refused(what, exc.message), exc.code) from exc
        if exc.code in BACKPRESSURE_CODES:
            raise ClickHouseBusy(message) from exc
        if exc.code in RETRYABLE_CODES:
            raise ClickHouseUnavailable(message) from exc
        raise ClickHouseQueryError(message, exc.code) from exc
    except (
        driver_errors.NetworkError,
        driver_errors.SocketTimeoutError,
        driver_errors.UnexpectedPacketFromServerError,
        EOFError,
        OSError,
    ) as exc:
        raise ClickHouseUnreachable(f"{what}: ClickHouse unreachable: {exc}") from exc
    except driver_errors.Error as exc:
        raise ClickHouseQueryError(f"{what}: {first_line(str(exc))}") from exc


def login_refused(what: str, server_message: str) -> str:
    """The one line for a refused login: whose, and which setting holds that password."""
    found = _REFUSED_USER.search(server_message)
    user = found.group(1) if found else "the user"
    if user in _PASSWORD_SETTINGS:
        setting = _PASSWORD_SETTINGS[user]
    elif user.startswith("analyst_"):
        setting = "HOTLINE_CLICKHOUSE__PROVINCE_PASSWORDS"
    else:
        setting = "HOTLINE_CLICKHOUSE__USER and HOTLINE_CLICKHOUSE__PASSWORD"
    return (
        f"{what}: ClickHouse refused the login of {user} (Authentication failed: wrong "
        "password, or no such user): "
        f"check {setting}, the same as the server's users.xml was written with"
    )


def execute(
    client: Client, sql: str, params: Any = None, *, what: str | None = None, **kwargs: Any
) -> Any:
    """``client.execute`` with errors translated; ``what`` names the failure in words (else
    the SQL's first line does)."""
    with translated_errors(what or sql_head(sql)):
        return client.execute(sql, params, **kwargs)


def first_line(text: str) -> str:
    """The first non-empty line of ``text`` (server messages carry a long stack trace)."""
    return next((line for line in text.splitlines() if line.strip()), "")


def sql_head(sql: str) -> str:
    """What names a failed query typed by a user: its first line, cut at 80 characters."""
    return first_line(sql).strip()[:80] or "query"
