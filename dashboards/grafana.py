"""Grafana dashboards that mirror the web dashboards, generated as provisioned JSON files.

``python -m hotline.dashboards.grafana [DIR]`` writes ``hotline-national.json``,
``hotline-province.json`` and ``hotline-city.json`` to ``infra/grafana/dashboards/`` (or DIR);
Grafana's file provider (infra/grafana/provisioning/dashboards/hotline.yml) loads them. The
files are generated because the region names (32 provinces, 339 cities in the template
variables and in SQL ``transform``; 2,849 counties and 366 centers as value mappings) come
from the registries; tests/test_grafana_dashboards.py checks that the committed files equal
this module's output, so edit here and regenerate.

Every query goes through the ``hotline-clickhouse`` datasource (the read-only ``dashboard``
user). Regions read the per-grain analyst view of the dashboard's grain
(``metric_counters_${grain}``, migration 0009: only that grain's rollup table); centers read
``call_records FINAL`` as the web dashboard does (:func:`centers_sql`: the per-call counters
of :func:`hotline.dashboards.queries.call_counters_sql`, bounded on ``day``), not the
``center_rates`` view, which computes every grain of every call before a WHERE applies. Rates
are the ``hotline_*`` functions applied to **summed counters**, never averaged. Grafana's time
range selects buckets with ``$__timeFilter(bucket)``; the ``grain`` variable (小时/日/月) picks
the table (for centers, the calls' bucket), so a bucket that starts inside the range counts
whole (choose whole days for exact totals, as the web dashboard does).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from hotline.centers import CenterRegistry, default_centers
from hotline.regions import MUNICIPALITIES, RegionRegistry, default_registry

from .labels import BUSINESS_LINES, own_level_name
from .queries import CALL_BUCKETS, call_counters_sql

DATASOURCE = {"type": "grafana-clickhouse-datasource", "uid": "hotline-clickhouse"}
OUT = Path(__file__).resolve().parent.parent / "infra" / "grafana" / "dashboards"
SCHEMA_VERSION = 41

#: (column alias, SQL over summed counters, Grafana unit)
METRICS: tuple[tuple[str, str, str], ...] = (
    ("呼入量", "sum(offered)", "none"),
    ("接通率", "hotline_connection_rate(sum(answered), sum(queued))", "percentunit"),
    (
        "服务水平(30秒)",
        "hotline_service_level(sum(answered_in_sl), sum(queued), sum(short_abandoned))",
        "percentunit",
    ),
    (
        "满意率",
        "hotline_satisfaction(sum(survey_satisfied), sum(survey_basic), sum(survey_responses))",
        "percentunit",
    ),
    (
        "放弃率",
        "hotline_abandon_rate(sum(abandoned), sum(short_abandoned), sum(queued))",
        "percentunit",
    ),
    ("平均等待(秒)", "hotline_asa_s(sum(wait_ms_answered), sum(answered))", "s"),
)
RANKED = ("接通率", "服务水平(30秒)", "满意率", "呼入量")
UNITS = {alias: unit for alias, _sql, unit in METRICS}


def _metric_list(names: Iterable[str] | None = None) -> str:
    wanted = set(names) if names is not None else None
    return ",\n    ".join(
        f"{sql} AS `{alias}`" for alias, sql, _unit in METRICS if wanted is None or alias in wanted
    )


def _transform(column: str, mapping: dict[str, str]) -> str:
    codes = ", ".join(f"'{code}'" for code in mapping)
    names = ", ".join(f"'{name}'" for name in mapping.values())
    return f"transform({column}, [{codes}], [{names}], {column})"


# -- SQL ---------------------------------------------------------------------------------------

GRAINS = (("小时", "hour"), ("日", "day"), ("月", "month"))
#: Regions: the per-grain view of the dashboard's grain (migration 0009), which reads that
#: grain's rollup table alone; metric_counters WHERE grain = … reads every grain's table.
REGION_SOURCE = "metric_counters_${grain}"
REGION_WHERE = "$__timeFilter(bucket)"


def _by_grain(sql: dict[str, str]) -> str:
    """SQL that is ``sql[grain]`` for the dashboard's grain (a constant condition)."""
    *first, (_last, otherwise) = [(grain, sql[grain]) for _label, grain in GRAINS]
    cases = "".join(f"'${{grain}}' = '{grain}', {expr}, " for grain, expr in first)
    return f"multiIf({cases}{otherwise})"


_FROM_DATE = "toDate($__fromTime, 'Asia/Shanghai')"
_TO_DATE = "toDate($__toTime, 'Asia/Shanghai')"
#: The China dates of the calls in the buckets that start in Grafana's range [from, to]: from
#: from's date to to's (to the end of to's month for the month grain). On ``day``, the sort key
#: and partition of call_records, so the index skips the rest of the year.
CENTER_DAYS = (
    f"day >= {_FROM_DATE}\n"
    f"          AND day <= if('${{grain}}' = 'month', toLastDayOfMonth({_TO_DATE}), {_TO_DATE})"
)


def summary_sql(level: str, code: str) -> str:
    return (
        f"SELECT\n    {_metric_list()}\nFROM {REGION_SOURCE}\n"
        f"WHERE {REGION_WHERE} AND level = '{level}' AND region_code = '{code}'"
    )


def trend_sql(level: str, code: str) -> str:
    return (
        f"SELECT bucket AS time,\n    {_metric_list(('呼入量', '接通率', '服务水平(30秒)'))}\n"
        f"FROM {REGION_SOURCE}\n"
        f"WHERE {REGION_WHERE} AND level = '{level}' AND region_code = '{code}'\n"
        "GROUP BY time ORDER BY time"
    )


def children_sql(level: str, where: str, name_sql: str, order: str = "接通率") -> str:
    return (
        f"SELECT region_code AS `代码`, {name_sql} AS `名称`,\n    {_metric_list()}\n"
        f"FROM {REGION_SOURCE}\nWHERE {REGION_WHERE} AND level = '{level}' AND {where}\n"
        f"GROUP BY region_code ORDER BY `{order}` DESC NULLS LAST, region_code"
    )


def ranking_sql(level: str, where: str, name_sql: str, metric: str) -> str:
    return (
        f"SELECT {name_sql} AS `名称`, {_metric_list((metric,))}\n"
        f"FROM {REGION_SOURCE}\nWHERE {REGION_WHERE} AND level = '{level}' AND {where}\n"
        f"GROUP BY region_code ORDER BY `{metric}` DESC NULLS LAST, region_code"
    )


def lines_sql(level: str, code: str) -> str:
    return (
        f"SELECT {_transform('business_line', BUSINESS_LINES)} AS `业务线`,\n"
        f"    {_metric_list()}\nFROM {REGION_SOURCE}\n"
        f"WHERE {REGION_WHERE} AND level = '{level}' AND region_code = '{code}'\n"
        "GROUP BY business_line ORDER BY `呼入量` DESC, business_line"
    )


def centers_sql(city: str) -> str:
    """Centers that served calls of the city in the range (its own and a provincial one), with
    their whole totals: the web dashboard's per-call counters of ``call_records FINAL``
    (:func:`hotline.dashboards.queries.call_counters_sql`), bucketed by the grain, of the
    buckets that start in the range (as ``center_rates`` WHERE grain = … had them). Bounded on
    ``day`` and on the ``(province_code, center_id)`` pairs of the city's calls (a center claims
    regions of its own province only: :class:`hotline.centers.CenterRegistry`), so the index
    reads only the range and the province, where ``center_rates`` computed every grain of
    every call first."""
    calls = call_counters_sql(
        _by_grain(CALL_BUCKETS),
        f"""{CENTER_DAYS}
          AND (province_code, center_id) IN (
              SELECT DISTINCT province_code, center_id FROM call_records
              WHERE city_code = '{city}'
                AND day >= {_FROM_DATE} AND day <= {_TO_DATE}
                AND $__timeFilter(started_at))""",
        table="call_records",
    )
    return (
        f"SELECT center_id AS `中心编号`, center_id AS `中心`,\n    {_metric_list()}\n"
        f"FROM ({calls}\n)\nWHERE $__timeFilter(bucket)\n"
        "GROUP BY center_id ORDER BY center_id"
    )


# -- panels ------------------------------------------------------------------------------------


class _Layout:
    def __init__(self) -> None:
        self.y = 0
        self.x = 0
        self.row_h = 0
        self.next_id = 1

    def place(self, w: int, h: int) -> dict[str, int]:
        if self.x + w > 24:
            self.x, self.y, self.row_h = 0, self.y + self.row_h, 0
        pos = {"x": self.x, "y": self.y, "w": w, "h": h}
        self.x += w
        self.row_h = max(self.row_h, h)
        return pos

    def id(self) -> int:
        self.next_id += 1
        return self.next_id - 1


def _target(sql: str, *, timeseries: bool = False) -> dict[str, Any]:
    return {
        "refId": "A",
        "datasource": DATASOURCE,
        "editorType": "sql",
        "format": 0 if timeseries else 1,
        "queryType": "timeseries" if timeseries else "table",
        "rawSql": sql,
    }


def _unit_overrides(names: Iterable[str]) -> list[dict[str, Any]]:
    return [
        {
            "matcher": {"id": "byName", "options": name},
            "properties": [{"id": "unit", "value": UNITS[name]}]
            + ([{"id": "decimals", "value": 1}] if UNITS[name] != "none" else []),
        }
        for name in names
        if name in UNITS
    ]


def _panel(
    layout: _Layout,
    kind: str,
    title: str,
    sql: str,
    w: int,
    h: int,
    *,
    options: dict[str, Any] | None = None,
    overrides: list[dict[str, Any]] | None = None,
    defaults: dict[str, Any] | None = None,
    description: str = "",
    timeseries: bool = False,
) -> dict[str, Any]:
    return {
        "id": layout.id(),
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "gridPos": layout.place(w, h),
        "targets": [_target(sql, timeseries=timeseries)],
        "fieldConfig": {"defaults": defaults or {}, "overrides": overrides or []},
        "options": options or {},
    }


def summary_panel(layout: _Layout, title: str, level: str, code: str) -> dict[str, Any]:
    return _panel(
        layout,
        "stat",
        title,
        summary_sql(level, code),
        24,
        4,
        options={
            "reduceOptions": {"values": False, "calcs": ["lastNotNull"], "fields": ""},
            "textMode": "value_and_name",
            "colorMode": "none",
            "graphMode": "none",
        },
        overrides=_unit_overrides(UNITS),
        description="所选时间范围内的合计计数，比率由合计计数计算（不对比率求平均）。",
    )


def trend_panel(layout: _Layout, title: str, level: str, code: str) -> dict[str, Any]:
    overrides = _unit_overrides(("接通率", "服务水平(30秒)"))
    for override in overrides:
        override["properties"] += [
            {"id": "custom.axisPlacement", "value": "right"},
            {"id": "max", "value": 1},
            {"id": "min", "value": 0},
        ]
    overrides.append(
        {
            "matcher": {"id": "byName", "options": "呼入量"},
            "properties": [{"id": "custom.drawStyle", "value": "bars"}],
        }
    )
    return _panel(
        layout,
        "timeseries",
        title,
        trend_sql(level, code),
        24,
        8,
        overrides=overrides,
        defaults={"custom": {"drawStyle": "line", "fillOpacity": 20, "spanNulls": False}},
        timeseries=True,
    )


def ranking_panel(
    layout: _Layout, unit_label: str, level: str, where: str, name_sql: str, metric: str
) -> dict[str, Any]:
    unit = UNITS[metric]
    defaults: dict[str, Any] = {"unit": unit, "min": 0, "color": {"mode": "continuous-RdYlGr"}}
    if unit == "percentunit":
        defaults |= {"max": 1, "decimals": 1}
    else:
        defaults["color"] = {"mode": "continuous-blues"}
    return _panel(
        layout,
        "bargauge",
        f"各{unit_label}{metric}排名",
        ranking_sql(level, where, name_sql, metric),
        6,
        12,
        options={
            "orientation": "horizontal",
            "displayMode": "gradient",
            "showUnfilled": True,
            "reduceOptions": {"values": True, "calcs": [], "fields": f"/^{metric}$/"},
        },
        defaults=defaults,
    )


def table_panel(
    layout: _Layout,
    title: str,
    sql: str,
    *,
    names: tuple[str, dict[str, str]] | None = None,
    h: int = 12,
) -> dict[str, Any]:
    overrides = _unit_overrides(UNITS)
    if names is not None:
        column, mapping = names
        overrides.append(
            {
                "matcher": {"id": "byName", "options": column},
                "properties": [
                    {
                        "id": "mappings",
                        "value": [
                            {
                                "type": "value",
                                "options": {code: {"text": name} for code, name in mapping.items()},
                            }
                        ],
                    }
                ],
            }
        )
    return _panel(
        layout,
        "table",
        title,
        sql,
        24,
        h,
        options={"showHeader": True, "cellHeight": "sm"},
        overrides=overrides,
        defaults={"custom": {"align": "auto"}},
    )


# -- template variables ------------------------------------------------------------------------


def grain_variable() -> dict[str, Any]:
    return _custom("grain", "粒度", list(GRAINS), "day")


def _custom(name: str, label: str, options: list[tuple[str, str]], default: str) -> dict[str, Any]:
    text = dict((v, t) for t, v in options)[default]
    return {
        "type": "custom",
        "name": name,
        "label": label,
        "query": ", ".join(f"{t} : {v}" for t, v in options),
        "current": {"text": text, "value": default, "selected": True},
        # no "options": Grafana rebuilds a custom variable's options from "query" on load
        "multi": False,
        "includeAll": False,
        "hide": 0,
    }


def _dashboard(
    uid: str, title: str, panels: list[dict[str, Any]], variables: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "uid": uid,
        "title": title,
        "tags": ["hotline", "12333"],
        "timezone": "Asia/Shanghai",
        "editable": False,
        "graphTooltip": 1,
        "refresh": "1m",
        "time": {"from": "now/d", "to": "now/d"},
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "links": [
            {"type": "dashboards", "tags": ["hotline"], "asDropdown": True, "title": "12333 看板"}
        ],
        "templating": {"list": variables},
        "annotations": {"list": []},
        "panels": panels,
    }


# -- the three dashboards ----------------------------------------------------------------------


def national(regions: RegionRegistry) -> dict[str, Any]:
    layout = _Layout()
    names = _transform("region_code", {r.code: r.name for r in regions.provinces()})
    panels = [
        summary_panel(layout, "全国汇总", "national", "000000"),
        trend_panel(layout, "全国走势", "national", "000000"),
        *(ranking_panel(layout, "省", "province", "1 = 1", names, metric) for metric in RANKED),
        table_panel(
            layout,
            "各省排名（按接通率）",
            children_sql("province", "1 = 1", names),
            h=20,
        ),
    ]
    return _dashboard("hotline-national", "12333 全国总览", panels, [grain_variable()])


def province(regions: RegionRegistry) -> dict[str, Any]:
    layout = _Layout()
    provinces = [(r.name, r.code) for r in regions.provinces()]
    variable = _custom("province", "省份", provinces, "320000")
    cities = {r.code: r.name for r in regions if r.level == "city"}
    # the province's own calls: the city-level row of the province code (省本级, as on the web)
    for r in regions.provinces():
        cities[r.code] = own_level_name("province", r.code in MUNICIPALITIES)
    names = _transform("region_code", cities)
    # a city's own snapshot names its province (the Corps' cities belong to 660000)
    where = "province_code = '${province}'"
    panels = [
        summary_panel(layout, "全省汇总", "province", "${province}"),
        trend_panel(layout, "全省走势", "province", "${province}"),
        *(ranking_panel(layout, "地市", "city", where, names, metric) for metric in RANKED),
        table_panel(layout, "各地市", children_sql("city", where, names), h=14),
        table_panel(layout, "业务线", lines_sql("province", "${province}"), h=10),
    ]
    return _dashboard("hotline-province", "12333 省级看板", panels, [grain_variable(), variable])


def city(regions: RegionRegistry, centers: CenterRegistry) -> dict[str, Any]:
    layout = _Layout()
    options = [(r.full_name, r.code) for r in regions if r.level == "city"]
    variable = _custom("city", "地市", options, "320100")
    counties = {r.code: r.name for r in regions if r.level == "county"}
    # the city's own calls: the county-level row of the city code (市本级, as on the web)
    for r in regions.cities():
        counties[r.code] = own_level_name(
            "city", regions.province_of(r.code).code in MUNICIPALITIES
        )
    # county codes share their city's first four digits (GB/T 2260); the province-direct
    # county-level cities (e.g. 429004) belong to no city and show on no city dashboard
    where = "substring(region_code, 1, 4) = substring('${city}', 1, 4)"
    panels = [
        summary_panel(layout, "全市汇总", "city", "${city}"),
        trend_panel(layout, "全市走势", "city", "${city}"),
        table_panel(
            layout,
            "各县/区",
            children_sql("county", where, "region_code"),
            names=("名称", counties),
            h=12,
        ),
        table_panel(
            layout,
            "中心（该时段为本市来电服务的中心）",
            centers_sql("${city}"),
            names=("中心", {c.center_id: c.name for c in centers}),
            h=8,
        ),
        table_panel(layout, "业务线", lines_sql("city", "${city}"), h=10),
    ]
    return _dashboard("hotline-city", "12333 地市看板", panels, [grain_variable(), variable])


def build(
    regions: RegionRegistry | None = None, centers: CenterRegistry | None = None
) -> dict[str, dict[str, Any]]:
    """File name → dashboard JSON model."""
    regions = regions or default_registry()
    centers = centers or default_centers()
    return {
        "hotline-national.json": national(regions),
        "hotline-province.json": province(regions),
        "hotline-city.json": city(regions, centers),
    }


_MAPPED = re.compile(r'\{\n\s*"text": ("[^"\n]*")\n\s*\}')


def render(model: dict[str, Any]) -> str:
    """Indented JSON; a value mapping's ``{"text": …}`` stays on one line (thousands of them)."""
    text = json.dumps(model, ensure_ascii=False, indent=2)
    return _MAPPED.sub(r'{"text": \1}', text) + "\n"


def write(out: Path = OUT) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, model in build().items():
        path = out / name
        path.write_text(render(model), encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT):
        print(path)
