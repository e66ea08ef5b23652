"""The ground-truth ledger: exact counters recomputed from the emitted events.

:class:`Ledger` is an :class:`~hotline.producers.simulator.sinks.EventSink`: the run feeds it
the very events it writes, it folds them into per-call facts (:mod:`.facts`) and counts. So the
ledger cannot drift from the events. ``close()`` writes ``ledger.jsonl``, one JSON object per
line, sorted keys, in a deterministic order:

1. ``{"kind": "meta", ...}`` — seed, start, end, thresholds, the agent-state cap, centers.
2. ``{"kind": "calls", "minute", "region_code", "business_line", "channel", <counters>}`` —
   every counter of :data:`~.facts.COUNTER_NAMES`; the minute is the UTC minute of the call's
   ``call.offered`` (the bucket rule of :mod:`.facts`).
3. ``{"kind": "tickets", "minute", "region_code", "category", "created", "resolved",
   "resolved_on_time"}`` — created counts in the minute of ``ticket.created``, resolutions in
   the minute of ``ticket.resolved`` (on time: at or before the due time then in force). The
   due time is the service rule, :func:`~.facts.policy_due_at`, from the creation time and
   again from each ``ticket.reopened`` time — not the events' ``due_at`` (the streams' rule,
   :func:`~.facts.ticket_due_at`).
4. ``{"kind": "tickets_open_at_end", "region_code", "category", "open", "overdue", "at"}`` —
   open from created/reopened until resolved or closed.
5. ``{"kind": "agents", "minute", "center_id", "staffed_ms", "ready_ms", "on_call_ms",
   "acw_ms", "not_ready_ms"}`` — agent time per center × UTC minute from ``agent.state``
   intervals, an agent being a center's agent id (two centers' ``1001`` are two agents);
   staffed = ready + on call + after-call work (DOMAIN.md's occupancy denominator). A state
   counts at most ``max_agent_state`` (:data:`MAX_AGENT_STATE`; a lost logout), then
   nothing until the agent's next event.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from hotline.producers.simulator.facts import (
    COUNTER_NAMES,
    DEFAULT_THRESHOLDS,
    CallAssembler,
    Thresholds,
    call_counters,
    ledger_business_line,
    minute_bucket,
    ticket_due_at,
)
from hotline.schemas import AgentState, Event, NotReadyReason

__all__ = ["AGENT_FIELDS", "MAX_AGENT_STATE", "Ledger", "iso"]

AGENT_FIELDS = ("staffed_ms", "ready_ms", "on_call_ms", "acw_ms", "not_ready_ms")
MAX_AGENT_STATE = timedelta(hours=12)
"""The longest one agent state counts (the streams' default and the ClickHouse ``agent_time``
view's cap): a CTI system that lost an agent's logout must not staff the agent for days; after
it the agent counts as logged out until its next event."""
_MINUTE = timedelta(minutes=1)


def iso(moment: datetime) -> str:
    """UTC ISO text with milliseconds and ``Z``: ``2025-03-03T01:30:00.000Z``."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def agent_time_field(event: Event) -> str | None:
    """The agent-time counter an agent state counts into (None: logged out)."""
    state = event.state  # type: ignore[attr-defined]
    if state == AgentState.LOGGED_OUT:
        return None
    if state == AgentState.READY:
        return "ready_ms"
    if state == AgentState.ON_CALL:
        return "on_call_ms"
    if state == AgentState.NOT_READY and event.reason == NotReadyReason.ACW:  # type: ignore[attr-defined]
        return "acw_ms"
    return "not_ready_ms"


def split_minutes(start: datetime, end: datetime) -> Iterator[tuple[datetime, int]]:
    """(minute start, ms inside it) for the interval [start, end)."""
    while start < end:
        minute = minute_bucket(start)
        stop = min(end, minute + _MINUTE)
        yield minute, (stop - start) // timedelta(milliseconds=1)
        start = stop


class Ledger:
    """Counts the events it is given; ``close()`` writes the ledger file (if a path is set)."""

    def __init__(
        self,
        end: datetime,
        path: str | Path | None = None,
        thresholds: Thresholds = DEFAULT_THRESHOLDS,
        meta: dict[str, Any] | None = None,
        max_agent_state: timedelta = MAX_AGENT_STATE,
    ) -> None:
        self.end = end
        self.max_agent_state = max_agent_state
        self.path = Path(path) if path is not None else None
        self.thresholds = thresholds
        self.meta = meta or {}
        self.calls = CallAssembler()
        self._ticket_rows: dict[tuple[datetime, str, str], list[int]] = defaultdict(
            lambda: [0, 0, 0]
        )
        self._tickets: dict[str, list[Any]] = {}  # id → [region, category, due, open, enum]
        self._agent_rows: dict[tuple[datetime, str], list[int]] = {}
        self._agents: dict[tuple[str, str], tuple[str | None, datetime, str]] = {}
        """(center id, agent id) → the agent's state, since when, its center (agent numbers
        are per center)."""

    # -- EventSink ---------------------------------------------------------------------------

    def emit(self, event: Event) -> None:
        kind = event.RECORD_TYPE
        if kind.startswith(("call.", "survey.")):
            self.calls.add(event)
        elif kind.startswith("ticket."):
            self._ticket(event)
        elif kind == "agent.state":
            self._agent(event)

    def close(self) -> None:
        if self.path is not None:
            self.write(self.path)

    # -- folding -----------------------------------------------------------------------------

    def _ticket(self, event: Event) -> None:
        env = event.envelope
        ticket_id = event.ticket_id  # type: ignore[attr-defined]
        kind = event.RECORD_TYPE
        if kind == "ticket.created":
            category = event.category  # type: ignore[attr-defined]
            due = ticket_due_at(category, event, None)
            self._tickets[ticket_id] = [env.region_code, category.value, due, True, category]
            minute = minute_bucket(env.occurred_at)
            self._ticket_rows[(minute, env.region_code, category.value)][0] += 1
            return
        ticket = self._tickets[ticket_id]
        if kind == "ticket.reopened":
            ticket[3] = True
            ticket[2] = ticket_due_at(ticket[4], event, ticket[2])
        elif kind == "ticket.resolved":
            row = self._ticket_rows[(minute_bucket(env.occurred_at), ticket[0], ticket[1])]
            row[1] += 1
            row[2] += int(env.occurred_at <= ticket[2])
            ticket[3] = False
        elif kind == "ticket.closed":  # closed for good: no longer open, not a resolution
            ticket[3] = False

    def _agent(self, event: Event) -> None:
        env = event.envelope
        agent = (env.center_id, event.agent_id)  # type: ignore[attr-defined]
        previous = self._agents.get(agent)
        if previous is not None:
            self._add_agent_time(self._agent_rows, *previous, env.occurred_at)
        self._agents[agent] = (agent_time_field(event), env.occurred_at, env.center_id)

    def _add_agent_time(
        self,
        rows: dict[tuple[datetime, str], list[int]],
        bucket: str | None,
        since: datetime,
        center: str,
        until: datetime,
    ) -> None:
        """Add the state ``bucket`` held from ``since`` until ``until``, at most
        ``max_agent_state`` of it, to ``rows``."""
        if bucket is None:
            return
        index = AGENT_FIELDS.index(bucket)
        staffed = bucket in ("ready_ms", "on_call_ms", "acw_ms")
        for minute, ms in split_minutes(since, min(until, since + self.max_agent_state)):
            row = rows.setdefault((minute, center), [0] * len(AGENT_FIELDS))
            row[index] += ms
            if staffed:
                row[0] += ms

    # -- output ------------------------------------------------------------------------------

    def call_rows(self) -> dict[tuple[datetime, str, str, str], dict[str, int]]:
        """Counters per (minute, region, business line, channel)."""
        rows: dict[tuple[datetime, str, str, str], dict[str, int]] = {}
        for facts in self.calls.calls.values():
            key = (
                minute_bucket(facts.offered_at),
                facts.region_code,
                ledger_business_line(facts).value,
                facts.channel.value,
            )
            counters = call_counters(facts, self.thresholds)
            row = rows.get(key)
            if row is None:
                rows[key] = counters
            else:
                for name in COUNTER_NAMES:
                    row[name] += counters[name]
        return rows

    def records(self) -> Iterable[dict[str, Any]]:
        """Every ledger line as a dict, in file order."""
        yield {
            "kind": "meta",
            "end": iso(self.end),
            "service_level_ms": self.thresholds.service_level_ms,
            "short_abandon_ms": self.thresholds.short_abandon_ms,
            "max_agent_state_ms": self.max_agent_state // timedelta(milliseconds=1),
            **self.meta,
        }
        for (minute, region, line, channel), counters in sorted(self.call_rows().items()):
            yield {"kind": "calls", "minute": iso(minute), "region_code": region,
                   "business_line": line, "channel": channel, **counters}  # fmt: skip
        for (minute, region, category), (created, resolved, on_time) in sorted(
            self._ticket_rows.items()
        ):
            yield {"kind": "tickets", "minute": iso(minute), "region_code": region,
                   "category": category, "created": created, "resolved": resolved,
                   "resolved_on_time": on_time}  # fmt: skip
        backlog: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
        for region, category, due, is_open, _ in self._tickets.values():
            if is_open:
                backlog[(region, category)][0] += 1
                backlog[(region, category)][1] += int(due < self.end)
        for (region, category), (n_open, overdue) in sorted(backlog.items()):
            yield {"kind": "tickets_open_at_end", "at": iso(self.end), "region_code": region,
                   "category": category, "open": n_open, "overdue": overdue}  # fmt: skip
        agent_rows = {k: list(v) for k, v in self._agent_rows.items()}
        for state in self._agents.values():  # still logged in at the end
            self._add_agent_time(agent_rows, *state, self.end)
        for (minute, center), values in sorted(agent_rows.items()):
            yield {"kind": "agents", "minute": iso(minute), "center_id": center,
                   **dict(zip(AGENT_FIELDS, values, strict=True))}  # fmt: skip

    def write(self, path: str | Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8", newline="\n") as out:
            for record in self.records():
                out.write(json.dumps(record, sort_keys=True, separators=(",", ":")))
                out.write("\n")
