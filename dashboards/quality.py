"""质量监测 in the dashboard: the yearly report's figures, and a form to enter one evaluation.

- ``GET /api/quality?year=Y[&province=P]`` answers exactly
  :func:`hotline.reports.report.quality_figures` (the figures of ``hotline report quality``),
  read as the read-only ``dashboard`` user. Scope, checked on the server: a national user gets
  the national variant or any province's; a province user only its own province's (the
  default when ``province`` is left out); a city user gets 403 (the report has no city variant).
- ``GET /api/quality/internal?year=Y[&province=P]``: the internal checks (kind ``internal``:
  entered by province and city users, never counted in the report) of the centers within the
  user's scope, filtered on the server; a national user may name a province (another user
  only its own: 403).
- ``GET /api/quality/options``: years, the provinces and centers the user may choose, the
  rubric and outcome codes (what the page and the form need).
- ``POST /api/quality/evaluations`` (JSON): one evaluation, validated by the CSV import's own
  parser (:func:`hotline.reports.csv_import.parse_csv` on a one-row sheet built from the form,
  so the rules and messages are the import's), stored with
  :func:`hotline.reports.store.insert_evaluations` through the :class:`EvaluationWriter` — the
  one write path of the dashboard, on its own connection as ``qa_writer`` (may only insert into
  ``qa_evaluations``). A national user's row is the national mystery shopper's; a province's
  or city's is stored as its own internal check (:func:`stored_for`), never in place of the
  national one. 201 stored; 422 refused, with item-level reasons; 409 the center and year has
  an evaluation already (:func:`earlier_evaluations`; ``"replace": true`` replaces it); 403 a
  center outside the scope; 404 an unknown center; 503 when no writer is configured.
"""

# no `from __future__ import annotations`: FastAPI must see the local CurrentUser alias
import csv
import io
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

from clickhouse_driver import Client
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from hotline.reports.csv_import import HEADER, parse_csv
from hotline.reports.records import ITEM_FIELDS, OUTCOMES, EvaluationRow
from hotline.reports.report import quality_figures
from hotline.reports.store import insert_evaluations, load_evaluations
from hotline.schemas import QaKind
from hotline.schemas.qa import RUBRIC
from hotline.settings import ClickHouseSettings
from hotline.sinks.client import connect
from hotline.workdays import CHINA_TZ, china_minute

from .sessions import require_json
from .users import User

if TYPE_CHECKING:
    from .app import Services

log = logging.getLogger(__name__)

#: The form's fields: the CSV columns an evaluator fills in (ids and versions are derived).
FORM_FIELDS = tuple(c for c in HEADER if c not in ("evaluation_id", "version"))
_FIELD = re.compile(r"^(\w+)\b")
_PREFIX = re.compile(r"^evaluation '[^']*': ")


class EvaluationWriter:
    """The dashboard's only ClickHouse writer: inserts evaluations into ``qa_evaluations``.

    A separate connection with its own credentials (``hotline dashboard`` passes the
    insert-only ``qa_writer`` user); every other query of the dashboard runs as the read-only
    ``dashboard`` user. Connects on the first insert; one insert at a time.
    """

    def __init__(self, settings: ClickHouseSettings, user: str, password: str) -> None:
        self._settings = settings
        self._user = user
        self._password = password
        self._lock = threading.Lock()
        self._client: Client | None = None
        self.database = settings.database

    def insert(self, rows: list[Any]) -> int:
        with self._lock:
            if self._client is None:
                self._client = connect(self._settings, user=self._user, password=self._password)
            return insert_evaluations(self._client, self.database, rows)


def reasons(message: str) -> list[dict[str, str | None]]:
    """The import's message split into (field, reason) pairs; field None when it names none."""
    message = _PREFIX.sub("", message)
    if message.startswith("item scores partly blank: "):
        blank = message.removeprefix("item scores partly blank: ").split(", ")
        return [{"field": f, "message": f"{f}：评分项须全部填写或全部留空"} for f in blank]
    out: list[dict[str, str | None]] = []
    for part in message.split("; "):
        match = _FIELD.match(part)
        word = match[1] if match else ""
        if word == "unknown" and "center" in part:
            word = "center_id"
        if word == "no" and "dialled_at" in part:
            word = "dialled_at"
        out.append({"field": word if word in HEADER else None, "message": part})
    return out


def stored_for(user: User, row: EvaluationRow) -> EvaluationRow:
    """The form's row as ``user`` may store it.

    A national user enters the national mystery shopper's evaluation (``ms-<year>-<center>``,
    kind ``mystery_shopper``); where that center and year has one already, the entry is
    refused unless confirmed, and then stored under that one's id (:func:`conflict`). A
    province or city user may not: its evaluation of a center in its scope is its own check,
    kind ``internal`` under ``internal-<scope code>-<year>-<center>``, so it never replaces the
    national evaluation (``qa_evaluations`` keeps one row per id) and the yearly report, which
    reads ``mystery_shopper`` rows only, does not count it.
    """
    if user.scope.kind == "national":
        return row
    return replace(
        row,
        kind=QaKind.INTERNAL.value,
        evaluation_id=f"internal-{user.scope.code}-{row.year}-{row.center_id}",
    )


def earlier_evaluations(s: "Services", row: EvaluationRow) -> list[EvaluationRow]:
    """The stored evaluations of ``row``'s center and year that ``row`` would replace or
    repeat: for the national mystery shopper every one of that center and year (one a year),
    for an internal check the user's own earlier one (the same id)."""
    rows, _ = load_evaluations(
        s.warehouse.client(), s.warehouse.database, (row.year,), row.province_code, row.kind
    )
    national = row.kind == QaKind.MYSTERY_SHOPPER.value
    return [
        r
        for r in rows
        if r.center_id == row.center_id and (national or r.evaluation_id == row.evaluation_id)
    ]


def conflict(row: EvaluationRow, earlier: list[EvaluationRow], s: "Services") -> JSONResponse:
    """409: the center already has an evaluation of the year; nothing is stored unless the
    request says ``"replace": true``, which stores the row under the stored one's id (so it
    replaces it). Several stored ones (an import's rows beside the campaign's) cannot be
    replaced by one entry: ``replaceable`` is false and the message says how to correct them."""
    listed = "；".join(
        f"{r.evaluation_id}（结果代码{r.outcome}，总分{r.total if r.items is not None else '—'}，"
        f"拨打时间{'、'.join(china_minute(t) for t in r.tries)}，来源{r.source}）"
        for r in earlier
    )
    replaceable = len(earlier) == 1
    then = (
        f"确认替换后再保存（替换{earlier[0].evaluation_id}）"
        if replaceable
        else "多条已有评价无法由一次录入替换：请以导入（hotline quality import）按各自编号更正"
    )
    message = f"{s.centers.get(row.center_id).name}：{row.year}年已有评价：{listed}。{then}"
    return JSONResponse(
        {
            "detail": f"评价未保存：{message}",
            "errors": [{"field": "center_id", "message": message}],
            "existing": [r.to_json() for r in earlier],
            "replaceable": replaceable,
        },
        status_code=409,
    )


def refused(field: str, message: str) -> JSONResponse:
    """422 for one field of the request body that is not what the form sends."""
    return JSONResponse(
        {"detail": f"评价未保存：{message}", "errors": [{"field": field, "message": message}]},
        status_code=422,
    )


def _year(text: str) -> int:
    """A ``year`` query parameter, or 400 naming what is wrong with it."""
    try:
        year = int(text)
    except ValueError:
        raise HTTPException(400, "year 须为年份，如 2025") from None
    if not 2000 <= year <= 2100:
        raise HTTPException(400, f"year {year} 超出范围")
    return year


def internal_entry(row: EvaluationRow, s: "Services") -> dict[str, Any]:
    """One internal check as the quality page lists it (times in China time)."""
    known = row.center_id in s.centers
    return {
        "evaluation_id": row.evaluation_id,
        "center_id": row.center_id,
        "name": s.centers.get(row.center_id).name if known else row.center_id,
        "outcome": row.outcome,
        "outcome_label": OUTCOMES[row.outcome],
        "total": row.total if row.items is not None else None,
        "dialled_at": [china_minute(t) for t in row.tries],
        "evaluator": row.evaluator,
        "note": row.note,
        "entered_at": china_minute(datetime.fromtimestamp(row.version / 1000, UTC)),
    }


def _json_type(value: Any) -> str:
    """The JSON type of ``value`` in Chinese (for a body field of the wrong type)."""
    if isinstance(value, list):
        return "数组"
    if isinstance(value, str):
        return "字符串"
    if isinstance(value, bool):
        return "布尔值"
    return "数字" if isinstance(value, int | float) else type(value).__name__


def one_row_sheet(values: dict[str, Any]) -> str:
    """The form's values as a CSV sheet of one row (the import's own format)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=FORM_FIELDS, lineterminator="\n")
    writer.writeheader()
    row = {}
    for name in FORM_FIELDS:
        value = values.get(name)
        row[name] = "" if value is None else str(value).strip()
    writer.writerow(row)
    return buffer.getvalue()


def add_quality_routes(
    app: FastAPI,
    s: "Services",
    current_user: Callable[[Request], User],
    scope_label: Callable[[Any], str],
) -> None:
    CurrentUser = Annotated[User, Depends(current_user)]

    def allowed_provinces(user: User) -> list[dict[str, str]]:
        provinces = s.regions.provinces()
        if user.scope.kind == "province":
            provinces = tuple(p for p in provinces if p.code == user.scope.code)
        elif user.scope.kind != "national":
            provinces = ()
        return [{"code": p.code, "name": p.name} for p in provinces]

    def scoped_province(user: User, asked: str | None, what: str) -> str | None:
        """The province a request reads: a scoped user's own (another asked: 403, naming
        ``what``), a national user's ``asked`` (None: all); not a province code: 400, an
        unknown one: 404. A city user then sees only its city's rows (filtered by the caller)."""
        if user.scope.kind != "national":
            own = s.regions.province_of(user.scope.code).code
            if asked not in (None, own):
                raise HTTPException(403, f"无权查看该省{what}：您的范围是{scope_label(user.scope)}")
            return own
        if asked is not None and s.regions.get(asked).level != "province":
            raise HTTPException(400, f"{asked} 不是省级代码")
        return asked

    @app.get("/api/quality/options")
    def options(user: CurrentUser) -> dict[str, Any]:
        year = s.now().astimezone(CHINA_TZ).year
        centers = [
            {"center_id": c.center_id, "name": c.name, "home": c.home}
            for c in sorted(s.centers, key=lambda c: c.center_id)
            if user.scope.allows(c.home, s.regions)
        ]
        return {
            "year": year,
            "years": list(range(year, year - 6, -1)),
            "national": user.scope.kind == "national",
            "report": user.scope.kind != "city",
            "provinces": allowed_provinces(user),
            "centers": centers,
            "rubric": [
                {"field": i.field, "chinese": i.chinese, "group": i.group, "maximum": i.maximum}
                for i in RUBRIC
            ],
            "outcomes": [{"code": k, "label": v} for k, v in OUTCOMES.items()],
            "writable": s.evaluations is not None,
            "user": user.name,
        }

    @app.get("/api/quality")
    def quality(request: Request, user: CurrentUser) -> dict[str, Any]:
        q = request.query_params
        year = _year(q.get("year", ""))
        province = q.get("province") or None
        if user.scope.kind == "city":
            where = scope_label(user.scope)
            raise HTTPException(403, f"质量监测报告按全国或省出具，地市无权查看：您的范围是{where}")
        province = scoped_province(user, province, "报告")
        client = s.warehouse.client()
        return quality_figures(client, s.warehouse.database, year, province, registry=s.centers)

    @app.get("/api/quality/internal")
    def internal(request: Request, user: CurrentUser) -> dict[str, Any]:
        q = request.query_params
        year = _year(q.get("year", ""))
        province = scoped_province(user, q.get("province") or None, "的评价")
        client = s.warehouse.client()
        rows, _ = load_evaluations(
            client, s.warehouse.database, (year,), province, kind=QaKind.INTERNAL.value
        )
        visible = [r for r in rows if user.scope.allows(r.region_code, s.regions)]
        return {"year": year, "evaluations": [internal_entry(r, s) for r in visible]}

    @app.post("/api/quality/evaluations")
    async def enter_evaluation(request: Request, user: CurrentUser) -> JSONResponse:
        require_json(request)
        try:
            body = await request.json()
        except ValueError:
            raise HTTPException(400, "请求体不是 JSON") from None
        if not isinstance(body, dict):
            raise HTTPException(400, "请求体须为 JSON 对象")
        center_id = body.get("center_id")
        if not isinstance(center_id, str) or not center_id.strip():
            return refused("center_id", "center_id 须为中心编码（字符串），如 C320100")
        center = s.centers.get(center_id)  # unknown: 404
        if not user.scope.allows(center.home, s.regions):
            raise HTTPException(
                403, f"无权录入{center.name}的评价：您的范围是{scope_label(user.scope)}"
            )
        if s.evaluations is None:
            raise HTTPException(503, "评价录入未启用（没有配置写入连接）")
        values = {k: body.get(k) for k in FORM_FIELDS if k not in ITEM_FIELDS}
        items = body.get("items")
        if items is None:
            items = {}
        if not isinstance(items, dict):
            return refused(
                "items", f"items 须为 JSON 对象（评分项 → 分值），收到的是{_json_type(items)}"
            )
        values |= {name: items.get(name) for name in ITEM_FIELDS}
        version = int(s.now().timestamp() * 1000)
        result = parse_csv(one_row_sheet(values), s.centers, default_version=version)
        if result.errors:
            errors = [r for e in result.errors for r in reasons(e.message)]
            return JSONResponse(
                {
                    "detail": "评价未保存：" + "；".join(str(e["message"]) for e in errors),
                    "errors": errors,
                },
                status_code=422,
            )
        row = stored_for(user, result.rows[0])
        earlier = await run_in_threadpool(earlier_evaluations, s, row)
        if earlier:
            if body.get("replace") is not True or len(earlier) > 1:
                return conflict(row, earlier, s)
            # stored under the id it replaces (an import's row may have its own id)
            row = replace(row, evaluation_id=earlier[0].evaluation_id)
        await run_in_threadpool(s.evaluations.insert, [row])
        log.info("evaluation %s entered by %s", row.evaluation_id, user.name)
        counted = row.kind == QaKind.MYSTERY_SHOPPER.value
        return JSONResponse(
            {"evaluation": row.to_json(), "total": row.total, "counted": counted},
            status_code=201,
        )
