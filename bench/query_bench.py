"""p50/p95 of the dashboard and analyst queries over one simulated year of national data.

    python bench/query_bench.py                      # starts its own ClickHouse in a temp home
    python bench/query_bench.py --clickhouse-port 9000 --database hotline_bench
    python bench/query_bench.py --runs 20 --days 365 --minute-days 2 --county-hour-days 31

Running the simulator for a year is far too slow on 2 cores, so the counters are generated
directly in ClickHouse (``INSERT … SELECT`` from ``numbers()``), shaped like the simulator:

* volume per region: every center of the simulator's national plan (366 centers, their agent
  counts) × the calls per agent of the measured mid-size center (Ningbo: 3,300 calls on a
  Monday with 20 agents) spread over the center's call regions with its weights, then rolled
  up with the streams' rule (:func:`hotline.streams.rollup.region_at`) to city, province, nation;
* time: the simulator's weekday factors on the official calendar (``hotline.workdays``) and its
  hourly shape (``HOURLY_SHAPE``); lines and channels: its ``BUSINESS_LINE_MIX`` × ``CHANNEL_MIX``;
* sparsity as in real snapshots: a (region, bucket, line, channel) row exists with probability
  1 − e^(−λ) (λ = expected calls), its ``offered`` ≈ λ; other counters are seeded shares per
  province (connection, service level, survey …).

Tables filled: ``metric_hour`` (city, province, national for the whole year; counties for the
last ``--county-hour-days``), ``metric_day`` (city and up summed from the hours, counties sampled
per day, whole year), ``metric_month`` (from the days), ``metric_minute`` (the last
``--minute-days`` (7), all levels, each hour row spread over min(offered, 60) minutes),
``call_records`` (the last ``--call-days``, one row per offered call) and ``tickets`` (6 % of
answered calls of the same days). Every query then runs ``--runs`` times (after one warm-up).
The region queries are the dashboards' own SQL (``hotline.dashboards.queries.region_metrics_sql``
for the range the page uses); their baseline is the same query at the minute grain (on
``metric_minute``, same bounds), which holds only the last ``--minute-days``: a lower bound.
"""

from __future__ import annotations

import argparse
import math
import shutil
import socket
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from clickhouse_driver import Client
from clickhouse_driver.util.escape import escape_params

from hotline.dashboards.queries import region_metrics_sql
from hotline.dashboards.timerange import resolve
from hotline.infra.clickhouse_server import HOST, ClickHouseServer
from hotline.infra.clickhouse_users import UsersConfig
from hotline.producers.simulator.centers import plan_centers
from hotline.producers.simulator.params import (
    BUSINESS_LINE_MIX,
    CHANNEL_MIX,
    HOURLY_SHAPE,
    WEEKDAY_FACTORS,
    WEEKEND_FACTOR,
)
from hotline.regions import default_registry
from hotline.schemas import Level
from hotline.sinks.migrate import migrate
from hotline.streams.rollup import region_at
from hotline.workdays import is_working_day

CHINA = ZoneInfo("Asia/Shanghai")
#: Ningbo (20 agents): ~3,300 calls on a Monday (weekday factor 1.15) — docs/simulator.md.
CALLS_PER_AGENT_DAY = 3300 / 20 / 1.15
_COUNTERS_SQL = """
    offered,
    toUInt64(round(offered * 0.40)) AS self_served,
    offered - self_served AS queued,
    toUInt64(round(queued * c_rate)) AS answered,
    queued - answered AS abandoned,
    toUInt64(round(abandoned * 0.15)) AS short_abandoned,
    toUInt64(round(answered * sl_rate)) AS answered_in_sl,
    answered * toUInt64(wait_s * 1000) AS wait_ms_answered,
    abandoned * 40000 AS wait_ms_abandoned,
    answered * 174000 AS talk_ms,
    toUInt64(answered * 0.22 * 35000) AS hold_ms,
    answered * 23000 AS acw_ms,
    toUInt64(round(answered * 0.045)) AS transferred,
    toUInt64(round(answered * 0.93)) AS caller_hung_up_first,
    toUInt64(round(offered * 0.08)) AS repeat_7d,
    toUInt64(round(answered * 0.45)) AS survey_responses,
    toUInt64(round(survey_responses * sat_rate)) AS survey_satisfied,
    toUInt64(round((survey_responses - survey_satisfied) * 0.6)) AS survey_basic,
    survey_responses - survey_satisfied - survey_basic AS survey_dissatisfied,
    toUInt64(0) AS closed_by_timeout,
    toUInt64(0) AS late"""
_RATES_BY_PROVINCE = """
    0.80 + (cityHash64(province_code) % 19) / 100 AS c_rate,
    0.70 + (cityHash64(province_code, 1) % 28) / 100 AS sl_rate,
    8 + cityHash64(province_code, 2) % 40 AS wait_s,
    0.85 + (cityHash64(province_code, 3) % 13) / 100 AS sat_rate"""
_METRIC_COLS = (
    "level, region_code, province_code, business_line, channel, bucket_start, offered, "
    "self_served, queued, answered, abandoned, short_abandoned, answered_in_sl, "
    "wait_ms_answered, wait_ms_abandoned, talk_ms, hold_ms, acw_ms, transferred, "
    "caller_hung_up_first, repeat_7d, survey_responses, survey_satisfied, survey_basic, "
    "survey_dissatisfied, closed_by_timeout, late"
)
_SUM_COLS = ", ".join(f"sum({c})" for c in _METRIC_COLS.split(", ")[6:])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def day_factor(day: date) -> float:
    if is_working_day(day):
        return WEEKDAY_FACTORS[min(day.weekday(), 4)]
    return WEEKEND_FACTOR


# -- data ----------------------------------------------------------------------------------------


def region_volumes() -> list[tuple[str, str, str, float]]:
    """(level, region, province, calls per average working day) for every region of the plan."""
    registry = default_registry()
    volume: dict[tuple[str, str], float] = defaultdict(float)
    for center in plan_centers(12333):
        calls = center.agents * CALLS_PER_AGENT_DAY
        total = sum(center.region_weights)
        for region, weight in zip(center.regions, center.region_weights, strict=True):
            for level in Level:
                code = region_at(registry, region, level)
                volume[(level.value, code)] += calls * weight / total
    out = []
    for (level, code), calls in sorted(volume.items()):
        province = "000000" if level == "national" else region_at(registry, code, Level.PROVINCE)
        out.append((level, code, province, calls))
    return out


def generate(client: Client, db: str, args: argparse.Namespace) -> dict[str, int]:
    """Fill the tables; return the rows per table."""
    today = datetime.now(CHINA).date()
    first = today - timedelta(days=args.days - 1)
    days = [first + timedelta(days=i) for i in range(args.days)]
    shape_total = sum(HOURLY_SHAPE)
    client.execute(f"DROP TABLE IF EXISTS {db}.bench_regions")
    client.execute(
        f"CREATE TABLE {db}.bench_regions (level String, region_code String, "
        "province_code String, calls Float64) ENGINE = Memory"
    )
    client.execute(f"INSERT INTO {db}.bench_regions VALUES", region_volumes())
    client.execute(f"DROP TABLE IF EXISTS {db}.bench_combos")
    client.execute(
        f"CREATE TABLE {db}.bench_combos (business_line String, channel String, share Float64) "
        "ENGINE = Memory"
    )
    combos = [
        (line.value, channel.value, ls * cs)
        for line, ls in BUSINESS_LINE_MIX.items()
        for channel, cs in CHANNEL_MIX.items()
    ]
    client.execute(f"INSERT INTO {db}.bench_combos VALUES", combos)
    client.execute(f"DROP TABLE IF EXISTS {db}.bench_hours")
    client.execute(
        f"CREATE TABLE {db}.bench_hours (bucket_start DateTime('UTC'), day Date, share Float64) "
        "ENGINE = Memory"
    )
    hours = []
    for d in days:
        midnight = datetime(d.year, d.month, d.day, tzinfo=CHINA)
        for h in range(24):
            hours.append((midnight + timedelta(hours=h), d, day_factor(d) * HOURLY_SHAPE[h]))
    client.execute(f"INSERT INTO {db}.bench_hours VALUES", hours)
    county_from = today - timedelta(days=args.county_hour_days - 1)

    def sampled(grain_share: str, source: str, where: str) -> str:
        # λ = region calls × time share × combo share; a row exists with P = 1 − e^(−λ).
        return f"""
        SELECT level, region_code, province_code, business_line, channel, bucket_start,
               {_COUNTERS_SQL}
        FROM (
            SELECT r.level AS level, r.region_code AS region_code,
                   r.province_code AS province_code, c.business_line AS business_line,
                   c.channel AS channel, t.bucket_start AS bucket_start,
                   r.calls * {grain_share} * c.share AS lambda,
                   toUInt64(greatest(1, round(lambda * (0.7 + 0.6 * randCanonical())))) AS offered,
                   {_RATES_BY_PROVINCE}
            FROM {db}.bench_regions AS r CROSS JOIN {source} AS t CROSS JOIN {db}.bench_combos AS c
            WHERE {where} AND randCanonical() < 1 - exp(-lambda)
        )"""

    t0 = time.monotonic()
    client.execute(
        f"INSERT INTO {db}.metric_hour ({_METRIC_COLS}, computed_at) SELECT *, now64(6) FROM ("
        + sampled(
            f"t.share / {shape_total}",
            f"{db}.bench_hours",
            f"(r.level != 'county' OR t.day >= toDate('{county_from}'))",
        )
        + ")",
        settings={"max_threads": 2},
    )
    print(f"  metric_hour generated in {time.monotonic() - t0:.1f} s", flush=True)
    t0 = time.monotonic()
    # Days: city and up summed from the hours (as the sink does), counties sampled per day.
    client.execute(
        f"INSERT INTO {db}.metric_day ({_METRIC_COLS}, computed_at) "
        f"SELECT level, region_code, province_code, business_line, channel, "
        f"toDate(bucket_start, 'Asia/Shanghai') AS b, {_SUM_COLS}, now64(6) "
        f"FROM {db}.metric_hour WHERE level != 'county' "
        f"GROUP BY level, region_code, province_code, business_line, channel, b"
    )
    client.execute(f"DROP TABLE IF EXISTS {db}.bench_days")
    client.execute(
        f"CREATE TABLE {db}.bench_days ENGINE = Memory AS SELECT day AS bucket_start, "
        f"sum(share) / {shape_total} AS share FROM {db}.bench_hours GROUP BY day"
    )
    client.execute(
        f"INSERT INTO {db}.metric_day ({_METRIC_COLS}, computed_at) SELECT *, now64(6) FROM ("
        + sampled("t.share", f"{db}.bench_days", "r.level = 'county'")
        + ")"
    )
    client.execute(
        f"INSERT INTO {db}.metric_month ({_METRIC_COLS}, computed_at) "
        f"SELECT level, region_code, province_code, business_line, channel, "
        f"toStartOfMonth(bucket_start) AS b, {_SUM_COLS}, now64(6) FROM {db}.metric_day "
        f"GROUP BY level, region_code, province_code, business_line, channel, b"
    )
    print(f"  metric_day/month generated in {time.monotonic() - t0:.1f} s", flush=True)
    t0 = time.monotonic()
    # Minutes: each hour row of the recent window spread over min(offered, 60) minutes.
    minute_from = today - timedelta(days=args.minute_days - 1)
    spread = f"""
        SELECT level, region_code, province_code, business_line, channel,
               h_start + 60 * m AS bucket_start, {_COUNTERS_SQL}, 1 AS version
        FROM (
            SELECT level, region_code, province_code, business_line, channel, h_start, m,
                   intDiv(h_offered, n) + (m < h_offered % n) AS offered, {_RATES_BY_PROVINCE}
            FROM (
                SELECT level, region_code, province_code, business_line, channel,
                       bucket_start AS h_start, offered AS h_offered, least(h_offered, 60) AS n,
                       arrayJoin(arraySlice(arrayShuffle(range(60)), 1, n)) AS m
                FROM {db}.metric_hour
                WHERE bucket_start >= toDateTime('{minute_from}', 'Asia/Shanghai')
            )
        )"""
    client.execute(f"INSERT INTO {db}.metric_minute ({_METRIC_COLS}, version) " + spread)
    print(f"  metric_minute generated in {time.monotonic() - t0:.1f} s", flush=True)
    t0 = time.monotonic()
    generate_calls(client, db, args.call_days, today)
    print(f"  call_records/tickets generated in {time.monotonic() - t0:.1f} s", flush=True)
    counts = {}
    for table in ("metric_minute", "metric_hour", "metric_day", "metric_month",
                  "call_records", "tickets"):  # fmt: skip
        counts[table] = client.execute(f"SELECT count() FROM {db}.{table}")[0][0]
    return counts


def generate_calls(client: Client, db: str, n_days: int, today: date) -> None:
    """One row per offered call of every county-level region of the last ``n_days`` days."""
    centers = []
    registry = default_registry()
    for center in plan_centers(12333):
        total = sum(center.region_weights)
        for region, weight in zip(center.regions, center.region_weights, strict=True):
            centers.append(
                (
                    center.center_id,
                    region,
                    region_at(registry, region, Level.PROVINCE),
                    region_at(registry, region, Level.CITY),
                    center.agents * CALLS_PER_AGENT_DAY * weight / total,
                )
            )
    client.execute(f"DROP TABLE IF EXISTS {db}.bench_centers")
    client.execute(
        f"CREATE TABLE {db}.bench_centers (center_id String, region_code String, "
        "province_code String, city_code String, calls Float64) ENGINE = Memory"
    )
    client.execute(f"INSERT INTO {db}.bench_centers VALUES", centers)
    first = today - timedelta(days=n_days - 1)
    shape_total = sum(HOURLY_SHAPE)
    # Calls per (center, region, hour) from the hourly shares, then one row each.
    client.execute(
        f"""
        INSERT INTO {db}.call_records (call_id, center_id, region_code, province_code, city_code,
            channel, business_line, agent_id, started_at, ended_at, day, offered, self_served,
            queued, answered, abandoned, short_abandoned, answered_in_sl, wait_ms, talk_ms,
            hold_ms, acw_ms, transferred, transfer_target, caller_hung_up_first, repeat_7d,
            survey_result, closed_by_timeout, short_abandon_threshold_ms,
            service_level_threshold_ms, version)
        SELECT
            toString(generateUUIDv4()) AS call_id, center_id, region_code, province_code,
            city_code,
            if(rand(1) % 100 < 92, 'phone', 'wechat') AS channel,
            if(self_served = 1, '', ['pension', 'medical', 'social_security_card',
               'labour_relations', 'employment', 'other'][1 + rand(2) % 6]) AS business_line,
            if(answered = 1, concat(center_id, '.a', toString(rand(3) % 40)), '') AS agent_id,
            toDateTime64(hour_start, 3, 'UTC') + toIntervalMillisecond(rand(4) % 3600000)
                AS started_at,
            started_at + toIntervalSecond(200) AS ended_at,
            toDate(started_at, 'Asia/Shanghai') AS day,
            1 AS offered,
            rand(5) % 100 < 40 AS self_served,
            1 - self_served AS queued,
            queued AND rand(6) % 100 < 93 AS answered,
            queued AND NOT answered AS abandoned,
            abandoned AND rand(7) % 100 < 15 AS short_abandoned,
            answered AND rand(8) % 100 < 85 AS answered_in_sl,
            answered * (rand(9) % 60000) AS wait_ms,
            answered * (60000 + rand(10) % 240000) AS talk_ms,
            0 AS hold_ms, answered * 20000 AS acw_ms, 0 AS transferred, '' AS transfer_target,
            answered AS caller_hung_up_first, rand(11) % 100 < 8 AS repeat_7d,
            if(answered AND rand(12) % 100 < 45,
               ['satisfied', 'satisfied', 'satisfied', 'basic', 'dissatisfied'][1 + rand(13) % 5],
               '') AS survey_result,
            0 AS closed_by_timeout, 5000 AS short_abandon_threshold_ms,
            30000 AS service_level_threshold_ms, 1 AS version
        FROM (
            SELECT c.center_id AS center_id, c.region_code AS region_code,
                   c.province_code AS province_code, c.city_code AS city_code,
                   h.bucket_start AS hour_start,
                   arrayJoin(range(toUInt32(round(c.calls * h.share / {shape_total})))) AS i
            FROM {db}.bench_centers AS c CROSS JOIN {db}.bench_hours AS h
            WHERE h.day >= toDate('{first}')
        )
        """,
        settings={"max_threads": 2},
    )
    client.execute(
        f"""
        INSERT INTO {db}.tickets (ticket_id, center_id, region_code, province_code, city_code,
            call_id, category, business_line, status, created_at, due_at, resolved_at,
            closed_at, callbacks, reopens, on_time, overdue, as_of, version)
        SELECT concat('t-', call_id), center_id, region_code, province_code, city_code, call_id,
            ['callback', 'business_request', 'complaint', 'report', 'suggestion'][1 + rand(1) % 5]
                AS category,
            business_line,
            if(resolved, 'resolved', 'created') AS status,
            started_at + toIntervalSecond(200) AS created_at,
            created_at + toIntervalDay(1 + rand(2) % 5) AS due_at,
            if(resolved, created_at + toIntervalHour(rand(3) % 100), NULL) AS resolved_at,
            NULL, 0, 0,
            if(resolved, toUInt8(resolved_at <= due_at), NULL), 0, created_at, 1
        FROM (SELECT *, rand(4) % 100 < 70 AS resolved FROM {db}.call_records
              WHERE answered = 1 AND rand(5) % 100 < 6)
        """
    )


# -- queries -------------------------------------------------------------------------------------


@dataclass
class Query:
    name: str
    kind: str  # dashboard | analyst
    sql: str
    baseline: str | None = None  # the same answer from metric_minute


def _dashboard(
    db: str, name: str, places: list[tuple[str, str]], kind: str, group: str, now: datetime
) -> Query:
    """The SQL the dashboards run for ``places`` in range ``kind`` (``region_metrics_sql``),
    and as baseline the same query on ``metric_minute`` (same bounds, minute grain)."""
    tr = resolve(kind, now)
    sql, params = region_metrics_sql(places, tr, group)
    base, base_params = region_metrics_sql(places, replace(tr, grain="minute"), group)
    return Query(
        name,
        "dashboard",
        sql.replace("{db}", db) % escape_params(params, None),
        base.replace("{db}", db) % escape_params(base_params, None),
    )


def queries(db: str, sample_province: str, sample_city: str, sample_center: str) -> list[Query]:
    registry = default_registry()
    now = datetime.now(CHINA)

    def kids(code: str) -> list[tuple[str, str]]:
        """The places of the dashboard's children table: a province's or city's own level
        (省本级 ``city:<province>``, 市本级 ``county:<city>``) and the registry's children."""
        if code == "000000":
            return [(r.level, r.code) for r in registry.provinces()]
        own = {"province": "city", "city": "county"}.get(registry.get(code).level)
        places = [(own, code)] if own else []
        return places + [(r.level, r.code) for r in registry.children(code)]

    out = [
        _dashboard(
            db, "national tiles by province, this month", kids("000000"), "month", "place", now
        ),
        _dashboard(db, "province → cities, 7 days", kids(sample_province), "7d", "place", now),
        _dashboard(db, "city → counties, 7 days", kids(sample_city), "7d", "place", now),
        _dashboard(
            db, "national curve today (hour)", [("national", "000000")], "today", "bucket", now
        ),
        Query(
            "center today curve (call facts, hour)",
            "dashboard",
            f"""
SELECT toStartOfHour(toTimeZone(started_at, 'Asia/Shanghai')) AS hour, count() AS offered,
       hotline_connection_rate(sum(answered), sum(queued)) AS connection_rate
FROM {db}.call_records FINAL
WHERE center_id = '{sample_center}' AND day = toDate(now(), 'Asia/Shanghai')
GROUP BY hour ORDER BY hour""",
        ),
        Query(
            "center live minutes (last 60)",
            "dashboard",
            f"""
SELECT toStartOfMinute(started_at) AS m, count() AS offered, countIf(queued = 1) AS queued
FROM {db}.call_records FINAL
WHERE center_id = '{sample_center}' AND day = toDate(now(), 'Asia/Shanghai')
  AND started_at >= now() - INTERVAL 60 MINUTE
GROUP BY m ORDER BY m""",
        ),
        Query(
            "tickets backlog by category (national)",
            "dashboard",
            f"""
SELECT category, countIf(resolved_at IS NULL AND closed_at IS NULL) AS open,
       countIf(resolved_at IS NULL AND closed_at IS NULL AND due_at < now64(3)) AS overdue
FROM {db}.tickets FINAL GROUP BY category ORDER BY category""",
        ),
        _dashboard(db, "year ranking of provinces", kids("000000"), "year", "place", now),
    ]
    analyst = analyst_queries(db, sample_province)
    return out + analyst


def analyst_queries(db: str, province: str) -> list[Query]:
    """The questions of docs/analysts.md, verbatim but for the database and the province."""
    text = (Path(__file__).resolve().parent.parent / "docs" / "analysts.md").read_text()
    blocks = text.split("```sql\n")[1:]
    out = []
    for i, block in enumerate(blocks, start=1):
        sql = block.split("```", 1)[0]
        sql = sql.replace("'320000'", f"'{province}'")
        for name in (
            "metric_rates", "metric_counters", "center_rates", "ticket_backlog",
            "ticket_rates", "center_occupancy", "region_occupancy", "region_ticket_rates",
            "agent_time", "call_records", "alerts",
        ):  # fmt: skip
            sql = _qualify(sql, name, db)
        out.append(Query(f"analysts.md Q{i}", "analyst", sql))
    return out


def _qualify(sql: str, name: str, db: str) -> str:
    import re

    # also the per-grain views (metric_rates_month …)
    return re.sub(rf"(FROM|JOIN)\s+({name}\w*)\b", rf"\1 {db}.\2", sql)


def timed(client: Client, sql: str, runs: int) -> list[float]:
    t0 = time.perf_counter()
    client.execute(sql)  # warm-up
    if time.perf_counter() - t0 > 2.0:
        runs = min(runs, 3)  # a multi-second query: three runs say enough
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        client.execute(sql)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


# -- main ----------------------------------------------------------------------------------------


def prepare(client: Client, db: str, args: argparse.Namespace) -> dict[str, int]:
    """Migrate ``db``, empty its tables and generate the year (``add_data_arguments``)."""
    migrate(client, db)
    for (table,) in client.execute(
        "SELECT name FROM system.tables WHERE database = %(db)s AND engine LIKE '%%MergeTree' "
        "AND name != 'schema_migrations'",
        {"db": db},
    ):
        client.execute(f"TRUNCATE TABLE {db}.{table}")
    print(f"generating {args.days} days into {db} …", flush=True)
    t0 = time.monotonic()
    counts = generate(client, db, args)
    print(f"generated in {time.monotonic() - t0:.0f} s:")
    for table, n in counts.items():
        print(f"  {table:15s} {n:>12,d} rows")
    return counts


def run(client: Client, db: str, args: argparse.Namespace) -> None:
    prepare(client, db, args)
    province, city = args.province, args.city
    center = client.execute(
        f"SELECT center_id FROM {db}.call_records WHERE city_code = '{city}' "
        "GROUP BY center_id ORDER BY count() DESC LIMIT 1"
    )[0][0]
    results = []
    header = (
        f"{'query':42s} {'kind':9s} {'p50 ms':>8s} {'p95 ms':>8s} {'minute p95':>11s} {'ratio':>7s}"
    )
    print(
        f"\n(minute p95: the same query on metric_minute FINAL, which holds the last "
        f"{args.minute_days} days only — a lower bound for longer ranges)"
    )
    print("\n" + header + "\n" + "-" * len(header), flush=True)
    for q in queries(db, province, city, center):
        try:
            times = timed(client, q.sql, args.runs)
        except Exception as exc:  # e.g. a memory limit: report it and go on
            print(f"{q.name:42s} {q.kind:9s} FAILED: {str(exc).splitlines()[0][:120]}")
            continue
        # as many runs as the query it is compared with (unless itself over 2 s: 3, timed())
        base = timed(client, q.baseline, len(times)) if q.baseline else None
        p50, p95 = p(times, 0.5), p(times, 0.95)
        b95 = p(base, 0.95) if base else None
        ratio = f"{b95 / p95:6.1f}×" if b95 else ""
        print(
            f"{q.name:42s} {q.kind:9s} {p50:8.1f} {p95:8.1f} "
            f"{(f'{b95:.0f}' if b95 else ''):>11s} {ratio:>7s}",
            flush=True,
        )
        results.append((q, p50, p95, b95))
    dash = [r for r in results if r[0].kind == "dashboard"]
    if not dash or not any(r[0].kind == "analyst" for r in results):
        print("\nno summary: every dashboard or every analyst query failed")
        return
    worst = max(dash, key=lambda r: r[2])
    ok = all(r[2] < 200 for r in dash)
    print(
        f"\nsummary: {len(dash)} dashboard queries, worst p95 {worst[2]:.1f} ms ({worst[0].name}) "
        f"→ goal p95 < 200 ms {'MET' if ok else 'MISSED'}; "
        f"{len(results) - len(dash)} analyst queries, median p95 "
        f"{statistics.median(r[2] for r in results if r[0].kind == 'analyst'):.1f} ms; "
        f"rollups vs minute table: " + ", ".join(f"{r[3] / r[2]:.0f}×" for r in results if r[3])
    )


def add_server_arguments(parser: argparse.ArgumentParser, database: str) -> None:
    """The options :func:`clickhouse` reads: a running server, or a temp one kept or not."""
    parser.add_argument("--clickhouse-port", type=int, help="use a running server (native port)")
    parser.add_argument("--database", default=database, help="the benchmark's database")
    parser.add_argument("--keep", action="store_true", help="keep the temp server's home")


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of the server and of the generated year (shared with dashboard_bench.py)."""
    add_server_arguments(parser, "hotline_bench")
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--minute-days", type=int, default=7)
    parser.add_argument("--county-hour-days", type=int, default=31)
    parser.add_argument("--call-days", type=int, default=7)
    parser.add_argument("--province", default="320000", help="the province of the drill-downs")
    parser.add_argument("--city", default="320100", help="the city of the drill-downs")


@contextmanager
def clickhouse(args: argparse.Namespace) -> Iterator[tuple[Client, int]]:
    """An admin client and the native port: of ``--clickhouse-port``, or of a ClickHouse
    started in a temp home (its users from ``UsersConfig``; stopped and removed afterwards)."""
    if args.clickhouse_port:
        client = Client(HOST, port=args.clickhouse_port, send_receive_timeout=3600)
        try:
            yield client, args.clickhouse_port
        finally:
            client.disconnect()
        return
    home = Path(tempfile.mkdtemp(prefix="hotline-query-bench-"))
    server = ClickHouseServer(home, free_port(), free_port(), UsersConfig(database=args.database))
    server.start()
    try:
        server.wait_ready(120)
        client = Client(HOST, port=server.tcp_port, send_receive_timeout=3600)
        yield client, server.tcp_port
        client.disconnect()
    finally:
        server.stop(timeout=30)
        if not args.keep:
            shutil.rmtree(home, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_data_arguments(parser)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    with clickhouse(args) as (client, _port):
        run(client, args.database, args)


if __name__ == "__main__":
    main()
