"""Every dashboard API endpoint against the real ClickHouse server (as the read-only
``dashboard`` user), on a small known dataset (test_dashboard_data.py): numbers, scopes, CSV."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from clickhouse_driver import Client
from fastapi.testclient import TestClient
from fixtures_clickhouse import PASSWORDS
from fixtures_dashboard import login
from test_dashboard_data import (
    ACCOUNTS,
    DB,
    JIANGSU,
    MEDICAL,
    NANJING,
    NATION,
    NOW,
    PENSION,
    ZHEJIANG,
    Counts,
    _call,
    _insert,
    loaded_admin,
    services,
)

from hotline.centers import CentersConfig, ProvinceMode, build_centers
from hotline.dashboards.app import create_app
from hotline.dashboards.queries import Warehouse
from hotline.infra.clickhouse_server import HOST, ClickHouseServer
from hotline.settings import ClickHouseSettings

pytestmark = pytest.mark.clickhouse


@pytest.fixture(scope="module")
def admin(clickhouse_server: ClickHouseServer) -> Iterator[Client]:
    with loaded_admin(clickhouse_server) as client:
        yield client


@pytest.fixture(scope="module")
def app(admin: Client, clickhouse_server: ClickHouseServer, tmp_path_factory):
    return create_app(services(clickhouse_server.tcp_port, tmp_path_factory.mktemp("dash")))


def rate(num: int, den: int) -> float | None:
    return None if den == 0 else num / den


def assert_metrics(row: dict, c: Counts) -> None:
    assert row["offered"] == c.offered
    assert row["queued"] == c.queued
    assert row["answered"] == c.answered
    assert row["connection_rate"] == pytest.approx(rate(c.answered, c.queued))
    assert row["service_level"] == pytest.approx(
        rate(c.answered_in_sl, c.queued - c.short_abandoned)
    )
    assert row["satisfaction"] == pytest.approx(
        rate(c.survey_satisfied + c.survey_basic, c.survey_responses)
    )
    assert row["asa_s"] == pytest.approx(c.wait_ms_answered / 1000 / c.answered)


# -- login and sessions ---------------------------------------------------------------------


def test_login_me_logout(app) -> None:
    client = TestClient(app)
    assert client.get("/api/me").status_code == 401
    assert client.get("/").status_code == 200  # the login page after the redirect
    bad = client.post("/api/login", json={"username": "nat", "password": "wrong-password"})
    assert bad.status_code == 401
    unknown = client.post("/api/login", json={"username": "nobody", "password": "x" * 10})
    assert unknown.status_code == 401
    # a form post (what a hostile page can send across sites) logs no one in: login CSRF
    form = client.post(
        "/api/login",
        content="username=js&password=js-password",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert form.status_code == 415 and "set-cookie" not in form.headers
    assert client.get("/api/me").status_code == 401
    good = client.post("/api/login", json={"username": "js", "password": "js-password"})
    assert good.status_code == 200 and good.json()["home"] == "#/region/320000"
    cookie = good.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "max-age=" in cookie
    me = client.get("/api/me").json()
    assert me["scope"] == "province:320000" and me["scope_label"] == "江苏省"
    assert client.post("/api/logout").status_code == 200
    assert client.get("/api/me").status_code == 401


def test_passwords_are_stored_hashed(app) -> None:
    users_file: Path = app.state.services.config.users_file
    text = users_file.read_text()
    assert "$argon2id$" in text
    assert not any(password in text for password, _scope in ACCOUNTS.values())
    assert users_file.stat().st_mode & 0o777 == 0o600


# -- national, province, city -------------------------------------------------------------


def test_national_overview_has_every_province_as_a_tile(nat: TestClient) -> None:
    body = nat.get("/api/regions/000000/children?range=today").json()
    rows = {r["code"]: r for r in body["rows"]}
    assert len(rows) == 32 and body["empty_reason"] is None
    assert len({(r["x"], r["y"]) for r in rows.values()}) == 32
    assert_metrics(rows["320000"], JIANGSU)
    assert_metrics(rows["330000"], ZHEJIANG)
    assert rows["440000"]["has_data"] is False and rows["440000"]["connection_rate"] is None
    # the rate of the sums, not the average of the lines' rates
    average = (PENSION.answered / PENSION.queued + MEDICAL.answered / MEDICAL.queued) / 2
    assert rows["320000"]["connection_rate"] != pytest.approx(average)
    assert rows["320000"]["_titles"]["connection_rate"] == "接通 120 / 转人工 150"


@pytest.mark.parametrize("range_", ["live", "today", "7d", "month", "year"])
def test_every_range_reads_its_grain_and_equals_clickhouse(
    nat: TestClient, admin: Client, range_: str
) -> None:
    body = nat.get(f"/api/regions/320000/summary?range={range_}").json()
    row = body["rows"][0]
    assert_metrics(row, JIANGSU)  # every grain holds the whole morning (minute: deduplicated)
    tr = body["meta"]["range"]
    grain = {"live": "minute", "today": "hour", "7d": "day", "month": "day", "year": "month"}
    assert tr["grain"] == grain[range_]
    ((direct,),) = admin.execute(
        f"SELECT hotline_service_level(sum(answered_in_sl), sum(queued), sum(short_abandoned)) "
        f"FROM {DB}.metric_counters WHERE grain = %(g)s AND level = 'province' "
        f"AND region_code = '320000' AND bucket >= parseDateTime64BestEffort(%(s)s) "
        f"AND bucket < parseDateTime64BestEffort(%(e)s)",
        {"g": tr["grain"], "s": tr["start"], "e": tr["end"]},
    )
    assert row["service_level"] == pytest.approx(direct)


@pytest.mark.parametrize("range_", ["live", "today", "7d", "month", "year"])
@pytest.mark.parametrize(("who", "code"), [("js", "320000"), ("js", "320100"), ("nj", "320100")])
def test_the_children_add_up_to_the_parent_card(
    request, admin: Client, who: str, code: str, range_: str
) -> None:
    client: TestClient = request.getfixturevalue(who)
    card = client.get(f"/api/regions/{code}/summary?range={range_}").json()["rows"][0]
    body = client.get(f"/api/regions/{code}/children?range={range_}").json()
    rows = body["rows"]
    for counter in (
        "offered",
        "self_served",
        "queued",
        "answered",
        "abandoned",
        "short_abandoned",
        "answered_in_sl",
        "wait_ms_answered",
        "handle_ms",
        "survey_responses",
        "survey_satisfied",
        "survey_basic",
    ):
        assert sum(r[counter] for r in rows) == card[counter], counter
    own = rows[0]
    level = "city" if code == "320000" else "county"
    assert (own["code"], own["level"], own["own"], own["has_data"]) == (code, level, True, True)
    assert own["name"] == ("省本级" if code == "320000" else "市本级")
    tr = body["meta"]["range"]
    ((offered, answered),) = admin.execute(  # the own-level row is the roll-up's row
        f"SELECT sum(offered), sum(answered) FROM {DB}.metric_counters "
        f"WHERE grain = %(g)s AND level = %(l)s AND region_code = %(c)s "
        f"AND bucket >= parseDateTime64BestEffort(%(s)s) "
        f"AND bucket < parseDateTime64BestEffort(%(e)s)",
        {"g": tr["grain"], "l": level, "c": code, "s": tr["start"], "e": tr["end"]},
    )
    assert (own["offered"], own["answered"]) == (offered, answered)
    csv = client.get(f"/api/regions/{code}/children?range={range_}&format=csv").text
    assert f"\r\n{code},{own['name']},{level},{offered}," in csv


@pytest.mark.parametrize("range_", ["today", "7d", "month", "year"])
def test_center_figures_of_every_range_equal_the_center_rates_view(
    nat: TestClient, admin: Client, range_: str
) -> None:
    body = nat.get(f"/api/centers/C320100/summary?range={range_}").json()
    row, tr = body["rows"][0], body["meta"]["range"]
    assert row["offered"] == 4
    ((offered, answered, service_level),) = admin.execute(
        f"SELECT sum(offered), sum(answered), "
        f"hotline_service_level(sum(answered_in_sl), sum(queued), sum(short_abandoned)) "
        f"FROM {DB}.center_rates WHERE grain = %(g)s AND center_id = 'C320100' "
        f"AND business_line = 'all' AND channel = 'all' "
        f"AND bucket >= parseDateTime64BestEffort(%(s)s) "
        f"AND bucket < parseDateTime64BestEffort(%(e)s)",
        {"g": tr["grain"], "s": tr["start"], "e": tr["end"]},
    )
    assert (row["offered"], row["answered"]) == (offered, answered)
    assert row["service_level"] == pytest.approx(service_level)


def test_national_summary_series_and_lines(nat: TestClient) -> None:
    summary = nat.get("/api/regions/000000/summary?range=today").json()
    assert_metrics(summary["rows"][0], NATION)
    series = nat.get("/api/regions/320000/series?range=today").json()
    assert [r["bucket"] for r in series["rows"]] == ["2025-03-03 09:00", "2025-03-03 10:00"]
    assert sum(r["offered"] for r in series["rows"]) == JIANGSU.offered
    lines = nat.get("/api/regions/320000/lines?range=today").json()
    by_line = {r["business_line"]: r for r in lines["rows"]}
    assert_metrics(by_line["pension"], PENSION)
    assert_metrics(by_line["medical"], MEDICAL)
    assert by_line["medical"]["line_name"] == "医疗保险"


def test_province_and_city_pages(js: TestClient) -> None:
    cities = js.get("/api/regions/320000/children?range=today").json()
    rows = {r["code"]: r for r in cities["rows"]}
    assert rows["320100"]["name"] == "南京市"
    assert_metrics(rows["320100"], NANJING)
    assert rows["320200"]["has_data"] is False
    summary = js.get("/api/regions/320100/summary?range=today").json()
    assert [c["code"] for c in summary["meta"]["crumbs"]] == ["320000", "320100"]
    counties = js.get("/api/regions/320100/children?range=today").json()
    assert {r["code"] for r in counties["rows"] if r["has_data"]} == {"320100", "320102"}
    assert [(r["code"], r["name"], r["own"]) for r in counties["rows"][:2]] == [
        ("320100", "市本级", True),
        ("320102", "玄武区", False),
    ]
    centers = js.get("/api/regions/320100/centers?range=today").json()
    (nanjing,) = [r for r in centers["rows"] if r["center_id"] == "C320100"]
    # c1..c4 today; c3 at its latest version (survey 'basic')
    assert (nanjing["offered"], nanjing["answered"], nanjing["abandoned"]) == (4, 3, 1)
    assert nanjing["satisfaction"] == pytest.approx(1.0)
    assert nanjing["connection_rate"] == pytest.approx(3 / 4)


# -- centers ------------------------------------------------------------------------------


def test_center_summary_series_and_live(nj: TestClient) -> None:
    today = nj.get("/api/centers/C320100/summary?range=today").json()["rows"][0]
    assert (today["offered"], today["answered_in_sl"]) == (4, 2)
    assert today["asa_s"] == pytest.approx((12 + 45 + 5) / 3)
    live = nj.get("/api/centers/C320100/summary?range=live").json()["rows"][0]
    assert live["offered"] == 3  # c4 started 80 minutes ago
    series = nj.get("/api/centers/C320100/series?range=today").json()
    assert [r["offered"] for r in series["rows"]] == [1, 3]
    agents = nj.get("/api/centers/C320100/live").json()
    assert agents["meta"]["agents"] == {"staffed": 3, "ready": 1, "on_call": 1, "not_ready": 1}
    queue = agents["meta"]["queue"]  # the newest snapshot up to now
    assert queue == {"as_of": "2025-03-03 10:29:55", "waiting": 2, "longest_wait_s": 47}
    states = {r["agent_id"]: r["state_name"] for r in agents["rows"]}
    assert states == {"a1": "就绪", "a2": "通话中", "a3": "置忙", "a4": "已登出"}


# -- tickets, alerts, comparison --------------------------------------------------------------


def test_tickets_by_category_and_list(js: TestClient, nat: TestClient) -> None:
    body = js.get("/api/tickets?range=today").json()
    rows = {r["category"]: r for r in body["rows"]}
    assert (rows["complaint"]["open"], rows["complaint"]["overdue"]) == (2, 1)
    assert rows["callback"]["resolved"] == 2
    assert rows["callback"]["on_time_rate"] == pytest.approx(0.5)
    national = {r["category"]: r for r in nat.get("/api/tickets").json()["rows"]}
    assert national["complaint"]["overdue"] == 2  # T4 in Zhejiang too
    overdue = js.get("/api/tickets/list?state=overdue").json()
    assert [r["ticket_id"] for r in overdue["rows"]] == ["T1"]
    listed = js.get("/api/tickets/list?state=all&category=callback").json()
    assert {r["ticket_id"] for r in listed["rows"]} == {"T3", "T5"}
    assert js.get("/api/tickets/list?state=bogus").status_code == 400


def test_alert_feed_and_acknowledge(js: TestClient, nat: TestClient) -> None:
    feed = js.get("/api/alerts?range=today").json()
    assert [r["alert_id"] for r in feed["rows"]] == ["A1"]
    assert js.post("/api/alerts/A1/ack", content="x").status_code == 415
    assert js.post("/api/alerts/nope/ack", json={}).status_code == 404
    acked = js.post("/api/alerts/A1/ack", json={})
    assert acked.status_code == 200 and acked.json()["acked_by"] == "js"
    again = nat.post("/api/alerts/A1/ack", json={}).json()
    assert again["acked_by"] == "js"  # the first acknowledgement stands
    rows = {r["alert_id"]: r for r in nat.get("/api/alerts?range=today").json()["rows"]}
    assert rows["A1"]["acked_by"] == "js" and rows["A2"]["acked_by"] == ""
    # a message of the stream's rules in Chinese (dashboards/alert_text.py), any other as written
    assert rows["A2"]["message"] == "中心 C330100：10 分钟内 5 个来电排队，无一接通"
    assert rows["A1"]["message"] == "threshold at C320100"


@pytest.mark.parametrize("who", ["js", "nj"])
def test_an_alert_outside_the_scope_is_answered_as_one_that_does_not_exist(
    request, who: str
) -> None:
    """Alert ids derive from what they are about (``center_unreachable|C330100#2`` …), so a
    403 for another province's alert and a 404 for none would let a province user count that
    province's alerts by trying ids. Zhejiang's A2 is refused exactly as an unknown id is, and
    stays unacknowledged."""
    client: TestClient = request.getfixturevalue(who)
    theirs = client.post("/api/alerts/A2/ack", json={})
    unknown = client.post("/api/alerts/A9/ack", json={})
    assert (theirs.status_code, theirs.json()) == (404, {"detail": "没有告警 A2"})
    assert (unknown.status_code, unknown.json()) == (404, {"detail": "没有告警 A9"})
    assert client.app.state.services.acks.of(["A2"]) == {}


def test_compare_two_periods(js: TestClient) -> None:
    body = js.get(
        "/api/compare?region=320000&a_from=2025-03-01&a_to=2025-03-01"
        "&b_from=2025-03-03&b_to=2025-03-03"
    ).json()
    rows = {r["metric"]: r for r in body["rows"]}
    half = PENSION.offered - PENSION.offered // 2
    assert rows["offered"]["a"] == half
    assert rows["offered"]["b"] == PENSION.offered // 2 + MEDICAL.offered
    assert rows["offered"]["change"] == rows["offered"]["b"] - half


# -- scopes ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "path"),
    [
        ("js", "/api/regions/000000/children"),
        ("js", "/api/regions/330000/summary"),
        ("js", "/api/regions/330100/children"),
        ("js", "/api/centers/C330100/summary"),
        ("js", "/api/centers/C330100/live"),
        ("js", "/api/tickets?region=330000"),
        ("js", "/api/tickets/list?region=330106"),
        ("js", "/api/alerts?region=000000"),
        ("js", "/api/compare?region=330000&a_from=2025-03-01&a_to=2025-03-01"),
        ("nj", "/api/regions/320000/children"),
        ("nj", "/api/regions/320000/summary"),
        ("nj", "/api/regions/320200/series"),
        ("nj", "/api/regions/320000/lines"),
        ("nj", "/api/regions/320000/centers"),
        ("nj", "/api/centers/C320000/summary"),
        ("nj", "/api/centers/C320200/series"),
    ],
)
def test_outside_the_scope_is_403(request, who: str, path: str) -> None:
    client: TestClient = request.getfixturevalue(who)
    response = client.get(path)
    assert response.status_code == 403, response.text
    assert "无权查看" in response.json()["detail"]


def test_a_city_user_sees_the_provincial_center_that_serves_the_city(app) -> None:
    bj = login(app, "bj")
    assert bj.get("/api/centers/C110000/summary").status_code == 200
    assert bj.get("/api/centers/C110000/live").status_code == 200
    listed = bj.get("/api/regions/110100/centers").json()["rows"]
    assert [r["center_id"] for r in listed] == ["C110000"]
    assert bj.get("/api/regions/110000/summary").status_code == 403  # not the municipality
    assert bj.get("/api/centers/C120000/summary").status_code == 403  # Tianjin's


def test_a_city_user_of_a_centralized_province_does_not_see_the_provincial_center(app) -> None:
    # 省级大集中: Jiangsu's provincial center answers for Nanjing, but it is the province's
    centers = build_centers(
        app.state.services.regions,
        CentersConfig(provinces={"320000": ProvinceMode(mode="centralized")}),
    )
    centralized = create_app(replace(app.state.services, centers=centers))
    nj = login(centralized, "nj")
    for path in ("summary", "series", "live"):
        response = nj.get(f"/api/centers/C320000/{path}")
        assert response.status_code == 403, response.text
        assert "无权查看" in response.json()["detail"]
    assert nj.get("/api/regions/320100/centers").json()["rows"] == []
    js = login(centralized, "js")
    assert js.get("/api/centers/C320000/summary").status_code == 200
    listed = js.get("/api/regions/320100/centers").json()["rows"]
    assert [r["center_id"] for r in listed] == ["C320000"]


def test_a_city_user_counts_only_its_citys_calls_at_a_municipal_center(
    app, admin: Client, nat: TestClient
) -> None:
    """C500000 answers Chongqing's 市辖区 (500100), its 县 (500200) and the municipality's own
    calls (500000). A user of 500100 sees the center (it answers for the city), but its
    figures count only the calls about 500100: never 500200's, nor the municipality's own,
    which the children table keeps from the user as well."""
    minute = timedelta(minutes=1)
    calls = [
        _call("cq1", "C500000", "500101", NOW - 10 * minute, answered=1, answered_in_sl=1),
        _call("cq2", "C500000", "500229", NOW - 11 * minute, answered=1),
        _call("cq3", "C500000", "500229", NOW - 12 * minute, abandoned=1),
        _call("cq4", "C500000", "500000", NOW - 13 * minute),
    ]
    _insert(admin, "call_records", calls)
    app.state.services.users.add("cqd", "cqd-password", "city:500100", replace=True)
    cqd = TestClient(app)
    assert cqd.post("/api/login", json={"username": "cqd", "password": "cqd-password"}).is_success
    try:
        center = nat.get("/api/centers/C500000/summary").json()
        assert (center["rows"][0]["offered"], center["note"]) == (4, None)
        summary = cqd.get("/api/centers/C500000/summary").json()
        row = summary["rows"][0]
        assert (row["offered"], row["answered"], row["abandoned"]) == (1, 1, 0)
        assert summary["note"] == "只计关于重庆市 市辖区的来电（重庆市12333也接听其他地区的来电）"
        series = cqd.get("/api/centers/C500000/series").json()
        assert sum(r["offered"] for r in series["rows"]) == 1
        assert series["note"] == summary["note"]
        listed = cqd.get("/api/regions/500100/centers").json()
        assert [(r["center_id"], r["offered"]) for r in listed["rows"]] == [("C500000", 1)]
        assert listed["note"] == summary["note"]
    finally:
        admin.execute(
            f"ALTER TABLE {DB}.call_records DELETE WHERE call_id IN %(ids)s",
            {"ids": tuple(c["call_id"] for c in calls)},
            settings={"mutations_sync": 2},
        )


def test_inside_the_scope_and_unknown_codes(nj: TestClient) -> None:
    assert nj.get("/api/regions/320102/summary").status_code == 200
    assert nj.get("/api/regions/999999/summary").status_code in (403, 404)
    assert nj.get("/api/centers/NOPE/summary").status_code == 404
    assert nj.get("/api/regions/320100/summary?range=bogus").status_code == 400


# -- CSV and empty states ---------------------------------------------------------------------


def test_every_table_exports_csv(nat: TestClient) -> None:
    paths = [
        "/api/regions/000000/children",
        "/api/regions/320000/summary",
        "/api/regions/320000/series",
        "/api/regions/320000/lines",
        "/api/regions/320100/centers",
        "/api/centers/C320100/summary",
        "/api/centers/C320100/series",
        "/api/centers/C320100/live",
        "/api/tickets",
        "/api/tickets/list",
        "/api/alerts",
        "/api/compare?a_from=2025-03-01&a_to=2025-03-01&b_from=2025-03-03&b_to=2025-03-03",
    ]
    for path in paths:
        sep = "&" if "?" in path else "?"
        response = nat.get(f"{path}{sep}range=today&format=csv")
        assert response.status_code == 200, path
        assert response.headers["content-type"].startswith("text/csv")
        assert response.text.startswith("\ufeff")
    csv = nat.get("/api/regions/000000/children?range=today&format=csv").text
    header, *lines = csv.lstrip("\ufeff").splitlines()
    assert "接通率 (connection_rate)" in header and len(lines) == 32
    jiangsu = next(line for line in lines if line.startswith("320000,"))
    assert ",150,120," in jiangsu  # queued, answered


def test_the_rankings_csv_is_in_the_rankings_order(nat: TestClient) -> None:
    """The national page ranks the provinces by its chosen metric; its CSV export (``sort``)
    comes in that order, provinces without data last, not in region-code order."""
    csv = nat.get("/api/regions/000000/children?range=today&format=csv&sort=offered").text
    codes = [line.split(",")[0] for line in csv.lstrip("\ufeff").splitlines()[1:]]
    body = nat.get("/api/regions/000000/children?range=today").json()
    offered = {r["code"]: r["offered"] for r in body["rows"]}
    assert codes[:2] == sorted(["320000", "330000"], key=lambda c: -offered[c])
    assert offered[codes[0]] > offered[codes[1]] > 0 and len(codes) == 32
    by_rate = nat.get("/api/regions/000000/children?range=today&sort=connection_rate").json()
    rates = [r["connection_rate"] for r in by_rate["rows"]]
    known = [r for r in rates if r is not None]
    assert known == sorted(known, reverse=True) and rates[: len(known)] == known
    bad = nat.get("/api/regions/000000/children?range=today&sort=code")
    assert bad.status_code == 400 and "参数 sort" in bad.json()["detail"]


def test_empty_range_says_why(nat: TestClient) -> None:
    body = nat.get("/api/regions/320000/summary?range=custom&from=2024-01-01&to=2024-01-01")
    reason = body.json()["empty_reason"]
    assert reason.startswith("该时段无数据") and "最新数据时间为 2025-03-03 10:29" in reason
    never = nat.get("/api/regions/440000/series?range=today").json()["empty_reason"]
    assert "尚无任何指标快照" in never


SLOW_SQL = " UNION ALL ".join(["SELECT sleep(1) AS s FROM {db}.call_records LIMIT 1"] * 6)


class SlowWarehouse(Warehouse):
    """A ClickHouse where every dashboard query takes 3 s (six 1 s sleeps)."""

    def rows(self, sql: str, params: dict | None = None) -> list[dict]:
        return super().rows(SLOW_SQL)


def test_a_slow_query_is_stopped_by_clickhouse_after_the_timeout(
    admin: Client, clickhouse_server: ClickHouseServer, tmp_path
) -> None:
    """A query running past the dashboard's timeout is stopped by ClickHouse
    (``max_execution_time``): a 503 saying so after the timeout, not a page waiting for the
    driver's 60 s socket timeout while the query goes on using the server."""
    base = services(clickhouse_server.tcp_port, tmp_path)
    config = base.config.model_copy(update={"query_timeout_s": 1})
    settings = ClickHouseSettings(host=HOST, port=clickhouse_server.tcp_port, database=DB)
    warehouse = SlowWarehouse(settings, "dashboard", PASSWORDS["dashboard"], timeout_s=1)
    client = login(create_app(replace(base, config=config, warehouse=warehouse)), "nat")
    response = client.get("/api/regions/320000/summary?range=today")
    assert response.status_code == 503  # ClickHouse's TIMEOUT_EXCEEDED, not the driver's
    assert response.json() == {
        "detail": "ClickHouse 查询超时：超过 1 秒未完成，已停止；请缩短时间范围或稍后再试"
    }
