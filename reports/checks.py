"""Data checks: the report lists the inconsistencies of its input instead of hiding them.

Each :class:`Check` names the center (or group) and says what is wrong in Chinese, as the report
prints it; ``code`` is a stable English key for tests and the dashboard:

==========================  ====================================================================
code                        meaning
==========================  ====================================================================
total_mismatch              the total written on the sheet is not the sum of its items
reached_without_scores      outcome 1/2 (a person reached) but no item scores: left out of the
                            score averages, still counted as reached
reached_without_human       outcome 1/2 but the line is recorded as offering no person
not_opened_with_human       outcome 4 (not opened) but recorded as offering a person: counted as
                            no human service
unreachable_single_try      outcome 3 ("several tries") after fewer than two tries
first_try_retried           outcome 1/2 ("at the first try") with more than one try
duplicate                   a center evaluated more than once in the year: the latest try counts
unknown_center              a center the registry does not know
region_mismatch             the row's region is not the center's home region
not_dialled                 a center of the registry with no evaluation in the year
stored_row_unusable         a stored row that breaks a hard rule (see records.py), left out
counts_do_not_add_up        a group's reached > human service > opened > dialled order is broken
==========================  ====================================================================
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

from hotline.centers import CenterRegistry
from hotline.reports.records import EvaluationRow

#: Each check's name in the report and on the dashboard's page (``label``).
CHECK_NAMES: dict[str, str] = {
    "total_mismatch": "总分与各项之和不符",
    "reached_without_scores": "接通人工但无评分",
    "reached_without_human": "接通人工但记录为无人工服务",
    "not_opened_with_human": "未开通但记录为有人工服务",
    "unreachable_single_try": "未接通但只拨打一次",
    "first_try_retried": "首次拨通但拨打多次",
    "duplicate": "重复评价",
    "unknown_center": "未知中心",
    "region_mismatch": "区划不符",
    "not_dialled": "未拨测",
    "stored_row_unusable": "无法使用的记录",
    "counts_do_not_add_up": "数量不能对应",
}


@dataclass(frozen=True, slots=True)
class Check:
    code: str
    subject: str
    name: str
    message: str

    def to_dict(self) -> dict[str, str]:
        """The check as the figures carry it, with ``label``, its Chinese name."""
        return asdict(self) | {"label": CHECK_NAMES.get(self.code, self.code)}


def short_center_name(registry: CenterRegistry, center_id: str) -> str:
    """``南京市`` for ``C320100``; the id itself for a center the registry does not know."""
    if center_id not in registry:
        return center_id
    return registry.get(center_id).name.replace("12333", "")


def latest_per_center(
    rows: Iterable[EvaluationRow], registry: CenterRegistry
) -> tuple[list[EvaluationRow], list[Check]]:
    """One evaluation per center (the one with the latest try, then the highest id) and a
    ``duplicate`` check for every center that had more."""
    by_center: dict[str, list[EvaluationRow]] = defaultdict(list)
    for row in rows:
        by_center[row.center_id].append(row)
    chosen, checks = [], []
    for center_id in sorted(by_center):
        candidates = sorted(by_center[center_id], key=lambda r: (max(r.tries), r.evaluation_id))
        chosen.append(candidates[-1])
        if len(candidates) > 1:
            ids = "、".join(r.evaluation_id for r in candidates)
            checks.append(
                Check(
                    "duplicate",
                    center_id,
                    short_center_name(registry, center_id),
                    f"本年度有{len(candidates)}条评价（{ids}），按最后一次拨打的"
                    f"{candidates[-1].evaluation_id}统计",
                )
            )
    return chosen, checks


def row_checks(
    rows: Sequence[EvaluationRow], registry: CenterRegistry, expected: Iterable[str]
) -> list[Check]:
    """Checks of single rows (already one per center) and of centers never dialled."""
    checks = []

    def add(code: str, row: EvaluationRow, message: str) -> None:
        name = short_center_name(registry, row.center_id)
        checks.append(Check(code, row.center_id, name, message))

    for row in rows:
        if row.given_total is not None and row.items is not None and row.given_total != row.total:
            add("total_mismatch", row, f"表中总分{row.given_total}，各项之和为{row.total}")
        if row.reached and row.items is None:
            add(
                "reached_without_scores",
                row,
                f"结果代码{row.outcome}（已接通人工）但无评分，计入接通数，不计入平均分",
            )
        if row.reached and not row.human_service:
            add("reached_without_human", row, f"结果代码{row.outcome}但记录为未提供人工服务")
        if not row.opened and row.human_service:
            add(
                "not_opened_with_human",
                row,
                "结果代码4（12333未开通）但记录为提供人工服务，按未提供统计",
            )
        if row.outcome == 3 and len(row.tries) < 2:
            add("unreachable_single_try", row, "结果代码3（多次拨打未接通）但只拨打了1次")
        if row.reached and len(row.tries) > 1:
            add(
                "first_try_retried",
                row,
                f"结果代码{row.outcome}（首次拨通）但拨打了{len(row.tries)}次",
            )
        if row.center_id not in registry:
            add("unknown_center", row, "中心编码不在中心名录中")
        elif registry.get(row.center_id).home != row.region_code:
            home = registry.get(row.center_id).home
            add("region_mismatch", row, f"区划代码{row.region_code}与中心所在地{home}不符")
    dialled = {row.center_id for row in rows}
    for center_id in expected:
        if center_id not in dialled:
            name = short_center_name(registry, center_id)
            checks.append(Check("not_dialled", center_id, name, "本年度未拨测"))
    return checks


def count_checks(
    code: str, name: str, dialled: int, opened: int, human: int, reached: int
) -> list[Check]:
    """``counts_do_not_add_up`` when reached ≤ human service ≤ opened ≤ dialled is broken."""
    pairs = (
        ("开通数", opened, "拨测数", dialled),
        ("人工服务数", human, "开通数", opened),
        ("接通人工数", reached, "人工服务数", human),
    )
    return [
        Check("counts_do_not_add_up", code, name, f"{a}{x}大于{b}{y}")
        for a, x, b, y in pairs
        if x > y
    ]
