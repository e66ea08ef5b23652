"""Writes batches to ClickHouse and keeps the rollups exact.

:meth:`Writer.write` inserts each table's rows (one INSERT per table) and then, when minute
snapshots were among them, recomputes the touched rollup groups (:func:`rollup_keys`):
hour groups from ``metric_minute FINAL``, then days from ``metric_hour FINAL``, then months
from ``metric_day FINAL`` — never from the inserted blocks, so duplicates and older versions
cannot be counted twice. Each recompute replaces its whole (province, bucket) group
(``ReplacingMergeTree(computed_at)``). Everything here is idempotent: the sink may call
:meth:`Writer.write` again with the same rows after any failure.

Errors are :mod:`hotline.sinks.errors` (translated in :mod:`hotline.sinks.client`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from clickhouse_driver import Client
from clickhouse_driver.errors import ErrorCodes

from hotline.sinks.client import execute
from hotline.sinks.errors import ClickHouseQueryError, ClickHouseSchemaMissing
from hotline.sinks.rows import METRIC_COUNTERS, TABLES

log = logging.getLogger(__name__)

CHINA = ZoneInfo("Asia/Shanghai")
# The tables are partitioned by month (or year), so a batch of more than 100 months, a replay of
# history, is legitimate. ClickHouse refuses such a block by default (max_partitions_per_insert_
# block = 100) with the code of "too many parts", which the sink retries as backpressure: that
# batch was retried for ever. 0 lifts the limit for the sink's own statements.
_INSERT_SETTINGS = {"max_partitions_per_insert_block": 0}
_NOT_MIGRATED = frozenset({ErrorCodes.UNKNOWN_DATABASE, ErrorCodes.UNKNOWN_TABLE})
# province_code is carried from the source rows (the sink's registry placement), never left to
# the column DEFAULT (first two digits): the Corps' cities 6590xx belong to 660000, not 650000.
_DIMS = "level, region_code, province_code, business_line, channel"
_SUMS = ", ".join(f"sum({c})" for c in METRIC_COUNTERS)
_COLS = ", ".join(METRIC_COUNTERS)


def rollup_keys(
    snapshot_rows: Iterable[Sequence[Any]],
) -> tuple[set[tuple[str, datetime]], set[tuple[str, date]], set[tuple[str, date]]]:
    """The (province, hour), (province, China day) and (province, China month) groups touched
    by ``metric_minute`` rows (in :data:`TABLES` column order)."""
    province_at = TABLES["metric_minute"].index("province_code")
    bucket_at = TABLES["metric_minute"].index("bucket_start")
    hours: set[tuple[str, datetime]] = set()
    for row in snapshot_rows:
        bucket: datetime = row[bucket_at]
        hours.add((row[province_at], bucket.replace(minute=0, second=0, microsecond=0)))
    days = {(p, h.astimezone(CHINA).date()) for p, h in hours}
    months = {(p, d.replace(day=1)) for p, d in days}
    return hours, days, months


def _unix_seconds(bucket: Any) -> Any:
    """An aware datetime as Unix seconds (a query parameter that means one instant whatever
    the server's time zone); a date as it is."""
    return int(bucket.timestamp()) if isinstance(bucket, datetime) else bucket


class Writer:
    """Inserts rows into the tables of ``database`` with one client."""

    def __init__(self, client: Client, database: str) -> None:
        self.client = client
        self.database = database

    def write(self, batches: Mapping[str, Sequence[tuple[Any, ...]]]) -> None:
        """Insert every table's rows, then refresh the rollups the snapshots touched."""
        for table, rows in batches.items():
            if rows:
                self.insert(table, rows)
        snapshots = batches.get("metric_minute")
        if snapshots:
            self.refresh_rollups(*rollup_keys(snapshots))

    def insert(self, table: str, rows: Sequence[tuple[Any, ...]]) -> None:
        columns = ", ".join(TABLES[table])
        self._execute(
            f"storing {len(rows)} rows in {self.database}.{table}",
            f"INSERT INTO {self.database}.{table} ({columns}) VALUES",
            list(rows),
            types_check=False,
        )

    def refresh_rollups(
        self,
        hours: set[tuple[str, datetime]],
        days: set[tuple[str, date]],
        months: set[tuple[str, date]],
    ) -> None:
        """Recompute the given groups of metric_hour, metric_day and metric_month, in order."""
        db = self.database
        if hours:
            self._recompute(
                f"{db}.metric_hour",
                f"{db}.metric_minute",
                "toStartOfHour(bucket_start)",
                hours,
            )
        if days:
            self._recompute(
                f"{db}.metric_day",
                f"{db}.metric_hour",
                "toDate(bucket_start, 'Asia/Shanghai')",
                days,
            )
        if months:
            self._recompute(
                f"{db}.metric_month",
                f"{db}.metric_day",
                "toStartOfMonth(bucket_start)",
                months,
            )

    def _recompute(
        self,
        target: str,
        source: str,
        bucket: str,
        keys: set[tuple[str, Any]],
    ) -> None:
        # One statement per target: it reads the source's parts at its start and stamps its
        # rows with now64() of that start, so the latest recompute of a group wins.
        # Hours go as Unix seconds, never as datetimes: clickhouse-driver renders a datetime
        # parameter as naive text in the *server's* time zone, and ClickHouse reads that text
        # in the time zone of the other side, DateTime('UTC') here; on a server not in UTC no
        # group matched and the rollups stayed empty. An integer set element is converted to
        # the DateTime side as Unix seconds: the instant itself, whatever the time zone. Days
        # and months are dates (sent as 'YYYY-MM-DD', compared with Date: no time zone).
        keys = {(p, _unix_seconds(b)) for p, b in keys}
        provinces = sorted({p for p, _ in keys})
        buckets = sorted({b for _, b in keys})
        self._execute(
            f"recomputing {target} from {source}",
            f"""
            INSERT INTO {target} ({_DIMS}, bucket_start, {_COLS}, computed_at)
            SELECT {_DIMS}, {bucket} AS b, {_SUMS}, now64(6)
            FROM {source} FINAL
            WHERE province_code IN %(provinces)s
              AND b IN %(buckets)s
              AND (province_code, b) IN %(keys)s
            GROUP BY {_DIMS}, b
            """,
            {
                "provinces": tuple(provinces),
                "buckets": tuple(buckets),
                "keys": tuple(sorted(keys)),
            },
        )

    def _execute(self, what: str, sql: str, params: Any, **kwargs: Any) -> None:
        """Run one of the sink's statements; a missing table or database says to migrate."""
        try:
            execute(self.client, sql, params, what=what, settings=_INSERT_SETTINGS, **kwargs)
        except ClickHouseQueryError as exc:
            if exc.code in _NOT_MIGRATED:
                raise ClickHouseSchemaMissing(str(exc), exc.code) from exc
            raise
