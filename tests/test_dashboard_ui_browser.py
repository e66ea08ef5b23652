"""The dashboards' own behaviour in a real browser (Debian's chromium through Playwright), over
the stub warehouse of test_dashboard_units (no ClickHouse): how rates near 0 and 100 % are
printed."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from test_dashboard_data import free_port
from test_dashboard_units import STUB_ACCOUNTS, StubWarehouse, stub_app

from hotline.infra.chromium import CHROMIUM, HEADLESS_ARGS

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


class UiWarehouse(StubWarehouse):
    """The same near-limit metrics for every place, bucket and line."""

    def rows(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        self.calls.append((sql, params))
        params = params or {}
        if "AS connection_rate" in sql and "GROUP BY key" in sql:
            if "concat(level, ':', region_code) AS key" in sql:
                return [metrics(p) for p in params["places"]]
            if "formatDateTime(bucket" in sql:
                return [metrics("2025-03-03 09:00"), metrics("2025-03-03 10:00")]
            return [metrics("total")]
        return []


@pytest.fixture(scope="module")
def warehouse() -> UiWarehouse:
    return UiWarehouse()


@pytest.fixture(scope="module")
def base_url(warehouse: UiWarehouse, tmp_path_factory) -> Iterator[str]:
    app = stub_app(tmp_path_factory.mktemp("ui"), warehouse=warehouse)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "dashboard server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (bash infra/system-deps.sh)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=HEADLESS_ARGS)
        yield chromium
        chromium.close()


def login(browser: Any, base_url: str, name: str = "js", **context: Any) -> Any:
    """A page of a new browser context (``context``: e.g. ``timezone_id``), logged in."""
    page = browser.new_context(**context).new_page()
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
