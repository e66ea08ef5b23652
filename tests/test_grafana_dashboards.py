"""The provisioned Grafana dashboards (infra/grafana/dashboards/*.json): well-formed, generated
from hotline.dashboards.grafana, every panel on the ``hotline-clickhouse`` datasource, every
variable defined, and every SQL query runs on the real ClickHouse server as the ``dashboard``
user after Grafana's macros are replaced; region panels read only the rollup of their grain
and the city dashboard's 中心 panel reads call_records bounded on ``day`` (``EXPLAIN``), with the
numbers that ``metric_counters`` and the ``center_rates`` view gave.

Every query carries the settings the plugin sends with each query (:data:`GRAFANA_SETTINGS`),
so a user profile that refuses them fails here as it fails in Grafana.

Macro replacement (what the grafana-clickhouse-datasource plugin does, simplified):
``$__timeFilter(col)`` → ``col >= toDateTime(FROM) AND col <= toDateTime(TO)``,
``$__fromTime`` / ``$__toTime`` → ``toDateTime(FROM)`` / ``toDateTime(TO)`` (epoch seconds of the
test range), ``${var}`` and ``$var`` → the variable's value. Any other ``$`` left over fails.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from clickhouse_driver import Client
from fixtures_clickhouse import PASSWORDS
from test_dashboard_data import DB, JIANGSU, NATION, NOW, _call, load

from hotline.dashboards import grafana
from hotline.dashboards.timerange import CHINA
from hotline.infra.clickhouse_server import HOST, ClickHouseServer

FOLDER = Path(__file__).resolve().parent.parent / "infra" / "grafana" / "dashboards"
FILES = sorted(FOLDER.glob("*.json"))
DAY_START = int(NOW.replace(hour=0, minute=0).timestamp())
DAY_END = DAY_START + 86400 - 1
TEST_VALUES = {"grain": ("hour", "day", "month"), "province": ("320000",), "city": ("320100",)}
# What the grafana-clickhouse-datasource plugin sends with every query as the provisioned
# datasource is set up (infra/grafana/provisioning/datasources/clickhouse.yml: no custom
# settings, no row limit): its client, clickhouse-go, sets max_execution_time to the query's
# deadline + 5 s, i.e. about 65 at the plugin's default 60 s query timeout
# (grafana/clickhouse-datasource#325).
GRAFANA_SETTINGS = {"max_execution_time": 65}


def substitute(sql: str, variables: dict[str, str], start: int, end: int) -> str:
    sql = re.sub(
        r"\$__timeFilter\((\w+)\)",
        lambda m: f"{m[1]} >= toDateTime({start}) AND {m[1]} <= toDateTime({end})",
        sql,
    )
    sql = sql.replace("$__fromTime", f"toDateTime({start})")
    sql = sql.replace("$__toTime", f"toDateTime({end})")
    for name, value in variables.items():
        sql = sql.replace(f"${{{name}}}", value)
        sql = re.sub(rf"\${name}\b", value, sql)
    assert "$" not in sql, f"unreplaced macro or variable in {sql}"
    return sql


def queries(model: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for panel in model["panels"]:
        for target in panel.get("targets", []):
            yield panel["title"], target["rawSql"]


def variables_of(model: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {v["name"]: v for v in model["templating"]["list"]}


def test_there_are_three_dashboards() -> None:
    assert [f.name for f in FILES] == [
        "hotline-city.json",
        "hotline-national.json",
        "hotline-province.json",
    ]


def test_files_are_the_generators_output() -> None:
    built = grafana.build()
    assert sorted(built) == [f.name for f in FILES]
    for file in FILES:
        assert file.read_text(encoding="utf-8") == grafana.render(built[file.name]), (
            f"{file.name} differs: run python -m hotline.dashboards.grafana"
        )


@pytest.mark.parametrize("file", FILES, ids=lambda f: f.name)
def test_dashboard_is_well_formed(file: Path) -> None:
    model = json.loads(file.read_text(encoding="utf-8"))
    assert model["uid"] and model["title"] and model["panels"]
    assert re.search(r"[\u4e00-\u9fff]", model["title"]), "Chinese title"
    defined = variables_of(model)
    ids = set()
    for panel in model["panels"]:
        assert panel["id"] not in ids
        ids.add(panel["id"])
        assert re.search(r"[\u4e00-\u9fff]", panel["title"]), panel["title"]
        assert panel["datasource"]["uid"] == "hotline-clickhouse", panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "hotline-clickhouse", panel["title"]
            sql = target["rawSql"]
            used = set(re.findall(r"\$\{(\w+)\}", sql)) | set(re.findall(r"\$(?!__)(\w+)", sql))
            assert used <= set(defined), f"{panel['title']}: undefined {used - set(defined)}"
            # rates only from summed counters: a rate function's arguments are sums
            for call in re.findall(r"hotline_\w+\(([^()]*(?:\([^()]*\)[^()]*)*)\)", sql):
                assert all(a.strip().startswith("sum(") for a in call.split(",")), call
    for variable in defined.values():
        assert variable["type"] == "custom" and variable["query"] and variable["current"]["value"]
        values = [part.split(" : ")[1] for part in variable["query"].split(", ")]
        assert variable["current"]["value"] in values


@pytest.fixture(scope="module")
def dashboard_client(clickhouse_server: ClickHouseServer) -> Iterator[Client]:
    clickhouse_server.start()
    clickhouse_server.wait_ready(60)
    admin = Client(HOST, port=clickhouse_server.tcp_port)
    load(admin)
    admin.disconnect()
    client = Client(
        HOST,
        port=clickhouse_server.tcp_port,
        user="dashboard",
        password=PASSWORDS["dashboard"],
        database=DB,
    )
    yield client
    client.disconnect()


def run(client: Client, sql: str) -> list[dict[str, Any]]:
    """Rows of ``sql`` as Grafana's datasource would run it (with :data:`GRAFANA_SETTINGS`)."""
    data, columns = client.execute(sql, with_column_types=True, settings=GRAFANA_SETTINGS)
    return [dict(zip([c for c, _t in columns], row, strict=True)) for row in data]


@pytest.mark.clickhouse
@pytest.mark.parametrize("file", FILES, ids=lambda f: f.name)
def test_every_query_runs_on_clickhouse(
    file: Path, dashboard_client: Client, clickhouse: ClickHouseServer
) -> None:
    model = json.loads(file.read_text(encoding="utf-8"))
    names = list(variables_of(model))
    for grain in TEST_VALUES["grain"]:
        values = {n: grain if n == "grain" else TEST_VALUES[n][0] for n in names}
        for title, sql in queries(model):
            rows = run(dashboard_client, substitute(sql, values, DAY_START, DAY_END))
            if grain == "day":  # the dataset's day; a month bucket starts before it
                assert rows, f"{file.name} / {title}: no rows"


@pytest.mark.clickhouse
def test_summaries_equal_the_known_counts(
    dashboard_client: Client, clickhouse: ClickHouseServer
) -> None:
    cases = (("hotline-national.json", NATION), ("hotline-province.json", JIANGSU))
    for name, counts in cases:
        model = json.loads((FOLDER / name).read_text(encoding="utf-8"))
        sql = next(sql for title, sql in queries(model) if title.endswith("汇总"))
        values = {"grain": "hour", "province": "320000"}  # both hours of the morning
        (row,) = run(dashboard_client, substitute(sql, values, DAY_START, DAY_END))
        assert row["呼入量"] == counts.offered
        assert row["接通率"] == pytest.approx(counts.answered / counts.queued)
        assert row["服务水平(30秒)"] == pytest.approx(
            counts.answered_in_sl / (counts.queued - counts.short_abandoned)
        )


def per_read(
    client: Client,
    sql: str,
    step: Callable[[list[str], int], list[str]],
    params: dict[str, Any] | None = None,
) -> dict[str, list[str]]:
    """Table → what ``step(plan, i)`` finds at each line of ``EXPLAIN indexes = 1 {sql}``
    under that table's reads (a table read twice, as metric_month by the month and year
    branches of metric_counters, has both's)."""
    explained = client.execute(f"EXPLAIN indexes = 1 {sql}", params)
    plan = [row[0].strip(" │└─├") for row in explained]
    found: dict[str, list[str]] = {}
    table = ""
    for i, line in enumerate(plan):
        if read := re.match(r"ReadFromMergeTree \((\S+)\)", line):
            table = read[1]
            found.setdefault(table, [])
        elif table:
            found[table] += step(plan, i)
    return found


def tables_read(client: Client, sql: str) -> dict[str, list[str]]:
    """Table → the partition conditions of its reads."""

    def partition(plan: list[str], i: int) -> list[str]:
        if plan[i] != "Partition":  # its "Keys:" (when any) come before the condition
            return []
        condition = next(ln for ln in plan[i:] if ln.startswith("Condition:"))
        return [condition.removeprefix("Condition: ")]

    return per_read(client, sql, partition)


@pytest.mark.clickhouse
def test_center_panel_reads_call_records_bounded_on_day(
    dashboard_client: Client, clickhouse: ClickHouseServer
) -> None:
    """The 中心 panel reads call_records bounded on its partition key ``day``, so a year of
    calls is not read for a day; through ``center_rates`` it read them all and computed every
    grain of every call first. (The plan shows the calls' read; the IN subquery's set is built
    while the plan is, and its read is not listed.)"""
    model = json.loads((FOLDER / "hotline-city.json").read_text(encoding="utf-8"))
    panel = next(sql for title, sql in queries(model) if title.startswith("中心"))
    for grain in TEST_VALUES["grain"]:
        values = {"grain": grain, "city": "320100"}
        reads = tables_read(dashboard_client, substitute(panel, values, DAY_START, DAY_END))
        assert list(reads) == [f"{DB}.call_records"], reads
        conditions = reads[f"{DB}.call_records"]
        assert conditions and all("toYYYYMM(day)" in c for c in conditions), reads


#: The 中心 panel as it read the center_rates view before (the numbers to keep).
CENTER_RATES_PANEL = f"""SELECT center_id AS `中心编号`, center_id AS `中心`,
    {grafana._metric_list()}
FROM center_rates
WHERE grain = '${{grain}}' AND business_line = 'all' AND channel = 'all' AND $__timeFilter(bucket)
  AND center_id IN (SELECT DISTINCT center_id FROM call_records
                    WHERE city_code = '${{city}}' AND $__timeFilter(started_at))
GROUP BY center_id ORDER BY center_id"""


def china(*args: int) -> datetime:
    return datetime(*args, tzinfo=CHINA)


#: Calls around the dataset's day (2025-03-03): at hour, day and month edges, of another line
#: and channel, of Jiangsu's provincial center (one about Nanjing, one about the province)
#: and of Suzhou's center (not Nanjing's).
CENTER_CALLS = [
    _call("g1", "C320100", "320102", china(2025, 2, 28, 12), answered=1, answered_in_sl=1,
          wait_ms=3_000),
    _call("g2", "C320100", "320104", china(2025, 3, 1, 23, 30), abandoned=1, short_abandoned=1),
    _call("g3", "C320100", "320102", china(2025, 3, 3, 10, 59, 59), answered=1,
          survey_result="basic"),
    _call("g4", "C320100", "320102", china(2025, 3, 3, 11), answered=1, answered_in_sl=1),
    _call("g5", "C320100", "320105", china(2025, 3, 15, 16), answered=1, wait_ms=40_000,
          business_line="medical", channel="web"),
    _call("g6", "C320100", "320102", china(2025, 3, 31, 23, 50), answered=1),
    _call("g7", "C320100", "320102", china(2025, 4, 1, 0, 10), abandoned=1),
    _call("g8", "C320000", "320000", china(2025, 3, 3, 10, 5), answered=1, answered_in_sl=1),
    _call("g9", "C320000", "320111", china(2025, 3, 2, 9), answered=1, survey_result="satisfied"),
    _call("g10", "C320500", "320505", china(2025, 3, 3, 10, 10), answered=1),
]  # fmt: skip
#: Grafana ranges (from, to; ``to`` inclusive): whole days and months, part of an hour, ends
#: on a bucket's first second, a month bucket that starts in the range and ends after it.
CENTER_RANGES = [
    (china(2025, 3, 3), china(2025, 3, 3, 23, 59, 59)),
    (china(2025, 3, 3, 10), china(2025, 3, 3, 10, 59, 59)),
    (china(2025, 3, 3, 9, 30), china(2025, 3, 3, 10, 15)),
    (china(2025, 3, 1), china(2025, 3, 31, 23, 59, 59)),
    (china(2025, 2, 1), china(2025, 4, 30, 23, 59, 59)),
    (china(2025, 2, 28, 12), china(2025, 3, 2)),
    (china(2025, 2, 20), china(2025, 3, 15, 10)),
]


@pytest.mark.clickhouse
def test_center_panel_gives_the_numbers_of_the_center_rates_view(
    dashboard_client: Client, clickhouse_client: Client, clickhouse: ClickHouseServer
) -> None:
    model = json.loads((FOLDER / "hotline-city.json").read_text(encoding="utf-8"))
    panel = next(sql for title, sql in queries(model) if title.startswith("中心"))
    columns = ", ".join(CENTER_CALLS[0])
    clickhouse_client.execute(f"INSERT INTO {DB}.call_records ({columns}) VALUES", CENTER_CALLS)
    try:
        compared = []
        for start, end in CENTER_RANGES:
            for grain in TEST_VALUES["grain"]:
                values = {"grain": grain, "city": "320100"}
                frm, to = int(start.timestamp()), int(end.timestamp())
                before = run(dashboard_client, substitute(CENTER_RATES_PANEL, values, frm, to))
                now = run(dashboard_client, substitute(panel, values, frm, to))
                assert now == before, (start, end, grain)
                compared.append(len(now))
        assert max(compared) == 2 and compared.count(0) < len(compared) // 2, compared
    finally:
        load(clickhouse_client)  # the known dataset again, for the tests that follow


def region_panels_of_a_day(file: Path) -> list[tuple[str, str, str]]:
    """(title, grain, SQL for today) of every region panel of ``file`` (not the 中心 ones), at
    every grain of TEST_VALUES; there are some."""
    model = json.loads(file.read_text(encoding="utf-8"))
    names = list(variables_of(model))
    panels = []
    for grain in TEST_VALUES["grain"]:
        values = {n: grain if n == "grain" else TEST_VALUES[n][0] for n in names}
        for title, sql in queries(model):
            if not title.startswith("中心"):
                panels.append((title, grain, substitute(sql, values, DAY_START, DAY_END)))
    assert panels, file.name
    return panels


@pytest.mark.clickhouse
@pytest.mark.parametrize("file", FILES, ids=lambda f: f.name)
def test_region_panels_read_only_the_rollup_of_their_grain(
    file: Path, dashboard_client: Client, clickhouse: ClickHouseServer
) -> None:
    """Through ``metric_counters WHERE grain = …`` every panel read the minute, hour, day and
    month tables (migration 0009); the per-grain view reads the grain's table alone."""
    for title, grain, sql in region_panels_of_a_day(file):
        reads = tables_read(dashboard_client, sql)
        assert list(reads) == [f"{DB}.metric_{grain}"], (file.name, title, grain, reads)


@pytest.mark.clickhouse
@pytest.mark.parametrize("file", FILES, ids=lambda f: f.name)
def test_region_panels_give_the_numbers_of_metric_counters(
    file: Path, dashboard_client: Client, clickhouse: ClickHouseServer
) -> None:
    model = json.loads(file.read_text(encoding="utf-8"))
    names = list(variables_of(model))
    compared = 0
    for grain in TEST_VALUES["grain"]:
        values = {n: grain if n == "grain" else TEST_VALUES[n][0] for n in names}
        for title, sql in queries(model):
            if title.startswith("中心"):
                continue
            before = sql.replace(
                "FROM metric_counters_${grain}\nWHERE ",
                "FROM metric_counters\nWHERE grain = '${grain}' AND ",
            )
            assert before != sql, title
            rows = run(dashboard_client, substitute(sql, values, DAY_START, DAY_END))
            assert rows == run(dashboard_client, substitute(before, values, DAY_START, DAY_END))
            assert rows or grain == "month", (file.name, title, grain)
            compared += 1
    assert compared >= 3 * 4, compared  # every region panel of every grain


def primary_key_columns(
    client: Client, sql: str, params: dict[str, Any] | None = None
) -> dict[str, list[str]]:
    """Table → the sort-key columns that its reads' primary-key conditions use (the ``Keys:``
    of each ``PrimaryKey`` step)."""

    def keys(plan: list[str], i: int) -> list[str]:
        if plan[i] != "PrimaryKey" or plan[i + 1] != "Keys:":
            return []
        return list(itertools.takewhile(lambda ln: not ln.startswith("Condition:"), plan[i + 2 :]))

    return per_read(client, sql, keys, params)


@pytest.mark.clickhouse
def test_the_web_dashboards_no_data_hint_reads_its_places_through_the_index(
    dashboard_client: Client, clickhouse: ClickHouseServer
) -> None:
    """``latest_minute`` (the newest snapshot named when a range has no data) filtered on
    ``concat(level, ':', region_code)`` alone, which no index can use: every minute row of the
    country was read. It now bounds the sort key's province, level and region too."""
    from hotline.dashboards import queries

    asked: list[tuple[str, dict[str, Any]]] = []

    class Recorder:
        def rows(self, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
            asked.append((sql.replace("{db}", DB), params))
            return []

    queries.latest_minute(Recorder(), [("province", "320000"), ("city", "320100")])  # type: ignore[arg-type]
    [(sql, params)] = asked
    keys = primary_key_columns(dashboard_client, sql, params)[f"{DB}.metric_minute"]
    assert {"province_code", "level", "region_code"} <= set(keys), keys


@pytest.mark.clickhouse
@pytest.mark.parametrize("file", FILES, ids=lambda f: f.name)
def test_region_panels_reach_the_primary_key_with_their_time_range(
    file: Path, dashboard_client: Client, clickhouse: ClickHouseServer
) -> None:
    """The rollups are sorted by (level, bucket_start, …) (migration 0007); a panel's
    ``$__timeFilter(bucket)`` must reach ``bucket_start`` there, or a panel of one day reads
    every day of its level and region. Through 0009's day and month views
    (``toDateTime(bucket_start, 'Asia/Shanghai')``) it did not: the index used only level and
    region_code (migration 0014)."""
    for title, grain, sql in region_panels_of_a_day(file):
        keys = primary_key_columns(dashboard_client, sql)[f"{DB}.metric_{grain}"]
        assert "bucket_start" in keys, (file.name, title, grain, keys)


@pytest.mark.clickhouse
@pytest.mark.parametrize("view", ["metric_counters", "metric_rates"])
@pytest.mark.parametrize(("grain", "table"), [("day", "day"), ("month", "month")])
def test_the_all_grain_views_reach_the_primary_key_with_a_time_range(
    view: str, grain: str, table: str, dashboard_client: Client, clickhouse: ClickHouseServer
) -> None:
    """The same for an analyst's ``WHERE grain = … AND bucket …`` on the views of every grain
    (docs/analysts.md): their day and month branches used toDateTime too (migration 0015)."""
    sql = f"""SELECT sum(offered) FROM {view}
        WHERE grain = '{grain}' AND level = 'province' AND region_code = '320000'
          AND bucket >= toDateTime({DAY_START}) AND bucket <= toDateTime({DAY_END})"""
    keys = primary_key_columns(dashboard_client, sql)[f"{DB}.metric_{table}"]
    assert "bucket_start" in keys, keys


#: A year of day rows in a database of its own (the known dataset stays as it is): the nation,
#: every province, Jiangsu's cities and Nanjing's counties, three lines × two channels each.
YEAR_DB = "hotline_grafana_year"
#: index_granularity of the rollups (migration 0007)
GRANULE = 1024


@pytest.fixture(scope="module")
def year_of_days(clickhouse_server: ClickHouseServer) -> Iterator[Client]:
    from hotline.regions import default_registry
    from hotline.sinks.migrate import migrate

    clickhouse_server.start()
    clickhouse_server.wait_ready(60)
    client = Client(HOST, port=clickhouse_server.tcp_port, database="default")
    migrate(client, YEAR_DB)
    registry = default_registry()
    places = [
        ("national", "000000"),
        *(("province", r.code) for r in registry.provinces()),
        *(("city", r.code) for r in registry if r.level == "city" and r.code.startswith("32")),
        *(("county", r.code) for r in registry if r.level == "county" and r.code[:4] == "3201"),
    ]
    client.execute(
        f"""INSERT INTO {YEAR_DB}.metric_day
            (level, region_code, business_line, channel, bucket_start, offered, queued, answered,
             computed_at)
        SELECT place.1, place.2, line, channel, toDate('2025-01-01') + number, 10, 8, 7, now64(6)
        FROM numbers(365)
        ARRAY JOIN %(places)s AS place
        ARRAY JOIN ['pension', 'medical', 'employment'] AS line
        ARRAY JOIN ['phone', 'web'] AS channel""",
        {"places": places},
    )
    client.execute(f"OPTIMIZE TABLE {YEAR_DB}.metric_day FINAL")
    client.disconnect()
    client = Client(HOST, port=clickhouse_server.tcp_port, database=YEAR_DB)
    yield client
    client.execute(f"DROP DATABASE {YEAR_DB}")
    client.disconnect()


@pytest.mark.clickhouse
def test_a_region_panel_of_one_day_reads_the_granules_of_that_day(
    year_of_days: Client, clickhouse: ClickHouseServer
) -> None:
    """A day of one level is at most a few hundred rows, contiguous in the sort key: a panel
    of one day reads at most the two granules that hold them, where through 0009's day view it
    read the whole year of its level and region (docs/storage.md has the figures)."""
    day = int(datetime(2025, 6, 10, tzinfo=CHINA).timestamp())
    year = (
        int(datetime(2025, 1, 1, tzinfo=CHINA).timestamp()),
        int(datetime(2025, 12, 31, 23, 59, 59, tzinfo=CHINA).timestamp()),
    )
    checked = 0
    for file in FILES:
        model = json.loads(file.read_text(encoding="utf-8"))
        values = {"grain": "day", "province": "320000", "city": "320100"}
        for title, sql in queries(model):
            if title.startswith("中心"):
                continue
            year_of_rows = year_of_days.execute(substitute(sql, values, *year))
            year_read = year_of_days.last_query.progress.rows
            one_day = year_of_days.execute(substitute(sql, values, day, day + 86400 - 1))
            day_read = year_of_days.last_query.progress.rows
            assert one_day and year_of_rows, (file.name, title)
            assert year_read > 2 * GRANULE, (file.name, title, year_read)  # the check can fail
            assert day_read <= 2 * GRANULE, (file.name, title, day_read, year_read)
            checked += 1
    assert checked >= 12, checked
