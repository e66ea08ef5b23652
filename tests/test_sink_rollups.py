"""The writer against the real server: the province of the rollup rows, rollups (and the
dashboards' bounds) right whatever the server's time zone, batches over many partitions.

No Kafka: rows go straight through :class:`~hotline.sinks.writer.Writer`, as the sink writes them.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from clickhouse_driver import Client
from fixtures_clickhouse import PASSWORDS, running_server

from hotline.dashboards.queries import region_metrics_sql
from hotline.dashboards.timerange import resolve
from hotline.errors import explained
from hotline.infra.clickhouse_server import HOST, ClickHouseServer
from hotline.infra.clickhouse_users import UsersConfig
from hotline.regions import default_registry
from hotline.schemas import METRIC_COUNTERS
from hotline.sinks import writer as writer_module
from hotline.sinks.errors import ClickHouseSchemaMissing
from hotline.sinks.migrate import default_migrations, load_migrations, migrate
from hotline.sinks.rows import place
from hotline.sinks.writer import Writer

DATABASE = "hotline"  # the fixture's users.xml grants and filters this database
REGISTRY = default_registry()
BUCKET = datetime(2024, 3, 5, 2, 10, tzinfo=UTC)  # 10:10 China time, 5 March
ROLLUPS = ("metric_hour", "metric_day", "metric_month")


def minute_row(
    level: str, region: str, offered: int, version: int = 1, bucket: datetime = BUCKET
) -> tuple[object, ...]:
    counters = tuple(offered if name == "offered" else 0 for name in METRIC_COUNTERS)
    placed = place(REGISTRY, "metric_minute", region)
    return (level, region, "pension", "phone", bucket, *counters, version, *placed)


@pytest.fixture
def db(clickhouse_client: Client) -> Iterator[Client]:
    clickhouse_client.execute(f"DROP DATABASE IF EXISTS {DATABASE} SYNC")
    migrate(clickhouse_client, DATABASE)
    yield clickhouse_client
    clickhouse_client.execute(f"DROP DATABASE IF EXISTS {DATABASE} SYNC")


def rollup_rows(client: Client, table: str) -> list[tuple[object, ...]]:
    return client.execute(
        f"SELECT level, region_code, province_code, offered FROM {DATABASE}.{table} FINAL "
        "ORDER BY level, region_code"
    )


def test_only_the_corps_cities_are_placed_outside_the_province_of_their_digits() -> None:
    """Migration 0012 repairs rows of regions 6590xx only: that must be every such region."""
    outside = {
        code
        for level in ("province", "city", "county")
        for code in (getattr(r, "code", r) for r in REGISTRY.at_level(level))
        if place(REGISTRY, "metric_minute", code)[0] != code[:2] + "0000"
    }
    assert outside and all(code.startswith("6590") for code in outside)
    assert {place(REGISTRY, "metric_minute", code)[0] for code in outside} == {"660000"}


@pytest.mark.clickhouse
def test_rollups_keep_the_province_of_the_minute_rows(
    db: Client, clickhouse: ClickHouseServer
) -> None:
    writer = Writer(db, DATABASE)
    writer.write(
        {
            "metric_minute": [
                minute_row("city", "659001", 7),  # 石河子, the Corps: 660000
                minute_row("province", "660000", 7),
                minute_row("city", "650100", 3),  # 乌鲁木齐, Xinjiang: 650000
            ]
        }
    )
    want = [
        ("city", "650100", "650000", 3),
        ("city", "659001", "660000", 7),
        ("province", "660000", "660000", 7),
    ]
    for table in ROLLUPS:
        assert rollup_rows(db, table) == want, table
    # A second version of the Corps' minute reaches every grain (the day recompute of
    # (660000, day) finds the city's hour rows).
    writer.write({"metric_minute": [minute_row("city", "659001", 9, version=2)]})
    for table in ROLLUPS:
        assert ("city", "659001", "660000", 9) in rollup_rows(db, table), table

    def seen_by(province: str) -> list[tuple[object, ...]]:
        user = f"analyst_{province}"
        client = Client(HOST, port=clickhouse.tcp_port, user=user, password=PASSWORDS[user])
        try:
            return client.execute(
                f"SELECT grain, region_code, offered FROM {DATABASE}.metric_rates "
                "WHERE level = 'city' AND business_line = 'all' AND channel = 'all' "
                "ORDER BY grain, region_code"
            )
        finally:
            client.disconnect()

    grains = ("day", "hour", "minute", "month", "year")
    assert seen_by("660000") == [(grain, "659001", 9) for grain in grains]
    assert seen_by("650000") == [(grain, "650100", 3) for grain in grains]


@pytest.mark.clickhouse
def test_a_batch_over_more_than_100_months_is_written(db: Client) -> None:
    """ClickHouse refuses a block of more than 100 partitions (max_partitions_per_insert_block)
    with the code of "too many parts", which the sink takes for backpressure: a batch of ten
    years of minutes (a replay of history) was retried for ever while ClickHouse was fine."""
    months = [datetime(2015 + m // 12, m % 12 + 1, 1, 2, 10, tzinfo=UTC) for m in range(120)]
    Writer(db, DATABASE).write(
        {"metric_minute": [minute_row("city", "320100", 1, bucket=b) for b in months]}
    )
    for table in ("metric_minute", *ROLLUPS):
        assert db.execute(f"SELECT count() FROM {DATABASE}.{table} FINAL") == [(120,)], table


@pytest.mark.clickhouse
@pytest.mark.parametrize("missing", ["database", "table"])
def test_writing_before_the_migrations_says_to_run_them(db: Client, missing: str) -> None:
    """The sink started before `hotline db migrate` (or after an upgrade that brought a new
    table) stopped with the INSERT's first 80 characters and the server's message; now the line
    says what was being stored and what to do."""
    if missing == "database":
        db.execute(f"DROP DATABASE {DATABASE} SYNC")
    else:
        db.execute(f"DROP TABLE {DATABASE}.metric_minute SYNC")
    with pytest.raises(ClickHouseSchemaMissing) as caught:
        Writer(db, DATABASE).write({"metric_minute": [minute_row("city", "320100", 1)]})
    line = explained(caught.value)
    assert line.startswith(f"storing 1 rows in {DATABASE}.metric_minute: ")
    assert "does not exist" in line and line.endswith("run `hotline db migrate` first")


@pytest.mark.clickhouse
def test_migration_0012_moves_the_corps_rollups_to_660000(
    db: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A deployment written by the old writer (rollups without province_code: the Corps' rows
    under 650000, their days and months stale), then migration 0012."""
    db.execute(f"DROP DATABASE {DATABASE} SYNC")
    before = tmp_path / "migrations"
    before.mkdir()
    for sql in sorted(Path(str(default_migrations())).glob("*.sql")):
        if int(sql.name[:4]) < 12:
            shutil.copy(sql, before)
    migrate(db, DATABASE, before)
    with monkeypatch.context() as old:
        old.setattr(writer_module, "_DIMS", "level, region_code, business_line, channel")
        writer = Writer(db, DATABASE)
        writer.write(
            {"metric_minute": [minute_row("city", "659001", 7), minute_row("city", "650100", 3)]}
        )
        writer.write({"metric_minute": [minute_row("city", "659001", 9, version=2)]})
    assert rollup_rows(db, "metric_hour") == [
        ("city", "650100", "650000", 3),
        ("city", "659001", "650000", 9),
    ]
    assert ("city", "659001", "650000", 7) in rollup_rows(db, "metric_day")  # stale
    applied = [m.version for m in migrate(db, DATABASE)]
    assert applied[:1] == [12], applied  # and any later ones
    want = [("city", "650100", "650000", 3), ("city", "659001", "660000", 9)]
    for table in ROLLUPS:
        assert rollup_rows(db, table) == want, table
    # Re-runnable (a file that failed halfway starts again from its first statement).
    [repair] = [m for m in load_migrations() if m.version == 12]
    for statement in repair.statements(DATABASE):
        db.execute(statement)
    for table in ROLLUPS:
        assert rollup_rows(db, table) == want, table


# -- a server whose time zone is not UTC -------------------------------------------------------


@pytest.fixture(scope="module")
def shanghai_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClickHouseServer]:
    """An embedded server started with TZ=Asia/Shanghai in its environment (its config.xml
    names no time zone, so it takes the host's, as on a server in China)."""
    home = tmp_path_factory.mktemp("clickhouse-shanghai")
    with running_server(home, UsersConfig(), {"TZ": "Asia/Shanghai"}) as server:
        yield server


@pytest.fixture
def shanghai(shanghai_server: ClickHouseServer) -> Iterator[Client]:
    client = Client(HOST, port=shanghai_server.tcp_port)
    assert client.execute("SELECT serverTimezone()") == [("Asia/Shanghai",)]
    client.execute(f"DROP DATABASE IF EXISTS {DATABASE} SYNC")
    migrate(client, DATABASE)
    yield client
    client.disconnect()


# 17:10 UTC on 5 March is 01:10 China time on 6 March: the China day and the UTC day differ.
LATE = datetime(2024, 3, 5, 17, 10, tzinfo=UTC)


@pytest.mark.clickhouse
def test_rollups_fill_on_a_server_not_in_utc(shanghai: Client) -> None:
    """The hour keys went as datetimes, which the driver renders in the server's time zone and
    ClickHouse read as UTC: on this server no hour group matched and the rollups stayed empty."""
    writer = Writer(shanghai, DATABASE)
    rows = [minute_row("city", "320100", 7), minute_row("city", "320100", 5, bucket=LATE)]
    writer.write({"metric_minute": rows})

    def buckets(table: str) -> list[tuple[object, ...]]:
        return shanghai.execute(
            f"SELECT toString(bucket_start), offered FROM {DATABASE}.{table} FINAL "
            "ORDER BY bucket_start"
        )

    assert buckets("metric_hour") == [("2024-03-05 02:00:00", 7), ("2024-03-05 17:00:00", 5)]
    assert buckets("metric_day") == [("2024-03-05", 7), ("2024-03-06", 5)]
    assert buckets("metric_month") == [("2024-03-01", 12)]
    # A newer version reaches every grain.
    writer.write({"metric_minute": [minute_row("city", "320100", 9, version=2)]})
    assert buckets("metric_hour")[0] == ("2024-03-05 02:00:00", 9)
    assert buckets("metric_day")[0] == ("2024-03-05", 9)
    assert buckets("metric_month") == [("2024-03-01", 14)]


@pytest.mark.clickhouse
@pytest.mark.parametrize("days", [1, 3])  # hour grain, day grain
def test_dashboard_region_metrics_on_a_server_not_in_utc(shanghai: Client, days: int) -> None:
    """The dashboards pass instants as Unix seconds (``toDateTime(%(start)s)``): their bounds
    and China-time buckets do not depend on the server's time zone."""
    writer = Writer(shanghai, DATABASE)
    rows = [minute_row("city", "320100", 7), minute_row("city", "320100", 5, bucket=LATE)]
    writer.write({"metric_minute": rows})
    # 5 March (China) only, or 4–6 March: the late minute is on 6 March, China time.
    first = "2024-03-05" if days == 1 else "2024-03-04"
    last = "2024-03-05" if days == 1 else "2024-03-06"
    tr = resolve("custom", datetime(2024, 3, 10, tzinfo=UTC), from_=first, to=last)
    assert tr.grain == ("hour" if days == 1 else "day")
    sql, params = region_metrics_sql([("city", "320100")], tr, "bucket")
    got = shanghai.execute(sql.replace("{db}", DATABASE), params, with_column_types=True)
    names = [name for name, _type in got[1]]
    result = [(row[names.index("key")], row[names.index("offered")]) for row in got[0]]
    if days == 1:
        assert result == [("2024-03-05 10:00", 7)]
    else:
        assert result == [("2024-03-05 00:00", 7), ("2024-03-06 00:00", 5)]
