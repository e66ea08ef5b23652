"""queue_log lines → hotline events: a pure state machine, no I/O (see docs/queue_log.md).

:class:`Translator` keeps the calls in flight (by Asterisk unique id) and each agent's state;
:meth:`Translator.feed` turns one parsed line into :class:`Draft` events (payload without the
envelope, which the ingestor adds) or raises :class:`Uninterpretable`. Its state is plain
JSON (:meth:`Translator.snapshot`) so a run can resume; it never holds a caller number —
ENTERQUEUE's caller id is hashed here, before anything else sees it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from hotline.privacy import CallerHasher, InvalidPhoneNumber, replace_phone_runs
from hotline.producers.queue_log.errors import Uninterpretable
from hotline.producers.queue_log.mapping import QueueLogMapping
from hotline.producers.queue_log.parse import QueueLogLine
from hotline.schemas import (
    AgentState,
    AgentStateChanged,
    CallAbandoned,
    CallAnswered,
    CallEnded,
    CallIvrOutcome,
    CallOffered,
    CallQueued,
    CallTransferred,
    Channel,
    Event,
    HungUpBy,
    IvrOutcome,
    NotReadyReason,
)

__all__ = ["CALL_END_EVENTS", "INFO_EVENTS", "Draft", "Translator"]

#: Recognised lines that carry nothing for hotline's events (counted, never dead-lettered).
INFO_EVENTS = frozenset(
    {
        "RINGNOANSWER",
        "RINGCANCELED",
        "CONFIGRELOAD",
        "SYSCOMPAT",
        "DID",
        "INFO",
        "PENALTY",
        "MEMBERRINGING",
    }
)
#: queue_log events that end the queue visit of a caller who was not answered.
_UNANSWERED_END: dict[str, tuple[HungUpBy, bool, int | None]] = {
    # event: (who ended it, is an abandon, index of waittime in data)
    "ABANDON": (HungUpBy.CALLER, True, 2),
    "EXITWITHTIMEOUT": (HungUpBy.SYSTEM, False, 2),
    "EXITWITHKEY": (HungUpBy.CALLER, False, 3),
    "EXITEMPTY": (HungUpBy.SYSTEM, False, 2),
}
CALL_END_EVENTS = frozenset(
    {*_UNANSWERED_END, "COMPLETECALLER", "COMPLETEAGENT", "BLINDTRANSFER", "TRANSFER"}
    | {"ATTENDEDTRANSFER"}
)
_LOGIN = frozenset({"AGENTLOGIN", "AGENTCALLBACKLOGIN", "ADDMEMBER"})
_LOGOFF = frozenset({"AGENTLOGOFF", "AGENTCALLBACKLOGOFF"})
_WITHHELD = frozenset({"", "unknown", "anonymous", "private", "restricted", "withheld"})
#: How many finished Asterisk call ids are remembered (to number re-queued legs).
FINISHED_MEMORY = 50_000
_ALL_QUEUES = "*"
_LOST_AT_RESTART = "call in flight at an Asterisk restart, left without an end"
_STALE_ON_CALL = "PAUSE/UNPAUSE of an agent on_call without a call: the call's end was lost"


@dataclass(frozen=True, slots=True)
class Draft:
    """One event without its envelope: the model, when, which region, the payload."""

    model: type[Event]
    time: datetime
    region_code: str
    fields: dict[str, Any]


def _ms(text: str, what: str, scale: int = 1000) -> int:
    """A non-negative count of seconds (or ``scale=1`` for ms) as milliseconds."""
    try:
        value = int(text)
    except ValueError:
        raise Uninterpretable(f"{what} is not a whole number") from None
    if value < 0:
        raise Uninterpretable(f"{what} is negative")
    return value * scale


def _epoch_ms(time: datetime) -> int:
    return int(time.timestamp() * 1000)


class Translator:
    """The state machine of module docstring; build once per producer, feed lines in order."""

    def __init__(
        self,
        mapping: QueueLogMapping,
        hasher: CallerHasher,
        state: dict[str, Any] | None = None,
    ) -> None:
        self.mapping = mapping
        self._hasher = hasher
        self.center = mapping.center
        state = state or {}
        #: The file's [agents] table by agent name as kept here (:meth:`agent_name`).
        self._agent_table = {self.agent_name(k): v for k, v in mapping.agents.items()}
        #: Asterisk unique id → {"call_id", "queue", "region", "enter_ms", "agent"}.
        self.calls: dict[str, dict[str, Any]] = {
            callid: {**call, "agent": self.agent_name(call["agent"]) if call["agent"] else None}
            for callid, call in dict(state.get("calls", {})).items()
        }
        #: agent name (:meth:`agent_name`) → {"state", "queues", "paused"}.
        self.agents: dict[str, dict[str, Any]] = {
            self.agent_name(name): record for name, record in state.get("agents", {}).items()
        }  # a state saved before names were pseudonymised is re-keyed here
        #: Asterisk unique id → legs seen (insertion-ordered, bounded).
        self.finished: dict[str, int] = dict(state.get("finished", []))
        #: Things worth knowing that are not errors ("unmapped queue x", …), for the summary.
        self.warnings: Counter[str] = Counter()
        #: Longer remarks for the summary (calls lost at an Asterisk restart, by id).
        self.notes: list[str] = []

    def snapshot(self) -> dict[str, Any]:
        """The JSON-able state needed to continue after the last fed line."""
        return {
            "calls": self.calls,
            "agents": self.agents,
            "finished": list(self.finished.items()),
        }

    # -- agent names ----------------------------------------------------------------------

    def agent_name(self, agent: str) -> str:
        """``agent`` as the translator keeps it (state, ids): every run of 5+ digits that could
        be a phone number — a remote member ``Local/17000005678@from-queue/n`` — becomes
        ``phone_`` + a keyed pseudonym of its digits (:meth:`CallerHasher.pseudonym`), so the
        same agent keeps one name and the number reaches no event, log or state file."""

        def pseudonym(run: str) -> str:
            digits = "".join(c for c in run if c.isdigit())
            return "phone_" + self._hasher.pseudonym(digits, purpose="queue_log agent")

        return replace_phone_runs(agent, pseudonym)

    def agent_id(self, name: str) -> str:
        """The agent id of an agent name (:meth:`agent_name`): the [agents] table, else
        :meth:`QueueLogMapping.agent_id`."""
        return self._agent_table.get(name) or self.mapping.agent_id(name)

    # -- dispatch -------------------------------------------------------------------------

    def feed(self, line: QueueLogLine) -> list[Draft]:
        """The events of one line, in order; :class:`Uninterpretable` if it has none to give."""
        agent = self.agent_name(line.agent)
        if agent != line.agent:
            line = replace(line, agent=agent)
        event = line.event
        if event == "ENTERQUEUE":
            return self._enter(line)
        if event == "CONNECT":
            return self._connect(line)
        if event in ("COMPLETECALLER", "COMPLETEAGENT"):
            return self._complete(line)
        if event in _UNANSWERED_END:
            return self._unanswered(line)
        if event in ("BLINDTRANSFER", "TRANSFER", "ATTENDEDTRANSFER"):
            return self._transfer(line)
        if event in _LOGIN:
            return self._login(line)
        if event in _LOGOFF or event == "REMOVEMEMBER":
            return self._logoff(line)
        if event in ("PAUSE", "PAUSEALL"):
            return self._pause(line)
        if event in ("UNPAUSE", "UNPAUSEALL"):
            return self._unpause(line)
        if event == "QUEUESTART":
            return self._restart(line)
        if event in INFO_EVENTS:
            return []
        raise Uninterpretable(f"unknown event {event}")

    # -- calls ----------------------------------------------------------------------------

    def _caller(self, raw: str) -> str | None:
        if raw.strip().casefold() in _WITHHELD or not any(c.isdigit() for c in raw):
            return None
        try:
            return self._hasher(raw, area_code=self.mapping.area_code)
        except InvalidPhoneNumber:
            self.warnings["unusable caller number (sent as withheld)"] += 1
            return None

    def _enter(self, line: QueueLogLine) -> list[Draft]:
        if not line.callid or line.callid == "NONE":
            raise Uninterpretable("ENTERQUEUE without a call id")
        if line.callid in self.calls:
            raise Uninterpretable("ENTERQUEUE for a call already in a queue")
        if self.mapping.queue(line.queue) is None:
            self.warnings[
                f"unmapped queue {line.queue!r} (business line "
                f"{self.mapping.default_business_line})"
            ] += 1
        legs = self.finished.pop(line.callid, 0) + 1
        call_id = f"{self.center}:{line.callid}"
        if legs > 1:
            call_id = f"{call_id}-{legs}"
        region = self.mapping.region(line.queue)
        self.calls[line.callid] = {
            "call_id": call_id,
            "legs": legs,
            "queue": line.queue,
            "region": region,
            "enter_ms": _epoch_ms(line.time),
            "agent": None,
        }
        caller = self._caller(line.field(1))  # hashed here: the number goes no further
        business_line = self.mapping.business_line(line.queue)
        return [
            Draft(
                CallOffered,
                line.time,
                region,
                {"call_id": call_id, "channel": Channel.PHONE, "caller_id": caller},
            ),
            Draft(
                CallIvrOutcome,
                line.time,
                region,
                {"call_id": call_id, "outcome": IvrOutcome.AGENT_REQUESTED},
            ),
            Draft(
                CallQueued, line.time, region, {"call_id": call_id, "business_line": business_line}
            ),
        ]

    def _call(self, line: QueueLogLine, *, answered: bool) -> dict[str, Any]:
        call = self.calls.get(line.callid)
        if call is None:
            raise Uninterpretable(f"{line.event} for an unknown call")
        if answered and call["agent"] is None:
            raise Uninterpretable(f"{line.event} for a call that was not answered")
        if not answered and call["agent"] is not None:
            raise Uninterpretable(f"{line.event} for a call already answered")
        return call

    def _finish(self, line: QueueLogLine, call: dict[str, Any]) -> None:
        self._finish_id(line.callid, call)

    def _finish_id(self, callid: str, call: dict[str, Any]) -> None:
        del self.calls[callid]
        self.finished[callid] = call["legs"]
        while len(self.finished) > FINISHED_MEMORY:
            del self.finished[next(iter(self.finished))]

    def _connect(self, line: QueueLogLine) -> list[Draft]:
        call = self._call(line, answered=False)
        if not line.agent or line.agent == "NONE":
            raise Uninterpretable("CONNECT without an agent")
        held = line.field(0)
        wait_ms = (
            _ms(held, "CONNECT holdtime")
            if held
            else max(0, _epoch_ms(line.time) - call["enter_ms"])
        )
        call["agent"] = line.agent
        agent_id = self.agent_id(line.agent)
        drafts = [
            Draft(
                CallAnswered,
                line.time,
                call["region"],
                {"call_id": call["call_id"], "agent_id": agent_id, "wait_ms": wait_ms},
            )
        ]
        drafts += self._agent_to(line, line.agent, AgentState.ON_CALL, None, call["region"])
        return drafts

    def _complete(self, line: QueueLogLine) -> list[Draft]:
        call = self._call(line, answered=True)
        talk_ms = _ms(line.field(1), f"{line.event} calltime")
        by = HungUpBy.CALLER if line.event == "COMPLETECALLER" else HungUpBy.AGENT
        return self._end_answered(line, call, talk_ms, by, [])

    def _transfer(self, line: QueueLogLine) -> list[Draft]:
        call = self._call(line, answered=True)
        if line.event == "ATTENDEDTRANSFER":
            if len(line.data) < 4:
                raise Uninterpretable("ATTENDEDTRANSFER with fewer than 4 data fields")
            talk_ms = _ms(line.data[-2], "ATTENDEDTRANSFER calltime")
            target = self.mapping.transfers.attended
        else:
            talk_ms = _ms(line.field(3), f"{line.event} calltime")
            target = self.mapping.transfers.target(line.field(0), line.field(1))
        agent_id = self.agent_id(call["agent"])
        moved = Draft(
            CallTransferred,
            line.time,
            call["region"],
            {"call_id": call["call_id"], "agent_id": agent_id, "target": target},
        )
        return self._end_answered(line, call, talk_ms, HungUpBy.AGENT, [moved])

    def _end_answered(
        self,
        line: QueueLogLine,
        call: dict[str, Any],
        talk_ms: int,
        by: HungUpBy,
        drafts: list[Draft],
    ) -> list[Draft]:
        agent = call["agent"]
        drafts.append(
            Draft(
                CallEnded,
                line.time,
                call["region"],
                {
                    "call_id": call["call_id"],
                    "agent_id": self.agent_id(agent),
                    "talk_ms": talk_ms,
                    "hung_up_by": by,
                },
            )
        )
        self._finish(line, call)
        drafts += self._agent_free(line, agent, call["region"])
        return drafts

    def _unanswered(self, line: QueueLogLine) -> list[Draft]:
        call = self._call(line, answered=False)
        by, abandon, wait_index = _UNANSWERED_END[line.event]
        drafts: list[Draft] = []
        if abandon:
            waited = line.field(wait_index) if wait_index is not None else ""
            wait_ms = (
                _ms(waited, f"{line.event} waittime")
                if waited
                else max(0, _epoch_ms(line.time) - call["enter_ms"])
            )
            drafts.append(
                Draft(
                    CallAbandoned,
                    line.time,
                    call["region"],
                    {"call_id": call["call_id"], "wait_ms": wait_ms},
                )
            )
        drafts.append(
            Draft(
                CallEnded, line.time, call["region"], {"call_id": call["call_id"], "hung_up_by": by}
            )
        )
        self._finish(line, call)
        return drafts

    def _restart(self, line: QueueLogLine) -> list[Draft]:
        """QUEUESTART: Asterisk (re)started, so no call of the old process is in a queue or
        on an agent any more.

        Calls in flight lost their end with the old process: the adapter forgets them
        without inventing an end (neither how nor when they ended is known, nor the talk
        time), so they stay without ``call.ended`` and the streams close them at the call
        horizon (``closed_by_timeout``); counted as a warning, their ids in a note. Agents the
        adapter had ``on_call`` are freed as at a call's end: ``ready``, or ``not_ready``
        with a pause taken during the call (queue members and their pauses survive a restart
        with Asterisk's ``persistentmembers``).
        """
        lost = list(self.calls.items())
        drafts: list[Draft] = []
        for callid, call in lost:
            self._finish_id(callid, call)
        for _, call in lost:
            agent = call["agent"]
            if agent is not None and self._agent(agent)["state"] == AgentState.ON_CALL.value:
                drafts += self._available(line, agent, call["region"])
        for agent, record in self.agents.items():
            if record["state"] == AgentState.ON_CALL.value:
                drafts += self._available(line, agent, None)
        if lost:
            self.warnings[_LOST_AT_RESTART] += len(lost)
            shown = ", ".join(call["call_id"] for _, call in lost[:10])
            more = f" and {len(lost) - 10} more" if len(lost) > 10 else ""
            self.notes.append(
                f"Asterisk restart (QUEUESTART) at {line.time:%Y-%m-%d %H:%M:%S}Z: "
                f"{len(lost)} call(s) in flight left without an end: {shown}{more}"
            )
        return drafts

    # -- agents ---------------------------------------------------------------------------

    def _agent(self, agent: str) -> dict[str, Any]:
        return self.agents.setdefault(
            agent, {"state": AgentState.LOGGED_OUT.value, "queues": [], "paused": None}
        )

    def _agent_to(
        self,
        line: QueueLogLine,
        agent: str,
        state: AgentState,
        reason: NotReadyReason | None,
        region: str | None = None,
    ) -> list[Draft]:
        record = self._agent(agent)
        current = (record["state"], record.get("reason"))
        wanted = (state.value, reason.value if reason else None)
        if current == wanted:
            return []
        record["state"], record["reason"] = wanted
        return [
            Draft(
                AgentStateChanged,
                line.time,
                region or self.mapping.region(line.queue),
                {"agent_id": self.agent_id(agent), "state": state, "reason": reason},
            )
        ]

    def _available(self, line: QueueLogLine, agent: str, region: str | None) -> list[Draft]:
        paused = self._agent(agent)["paused"]
        if paused:
            return self._agent_to(line, agent, AgentState.NOT_READY, NotReadyReason(paused), region)
        return self._agent_to(line, agent, AgentState.READY, None, region)

    def _agent_free(self, line: QueueLogLine, agent: str, region: str) -> list[Draft]:
        if self._agent(agent)["state"] == AgentState.LOGGED_OUT.value:
            return []
        return self._available(line, agent, region)

    def _need_agent(self, line: QueueLogLine) -> str:
        if not line.agent or line.agent == "NONE":
            raise Uninterpretable(f"{line.event} without an agent")
        return line.agent

    def _login(self, line: QueueLogLine) -> list[Draft]:
        agent = self._need_agent(line)
        record = self._agent(agent)
        queue = line.queue if line.event == "ADDMEMBER" else _ALL_QUEUES
        if queue not in record["queues"]:
            record["queues"].append(queue)
        drafts: list[Draft] = []
        if record["state"] == AgentState.LOGGED_OUT.value:
            drafts += self._agent_to(line, agent, AgentState.LOGGED_IN, None)
            drafts += self._available(line, agent, None)
        return drafts

    def _logoff(self, line: QueueLogLine) -> list[Draft]:
        agent = self._need_agent(line)
        record = self._agent(agent)
        if line.event == "REMOVEMEMBER":
            if line.queue in record["queues"]:
                record["queues"].remove(line.queue)
            if record["queues"]:
                return []
        record["queues"] = []
        record["paused"] = None
        return self._agent_to(line, agent, AgentState.LOGGED_OUT, None)

    def _on_a_call(self, agent: str) -> bool:
        """Whether ``agent`` is on a call: ``on_call`` *and* a call in flight is theirs.

        ``on_call`` without such a call means the call's end was lost (a state saved before
        QUEUESTART freed agents, …): the state is stale, counted as a warning, and a PAUSE
        or UNPAUSE applies at once instead of waiting for an end that will not come.
        """
        if self._agent(agent)["state"] != AgentState.ON_CALL.value:
            return False
        if any(call["agent"] == agent for call in self.calls.values()):
            return True
        self.warnings[_STALE_ON_CALL] += 1
        return False

    def _pause(self, line: QueueLogLine) -> list[Draft]:
        agent = self._need_agent(line)
        reason = self.mapping.pause_reason(line.field(0))
        record = self._agent(agent)
        record["paused"] = reason.value
        if self._on_a_call(agent):
            return []  # takes effect when the call ends
        return self._agent_to(line, agent, AgentState.NOT_READY, reason)

    def _unpause(self, line: QueueLogLine) -> list[Draft]:
        agent = self._need_agent(line)
        record = self._agent(agent)
        record["paused"] = None
        if self._on_a_call(agent):
            return []  # takes effect when the call ends
        return self._agent_to(line, agent, AgentState.READY, None)


def utc(seconds: float) -> datetime:
    """Epoch seconds as an aware UTC datetime (helper for tests and the sample)."""
    return datetime.fromtimestamp(seconds, UTC)
