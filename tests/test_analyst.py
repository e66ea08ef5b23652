"""The analyst layer against the real server: every SQL block of docs/analysts.md runs as the
read-only analyst, the views compute rates from summed counters, and ``hotline sql`` /
``query_df`` return what the views hold."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

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
from hotline.sinks.rows import METRIC_COUNTERS, place, to_rows
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
