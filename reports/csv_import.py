"""Evaluators' CSV files: one row per evaluated center, UTF-8 (a BOM from Excel is fine).

Header (order free; :data:`HEADER` is the documented order, ``hotline quality csv-header``
prints it)::

    year,center_id,outcome,human_service,dialled_at,<11 rubric items>,total,evaluator,note,
    evaluation_id,version

- required: ``year``, ``center_id``, ``outcome`` (1–4), ``dialled_at`` and the 11 item columns
  (which may be blank);
- ``dialled_at``: every try in China time, ``YYYY-MM-DD HH:MM``, several separated by ``;``,
  each in ``year``;
- ``human_service``: 1/0 (also 是/否, yes/no, true/false); blank means 1 for outcomes 1–3 and 0
  for outcome 4;
- item columns: all blank (outcomes 3 and 4, or a missing sheet) or all filled, each 0..maximum;
- ``total`` (optional): the total written on the sheet; a total that is not the sum of the
  items is kept and listed by the report's data checks (the report uses the sum);
- ``evaluation_id`` defaults to ``ms-<year>-<center_id>``; ``version`` to the import time in
  epoch milliseconds, so a re-import replaces an earlier row of the same evaluation.
- one row a center a year, and an ``evaluation_id`` once: a later repeat is refused (it would
  be the same stored row as the earlier one, one of them silently lost).

A row that breaks a rule is refused with a :class:`~hotline.reports.errors.RowError` naming its
row number (the header is row 1); the good rows are kept.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field

from hotline.centers import CenterRegistry
from hotline.reports.errors import QualityError, RowError
from hotline.reports.records import ITEM_FIELDS, EvaluationRow, default_evaluation_id
from hotline.workdays import CHINA_TZ

REQUIRED = ("year", "center_id", "outcome", "dialled_at", *ITEM_FIELDS)
OPTIONAL = ("human_service", "total", "evaluator", "note", "evaluation_id", "version")
HEADER: tuple[str, ...] = (
    "year",
    "center_id",
    "outcome",
    "human_service",
    "dialled_at",
    *ITEM_FIELDS,
    "total",
    "evaluator",
    "note",
    "evaluation_id",
    "version",
)
_TRUE = {"1", "是", "yes", "y", "true"}
_FALSE = {"0", "否", "no", "n", "false"}


@dataclass
class ImportResult:
    rows: list[EvaluationRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


def parse_csv(text: str, registry: CenterRegistry, default_version: int) -> ImportResult:
    """Parse an evaluators' CSV text; a wrong header is one error for row 1 and no rows."""
    result = ImportResult()
    reader = csv.DictReader(io.StringIO(text.removeprefix("\ufeff")))
    columns = [c.strip() for c in reader.fieldnames or ()]
    missing = [c for c in REQUIRED if c not in columns]
    unknown = [c for c in columns if c not in REQUIRED and c not in OPTIONAL]
    if missing or unknown:
        parts = []
        if missing:
            parts.append("missing columns: " + ", ".join(missing))
        if unknown:
            parts.append("unknown columns: " + ", ".join(unknown))
        result.errors.append(RowError(1, "; ".join(parts)))
        return result
    first_of: dict[object, int] = {}  # (year, center) and evaluation id → the row that has it
    for number, raw in enumerate(reader, start=2):
        values = {(k or "").strip(): (v or "").strip() for k, v in raw.items() if k is not None}
        if None in raw:
            result.errors.append(RowError(number, "more fields than columns"))
            continue
        if not any(values.values()):
            continue  # blank line
        try:
            row = _row(values, registry, default_version)
        except RowError as exc:
            result.errors.append(RowError(number, exc.message))
            continue
        except QualityError as exc:
            result.errors.append(RowError(number, str(exc)))
            continue
        duplicate = _duplicate(row, first_of)
        if duplicate:
            result.errors.append(RowError(number, duplicate))
            continue
        first_of[row.year, row.center_id] = first_of[row.evaluation_id] = number
        result.rows.append(row)
    return result


def _duplicate(row: EvaluationRow, first_of: dict[object, int]) -> str | None:
    """Why ``row`` repeats an earlier row of the sheet (None if it does not): one evaluation
    a center a year, and an id names one evaluation (a second would replace the first)."""
    if (row.year, row.center_id) in first_of:
        earlier = first_of[row.year, row.center_id]
        return (
            f"center {row.center_id} already has an evaluation of {row.year} in row {earlier} "
            "(one a year)"
        )
    if row.evaluation_id in first_of:
        earlier = first_of[row.evaluation_id]
        return f"evaluation_id {row.evaluation_id!r} is already used in row {earlier}"
    return None


def _int(values: dict[str, str], name: str) -> int:
    text = values.get(name, "")
    try:
        return int(text)
    except ValueError:
        raise RowError(0, f"{name} {text!r} is not a whole number") from None


def _tries(text: str) -> tuple[dt.datetime, ...]:
    tries = []
    for part in filter(None, (p.strip() for p in text.split(";"))):
        try:
            moment = dt.datetime.strptime(part, "%Y-%m-%d %H:%M")
        except ValueError:
            raise RowError(0, f"dialled_at {part!r} is not YYYY-MM-DD HH:MM") from None
        tries.append(moment.replace(tzinfo=CHINA_TZ))
    if not tries:
        raise RowError(0, "dialled_at is empty")
    return tuple(tries)


def _row(values: dict[str, str], registry: CenterRegistry, default_version: int) -> EvaluationRow:
    year = _int(values, "year")
    center_id = values["center_id"]
    if center_id not in registry:
        raise RowError(0, f"unknown center {center_id!r}")
    outcome = _int(values, "outcome")
    flag = values.get("human_service", "").lower()
    if flag in _TRUE:
        human = True
    elif flag in _FALSE:
        human = False
    elif flag == "":
        human = outcome != 4
    else:
        raise RowError(0, f"human_service {values['human_service']!r} is not 1 or 0")
    filled = [name for name in ITEM_FIELDS if values[name] != ""]
    if filled and len(filled) != len(ITEM_FIELDS):
        blank = [name for name in ITEM_FIELDS if values[name] == ""]
        raise RowError(0, "item scores partly blank: " + ", ".join(blank))
    items = tuple(_int(values, name) for name in ITEM_FIELDS) if filled else None
    total = _int(values, "total") if values.get("total") else None
    version = _int(values, "version") if values.get("version") else default_version
    return EvaluationRow(
        evaluation_id=values.get("evaluation_id") or default_evaluation_id(year, center_id),
        version=version,
        year=year,
        center_id=center_id,
        region_code=registry.get(center_id).home,
        outcome=outcome,
        human_service=human,
        tries=_tries(values["dialled_at"]),
        items=items,
        given_total=total,
        evaluator=values.get("evaluator") or "national",
        source="csv",
        note=values.get("note", ""),
    )
