"""Dashboard pieces without ClickHouse: time ranges and grains, scopes, session expiry,
users file and the ``hotline dashboard user`` commands (name and scope checked before the
password); the failed-login throttle; and the app itself over a stub warehouse (no rows) for
login throttling, which centers a scope sees, and the 400/404 messages (Chinese, naming the
parameter as sent, e.g. compare's ``a_from``); over a warehouse of rolled-up snapshots, that
the children tables (with their 省本级 / 市本级 rows) add up to their parent."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import threading
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from hotline.centers import CentersConfig, ProvinceMode, build_centers, default_centers
from hotline.cli import app
from hotline.dashboards.acks import AckStore
from hotline.dashboards.app import Services, create_app
from hotline.dashboards.config import DashboardConfig
from hotline.dashboards.scopes import Scope
from hotline.dashboards.sessions import SessionStore
from hotline.dashboards.throttle import Attempt, LoginThrottle
from hotline.dashboards.timerange import CHINA, resolve
from hotline.dashboards.users import User, UserStore
from hotline.errors import InvalidInput
from hotline.regions import default_registry
from hotline.schemas import Level
from hotline.streams.rollup import region_at

NOW = datetime(2025, 3, 3, 10, 30, 15, tzinfo=CHINA)


@pytest.mark.parametrize(
    ("kind", "grain", "start", "end"),
    [
        ("live", "minute", "2025-03-03 09:31", "2025-03-03 10:31"),
        ("today", "hour", "2025-03-03 00:00", "2025-03-04 00:00"),
        ("7d", "day", "2025-02-25 00:00", "2025-03-04 00:00"),
        ("month", "day", "2025-03-01 00:00", "2025-04-01 00:00"),
        ("year", "month", "2025-01-01 00:00", "2026-01-01 00:00"),
    ],
)
def test_ranges_and_grains(kind: str, grain: str, start: str, end: str) -> None:
    tr = resolve(kind, NOW)
    assert tr.grain == grain
    assert (f"{tr.start:%Y-%m-%d %H:%M}", f"{tr.end:%Y-%m-%d %H:%M}") == (start, end)


@pytest.mark.parametrize(
    ("first", "last", "grain"),
    [
        ("2025-03-01", "2025-03-02", "hour"),
        ("2025-03-01", "2025-03-10", "day"),
        ("2024-01-01", "2024-12-31", "month"),
        ("2024-01-05", "2024-12-31", "day"),
    ],
)
def test_custom_range_grain(first: str, last: str, grain: str) -> None:
    assert resolve("custom", NOW, from_=first, to=last).grain == grain


@pytest.mark.parametrize(
    ("first", "last"), [(None, "2025-01-01"), ("2025-02-01", "2025-01-01"), ("x", "2025-01-01")]
)
def test_bad_custom_ranges(first: str | None, last: str) -> None:
    with pytest.raises(InvalidInput):
        resolve("custom", NOW, from_=first, to=last)


@pytest.mark.parametrize(
    ("kind", "first", "last", "count"),
    [
        ("live", "2025-03-03 09:31", "2025-03-03 10:30", 60),
        ("today", "2025-03-03 00:00", "2025-03-03 23:00", 24),
        ("7d", "2025-02-25 00:00", "2025-03-03 00:00", 7),
        ("month", "2025-03-01 00:00", "2025-03-31 00:00", 31),
        ("year", "2025-01-01 00:00", "2025-12-01 00:00", 12),
    ],
)
def test_every_bucket_of_a_range(kind: str, first: str, last: str, count: int) -> None:
    buckets = resolve(kind, NOW).buckets()
    assert (buckets[0], buckets[-1], len(buckets)) == (first, last, count)


def test_every_bucket_of_a_custom_range() -> None:
    hours = resolve("custom", NOW, from_="2025-03-01", to="2025-03-02").buckets()
    assert (hours[0], hours[23], hours[24], len(hours)) == (
        "2025-03-01 00:00",
        "2025-03-01 23:00",
        "2025-03-02 00:00",
        48,
    )
    months = resolve("custom", NOW, from_="2023-01-01", to="2024-12-31").buckets()
    assert (months[0], months[12], len(months)) == ("2023-01-01 00:00", "2024-01-01 00:00", 24)


def test_a_series_names_every_bucket_of_its_range(tmp_path) -> None:
    """The curve's axis: the hours without a snapshot are there too (as gaps), not left out."""
    client = stub_login(stub_app(tmp_path), "nj")
    for path in ("/api/regions/320100/series", "/api/centers/C320100/series"):
        meta = client.get(f"{path}?range=today").json()["meta"]
        assert meta["buckets"] == [f"2025-03-03 {h:02}:00" for h in range(24)], path


@pytest.mark.parametrize(
    ("path", "file_name"),
    [
        ("/api/regions/320000/children?range=today", "children_320000_20250303.csv"),
        ("/api/regions/320000/children?range=7d", "children_320000_20250225-20250303.csv"),
        ("/api/regions/320000/series?range=live", "series_320000_20250303-0901-1000.csv"),
        (
            "/api/compare?region=320000&a_from=2025-02-01&a_to=2025-02-28"
            "&b_from=2025-03-01&b_to=2025-03-01",
            "compare_320000_20250201-20250228_20250301.csv",
        ),
        ("/api/tickets/list?region=320000&state=overdue", "ticket_list_320000.csv"),
    ],
)
def test_a_csv_file_is_named_after_its_range(tmp_path, path: str, file_name: str) -> None:
    """Exports of one table for two ranges (今日, 近7天) do not come down under one name."""
    response = stub_login(stub_app(tmp_path), "js").get(f"{path}&format=csv")
    assert response.headers["content-disposition"] == f'attachment; filename="{file_name}"'


def test_scopes() -> None:
    regions = default_registry()
    province = Scope.parse("province:320000", regions)
    assert province.allows("320102", regions) and not province.allows("330000", regions)
    assert not province.allows("000000", regions)
    city = Scope.parse("city:320100", regions)
    assert city.allows("320102", regions) and not city.allows("320000", regions)
    assert Scope.parse("national", regions).allows("000000", regions)
    for bad in ("province:320100", "city:320000", "county:320102", "province:", "everything"):
        with pytest.raises(InvalidInput):
            Scope.parse(bad, regions)


def test_sessions_expire() -> None:
    clock = [1000.0]
    store = SessionStore(60, clock=lambda: clock[0])
    user = User("u", Scope.parse("national", default_registry()))
    session = store.create(user)
    assert store.get(session.token) == session
    clock[0] += 59
    assert store.get(session.token) is not None
    clock[0] += 2
    assert store.get(session.token) is None
    assert store.get("forged") is None and store.get(None) is None


def test_user_store_rules(tmp_path) -> None:
    store = UserStore(tmp_path / "users.json", default_registry())
    store.add("ops", "long-enough", "city:320100")
    assert store.verify("ops", "long-enough") == store.get("ops")
    assert store.verify("ops", "wrong-password") is None
    with pytest.raises(InvalidInput):
        store.add("ops", "long-enough", "national")  # exists
    with pytest.raises(InvalidInput):
        store.add("short", "1234", "national")
    with pytest.raises(InvalidInput):
        store.add("bad name", "long-enough", "national")


def test_user_commands(tmp_path) -> None:
    runner = CliRunner()
    env = {"HOTLINE_STACK__HOME": str(tmp_path)}
    added = runner.invoke(
        app,
        ["dashboard", "user", "add", "js", "--scope", "province:320000", "--password-stdin"],
        input="secret-pass\n",
        env=env,
    )
    assert added.exit_code == 0, added.output
    listed = runner.invoke(app, ["dashboard", "user", "list"], env=env)
    assert "js\tprovince:320000" in listed.output
    text = (tmp_path / "dashboard" / "users.json").read_text()
    assert "secret-pass" not in text and "$argon2id$" in text
    demo = runner.invoke(app, ["dashboard", "demo-account"], env=env)
    assert "user: demo  password: " in demo.output and "http://127.0.0.1:8000/" in demo.output
    removed = runner.invoke(app, ["dashboard", "user", "remove", "js"], env=env)
    assert removed.exit_code == 0
    bad = runner.invoke(
        app,
        ["dashboard", "user", "add", "x", "--scope", "province:999999", "--password-stdin"],
        input="secret-pass\n",
        env=env,
    )
    assert bad.exit_code != 0


# -- the failed-login throttle ----------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def fail(throttle: LoginThrottle, user: str, client: str = "10.0.0.1") -> None:
    attempt = throttle.begin(user, client)
    assert isinstance(attempt, Attempt)
    throttle.failed(attempt)


def test_throttle_counts_failures_per_user_in_a_sliding_window() -> None:
    clock = Clock()
    throttle = LoginThrottle(per_user=3, per_client=100, window_s=300, clock=clock)
    for _ in range(3):
        fail(throttle, "js")
        clock.now += 10
    wait = throttle.begin("js", "10.0.0.2")  # another address: the name's count is full
    assert wait == pytest.approx(300 - 30)
    assert LoginThrottle.retry_after(wait) == 270
    assert isinstance(throttle.begin("nj", "10.0.0.1"), Attempt)  # other names are not
    clock.now = 1000 + 300  # the first failure leaves the window: one more try
    fail(throttle, "js")
    assert throttle.begin("js", "10.0.0.1") == pytest.approx(10)
    clock.now += 10_000
    assert isinstance(throttle.begin("js", "10.0.0.1"), Attempt)


def test_throttle_counts_failures_per_client_over_all_names() -> None:
    clock = Clock()
    throttle = LoginThrottle(per_user=5, per_client=4, window_s=60, clock=clock)
    for i in range(4):
        fail(throttle, f"name{i}")
    assert throttle.begin("fresh-name", "10.0.0.1") == pytest.approx(60)
    assert isinstance(throttle.begin("fresh-name", "10.0.0.9"), Attempt)


def test_a_success_resets_the_name_but_not_the_client() -> None:
    clock = Clock()
    throttle = LoginThrottle(per_user=3, per_client=5, window_s=300, clock=clock)
    fail(throttle, "js")
    fail(throttle, "js")
    ok = throttle.begin("js", "10.0.0.1")
    assert isinstance(ok, Attempt)
    throttle.succeeded(ok)
    for _ in range(3):  # the name starts afresh
        fail(throttle, "js")
    # the client had 2 + 3 failures: full, though the success freed its own slot
    assert throttle.begin("other", "10.0.0.1") > 0


def test_parallel_attempts_reserve_their_slots_and_errors_release_them() -> None:
    throttle = LoginThrottle(per_user=2, per_client=10, window_s=300, clock=Clock())
    first, second = throttle.begin("js", "a"), throttle.begin("js", "b")
    assert isinstance(first, Attempt) and isinstance(second, Attempt)
    assert throttle.begin("js", "c") > 0  # both still being checked: no third
    throttle.release(first)
    assert isinstance(throttle.begin("js", "c"), Attempt)
    with pytest.raises(ValueError):
        LoginThrottle(per_user=0, per_client=1, window_s=1)


def test_throttle_forgets_names_whose_failures_left_the_window() -> None:
    clock = Clock()
    throttle = LoginThrottle(per_user=5, per_client=10**6, window_s=60, clock=clock)
    for i in range(3000):
        fail(throttle, f"old{i}")
    assert len(throttle) == 3001  # every name in the window, and the client
    clock.now += 61
    for i in range(2000):
        fail(throttle, f"new{i}")
    assert len(throttle) == 2001  # the old names were swept on the way


# -- the app over a stub warehouse -------------------------------------------------------------


class StubWarehouse:
    """No rows for any query; records what was asked."""

    database = "hotline"

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any] | None]] = []

    def rows(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        self.calls.append((sql, params))
        return []

    def client(self) -> Any:
        raise RuntimeError("no ClickHouse in these tests")


STUB_ACCOUNTS = {  # name: (password, scope)
    "nat": ("nat-password", "national"),
    "js": ("js-password", "province:320000"),
    "nj": ("nj-password", "city:320100"),
    "bj": ("bj-password", "city:110100"),  # Beijing's districts (市辖区)
    "cqx": ("cqx-password", "city:500200"),  # Chongqing's counties (县)
}


def stub_app(
    home: Path,
    centers_config: CentersConfig | None = None,
    throttle: LoginThrottle | None = None,
    warehouse: StubWarehouse | None = None,
    **config: Any,
):
    regions = default_registry()
    cfg = DashboardConfig(home=home, **config)
    # a cheap argon2id: the throttle tests make dozens of checks
    users = UserStore(
        cfg.users_file, regions, PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )
    for name, (password, scope) in STUB_ACCOUNTS.items():
        users.add(name, password, scope)
    centers = (
        default_centers() if centers_config is None else build_centers(regions, centers_config)
    )
    services = Services(
        cfg,
        users,
        SessionStore(cfg.session_ttl_s),
        warehouse or StubWarehouse(),  # type: ignore[arg-type]
        AckStore(cfg.acks_file),
        regions,
        centers,
        now=lambda: datetime(2025, 3, 3, 2, tzinfo=UTC),
        throttle=throttle,
    )
    return create_app(services)


def post_login(client: TestClient, name: str, password: str):
    return client.post("/api/login", json={"username": name, "password": password})


def stub_login(app, name: str) -> TestClient:
    client = TestClient(app)
    assert post_login(client, name, STUB_ACCOUNTS[name][0]).status_code == 200
    return client


@pytest.mark.parametrize(
    "change",
    [
        lambda users: users.remove("js"),
        lambda users: users.add("js", "js-password", "city:320200", replace=True),
        lambda users: users.add("js", "a-new-password", "province:320000", replace=True),
    ],
    ids=["removed", "scope-narrowed", "password-reset"],
)
def test_a_changed_account_ends_its_open_sessions(tmp_path, change) -> None:
    """The scope is checked against the account as it is now, not as it was at login: a user
    removed, narrowed to a city or given a new password is logged out at the next request.
    Before, the session kept the login's scope (province-wide data) for its 8 hours."""
    app = stub_app(tmp_path)
    client = stub_login(app, "js")
    other = stub_login(app, "nj")
    assert client.get("/api/regions/320000/summary").status_code == 200
    change(app.state.services.users)
    refused = client.get("/api/regions/320000/summary")
    assert refused.status_code == 401 and refused.json()["detail"] == "账户已更改或删除，请重新登录"
    assert client.get("/api/me").status_code == 401  # the session is gone, not just refused
    assert other.get("/api/me").status_code == 200  # another account's session stays


def test_failed_logins_are_throttled_with_429_and_retry_after(tmp_path) -> None:
    clock = Clock()
    app = stub_app(tmp_path, throttle=LoginThrottle(5, 20, 300, clock=clock))
    client = TestClient(app)
    assert [post_login(client, "js", f"guess{i:04d}").status_code for i in range(5)] == [401] * 5
    clock.now += 30
    refused = post_login(client, "js", "guess-again")
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "270"
    assert refused.json()["detail"] == "登录失败次数过多，请 5 分钟后再试"
    # the right password waits too (else the throttle would tell when a guess was right)
    assert post_login(client, "js", "js-password").status_code == 429
    # unknown names are counted like known ones: a 429 does not tell that a name exists
    assert [post_login(client, "nobody", "x" * 10).status_code for _ in range(6)][-1] == 429
    # another user from the same address is not locked by js's failures (5 + 5 < 20)
    assert post_login(client, "nj", "nj-password").status_code == 200
    clock.now += 270  # the first failure leaves the window
    assert post_login(client, "js", "js-password").status_code == 200


def test_a_successful_login_resets_the_count_and_never_counts(tmp_path) -> None:
    app = stub_app(tmp_path, login_failures_per_user=3, login_failures_per_client=50)
    client = TestClient(app)
    for _ in range(4):
        assert post_login(client, "js", "wrong-password").status_code == 401
        assert post_login(client, "js", "wrong-password").status_code == 401
        assert post_login(client, "js", "js-password").status_code == 200
    for _ in range(30):  # many logins (the browser tests, the bench) are not failures
        assert post_login(client, "nat", "nat-password").status_code == 200
    # the limits come from DashboardConfig when the services bring no throttle
    assert app.state.login_throttle.per_user == 3
    assert app.state.login_throttle.per_client == 50


def test_failed_logins_are_throttled_per_client_address(tmp_path) -> None:
    app = stub_app(tmp_path, login_failures_per_user=5, login_failures_per_client=6)
    client = TestClient(app)
    codes = [post_login(client, f"name{i}", "wrong-password").status_code for i in range(7)]
    assert codes == [401] * 6 + [429]
    refused = post_login(client, "js", "js-password")
    assert refused.status_code == 429 and 0 < int(refused.headers["retry-after"]) <= 300


def test_the_password_check_runs_off_the_event_loop(tmp_path) -> None:
    app = stub_app(tmp_path)
    users: UserStore = app.state.services.users
    seen: list[tuple[bool, str]] = []
    verify = users.verify

    def recording(name: str, password: str):
        try:
            asyncio.get_running_loop()
            in_loop = True
        except RuntimeError:
            in_loop = False
        seen.append((in_loop, threading.current_thread().name))
        return verify(name, password)

    users.verify = recording  # type: ignore[method-assign]
    client = TestClient(app)
    assert post_login(client, "js", "wrong-password").status_code == 401
    assert post_login(client, "js", "js-password").status_code == 200
    assert [in_loop for in_loop, _thread in seen] == [False, False]


def test_unknown_names_still_cost_a_password_check(tmp_path) -> None:
    checked: list[str] = []

    class Counting(PasswordHasher):
        def verify(self, hash: str | bytes, password: str | bytes) -> bool:
            checked.append(str(hash))
            return super().verify(hash, password)

    app = stub_app(tmp_path)
    users: UserStore = app.state.services.users
    users._hasher = Counting(time_cost=1, memory_cost=1024, parallelism=1)
    assert post_login(TestClient(app), "nobody", "x" * 10).status_code == 401
    assert len(checked) == 1 and checked[0].startswith("$argon2id$")


CENTRALIZED_JIANGSU = CentersConfig(provinces={"320000": ProvinceMode(mode="centralized")})


@pytest.mark.parametrize("path", ["summary", "series", "live"])
def test_a_city_user_does_not_see_the_centralized_provincial_center(tmp_path, path) -> None:
    app = stub_app(tmp_path, CENTRALIZED_JIANGSU)
    assert app.state.services.centers.serves("C320000", "320100")  # it answers for Nanjing
    nj = stub_login(app, "nj")
    warehouse: StubWarehouse = app.state.services.warehouse
    before = len(warehouse.calls)
    response = nj.get(f"/api/centers/C320000/{path}")
    assert response.status_code == 403, response.text
    assert response.json()["detail"] == "无权查看江苏省12333（省级大集中）：您的范围是江苏省 南京市"
    assert len(warehouse.calls) == before  # nothing was read
    # the province's user sees it
    assert stub_login(app, "js").get(f"/api/centers/C320000/{path}").status_code == 200


def test_a_city_of_a_centralized_province_lists_no_provincial_center(tmp_path) -> None:
    app = stub_app(tmp_path, CENTRALIZED_JIANGSU)
    body = stub_login(app, "nj").get("/api/regions/320100/centers").json()
    assert body["rows"] == []
    assert body["empty_reason"] == "该时段无数据：南京市没有登记的中心"
    # the province user's list of the same city shows the center answering for it
    rows = stub_login(app, "js").get("/api/regions/320100/centers").json()["rows"]
    assert [r["center_id"] for r in rows] == ["C320000"]


@pytest.mark.parametrize("centers_config", [None, CENTRALIZED_JIANGSU])
def test_a_city_user_never_sees_a_non_municipal_provincial_center(tmp_path, centers_config) -> None:
    nj = stub_login(stub_app(tmp_path, centers_config), "nj")
    assert nj.get("/api/centers/C320000/summary").status_code == 403
    assert nj.get("/api/regions/320000/summary").status_code == 403


@pytest.mark.parametrize(
    ("who", "city", "center", "other"),
    [("bj", "110100", "C110000", "C120000"), ("cqx", "500200", "C500000", "C110000")],
)
def test_a_municipality_city_user_sees_the_municipal_center(
    tmp_path, who: str, city: str, center: str, other: str
) -> None:
    client = stub_login(stub_app(tmp_path, CENTRALIZED_JIANGSU), who)
    for path in ("summary", "series", "live"):
        assert client.get(f"/api/centers/{center}/{path}").status_code == 200
        assert client.get(f"/api/centers/{other}/{path}").status_code == 403
    rows = client.get(f"/api/regions/{city}/centers").json()["rows"]
    assert [r["center_id"] for r in rows] == [center]
    assert client.get(f"/api/regions/{center[1:]}/summary").status_code == 403


# -- the children table adds up to its parent (省本级 / 市本级 rows) -----------------------------

COUNTERS = ("offered", "queued", "answered", "abandoned", "answered_in_sl", "survey_responses")


class RolledUpWarehouse(StubWarehouse):
    """Metric snapshots of every level, rolled up from base calls by the streams' own rule
    (``region_at``), as the sink writes them; answers the region queries of the app (totals
    per place) from them. Records what was asked, like the stub."""

    def __init__(self, calls: dict[str, dict[str, int]]) -> None:
        super().__init__()
        registry = default_registry()
        self.snapshots: dict[str, dict[str, int]] = {}
        for code, counts in calls.items():
            for level in Level:
                key = f"{level.value}:{region_at(registry, code, level)}"
                cell = self.snapshots.setdefault(key, dict.fromkeys(COUNTERS, 0))
                for name, value in counts.items():
                    cell[name] += value

    def rows(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        super().rows(sql, params)
        places = (params or {}).get("places", ())
        found = [(p, self.snapshots[p]) for p in places if p in self.snapshots]
        if "max(bucket_start)" in sql:  # latest_minute
            return [{"n": len(found), "latest": "2025-03-03 10:00"}]
        if "concat(level, ':', region_code) AS key" in sql:
            return [{"key": p, **counts} for p, counts in sorted(found)]
        if "'total' AS key" in sql and found:
            return [{"key": "total", **{c: sum(f[c] for _p, f in found) for c in COUNTERS}}]
        return []


def base_calls(*provinces: str) -> dict[str, dict[str, int]]:
    """Calls about every region of ``provinces`` (the province itself, its cities, counties),
    different counts per region."""
    registry = default_registry()
    calls = {}
    for province in provinces:
        for region in (registry.get(province), *registry.descendants(province)):
            n = int(region.code) % 89 + 7
            calls[region.code] = {
                "offered": n + 3,
                "queued": n,
                "answered": n - n % 4,
                "abandoned": n % 4,
                "answered_in_sl": n - n % 7,
                "survey_responses": n // 3,
            }
    return calls


#: Jiangsu; the municipalities 北京 and 重庆 (市辖区 and 县); 湖北 (province-direct county-level
#: cities 仙桃 …); the Corps (its cities 6590xx are its children); 广东 (东莞 441900 has no
#: counties); 浙江 has no calls at all.
ROLLED_UP = ("320000", "110000", "500000", "420000", "660000", "440000")


def test_the_children_table_adds_up_to_the_parent_card(tmp_path) -> None:
    registry = default_registry()
    app = stub_app(tmp_path, warehouse=RolledUpWarehouse(base_calls(*ROLLED_UP)))
    nat = stub_login(app, "nat")
    parents = ["000000"]
    for province in (*ROLLED_UP, "330000"):
        parents += [province, *(r.code for r in registry.children(province) if r.level == "city")]
    for code in parents:
        card = nat.get(f"/api/regions/{code}/summary?range=today").json()["rows"][0]
        rows = nat.get(f"/api/regions/{code}/children?range=today").json()["rows"]
        assert rows, code
        for counter in COUNTERS:
            assert sum(r[counter] for r in rows) == card[counter], (code, counter)
        if code != "000000":
            own = rows[0]
            assert (own["code"], own["own"], own["has_data"]) == (code, True, card["offered"] > 0)
            assert own["level"] == ("city" if len(registry.parents(code)) == 0 else "county")
            assert not any(r["own"] for r in rows[1:])
    # a parent's own calls are there in the data, and the table shows them
    js = nat.get("/api/regions/320000/children?range=today").json()
    assert js["rows"][0]["name"] == "省本级" and js["rows"][0]["offered"] > 0
    assert js["rows"][0]["_titles"]["name"].startswith(
        "省本级：江苏省本级的来电（地区代码 320000）"
    )


@pytest.mark.parametrize(
    ("code", "name", "level"),
    [
        ("320000", "省本级", "city"),  # the provincial-level center's own calls
        ("320100", "市本级", "county"),  # a city's calls not attributed to a county
        ("110000", "市本级", "city"),  # a municipality is a city
        ("110100", "本级", "county"),  # its 市辖区 is not
        ("500200", "本级", "county"),  # 重庆's 县
        ("660000", "省本级", "city"),  # the Corps
        ("441900", "市本级", "county"),  # 东莞: no counties, the own row alone
    ],
)
def test_the_own_level_row(tmp_path, code: str, name: str, level: str) -> None:
    app = stub_app(tmp_path)  # no data: the row is listed anyway, like every child
    nat = stub_login(app, "nat")
    body = nat.get(f"/api/regions/{code}/children?range=today").json()
    own = body["rows"][0]
    assert (own["code"], own["name"], own["level"], own["own"], own["has_data"]) == (
        code,
        name,
        level,
        True,
        False,
    )
    assert own["offered"] == 0 and own["connection_rate"] is None
    warehouse: StubWarehouse = app.state.services.warehouse
    assert f"{level}:{code}" in warehouse.calls[-2][1]["places"]  # asked (then latest_minute)
    csv = nat.get(f"/api/regions/{code}/children?range=today&format=csv").text
    assert f"\r\n{code},{name},{level},0," in csv
    has_children = nat.get(f"/api/regions/{code}/summary").json()["meta"]["has_children"]
    assert has_children == (code != "441900")  # the page shows no table for 东莞


def test_the_nation_and_a_county_have_no_own_level_row(tmp_path) -> None:
    nat = stub_login(stub_app(tmp_path), "nat")
    rows = nat.get("/api/regions/000000/children").json()["rows"]
    assert len(rows) == 32 and not any(r["own"] for r in rows)
    assert nat.get("/api/regions/320102/children").json()["rows"] == []


def test_the_province_own_level_row_is_the_province_users_only(tmp_path) -> None:
    warehouse = RolledUpWarehouse(base_calls("320000", "110000"))
    app = stub_app(tmp_path, warehouse=warehouse)
    js = stub_login(app, "js")
    rows = js.get("/api/regions/320000/children?range=today").json()["rows"]
    assert (rows[0]["code"], rows[0]["name"], rows[0]["has_data"]) == ("320000", "省本级", True)
    # a city user: the province (and so its 省本级 row) is 403, before anything is read
    nj = stub_login(app, "nj")
    before = len(warehouse.calls)
    for path in ("children", "summary", "series", "lines", "centers"):
        assert nj.get(f"/api/regions/320000/{path}").status_code == 403
    for path in ("tickets", "alerts", "tickets/list"):
        assert nj.get(f"/api/{path}?region=320000").status_code == 403
    assert len(warehouse.calls) == before
    # the city's own page: its 市本级 row, never a row of the province's own calls
    for path in ("summary", "children", "series", "lines", "centers"):
        assert nj.get(f"/api/regions/320100/{path}?range=today").status_code == 200
    rows = nj.get("/api/regions/320100/children?range=today").json()["rows"]
    assert (rows[0]["code"], rows[0]["level"], rows[0]["name"]) == ("320100", "county", "市本级")
    asked = {
        p for _sql, params in warehouse.calls[before:] for p in (params or {}).get("places", ())
    }
    assert asked and all(p.split(":")[1].startswith("3201") for p in asked), asked
    assert "city:320000" not in asked
    # the same for a municipality's city user: 市辖区's 本级, not the municipality's 市本级
    bj = stub_login(app, "bj")
    assert bj.get("/api/regions/110000/children").status_code == 403
    rows = bj.get("/api/regions/110100/children?range=today").json()["rows"]
    assert {r["code"] for r in rows if r["own"]} == {"110100"}
    assert all(r["level"] == "county" for r in rows)


# -- alert acknowledgements: shown in China time ---------------------------------------------


class AlertWarehouse(StubWarehouse):
    """One alert, A1, in Nanjing."""

    def rows(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        self.calls.append((sql, params))
        if "FROM {db}.alerts FINAL" in sql and "opened" in sql:
            alert = {"alert_id": "A1", "kind": "sl_breach", "severity": "critical"}
            return [
                alert
                | {"region_code": "320100", "center_id": "C320100", "message": "m"}
                | {"opened": "2025-03-03 09:58:00", "closed": ""}
            ]
        if "SELECT region_code FROM {db}.alerts" in sql:
            return [{"region_code": "320100"}] if (params or {}).get("id") == "A1" else []
        return []


def test_acknowledgement_times_are_china_time_in_the_table_and_the_csv(tmp_path) -> None:
    js = stub_login(stub_app(tmp_path, warehouse=AlertWarehouse()), "js")
    # the stub clock is 2025-03-03 02:00 UTC: 10:00 in China, like the alert's 发生时间
    acked = js.post("/api/alerts/A1/ack", json={}).json()
    assert (acked["acked_by"], acked["acked_at"]) == ("js", "2025-03-03 10:00:00")
    (row,) = js.get("/api/alerts?region=320000").json()["rows"]
    assert (row["opened"], row["acked_at"]) == ("2025-03-03 09:58:00", "2025-03-03 10:00:00")
    csv_lines = js.get("/api/alerts?region=320000&format=csv").text.splitlines()
    assert csv_lines[1].endswith(",js,2025-03-03 10:00:00"), csv_lines
    # the store keeps the instant with its offset, as before
    with closing(sqlite3.connect(tmp_path / "acks.sqlite")) as db:
        stored = db.execute("SELECT acked_at FROM acks").fetchall()
    assert stored == [("2025-03-03T02:00:00+00:00",)]


def test_acknowledgements_stored_before_are_read_as_china_time(tmp_path) -> None:
    path = tmp_path / "acks.sqlite"
    AckStore(path).close()  # the table, as any version creates it
    stored = {
        "utc": "2025-03-02T23:30:05+00:00",  # what every earlier version wrote
        "offset": "2025-03-03T07:30:05+08:00",
        "naive": "2025-03-03 07:30:05",  # no offset: taken as China time already
        "odd": "yesterday",  # not a time at all: shown as stored
    }
    with closing(sqlite3.connect(path)) as db, db:
        db.executemany("INSERT INTO acks VALUES (?, 'js', ?)", stored.items())
    store = AckStore(path)
    assert store.of(stored) == {
        "utc": ("js", "2025-03-03 07:30:05"),
        "offset": ("js", "2025-03-03 07:30:05"),
        "naive": ("js", "2025-03-03 07:30:05"),
        "odd": ("js", "yesterday"),
    }
    assert store.ack("utc", "nat", datetime(2025, 3, 3, 2, tzinfo=UTC)) == (
        "js",
        "2025-03-03 07:30:05",
    )
    store.close()


# -- long lists: the page says when it shows only the first rows; the CSV has them all ---------


class ManyRowsWarehouse(StubWarehouse):
    """600 open tickets and 250 alerts in Nanjing, as many as the query's LIMIT asks for."""

    def rows(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        self.calls.append((sql, params))
        limit = int(re.search(r"LIMIT (\d+)", sql).group(1)) if "LIMIT" in sql else 0
        if "FROM {db}.tickets FINAL" in sql and "ticket_id" in sql:
            ticket = {"region_code": "320102", "center_id": "C320100", "category": "complaint"}
            ticket |= {"business_line": "pension", "status": "created", "is_overdue": 1}
            ticket |= {"created": "2025-03-01 09:00", "due": "2025-03-03 09:00"}
            ticket |= {"callbacks": 0, "reopens": 0}
            return [ticket | {"ticket_id": f"T{i:04}"} for i in range(min(600, limit))]
        if "FROM {db}.alerts FINAL" in sql and "opened" in sql:
            alert = {"kind": "threshold", "severity": "warning", "region_code": "320100"}
            alert |= {"center_id": "C320100", "message": "m", "opened": "2025-03-03 09:58:00"}
            return [alert | {"alert_id": f"A{i:04}", "closed": ""} for i in range(min(250, limit))]
        return []


@pytest.mark.parametrize(
    ("path", "shown", "total", "note"),
    [
        (
            "/api/tickets/list?region=320100&state=all",
            500,
            600,
            "只列出前 500 条（按办结期限排序）；导出 CSV 可得全部（最多 100000 条）",
        ),
        (
            "/api/alerts?region=320100&range=today",
            200,
            250,
            "只列出最新的 200 条；导出 CSV 可得全部（最多 100000 条）",
        ),
    ],
    ids=["tickets", "alerts"],
)
def test_a_long_list_says_it_is_cut_and_its_csv_has_every_row(
    tmp_path, path: str, shown: int, total: int, note: str
) -> None:
    nj = stub_login(stub_app(tmp_path, warehouse=ManyRowsWarehouse()), "nj")
    body = nj.get(path).json()
    assert len(body["rows"]) == shown
    assert body["note"] == note
    csv_lines = nj.get(f"{path}&format=csv").text.splitlines()
    assert len(csv_lines) == 1 + total


# -- the API's 400/404 messages: Chinese, naming the parameter as sent ---------------------------


def test_custom_range_messages_name_the_parameters() -> None:
    with pytest.raises(InvalidInput, match=r"^缺少参数 from（日期，格式 YYYY-MM-DD）$"):
        resolve("custom", NOW, to="2025-01-01")
    with pytest.raises(InvalidInput, match=r"^缺少参数 b_to（日期，格式 YYYY-MM-DD）$"):
        resolve("custom", NOW, from_="2025-01-01", names=("b_from", "b_to"))
    with pytest.raises(InvalidInput, match=r"^参数 a_from 须为日期，格式 YYYY-MM-DD，收到 'x'$"):
        resolve("custom", NOW, from_="x", to="2025-01-01", names=("a_from", "a_to"))
    with pytest.raises(
        InvalidInput, match=r"^时段结束早于开始：a_to 2025-01-01 在 a_from 2025-02-01 之前$"
    ):
        resolve("custom", NOW, from_="2025-02-01", to="2025-01-01", names=("a_from", "a_to"))
    with pytest.raises(InvalidInput, match=r"^时段 from–to 共 1461 天，最多 1098 天$"):
        resolve("custom", NOW, from_="2021-01-01", to="2024-12-31")


def test_compare_errors_name_its_own_parameters(tmp_path) -> None:
    client = stub_login(stub_app(tmp_path), "js")

    def detail(**params: str) -> str:
        response = client.get("/api/compare", params=params)
        assert response.status_code == 400, response.text
        return response.json()["detail"]

    assert detail() == "缺少参数 a_from（日期，格式 YYYY-MM-DD）"
    assert detail(a_from="2025-02-01") == "缺少参数 a_to（日期，格式 YYYY-MM-DD）"
    a = {"a_from": "2025-02-01", "a_to": "2025-02-28"}
    assert detail(**a) == "缺少参数 b_from（日期，格式 YYYY-MM-DD）"
    assert detail(**a, b_from="2025-03-01") == "缺少参数 b_to（日期，格式 YYYY-MM-DD）"
    assert (
        detail(**a, b_from="2025-03-01", b_to="3/2")
        == "参数 b_to 须为日期，格式 YYYY-MM-DD，收到 '3/2'"
    )
    assert (
        detail(**a, b_from="2025-03-02", b_to="2025-03-01")
        == "时段结束早于开始：b_to 2025-03-01 在 b_from 2025-03-02 之前"
    )
    # from/to of the page's range are not compare's parameters
    assert detail(**{"from": "2025-02-01", "to": "2025-02-28"}).startswith("缺少参数 a_from")
    whole = client.get("/api/compare", params={**a, "b_from": "2025-03-01", "b_to": "2025-03-02"})
    assert whole.status_code == 200, whole.text


DAYS_NOTE = "（ClickHouse 的时间范围）"


@pytest.mark.parametrize(
    ("path", "status", "detail"),
    [
        (
            "/api/regions/320000/summary?range=custom&from=2025-03-01",
            400,
            "缺少参数 to（日期，格式 YYYY-MM-DD）",
        ),
        (
            "/api/regions/320000/summary?range=bogus",
            400,
            "参数 range 须为 live、today、7d、month、year、custom 之一，收到 'bogus'",
        ),
        (
            "/api/tickets/list?state=bogus",
            400,
            "参数 state 须为 open、overdue 或 all 之一，收到 'bogus'",
        ),
        (
            "/api/regions/320000/summary?range=custom&from=9999-12-31&to=9999-12-31",
            400,
            f"参数 from 须在 1970-01-02 至 2105-12-31 之间{DAYS_NOTE}，收到 9999-12-31",
        ),
        (
            "/api/regions/320000/series?range=custom&from=1900-01-01&to=2025-01-01",
            400,
            f"参数 from 须在 1970-01-02 至 2105-12-31 之间{DAYS_NOTE}，收到 1900-01-01",
        ),
        (
            "/api/compare?a_from=2025-01-01&a_to=2025-01-02&b_from=2106-01-01&b_to=2106-01-02",
            400,
            f"参数 b_from 须在 1970-01-02 至 2105-12-31 之间{DAYS_NOTE}，收到 2106-01-01",
        ),
        (
            "/api/tickets/list?state=all&category=bogus",
            400,
            "参数 category 须为 callback、complaint、report、suggestion、business_request、"
            "dangerous_call 之一（留空为全部），收到 'bogus'",
        ),
        (
            "/api/regions/320000/children?format=xlsx",
            400,
            "参数 format 须为 csv 或 json，收到 'xlsx'",
        ),
        ("/api/regions/329999/summary", 404, "没有地区 329999"),
        ("/api/regions/32/summary", 404, "没有地区 32（地区代码为六位数字，GB/T 2260）"),
        ("/api/centers/C999999/summary", 404, "没有中心 C999999"),
    ],
    ids=[
        "custom-without-to",
        "range",
        "state",
        "year-9999",
        "before-1970",
        "compare-after-2105",
        "category",
        "format",
        "region",
        "region-not-six-digits",
        "center",
    ],
)
def test_api_400_and_404_say_why_in_chinese(tmp_path, path: str, status: int, detail: str) -> None:
    response = stub_login(stub_app(tmp_path), "nat").get(path)
    assert response.status_code == status, response.text
    assert response.json()["detail"] == detail


# -- user add: cheap arguments before the password ---------------------------------------------


def test_user_add_checks_name_and_scope_before_the_password(tmp_path) -> None:
    runner = CliRunner()
    env = {"HOTLINE_STACK__HOME": str(tmp_path)}
    argv = ["dashboard", "user", "add"]
    # a bad scope with a short password: the scope is named, not the password
    bad = runner.invoke(
        app, [*argv, "x", "--scope", "planet", "--password-stdin"], input="1\n", env=env
    )
    assert bad.exit_code != 0
    assert isinstance(bad.exception, InvalidInput)
    assert "scope 'planet'" in str(bad.exception)
    # without --password-stdin it is refused before the prompt
    for args, reason in [
        (["x", "--scope", "planet"], "scope 'planet'"),
        (["bad name", "--scope", "national"], "user name 'bad name'"),
    ]:
        result = runner.invoke(app, [*argv, *args], input="secret-pass\nsecret-pass\n", env=env)
        assert result.exit_code != 0 and reason in str(result.exception)
        assert "password" not in result.output  # never prompted
    # an existing name (without --replace) is refused before the prompt too
    assert (
        runner.invoke(
            app,
            [*argv, "js", "--scope", "national", "--password-stdin"],
            input="secret-pass\n",
            env=env,
        ).exit_code
        == 0
    )
    again = runner.invoke(app, [*argv, "js", "--scope", "national"], input="x\nx\n", env=env)
    assert "exists (use --replace" in str(again.exception) and "password" not in again.output
    # good arguments, short password: now the password is the reason
    short = runner.invoke(
        app,
        [*argv, "js", "--scope", "national", "--replace", "--password-stdin"],
        input="1\n",
        env=env,
    )
    assert "password too short" in str(short.exception)
    # the store itself checks in the same order
    store = UserStore(tmp_path / "u.json", default_registry())
    with pytest.raises(InvalidInput, match="scope 'planet'"):
        store.add("x", "1", "planet")
