"""The ``agent_time`` view (migration 0021) on the real server counts agent time as the streams
do (``AgentClock``): a state is split at China hours, so at China midnight; an agent's latest
state counts up to now; one state counts at most 12 h. ``center_occupancy`` per China day
follows it, a province analyst still reads only its province, and a WHERE on ``center_id``
still reaches ``agent_states``' primary key."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from clickhouse_driver import Client
from fixtures_clickhouse import PASSWORDS
from test_grafana_dashboards import per_read
from test_sink import CODEC, DATABASE

from hotline.infra.clickhouse_server import HOST, ClickHouseServer
from hotline.schemas import AgentState, AgentStateChanged, Envelope, NotReadyReason
from hotline.sinks.migrate import migrate
from hotline.sinks.rows import to_rows
from hotline.sinks.writer import Writer
from hotline.streams.agents import AgentClock
from hotline.streams.config import StreamsConfig

pytestmark = pytest.mark.clickhouse

CHINA = ZoneInfo("Asia/Shanghai")
HOUR_MS = 3_600_000
T = datetime(2025, 3, 4, 15, 30, tzinfo=UTC)  # 23:30 China time, 4 March
FIRST, SECOND = date(2025, 3, 4), date(2025, 3, 5)
_IDS = itertools.count(1)


def agent_event(
    agent: str,
    sequence: int,
    at: datetime,
    state: AgentState,
    reason: NotReadyReason | None = None,
    center: str = "C320100",
) -> AgentStateChanged:
    """One ``agent.state`` event of ``center``'s agent, its center's home region."""
    return AgentStateChanged(
        envelope=Envelope(
            event_id=f"00000000-0000-4000-8000-{next(_IDS):012d}",
            event_type="agent.state",
            occurred_at=at,
            center_id=center,
            region_code=center[1:],
            producer_id=f"acd-{center}",
            sequence=sequence,
        ),
        agent_id=f"{center}.{agent}",
        state=state,
        reason=reason,
    )


def load(client: Client, events: Iterable[AgentStateChanged]) -> None:
    """``agent_states`` holds exactly ``events``, written the way the sink writes them, and
    ``call_records`` nothing: ``center_occupancy`` joins it, so another test file's calls in
    the same database gave it days of their own (staffed 0)."""
    migrate(client, DATABASE)
    client.execute(f"TRUNCATE TABLE {DATABASE}.agent_states")
    client.execute(f"TRUNCATE TABLE {DATABASE}.call_records")
    rows = [
        routed.row
        for i, event in enumerate(events)
        for routed in to_rows(CODEC, CODEC.encode_model(event), topic="t", partition=0, offset=i)
    ]
    Writer(client, DATABASE).write({"agent_states": rows})


def streams_staffed(events: Iterable[AgentStateChanged], until: datetime) -> Counter[datetime]:
    """The streams' staffed ms per China hour (start, China time), counted up to ``until``."""
    clock = AgentClock(StreamsConfig().max_agent_state)
    for event in events:
        assert clock.add(event)
    staffed: Counter[datetime] = Counter()
    for (minute_ms, _region), counts in clock.close(int(until.timestamp() * 1000)).items():
        hour = datetime.fromtimestamp(minute_ms // HOUR_MS * HOUR_MS // 1000, CHINA)
        staffed[hour] += counts[0]  # staffed_ms is the first agent-time counter
    return +staffed


def per_day(hours: Counter[datetime]) -> dict[date, int]:
    days: Counter[date] = Counter()
    for hour, ms in hours.items():
        days[hour.date()] += ms
    return dict(days)


def midnight_events(center: str) -> tuple[AgentStateChanged, ...]:
    """Around China midnight: A001 ready at 23:30, on a call 00:10, after-call work 00:20,
    ready 00:25, logged out 01:00; A002 ready at 20:00 and then silent (its logout lost) until
    it logs in again at 14:00 the next day: its ready state counts 12 h, to 08:00."""
    m = timedelta(minutes=1)
    return (
        agent_event("A001", 1, T, AgentState.READY, center=center),
        agent_event("A001", 2, T + 40 * m, AgentState.ON_CALL, center=center),
        agent_event("A001", 3, T + 50 * m, AgentState.NOT_READY, NotReadyReason.ACW, center),
        agent_event("A001", 4, T + 55 * m, AgentState.READY, center=center),
        agent_event("A001", 5, T + 90 * m, AgentState.LOGGED_OUT, center=center),
        agent_event("A002", 1, T - 210 * m, AgentState.READY, center=center),
        agent_event("A002", 2, T + 870 * m, AgentState.LOGGED_IN, center=center),
        agent_event("A002", 3, T + 930 * m, AgentState.LOGGED_OUT, center=center),
    )


MIDNIGHT = midnight_events("C320100")


@pytest.fixture
def midnight(clickhouse_client: Client) -> Client:
    load(clickhouse_client, MIDNIGHT)
    return clickhouse_client


def test_a_state_across_china_midnight_counts_on_both_days(midnight: Client) -> None:
    """Each day has what was spent in it, as in the streams (0016 booked 23:30–01:00 and the
    capped 20:00–08:00 wholly on 4 March)."""
    streams = per_day(streams_staffed(MIDNIGHT, T + timedelta(days=1)))
    # 4 March: A001 30 min, A002 4 h; 5 March: A001 1 h (its last 35 min ready), A002 8 h.
    assert streams == {FIRST: 16_200_000, SECOND: 32_400_000}
    view = midnight.execute(
        f"SELECT day, sumIf(duration_ms, staffed) FROM {DATABASE}.agent_time "
        "WHERE center_id = 'C320100' GROUP BY day ORDER BY day"
    )
    occupancy = midnight.execute(
        f"SELECT day, staffed_ms FROM {DATABASE}.center_occupancy "
        "WHERE center_id = 'C320100' ORDER BY day"
    )
    assert dict(view) == dict(occupancy) == streams


def test_a_state_counts_in_the_china_hours_it_was_spent_in(midnight: Client) -> None:
    """Per hour too (docs/analysts.md's question 5 sums agent_time per hour of started_at)."""
    rows = midnight.execute(
        "SELECT toStartOfHour(toTimeZone(started_at, 'Asia/Shanghai')) AS hour, "
        f"sumIf(duration_ms, staffed) FROM {DATABASE}.agent_time GROUP BY hour HAVING sum(staffed)"
    )
    view = {hour.astimezone(CHINA): ms for hour, ms in rows}
    assert view == streams_staffed(MIDNIGHT, T + timedelta(days=1))
    pieces = midnight.execute(
        "SELECT started_at, ended_at, duration_ms, state_started_at, open "
        f"FROM {DATABASE}.agent_time WHERE agent_id = 'C320100.A002' AND state = 'ready' "
        "ORDER BY started_at"
    )
    assert len(pieces) == 12  # 20:00–08:00, one row per hour
    start = T - timedelta(hours=3, minutes=30)
    assert (pieces[0][0], pieces[-1][1]) == (start, start + timedelta(hours=12))
    assert {(ms, started, is_open) for _, _, ms, started, is_open in pieces} == {
        (HOUR_MS, start, 0)
    }


def test_the_latest_state_counts_up_to_now_at_most_12_hours(clickhouse_client: Client) -> None:
    """An agent ready for the last 30 minutes counts them (0016: nothing until its next
    event); one ready for 20 h with nothing since counts 12 h, as in the streams."""
    now = datetime.now(UTC).replace(microsecond=0)
    events = (
        agent_event("A003", 1, now - timedelta(minutes=30), AgentState.READY),
        agent_event("A004", 1, now - timedelta(hours=20), AgentState.READY),
    )
    load(clickhouse_client, events)
    ms = dict(
        clickhouse_client.execute(
            f"SELECT agent_id, sum(duration_ms) FROM {DATABASE}.agent_time WHERE staffed "
            "GROUP BY agent_id"
        )
    )
    elapsed_ms = (datetime.now(UTC) - now) // timedelta(milliseconds=1)
    assert set(ms) == {"C320100.A003", "C320100.A004"}
    assert 30 * 60_000 <= ms["C320100.A003"] <= 30 * 60_000 + elapsed_ms + 1_000
    streams = sum(streams_staffed(events[1:], now.replace(second=0)).values())
    assert ms["C320100.A004"] == 12 * HOUR_MS == streams
    ends = clickhouse_client.execute(
        f"SELECT agent_id, min(open), max(ended_at) FROM {DATABASE}.agent_time "
        "GROUP BY agent_id ORDER BY agent_id"
    )
    assert [(agent, is_open) for agent, is_open, _ in ends] == [
        ("C320100.A003", 1),
        ("C320100.A004", 1),
    ]
    assert ends[1][2] == now - timedelta(hours=8)  # 12 h after its start
    (today_ms,) = clickhouse_client.execute(
        f"SELECT sum(staffed_ms) FROM {DATABASE}.center_occupancy WHERE day >= %(day)s",
        {"day": (now - timedelta(minutes=30)).astimezone(CHINA).date()},
    )[0]
    assert today_ms >= ms["C320100.A003"]


def test_a_province_analyst_reads_only_its_province(
    clickhouse_client: Client, clickhouse: ClickHouseServer
) -> None:
    """The row filters (by view name: agent_time, center_occupancy) still apply to 0021's view."""
    load(clickhouse_client, (*MIDNIGHT, *midnight_events("C330100")))
    jiangsu = Client(
        HOST, port=clickhouse.tcp_port, user="analyst_320000", password=PASSWORDS["analyst_320000"]
    )
    try:
        for view in ("agent_time", "center_occupancy"):
            sql = f"SELECT * FROM {DATABASE}.{view} ORDER BY ALL"
            everything = clickhouse_client.execute(sql)
            assert {row[0] for row in everything} == {"320000", "330000"}  # province_code
            assert jiangsu.execute(sql) == [row for row in everything if row[0] == "320000"]
    finally:
        jiangsu.disconnect()


def test_a_center_reaches_the_primary_key_of_agent_states(midnight: Client) -> None:
    """A WHERE on center_id is applied before the window, on agent_states' primary key (as
    in 0016's view), not after reading every agent of every province."""

    def keys(plan: list[str], i: int) -> list[str]:
        return [plan[i + 1]] if plan[i] == "Keys:" else []

    sql = f"SELECT sum(duration_ms) FROM {DATABASE}.agent_time WHERE center_id = 'C320100'"
    assert per_read(midnight, sql, keys) == {f"{DATABASE}.agent_states": ["center_id"]}
