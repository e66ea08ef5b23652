"""A small known dataset for the dashboard tests (no tests here), written through the
migrations' schema.

The clock is fixed at NOW (2025-03-03 10:30 China time). Jiangsu has two business lines whose
rates differ, so a rate of their sums differs from the average of their rates.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import uvicorn
from clickhouse_driver import Client
from fixtures_clickhouse import PASSWORDS

from hotline.centers import default_centers
from hotline.dashboards.acks import AckStore
from hotline.dashboards.app import Services
from hotline.dashboards.config import DashboardConfig
from hotline.dashboards.queries import Warehouse
from hotline.dashboards.sessions import SessionStore
from hotline.dashboards.timerange import CHINA
from hotline.dashboards.users import UserStore
from hotline.infra.clickhouse_server import HOST, ClickHouseServer
from hotline.regions import default_registry
from hotline.settings import ClickHouseSettings
from hotline.sinks.migrate import migrate

DB = "hotline"
NOW = datetime(2025, 3, 3, 10, 30, tzinfo=CHINA)
UTC_NOW = NOW.astimezone(UTC)
ACCOUNTS = {  # name: (password, scope)
    "nat": ("nat-password", "national"),
    "js": ("js-password", "province:320000"),
    "nj": ("nj-password", "city:320100"),
    "bj": ("bj-password", "city:110100"),  # Beijing's districts: served by C110000
}
TABLES = (
    "metric_minute",
    "metric_hour",
    "metric_day",
    "metric_month",
    "call_records",
    "tickets",
    "agent_states",
    "alerts",
    "queue_now",
)


@dataclass(frozen=True)
class Counts:
    offered: int
    queued: int
    answered: int
    abandoned: int = 0
    short_abandoned: int = 0
    answered_in_sl: int = 0
    survey_responses: int = 0
    survey_satisfied: int = 0
    survey_basic: int = 0
    wait_ms_answered: int = 0
    talk_ms: int = 0


def _metric_row(level: str, region: str, bucket: Any, line: str, c: Counts, **extra: Any):
    return {
        "level": level,
        "region_code": region,
        "business_line": line,
        "channel": "phone",
        "bucket_start": bucket,
        "offered": c.offered,
        "self_served": c.offered - c.queued,
        "queued": c.queued,
        "answered": c.answered,
        "abandoned": c.abandoned,
        "short_abandoned": c.short_abandoned,
        "answered_in_sl": c.answered_in_sl,
        "wait_ms_answered": c.wait_ms_answered,
        "wait_ms_abandoned": 0,
        "talk_ms": c.talk_ms,
        "hold_ms": 0,
        "acw_ms": 0,
        "transferred": 0,
        "caller_hung_up_first": 0,
        "repeat_7d": 0,
        "survey_responses": c.survey_responses,
        "survey_satisfied": c.survey_satisfied,
        "survey_basic": c.survey_basic,
        "survey_dissatisfied": c.survey_responses - c.survey_satisfied - c.survey_basic,
        "closed_by_timeout": 0,
        "late": 0,
        **extra,
    }


PENSION = Counts(120, 100, 90, 8, 2, 80, 50, 40, 5, 900_000, 9_000_000)
MEDICAL = Counts(60, 50, 30, 15, 5, 20, 20, 10, 4, 600_000, 3_000_000)
NANJING = Counts(80, 70, 60, 8, 1, 50, 30, 25, 2, 500_000, 5_000_000)
ZHEJIANG = Counts(40, 40, 39, 1, 0, 38, 10, 10, 0, 100_000, 2_000_000)
COUNTY = Counts(20, 18, 15, 3, 0, 12, 5, 5, 0, 50_000, 800_000)


def _sum(*cs: Counts) -> Counts:
    return Counts(*(sum(getattr(c, f) for c in cs) for f in Counts.__dataclass_fields__))


def _diff(a: Counts, b: Counts) -> Counts:
    return Counts(*(getattr(a, f) - getattr(b, f) for f in Counts.__dataclass_fields__))


JIANGSU = _sum(PENSION, MEDICAL)
NATION = _sum(JIANGSU, ZHEJIANG)


def metric_rows() -> dict[str, list[dict[str, Any]]]:
    """Rows per table: each grain holds the same morning, cut into its buckets."""
    utc = UTC_NOW.replace(tzinfo=None)
    minute_a, minute_b = utc - timedelta(minutes=1), utc - timedelta(minutes=2)
    hour_a = utc.replace(minute=0)  # 10:00 China
    hour_b = hour_a - timedelta(hours=1)  # 09:00 China
    day = NOW.date()
    month = day.replace(day=1)
    half = {k: v // 2 for k, v in vars(PENSION).items()}
    pension_a, pension_b = (
        Counts(**half),
        Counts(**{k: v - half[k] for k, v in vars(PENSION).items()}),
    )
    rows: dict[str, list[dict[str, Any]]] = {t: [] for t in TABLES[:4]}

    # The levels partition the calls as the roll-up writes them (streams/rollup.py): the
    # province's own calls (省本级) are the city-level row of 320000, Nanjing's own calls
    # (市本级) the county-level row of 320100, so each bucket's children add up to the parent.
    provincial_a = _diff(_sum(pension_a, MEDICAL), NANJING)

    def place_rows(bucket_a: Any, bucket_b: Any) -> list[dict[str, Any]]:
        out = [
            _metric_row("province", "320000", bucket_a, "pension", pension_a),
            _metric_row("province", "320000", bucket_b, "pension", pension_b),
            _metric_row("province", "320000", bucket_a, "medical", MEDICAL),
            _metric_row("city", "320000", bucket_a, "medical", provincial_a),
            _metric_row("city", "320000", bucket_b, "pension", pension_b),
            _metric_row("city", "320100", bucket_a, "pension", NANJING),
            _metric_row("county", "320100", bucket_a, "pension", _diff(NANJING, COUNTY)),
            _metric_row("county", "320102", bucket_a, "pension", COUNTY),
            _metric_row("province", "330000", bucket_a, "pension", ZHEJIANG),
            _metric_row("city", "330100", bucket_a, "pension", ZHEJIANG),
            _metric_row("national", "000000", bucket_a, "pension", _sum(PENSION, ZHEJIANG)),
            _metric_row("national", "000000", bucket_a, "medical", MEDICAL),
        ]
        return out

    for row in place_rows(minute_a, minute_b):
        rows["metric_minute"].append({**row, "version": 2})
    # an older version of one snapshot: FINAL must drop it
    stale = _metric_row("province", "320000", minute_a, "medical", Counts(999, 999, 1))
    rows["metric_minute"].append({**stale, "version": 1})
    computed = datetime(2025, 3, 3, 3, 0)
    for row in place_rows(hour_a, hour_b):
        rows["metric_hour"].append({**row, "computed_at": computed})
    for row in place_rows(day, day - timedelta(days=2)):
        rows["metric_day"].append({**row, "computed_at": computed})
    for row in place_rows(month, date(2025, 2, 1)):
        rows["metric_month"].append({**row, "computed_at": computed})
    return rows


def _call(call_id: str, center: str, region: str, at: datetime, **flags: Any) -> dict[str, Any]:
    base = {
        "call_id": call_id,
        "center_id": center,
        "region_code": region,
        "channel": "phone",
        "business_line": "pension",
        "agent_id": "",
        "started_at": at.astimezone(UTC).replace(tzinfo=None),
        "ended_at": None,
        "offered": 1,
        "self_served": 0,
        "queued": 1,
        "answered": 0,
        "abandoned": 0,
        "short_abandoned": 0,
        "answered_in_sl": 0,
        "wait_ms": 0,
        "talk_ms": 0,
        "hold_ms": 0,
        "acw_ms": 0,
        "transferred": 0,
        "transfer_target": "",
        "caller_hung_up_first": 0,
        "repeat_7d": 0,
        "survey_result": "",
        "closed_by_timeout": 0,
        "short_abandon_threshold_ms": 5000,
        "service_level_threshold_ms": 30000,
        "version": 1,
    }
    base.update(flags)
    return base


def call_rows() -> list[dict[str, Any]]:
    t = NOW
    return [
        _call("c1", "C320100", "320102", t - timedelta(minutes=1), answered=1,
              answered_in_sl=1, wait_ms=12_000, talk_ms=180_000, survey_result="satisfied"),
        _call("c2", "C320100", "320102", t - timedelta(minutes=1, seconds=20), abandoned=1,
              wait_ms=95_000),
        _call("c3", "C320100", "320104", t - timedelta(minutes=20), answered=1,
              wait_ms=45_000, talk_ms=120_000, survey_result="dissatisfied"),
        _call("c4", "C320100", "320104", t - timedelta(hours=1, minutes=20), answered=1,
              answered_in_sl=1, wait_ms=5_000, talk_ms=60_000),
        _call("c5", "C330100", "330106", t - timedelta(minutes=5), answered=1,
              answered_in_sl=1, wait_ms=1_000, talk_ms=60_000),
        # a second version of c3: the survey changed; FINAL keeps it
        _call("c3", "C320100", "320104", t - timedelta(minutes=20), answered=1,
              wait_ms=45_000, talk_ms=120_000, survey_result="basic", version=2),
    ]  # fmt: skip


def queue_rows() -> list[dict[str, Any]]:
    """C320100's queue: 3 waiting 10 min ago, then 2 (longest 47 s) 5 s before NOW."""

    def q(seconds_ago: int, waiting: int, longest_ms: int) -> dict:
        at = (NOW - timedelta(seconds=seconds_ago)).astimezone(UTC).replace(tzinfo=None)
        return {
            "center_id": "C320100",
            "region_code": "320100",
            "province_code": "320000",
            "as_of": at,
            "waiting": waiting,
            "longest_wait_ms": longest_ms,
        }

    return [q(600, 3, 80_000), q(5, 2, 47_000)]


def agent_rows() -> list[dict[str, Any]]:
    def ev(n: int, agent: str, state: str, minutes_ago: int, reason: str = "") -> dict:
        at = (NOW - timedelta(minutes=minutes_ago)).astimezone(UTC).replace(tzinfo=None)
        return {
            "event_id": f"e{n}",
            "agent_id": agent,
            "center_id": "C320100",
            "region_code": "320100",
            "state": state,
            "reason": reason,
            "occurred_at": at,
            "producer_id": "p",
            "sequence": n,
        }

    return [
        ev(1, "a1", "ready", 30),
        ev(2, "a2", "ready", 30),
        ev(3, "a2", "on_call", 10),
        ev(4, "a3", "ready", 30),
        ev(5, "a3", "not_ready", 5, "break"),
        ev(6, "a4", "ready", 90),
        ev(7, "a4", "logged_out", 20),
    ]


def ticket_rows() -> list[dict[str, Any]]:
    def ticket(
        tid: str,
        region: str,
        category: str,
        created: datetime,
        due: datetime,
        resolved: datetime | None = None,
        on_time: int | None = None,
    ) -> dict:
        def u(x: datetime | None) -> datetime | None:
            return None if x is None else x.astimezone(UTC).replace(tzinfo=None)

        return {
            "ticket_id": tid,
            "center_id": "C" + region[:4] + "00",
            "region_code": region,
            "call_id": "",
            "category": category,
            "business_line": "pension",
            "status": "resolved" if resolved else "assigned",
            "created_at": u(created),
            "due_at": u(due),
            "resolved_at": u(resolved),
            "closed_at": None,
            "callbacks": 0,
            "reopens": 0,
            "on_time": on_time,
            "overdue": 0,
            "as_of": u(NOW),
            "version": 1,
        }

    d = timedelta(days=1)
    return [
        ticket("T1", "320102", "complaint", NOW - 3 * d, NOW - d),
        ticket("T2", "320102", "complaint", NOW - d, NOW + 2 * d),
        ticket("T3", "320104", "callback", NOW - 2 * d, NOW + d, NOW - timedelta(hours=1), 1),
        ticket("T4", "330106", "complaint", NOW - 5 * d, NOW - 2 * d),
        ticket("T5", "320205", "callback", NOW - 2 * d, NOW - d, NOW - timedelta(hours=2), 0),
    ]  # fmt: skip


def alert_rows() -> list[dict[str, Any]]:
    def alert(aid: str, region: str, center: str, kind: str, minutes_ago: int, text: str) -> dict:
        at = (NOW - timedelta(minutes=minutes_ago)).astimezone(UTC).replace(tzinfo=None)
        return {
            "alert_id": aid,
            "kind": kind,
            "severity": "critical",
            "region_code": region,
            "center_id": center,
            "opened_at": at,
            "closed_at": None,
            "message": text,
            "dedupe_key": aid,
            "version": 1,
        }

    return [
        alert("A1", "320100", "C320100", "threshold", 15, "threshold at C320100"),
        alert("A2", "330100", "C330100", "center_unreachable", 25,
              "center C330100: 5 calls queued and none answered in 10 min"),
    ]  # fmt: skip


def load(client: Client) -> None:
    """Migrate, empty the tables, insert the dataset."""
    migrate(client, DB)
    for table in TABLES:
        client.execute(f"TRUNCATE TABLE {DB}.{table}")
    for table, rows in metric_rows().items():
        _insert(client, table, rows)
    _insert(client, "call_records", call_rows())
    _insert(client, "agent_states", agent_rows())
    _insert(client, "queue_now", queue_rows())
    _insert(client, "tickets", ticket_rows())
    _insert(client, "alerts", alert_rows())


@contextmanager
def loaded_admin(server: ClickHouseServer) -> Iterator[Client]:
    """An admin client of ``server`` (started again if a test stopped it) with the dataset
    loaded (:func:`load`); disconnected afterwards."""
    server.start()
    server.wait_ready(60)
    client = Client(HOST, port=server.tcp_port)
    load(client)
    try:
        yield client
    finally:
        client.disconnect()


def _insert(client: Client, table: str, rows: list[dict[str, Any]]) -> None:
    columns = list(rows[0])
    client.execute(f"INSERT INTO {DB}.{table} ({', '.join(columns)}) VALUES", rows)


def services(tcp_port: int, home: Path) -> Services:
    config = DashboardConfig(home=home)
    regions = default_registry()
    users = UserStore(config.users_file, regions)
    for name, (password, scope) in ACCOUNTS.items():
        users.add(name, password, scope, replace=True)
    return Services(
        config=config,
        users=users,
        sessions=SessionStore(config.session_ttl_s),
        warehouse=Warehouse(
            ClickHouseSettings(host=HOST, port=tcp_port, database=DB),
            "dashboard",
            PASSWORDS["dashboard"],
            timeout_s=config.query_timeout_s,
        ),
        acks=AckStore(config.acks_file),
        regions=regions,
        centers=default_centers(),
        now=lambda: UTC_NOW,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def served(app: Any) -> Iterator[str]:
    """``app`` served by uvicorn in a thread on a free port: its base URL, until the block ends."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "dashboard server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
