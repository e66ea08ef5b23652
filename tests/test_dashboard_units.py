"""Dashboard pieces without ClickHouse: time ranges and grains, scopes, session expiry,
users file and the ``hotline dashboard user`` commands."""

from __future__ import annotations

from datetime import datetime

import pytest
from typer.testing import CliRunner

from hotline.cli import app
from hotline.dashboards.scopes import Scope
from hotline.dashboards.sessions import SessionStore
from hotline.dashboards.timerange import CHINA, resolve
from hotline.dashboards.users import User, UserStore
from hotline.errors import InvalidInput
from hotline.regions import default_registry

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
