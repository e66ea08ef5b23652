"""The dashboards' SQL, run as the read-only ``dashboard`` ClickHouse user.

Every rate is computed in ClickHouse from **summed counters** with the migrations' rate
functions (``hotline_connection_rate`` …, sinks/migrations/0004_analyst_views.sql): the inner
query sums the counters of every bucket, place or line in the range, the outer one applies the
function to the sums. Rates are never averaged. Region metrics read the rollup table of the
range's grain (``metric_minute`` / ``_hour`` / ``_day`` / ``_month`` ``FINAL``, bounded on its
sort key: docs/storage.md), center metrics ``call_records FINAL`` (bounded the same way and
bucketed like the ``center_rates`` view, which they do not read: :func:`call_counters_sql`).

Callers pass only codes the user's scope allows (checked in :mod:`.app`); the functions here
filter on those codes, so no query reads beyond a scope.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from clickhouse_driver import Client

from hotline.regions import UnknownRegion, default_registry
from hotline.settings import ClickHouseSettings
from hotline.sinks.client import connect, translated_errors
from hotline.sinks.rows import place

from .timerange import TimeRange

_COUNTERS = (
    "offered",
    "self_served",
    "queued",
    "answered",
    "abandoned",
    "short_abandoned",
    "answered_in_sl",
    "wait_ms_answered",
    "talk_ms",
    "hold_ms",
    "acw_ms",
    "survey_responses",
    "survey_satisfied",
    "survey_basic",
    "survey_dissatisfied",
)
_SUMS = ",\n        ".join(f"sum({c}) AS {c}" for c in _COUNTERS)
_RATES = """
    talk_ms + hold_ms + acw_ms AS handle_ms,
    hotline_connection_rate(answered, queued) AS connection_rate,
    hotline_service_level(answered_in_sl, queued, short_abandoned) AS service_level,
    hotline_abandon_rate(abandoned, short_abandoned, queued) AS abandon_rate,
    hotline_satisfaction(survey_satisfied, survey_basic, survey_responses) AS satisfaction,
    hotline_asa_s(wait_ms_answered, answered) AS asa_s,
    hotline_aht_s(talk_ms, hold_ms, acw_ms, answered) AS aht_s"""

GROUPS = {
    "place": "concat(level, ':', region_code)",
    "bucket": "formatDateTime(bucket, '%%Y-%%m-%%d %%H:%%i', 'Asia/Shanghai')",
    "line": "business_line",
    "center": "center_id",
    "total": "'total'",
}


class Warehouse:
    """Runs read-only queries; one lazily connected client per thread (FastAPI's pool).

    ClickHouse stops a query after ``timeout_s`` (``max_execution_time``, which the dashboard
    user's readonly profile lets a client set), so a slow server answers a 503 in that time
    instead of the page waiting for the driver's socket timeout while the query runs on."""

    def __init__(
        self, settings: ClickHouseSettings, user: str, password: str, *, timeout_s: int = 30
    ) -> None:
        self._settings = settings
        self._user = user
        self._password = password
        self._local = threading.local()
        self.database = settings.database
        self.timeout_s = timeout_s

    def _client(self) -> Client:
        client = getattr(self._local, "client", None)
        if client is None:
            client = connect(
                self._settings,
                user=self._user,
                password=self._password,
                max_execution_time=self.timeout_s,
            )
            self._local.client = client
        return client

    def client(self) -> Client:
        """This thread's client (as the read-only user), for shared readers such as
        :func:`hotline.reports.report.quality_figures`."""
        return self._client()

    def rows(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        sql = sql.replace("{db}", self.database)
        with translated_errors("dashboard query"):
            data, columns = self._client().execute(sql, params or {}, with_column_types=True)
        names = [name for name, _type in columns]
        return [dict(zip(names, row, strict=True)) for row in data]


_DAY_BOUND = "toDate(toDateTime(%s), 'Asia/Shanghai')"


def _metric_sql(source: str, group: str) -> str:
    return f"""
SELECT *, {_RATES}
FROM (
    SELECT {GROUPS[group]} AS key,
        {_SUMS}
    FROM ({source})
    GROUP BY key
)
ORDER BY key"""


#: grain → (rollup table, China-time ``bucket`` of its ``bucket_start``, SQL of a bound).
#: Minute and hour buckets are UTC instants; day and month buckets are China calendar dates
#: (the first day of the month), so a bound in China time is their China date.
_GRAIN_TABLES = {
    "minute": ("metric_minute", "toTimeZone(bucket_start, 'Asia/Shanghai')", "toDateTime(%s)"),
    "hour": ("metric_hour", "toTimeZone(bucket_start, 'Asia/Shanghai')", "toDateTime(%s)"),
    "day": ("metric_day", "toDateTime(bucket_start, 'Asia/Shanghai')", _DAY_BOUND),
    "month": ("metric_month", "toDateTime(bucket_start, 'Asia/Shanghai')", _DAY_BOUND),
}


def region_metrics_sql(
    places: Sequence[tuple[str, str]], tr: TimeRange, group: str
) -> tuple[str, dict[str, Any]]:
    """The SQL (``{db}`` for the database) and parameters of :func:`region_metrics`.

    It reads the rollup table of the range's grain directly (``FINAL``), bounded on the
    table's own ``bucket_start`` and on ``level``, ``province_code`` and ``region_code``
    (sort key columns, so the primary index skips the rest of the year and of the country) —
    the same rows as ``metric_counters`` of that grain, without the view's UNION of every
    grain.
    """
    table, bucket, bound = _GRAIN_TABLES[tr.grain]
    where, params = _places_where(places)
    source = f"""
        SELECT {bucket} AS bucket, *
        FROM {{db}}.{table} FINAL
        WHERE {where}
          AND bucket_start >= {bound % "%(start)s"} AND bucket_start < {bound % "%(end)s"}"""
    params |= {"start": tr.start_ts, "end": tr.end_ts}
    return _metric_sql(source, group), params


def _places_where(places: Sequence[tuple[str, str]]) -> tuple[str, dict[str, Any]]:
    """The condition (and its parameters) for the metric rows of ``places`` ((level, code)
    pairs), on the sort key's ``level``, ``province_code`` and ``region_code`` so that the
    primary index skips the rest of the country."""
    provinces = _provinces(places)
    where = f"""level IN %(levels)s AND region_code IN %(codes)s
          AND concat(level, ':', region_code) IN %(places)s
          AND {"1" if provinces is None else "province_code IN %(provinces)s"}"""
    return where, {
        "provinces": provinces or (),
        "levels": tuple(sorted({level for level, _code in places})),
        "codes": tuple(sorted({code for _level, code in places})),
        "places": tuple(f"{level}:{code}" for level, code in places),
    }


def _provinces(places: Sequence[tuple[str, str]]) -> tuple[str, ...] | None:
    """The ``province_code`` of the places' rows, by the rule the sink filled it with
    (:func:`hotline.sinks.rows.place`); None (no province bound) if a code is unknown."""
    registry = default_registry()
    try:
        return tuple(sorted({place(registry, "metric_minute", code)[0] for _, code in places}))
    except UnknownRegion:
        return None


def region_metrics(
    wh: Warehouse, places: Sequence[tuple[str, str]], tr: TimeRange, group: str
) -> list[dict[str, Any]]:
    """Summed counters and rates of ``places`` ((level, code) pairs) in ``tr``, per ``group``
    (``place``: one row per place, key ``level:code``; ``bucket``; ``line``; ``total``)."""
    if not places:
        return []
    sql, params = region_metrics_sql(places, tr, group)
    return wh.rows(sql, params)


#: grain → a call record's China-time bucket (``day`` is the call's China date), the buckets
#: of the rollups and of the ``center_rates`` view.
CALL_BUCKETS = {
    "minute": "toTimeZone(toStartOfMinute(started_at), 'Asia/Shanghai')",
    "hour": "toStartOfHour(toTimeZone(started_at, 'Asia/Shanghai'))",
    "day": "toDateTime(day, 'Asia/Shanghai')",
    "month": "toDateTime(toStartOfMonth(day), 'Asia/Shanghai')",
}


def call_counters_sql(bucket: str, where: str, table: str = "{db}.call_records") -> str:
    """Each call record (``FINAL``) of ``where`` as one row of counters, named and counted as
    the rollups' and ``center_rates``' columns, with its ``bucket`` (an SQL expression, e.g. of
    :data:`CALL_BUCKETS`). The caller bounds ``where`` on ``province_code`` and ``day`` (the
    sort key and partition), so the index skips the rest of the country and year; the
    ``center_rates`` view instead computes every grain of every call before a WHERE applies,
    which a year of calls cannot afford (migration 0006 records that shape running out of
    memory on ``metric_rates``). Read by :func:`center_metrics_sql` and by the Grafana city
    dashboard's 中心 panel (:func:`hotline.dashboards.grafana.centers_sql`)."""
    return f"""
        SELECT
            {bucket} AS bucket,
            center_id, business_line, offered, self_served, queued, answered, abandoned,
            short_abandoned, answered_in_sl, wait_ms * answered AS wait_ms_answered,
            talk_ms, hold_ms, acw_ms,
            survey_result != '' AS survey_responses,
            survey_result = 'satisfied' AS survey_satisfied,
            survey_result = 'basic' AS survey_basic,
            survey_result = 'dissatisfied' AS survey_dissatisfied
        FROM {table} FINAL
        WHERE {where}"""


def center_metrics_sql(tr: TimeRange, group: str, *, one_city: bool = False) -> str:
    """The SQL of :func:`center_metrics`: the centers' call records of the range
    (:func:`call_counters_sql`), bounded on ``province_code`` and ``day`` and on
    ``started_at``; with ``one_city``, only the calls about the city ``%(city)s``."""
    city = "AND city_code = %(city)s" if one_city else ""
    source = call_counters_sql(
        CALL_BUCKETS[tr.grain],
        f"""province_code IN %(provinces)s AND center_id IN %(centers)s {city}
          AND day >= {_DAY_BOUND % "%(start)s"} AND day <= {_DAY_BOUND % "%(end)s"}
          AND started_at >= toDateTime(%(start)s) AND started_at < toDateTime(%(end)s)""",
    )
    return _metric_sql(source, group)


def center_metrics(
    wh: Warehouse,
    centers: Sequence[tuple[str, str]],
    tr: TimeRange,
    group: str,
    *,
    city: str | None = None,
) -> list[dict[str, Any]]:
    """Summed counters and rates of centers (``(center id, home region)`` pairs; ``group``:
    center, bucket or total); with ``city``, of their calls about that city only (a city
    user's view of a center that serves more than the city)."""
    if not centers:
        return []
    registry = default_registry()
    params = {
        "provinces": tuple(sorted({place(registry, "call_records", h)[0] for _, h in centers})),
        "centers": tuple(c for c, _ in centers),
        "start": tr.start_ts,
        "end": tr.end_ts,
        "city": city or "",
    }
    return wh.rows(center_metrics_sql(tr, group, one_city=city is not None), params)


def latest_minute(wh: Warehouse, places: Sequence[tuple[str, str]]) -> str | None:
    """China time of the newest minute snapshot of ``places`` (None when there is none)."""
    if not places:
        return None
    where, params = _places_where(places)
    rows = wh.rows(
        f"""
        SELECT count() AS n,
               formatDateTime(max(bucket_start), '%%Y-%%m-%%d %%H:%%i', 'Asia/Shanghai') AS latest
        FROM {{db}}.metric_minute
        WHERE {where}""",
        params,
    )
    return rows[0]["latest"] if rows and rows[0]["n"] else None


def center_queue(wh: Warehouse, center_id: str, now_ts: int) -> dict[str, Any]:
    """The center's live queue: calls waiting and the longest wait, from its newest queue
    snapshot (the table keeps one per center), if that is less than an hour old."""
    rows = wh.rows(
        """
        SELECT
            count() AS n,
            formatDateTime(max(as_of), '%%Y-%%m-%%d %%H:%%i:%%S', 'Asia/Shanghai') AS latest,
            argMax(waiting, as_of) AS waiting,
            argMax(longest_wait_ms, as_of) / 1000 AS longest_wait_s
        FROM {db}.queue_now
        WHERE center_id = %(center)s
          AND as_of > toDateTime(%(now)s) - INTERVAL 1 HOUR""",
        {"center": center_id, "now": now_ts},
    )
    if not rows or not rows[0]["n"]:
        return {}
    row = rows[0]
    return {
        "as_of": row["latest"],
        "waiting": row["waiting"],
        "longest_wait_s": row["longest_wait_s"],
    }


def center_agents(wh: Warehouse, center_id: str, now_ts: int) -> list[dict[str, Any]]:
    """Each agent's latest state within the last 12 hours (logged-out agents included): the
    last of its events by ``(occurred_at, sequence, event_id)``, the streams' order."""
    return wh.rows(
        """
        SELECT agent_id,
               argMax(state, (occurred_at, sequence, event_id)) AS state,
               argMax(reason, (occurred_at, sequence, event_id)) AS reason,
               formatDateTime(max(occurred_at), '%%Y-%%m-%%d %%H:%%i:%%S', 'Asia/Shanghai') AS since
        FROM {db}.agent_states FINAL
        WHERE center_id = %(center)s
          AND occurred_at >= toDateTime(%(now)s) - INTERVAL 12 HOUR
          AND occurred_at <= toDateTime(%(now)s)
        GROUP BY agent_id
        ORDER BY agent_id""",
        {"center": center_id, "now": now_ts},
    )


def _codes_filter(codes: Sequence[str] | None) -> str:
    return "1" if codes is None else "region_code IN %(codes)s"


def ticket_categories(
    wh: Warehouse, codes: Sequence[str] | None, tr: TimeRange, now_ms: int
) -> list[dict[str, Any]]:
    """Per category: open backlog and overdue now; created, resolved and on-time in ``tr``.

    ``codes`` are the region codes to include (None: the whole nation).
    """
    sql = f"""
        SELECT *, hotline_on_time_rate(resolved_on_time, resolved) AS on_time_rate
        FROM (
            SELECT category,
                countIf(resolved_at IS NULL AND closed_at IS NULL) AS open,
                countIf(resolved_at IS NULL AND closed_at IS NULL
                        AND due_at < fromUnixTimestamp64Milli(%(now)s)) AS overdue,
                countIf(created_at >= toDateTime(%(start)s)
                        AND created_at < toDateTime(%(end)s)) AS created,
                countIf(resolved_at >= toDateTime(%(start)s)
                        AND resolved_at < toDateTime(%(end)s)) AS resolved,
                countIf(resolved_at >= toDateTime(%(start)s)
                        AND resolved_at < toDateTime(%(end)s) AND on_time = 1) AS resolved_on_time
            FROM {{db}}.tickets FINAL
            WHERE {_codes_filter(codes)}
            GROUP BY category
        )
        ORDER BY category"""
    params: dict[str, Any] = {"now": now_ms, "start": tr.start_ts, "end": tr.end_ts}
    if codes is not None:
        params["codes"] = tuple(codes)
    return wh.rows(sql, params)


def ticket_list(
    wh: Warehouse,
    codes: Sequence[str] | None,
    now_ms: int,
    *,
    category: str | None,
    state: str,
    limit: int = 500,
) -> list[dict[str, Any]]:
    """Tickets of ``codes``: ``state`` open | overdue | all, oldest due first."""
    where = [_codes_filter(codes)]
    if category:
        where.append("category = %(category)s")
    if state in ("open", "overdue"):
        where.append("resolved_at IS NULL AND closed_at IS NULL")
    if state == "overdue":
        where.append("due_at < fromUnixTimestamp64Milli(%(now)s)")
    sql = f"""
        SELECT ticket_id, region_code, center_id, category, business_line, status,
            formatDateTime(created_at, '%%Y-%%m-%%d %%H:%%i', 'Asia/Shanghai') AS created,
            formatDateTime(due_at, '%%Y-%%m-%%d %%H:%%i', 'Asia/Shanghai') AS due,
            resolved_at IS NULL AND closed_at IS NULL
                AND due_at < fromUnixTimestamp64Milli(%(now)s) AS is_overdue,
            callbacks, reopens
        FROM {{db}}.tickets FINAL
        WHERE {" AND ".join(where)}
        ORDER BY due_at, ticket_id
        LIMIT {int(limit)}"""
    params: dict[str, Any] = {"now": now_ms, "category": category or ""}
    if codes is not None:
        params["codes"] = tuple(codes)
    return wh.rows(sql, params)


def alert_feed(
    wh: Warehouse, codes: Sequence[str] | None, tr: TimeRange, *, limit: int = 200
) -> list[dict[str, Any]]:
    """Alerts of ``codes`` opened in ``tr`` or still open, newest first."""
    sql = f"""
        SELECT alert_id, kind, severity, region_code, center_id,
            formatDateTime(opened_at, '%%Y-%%m-%%d %%H:%%i:%%S', 'Asia/Shanghai') AS opened,
            if(closed_at IS NULL, '',
               formatDateTime(assumeNotNull(closed_at), '%%Y-%%m-%%d %%H:%%i:%%S', 'Asia/Shanghai'))
                AS closed,
            message
        FROM {{db}}.alerts FINAL
        WHERE {_codes_filter(codes)}
          AND (closed_at IS NULL
               OR (opened_at >= toDateTime(%(start)s) AND opened_at < toDateTime(%(end)s)))
        ORDER BY opened_at DESC, alert_id
        LIMIT {int(limit)}"""
    params: dict[str, Any] = {"start": tr.start_ts, "end": tr.end_ts}
    if codes is not None:
        params["codes"] = tuple(codes)
    return wh.rows(sql, params)


def alert_region(wh: Warehouse, alert_id: str) -> str | None:
    rows = wh.rows(
        "SELECT region_code FROM {db}.alerts FINAL WHERE alert_id = %(id)s LIMIT 1",
        {"id": alert_id},
    )
    return rows[0]["region_code"] if rows else None
