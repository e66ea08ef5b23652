"""Errors of the ClickHouse side; driver errors become these in :mod:`hotline.sinks.client`.

::

    HotlineError
    ├── RetryableError
    │   └── ClickHouseUnavailable   network fault, timeout, server busy: retry with backoff
    │       └── ClickHouseUnreachable   no connection at all (the CLI says what to do)
    ├── Backpressure
    │   └── ClickHouseBusy          too many parts / merges behind: slow down
    ├── ClickHouseQueryError        the server rejected the statement (bad SQL, no grant …)
    │   ├── ClickHouseLoginRefused  wrong password or no such user (also a ConfigurationError)
    │   └── ClickHouseSchemaMissing the sink's table or database does not exist: not migrated
    └── ConfigurationError
        └── MigrationError          migrations on disk and in the database disagree
"""

from hotline.errors import Backpressure, ConfigurationError, HotlineError, RetryableError


class ClickHouseUnavailable(RetryableError):
    """ClickHouse cannot be reached or timed out; the same call may succeed later."""


class ClickHouseUnreachable(ClickHouseUnavailable):
    """No connection to ClickHouse at all (refused, reset, no route): not running, or not
    where the settings point."""

    hint = (
        "start it (`hotline stack up`) or point HOTLINE_CLICKHOUSE__HOST and "
        "HOTLINE_CLICKHOUSE__PORT at it"
    )


class ClickHouseBusy(Backpressure):
    """ClickHouse refuses more inserts for now (too many parts); pause and retry."""


class ClickHouseQueryError(HotlineError):
    """ClickHouse rejected the statement; retrying the same statement will not help."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class ClickHouseLoginRefused(ClickHouseQueryError, ConfigurationError):
    """ClickHouse refused the user's login (wrong password or no such user): a setting to fix,
    and, as every refusal of the server, a :class:`ClickHouseQueryError`."""


class ClickHouseSchemaMissing(ClickHouseQueryError):
    """A table or database the sink writes does not exist: the migrations were not applied
    (a first start, or new code with a new migration)."""

    hint = "run `hotline db migrate` first"


class MigrationError(ConfigurationError):
    """A migration file is malformed, failed, or changed after it was applied."""
