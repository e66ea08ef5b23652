"""ClickHouse side of quality monitoring: write evaluations, read a year back.

Tables come from migration ``0005_quality.sql`` (``qa_evaluations`` ReplacingMergeTree by
``evaluation_id``/``version``, views ``qa_center_coverage`` — replaced by
``0013_qa_coverage_latest_evaluation.sql`` — and ``qa_live_unreachable_days``).
Reads use FINAL so that a corrected evaluation (higher version) wins before merges ran. Errors
come out as :mod:`hotline.sinks.errors` (translated in :func:`hotline.sinks.client.execute`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date
from typing import Any

from clickhouse_driver import Client

from hotline.reports.errors import QualityError
from hotline.reports.records import ITEM_FIELDS, EvaluationRow
from hotline.schemas import QaKind
from hotline.sinks.client import execute

log = logging.getLogger(__name__)

_COLUMNS = (
    "evaluation_id",
    "version",
    "year",
    "kind",
    "center_id",
    "region_code",
    "evaluator",
    "agent_id",
    "outcome",
    "human_service",
    "tries",
    "has_items",
    *ITEM_FIELDS,
    "given_total",
    "source",
    "note",
)


@dataclass(frozen=True, slots=True)
class StoredProblem:
    """A stored row that breaks a hard rule (written by something other than this package)."""

    evaluation_id: str
    center_id: str
    message: str
    year: int


@dataclass(frozen=True, slots=True)
class LiveUnreachable:
    """Days on which a center queued callers for a person and answered none."""

    center_id: str
    days: tuple[date, ...]


def insert_evaluations(client: Client, database: str, rows: Iterable[EvaluationRow]) -> int:
    """Insert ``rows`` into ``qa_evaluations``; returns how many were written."""
    values = [_to_tuple(row) for row in rows]
    if values:
        execute(
            client,
            f"INSERT INTO {database}.qa_evaluations ({', '.join(_COLUMNS)}) VALUES",
            values,
            what=f"storing evaluations in {database}.qa_evaluations",
        )
    return len(values)


def load_evaluations(
    client: Client,
    database: str,
    years: Iterable[int],
    province: str | None = None,
    kind: str = QaKind.MYSTERY_SHOPPER.value,
) -> tuple[list[EvaluationRow], list[StoredProblem]]:
    """The evaluations of ``years`` (optionally one province) of one ``kind`` — the national
    mystery shopper's unless told otherwise — and the stored rows that could not be used, each
    with its reason."""
    where = "kind = %(kind)s AND year IN %(years)s"
    params: dict[str, object] = {"kind": kind, "years": tuple(years)}
    if province is not None:
        where += " AND province_code = %(province)s"
        params["province"] = province
    result = execute(
        client,
        f"SELECT {', '.join(_COLUMNS)} FROM {database}.qa_evaluations FINAL WHERE {where} "
        "ORDER BY evaluation_id",
        params,
        what=f"reading {database}.qa_evaluations",
    )
    rows, problems = [], []
    for values in result:
        record = dict(zip(_COLUMNS, values, strict=True))
        try:
            rows.append(_from_record(record))
        except QualityError as exc:
            problems.append(
                StoredProblem(
                    record["evaluation_id"], record["center_id"], str(exc), record["year"]
                )
            )
    return rows, problems


def load_live_unreachable(
    client: Client, database: str, year: int, province: str | None = None
) -> list[LiveUnreachable]:
    """Per center, the days of ``year`` on which it answered none of the callers it queued."""
    where = "toYear(day) = %(year)s"
    params: dict[str, object] = {"year": year}
    if province is not None:
        where += " AND province_code = %(province)s"
        params["province"] = province
    result = execute(
        client,
        f"SELECT center_id, groupArray(day) FROM "
        f"(SELECT center_id, day FROM {database}.qa_live_unreachable_days WHERE {where} "
        "ORDER BY day) GROUP BY center_id ORDER BY center_id",
        params,
        what=f"reading {database}.qa_live_unreachable_days",
    )
    return [LiveUnreachable(center, tuple(days)) for center, days in result]


def _to_tuple(row: EvaluationRow) -> tuple[object, ...]:
    items = row.items or (0,) * len(ITEM_FIELDS)
    return (
        row.evaluation_id,
        row.version,
        row.year,
        row.kind,
        row.center_id,
        row.region_code,
        row.evaluator,
        row.agent_id,
        row.outcome,
        int(row.human_service),
        [t.astimezone(UTC) for t in row.tries],
        int(row.items is not None),
        *items,
        row.given_total,
        row.source,
        row.note,
    )


def _from_record(record: dict[str, Any]) -> EvaluationRow:
    tries = tuple(t.replace(tzinfo=UTC) if t.tzinfo is None else t for t in record["tries"])
    items = tuple(int(record[name]) for name in ITEM_FIELDS) if record["has_items"] else None
    return EvaluationRow(
        evaluation_id=str(record["evaluation_id"]),
        version=int(record["version"]),
        year=int(record["year"]),
        center_id=str(record["center_id"]),
        region_code=str(record["region_code"]),
        outcome=int(record["outcome"]),
        human_service=bool(record["human_service"]),
        tries=tries,
        items=items,
        given_total=None if record["given_total"] is None else int(record["given_total"]),
        kind=str(record["kind"]),
        evaluator=str(record["evaluator"]),
        agent_id=str(record["agent_id"]),
        source=str(record["source"]),
        note=str(record["note"]),
    )
