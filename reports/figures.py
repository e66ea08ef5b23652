"""Every figure of the yearly quality report, computed from evaluation rows (pure functions).

The report's numbers all come from here; :func:`compute_figures` returns them as one plain dict
(ints, floats, strings, lists) that the HTML template, the PDF and the dashboard share.

Definitions (docs/quality.md repeats them):

- One evaluation per center and year counts (:func:`~hotline.reports.checks.latest_per_center`).
- dialled = centers evaluated; opened = outcome 1–3; human service = opened and the line offers
  a person; reached = outcome 1 or 2. Percentages are of the centers dialled; growth is this
  year minus last year (counts, and percentage points of the rates).
- Scores: the population is every dialled center except one reached but never scored (listed as
  a data check). A center that was not reached (outcome 3 or 4) counts as **zero** on every item.
  A group's (province's, city's) score is the mean over its centers; the national (provincial)
  average is the mean over all centers, not the mean of the group means.
- Bands on unrounded scores: ≥ 90, [85, 90), [80, 85), < 80.
- Rounding: computed exactly (fractions) from unrounded values, then rounded half up (away from
  zero) to one decimal, once, for display.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

from hotline.centers import CenterRegistry
from hotline.reports.checks import (
    Check,
    count_checks,
    latest_per_center,
    row_checks,
    short_center_name,
)
from hotline.reports.records import GROUPS, OUTCOMES, EvaluationRow
from hotline.schemas.qa import GROUP_MAXIMA, RUBRIC
from hotline.workdays import CHINA_TZ

ROUNDING_RULE = "所有比率与平均分均由未经舍入的原始数据计算，最后按四舍五入（half up）保留1位小数"
GROUP_CHINESE = {
    "etiquette": "接听礼仪",
    "communication": "沟通技巧",
    "problem_solving": "问题解答",
}
#: Score bands (label, lower bound inclusive or None, upper bound exclusive or None).
BANDS: tuple[tuple[str, int | None, int | None], ...] = (
    ("≥90", 90, None),
    ("85–90", 85, 90),
    ("80–85", 80, 85),
    ("<80", None, 80),
)
#: A group whose average is below this is named among the problems.
LOW_SCORE = 80
#: How many of the weakest rubric items the problems section names.
WEAKEST_ITEMS = 3


def round1(value: Fraction | int) -> float:
    """Round half up (away from zero) to one decimal; a value that rounds to zero is 0.0,
    never -0.0 (the report would print "-0.0")."""
    exact = (
        Decimal(value.numerator) / Decimal(value.denominator)
        if isinstance(value, Fraction)
        else Decimal(value)
    )
    return float(exact.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)) or 0.0  # not -0.0


def percent(part: int | Fraction, whole: int | Fraction) -> Fraction | None:
    return None if whole == 0 else Fraction(part) * 100 / Fraction(whole)


def _r(value: Fraction | None) -> float | None:
    return None if value is None else round1(value)


def band_of(score: Fraction) -> str:
    for label, low, high in BANDS:
        if (low is None or score >= low) and (high is None or score < high):
            return label
    raise AssertionError(score)


@dataclass(frozen=True, slots=True)
class Unit:
    """A row of the per-group tables: a province (national report) or a center (province report)."""

    code: str
    name: str
    expected: tuple[str, ...]


def scope_units(registry: CenterRegistry, province: str | None) -> list[Unit]:
    if province is None:
        units = []
        for region in registry.regions.provinces():
            centers = tuple(c.center_id for c in registry.centers_of_province(region.code))
            if centers:
                units.append(Unit(region.code, region.name, centers))
        return units
    return [
        Unit(c.center_id, short_center_name(registry, c.center_id), (c.center_id,))
        for c in registry.centers_of_province(province)
    ]


def compute_figures(
    rows: Iterable[EvaluationRow],
    previous_rows: Iterable[EvaluationRow],
    registry: CenterRegistry,
    year: int,
    province: str | None = None,
    *,
    live_unreachable: Iterable[tuple[str, Sequence[Any]]] = (),
    stored_problems: Iterable[tuple[str, str, str]] = (),
) -> dict[str, Any]:
    """All figures of the report for ``year`` (national, or one ``province`` and its cities).

    ``live_unreachable`` gives (center id, days) from live traffic; ``stored_problems`` gives
    (evaluation id, center id, message) for stored rows that could not be read.
    """
    units = scope_units(registry, province)
    in_scope = _scope_filter(province)
    current, checks = latest_per_center([r for r in rows if in_scope(r)], registry)
    previous, _ = latest_per_center([r for r in previous_rows if in_scope(r)], registry)
    expected = [c for unit in units for c in unit.expected]
    checks += row_checks(current, registry, expected)
    for evaluation_id, center_id, message in stored_problems:
        checks.append(
            Check(
                "stored_row_unusable",
                center_id,
                short_center_name(registry, center_id),
                f"评价{evaluation_id}无法使用：{message}",
            )
        )

    unit_of = (lambda r: r.province_code) if province is None else (lambda r: r.center_id)
    by_unit: dict[str, list[EvaluationRow]] = defaultdict(list)
    for row in current:
        by_unit[unit_of(row)].append(row)
    known = {u.code for u in units}
    units += [Unit(code, code, ()) for code in sorted(by_unit) if code not in known]

    population = [r for r in current if r.scored]
    coverage_rows = [_coverage_row(u, by_unit.get(u.code, []), registry) for u in units]
    for unit_row in coverage_rows:
        checks += count_checks(
            unit_row["code"],
            unit_row["name"],
            unit_row["cities"],
            unit_row["opened"],
            unit_row["human_service"],
            unit_row["reached"],
        )
    score_rows = [_score_row(u, [r for r in by_unit.get(u.code, []) if r.scored]) for u in units]
    items = _items(population)
    figures: dict[str, Any] = {
        "year": year,
        "previous_year": year - 1,
        "scope": {
            "province": province,
            "name": "全国" if province is None else registry.regions.get(province).name,
            "unit_label": "省份" if province is None else "城市",
        },
        "rounding": ROUNDING_RULE,
        "coverage": _coverage_summary(current, previous),
        "outcomes": [
            {
                "code": code,
                "label": label,
                "centers": sum(1 for r in current if r.outcome == code),
                "pct": _r(percent(sum(1 for r in current if r.outcome == code), len(current))),
            }
            for code, label in OUTCOMES.items()
        ],
        "bands": {
            "centers": _bands([Fraction(r.total) for r in population]),
            "units": _bands([s["_total"] for s in score_rows if s["_total"] is not None]),
        },
        "items": items,
        "groups": _rubric_groups(population),
        "score_table": [_public(s) for s in score_rows],
        "score_average": _public(_score_row(Unit("", "平均", ()), population)),
        "coverage_table": coverage_rows,
        "coverage_total": _coverage_row(
            Unit("", "合计", tuple(expected)), current, registry, notes=False
        ),
        "live_unreachable": _live(live_unreachable, registry, in_scope_ids=set(expected)),
        "checks": [c.to_dict() for c in checks],
    }
    figures["problems"] = _problems(figures, current, score_rows, registry)
    figures["definitions"] = definitions(figures["scope"])
    return figures


def definitions(scope: dict[str, Any]) -> list[str]:
    """How every figure is counted, in the report's words (its 说明, also the dashboard's): the
    outcome codes, the coverage counts, zeros in the averages, the side of each band boundary."""
    unit, name = scope["unit_label"], scope["name"]
    codes = "；".join(f"{code} {label}" for code, label in OUTCOMES.items())
    return [
        f"结果代码：{codes}。",
        "已开通＝结果代码1–3；提供人工服务＝已开通且设有人工服务；实际接通人工＝结果代码1、2。"
        "比例的分母为拨测中心数；增减为本年减上年（比例为百分点）。",
        f"平均分：每个中心一次评价；未接通的中心（结果代码3、4）各项按0分计入；{unit}平均为其各中心的"
        f"算术平均，{name}平均为全部中心的算术平均（不是各{unit}平均的平均）。"
        "接通人工但缺少评分表的中心不计入平均分，见数据核查。",
        "分数段按未经舍入的分数划分：" + "、".join(map(_band_rule, BANDS)) + "。",
    ]


def _band_rule(band: tuple[str, int | None, int | None]) -> str:
    """``85–90（含85不含90）``: a band's label and which of its bounds it includes."""
    label, low, high = band
    included = "" if low is None else f"含{low}"
    excluded = "" if high is None else f"不含{high}"
    return f"{label}（{included}{excluded}）"


# -- pieces ----------------------------------------------------------------------------------


def _scope_filter(province: str | None) -> Callable[[EvaluationRow], bool]:
    if province is None:
        return lambda row: True
    return lambda row: row.province_code == province


def _counts(rows: Sequence[EvaluationRow]) -> dict[str, int]:
    return {
        "dialled": len(rows),
        "opened": sum(r.opened for r in rows),
        "human_service": sum(r.offers_human for r in rows),
        "reached": sum(r.reached for r in rows),
    }


def _coverage_summary(
    current: Sequence[EvaluationRow], previous: Sequence[EvaluationRow]
) -> dict[str, Any]:
    keys = ("opened", "human_service", "reached")
    now, before = _counts(current), _counts(previous)
    result: dict[str, Any] = {"current": dict(now), "previous": None, "growth": None}
    now_pct = {k: percent(now[k], now["dialled"]) for k in keys}
    result["current"].update({f"{k}_pct": _r(now_pct[k]) for k in keys})
    if previous:
        before_pct = {k: percent(before[k], before["dialled"]) for k in keys}
        result["previous"] = dict(before) | {f"{k}_pct": _r(before_pct[k]) for k in keys}
        growth: dict[str, Any] = {k: now[k] - before[k] for k in now}
        for k in keys:
            a, b = now_pct[k], before_pct[k]
            growth[f"{k}_pct"] = None if a is None or b is None else round1(a - b)
        result["growth"] = growth
    return result


def _bands(scores: Sequence[Fraction]) -> list[dict[str, Any]]:
    counted = Counter(band_of(s) for s in scores)
    return [
        {"band": label, "count": counted[label], "pct": _r(percent(counted[label], len(scores)))}
        for label, _low, _high in BANDS
    ]


def _items(population: Sequence[EvaluationRow]) -> list[dict[str, Any]]:
    n = len(population)
    result = []
    for item in RUBRIC:
        total = sum(r.item(item.field) for r in population)
        result.append(
            {
                "field": item.field,
                "chinese": item.chinese,
                "group": item.group,
                "group_chinese": GROUP_CHINESE[item.group],
                "maximum": item.maximum,
                "average": _r(Fraction(total, n)) if n else None,
                "pct": _r(percent(total, n * item.maximum)),
            }
        )
    return result


def _rubric_groups(population: Sequence[EvaluationRow]) -> list[dict[str, Any]]:
    n = len(population)
    result = []
    for group in GROUPS:
        total = sum(r.group(group) for r in population)
        result.append(
            {
                "group": group,
                "chinese": GROUP_CHINESE[group],
                "maximum": GROUP_MAXIMA[group],
                "average": _r(Fraction(total, n)) if n else None,
                "pct": _r(percent(total, n * GROUP_MAXIMA[group])),
            }
        )
    return result


def _score_row(unit: Unit, population: Sequence[EvaluationRow]) -> dict[str, Any]:
    n = len(population)
    row: dict[str, Any] = {"code": unit.code, "name": unit.name, "centers": n}
    for group in GROUPS:
        row[group] = _r(Fraction(sum(r.group(group) for r in population), n)) if n else None
    exact = Fraction(sum(r.total for r in population), n) if n else None
    row["total"] = _r(exact)
    row["band"] = band_of(exact) if exact is not None else None
    row["_total"] = exact
    return row


def _public(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if not k.startswith("_")}


def local_time(moment: datetime) -> str:
    local = moment.astimezone(CHINA_TZ)
    return f"{local.month}月{local.day}日{local:%H:%M}"


def _times(row: EvaluationRow) -> str:
    return "、".join(local_time(t) for t in row.tries)


def _half_days(row: EvaluationRow) -> int:
    """In how many times of day (half days, China time) ``row``'s tries were made."""
    return len({(t.date(), t.hour < 12) for t in (t.astimezone(CHINA_TZ) for t in row.tries)})


def failure_note(row: EvaluationRow, registry: CenterRegistry) -> str | None:
    """How a center failed, in the words of the coverage table's notes; None if it did not."""
    name = short_center_name(registry, row.center_id)
    times = _times(row)
    if row.outcome == 4:
        return f"{name}：12333未开通（{times}）"
    if row.outcome == 3 and not row.human_service:
        return f"{name}：无人工服务，{len(row.tries)}次拨打未接通人工（{times}）"
    if row.outcome == 3:
        return f"{name}：{len(row.tries)}次拨打均未接通（{times}）"
    if row.outcome == 2:
        return f"{name}：转人工等待≥30秒（{times}）"
    return None


def _coverage_row(
    unit: Unit, rows: Sequence[EvaluationRow], registry: CenterRegistry, *, notes: bool = True
) -> dict[str, Any]:
    counts = _counts(rows)
    return {
        "code": unit.code,
        "name": unit.name,
        "cities": counts["dialled"],
        "opened": counts["opened"],
        "opening_rate": _r(percent(counts["opened"], counts["dialled"])),
        "human_service": counts["human_service"],
        "reached": counts["reached"],
        "notes": [n for r in rows if (n := failure_note(r, registry))] if notes else [],
    }


def _live(
    live: Iterable[tuple[str, Sequence[Any]]], registry: CenterRegistry, in_scope_ids: set[str]
) -> list[dict[str, Any]]:
    result = []
    for center_id, days in live:
        if center_id not in in_scope_ids or not days:
            continue
        result.append(
            {
                "center_id": center_id,
                "name": short_center_name(registry, center_id),
                "days": len(days),
                "first": str(min(days)),
                "last": str(max(days)),
            }
        )
    return sorted(result, key=lambda x: (-x["days"], x["center_id"]))


def _problems(
    figures: dict[str, Any],
    current: Sequence[EvaluationRow],
    score_rows: Sequence[dict[str, Any]],
    registry: CenterRegistry,
) -> list[str]:
    problems = []
    label = figures["scope"]["unit_label"]

    def names(rows: Iterable[EvaluationRow]) -> str:
        return "、".join(short_center_name(registry, r.center_id) for r in rows)

    def tried(rows: Iterable[EvaluationRow]) -> str:
        return "；".join(f"{short_center_name(registry, r.center_id)}（{_times(r)}）" for r in rows)

    not_opened = [r for r in current if r.outcome == 4]
    if not_opened:
        problems.append(f"{len(not_opened)}个中心12333未开通：{names(not_opened)}。")
    unstaffed = [r for r in current if r.outcome == 3 and r.human_service]
    spread = [r for r in unstaffed if _half_days(r) > 1]
    if spread:
        problems.append(
            f"{len(spread)}个中心开通人工服务但在不同时段多次拨打均无人接听：{tried(spread)}。"
        )
    once = [r for r in unstaffed if _half_days(r) <= 1]
    if once:
        problems.append(
            f"{len(once)}个中心开通人工服务但拨打均无人接听（未在不同时段重拨）：{tried(once)}。"
        )
    no_human = [r for r in current if r.outcome == 3 and not r.human_service]
    if no_human:
        problems.append(f"{len(no_human)}个中心未提供人工服务（仅语音自助）：{names(no_human)}。")
    slow = [r for r in current if r.outcome == 2]
    if slow:
        problems.append(f"{len(slow)}个中心转人工等待30秒及以上。")
    low = [s for s in score_rows if s["_total"] is not None and s["_total"] < LOW_SCORE]
    if low:
        listed = "、".join(f"{s['name']}（{s['total']}分）" for s in low)
        problems.append(f"{len(low)}个{label}平均分低于{LOW_SCORE}分：{listed}。")
    rated = [i for i in figures["items"] if i["pct"] is not None]
    if rated:
        weakest = sorted(rated, key=lambda i: (i["pct"], i["field"]))[:WEAKEST_ITEMS]
        listed = "、".join(f"{i['chinese']}（得分率{i['pct']}%）" for i in weakest)
        problems.append(f"得分率最低的评分项：{listed}。")
        passing = next(i for i in rated if i["field"] == "responds_actively")
        if passing["pct"] < 85:
            problems.append(
                f"“积极回应、不推诿”得分率仅{passing['pct']}%：部分答复只告知其他部门电话。"
            )
    scored = [s for s in score_rows if s["_total"] is not None]
    if len(scored) >= 2:
        best = max(scored, key=lambda s: (s["_total"], s["code"]))
        worst = min(scored, key=lambda s: (s["_total"], s["code"]))
        gap = round1(best["_total"] - worst["_total"])
        problems.append(
            f"地区间不平衡：最高{best['name']}{best['total']}分，最低{worst['name']}"
            f"{worst['total']}分，相差{gap}分。"
        )
    if figures["live_unreachable"]:
        listed = "、".join(
            f"{x['name']}（{x['days']}天）" for x in figures["live_unreachable"][:10]
        )
        problems.append(f"日常话务显示服务时间内整日无人接听的中心：{listed}。")
    if figures["checks"]:
        problems.append(f"输入数据存在{len(figures['checks'])}处不一致，见“数据核查”。")
    return problems
