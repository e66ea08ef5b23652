"""The one shape of every API answer: a table (columns with Chinese labels, rows, why it is
empty, and a note such as that a long list is cut), rendered as JSON or — with
``?format=csv`` — as CSV (UTF-8 with BOM for Excel)."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["text", "int", "rate", "seconds", "time", "code"]


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    label: str
    kind: Kind = "text"
    hidden: bool = False  # in CSV and JSON, not shown as a column on screen


@dataclass
class Table:
    name: str
    columns: Sequence[Column]
    rows: list[dict[str, Any]]
    empty_reason: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    note: str | None = None  # shown above the rows, e.g. that a long list is cut

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "columns": [
                {"key": c.key, "label": c.label, "kind": c.kind, "hidden": c.hidden}
                for c in self.columns
            ],
            "rows": self.rows,
            "empty_reason": self.empty_reason,
            "note": self.note,
            "meta": self.meta,
        }

    def as_csv(self) -> str:
        out = io.StringIO()
        out.write("\ufeff")
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow([f"{c.label} ({c.key})" for c in self.columns])
        for row in self.rows:
            writer.writerow([_csv_value(row.get(c.key)) for c in self.columns])
        return out.getvalue()


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return value


# The counters every metric table carries (their sums) and the rates computed from them.
COUNTER_COLUMNS: tuple[Column, ...] = (
    Column("offered", "呼入量", "int"),
    Column("self_served", "自助服务", "int", hidden=True),
    Column("queued", "转人工", "int"),
    Column("answered", "接通", "int"),
    Column("abandoned", "放弃", "int"),
    Column("short_abandoned", "短时放弃", "int", hidden=True),
    Column("answered_in_sl", "30秒内接通", "int", hidden=True),
    Column("wait_ms_answered", "接通等待合计(毫秒)", "int", hidden=True),
    Column("handle_ms", "处理时长合计(毫秒)", "int", hidden=True),
    Column("survey_responses", "评价数", "int", hidden=True),
    Column("survey_satisfied", "满意", "int", hidden=True),
    Column("survey_basic", "基本满意", "int", hidden=True),
    Column("survey_dissatisfied", "不满意", "int", hidden=True),
)
RATE_COLUMNS: tuple[Column, ...] = (
    Column("connection_rate", "接通率", "rate"),
    Column("service_level", "服务水平(30秒)", "rate"),
    Column("abandon_rate", "放弃率", "rate"),
    Column("satisfaction", "满意率", "rate"),
    Column("asa_s", "平均等待(秒)", "seconds"),
    Column("aht_s", "平均处理(秒)", "seconds"),
)
METRIC_COLUMNS = COUNTER_COLUMNS + RATE_COLUMNS
# The metrics a tile map or ranking can be coloured / sorted by.
MAP_METRICS = {
    "connection_rate": "接通率",
    "service_level": "服务水平",
    "satisfaction": "满意率",
    "offered": "呼入量",
}


def rate_titles(row: Mapping[str, Any]) -> dict[str, str]:
    """The counts behind each rate of ``row``, for the cell's hover text (title attribute)."""
    g = row.get
    return {
        "connection_rate": f"接通 {g('answered', 0)} / 转人工 {g('queued', 0)}",
        "service_level": (
            f"30秒内接通 {g('answered_in_sl', 0)} / (转人工 {g('queued', 0)}"
            f" − 短时放弃 {g('short_abandoned', 0)})"
        ),
        "abandon_rate": (
            f"(放弃 {g('abandoned', 0)} − 短时放弃 {g('short_abandoned', 0)}) / "
            f"(转人工 {g('queued', 0)} − 短时放弃 {g('short_abandoned', 0)})"
        ),
        "satisfaction": (
            f"(满意 {g('survey_satisfied', 0)} + 基本满意 {g('survey_basic', 0)}) / "
            f"评价 {g('survey_responses', 0)}"
        ),
        "asa_s": f"接通等待合计 {g('wait_ms_answered', 0) / 1000:.0f} 秒 / 接通 {g('answered', 0)}",
        "aht_s": f"处理时长合计 {g('handle_ms', 0) / 1000:.0f} 秒 / 接通 {g('answered', 0)}",
        "offered": f"呼入 {g('offered', 0)}（自助服务 {g('self_served', 0)}）",
    }


def zero_metrics() -> dict[str, Any]:
    """A metric row of a place without data: zero counts, no rates."""
    row: dict[str, Any] = {c.key: 0 for c in COUNTER_COLUMNS}
    row.update({c.key: None for c in RATE_COLUMNS})
    return row
