"""The dashboards' own behaviour in a real browser (Debian's chromium through Playwright), over
the stub warehouse of test_dashboard_units (no ClickHouse): how rates near 0 and 100 % are
printed; error answers that are not JSON (a plain-text 500, a proxy's HTML 502, no answer at
all) on the pages and the login form; a failed acknowledgement (确认) said beside its button,
an expired session sent to the login page; the times the browser makes itself (the 更新于
footer, the form's default dialling time) in China time whatever the browser's time zone; a
label (its accessible name) for every input and select of every page; the comparison's B − A
signed, rates in percentage points."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from test_dashboard_data import served
from test_dashboard_units import STUB_ACCOUNTS, StubWarehouse, stub_app

from hotline.centers import CenterRegistry, default_centers
from hotline.dashboards.app import VENDOR_ECHARTS
from hotline.infra.chromium import CHROMIUM, HEADLESS_ARGS
from hotline.reports.figures import compute_figures

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def metrics(key: str) -> dict[str, Any]:
    """A metric row whose rates sit just inside 100 % and 0 %: 2499 of 2500 answered."""
    return {
        "key": key,
        "offered": 2600,
        "self_served": 100,
        "queued": 2500,
        "answered": 2499,
        "abandoned": 1,
        "short_abandoned": 0,
        "answered_in_sl": 2499,
        "wait_ms_answered": 12_000_000,
        "talk_ms": 1,
        "hold_ms": 0,
        "acw_ms": 0,
        "handle_ms": 1,
        "survey_responses": 2000,
        "survey_satisfied": 1999,
        "survey_basic": 0,
        "survey_dissatisfied": 1,
        "connection_rate": 2499 / 2500,
        "service_level": 2499 / 2500,
        "abandon_rate": 1 / 2500,
        "satisfaction": 1999 / 2000,
        "asa_s": 4.8,
        "aht_s": 0.0,
    }


# The comparison: 时段A (before COMPARE_B) has other totals than every later range.
COMPARE_B = int(datetime(2025, 2, 15, tzinfo=UTC).timestamp())
PERIOD_A = {
    "offered": 2400,
    "connection_rate": 0.9796,  # B − A: +2.0 points
    "service_level": 1.0146,  # B − A: −1.5 points (not a real rate: only the difference counts)
    "asa_s": 5.3,  # B − A: −0.5 s
}


ALERTS = ("A1", "A2", "A3")


class UiWarehouse(StubWarehouse):
    """The same near-limit metrics for every place, bucket and line; with ``fail``, a series
    query raises an exception the app does not handle (a plain-text 500); ``delay`` slows
    every query down."""

    fail = False
    delay = 0.0  # seconds every query takes (a slow ClickHouse)
    alert_ids: tuple[str, ...] = ALERTS  # the alert feed's rows

    def rows(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        self.calls.append((sql, params))
        params = params or {}
        time.sleep(self.delay)
        if self.fail and "formatDateTime(bucket" in sql:
            raise RuntimeError("boom")
        if "AS connection_rate" in sql and "GROUP BY key" in sql:
            if "concat(level, ':', region_code) AS key" in sql:
                return [metrics(p) for p in params["places"]]
            if "formatDateTime(bucket" in sql:
                return [metrics("2025-03-03 09:00"), metrics("2025-03-03 10:00")]
            if params["start"] < COMPARE_B:  # 时段A of the comparison test
                return [metrics("total") | PERIOD_A]
            return [metrics("total")]
        if "FROM {db}.alerts FINAL" in sql and "opened" in sql:
            return [alert(a) for a in self.alert_ids]
        if "FROM {db}.queue_now" in sql:  # a queue snapshot's longest wait is in ms
            return [{"n": 1, "latest": "2025-03-03 09:59:50", "waiting": 2}
                    | {"longest_wait_s": 47_321 / 1000}]  # fmt: skip
        if "SELECT region_code FROM {db}.alerts" in sql:  # A2 is gone by the time it is acked
            return [{"region_code": "320100"}] if params["id"] in ("A1", "A3") else []
        return []

    def client(self) -> Any:
        return None  # for quality_figures and load_evaluations, replaced by stand-ins


def alert(alert_id: str) -> dict[str, Any]:
    return {
        "alert_id": alert_id,
        "kind": "sl_breach",
        "severity": "critical",
        "region_code": "320100",
        "center_id": "C320100",
        "opened": "2025-03-03 09:58:00",
        "closed": "",
        "message": f"alert {alert_id}",
    }


def no_evaluations(
    _client: Any,
    _database: str,
    year: int,
    province: str | None = None,
    registry: CenterRegistry | None = None,
) -> dict[str, Any]:
    """quality_figures of a year without a single evaluation (nothing read)."""
    return compute_figures([], [], registry or default_centers(), year, province)


@pytest.fixture(scope="module")
def warehouse() -> UiWarehouse:
    return UiWarehouse()


@pytest.fixture(scope="module")
def base_url(warehouse: UiWarehouse, tmp_path_factory) -> Iterator[str]:
    patch = pytest.MonkeyPatch()
    patch.setattr("hotline.dashboards.quality.quality_figures", no_evaluations)
    patch.setattr("hotline.dashboards.quality.load_evaluations", lambda *_a, **_k: ([], []))
    app = stub_app(tmp_path_factory.mktemp("ui"), warehouse=warehouse)
    app.state.services.evaluations = object()  # the evaluation form shows (nothing is saved)
    with served(app) as url:
        yield url
    patch.undo()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (bash infra/system-deps.sh)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=HEADLESS_ARGS)
        yield chromium
        chromium.close()


def login(
    browser: Any, base_url: str, name: str = "js", at: datetime | None = None, **context: Any
) -> Any:
    """A page of a new browser context (``context``: e.g. ``timezone_id``), logged in; ``at``:
    the browser's clock stands still at that instant."""
    page = browser.new_context(**context).new_page()
    if at is not None:
        page.clock.set_fixed_time(at)
    page.goto(f"{base_url}/login")
    page.fill("#username", name)
    page.fill("#password", STUB_ACCOUNTS[name][0])
    page.click("#login-button")
    page.wait_for_selector('[data-testid="card-offered"]')
    return page


def test_rates_near_the_limits_are_not_rounded_to_them(browser: Any, base_url: str) -> None:
    page = login(browser, base_url)
    shown = page.evaluate(
        """async () => {
          const { fmt } = await import("/static/render.js");
          return [1, 2499 / 2500, 1999 / 2000, 0.9994, 0.5, 0.0006, 1 / 2500, 0]
            .map((v) => fmt("rate", v));
        }"""
    )
    assert shown == ["100.0%", ">99.9%", ">99.9%", "99.9%", "50.0%", "0.1%", "<0.1%", "0.0%"]
    # on the page: Jiangsu's cards and its cities' rows (2499 of 2500 answered, 1 abandoned)
    card = page.locator('[data-testid="card-connection_rate"] .value')
    assert card.inner_text() == ">99.9%"
    assert page.inner_text('[data-testid="card-abandon_rate"] .value') == "<0.1%"
    assert page.inner_text('[data-testid="card-satisfaction"] .value') == ">99.9%"  # 1999 / 2000
    row = page.locator('[data-testid="children"] tr[data-row="320100"]')
    assert row.locator('[data-key="connection_rate"]').inner_text() == ">99.9%"
    page.context.close()


def test_the_center_page_prints_seconds_with_one_decimal(browser: Any, base_url: str) -> None:
    page = login(browser, base_url, "nj")
    page.goto(f"{base_url}/#/center/C320100")
    page.wait_for_selector('[data-testid="live-longest_wait_s"]')
    assert page.inner_text('[data-testid="live-longest_wait_s"] .value') == "47.3"
    assert page.inner_text('[data-testid="live-waiting"] .value') == "2"
    assert page.inner_text('[data-testid="card-asa_s"] .value') == "4.8"
    page.context.close()


def test_a_municipal_center_page_says_a_city_user_sees_its_citys_calls_only(
    browser: Any, base_url: str
) -> None:
    page = login(browser, base_url, "cqx")
    page.goto(f"{base_url}/#/center/C500000")
    page.wait_for_selector('[data-testid="live"]')
    note = page.inner_text('[data-testid="note"]')
    assert note == "只计关于重庆市 县的来电（重庆市12333也接听其他地区的来电）"
    page.context.close()


@pytest.mark.parametrize(
    ("user", "code", "own_center"),
    [("js", "320000", "C320000"), ("nat", "110000", "C110000"), ("nj", "320100", "C320100")],
)
def test_a_province_and_a_city_page_list_their_centers(
    browser: Any, base_url: str, user: str, code: str, own_center: str
) -> None:
    """The 省本级 center (C320000), a municipality's one center (C110000) and a city's center
    each have a row that leads to their page (agents, queue)."""
    page = login(browser, base_url, user)
    page.goto(f"{base_url}/#/region/{code}")
    row = page.locator(f'[data-testid="centers"] tr[data-row="{own_center}"]')
    row.wait_for()
    row.click()
    page.wait_for_selector('[data-testid="live"]')
    assert page.url.endswith(f"#/center/{own_center}")
    page.context.close()


def test_a_curve_has_every_bucket_of_the_range_on_its_axis(browser: Any, base_url: str) -> None:
    """Today's curve of a region with snapshots at 09:00 and 10:00 only: 24 hours on the axis,
    the others gaps, not a curve that runs from 09:00 straight into 10:00 as if nothing was
    missing (and a 近7天 curve that would hide a day without data)."""
    if not VENDOR_ECHARTS.exists():
        pytest.skip("ECharts is not installed (hotline dashboard assets)")
    page = login(browser, base_url)
    page.wait_for_selector('[data-testid="chart"] canvas')
    axis, offered = page.evaluate(
        """() => {
          const box = document.querySelector('[data-testid="chart"]');
          const option = window.echarts.getInstanceByDom(box).getOption();
          return [option.xAxis[0].data, option.series[0].data];
        }"""
    )
    assert axis == [f"2025-03-03 {h:02}:00" for h in range(24)]
    assert offered == [None] * 9 + [2600, 2600] + [None] * 13
    page.context.close()


def test_a_curves_tooltip_gives_its_rates_in_percent(browser: Any, base_url: str) -> None:
    """The tooltip of the curve's rate lines reads 85.7%, as the axis (%), not a bare 85.7
    that a reader could take for a count."""
    if not VENDOR_ECHARTS.exists():
        pytest.skip("ECharts is not installed (hotline dashboard assets)")
    page = login(browser, base_url)
    page.wait_for_selector('[data-testid="chart"] canvas')
    shown = page.evaluate(
        """() => {
          const box = document.querySelector('[data-testid="chart"]');
          const series = window.echarts.getInstanceByDom(box).getOption().series;
          return series.map((s) => [s.name, s.tooltip?.valueFormatter?.(85.7) ?? null]);
        }"""
    )
    assert shown == [["呼入量", None], ["接通率", "85.7%"], ["服务水平", "85.7%"]]
    page.context.close()


def test_a_cut_alert_feed_says_so_above_its_rows(
    browser: Any, base_url: str, warehouse: UiWarehouse
) -> None:
    """An alert feed longer than the page shows (200) says it is cut and where to get every
    row, above the table, not silently the first 200."""
    warehouse.alert_ids = tuple(f"A{i}" for i in range(1, 251))
    try:
        page = login(browser, base_url)
        page.goto(f"{base_url}/#/alerts/320000")
        page.wait_for_selector('[data-testid="alerts"] tbody tr')
        note = page.inner_text('[data-testid="alerts"] [data-testid="note"]')
        rows = page.locator('[data-testid="alerts"] tbody tr').count()
    finally:
        warehouse.alert_ids = ALERTS
    assert rows == 200
    assert note == "只列出最新的 200 条；导出 CSV 可得全部（最多 100000 条）"
    page.context.close()


def test_an_error_page_that_is_not_json_says_which_error(
    browser: Any, base_url: str, warehouse: UiWarehouse
) -> None:
    page = login(browser, base_url)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    warehouse.fail = True  # an unexpected exception: Starlette's text/plain 500
    try:
        page.goto(f"{base_url}/#/region/320100")
        page.wait_for_selector('[data-testid="error"]')
    finally:
        warehouse.fail = False
    assert page.inner_text('[data-testid="error"]') == "出错了：服务器错误（HTTP 500）"
    # a proxy's HTML page in front of the dashboard
    page.route(
        "**/api/regions/320000/summary*",
        lambda route: route.fulfill(
            status=502, content_type="text/html", body="<html><h1>502 Bad Gateway</h1></html>"
        ),
    )
    page.goto(f"{base_url}/#/region/320000")
    page.wait_for_selector('[data-testid="error"]')
    assert page.inner_text('[data-testid="error"]') == "出错了：服务器错误（HTTP 502）"
    assert errors == []
    page.context.close()


def test_a_page_being_loaded_says_so_instead_of_showing_the_old_figures(
    browser: Any, base_url: str, warehouse: UiWarehouse
) -> None:
    page = login(browser, base_url)  # 江苏省, 今日
    page.wait_for_selector('[data-testid="lines"]')
    warehouse.delay = 0.5
    try:
        # another range: the figures of 今日 must not stand under 近7天 while it loads
        page.select_option("#range", "7d")
        page.wait_for_selector('[data-testid="loading"]', timeout=2000)
        assert page.locator('[data-testid="card-offered"]').count() == 0
        page.wait_for_selector('[data-testid="lines"]', timeout=30_000)
        assert "近7天" in page.inner_text("h2")
        # another page: neither are 江苏省's figures shown as 南京市's
        page.goto(f"{base_url}/#/region/320100")
        page.wait_for_selector('[data-testid="loading"]', timeout=2000)
        page.wait_for_selector('[data-testid="lines"]', timeout=30_000)
        assert "南京市" in page.inner_text("h2")
        # a live refresh of the same page keeps its figures until the new ones are there
        page.select_option("#range", "live")
        page.wait_for_selector('[data-testid="lines"]', timeout=30_000)
        start = page.evaluate("() => Date.now()")
        while page.evaluate("() => Date.now()") - start < 6000:  # a refresh every 4 s
            assert page.locator('[data-testid="loading"]').count() == 0
            assert page.locator('[data-testid="card-offered"]').count() == 1
            page.wait_for_timeout(100)
    finally:
        warehouse.delay = 0
    assert page.inner_text("#view") != "加载中…"
    page.context.close()


def test_the_login_form_reports_every_failure(browser: Any, base_url: str) -> None:
    page = browser.new_context().new_page()
    page.goto(f"{base_url}/login")
    page.fill("#username", "js")
    page.fill("#password", "wrong-password")
    message = page.locator("#login-error")

    def submit(expected: str) -> None:
        page.click("#login-button")
        page.wait_for_function(
            "(text) => document.getElementById('login-error').textContent === text",
            arg=expected,
            timeout=5000,
        )

    submit("用户名或密码错误")  # the server's JSON detail
    page.route(
        "**/api/login",
        lambda route: route.fulfill(
            status=502, content_type="text/html", body="<html><h1>502 Bad Gateway</h1></html>"
        ),
    )
    submit("服务器错误（HTTP 502）")
    page.unroute("**/api/login")
    page.route("**/api/login", lambda route: route.abort())
    submit("无法连接服务器，请检查网络后重试")
    page.unroute("**/api/login")
    page.fill("#password", STUB_ACCOUNTS["js"][0])
    page.click("#login-button")
    page.wait_for_selector('[data-testid="card-offered"]')
    assert message.count() == 0  # the dashboard, no longer the login page
    page.context.close()


def alert_row(page: Any, alert_id: str) -> Any:
    cell = page.locator(f'td[data-key="alert_id"]:text-is("{alert_id}")')
    return page.locator('[data-testid="alerts"] tbody tr').filter(has=cell)


def test_a_failed_acknowledgement_is_said_beside_its_button(browser: Any, base_url: str) -> None:
    page = login(browser, base_url)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{base_url}/#/alerts")
    row = alert_row(page, "A2")
    row.locator("button").click()
    note = row.locator('[data-testid="ack-error"]')
    note.wait_for(timeout=5000)
    assert note.inner_text() == "确认失败：没有告警 A2"  # the server's 404 detail
    assert row.locator("button").is_enabled()  # may be tried again
    # a good one: acknowledged, by whom and when (China time, the stub clock's 10:00)
    row = alert_row(page, "A1")
    row.locator("button").click()
    row.locator('td:text-is("已确认")').wait_for(timeout=5000)
    assert row.locator('[data-key="acked_by"]').inner_text() == "js"
    assert row.locator('[data-key="acked_at"]').inner_text() == "2025-03-03 10:00:00"
    assert errors == []
    page.context.close()


def test_an_acknowledgement_after_the_session_ended_goes_to_the_login(
    browser: Any, base_url: str
) -> None:
    page = login(browser, base_url)
    page.goto(f"{base_url}/#/alerts")
    button = page.locator('[data-testid="alerts"] button[data-alert="A3"]')
    button.wait_for()
    page.context.clear_cookies()  # the session expired (or the server restarted)
    button.click()
    page.wait_for_url(f"{base_url}/login", timeout=5000)
    page.context.close()


@pytest.mark.parametrize("zone", ["UTC", "Asia/Urumqi"])
def test_times_made_in_the_browser_are_china_time(browser: Any, base_url: str, zone: str) -> None:
    # 02:00:05 UTC is 10:00:05 in China (08:00:05 on Urumqi's clocks)
    page = login(browser, base_url, at=datetime(2025, 3, 3, 2, 0, 5, tzinfo=UTC), timezone_id=zone)
    assert page.evaluate("new Date().getHours()") == {"UTC": 2, "Asia/Urumqi": 8}[zone]
    page.wait_for_function("document.getElementById('status').textContent !== ''")
    assert page.inner_text("#status") == "更新于 10:00:05（北京时间）"
    page.goto(f"{base_url}/#/quality/entry")
    page.wait_for_selector("#evaluation-form")
    assert page.input_value('input[name="dialled_at"]') == "2025-03-03 10:00"
    page.context.close()


UNLABELLED = """() => [...document.querySelectorAll("input, select, textarea")]
  .filter((e) => e.type !== "hidden" && !e.labels.length
    && !e.getAttribute("aria-label") && !e.getAttribute("aria-labelledby"))
  .map((e) => e.id || e.name || e.outerHTML)"""
HEADER = {"#range": "时间范围", "#from": "开始日期", "#to": "结束日期"}


@pytest.mark.parametrize(
    ("user", "route", "ready", "names"),
    [
        ("nat", "#/", "#metric", {**HEADER, "#metric": "地图指标"}),
        ("js", "#/region/320000", '[data-testid="children"]', HEADER),
        (
            "js",
            "#/compare",
            "#compare-form",
            {
                '[name="a_from"]': "时段A开始",
                '[name="a_to"]': "时段A结束",
                '[name="b_from"]': "时段B开始",
                '[name="b_to"]': "时段B结束",
            },
        ),
        (
            "nat",
            "#/quality",
            '[data-testid="q-coverage"]',
            {"#q-year": "年度", "#q-province": "范围"},
        ),
        (
            "js",
            "#/quality",
            '[data-testid="q-coverage"]',
            {"#q-year": "年度", "#q-province": "范围"},
        ),
        ("js", "#/quality/entry", "#evaluation-form", {'[name="note"]': "备注"}),
    ],
    ids=["national", "region", "compare", "quality-national", "quality-province", "form"],
)
def test_every_control_has_a_label(
    browser: Any, base_url: str, user: str, route: str, ready: str, names: dict[str, str]
) -> None:
    page = login(browser, base_url, user)
    page.goto(f"{base_url}/{route}")
    page.wait_for_selector(ready)
    assert page.evaluate(UNLABELLED) == []
    for selector, name in names.items():  # found by its label's text
        labelled = page.get_by_label(name, exact=True)
        assert labelled.evaluate("(e, selector) => e.matches(selector)", selector), name
    page.context.close()


def test_the_comparison_signs_its_changes_and_gives_rates_in_points(
    browser: Any, base_url: str
) -> None:
    page = login(browser, base_url)
    shown = page.evaluate(
        """async () => {
          const { change } = await import("/static/render.js");
          return [["rate", 0.02], ["rate", -0.015], ["rate", 0], ["rate", -0.0001],
            ["int", 200], ["int", -30], ["int", 0], ["seconds", -0.5], ["rate", null]]
            .map(([kind, v]) => change(kind, v));
        }"""
    )
    assert shown == [
        "+2.0个百分点",
        "−1.5个百分点",
        "0.0个百分点",
        "0.0个百分点",  # rounds to nothing: no sign
        "+200",
        "−30",
        "0",
        "−0.5",
        "—",
    ]
    page.goto(f"{base_url}/#/compare")
    for name, day in {"a_from": "2025-02-01", "a_to": "2025-02-07"}.items():
        page.fill(f'[name="{name}"]', day)
    for name, day in {"b_from": "2025-02-22", "b_to": "2025-02-28"}.items():
        page.fill(f'[name="{name}"]', day)
    page.click('#compare-form button[type="submit"]')
    page.wait_for_selector('[data-testid="compare"] table')

    def cells(metric: str) -> list[str]:
        row = page.locator(f'[data-testid="compare"] tr[data-row="{metric}"]')
        return [row.locator(f'[data-key="{key}"]').inner_text() for key in ("a", "b", "change")]

    assert cells("connection_rate") == ["98.0%", ">99.9%", "+2.0个百分点"]
    assert cells("abandon_rate") == ["<0.1%", "<0.1%", "0.0个百分点"]
    assert cells("offered") == ["2400", "2600", "+200"]
    assert cells("asa_s") == ["5.3", "4.8", "−0.5"]
    assert cells("service_level")[2] == "−1.5个百分点"
    page.context.close()
