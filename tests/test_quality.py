"""The yearly quality report's figures on a small hand-made campaign, every number asserted.

Three provinces, eight centers, every outcome code, and inconsistent records (a sheet total
that is not the sum of its items, a reached center without scores or human service, a
duplicate, a center never dialled). The same rows go through the real ClickHouse server once.
"""

from __future__ import annotations

import datetime as dt
from fractions import Fraction

import pytest
from clickhouse_driver import Client

from hotline.centers import Center, CenterRegistry
from hotline.regions import default_registry
from hotline.reports.figures import compute_figures, round1
from hotline.reports.records import EvaluationRow
from hotline.reports.report import quality_figures
from hotline.reports.store import insert_evaluations
from hotline.sinks.migrate import migrate
from hotline.workdays import CHINA_TZ

CENTERS = (
    ("C320000", "江苏省12333（省本级）", "provincial", "320000"),
    ("C320100", "南京市12333", "city", "320100"),
    ("C320200", "无锡市12333", "city", "320200"),
    ("C330000", "浙江省12333（省本级）", "provincial", "330000"),
    ("C330100", "杭州市12333", "city", "330100"),
    ("C620000", "甘肃省12333（省本级）", "provincial", "620000"),
    ("C620100", "兰州市12333", "city", "620100"),
    ("C620200", "嘉峪关市12333", "city", "620200"),  # never dialled
)
FULL = (5, 5, 10, 5, 10, 20, 5, 5, 10, 15, 10)  # 25 + 40 + 35
NANJING = (4, 5, 8, 5, 8, 16, 5, 4, 8, 12, 8)  # 22 + 33 + 28 = 83
WUXI = (5, 4, 9, 5, 9, 18, 5, 5, 9, 13, 9)  # 23 + 37 + 31 = 91
HANGZHOU = (3, 4, 7, 0, 7, 14, 3, 4, 6, 10, 7)  # 14 + 28 + 23 = 65


def registry() -> CenterRegistry:
    return CenterRegistry(
        [Center(cid, name, level, home, frozenset({home})) for cid, name, level, home in CENTERS],
        default_registry(),
    )


def at(month: int, day: int, hour: int, minute: int, year: int = 2025) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=CHINA_TZ)


def row(
    center_id: str,
    outcome: int,
    items: tuple[int, ...] | None,
    tries: tuple[dt.datetime, ...],
    *,
    year: int = 2025,
    human: bool = True,
    given_total: int | None = None,
    evaluation_id: str | None = None,
    version: int = 1,
) -> EvaluationRow:
    home = next(c[3] for c in CENTERS if c[0] == center_id)
    return EvaluationRow(
        evaluation_id=evaluation_id or f"ms-{year}-{center_id}",
        version=version,
        year=year,
        center_id=center_id,
        region_code=home,
        outcome=outcome,
        human_service=human,
        tries=tries,
        items=items,
        given_total=given_total,
        source="csv" if given_total is not None else "campaign",
    )


def current() -> list[EvaluationRow]:
    return [
        row("C320000", 1, FULL, (at(6, 2, 10, 0),)),
        row("C320100", 2, NANJING, (at(6, 3, 9, 40),), given_total=85),
        # An older evaluation of Wuxi: the later one counts, the duplicate is listed.
        row("C320200", 3, None, (at(6, 2, 9, 0),), evaluation_id="ms-2025-C320200-a"),
        row("C320200", 1, WUXI, (at(6, 9, 15, 20),)),
        row("C330000", 3, None, (at(6, 4, 9, 10), at(6, 4, 14, 30), at(6, 5, 10, 5))),
        row("C330100", 1, HANGZHOU, (at(6, 6, 11, 0),)),
        row("C620000", 4, None, (at(6, 5, 10, 0),), human=False),
        row("C620100", 1, None, (at(6, 10, 16, 0),), human=False),
    ]


def previous() -> list[EvaluationRow]:
    t = (at(6, 3, 10, 0, 2024),)
    return [
        row("C320000", 1, FULL, t, year=2024),
        row("C320100", 3, None, (*t, at(6, 4, 10, 0, 2024)), year=2024),
        row("C320200", 4, None, t, year=2024, human=False),
        row("C330000", 1, WUXI, t, year=2024),
        row("C330100", 1, NANJING, t, year=2024),
        row("C620000", 4, None, t, year=2024, human=False),
        row("C620100", 4, None, t, year=2024, human=False),
    ]


LIVE = [("C320100", [dt.date(2025, 3, 2), dt.date(2025, 3, 1)]), ("C999999", [dt.date(2025, 1, 1)])]


def figures(province: str | None = None) -> dict:
    return compute_figures(current(), previous(), registry(), 2025, province, live_unreachable=LIVE)


def test_rounding_is_half_up_from_exact_values() -> None:
    assert [round1(Fraction(x, 100)) for x in (5, 15, 25, 35, -5, -25, 1249, 1250)] == [
        0.1,
        0.2,
        0.3,
        0.4,
        -0.1,
        -0.3,
        12.5,
        12.5,
    ]
    assert round1(Fraction(274, 3)) == 91.3
    assert str(round1(Fraction(-1, 100))) == "0.0"  # not "-0.0" in the report
    assert round1(Fraction(200, 7)) == 28.6


def test_coverage_with_previous_year_and_growth() -> None:
    cov = figures()["coverage"]
    assert cov["current"] == {
        "dialled": 7,
        "opened": 6,
        "human_service": 5,
        "reached": 5,
        "opened_pct": 85.7,
        "human_service_pct": 71.4,
        "reached_pct": 71.4,
    }
    assert cov["previous"] == {
        "dialled": 7,
        "opened": 4,
        "human_service": 4,
        "reached": 3,
        "opened_pct": 57.1,
        "human_service_pct": 57.1,
        "reached_pct": 42.9,
    }
    # Percentage points from unrounded rates: 6/7 − 4/7 = 28.57…, 5/7 − 4/7 = 14.28…
    assert cov["growth"] == {
        "dialled": 0,
        "opened": 2,
        "human_service": 1,
        "reached": 2,
        "opened_pct": 28.6,
        "human_service_pct": 14.3,
        "reached_pct": 28.6,
    }


def test_outcomes_and_score_bands() -> None:
    f = figures()
    assert [(o["code"], o["centers"], o["pct"]) for o in f["outcomes"]] == [
        (1, 4, 57.1),
        (2, 1, 14.3),
        (3, 1, 14.3),
        (4, 1, 14.3),
    ]
    # Population: 100, 83, 91, 0 (Zhejiang unreachable), 65, 0 (Gansu not opened); Lanzhou
    # was reached without a score sheet and is left out (and listed).
    assert [(b["band"], b["count"], b["pct"]) for b in f["bands"]["centers"]] == [
        ("≥90", 2, 33.3),
        ("85–90", 0, 0.0),
        ("80–85", 1, 16.7),
        ("<80", 3, 50.0),
    ]
    # Provinces: Jiangsu 274/3 = 91.3, Zhejiang 65/2 = 32.5, Gansu 0.
    assert [(b["band"], b["count"], b["pct"]) for b in f["bands"]["units"]] == [
        ("≥90", 1, 33.3),
        ("85–90", 0, 0.0),
        ("80–85", 0, 0.0),
        ("<80", 2, 66.7),
    ]


def test_rubric_items_as_percent_of_maximum() -> None:
    f = figures()
    assert [(i["field"], i["average"], i["pct"]) for i in f["items"]] == [
        ("states_agent_number", 2.8, 56.7),
        ("polite_language", 3.0, 60.0),
        ("warm_tone", 5.7, 56.7),
        ("waits_for_caller_hangup", 2.5, 50.0),
        ("listens_patiently", 5.7, 56.7),
        ("grasps_and_guides", 11.3, 56.7),
        ("proper_closing", 3.0, 60.0),
        ("no_dead_air", 3.0, 60.0),
        ("responds_actively", 5.5, 55.0),
        ("accurate_complete", 8.3, 55.6),
        ("fits_caller", 5.7, 56.7),
    ]
    assert [(g["group"], g["average"], g["pct"]) for g in f["groups"]] == [
        ("etiquette", 14.0, 56.0),
        ("communication", 23.0, 57.5),
        ("problem_solving", 19.5, 55.7),
    ]


def test_province_table_counts_unreachable_as_zero() -> None:
    f = figures()
    assert [
        (
            s["code"],
            s["centers"],
            s["etiquette"],
            s["communication"],
            s["problem_solving"],
            s["total"],
            s["band"],
        )
        for s in f["score_table"]
    ] == [
        ("320000", 3, 23.3, 36.7, 31.3, 91.3, "≥90"),
        ("330000", 2, 7.0, 14.0, 11.5, 32.5, "<80"),
        ("620000", 1, 0.0, 0.0, 0.0, 0.0, "<80"),
    ]
    # The national average is over the six centers (339 / 6), not over the province means.
    assert f["score_average"] == {
        "code": "",
        "name": "平均",
        "centers": 6,
        "etiquette": 14.0,
        "communication": 23.0,
        "problem_solving": 19.5,
        "total": 56.5,
        "band": "<80",
    }


def test_coverage_table_names_failed_centers() -> None:
    f = figures()
    assert f["coverage_table"] == [
        {
            "code": "320000",
            "name": "江苏省",
            "cities": 3,
            "opened": 3,
            "opening_rate": 100.0,
            "human_service": 3,
            "reached": 3,
            "notes": ["南京市：转人工等待≥30秒（6月3日09:40）"],
        },
        {
            "code": "330000",
            "name": "浙江省",
            "cities": 2,
            "opened": 2,
            "opening_rate": 100.0,
            "human_service": 2,
            "reached": 1,
            "notes": ["浙江省（省本级）：3次拨打均未接通（6月4日09:10、6月4日14:30、6月5日10:05）"],
        },
        {
            "code": "620000",
            "name": "甘肃省",
            "cities": 2,
            "opened": 1,
            "opening_rate": 50.0,
            "human_service": 0,
            "reached": 1,
            "notes": ["甘肃省（省本级）：12333未开通（6月5日10:00）"],
        },
    ]
    assert f["coverage_total"] == {
        "code": "",
        "name": "合计",
        "cities": 7,
        "opened": 6,
        "opening_rate": 85.7,
        "human_service": 5,
        "reached": 5,
        "notes": [],
    }
    assert f["live_unreachable"] == [
        {
            "center_id": "C320100",
            "name": "南京市",
            "days": 2,
            "first": "2025-03-01",
            "last": "2025-03-02",
        }
    ]


def test_data_checks_list_every_inconsistency() -> None:
    checks = [(c["code"], c["subject"], c["message"]) for c in figures()["checks"]]
    assert checks == [
        (
            "duplicate",
            "C320200",
            "本年度有2条评价（ms-2025-C320200-a、ms-2025-C320200），按最后一次拨打的ms-2025-C320200统计",
        ),
        ("total_mismatch", "C320100", "表中总分85，各项之和为83"),
        (
            "reached_without_scores",
            "C620100",
            "结果代码1（已接通人工）但无评分，计入接通数，不计入平均分",
        ),
        ("reached_without_human", "C620100", "结果代码1但记录为未提供人工服务"),
        ("not_dialled", "C620200", "本年度未拨测"),
        ("counts_do_not_add_up", "620000", "接通人工数1大于人工服务数0"),
    ]


def test_a_line_not_opened_but_recorded_as_offering_a_person_is_listed() -> None:
    """Outcome 4 counts as no human service whatever the flag says; a flag saying otherwise is
    a contradiction the report lists instead of hiding."""
    rows = [r for r in current() if r.center_id != "C620000"]
    rows.append(row("C620000", 4, None, (at(6, 5, 10, 0),), human=True))
    f = compute_figures(rows, previous(), registry(), 2025)
    assert f["coverage"]["current"]["human_service"] == 5  # not counted as offering a person
    assert (
        "not_opened_with_human",
        "C620000",
        "结果代码4（12333未开通）但记录为提供人工服务，按未提供统计",
    ) in [(c["code"], c["subject"], c["message"]) for c in f["checks"]]


def test_data_checks_are_named_in_chinese_for_the_report_and_the_page() -> None:
    assert [(c["code"], c["label"]) for c in figures()["checks"]] == [
        ("duplicate", "重复评价"),
        ("total_mismatch", "总分与各项之和不符"),
        ("reached_without_scores", "接通人工但无评分"),
        ("reached_without_human", "接通人工但记录为无人工服务"),
        ("not_dialled", "未拨测"),
        ("counts_do_not_add_up", "数量不能对应"),
    ]


def test_problems_found_are_generated_from_the_data() -> None:
    assert figures()["problems"] == [
        "1个中心12333未开通：甘肃省（省本级）。",
        "1个中心开通人工服务但在不同时段多次拨打均无人接听："
        "浙江省（省本级）（6月4日09:10、6月4日14:30、6月5日10:05）。",
        "1个中心转人工等待30秒及以上。",
        "2个省份平均分低于80分：浙江省（32.5分）、甘肃省（0.0分）。",
        "得分率最低的评分项：等来电人先挂机（得分率50.0%）、积极回应、不推诿（得分率55.0%）、"
        "准确、完整、清晰、简洁（得分率55.6%）。",
        "“积极回应、不推诿”得分率仅55.0%：部分答复只告知其他部门电话。",
        "地区间不平衡：最高江苏省91.3分，最低甘肃省0.0分，相差91.3分。",
        "日常话务显示服务时间内整日无人接听的中心：南京市（2天）。",
        "输入数据存在6处不一致，见“数据核查”。",
    ]


def test_unreachable_at_several_times_of_day_only_when_it_was() -> None:
    """ "Several times of day" is said of a center only when its tries were in different half
    days; two tries ten minutes apart are named as unreachable, not as that."""
    same_morning = (at(6, 4, 9, 10), at(6, 4, 9, 20))
    rows = [r for r in current() if r.center_id != "C330000"]
    rows.append(row("C330000", 3, None, same_morning))
    problems = compute_figures(rows, previous(), registry(), 2025)["problems"]
    assert (
        "1个中心开通人工服务但拨打均无人接听（未在不同时段重拨）："
        "浙江省（省本级）（6月4日09:10、6月4日09:20）。" in problems
    )
    assert not [p for p in problems if "不同时段多次拨打" in p]


def test_province_variant_reports_its_cities() -> None:
    f = figures("320000")
    assert f["scope"] == {"province": "320000", "name": "江苏省", "unit_label": "城市"}
    assert f["coverage"]["current"]["dialled"] == 3
    assert f["coverage"]["growth"]["reached"] == 2  # 2024: only the provincial center
    assert [(s["name"], s["total"]) for s in f["score_table"]] == [
        ("江苏省（省本级）", 100.0),
        ("南京市", 83.0),
        ("无锡市", 91.0),
    ]
    assert f["score_average"]["total"] == 91.3
    assert [c["code"] for c in f["checks"]] == ["duplicate", "total_mismatch"]
    assert [(c["name"], c["cities"], c["reached"]) for c in f["coverage_table"]] == [
        ("江苏省（省本级）", 1, 1),
        ("南京市", 1, 1),
        ("无锡市", 1, 1),
    ]


def test_definitions_say_how_every_figure_is_counted() -> None:
    """The report's and the dashboard's 说明: outcome codes, counts, zeros, which side of each
    band boundary a score falls on."""
    assert figures()["definitions"] == [
        "结果代码：1 首次拨通，30秒内转人工；2 首次拨通，转人工≥30秒；3 多次拨打未接通；"
        "4 12333未开通。",
        "已开通＝结果代码1–3；提供人工服务＝已开通且设有人工服务；实际接通人工＝结果代码1、2。"
        "比例的分母为拨测中心数；增减为本年减上年（比例为百分点）。",
        "平均分：每个中心一次评价；未接通的中心（结果代码3、4）各项按0分计入；省份平均为其各中心的"
        "算术平均，全国平均为全部中心的算术平均（不是各省份平均的平均）。"
        "接通人工但缺少评分表的中心不计入平均分，见数据核查。",
        "分数段按未经舍入的分数划分：≥90（含90）、85–90（含85不含90）、80–85（含80不含85）、"
        "<80（不含80）。",
    ]
    assert (
        "江苏省平均为全部中心的算术平均（不是各城市平均的平均）"
        in figures("320000")["definitions"][2]
    )


@pytest.mark.clickhouse
def test_figures_recomputed_from_clickhouse(clickhouse_client: Client) -> None:
    database = "quality_report_test"
    migrate(clickhouse_client, database)
    insert_evaluations(clickhouse_client, database, current() + previous())
    clickhouse_client.execute(
        f"INSERT INTO {database}.call_records (call_id, center_id, region_code, started_at, "
        "offered, queued, answered, version) VALUES",
        [
            ("a", "C320100", "320100", at(3, 1, 10, 0), 1, 1, 0, 1),
            ("b", "C320100", "320100", at(3, 2, 10, 0), 1, 1, 0, 1),
            ("c", "C320200", "320200", at(3, 2, 10, 0), 1, 1, 1, 1),  # answered: not counted
        ],
    )
    stored = quality_figures(clickhouse_client, database, 2025, registry=registry())
    assert stored == compute_figures(
        current(), previous(), registry(), 2025, live_unreachable=LIVE[:1]
    )
    # A corrected sheet (higher version) replaces the stored one.
    fixed = row("C320100", 2, NANJING, (at(6, 3, 9, 40),), given_total=83, version=2)
    insert_evaluations(clickhouse_client, database, [fixed])
    again = quality_figures(clickhouse_client, database, 2025, registry=registry())
    assert "total_mismatch" not in [c["code"] for c in again["checks"]]
    assert again["coverage"]["current"]["dialled"] == 7
    coverage = clickhouse_client.execute(
        f"SELECT center_id, opened, human_service, reached FROM {database}.qa_center_coverage "
        "WHERE year = 2025 AND province_code = '620000' ORDER BY center_id"
    )
    assert coverage == [("C620000", 0, 0, 0), ("C620100", 1, 0, 1)]


@pytest.mark.clickhouse
def test_coverage_view_counts_the_evaluation_the_report_counts(clickhouse_client: Client) -> None:
    """qa_center_coverage takes, per center and year, the evaluation the report takes (the latest
    try, then the highest id), not the best of all of them."""
    database = "quality_coverage_test"
    migrate(clickhouse_client, database)
    clickhouse_client.execute(f"TRUNCATE TABLE {database}.qa_evaluations")
    later_closed = [
        # Jiayuguan: reached on 6/3, then found not opened on 6/5 (the later try counts).
        row("C620200", 1, FULL, (at(6, 3, 10, 0),), evaluation_id="ms-2025-C620200-a"),
        row("C620200", 4, None, (at(6, 5, 10, 0),), human=False),
        # Zhejiang's provincial center: the same last try twice, the higher id counts.
        row("C330000", 4, None, (at(6, 5, 10, 5),), evaluation_id="ms-2025-C330000-z", human=False),
    ]
    insert_evaluations(clickhouse_client, database, current() + previous() + later_closed)

    def view(province: str) -> dict[str, tuple[int, ...]]:
        rows = clickhouse_client.execute(
            f"SELECT center_id, dialled, opened, human_service, reached "
            f"FROM {database}.qa_center_coverage WHERE year = 2025 AND province_code = %(p)s",
            {"p": province},
        )
        return {center: tuple(counts) for center, *counts in rows}

    for province in ("320000", "330000", "620000"):
        figures = quality_figures(clickhouse_client, database, 2025, province, registry())
        report = {
            r["code"]: (r["cities"], r["opened"], r["human_service"], r["reached"])
            for r in figures["coverage_table"]
            if r["cities"]
        }
        assert view(province) == report, province
    assert view("620000")["C620200"] == (1, 0, 0, 0)
    assert view("330000")["C330000"] == (1, 0, 0, 0)
    national = quality_figures(clickhouse_client, database, 2025, registry=registry())
    total = national["coverage_total"]
    sums = clickhouse_client.execute(
        f"SELECT count(), sum(opened), sum(human_service), sum(reached), sum(evaluations) "
        f"FROM {database}.qa_center_coverage WHERE year = 2025"
    )
    expected = (total["cities"], total["opened"], total["human_service"], total["reached"])
    assert sums == [(*expected, len(current()) + len(later_closed))]


@pytest.mark.clickhouse
def test_unusable_stored_rows_are_listed_in_their_own_year_only(
    clickhouse_client: Client,
) -> None:
    """A stored row that breaks a hard rule (written by another tool) is a data check of its
    year's report: last year's broken row is not one of this year's inconsistencies."""
    database = "quality_unusable_test"
    migrate(clickhouse_client, database)
    clickhouse_client.execute(f"TRUNCATE TABLE {database}.qa_evaluations")
    insert_evaluations(clickhouse_client, database, current() + previous())
    clickhouse_client.execute(  # outcome 7 does not exist: one broken row in each year
        f"INSERT INTO {database}.qa_evaluations (evaluation_id, version, year, kind, center_id, "
        "region_code, outcome, tries) VALUES",
        [
            (
                f"broken-{year}",
                1,
                year,
                "mystery_shopper",
                "C620200",
                "620200",
                7,
                [at(6, 1, 9, 0, year)],
            )
            for year in (2024, 2025)
        ],
    )
    unusable = [
        c["message"]
        for c in quality_figures(clickhouse_client, database, 2025, registry=registry())["checks"]
        if c["code"] == "stored_row_unusable"
    ]
    assert len(unusable) == 1 and unusable[0].startswith("评价broken-2025无法使用")
    assert "outcome 7 is not one of 1, 2, 3, 4" in unusable[0]
