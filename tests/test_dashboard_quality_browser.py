"""质量监测 in a real browser (Debian's chromium through Playwright): the province user opens
the report page (numbers equal quality_figures), enters an evaluation with a score above its
maximum (the item is marked with the import's reason), corrects it and saves it — as its own
internal check, the national evaluation of that center untouched —, enters it again (refused
until the replacement is confirmed) and finds it listed under the report; a national user whose
center has two stored evaluations is offered no replacement."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from clickhouse_driver import Client
from test_dashboard_browser import ARTIFACTS
from test_dashboard_data import ACCOUNTS, DB, loaded_admin, served, services
from test_quality import current, previous

from hotline.centers import default_centers
from hotline.dashboards.app import create_app
from hotline.dashboards.quality import EvaluationWriter
from hotline.infra.chromium import CHROMIUM, HEADLESS_ARGS
from hotline.infra.clickhouse_server import HOST, ClickHouseServer
from hotline.reports.records import ITEM_FIELDS
from hotline.reports.report import quality_figures
from hotline.reports.store import insert_evaluations, load_evaluations
from hotline.settings import ClickHouseSettings

pytestmark = [pytest.mark.clickhouse, pytest.mark.browser, pytest.mark.slow]

YEAR = 2025  # test_dashboard_data's clock: the form's default year
FULL = (5, 5, 10, 5, 10, 20, 5, 5, 10, 15, 10)


@pytest.fixture(scope="module")
def admin(clickhouse_server: ClickHouseServer) -> Iterator[Client]:
    with loaded_admin(clickhouse_server) as client:
        client.execute(f"TRUNCATE TABLE {DB}.qa_evaluations")
        insert_evaluations(client, DB, current() + previous())
        yield client


@pytest.fixture(scope="module")
def base_url(admin: Client, clickhouse_server: ClickHouseServer, tmp_path_factory) -> Iterator[str]:
    settings = ClickHouseSettings(host=HOST, port=clickhouse_server.tcp_port, database=DB)
    base = services(clickhouse_server.tcp_port, tmp_path_factory.mktemp("dash"))
    app = create_app(replace(base, evaluations=EvaluationWriter(settings, "default", "")))
    with served(app) as url:
        yield url


def test_report_page_and_evaluation_form(base_url: str, admin: Client) -> None:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (bash infra/system-deps.sh)")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    figures = quality_figures(admin, DB, YEAR, "320000", registry=default_centers())
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=HEADLESS_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(f"{base_url}/")
            page.fill("#username", "js")
            page.fill("#password", ACCOUNTS["js"][0])
            page.click("#login-button")
            page.wait_for_selector("h2")
            page.click('a[href="#/quality"]')

            # the report: the province variant, numbers as in quality_figures
            page.wait_for_selector('[data-testid="q-scores"]')
            assert "江苏省" in page.inner_text("h2")
            cells = page.locator('[data-testid="q-coverage"] tbody tr').first.locator("td")
            assert cells.nth(1).inner_text() == str(figures["coverage"]["current"]["dialled"])
            average = page.locator('[data-testid="q-scores"] tbody tr').last.locator("td")
            assert average.nth(5).inner_text() == f"{figures['score_average']['total']:.1f}"
            item = page.locator('[data-testid="q-items"] tbody tr').first.locator("td")
            assert item.nth(4).inner_text() == f"{figures['items'][0]['pct']:.1f}%"
            checks = page.locator('[data-testid="q-checks"] tbody tr')
            assert checks.count() == len(figures["checks"])
            first = figures["checks"][0]
            assert checks.first.locator("td").first.inner_text() == first["label"]  # Chinese
            rules = page.locator('[data-testid="q-definitions"] li')
            assert rules.all_inner_texts() == figures["definitions"]  # bands' sides, zeros
            assert "85–90（含85不含90）" in rules.last.inner_text()
            assert page.inner_text('[data-testid="q-internal"]') == "无"  # none entered yet
            page.screenshot(path=str(ARTIFACTS / "dashboard-quality-report.png"), full_page=True)

            # the form: an item above its maximum is refused with the import's reason
            page.click('[data-testid="to-entry"]')
            page.wait_for_selector("#evaluation-form")
            assert "内部质检" in page.inner_text("h2")
            page.select_option('select[name="center_id"]', "C320200")
            page.fill('input[name="dialled_at"]', f"{YEAR}-06-20 09:30")
            fields = [r["field"] for r in figures["items"]]
            for name, value in zip(fields, FULL, strict=True):
                page.fill(f'input[name="{name}"]', str(value))
            page.fill('input[name="states_agent_number"]', "7")
            assert page.inner_text('[data-testid="form-total"]') == "102"
            page.click('#evaluation-form button[type="submit"]')
            reason = page.locator('[data-field="states_agent_number"] .reason')
            reason.wait_for()
            page.wait_for_function(
                "document.querySelector('[data-field=\"states_agent_number\"] .reason')"
                ".textContent.length > 0"
            )
            assert "0..5" in reason.inner_text()
            page.screenshot(path=str(ARTIFACTS / "dashboard-quality-form.png"), full_page=True)
            page.fill('input[name="states_agent_number"]', "4")
            page.click('#evaluation-form button[type="submit"]')
            page.wait_for_selector('[data-testid="form-result"] .ok')
            result = page.inner_text('[data-testid="form-result"]')
            assert "总分 99" in result and "不计入全国神秘顾客监测报告" in result

            # entered again: refused naming the stored check, replaced once confirmed
            page.fill('input[name="states_agent_number"]', "3")
            page.click('#evaluation-form button[type="submit"]')
            page.wait_for_selector('[data-testid="form-replace"]')
            refused = page.inner_text('[data-testid="form-result"]')
            assert f"internal-320000-{YEAR}-C320200（结果代码1，总分99" in refused
            assert "确认替换" in page.inner_text('[data-field="center_id"] .reason')
            page.click('[data-testid="form-replace"]')
            page.wait_for_selector('[data-testid="form-result"] .ok')
            assert "总分 98" in page.inner_text('[data-testid="form-result"]')

            # back on the report page, the province's own check is listed (not in the report)
            page.click('a[href="#/quality"]:not([data-testid])')
            row = page.locator('[data-testid="q-internal"] tbody tr')
            row.first.wait_for()
            assert row.count() == 1
            cells = [row.locator("td").nth(i).inner_text() for i in range(5)]
            assert cells == [
                "无锡市12333",
                f"{YEAR}-06-20 09:30",
                "1 首次拨通，30秒内转人工",
                "98",
                "js",
            ]
        finally:
            browser.close()
    own, _ = load_evaluations(admin, DB, (YEAR,), "320000", kind="internal")
    assert [(r.evaluation_id, r.total) for r in own] == [(f"internal-320000-{YEAR}-C320200", 98)]
    rows, _ = load_evaluations(admin, DB, (YEAR,), "320000")
    national = sorted((r.evaluation_id, r.source) for r in rows if r.center_id == "C320200")
    assert national == [(f"ms-{YEAR}-C320200", "campaign"), (f"ms-{YEAR}-C320200-a", "campaign")]
    assert quality_figures(admin, DB, YEAR, "320000", registry=default_centers()) == figures
    # the refused 422 and 409 are logged by the browser as failed resources; nothing else
    assert [e for e in errors if "422" not in e and "409" not in e] == []


def test_several_stored_evaluations_offer_no_replace_button(base_url: str, admin: Client) -> None:
    """C320200 has two national rows of the year (the campaign's and another): the national
    user's entry is refused with the 409 saying one entry cannot replace them, and the form
    offers no 确认替换 button (before, it did, and confirming was refused again)."""
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (bash infra/system-deps.sh)")
    from playwright.sync_api import sync_playwright

    def national_rows() -> list[tuple[str, int]]:
        rows, _ = load_evaluations(admin, DB, (YEAR,), kind="mystery_shopper")
        return sorted((r.evaluation_id, r.version) for r in rows if r.center_id == "C320200")

    before = national_rows()
    assert len(before) == 2
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=HEADLESS_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.goto(f"{base_url}/")
            page.fill("#username", "nat")
            page.fill("#password", ACCOUNTS["nat"][0])
            page.click("#login-button")
            page.wait_for_selector("h2")
            page.goto(f"{base_url}/#/quality")
            page.click('[data-testid="to-entry"]')
            page.wait_for_selector("#evaluation-form")
            page.select_option('select[name="center_id"]', "C320200")
            page.fill('input[name="dialled_at"]', f"{YEAR}-06-21 09:30")
            for name, value in zip(ITEM_FIELDS, FULL, strict=True):
                page.fill(f'input[name="{name}"]', str(value))
            page.click('#evaluation-form button[type="submit"]')
            page.wait_for_selector('[data-testid="form-result"] .error')
            said = page.inner_text('[data-testid="form-result"]')
            assert "多条已有评价无法由一次录入替换" in said, said
            assert page.locator('[data-testid="form-replace"]').count() == 0
        finally:
            browser.close()
    assert national_rows() == before
