"""Agent state events → staffed, ready, on-call, after-call-work and not-ready time per center ×
UTC minute (the occupancy denominator of DOMAIN.md).

An agent is in the state of its latest event (by ``(occurred_at, sequence, event_id)``) until
its next one; the interval is split at minute boundaries and counted for the center of the
event that started it. ``not_ready`` with reason ``acw`` is after-call work; staffed = ready +
on call + after-call work; logged out counts nothing; ``logged_in`` and other not-ready reasons
count as not ready. An agent still logged in at ``until`` is counted up to ``until``. The
rules are the simulator ledger's own functions, imported, not rewritten.

State per agent is the set of its events (duplicates by event id ignored), so the order of
arrival does not matter; :func:`agent_minutes` is the pure fold.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from hotline.producers.simulator.ledger import agent_time_field, split_minutes
from hotline.schemas import Event

__all__ = ["AGENT_FIELDS", "agent_minutes"]

AGENT_FIELDS = ("staffed_ms", "ready_ms", "on_call_ms", "acw_ms", "not_ready_ms")
_STAFFED = frozenset({"ready_ms", "on_call_ms", "acw_ms"})


def agent_minutes(
    events: Iterable[Event], until: datetime
) -> dict[tuple[datetime, str], dict[str, int]]:
    """(minute, center id) → milliseconds per :data:`AGENT_FIELDS`, from ``agent.state``."""
    per_agent: dict[str, dict[str, Event]] = {}
    for event in events:
        if event.RECORD_TYPE == "agent.state":
            per_agent.setdefault(event.agent_id, {})[event.envelope.event_id] = event  # type: ignore[attr-defined]
    rows: dict[tuple[datetime, str], dict[str, int]] = {}
    for distinct in per_agent.values():
        ordered = sorted(
            distinct.values(),
            key=lambda e: (e.envelope.occurred_at, e.envelope.sequence, e.envelope.event_id),
        )
        for event, following in zip(ordered, [*ordered[1:], None], strict=True):
            name = agent_time_field(event)
            if name is None:
                continue
            end = following.envelope.occurred_at if following is not None else until
            for minute, ms in split_minutes(event.envelope.occurred_at, end):
                row = rows.setdefault(
                    (minute, event.envelope.center_id), dict.fromkeys(AGENT_FIELDS, 0)
                )
                row[name] += ms
                if name in _STAFFED:
                    row["staffed_ms"] += ms
    return rows
