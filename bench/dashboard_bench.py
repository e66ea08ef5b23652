"""API p50/p95 of every dashboard endpoint and first render of the pages over one simulated year.

    python bench/dashboard_bench.py                  # own ClickHouse, generates the year (minutes)
    python bench/dashboard_bench.py --clickhouse-port 9000 --database hotline_bench --reuse
    python bench/dashboard_bench.py --runs 20 --render-runs 5 --skip-browser

The year of national data is query_bench.py's (``prepare``: same options, same generator);
this bench adds agent states (every agent of every center, a state change every 5 minutes
08:00–20:00 China time on the last ``--call-days``) and alerts (about one per center and day over
``--days``) so that the center and alert pages have something to show.

It then creates a national and a province user, serves the real app with ``hotline dashboard``
(uvicorn, a subprocess on a free 127.0.0.1 port, as the read-only ``dashboard`` user) and

* **API**: for every GET endpoint under ``/api`` that the pages call (enumerated from the app's
  routes; the bench fails when one is not covered), with every time range it takes
  (live, today, 7d, month, year), logs in once per user and times ``--runs`` requests after
  ``--warmup`` with httpx2. Side by side, the SQL that endpoint runs (recorded from the same app
  in-process) is run directly through clickhouse-driver as the same ``dashboard`` user, so
  ``ratio`` = API p95 / direct p95 is the HTTP + Python overhead. Goal: p95 < 300 ms.
* **First render**: Playwright with Debian's ``/usr/bin/chromium`` (headless; no browser
  download), a fresh browser context per run (cold cache, logged in through ``/api/login``):
  time from navigation start to the page's data drawn (its tables' rows and the chart's canvas
  in the DOM, seen by a MutationObserver installed before any page script) and the browser's
  first-contentful-paint. Goal: < 2 s. Console errors fail the run.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
from clickhouse_driver import Client
from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parent))
from query_bench import (  # bench/ is not a package: imported by path
    CHINA,
    add_data_arguments,
    clickhouse,
    free_port,
    p,
    prepare,
)

from hotline.centers import default_centers
from hotline.dashboards.acks import AckStore
from hotline.dashboards.app import Services, create_app
from hotline.dashboards.config import DASHBOARD_USER, DashboardConfig
from hotline.dashboards.queries import Warehouse
from hotline.dashboards.sessions import SessionStore
from hotline.dashboards.users import UserStore
from hotline.infra.chromium import CHROMIUM, HEADLESS_ARGS
from hotline.infra.clickhouse_server import HOST
from hotline.producers.simulator.centers import plan_centers
from hotline.regions import default_registry
from hotline.settings import ClickHouseSettings

RANGES = ("live", "today", "7d", "month", "year")
GOAL_API_MS = 300.0
GOAL_RENDER_MS = 2000.0
NATIONAL, PROVINCE = "bench-national", "bench-province"
TABLES = (
    "metric_minute", "metric_hour", "metric_day", "metric_month",
    "call_records", "tickets", "agent_states", "alerts",
)  # fmt: skip


# -- data the query bench does not generate ------------------------------------------------------


def generate_agents_and_alerts(client: Client, db: str, args: argparse.Namespace) -> None:
    """Agent states of the last ``--call-days`` and alerts of the last ``--days``."""
    now = datetime.now(CHINA)
    today = now.date()
    client.execute(f"TRUNCATE TABLE {db}.agent_states")
    client.execute(f"TRUNCATE TABLE {db}.alerts")
    client.execute(f"DROP TABLE IF EXISTS {db}.bench_agents")
    client.execute(
        f"CREATE TABLE {db}.bench_agents (center_id String, region_code String, agents UInt32) "
        "ENGINE = Memory"
    )
    client.execute(
        f"INSERT INTO {db}.bench_agents VALUES",
        [(c.center_id, c.home, c.agents) for c in plan_centers(12333)],
    )
    shifts = []
    for i in range(args.call_days):
        day = today - timedelta(days=i)
        start = datetime(day.year, day.month, day.day, 8, tzinfo=CHINA)
        end = min(start + timedelta(hours=12), now)
        if end > start:
            shifts.append((int(start.timestamp()), int(end.timestamp()), end < now))
    client.execute(f"DROP TABLE IF EXISTS {db}.bench_shifts")
    client.execute(
        f"CREATE TABLE {db}.bench_shifts (start UInt32, end UInt32, over UInt8) ENGINE = Memory"
    )
    client.execute(f"INSERT INTO {db}.bench_shifts VALUES", shifts)
    t0 = time.monotonic()
    client.execute(
        f"""
        INSERT INTO {db}.agent_states (event_id, agent_id, center_id, region_code, state, reason,
            occurred_at, producer_id, sequence)
        SELECT concat(agent_id, '-', toString(t)), agent_id, center_id, region_code,
            multiIf(t = start, 'logged_in', over AND t + 300 >= end, 'logged_out',
                    ['ready', 'on_call', 'on_call', 'on_call', 'not_ready'][
                        1 + cityHash64(agent_id, t) % 5]) AS state,
            if(state = 'not_ready',
               ['break', 'training', 'acw', 'other'][1 + cityHash64(agent_id, t, 1) % 4], ''),
            toDateTime64(t, 3, 'UTC'), 'bench', t
        FROM (
            SELECT a.center_id AS center_id, a.region_code AS region_code,
                   concat(a.center_id, '.a', toString(n)) AS agent_id, s.start AS start,
                   s.end AS end, s.over AS over, arrayJoin(range(s.start, s.end, 300)) AS t
            FROM {db}.bench_agents AS a ARRAY JOIN range(a.agents) AS n
            CROSS JOIN {db}.bench_shifts AS s
        )""",
        settings={"max_threads": 2},
    )
    first = today - timedelta(days=args.days - 1)
    client.execute(
        f"""
        INSERT INTO {db}.alerts (alert_id, kind, severity, region_code, center_id, opened_at,
            closed_at, message, dedupe_key, version)
        SELECT concat('bench-', center_id, '-', toString(d)), kind,
            ['info', 'warning', 'warning', 'critical'][1 + cityHash64(center_id, d, 2) % 4],
            region_code, center_id, opened,
            if(opened > now() - INTERVAL 2 HOUR AND cityHash64(center_id, d, 3) % 3 = 0, NULL,
               opened + toIntervalMinute(10 + cityHash64(center_id, d, 4) % 110)),
            concat(center_id, ' ', kind), concat(center_id, kind), 1
        FROM (
            SELECT center_id, region_code, d,
                ['threshold', 'center_unreachable', 'dangerous_call', 'ticket_overdue'][
                    1 + cityHash64(center_id, d, 1) % 4] AS kind,
                toDateTime64(toDateTime(toDate('{first}') + d, 'Asia/Shanghai'), 3, 'UTC')
                    + toIntervalSecond(8 * 3600 + cityHash64(center_id, d) % (12 * 3600))
                    AS opened
            FROM {db}.bench_agents ARRAY JOIN range({args.days}) AS d
        )
        WHERE opened <= now()"""
    )
    print(f"  agent_states/alerts generated in {time.monotonic() - t0:.1f} s", flush=True)


def row_counts(client: Client, db: str) -> dict[str, int]:
    return {t: client.execute(f"SELECT count() FROM {db}.{t}")[0][0] for t in TABLES}


# -- the app -------------------------------------------------------------------------------------


def make_users(home: Path, province: str) -> dict[str, str]:
    """A national and a province user in ``home``/dashboard/users.json; their passwords."""
    store = UserStore(DashboardConfig(home=home / "dashboard").users_file, default_registry())
    passwords = {NATIONAL: secrets.token_urlsafe(12), PROVINCE: secrets.token_urlsafe(12)}
    store.add(NATIONAL, passwords[NATIONAL], "national", replace=True)
    store.add(PROVINCE, passwords[PROVINCE], f"province:{province}", replace=True)
    return passwords


@contextmanager
def served(home: Path, ch_port: int, args: argparse.Namespace) -> Iterator[str]:
    """``hotline dashboard`` in a subprocess on a free port; its base URL."""
    port = free_port()
    env = {
        **os.environ,
        "HOTLINE_CLICKHOUSE__HOST": HOST,
        "HOTLINE_CLICKHOUSE__PORT": str(ch_port),
        "HOTLINE_CLICKHOUSE__DATABASE": args.database,
        "HOTLINE_CLICKHOUSE__DASHBOARD_PASSWORD": args.dashboard_password,
        "HOTLINE_STACK__HOME": str(home),
    }
    log = (home / "dashboard.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hotline",
            "dashboard",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-evaluation-writes",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"hotline dashboard exited: {(home / 'dashboard.log').read_text()}"
                )
            try:
                if httpx2.get(f"{base}/login", timeout=2).status_code == 200:
                    break
            except httpx2.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("hotline dashboard did not start within 60 s")
            time.sleep(0.2)
        print(f"dashboard app (pid {proc.pid}) on {base}", flush=True)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


class RecordingWarehouse(Warehouse):
    """A Warehouse that keeps the (sql, params) of every query (to replay them directly)."""

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.log: list[tuple[str, dict[str, Any]]] = []

    def rows(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        self.log.append((sql.replace("{db}", self.database), dict(params or {})))
        return super().rows(sql, params)


def recorder(home: Path, ch_port: int, args: argparse.Namespace) -> tuple[Any, RecordingWarehouse]:
    """The same app in-process on a recording warehouse (for the SQL of each endpoint)."""
    settings = ClickHouseSettings(host=HOST, port=ch_port, database=args.database)
    config = DashboardConfig(home=home / "dashboard")
    warehouse = RecordingWarehouse(settings, DASHBOARD_USER, args.dashboard_password)
    services = Services(
        config=config,
        users=UserStore(config.users_file, default_registry()),
        sessions=SessionStore(config.session_ttl_s),
        warehouse=warehouse,
        acks=AckStore(home / "recorder-acks.sqlite"),
        regions=default_registry(),
        centers=default_centers(),
    )
    return create_app(services), warehouse


# -- API -----------------------------------------------------------------------------------------


@dataclass
class Case:
    page: str
    user: str
    path: str
    params: dict[str, str] = field(default_factory=dict)
    route: str = ""  # the app route it exercises

    @property
    def label(self) -> str:
        query = "&".join(f"{k}={v}" for k, v in self.params.items())
        return self.path + (f"?{query}" if query else "")


def cases(province: str, city: str, center: str) -> list[Case]:
    """Every request the pages make, per user and range (the national page's metric selector
    re-colours the same ``children`` answer, so the metrics add no request)."""
    now = datetime.now(CHINA).date()
    this_month = now.replace(day=1)
    last_month = (this_month - timedelta(days=1)).replace(day=1)
    year = str(now.year)
    out = [Case("all pages", NATIONAL, "/api/me", route="/api/me")]
    for r in RANGES:
        rp = {"range": r}
        for what in ("summary", "children", "series"):
            out.append(Case("national", NATIONAL, f"/api/regions/000000/{what}", rp))
        for what in ("summary", "series", "children", "lines"):
            out.append(Case("province", PROVINCE, f"/api/regions/{province}/{what}", rp))
        for what in ("summary", "series", "children", "centers", "lines"):
            out.append(Case("city", PROVINCE, f"/api/regions/{city}/{what}", rp))
        out.append(Case("center", PROVINCE, f"/api/centers/{center}/summary", rp))
        out.append(Case("tickets", NATIONAL, "/api/tickets", {"region": "000000", **rp}))
        out.append(Case("tickets", PROVINCE, "/api/tickets", {"region": province, **rp}))
        out.append(Case("alerts", NATIONAL, "/api/alerts", {"region": "000000", **rp}))
        out.append(Case("alerts", PROVINCE, "/api/alerts", {"region": province, **rp}))
    out.append(Case("center", PROVINCE, f"/api/centers/{center}/series", {"range": "today"}))
    out.append(Case("center", PROVINCE, f"/api/centers/{center}/live"))
    for user, region in ((NATIONAL, "000000"), (PROVINCE, province)):
        for state in ("open", "overdue"):
            out.append(
                Case("ticket list", user, "/api/tickets/list", {"region": region, "state": state})
            )
        compare = {
            "region": region,
            "a_from": str(last_month),
            "a_to": str(this_month - timedelta(days=1)),
            "b_from": str(this_month),
            "b_to": str(now),
        }
        out.append(Case("compare", user, "/api/compare", compare))
    out.append(Case("quality", NATIONAL, "/api/quality/options"))
    out.append(Case("quality", NATIONAL, "/api/quality", {"year": year}))
    out.append(Case("quality", PROVINCE, "/api/quality", {"year": year}))
    return out


def match_routes(app: Any, all_cases: list[Case]) -> None:
    """Give every case its route; fail when a GET route of /api has no case."""
    routes = [
        r for r in app.routes if r.path.startswith("/api") and "GET" in getattr(r, "methods", ())
    ]
    scope_of = {"type": "http", "method": "GET"}
    for case in all_cases:
        for r in routes:
            found, _ = r.matches({**scope_of, "path": case.path})
            if found.name == "FULL":
                case.route = r.path
                break
        else:
            raise RuntimeError(f"{case.path} matches no GET route of the app")
    missing = sorted({r.path for r in routes} - {c.route for c in all_cases})
    if missing:
        raise RuntimeError(f"GET routes not benchmarked: {', '.join(missing)}")


@dataclass
class ApiResult:
    case: Case
    api: list[float]
    direct: list[float] | None
    statements: int
    status: int
    rows: int


def login(base: str, name: str, password: str) -> httpx2.Client:
    client = httpx2.Client(base_url=base, timeout=120)
    r = client.post("/api/login", json={"username": name, "password": password})
    r.raise_for_status()
    return client


def time_api(
    http: httpx2.Client, case: Case, runs: int, warmup: int, slow: tuple[float, int]
) -> tuple[list[float], int, int]:
    """``runs`` timed requests after ``warmup``; an endpoint whose first request takes longer
    than ``slow[0]`` ms gets ``slow[1]`` runs and no further warm-up (minutes otherwise)."""
    status, rows = 0, 0
    for i in range(max(1, warmup)):
        t0 = time.perf_counter()
        r = http.get(case.path, params=case.params)
        status = r.status_code
        body = r.json()
        rows = len(body.get("rows", [])) if isinstance(body, dict) else 0
        if i == 0 and (time.perf_counter() - t0) * 1000 > slow[0]:
            runs = min(runs, slow[1])
            break
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        r = http.get(case.path, params=case.params)
        r.read()
        out.append((time.perf_counter() - t0) * 1000)
    return out, status, rows


def time_direct(client: Client, statements: list[tuple[str, dict]], runs: int) -> list[float]:
    """The endpoint's statements one after another, as the handler runs them."""
    for sql, params in statements:  # warm-up
        client.execute(sql, params)
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        for sql, params in statements:
            client.execute(sql, params)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def bench_api(
    base: str,
    passwords: dict[str, str],
    home: Path,
    ch_port: int,
    args: argparse.Namespace,
    center: str,
) -> list[ApiResult]:
    app, recording = recorder(home, ch_port, args)
    all_cases = cases(args.province, args.city, center)
    match_routes(app, all_cases)
    http = {name: login(base, name, pw) for name, pw in passwords.items()}
    local = {}
    for name, pw in passwords.items():
        tc = TestClient(app)
        tc.post("/api/login", json={"username": name, "password": pw}).raise_for_status()
        local[name] = tc
    direct = Client(
        HOST,
        port=ch_port,
        user=DASHBOARD_USER,
        password=args.dashboard_password,
        database=args.database,
        send_receive_timeout=3600,
    )
    results = []
    print(f"\nAPI: {len(all_cases)} endpoint × range cases, {args.runs} runs each", flush=True)
    for i, case in enumerate(all_cases, 1):
        recording.log.clear()
        local[case.user].get(case.path, params=case.params)
        statements = list(recording.log)
        api, status, rows = time_api(
            http[case.user], case, args.runs, args.warmup, (args.slow_ms, args.slow_runs)
        )
        base_ms = None
        if statements and not args.skip_direct and status == 200:
            base_ms = time_direct(direct, statements, len(api))
        res = ApiResult(case, api, base_ms, len(statements), status, rows)
        results.append(res)
        print(f"  [{i}/{len(all_cases)}] {api_line(res)}", flush=True)
    direct.disconnect()
    for c in http.values():
        c.close()
    return results


def api_line(r: ApiResult) -> str:
    p50, p95 = p(r.api, 0.5), p(r.api, 0.95)
    d95 = p(r.direct, 0.95) if r.direct else None
    ratio = f"{p95 / d95:.1f}×" if d95 else "—"
    over = " OVER" if p95 >= GOAL_API_MS else ""
    return (
        f"{r.case.page:11s} {r.case.user:14s} {r.case.label:58s} {r.status} "
        f"p50 {p50:7.1f} p95 {p95:7.1f} direct p95 {(f'{d95:.1f}' if d95 else '—'):>7s} "
        f"{ratio:>6s}{over}"
    )


def api_table(results: list[ApiResult]) -> str:
    lines = [
        "| page | user | request | status | rows | SQL | p50 ms | p95 ms | direct p95 ms | "
        "API/direct | < 300 ms |",
        "|---|---|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        p50, p95 = p(r.api, 0.5), p(r.api, 0.95)
        d95 = p(r.direct, 0.95) if r.direct else None
        lines.append(
            f"| {r.case.page} | {r.case.user.removeprefix('bench-')} | `{r.case.label}` | "
            f"{r.status} | {r.rows} | {r.statements or '—'} | {p50:.0f} | {p95:.0f} | "
            f"{f'{d95:.0f}' if d95 else '—'} | {f'{p95 / d95:.1f}×' if d95 else '—'} | "
            f"{'yes' if p95 < GOAL_API_MS else '**no**'} |"
        )
    return "\n".join(lines)


# -- first render --------------------------------------------------------------------------------

# Records performance.now() (ms since navigation start) when every selector is in the DOM.
_READY_SCRIPT = """
(() => {
  const wanted = %s;
  const check = () => {
    if (window.__benchReady === undefined && wanted.every((s) => document.querySelector(s))) {
      window.__benchReady = performance.now();
      window.__benchEmpty = document.querySelectorAll('[data-testid="empty"]').length;
    }
  };
  new MutationObserver(check).observe(document, { childList: true, subtree: true });
})();
"""


def pages(province: str, city: str, center: str) -> list[tuple[str, str, str, list[str]]]:
    """(page, user, hash route, selectors that appear only once its data is drawn)."""
    canvas = '[data-testid="chart"] canvas'
    return [
        ("national", NATIONAL, "#/", ['[data-testid="ranking"] tbody tr', ".tile", canvas]),
        ("province", PROVINCE, f"#/region/{province}",
         ['[data-testid="children"] tbody tr', '[data-testid="lines"] tbody tr', canvas]),
        ("city", PROVINCE, f"#/region/{city}",
         ['[data-testid="centers"] tbody tr', '[data-testid="lines"] tbody tr', canvas]),
        ("center", PROVINCE, f"#/center/{center}",
         ['[data-testid="agents"] tbody tr', '[data-testid="card-offered"]', canvas]),
    ]  # fmt: skip


@dataclass
class RenderResult:
    page: str
    route: str
    ready: list[float]
    fcp: list[float]
    empty_notes: int


def bench_render(
    base: str, passwords: dict[str, str], args: argparse.Namespace, center: str
) -> tuple[list[RenderResult], list[str]]:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    results = []
    print(f"\nfirst render: {args.render_runs} runs per page (+1 warm-up), chromium", flush=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=HEADLESS_ARGS)
        try:
            for page_name, user, route, selectors in pages(args.province, args.city, center):
                ready, fcp, empty = [], [], 0
                for run in range(args.render_runs + 1):
                    context = browser.new_context(viewport={"width": 1280, "height": 1000})
                    r = context.request.post(
                        f"{base}/api/login", data={"username": user, "password": passwords[user]}
                    )
                    assert r.ok, r.text()
                    page = context.new_page()
                    page.on(
                        "console",
                        lambda m, n=page_name: (
                            errors.append(f"{n}: {m.text}") if m.type == "error" else None
                        ),
                    )
                    page.on("pageerror", lambda e, n=page_name: errors.append(f"{n}: {e}"))
                    page.add_init_script(_READY_SCRIPT % json.dumps(selectors))
                    page.goto(f"{base}/{route}")
                    try:
                        page.wait_for_function("window.__benchReady !== undefined", timeout=60_000)
                    except PlaywrightTimeout as exc:
                        text = page.inner_text("body")[:500]
                        raise RuntimeError(
                            f"{page_name}: no data drawn at {page.url}: {text}"
                        ) from exc
                    t_ready, t_fcp, n_empty = page.evaluate(
                        "[window.__benchReady, (performance.getEntriesByName("
                        "'first-contentful-paint')[0] || {}).startTime ?? null, "
                        "window.__benchEmpty]"
                    )
                    context.close()
                    if run == 0:
                        continue  # warm-up (the server's and ClickHouse's caches)
                    ready.append(t_ready)
                    if t_fcp is not None:
                        fcp.append(t_fcp)
                    empty = max(empty, n_empty)
                res = RenderResult(page_name, route, ready, fcp, empty)
                results.append(res)
                print(
                    f"  {page_name:9s} {route:24s} data drawn p50 {p(ready, 0.5):7.0f} ms "
                    f"p95 {p(ready, 0.95):7.0f} ms; FCP p50 "
                    f"{p(fcp, 0.5) if fcp else float('nan'):5.0f} ms; empty notes {empty}",
                    flush=True,
                )
        finally:
            browser.close()
    return results, errors


def render_table(results: list[RenderResult]) -> str:
    lines = [
        "| page | route | data drawn p50 ms | p95 ms | FCP p50 ms | FCP p95 ms | < 2 s |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for r in results:
        p95 = p(r.ready, 0.95)
        lines.append(
            f"| {r.page} | `{r.route}` | {p(r.ready, 0.5):.0f} | {p95:.0f} | "
            f"{p(r.fcp, 0.5):.0f} | {p(r.fcp, 0.95):.0f} | "
            f"{'yes' if p95 < GOAL_RENDER_MS else '**no**'} |"
        )
    return "\n".join(lines)


# -- main ----------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_data_arguments(parser)
    parser.add_argument(
        "--reuse", action="store_true", help="use the data already in --database (no generation)"
    )
    parser.add_argument("--dashboard-password", default="", help="of the `dashboard` CH user")
    parser.add_argument("--center", help="the center page's center (default: busiest of --city)")
    parser.add_argument("--runs", type=int, default=20, help="timed requests per endpoint")
    parser.add_argument("--warmup", type=int, default=2, help="untimed requests first")
    parser.add_argument(
        "--slow-ms", type=float, default=1000, help="an endpoint slower than this at warm-up …"
    )
    parser.add_argument("--slow-runs", type=int, default=5, help="… gets this many runs")
    parser.add_argument("--render-runs", type=int, default=5, help="page loads per page")
    parser.add_argument("--skip-direct", action="store_true", help="no direct-SQL baseline")
    parser.add_argument("--skip-browser", action="store_true", help="API only")
    parser.add_argument("--skip-api", action="store_true", help="first render only")
    args = parser.parse_args()
    if args.reuse and not args.clickhouse_port:
        parser.error("--reuse needs --clickhouse-port (a temp server starts empty)")
    if not args.skip_browser and not CHROMIUM.exists():
        parser.error(f"{CHROMIUM} missing (bash infra/system-deps.sh), or use --skip-browser")
    print(f"load average before: {os.getloadavg()}", flush=True)
    db = args.database
    home = Path(tempfile.mkdtemp(prefix="hotline-dashboard-bench-"))
    try:
        with clickhouse(args) as (client, ch_port):
            if not args.reuse:
                prepare(client, db, args)
                generate_agents_and_alerts(client, db, args)
            counts = row_counts(client, db)
            print("rows: " + ", ".join(f"{t} {n:,d}" for t, n in counts.items()), flush=True)
            center = (
                args.center
                or client.execute(
                    f"SELECT center_id FROM {db}.call_records WHERE city_code = %(c)s "
                    "GROUP BY center_id ORDER BY count() DESC LIMIT 1",
                    {"c": args.city},
                )[0][0]
            )
            passwords = make_users(home, args.province)
            with served(home, ch_port, args) as base:
                api = (
                    [] if args.skip_api else bench_api(base, passwords, home, ch_port, args, center)
                )
                render, errors = ([], [])
                if not args.skip_browser:
                    render, errors = bench_render(base, passwords, args, center)
            load = os.getloadavg()
    finally:
        shutil.rmtree(home, ignore_errors=True)
    bad = []
    if api:
        print("\n## API (ms)\n")
        print(api_table(api))
        over = [r for r in api if p(r.api, 0.95) >= GOAL_API_MS]
        worst = max(api, key=lambda r: p(r.api, 0.95))
        ratios = sorted(p(r.api, 0.95) / p(r.direct, 0.95) for r in api if r.direct)
        print(
            f"\nAPI: {len(api)} cases, worst p95 {p(worst.api, 0.95):.0f} ms ({worst.case.label}); "
            f"goal p95 < {GOAL_API_MS:.0f} ms {'MET' if not over else f'MISSED by {len(over)}'}; "
            + (f"API/direct p95 median {ratios[len(ratios) // 2]:.2f}×" if ratios else "")
        )
        bad = [r for r in api if r.status != 200]
        if bad:
            print("NOT 200: " + ", ".join(f"{r.case.label} ({r.status})" for r in bad))
    if render:
        print("\n## First render (ms from navigation start)\n")
        print(render_table(render))
        slow = [r for r in render if p(r.ready, 0.95) >= GOAL_RENDER_MS]
        print(
            f"\nfirst render: goal < {GOAL_RENDER_MS / 1000:.0f} s "
            f"{'MET' if not slow else 'MISSED: ' + ', '.join(r.page for r in slow)}; "
            f"console errors: {len(errors)}"
        )
        for e in errors[:20]:
            print(f"  console: {e}")
    print(f"\nrows: {counts}\nload average after: {load}")
    if bad or errors:
        sys.exit(1)


if __name__ == "__main__":
    main()
