"""The dashboards in a real browser (Debian's chromium through Playwright): log in, open the
national view, drill to a province, a city and a center; the numbers on screen equal direct
ClickHouse queries; screenshots go to test-artifacts/; the console stays free of errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from clickhouse_driver import Client
from test_dashboard_data import ACCOUNTS, DB, NOW, loaded_admin, served, services

from hotline.dashboards.app import create_app
from hotline.infra.chromium import CHROMIUM, HEADLESS_ARGS
from hotline.infra.clickhouse_server import ClickHouseServer

pytestmark = [pytest.mark.clickhouse, pytest.mark.browser, pytest.mark.slow]

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
DAY_START = int(NOW.replace(hour=0).timestamp())
DAY_END = DAY_START + 86400


@pytest.fixture(scope="module")
def admin(clickhouse_server: ClickHouseServer) -> Iterator[Client]:
    with loaded_admin(clickhouse_server) as client:
        yield client


@pytest.fixture(scope="module")
def base_url(admin: Client, clickhouse_server: ClickHouseServer, tmp_path_factory) -> Iterator[str]:
    app = create_app(services(clickhouse_server.tcp_port, tmp_path_factory.mktemp("dash")))
    with served(app) as url:
        yield url


def region_today(admin: Client, level: str, code: str) -> tuple[int, float]:
    """Offered and connection rate of today straight from ClickHouse (hour grain)."""
    ((offered, rate),) = admin.execute(
        f"SELECT sum(offered), hotline_connection_rate(sum(answered), sum(queued)) "
        f"FROM {DB}.metric_counters WHERE grain = 'hour' AND level = %(l)s "
        f"AND region_code = %(c)s AND bucket >= toDateTime(%(s)s) AND bucket < toDateTime(%(e)s)",
        {"l": level, "c": code, "s": DAY_START, "e": DAY_END},
    )
    return offered, rate


def pct(rate: float) -> str:
    return f"{rate * 100:.1f}%"


def test_login_and_drill_down(base_url: str, admin: Client) -> None:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (bash infra/system-deps.sh)")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=HEADLESS_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))

            page.goto(f"{base_url}/")
            page.fill("#username", "nat")
            page.fill("#password", ACCOUNTS["nat"][0])
            page.click("#login-button")

            # national view: tile map and ranking
            tile = page.locator('.tile[data-code="320000"] [data-key="connection_rate"]')
            tile.wait_for()
            offered, rate = region_today(admin, "province", "320000")
            assert tile.inner_text() == pct(rate)
            nation_offered, _ = region_today(admin, "national", "000000")
            assert page.inner_text('[data-testid="card-offered"] .value') == str(nation_offered)
            ranked = page.locator('[data-testid="ranking"] tr[data-row="320000"]')
            assert ranked.locator('[data-key="offered"]').inner_text() == str(offered)
            title = ranked.locator('[data-key="connection_rate"]').get_attribute("title")
            assert title == "接通 120 / 转人工 150"
            # its CSV export is ranked as the page (by the chosen metric)
            csv_link = page.locator('[data-testid="ranking"] a.csv').get_attribute("href")
            assert "sort=connection_rate" in csv_link and "format=csv" in csv_link
            assert page.locator(".tile").count() == 32
            page.screenshot(path=str(ARTIFACTS / "dashboard-1-national.png"), full_page=True)

            # province
            page.click('.tile[data-code="320000"]')
            page.wait_for_selector('h2:has-text("江苏省")')
            assert page.inner_text('[data-testid="card-connection_rate"] .value') == pct(rate)
            city_offered, city_rate = region_today(admin, "city", "320100")
            row = page.locator('[data-testid="children"] tr[data-row="320100"]')
            assert row.locator('[data-key="offered"]').inner_text() == str(city_offered)
            assert row.locator('[data-key="connection_rate"]').inner_text() == pct(city_rate)
            # the province's own calls (省本级) are a row, not a link; the rows add up
            own = page.locator('[data-testid="children"] tr[data-row="320000"]')
            assert own.get_attribute("class") == "own"
            assert own.locator('[data-key="name"]').inner_text() == "省本级"
            own_offered, _ = region_today(admin, "city", "320000")
            assert own_offered > 0
            assert own.locator('[data-key="offered"]').inner_text() == str(own_offered)
            cells = page.locator(
                '[data-testid="children"] td[data-key="offered"]'
            ).all_inner_texts()
            assert sum(map(int, cells)) == offered
            page.screenshot(path=str(ARTIFACTS / "dashboard-2-province.png"), full_page=True)

            # city
            row.click()
            page.wait_for_selector('h2:has-text("南京市")')
            assert page.inner_text('[data-testid="card-offered"] .value') == str(city_offered)
            own = page.locator('[data-testid="children"] tr[data-row="320100"]')
            assert own.locator('[data-key="name"]').inner_text() == "市本级"
            assert own.get_attribute("class") == "own"
            cells = page.locator(
                '[data-testid="children"] td[data-key="offered"]'
            ).all_inner_texts()
            assert sum(map(int, cells)) == city_offered
            center_row = page.locator('[data-testid="centers"] tr[data-row="C320100"]')
            ((calls, answered),) = admin.execute(
                f"SELECT sum(offered), sum(answered) FROM {DB}.call_records FINAL "
                f"WHERE center_id = 'C320100' AND started_at >= toDateTime(%(s)s) "
                f"AND started_at < toDateTime(%(e)s)",
                {"s": DAY_START, "e": DAY_END},
            )
            assert center_row.locator('[data-key="offered"]').inner_text() == str(calls)
            page.screenshot(path=str(ARTIFACTS / "dashboard-3-city.png"), full_page=True)

            # center
            center_row.click()
            page.wait_for_selector('h2:has-text("南京市12333")')
            assert page.inner_text('[data-testid="card-offered"] .value') == str(calls)
            assert page.inner_text('[data-testid="card-connection_rate"] .value') == pct(
                answered / calls
            )
            ((staffed,),) = admin.execute(
                f"SELECT countIf(state != 'logged_out') FROM (SELECT agent_id, "
                f"argMax(state, (occurred_at, sequence, event_id)) AS state "
                f"FROM {DB}.agent_states FINAL "
                f"WHERE center_id = 'C320100' GROUP BY agent_id)"
            )
            assert page.inner_text('[data-testid="live-staffed"] .value') == str(staffed)
            page.screenshot(path=str(ARTIFACTS / "dashboard-4-center.png"), full_page=True)
        finally:
            browser.close()
    assert errors == []
