"""The analyst layer against the real server: every SQL block of docs/analysts.md runs as the
read-only analyst, the views compute rates from summed counters, and ``hotline sql`` /
``query_df`` return what the views hold."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from clickhouse_driver import Client
from fixtures_clickhouse import PASSWORDS
from test_sink import CODEC, DATABASE, T0, make_data
from typer.testing import CliRunner

from hotline.cli import app
from hotline.regions import default_registry
from hotline.settings import ClickHouseSettings
from hotline.sinks.analyst import query_df
from hotline.sinks.migrate import migrate
from hotline.sinks.rows import AGENT_TIME_COUNTERS, METRIC_COUNTERS, TABLES, place, to_rows
from hotline.sinks.writer import Writer

pytestmark = pytest.mark.clickhouse

DOC = Path(__file__).resolve().parent.parent / "docs" / "analysts.md"


def doc_queries() -> list[str]:
    return re.findall(r"```sql\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)


@pytest.fixture
def loaded(clickhouse_client: Client) -> Client:
    """The schema with a little data at every level, written the way the sink writes it."""
    migrate(clickhouse_client, DATABASE)
    for (table,) in clickhouse_client.execute(
        "SELECT name FROM system.tables WHERE database = %(db)s AND engine LIKE '%%MergeTree' "
        "AND name != 'schema_migrations'",
        {"db": DATABASE},
    ):
        clickhouse_client.execute(f"TRUNCATE TABLE {DATABASE}.{table}")
    batches: dict[str, list[tuple[object, ...]]] = {}
    for offset, (_role, value) in enumerate(make_data(n_calls=80).messages):
        for routed in to_rows(CODEC, value, topic="t", partition=0, offset=offset):
            batches.setdefault(routed.table, []).append(routed.row)
    # Higher levels (the streams' roll-ups), incl. the nation's 000000.
    for level, region in (("city", "320100"), ("province", "320000"), ("national", "000000")):
        for minute in (0, 61):
            counters = [0] * len(METRIC_COUNTERS)
            for name, value in (("offered", 20), ("queued", 10), ("answered", 9)):
                counters[METRIC_COUNTERS.index(name)] = value
            bucket = T0 + timedelta(minutes=minute)
            where = place(default_registry(), "metric_minute", region)
            row = (level, region, "pension", "phone", bucket, *counters, 1, *where)
            batches["metric_minute"].append(row)
    Writer(clickhouse_client, DATABASE).write(batches)
    return clickhouse_client


def test_the_doc_has_at_least_ten_questions() -> None:
    assert len(doc_queries()) >= 10


def _parenthesised(text: str) -> Iterator[tuple[str, str]]:
    """(name, what its parentheses hold) of every top-level ```name` (…)`` in ``text``."""
    depth, start, name = 0, 0, ""
    for found in re.finditer(r"`(\w+)` \(|\(|\)", text):
        if found.group() == ")":
            depth -= 1
            if depth == 0 and name:
                yield name, text[start : found.start()]
        else:
            if depth == 0:
                name, start = found.group(1) or "", found.end()
            depth += 1


def test_the_data_dictionary_names_what_the_schema_has(clickhouse_client: Client) -> None:
    """Every view of the Views table exists with the columns it names (or the tables it is
    made from); the counters are the metric tables' own; each table of the Tables paragraph
    has the columns named in its parentheses."""
    migrate(clickhouse_client, DATABASE)
    columns: dict[str, set[str]] = {}
    for table, column in clickhouse_client.execute(
        "SELECT table, name FROM system.columns WHERE database = %(db)s", {"db": DATABASE}
    ):
        columns.setdefault(table, set()).add(column)
    text = DOC.read_text(encoding="utf-8")
    views = text.split("**Views (read these first)**", 1)[1].split("\n\n", 2)[1]
    named = re.findall(r"^\| `(\w+)` \|[^|]*\|(.*)\|$", views, flags=re.M)
    assert len(named) >= 9
    assert {view for view, _ in named} - set(columns) == set()
    wrong = {
        f"{view}.{name}"
        for view, cell in named
        for name in re.findall(r"`(\w+)`", cell)
        if name not in columns.get(view, ()) and name not in columns
    }
    assert wrong == set()
    counters = text.split("**Counters**", 1)[1].split("`repeat_7d` counts", 1)[0]
    assert re.findall(r"`(\w+)`", counters) == list(METRIC_COUNTERS)
    tables = text.split("**Tables**", 1)[1].split("\n\n", 1)[0]
    described = dict(_parenthesised(tables))
    assert {"call_records", "tickets", "alerts", "agent_minute", "ticket_minute"} <= set(described)
    wrong = {
        f"{table}.{name}"
        for table, inside in described.items()
        for name in re.findall(r"`(\w+)`", inside)
        if name not in columns.get(table, ()) and name not in columns
    }
    assert wrong == set()


@pytest.mark.parametrize("number", range(len(doc_queries())), ids=lambda n: f"q{n + 1}")
def test_every_documented_query_runs_as_the_analyst(
    loaded: Client, clickhouse_settings: ClickHouseSettings, number: int
) -> None:
    sql = doc_queries()[number]
    df = query_df(sql, clickhouse=clickhouse_settings, password=PASSWORDS["analyst"])
    assert isinstance(df, pd.DataFrame)
    assert len(df.columns) > 1


def test_rates_come_from_summed_counters(
    loaded: Client, clickhouse_settings: ClickHouseSettings
) -> None:
    df = query_df(
        "SELECT grain, queued, answered, connection_rate FROM metric_rates "
        "WHERE level = 'national' AND business_line = 'all' AND channel = 'all' ORDER BY grain",
        clickhouse=clickhouse_settings,
        password=PASSWORDS["analyst"],
    )
    by_grain = df.groupby("grain")[["queued", "answered"]].sum()
    assert by_grain.loc["day", "queued"] == 20 and by_grain.loc["year", "answered"] == 18
    assert (df["connection_rate"] == df["answered"] / df["queued"]).all()
    # Per call facts and per center: the same totals as the county snapshots' calls.
    calls = query_df(
        "SELECT sum(answered) AS a FROM center_rates WHERE grain = 'year' "
        "AND business_line = 'all' AND channel = 'all'",
        clickhouse=clickhouse_settings,
        password=PASSWORDS["analyst"],
    )
    assert calls["a"][0] == 60  # 80 calls, every fourth abandoned


def test_sql_command_formats(
    loaded: Client, clickhouse_settings: ClickHouseSettings, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("HOTLINE_CLICKHOUSE__PORT", str(clickhouse_settings.port))
    monkeypatch.setenv("HOTLINE_CLICKHOUSE__ANALYST_PASSWORD", PASSWORDS["analyst"])
    sql = "SELECT level, sum(offered) AS offered FROM metric_minute FINAL GROUP BY level"
    runner = CliRunner()
    result = runner.invoke(app, ["sql", "--format", "json", sql])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert {r["level"] for r in rows} == {"county", "city", "province", "national"}
    result = runner.invoke(app, ["sql", "--format", "csv", sql])
    assert result.stdout.splitlines()[0] == "level,offered"
    assert "national" in runner.invoke(app, ["sql", sql]).stdout
    out = tmp_path / "x.parquet"
    result = runner.invoke(app, ["sql", "--format", "parquet", "--out", str(out), sql])
    assert result.exit_code == 0, result.output
    assert len(pd.read_parquet(out)) == 4
    # Read-only: the analyst cannot write.
    result = runner.invoke(app, ["sql", f"TRUNCATE TABLE {DATABASE}.call_records"])
    assert result.exit_code == 1


def _quiet_china_day() -> tuple[date, datetime]:
    """A China day with no other test data, and its midnight in UTC."""
    china = ZoneInfo("Asia/Shanghai")
    day = (T0 - timedelta(days=20)).astimezone(china).date()
    return day, datetime.combine(day, time(), china).astimezone(UTC)


def test_region_occupancy_divides_the_agents_handle_time_by_their_staffed_time(
    loaded: Client, clickhouse_settings: ClickHouseSettings
) -> None:
    """Both sides from agent_minute (migration 0017): the calls' handle time is counted in the
    calls' regions (Nanjing's districts), the agents' time in their center's (the city's own
    row, county 320100), so dividing one by the other gave the district NULL and the city's
    own row 0."""
    day, midnight = _quiet_china_day()
    registry = default_registry()

    def metric(region: str, level: str, minute: int, talk: int):
        counters = [0] * len(METRIC_COUNTERS)
        counters[METRIC_COUNTERS.index("talk_ms")] = talk
        bucket = midnight + timedelta(minutes=minute)
        where = place(registry, "metric_minute", region)
        return (level, region, "pension", "phone", bucket, *counters, 1, *where)

    def agents(region: str, level: str, minute: int, staffed: int, busy: tuple[int, int], v: int):
        on_call, acw = busy
        counters = dict.fromkeys(AGENT_TIME_COUNTERS, 0) | {
            "staffed_ms": staffed, "on_call_ms": on_call, "acw_ms": acw,
            "ready_ms": staffed - on_call - acw,
        }  # fmt: skip
        bucket = midnight + timedelta(minutes=minute)
        where = place(registry, "agent_minute", region)
        return (level, region, bucket, *counters.values(), v, *where)

    Writer(loaded, DATABASE).write(
        {
            "metric_minute": [  # the city center's calls, in a district: not occupancy's
                metric("320104", "county", 600, 32_000),
                metric("320100", "city", 600, 32_000),
            ],
            "agent_minute": [
                agents("320100", "county", 600, 40_000, (30_000, 2_000), 1),  # the city's own
                agents("320102", "county", 600, 50_000, (20_000, 5_000), 2),
                agents("320102", "county", 600, 60_000, (1, 1), 1),  # older, after the newer
                agents("320102", "county", 1439, 30_000, (10_000, 5_000), 1),  # 23:59 China
                agents("320102", "county", 1440, 45_000, (0, 0), 1),  # 00:00: the next day
                agents("000000", "national", 601, 60_000, (25_000, 5_000), 1),
            ],
        }
    )
    df = query_df(
        "SELECT level, region_code, province_code, day, handle_ms, staffed_ms, occupancy "
        "FROM region_occupancy WHERE day IN (%(d0)s, %(d1)s) ORDER BY level, region_code, day",
        {"d0": day, "d1": day + timedelta(days=1)},
        clickhouse=clickhouse_settings,
        password=PASSWORDS["analyst"],
    )
    rows = [
        (r.level, r.region_code, r.province_code, r.day, r.handle_ms, r.staffed_ms,
         None if pd.isna(r.occupancy) else r.occupancy)
        for r in df.itertuples()
    ]  # fmt: skip
    next_day: date = day + timedelta(days=1)
    assert rows == [
        ("county", "320100", "320000", day, 32_000, 40_000, 0.8),
        ("county", "320102", "320000", day, 40_000, 80_000, 0.5),
        ("county", "320102", "320000", next_day, 0, 45_000, 0.0),
        ("national", "000000", "000000", day, 30_000, 60_000, 0.5),
    ]


def test_region_ticket_rates_sum_minutes_per_china_day_and_category(
    loaded: Client, clickhouse_settings: ClickHouseSettings
) -> None:
    day, midnight = _quiet_china_day()
    registry = default_registry()

    def counts(region: str, level: str, minute: int, category: str, c: tuple[int, ...], v: int):
        row = {
            "level": level,
            "region_code": region,
            "bucket_start": midnight + timedelta(minutes=minute),
            "category": category,
            **dict(zip(("created", "resolved", "resolved_on_time"), c, strict=True)),
            "version": v,
        }
        (row["province_code"],) = place(registry, "ticket_minute", region)
        return tuple(row[column] for column in TABLES["ticket_minute"])

    Writer(loaded, DATABASE).write(
        {
            "ticket_minute": [
                counts("320102", "county", 600, "complaint", (2, 4, 3), 2),
                counts("320102", "county", 600, "complaint", (5, 5, 5), 1),  # older, after
                counts("320102", "county", 1439, "complaint", (1, 4, 1), 1),  # 23:59 China time
                counts("320102", "county", 1440, "complaint", (1, 0, 0), 1),  # 00:00: next day
                counts("320102", "county", 600, "dangerous_call", (1, 1, 1), 1),
                counts("320100", "city", 600, "complaint", (2, 2, 1), 1),
                counts("320100", "city", 600, "complaint", (2, 2, 1), 1),  # repeated
                counts("000000", "national", 601, "complaint", (7, 4, 3), 1),
            ],
        }
    )
    df = query_df(
        "SELECT level, region_code, province_code, day, category, created, resolved, "
        "resolved_on_time, on_time_rate FROM region_ticket_rates WHERE day IN (%(d0)s, %(d1)s) "
        "ORDER BY level, region_code, day, category",
        {"d0": day, "d1": day + timedelta(days=1)},
        clickhouse=clickhouse_settings,
        password=PASSWORDS["analyst"],
    )
    rows = [
        (r.level, r.region_code, r.province_code, r.day, r.category, r.created, r.resolved,
         r.resolved_on_time, None if pd.isna(r.on_time_rate) else r.on_time_rate)
        for r in df.itertuples()
    ]  # fmt: skip
    next_day: date = day + timedelta(days=1)
    assert rows == [
        ("city", "320100", "320000", day, "complaint", 2, 2, 1, 0.5),
        ("county", "320102", "320000", day, "complaint", 3, 8, 4, 0.5),
        ("county", "320102", "320000", day, "dangerous_call", 1, 1, 1, 1.0),
        ("county", "320102", "320000", next_day, "complaint", 1, 0, 0, None),
        ("national", "000000", "000000", day, "complaint", 7, 4, 3, 0.75),
    ]


@pytest.mark.parametrize("view", ["metric_counters", "metric_rates", "metric_rates_day"])
def test_a_province_analyst_reads_only_its_province_through_the_views(
    loaded: Client, clickhouse_settings: ClickHouseSettings, view: str
) -> None:
    """The row policies reach through the views (0015 builds metric_counters on the per-grain
    views): Jiangsu's analyst sees Jiangsu's rows, no national ones; Xinjiang's sees none."""
    sql = f"SELECT province_code, level, count() AS n FROM {view} GROUP BY 1, 2 ORDER BY 1, 2"
    admin = query_df(sql, clickhouse=clickhouse_settings, password=PASSWORDS["analyst"])
    assert {"000000", "320000", "330000"} <= set(admin["province_code"])  # the data has these
    jiangsu = query_df(
        sql,
        clickhouse=clickhouse_settings,
        user="analyst_320000",
        password=PASSWORDS["analyst_320000"],
    )
    assert set(jiangsu["province_code"]) == {"320000"}
    assert jiangsu.to_dict("records") == admin[admin["province_code"] == "320000"].to_dict(
        "records"
    )
    xinjiang = query_df(
        sql,
        clickhouse=clickhouse_settings,
        user="analyst_650000",
        password=PASSWORDS["analyst_650000"],
    )
    assert xinjiang.empty


def test_a_day_of_short_abandons_only_is_not_an_unreachable_day(loaded: Client) -> None:
    """Migration 0018: callers who hung up within the short-abandon threshold did not wait to
    be answered (the streams' unreachable alert leaves them out too)."""
    from hotline.schemas import CallRecord, Channel

    day, midnight = _quiet_china_day()

    def call(n: int, days: int, *, answered: bool = False, short: bool = False) -> CallRecord:
        return CallRecord(
            call_id=f"u{n}", center_id="C320100", region_code="320102", channel=Channel.PHONE,
            started_at=midnight + timedelta(days=days, hours=10), queued=True,
            answered=answered, abandoned=not answered, short_abandoned=short,
            wait_ms=2_000 if short else 60_000, version=1,
        )  # fmt: skip

    calls = [
        call(1, 0, short=True), call(2, 0, short=True),  # day 0: short abandons only
        call(3, 1, short=True), call(4, 1),  # day 1: one caller waited a minute, unanswered
        call(5, 2), call(6, 2, answered=True),  # day 2: one answered
    ]  # fmt: skip
    rows = [
        routed.row
        for offset, c in enumerate(calls)
        for routed in to_rows(CODEC, CODEC.encode_model(c), topic="t", partition=0, offset=offset)
    ]
    Writer(loaded, DATABASE).write({"call_records": rows})
    got = loaded.execute(
        f"SELECT day, queued, answered FROM {DATABASE}.qa_live_unreachable_days "
        "WHERE center_id = 'C320100' AND day BETWEEN %(d0)s AND %(d2)s ORDER BY day",
        {"d0": day, "d2": day + timedelta(days=2)},
    )
    assert got == [(day + timedelta(days=1), 2, 0)]
