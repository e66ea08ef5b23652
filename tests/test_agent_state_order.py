"""Agent states that share a timestamp, on the real server: the ``agent_time`` view (and so
``center_occupancy``) and the dashboard's live agent list order an agent's events as the
streams do — ``(occurred_at, sequence, event_id)`` — not by the random event id.

The simulator logs an agent in with ``logged_in`` and ``ready`` at the same instant, and a
queue_log (whole seconds) often puts two state changes in one second; whichever comes later
in the producer's sequence is the state the agent is in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from clickhouse_driver import Client
from fixtures_clickhouse import PASSWORDS
from test_agent_time_view import load
from test_sink import DATABASE

from hotline.dashboards.queries import Warehouse, center_agents
from hotline.schemas import AgentState, AgentStateChanged, Envelope
from hotline.settings import ClickHouseSettings
from hotline.streams.agents import AgentClock
from hotline.streams.config import StreamsConfig

pytestmark = pytest.mark.clickhouse

T = datetime(2025, 3, 4, 1, 0, tzinfo=UTC)  # 09:00 China time
MINUTE_MS = 60_000


def _event(sequence: int, event_id: int, state: AgentState, minutes: int) -> AgentStateChanged:
    return AgentStateChanged(
        envelope=Envelope(
            event_id=f"00000000-0000-4000-8000-{event_id:012d}",
            event_type="agent.state",
            occurred_at=T + timedelta(minutes=minutes),
            center_id="C320100",
            region_code="320100",
            producer_id="acd-order",
            sequence=sequence,
        ),
        agent_id="C320100.A001",
        state=state,
    )


#: Logged in and ready in the same millisecond (the ready event's id sorts first), an hour
#: ready, logged out: one staffed hour.
EVENTS = (
    _event(1, 2, AgentState.LOGGED_IN, 0),
    _event(2, 1, AgentState.READY, 0),
    _event(3, 3, AgentState.LOGGED_OUT, 60),
)


@pytest.fixture
def loaded(clickhouse_client: Client) -> Client:
    load(clickhouse_client, EVENTS)
    return clickhouse_client


def test_staffed_time_of_the_views_equals_the_streams(loaded: Client) -> None:
    clock = AgentClock(StreamsConfig().max_agent_state)
    for event in EVENTS:
        assert clock.add(event)
    streams = sum(
        counts[0] for counts in clock.close(int(T.timestamp() * 1000) + 120 * MINUTE_MS).values()
    )
    assert streams == 60 * MINUTE_MS  # staffed_ms is the first agent-time counter

    ((view,),) = loaded.execute(
        f"SELECT sumIf(duration_ms, staffed) FROM {DATABASE}.agent_time WHERE center_id = 'C320100'"
    )
    ((occupancy,),) = loaded.execute(
        f"SELECT sum(staffed_ms) FROM {DATABASE}.center_occupancy WHERE center_id = 'C320100'"
    )
    assert view == occupancy == streams


def test_the_live_agent_list_shows_the_state_the_agent_is_in(
    loaded: Client, clickhouse_settings: ClickHouseSettings
) -> None:
    warehouse = Warehouse(clickhouse_settings, "dashboard", PASSWORDS["dashboard"])
    now = int((T + timedelta(minutes=30)).timestamp())
    assert [(a["agent_id"], a["state"]) for a in center_agents(warehouse, "C320100", now)] == [
        ("C320100.A001", "ready")
    ]
