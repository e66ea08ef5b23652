"""The HTTP shell of the dashboards: login, scope checks, and one table per API endpoint.

Handlers are thin: resolve the time range, check the scope (403 outside it, 404 for an unknown
code), call :mod:`.queries`, return a :class:`~.tables.Table` as JSON or ``?format=csv``.
Build the app with :func:`create_app`; ``hotline dashboard`` serves it with uvicorn.
"""

import json
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

from clickhouse_driver.errors import ErrorCodes
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from hotline.centers import Center, CenterRegistry, UnknownCenter
from hotline.errors import Backpressure, HotlineError, InvalidInput, RetryableError
from hotline.regions import MUNICIPALITIES, RegionRegistry, UnknownRegion

from . import queries
from .acks import AckStore
from .alert_text import in_chinese
from .config import DashboardConfig
from .labels import (
    AGENT_STATES,
    ALERT_KINDS,
    BUSINESS_LINES,
    LEVELS,
    NOT_READY_REASONS,
    SEVERITIES,
    TICKET_CATEGORIES,
    TICKET_STATUSES,
    label,
    own_level_name,
)
from .quality import EvaluationWriter, add_quality_routes
from .scopes import NATIONAL_CODE, Scope
from .sessions import COOKIE, SessionStore, require_json
from .tables import MAP_METRICS, METRIC_COLUMNS, Column, Table, rate_titles, zero_metrics
from .throttle import Attempt, LoginThrottle
from .tiles import TILES
from .timerange import RANGE_LABELS, TimeRange, resolve
from .users import User, UserStore

log = logging.getLogger(__name__)

#: Rows of a list the page shows (tickets, alerts); its CSV export has up to CSV_ROWS.
PAGE_ROWS = {"tickets": 500, "alerts": 200}
CSV_ROWS = 100_000

STATIC = Path(str(resources.files("hotline.dashboards") / "static"))
VENDOR_ECHARTS = STATIC / "vendor" / "echarts.min.js"


@dataclass(frozen=True, slots=True)
class Place:
    code: str
    name: str
    level: str  # national | province | city | county

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "name": self.name, "level": self.level}


NATION = Place(NATIONAL_CODE, "全国", "national")


@dataclass
class Services:
    """What the handlers need; tests build it with their own clock and ClickHouse."""

    config: DashboardConfig
    users: UserStore
    sessions: SessionStore
    warehouse: queries.Warehouse
    acks: AckStore
    regions: RegionRegistry
    centers: CenterRegistry
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    #: the one write path (POST /api/quality/evaluations); None: the form is switched off
    evaluations: EvaluationWriter | None = None
    #: failed-login counts; None: one of the app's own, from the config's limits
    throttle: LoginThrottle | None = None


def create_app(services: Services) -> FastAPI:
    app = FastAPI(title="hotline 12333 dashboards", docs_url=None, redoc_url=None)
    s = services
    app.state.services = s

    # -- errors --------------------------------------------------------------------------

    @app.exception_handler(InvalidInput)
    def _invalid(_request: Request, exc: InvalidInput) -> JSONResponse:
        # the registries' messages are English (the CLI prints them); the UI is Chinese
        if isinstance(exc, UnknownRegion):
            code = exc.what
            hint = "" if code.isdigit() and len(code) == 6 else "（地区代码为六位数字，GB/T 2260）"
            return JSONResponse({"detail": f"没有地区 {code}{hint}"}, status_code=404)
        if isinstance(exc, UnknownCenter):
            return JSONResponse({"detail": f"没有中心 {exc.center_id}"}, status_code=404)
        return JSONResponse({"detail": str(exc)}, status_code=400)

    @app.exception_handler(HotlineError)
    def _hotline(_request: Request, exc: HotlineError) -> JSONResponse:
        if getattr(exc.__cause__, "code", None) == ErrorCodes.TIMEOUT_EXCEEDED:
            # stopped by ClickHouse after Warehouse.timeout_s (max_execution_time)
            detail = (
                f"ClickHouse 查询超时：超过 {s.config.query_timeout_s} 秒未完成，已停止；"
                "请缩短时间范围或稍后再试"
            )
            return JSONResponse({"detail": detail}, status_code=503)
        if isinstance(exc, RetryableError | Backpressure):
            return JSONResponse({"detail": f"ClickHouse 暂不可用：{exc}"}, status_code=503)
        log.error("dashboard query failed: %s", exc)
        return JSONResponse({"detail": f"查询失败：{exc}"}, status_code=500)

    # -- session and scope ----------------------------------------------------------------

    def current_user(request: Request) -> User:
        """The session's user, as long as the account is unchanged: a user removed, given
        another scope or a new password since the login is logged out at the next request."""
        token = request.cookies.get(COOKIE)
        session = s.sessions.get(token)
        if session is None:
            raise HTTPException(401, "未登录或登录已过期")
        if s.users.get(session.user.name) != session.user:
            s.sessions.delete(token)
            log.info("session of %r ended: the account changed", session.user.name)
            raise HTTPException(401, "账户已更改或删除，请重新登录")
        return session.user

    CurrentUser = Annotated[User, Depends(current_user)]

    def place_of(code: str) -> Place:
        if code == NATIONAL_CODE:
            return NATION
        region = s.regions.get(code)
        return Place(region.code, region.name, region.level)

    def authorize(user: User, code: str) -> Place:
        place = place_of(code)
        if not user.scope.allows(place.code, s.regions):
            raise HTTPException(403, f"无权查看{place.name}：您的范围是{scope_label(user.scope)}")
        return place

    def may_see(user: User, center: Center) -> bool:
        """A center whose home is within the user's scope; and, for a city user of a
        municipality (北京、天津、上海、重庆: 市辖区, 县), the center answering for the city,
        which is the municipality's own center. Nowhere else does a center above the city
        count: a provincial center serving a whole province (省级大集中) is the province's."""
        scope = user.scope
        if scope.allows(center.home, s.regions):
            return True
        return (
            scope.kind == "city"
            and s.regions.province_of(scope.code).code in MUNICIPALITIES
            and s.centers.serves(center.center_id, scope.code)
        )

    def calls_city(user: User) -> str | None:
        """The city whose calls a user's center figures count: a city user's own (a
        municipality's center also answers the other districts or counties and the
        municipality's own calls, which are not the city user's); None for everyone else."""
        return user.scope.code if user.scope.kind == "city" else None

    def city_note(user: User, center: Center) -> str | None:
        """Said above a center's figures when they leave out calls the center answered."""
        if user.scope.kind != "city" or user.scope.allows(center.home, s.regions):
            return None
        return f"只计关于{scope_label(user.scope)}的来电（{center.name}也接听其他地区的来电）"

    def authorize_center(user: User, center_id: str) -> Center:
        center = s.centers.get(center_id)
        if not may_see(user, center):
            raise HTTPException(403, f"无权查看{center.name}：您的范围是{scope_label(user.scope)}")
        return center

    def scope_label(scope: Scope) -> str:
        return "全国" if scope.kind == "national" else s.regions.get(scope.code).full_name

    def children(place: Place) -> list[Place]:
        if place.level == "national":
            return [Place(r.code, r.name, r.level) for r in s.regions.provinces()]
        return [Place(r.code, r.name, r.level) for r in s.regions.children(place.code)]

    def own_level(place: Place) -> Place | None:
        """The row of a province's or city's own calls one level down, which the registry
        lists as no child: the roll-up (``region_at``, streams/rollup.py) writes a call about
        a whole province (the 省本级 center's own calls) as the city-level row of the province
        code, and a call about a whole city (市本级, not attributed to a county) as the
        county-level row of the city code. Without it the children would not add up to the
        place. None for the nation (every call is in a province) and for a county."""
        if place.level not in ("province", "city"):
            return None
        municipal = s.regions.province_of(place.code).code in MUNICIPALITIES
        if place.level == "province":
            return Place(place.code, own_level_name("province", municipal), "city")
        return Place(place.code, own_level_name("city", municipal), "county")

    def table_children(user: User, place: Place) -> list[Place]:
        """The rows of the children table: the place's own level first (if any), then the
        registry's children; together they partition the place's calls. Each is checked
        against the scope like any other place (the own-level row has the parent's code, so
        a city user never gets a ``city:<province>`` row: the province is 403 for them)."""
        own = own_level(place)
        rows = ([own] if own is not None else []) + children(place)
        for row in rows:
            if not user.scope.allows(row.code, s.regions):
                raise HTTPException(403, f"无权查看{row.name}：您的范围是{scope_label(user.scope)}")
        return rows

    def codes_within(place: Place) -> tuple[str, ...] | None:
        if place.level == "national":
            return None
        return (place.code, *(r.code for r in s.regions.descendants(place.code)))

    def time_range(request: Request) -> TimeRange:
        q = request.query_params
        return resolve(
            q.get("range", "today"),
            s.now(),
            from_=q.get("from"),
            to=q.get("to"),
            live_minutes=s.config.live_minutes,
        )

    def respond(request: Request, table: Table) -> Response:
        if wants_csv(request):
            # named after its range(s) too, so exports of two ranges keep apart
            spans = [table.meta[k]["slug"] for k in ("range", "a", "b") if k in table.meta]
            name = "_".join([table.name, *spans])
            return Response(
                table.as_csv(),
                media_type="text/csv; charset=utf-8",
                headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
            )
        return JSONResponse(table.as_json())

    def wants_csv(request: Request) -> bool:
        """Whether ``format`` asks for CSV (JSON when absent); InvalidInput for another."""
        fmt = request.query_params.get("format", "json")
        if fmt not in ("csv", "json"):
            raise InvalidInput(f"参数 format 须为 csv 或 json，收到 {fmt!r}")
        return fmt == "csv"

    def list_limit(request: Request, kind: str) -> int:
        """How many rows of list ``kind`` to show: the page's share, or the CSV's."""
        return CSV_ROWS if wants_csv(request) else PAGE_ROWS[kind]

    def cut_note(rows: list[dict[str, Any]], limit: int, shown: str) -> str | None:
        """Cuts ``rows`` (read with ``limit + 1``) to ``limit`` in place; says so if it did."""
        if len(rows) <= limit:
            return None
        del rows[limit:]
        return f"{shown}；导出 CSV 可得全部（最多 {CSV_ROWS} 条）"

    def no_data(places: list[Place], tr: TimeRange, what: str) -> str:
        latest = queries.latest_minute(s.warehouse, [(p.level, p.code) for p in places])
        if latest is None:
            return f"该时段无数据：{what}尚无任何指标快照（流处理还没有写入这里的数据）"
        return f"该时段无数据：{tr.label}内没有{what}的快照；最新数据时间为 {latest}"

    def with_titles(row: dict[str, Any]) -> dict[str, Any]:
        row["_titles"] = rate_titles(row)
        return row

    def crumbs(user: User, place: Place) -> list[dict[str, str]]:
        chain: list[Place] = [NATION]
        if place.level != "national":
            chain += [place_of(r.code) for r in reversed(s.regions.parents(place.code))]
            chain.append(place)
        else:
            chain = [NATION]
        return [p.as_dict() for p in chain if user.scope.allows(p.code, s.regions)]

    def home_of(user: User) -> str:
        if user.scope.kind == "national":
            return "#/"
        return f"#/region/{user.scope.code}"

    # -- pages ---------------------------------------------------------------------------

    @app.get("/", include_in_schema=False)
    def index(request: Request) -> Response:
        if s.sessions.get(request.cookies.get(COOKIE)) is None:
            return RedirectResponse("/login", status_code=303)
        return FileResponse(STATIC / "index.html")

    @app.get("/login", include_in_schema=False)
    def login_page() -> Response:
        return FileResponse(STATIC / "login.html")

    @app.get("/static/vendor/echarts.min.js", include_in_schema=False)
    def echarts() -> Response:
        if not VENDOR_ECHARTS.exists():
            # The page runs without charts and says how to fetch them.
            return Response(
                "window.HOTLINE_NO_ECHARTS = '图表库未安装：运行 hotline dashboard assets';",
                media_type="text/javascript",
            )
        return FileResponse(VENDOR_ECHARTS, media_type="text/javascript")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    # -- login ---------------------------------------------------------------------------

    throttle = (
        s.throttle
        if s.throttle is not None
        else LoginThrottle(
            s.config.login_failures_per_user,
            s.config.login_failures_per_client,
            s.config.login_window_s,
        )
    )
    app.state.login_throttle = throttle

    def too_many_failures(wait: float) -> Response:
        seconds = LoginThrottle.retry_after(wait)
        when = f"{seconds} 秒" if seconds < 60 else f"{math.ceil(seconds / 60)} 分钟"
        return JSONResponse(
            {"detail": f"登录失败次数过多，请 {when}后再试"},
            status_code=429,
            headers={"Retry-After": str(seconds)},
        )

    @app.post("/api/login")
    async def login(request: Request) -> Response:
        require_json(request)
        try:
            data = json.loads(await request.body() or b"{}")
        except ValueError:
            data = {}
        if not isinstance(data, dict):
            data = {}
        name, password = str(data.get("username", "")), str(data.get("password", ""))
        if not (name and password):
            return JSONResponse({"detail": "用户名或密码错误"}, status_code=401)
        client = request.client.host if request.client else "unknown"
        attempt = throttle.begin(name, client)
        if not isinstance(attempt, Attempt):
            log.info("login of %r from %s throttled for %.0f s", name, client, attempt)
            return too_many_failures(attempt)
        try:
            # argon2 takes tens of milliseconds of CPU: in a worker thread, not the event loop
            user = await run_in_threadpool(s.users.verify, name, password)
        except BaseException:  # no verdict (e.g. the request cancelled): the place is freed
            throttle.release(attempt)
            raise
        if user is None:
            throttle.failed(attempt)
            return JSONResponse({"detail": "用户名或密码错误"}, status_code=401)
        throttle.succeeded(attempt)
        session = s.sessions.create(user)
        response = JSONResponse(
            {"user": user.name, "scope": str(user.scope), "home": home_of(user)}
        )
        response.set_cookie(
            COOKIE,
            session.token,
            max_age=s.config.session_ttl_s,
            httponly=True,
            samesite="strict",
            secure=s.config.secure_cookies,
        )
        return response

    @app.post("/api/logout")
    def logout(request: Request) -> Response:
        s.sessions.delete(request.cookies.get(COOKIE))
        response = JSONResponse({"ok": True})
        response.delete_cookie(COOKIE)
        return response

    @app.get("/api/me")
    def me(user: CurrentUser) -> dict[str, Any]:
        return {
            "user": user.name,
            "scope": str(user.scope),
            "scope_label": scope_label(user.scope),
            "home": home_of(user),
            "ranges": RANGE_LABELS,
            "echarts": VENDOR_ECHARTS.exists(),
        }

    # -- regions -------------------------------------------------------------------------

    @app.get("/api/regions/{code}/summary")
    def region_summary(request: Request, code: str, user: CurrentUser):
        place = authorize(user, code)
        tr = time_range(request)
        rows = queries.region_metrics(s.warehouse, [(place.level, place.code)], tr, "total")
        row = {**place.as_dict(), **(rows[0] if rows else zero_metrics())}
        row.pop("key", None)
        columns = [Column("code", "代码", "code"), Column("name", "地区"), *METRIC_COLUMNS]
        meta = {
            "place": place.as_dict(),
            "level_label": LEVELS[place.level],
            "crumbs": crumbs(user, place),
            "range": tr.as_dict(),
            "has_children": bool(children(place)),
            # a province's page lists its centers too: its 省本级 center is in no city's list
            "centers": place.level in ("province", "city"),
        }
        return respond(
            request,
            Table(
                f"summary_{place.code}",
                columns,
                [with_titles(row)],
                None if rows else no_data([place], tr, place.name),
                meta,
            ),
        )

    @app.get("/api/regions/{code}/children")
    def region_children(request: Request, code: str, user: CurrentUser):
        place = authorize(user, code)
        tr = time_range(request)
        kids = table_children(user, place)
        own = own_level(place)
        found = {
            r["key"]: r
            for r in queries.region_metrics(
                s.warehouse, [(k.level, k.code) for k in kids], tr, "place"
            )
        }
        rows = []
        for kid in kids:
            metrics = found.get(f"{kid.level}:{kid.code}")
            row = {**kid.as_dict(), **(metrics or zero_metrics()), "has_data": bool(metrics)}
            row["own"] = kid == own
            row.pop("key", None)
            if place.level == "national":
                row["x"], row["y"] = TILES.get(kid.code, (0, 8))
            with_titles(row)
            if kid == own:
                below = "地市" if place.level == "province" else "区县"
                row["_titles"]["name"] = (
                    f"{kid.name}：{place.name}本级的来电（地区代码 {place.code}），"
                    f"未归属到下属{below}"
                )
            rows.append(row)
        columns = [
            Column("code", "代码", "code"),
            Column("name", "地区"),
            Column("level", "层级", hidden=True),
            *METRIC_COLUMNS,
        ]
        if (metric := request.query_params.get("sort")) is not None:
            rows = ranked(rows, metric)
        what = f"{place.name}下属地区"
        reason = None if found else no_data([place, *kids], tr, what)
        meta = {"place": place.as_dict(), "range": tr.as_dict(), "sort": metric}
        return respond(request, Table(f"children_{place.code}", columns, rows, reason, meta))

    def ranked(rows: list[dict[str, Any]], metric: str) -> list[dict[str, Any]]:
        """``rows`` highest ``metric`` first, those without a value last (code order kept
        among equals): the page's ranking, so its CSV export is in the same order."""
        if metric not in MAP_METRICS:
            raise InvalidInput(f"参数 sort 须为 {'、'.join(MAP_METRICS)} 之一，收到 {metric!r}")
        return sorted(rows, key=lambda r: (r[metric] is None, -(r[metric] or 0)))

    @app.get("/api/regions/{code}/series")
    def region_series(request: Request, code: str, user: CurrentUser):
        place = authorize(user, code)
        tr = time_range(request)
        rows = queries.region_metrics(s.warehouse, [(place.level, place.code)], tr, "bucket")
        for row in rows:
            row["bucket"] = row.pop("key")
            with_titles(row)
        columns = [Column("bucket", "时间", "time"), *METRIC_COLUMNS]
        reason = None if rows else no_data([place], tr, place.name)
        meta = {"place": place.as_dict(), "range": tr.as_dict(), "buckets": tr.buckets()}
        return respond(request, Table(f"series_{place.code}", columns, rows, reason, meta))

    @app.get("/api/regions/{code}/lines")
    def region_lines(request: Request, code: str, user: CurrentUser):
        place = authorize(user, code)
        tr = time_range(request)
        rows = queries.region_metrics(s.warehouse, [(place.level, place.code)], tr, "line")
        for row in rows:
            row["business_line"] = row.pop("key")
            row["line_name"] = label(BUSINESS_LINES, row["business_line"])
            with_titles(row)
        columns = [
            Column("business_line", "业务代码", "code"),
            Column("line_name", "业务线"),
            *METRIC_COLUMNS,
        ]
        reason = None if rows else no_data([place], tr, place.name)
        meta = {"place": place.as_dict(), "range": tr.as_dict()}
        return respond(request, Table(f"lines_{place.code}", columns, rows, reason, meta))

    def centers_in(place: Place) -> list[Center]:
        if place.level == "national":
            return []
        found = {c.center_id: c for c in s.centers if s.regions.is_within(c.home, place.code)}
        responsible = s.centers.centers_for_region(place.code)
        if responsible:
            found.setdefault(responsible[0].center_id, responsible[0])
        return sorted(found.values(), key=lambda c: c.center_id)

    @app.get("/api/regions/{code}/centers")
    def region_centers(request: Request, code: str, user: CurrentUser):
        place = authorize(user, code)
        tr = time_range(request)
        centers = [c for c in centers_in(place) if may_see(user, c)]
        found = {
            r["key"]: r
            for r in queries.center_metrics(
                s.warehouse,
                [(c.center_id, c.home) for c in centers],
                tr,
                "center",
                city=calls_city(user),
            )
        }
        rows = []
        for center in centers:
            metrics = found.get(center.center_id)
            row = {
                "center_id": center.center_id,
                "name": center.name,
                "home": center.home,
                **(metrics or zero_metrics()),
            }
            row.pop("key", None)
            rows.append(with_titles(row))
        columns = [
            Column("center_id", "中心编号", "code"),
            Column("name", "中心"),
            Column("home", "所在地区", "code", hidden=True),
            *METRIC_COLUMNS,
        ]
        reason = None
        if not centers:
            reason = f"该时段无数据：{place.name}没有登记的中心"
        elif not found:
            reason = f"该时段无数据：{tr.label}内{place.name}的中心没有通话记录"
        meta = {"place": place.as_dict(), "range": tr.as_dict()}
        note = next((n for c in centers if (n := city_note(user, c)) is not None), None)
        return respond(request, Table(f"centers_{place.code}", columns, rows, reason, meta, note))

    # -- centers -------------------------------------------------------------------------

    def center_dict(center: Center) -> dict[str, str]:
        return {"center_id": center.center_id, "name": center.name, "home": center.home}

    @app.get("/api/centers/{center_id}/summary")
    def center_summary(request: Request, center_id: str, user: CurrentUser):
        center = authorize_center(user, center_id)
        tr = time_range(request)
        rows = queries.center_metrics(
            s.warehouse, [(center.center_id, center.home)], tr, "total", city=calls_city(user)
        )
        row = {**center_dict(center), **(rows[0] if rows else zero_metrics())}
        row.pop("key", None)
        columns = [Column("center_id", "中心编号", "code"), Column("name", "中心"), *METRIC_COLUMNS]
        reason = None if rows else f"该时段无数据：{tr.label}内{center.name}没有通话记录"
        meta = {
            "center": center_dict(center),
            "crumbs": crumbs(user, place_of(center.home)),
            "range": tr.as_dict(),
        }
        table = Table(
            f"center_{center.center_id}",
            columns,
            [with_titles(row)],
            reason,
            meta,
            city_note(user, center),
        )
        return respond(request, table)

    @app.get("/api/centers/{center_id}/series")
    def center_series(request: Request, center_id: str, user: CurrentUser):
        center = authorize_center(user, center_id)
        tr = time_range(request)
        rows = queries.center_metrics(
            s.warehouse, [(center.center_id, center.home)], tr, "bucket", city=calls_city(user)
        )
        for row in rows:
            row["bucket"] = row.pop("key")
            with_titles(row)
        columns = [Column("bucket", "时间", "time"), *METRIC_COLUMNS]
        reason = None if rows else f"该时段无数据：{tr.label}内{center.name}没有通话记录"
        meta = {"center": center_dict(center), "range": tr.as_dict(), "buckets": tr.buckets()}
        note = city_note(user, center)
        return respond(
            request, Table(f"center_series_{center.center_id}", columns, rows, reason, meta, note)
        )

    @app.get("/api/centers/{center_id}/live")
    def center_live(request: Request, center_id: str, user: CurrentUser):
        center = authorize_center(user, center_id)
        now_ts = int(s.now().timestamp())
        agents = queries.center_agents(s.warehouse, center.center_id, now_ts)
        queue = queries.center_queue(s.warehouse, center.center_id, now_ts)
        for agent in agents:
            agent["state_name"] = label(AGENT_STATES, agent["state"])
            agent["reason_name"] = label(NOT_READY_REASONS, agent["reason"])
        present = [a for a in agents if a["state"] != "logged_out"]
        counts = {
            "staffed": len(present),
            "ready": sum(a["state"] == "ready" for a in present),
            "on_call": sum(a["state"] == "on_call" for a in present),
            "not_ready": sum(a["state"] == "not_ready" for a in present),
        }
        columns = [
            Column("agent_id", "座席", "code"),
            Column("state", "状态代码", "code", hidden=True),
            Column("state_name", "状态"),
            Column("reason_name", "置忙原因"),
            Column("since", "状态开始", "time"),
        ]
        reason = None if agents else f"该时段无数据：{center.name}最近12小时没有座席状态事件"
        meta = {"center": center_dict(center), "agents": counts, "queue": queue}
        return respond(request, Table(f"agents_{center.center_id}", columns, agents, reason, meta))

    # -- tickets and alerts --------------------------------------------------------------

    def region_param(request: Request, user: User) -> Place:
        code = request.query_params.get("region") or user.scope.code
        return authorize(user, code)

    @app.get("/api/tickets")
    def tickets(request: Request, user: CurrentUser):
        place = region_param(request, user)
        tr = time_range(request)
        now_ms = int(s.now().timestamp() * 1000)
        rows = queries.ticket_categories(s.warehouse, codes_within(place), tr, now_ms)
        for row in rows:
            row["category_name"] = label(TICKET_CATEGORIES, row["category"])
            row["_titles"] = {
                "on_time_rate": f"按时办结 {row['resolved_on_time']} / 办结 {row['resolved']}"
            }
        columns = [
            Column("category", "类别代码", "code"),
            Column("category_name", "类别"),
            Column("open", "积压", "int"),
            Column("overdue", "超期", "int"),
            Column("created", "新建", "int"),
            Column("resolved", "办结", "int"),
            Column("resolved_on_time", "按时办结", "int", hidden=True),
            Column("on_time_rate", "按时办结率", "rate"),
        ]
        reason = None if rows else f"该时段无数据：{place.name}没有工单记录"
        meta = {"place": place.as_dict(), "range": tr.as_dict(), "crumbs": crumbs(user, place)}
        return respond(request, Table(f"tickets_{place.code}", columns, rows, reason, meta))

    @app.get("/api/tickets/list")
    def ticket_list(request: Request, user: CurrentUser):
        place = region_param(request, user)
        q = request.query_params
        state = q.get("state", "open")
        if state not in ("open", "overdue", "all"):
            raise InvalidInput(f"参数 state 须为 open、overdue 或 all 之一，收到 {state!r}")
        category = q.get("category") or None
        if category is not None and category not in TICKET_CATEGORIES:
            raise InvalidInput(
                f"参数 category 须为 {'、'.join(TICKET_CATEGORIES)} 之一（留空为全部），"
                f"收到 {category!r}"
            )
        now_ms = int(s.now().timestamp() * 1000)
        limit = list_limit(request, "tickets")
        rows = queries.ticket_list(
            s.warehouse,
            codes_within(place),
            now_ms,
            category=category,
            state=state,
            limit=limit + 1,
        )
        note = cut_note(rows, limit, f"只列出前 {limit} 条（按办结期限排序）")
        for row in rows:
            row["category_name"] = label(TICKET_CATEGORIES, row["category"])
            row["status_name"] = label(TICKET_STATUSES, row["status"])
            row["line_name"] = label(BUSINESS_LINES, row["business_line"])
            row["is_overdue"] = bool(row["is_overdue"])
        columns = [
            Column("ticket_id", "工单号", "code"),
            Column("region_code", "地区代码", "code"),
            Column("center_id", "中心", "code"),
            Column("category_name", "类别"),
            Column("line_name", "业务线"),
            Column("status_name", "状态"),
            Column("created", "创建时间", "time"),
            Column("due", "办结期限", "time"),
            Column("is_overdue", "超期"),
            Column("callbacks", "回电次数", "int"),
        ]
        reason = None if rows else f"该时段无数据：{place.name}没有符合条件的工单"
        meta = {"place": place.as_dict(), "state": state, "category": category}
        return respond(
            request, Table(f"ticket_list_{place.code}", columns, rows, reason, meta, note)
        )

    @app.get("/api/alerts")
    def alerts(request: Request, user: CurrentUser):
        place = region_param(request, user)
        tr = time_range(request)
        limit = list_limit(request, "alerts")
        rows = queries.alert_feed(s.warehouse, codes_within(place), tr, limit=limit + 1)
        note = cut_note(rows, limit, f"只列出最新的 {limit} 条")
        acked = s.acks.of(r["alert_id"] for r in rows)
        for row in rows:
            row["kind_name"] = label(ALERT_KINDS, row["kind"])
            row["severity_name"] = label(SEVERITIES, row["severity"])
            row["message"] = in_chinese(row["message"])
            by, at = acked.get(row["alert_id"], ("", ""))
            row["acked_by"], row["acked_at"] = by, at
        columns = [
            Column("alert_id", "告警编号", "code"),
            Column("opened", "发生时间", "time"),
            Column("severity_name", "级别"),
            Column("kind_name", "类型"),
            Column("region_code", "地区代码", "code"),
            Column("center_id", "中心", "code"),
            Column("message", "内容"),
            Column("closed", "恢复时间", "time"),
            Column("acked_by", "确认人"),
            Column("acked_at", "确认时间", "time"),
        ]
        reason = None if rows else f"该时段无数据：{tr.label}内{place.name}没有告警"
        meta = {"place": place.as_dict(), "range": tr.as_dict()}
        return respond(request, Table(f"alerts_{place.code}", columns, rows, reason, meta, note))

    @app.post("/api/alerts/{alert_id}/ack")
    def ack_alert(request: Request, alert_id: str, user: CurrentUser):
        require_json(request)
        region = queries.alert_region(s.warehouse, alert_id)
        # An alert outside the scope is answered as one that does not exist: alert ids are
        # derived from what they are about (streams/alerts.py, e.g. a center's unreachable
        # episodes), so a 403 would tell another province's alerts from none.
        if region is None or not user.scope.allows(region, s.regions):
            if region is not None:
                log.info("ack of %s by %s refused: outside the scope", alert_id, user.name)
            raise HTTPException(404, f"没有告警 {alert_id}")
        by, at = s.acks.ack(alert_id, user.name, s.now())
        return {"alert_id": alert_id, "acked_by": by, "acked_at": at}

    # -- quality monitoring (质量监测): report figures and the evaluation form ------------

    add_quality_routes(app, s, current_user, scope_label)

    # -- comparison ----------------------------------------------------------------------

    @app.get("/api/compare")
    def compare(request: Request, user: CurrentUser):
        place = region_param(request, user)
        q = request.query_params
        now = s.now()
        # both periods by day: whole China days, the same grain on both sides
        a, b = (
            replace(
                resolve(
                    "custom",
                    now,
                    from_=q.get(f"{side}_from"),
                    to=q.get(f"{side}_to"),
                    names=(f"{side}_from", f"{side}_to"),
                ),
                grain="day",
            )
            for side in ("a", "b")
        )
        sums = []
        for tr in (a, b):
            rows = queries.region_metrics(s.warehouse, [(place.level, place.code)], tr, "total")
            sums.append(rows[0] if rows else zero_metrics())
        rows = []
        for column in METRIC_COLUMNS:
            if column.hidden:
                continue
            va, vb = sums[0].get(column.key), sums[1].get(column.key)
            change = None if va is None or vb is None else vb - va
            rows.append(
                {
                    "metric": column.key,
                    "label": column.label,
                    "kind": column.kind,
                    "a": va,
                    "b": vb,
                    "change": change,
                    "_titles": {
                        "a": rate_titles(sums[0]).get(column.key, ""),
                        "b": rate_titles(sums[1]).get(column.key, ""),
                    },
                }
            )
        columns = [
            Column("label", "指标"),
            Column("a", f"时段A {a.label}", "text"),
            Column("b", f"时段B {b.label}", "text"),
            Column("change", "变化(B−A)", "text"),
        ]
        reason = None
        if not sums[0]["offered"] and not sums[1]["offered"]:
            reason = no_data([place], a, place.name)
        meta = {"place": place.as_dict(), "a": a.as_dict(), "b": b.as_dict()}
        return respond(request, Table(f"compare_{place.code}", columns, rows, reason, meta))

    return app
