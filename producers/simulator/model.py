"""The discrete-event model of one center (SimPy), emitting contract events as it runs.

One :class:`simpy.Environment` drives every center, so events come out in global time order.
Time is integer milliseconds since the run's start. Each center has its own seeded
``random.Random`` for the model and another for ids, so a center's behaviour does not depend on
which other centers run beside it (except for shared ties in time, which SimPy orders stably).

Queueing is real: agents are items of a :class:`simpy.Store` (longest-idle first); a caller
waits for one against their patience, so waits, abandons and the service level emerge from
load vs staffing and are never drawn directly.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any, TypeVar

import simpy

from hotline.privacy import DEMO_CALLER_KEY, CallerHasher
from hotline.producers.simulator import params as P
from hotline.producers.simulator.centers import ServiceHours, SimCenter, derive_seed
from hotline.producers.simulator.facts import policy_due_at
from hotline.schemas import (
    RUBRIC,
    AgentState,
    AgentStateChanged,
    BusinessLine,
    CallAbandoned,
    CallAnswered,
    CallEnded,
    CallIvrOutcome,
    CallOffered,
    CallQueued,
    CallTransferred,
    Channel,
    Envelope,
    Event,
    HungUpBy,
    IvrOutcome,
    NotReadyReason,
    QaEvaluation,
    QaKind,
    QaScores,
    SelfServiceKind,
    SurveyResponse,
    SurveyResult,
    TicketAssigned,
    TicketCallbackMade,
    TicketCategory,
    TicketClosed,
    TicketCreated,
    TicketReopened,
    TicketResolved,
    TransferTarget,
)
from hotline.workdays import CHINA_TZ, add_working_days, is_working_day

__all__ = ["CenterModel", "Clock", "Emit"]

E = TypeVar("E", bound=Event)
#: Where built events go (the run's sink, via its counters).
Emit = Callable[[Event], None]
MS = 1000


@dataclass(frozen=True, slots=True)
class Clock:
    """Maps simulation time (ms since ``start``) to UTC and China-local time."""

    start: datetime  # aware, UTC

    def utc(self, ms: float) -> datetime:
        return self.start + timedelta(milliseconds=int(ms))

    def ms(self, moment: datetime) -> int:
        return int((moment - self.start) / timedelta(milliseconds=1))

    def local(self, ms: float) -> datetime:
        return self.utc(ms).astimezone(CHINA_TZ)


@lru_cache(maxsize=4096)
def _working(day: date) -> bool:
    return is_working_day(day)


def _lognormal(rng: random.Random, median_sigma: tuple[float, float]) -> float:
    median, sigma = median_sigma
    return rng.lognormvariate(math.log(median), sigma)


class _Chooser:
    """Fast seeded weighted choice over a fixed mix."""

    def __init__(self, items: Sequence[Any], weights: Sequence[float]) -> None:
        self.items = list(items)
        self.cum = list(itertools.accumulate(weights))

    def __call__(self, rng: random.Random) -> Any:
        return self.items[bisect.bisect_right(self.cum, rng.random() * self.cum[-1])]


_CHANNELS = _Chooser(list(P.CHANNEL_MIX), list(P.CHANNEL_MIX.values()))
_LINES = _Chooser(list(P.BUSINESS_LINE_MIX), list(P.BUSINESS_LINE_MIX.values()))
_SELF = _Chooser(list(P.SELF_SERVICE_MIX), list(P.SELF_SERVICE_MIX.values()))
_TARGETS = _Chooser(
    [TransferTarget(t) for t in P.TRANSFER_TARGETS], list(P.TRANSFER_TARGETS.values())
)
_TICKETS = _Chooser(list(P.TICKET_MIX), list(P.TICKET_MIX.values()))
_HOURLY_TOTAL = sum(P.HOURLY_SHAPE)


@dataclass(eq=False, slots=True)
class Agent:
    agent_id: str
    window_end: int = 0
    pending_break: bool = False
    break_ms: int = 0


@dataclass(slots=True)
class _Call:
    call_id: str
    region: str
    caller_index: int


class CenterModel:
    """One center's processes: arrivals, callers, agents' shifts, tickets, QA."""

    def __init__(
        self,
        env: simpy.Environment,
        spec: SimCenter,
        clock: Clock,
        end_ms: int,
        emit: Emit,
        hasher: CallerHasher | None = None,
        service_hours: ServiceHours | None = None,
    ) -> None:
        self.env = env
        self.spec = spec
        self.clock = clock
        self.end_ms = end_ms
        self._emit = emit
        self.profile = P.PROFILES[spec.profile]
        self.rng = random.Random(spec.seed)
        self._ids = random.Random(derive_seed(spec.seed, "ids"))
        self.producer_id = f"sim.{spec.center_id}"
        self._sequence = itertools.count()
        self._hasher = hasher or CallerHasher(DEMO_CALLER_KEY)
        self._caller_ids: dict[int, str] = {}
        self._regions = _Chooser(spec.regions, spec.region_weights)
        self.agents = simpy.Store(env)
        #: Human-service windows in minutes of the local day; the override holds every day.
        self.service_windows: ServiceHours = service_hours or tuple(
            (start.hour * 60 + start.minute, end.hour * 60 + end.minute)
            for start, end in spec.windows
        )
        self.every_day = service_hours is not None
        self.staffed = round(spec.agents * self.profile.staffing)
        if self.profile.staffing > 0:
            self.staffed = max(1, self.staffed)
        demand_factor = self.rng.lognormvariate(0.0, 0.1)
        per_day = spec.agents * P.AGENT_REQUESTS_PER_AGENT_DAY * demand_factor
        # Calls per average working day, so that requests *in service hours* match per_day
        # (the center's own hours: an override of the hours changes who answers, not demand).
        self.daily_calls = per_day / (1 - P.SELF_SERVICE_SHARE) / self._in_window_share()
        self.population = max(1000, int(self.daily_calls * 60))
        self._number_base = self.rng.randrange(10**9)

    # -- plumbing ---------------------------------------------------------------------------

    def start(self) -> None:
        self.env.process(self._arrivals())
        if self.profile.human_service:
            self.env.process(self._shifts())

    def emit(self, model: type[E], region: str, **fields: Any) -> E:
        envelope = Envelope(
            event_id=str(uuid.UUID(int=self._ids.getrandbits(128), version=4)),
            event_type=model.RECORD_TYPE,
            occurred_at=self.clock.utc(self.env.now),
            center_id=self.spec.center_id,
            region_code=region,
            producer_id=self.producer_id,
            sequence=next(self._sequence),
        )
        event = model(envelope=envelope, **fields)
        self._emit(event)
        return event

    def _new_id(self) -> str:
        return str(uuid.UUID(int=self._ids.getrandbits(128), version=4))

    def _wait_until(self, ms: float) -> simpy.Timeout:
        return self.env.timeout(max(0, int(ms) - int(self.env.now)))

    def caller_id(self, index: int) -> str | None:
        """The pseudonymous id of synthetic caller ``index`` (the number is never kept)."""
        if index < 0:
            return None  # withheld number
        found = self._caller_ids.get(index)
        if found is None:
            number = f"+8613{(self._number_base + index) % 10**9:09d}"
            found = self._caller_ids[index] = self._hasher(number)
        return found

    # -- demand -----------------------------------------------------------------------------

    def _in_window_share(self) -> float:
        share = 0.0
        for start, end in self.spec.windows:
            for minute in range(start.hour * 60 + start.minute, end.hour * 60 + end.minute):
                share += P.HOURLY_SHAPE[minute // 60] / 60
        return share / _HOURLY_TOTAL

    def _rate_per_ms(self, local: datetime) -> float:
        day = local.date()
        factor = P.WEEKDAY_FACTORS[min(day.weekday(), 4)] if _working(day) else P.WEEKEND_FACTOR
        per_hour = self.daily_calls * factor * P.HOURLY_SHAPE[local.hour] / _HOURLY_TOTAL
        return per_hour / 3_600_000

    def _arrivals(self):  # type: ignore[no-untyped-def]
        """Non-homogeneous Poisson arrivals, piecewise constant per slot (exact by restart).

        Slots are whole quarter hours of the clock (China time is UTC+8), whatever the start.
        """
        slot = P.SLOT_MINUTES * 60 * MS
        offset = self.clock.ms(datetime(2000, 1, 1, tzinfo=CHINA_TZ)) % slot
        t = float(self.env.now)
        rng = self.rng
        while t < self.end_ms:
            slot_end = ((int(t) - offset) // slot + 1) * slot + offset
            rate = self._rate_per_ms(self.clock.local(t))
            if rate > 0:
                gap = rng.expovariate(rate)
                if t + gap < slot_end:
                    t += gap
                    if t >= self.end_ms:
                        break
                    yield self._wait_until(t)
                    index = (
                        -1 if rng.random() < P.WITHHELD_SHARE else rng.randrange(self.population)
                    )
                    self.env.process(self._call(index))
                    continue
            t = float(slot_end)

    # -- human-service hours ------------------------------------------------------------------

    def _midnight(self, day: date) -> int:
        return self.clock.ms(datetime.combine(day, time(0), CHINA_TZ))

    def _windows_of(self, day: date) -> list[tuple[int, int]]:
        """``day``'s human-service windows (ms): on working days, or every day if overridden."""
        if not self.profile.human_service or not (self.every_day or _working(day)):
            return []
        midnight = self._midnight(day)
        return [(midnight + s * 60_000, midnight + e * 60_000) for s, e in self.service_windows]

    def is_open(self, ms: float) -> bool:
        """True while human service is advertised (in a window of its day)."""
        return any(s <= ms < e for s, e in self._windows_of(self.clock.local(ms).date()))

    def _service_windows(self, day: date) -> Iterator[tuple[date, int, int]]:
        """(first day, start, end) of the windows from ``day`` on, in time order, until the
        run's end; windows that touch (00:00–24:00 day after day) are one window."""
        current: tuple[date, int, int] | None = None
        while self._midnight(day) < self.end_ms:
            for start, end in self._windows_of(day):
                if current is not None and start <= current[2]:
                    current = (current[0], current[1], max(current[2], end))
                    continue
                if current is not None:
                    yield current
                current = (day, start, end)
            day += timedelta(days=1)
        if current is not None:
            yield current

    def _shifts(self):  # type: ignore[no-untyped-def]
        """Every staffed agent works each human-service window (started at its day's midnight).

        A window already over when the run starts is skipped; one in progress starts now, with
        the agents already at work: nothing is scheduled in the past.
        """
        now = self.env.now
        first = self.clock.local(now).date()
        yield self._wait_until(self._midnight(first))
        waited = first
        for day, start, end in self._service_windows(first):
            if end <= now:
                continue
            if day != waited:
                yield self._wait_until(self._midnight(day))
                waited = day
            for n in range(self.staffed):
                agent = Agent(f"{self.spec.center_id}.A{n + 1:03d}")
                self.env.process(self._agent_window(agent, start, end))

    def _state(self, agent: Agent, state: AgentState, reason: NotReadyReason | None = None) -> None:
        self.emit(
            AgentStateChanged, self.spec.home, agent_id=agent.agent_id, state=state, reason=reason
        )

    def _ready(self, agent: Agent) -> None:
        self._state(agent, AgentState.READY)
        self.agents.put(agent)

    def _agent_window(self, agent: Agent, start: int, end: int):  # type: ignore[no-untyped-def]
        """Log in around ``start`` (at once if the window is in progress), take a break in
        each part of the window (one part per ``BREAK_EVERY_SECONDS``), log out at ``end``."""
        rng = self.rng
        if start <= self.env.now:
            start = int(self.env.now)  # in progress at the run's start: at work from now
        else:
            yield self._wait_until(start + rng.uniform(-P.EARLY_LOGIN_SECONDS, 60) * MS)
        agent.window_end = end
        agent.break_ms = int(rng.lognormvariate(math.log(12 * 60), 0.3) * MS)
        self._state(agent, AgentState.LOGGED_IN)
        self._ready(agent)
        parts = max(1, round((end - start) / (P.BREAK_EVERY_SECONDS * MS)))
        for part in range(parts):
            part_start = start + part * (end - start) / parts
            yield self._wait_until(part_start + rng.uniform(0.35, 0.65) * (end - start) / parts)
            if agent in self.agents.items:
                self.agents.items.remove(agent)
                yield self.env.process(self._break(agent))
            else:
                agent.pending_break = True
        yield self._wait_until(end)
        if agent in self.agents.items:  # idle at closing time: nobody is waiting
            self.agents.items.remove(agent)
            self._state(agent, AgentState.LOGGED_OUT)

    def _break(self, agent: Agent):  # type: ignore[no-untyped-def]
        self._state(agent, AgentState.NOT_READY, NotReadyReason.BREAK)
        yield self.env.timeout(agent.break_ms)
        self._after_work(agent)

    def _after_work(self, agent: Agent) -> None:
        """An agent's next state after a call or a break."""
        now = self.env.now
        agent.pending_break = agent.pending_break and now < agent.window_end
        if agent.pending_break and now < agent.window_end:
            agent.pending_break = False
            self.env.process(self._break(agent))
        elif now < agent.window_end or (
            self.agents.get_queue and now < agent.window_end + P.DRAIN_SECONDS * MS
        ):
            self._ready(agent)
        else:
            self._state(agent, AgentState.LOGGED_OUT)

    # -- a call -----------------------------------------------------------------------------

    def _call(self, caller_index: int):  # type: ignore[no-untyped-def]
        rng, prof = self.rng, self.profile
        call = _Call(self._new_id(), self._regions(rng), caller_index)
        region, call_id = call.region, call.call_id
        channel = _CHANNELS(rng)
        self.emit(
            CallOffered, region, call_id=call_id, channel=channel,
            caller_id=self.caller_id(caller_index),
        )  # fmt: skip
        ivr_ms = int(_lognormal(rng, P.IVR_SECONDS) * MS)
        if channel != Channel.PHONE:
            ivr_ms //= 3  # a chat bot menu, not a voice menu
        yield self.env.timeout(ivr_ms)
        if prof.self_service and rng.random() < P.SELF_SERVICE_SHARE:
            kind = _SELF(rng)
        elif not prof.self_service and rng.random() < 0.5:
            kind = SelfServiceKind.POLICY_RECORDING  # listened to the recording, hung up
        else:
            kind = None
        if kind is not None:
            self.emit(
                CallIvrOutcome, region, call_id=call_id, outcome=IvrOutcome.SELF_SERVED,
                self_service_kind=kind, ivr_ms=ivr_ms,
            )  # fmt: skip
            self.emit(CallEnded, region, call_id=call_id, hung_up_by=HungUpBy.CALLER)
            return
        self.emit(
            CallIvrOutcome, region, call_id=call_id, outcome=IvrOutcome.AGENT_REQUESTED,
            ivr_ms=ivr_ms,
        )  # fmt: skip
        if prof.routed_to_12345:
            self.emit(
                CallTransferred, region, call_id=call_id, agent_id=f"{self.spec.center_id}.ivr",
                target=TransferTarget.PLATFORM_12345,
            )  # fmt: skip
            self.emit(CallEnded, region, call_id=call_id, hung_up_by=HungUpBy.SYSTEM)
            return
        if not self.is_open(self.env.now):
            yield self.env.timeout(int(P.CLOSED_RECORDING_SECONDS * MS))
            self.emit(CallEnded, region, call_id=call_id, hung_up_by=HungUpBy.SYSTEM)
            self._maybe_retry(caller_index)
            return
        yield from self._queue_and_talk(call, _LINES(rng))

    def _patience_ms(self) -> int:
        rng = self.rng
        if rng.random() < P.IMPATIENT_SHARE:
            return int(rng.uniform(0.5, P.IMPATIENT_MAX_SECONDS) * MS)
        return int(_lognormal(rng, P.PATIENCE_SECONDS) * MS)

    def _queue_and_talk(self, call: _Call, line: BusinessLine):  # type: ignore[no-untyped-def]
        rng, prof, region, call_id = self.rng, self.profile, call.region, call.call_id
        self.emit(CallQueued, region, call_id=call_id, business_line=line)
        queued_at = self.env.now
        patience = self._patience_ms()
        limit = min(patience, int(P.MAX_QUEUE_SECONDS * MS))
        request = self.agents.get()
        yield request | self.env.timeout(limit)
        wait = int(self.env.now - queued_at)
        if not request.triggered:
            request.cancel()
            by = HungUpBy.CALLER
            if patience <= limit:  # the caller hung up in the queue: an abandon
                self.emit(CallAbandoned, region, call_id=call_id, wait_ms=wait)
            else:  # the ACD dropped the call at its longest queue time: no abandon
                by = HungUpBy.SYSTEM
            self.emit(CallEnded, region, call_id=call_id, hung_up_by=by)
            self._maybe_retry(call.caller_index)
            return
        agent: Agent = request.value
        self.emit(CallAnswered, region, call_id=call_id, agent_id=agent.agent_id, wait_ms=wait)
        self._state(agent, AgentState.ON_CALL)
        talk = int(max(10.0, _lognormal(rng, P.TALK_SECONDS)) * MS)
        hold = int(_lognormal(rng, P.HOLD_SECONDS) * MS) if rng.random() < P.HOLD_SHARE else 0
        dangerous = rng.random() < P.DANGEROUS_SHARE
        target: TransferTarget | None = None
        if dangerous:
            target = TransferTarget.SUPERVISOR
        elif rng.random() < P.TRANSFER_SHARE:
            target = _TARGETS(rng)
        yield self.env.timeout(talk + hold)
        if target is not None:
            self.emit(
                CallTransferred, region, call_id=call_id, agent_id=agent.agent_id, target=target
            )
            hung_up_by = HungUpBy.SYSTEM
        else:
            hung_up_by = HungUpBy.CALLER if rng.random() < prof.caller_first else HungUpBy.AGENT
            if rng.random() < P.SURVEY_RESPONSE_SHARE:
                self.emit(
                    SurveyResponse, region, call_id=call_id, agent_id=agent.agent_id,
                    result=self._survey(wait, transferred=False),
                )  # fmt: skip
        category: TicketCategory | None = None
        if dangerous:
            category = TicketCategory.DANGEROUS_CALL
        elif rng.random() < P.TICKET_SHARE:
            category = _TICKETS(rng)
        self._state(agent, AgentState.NOT_READY, NotReadyReason.ACW)
        acw = _lognormal(rng, P.ACW_SECONDS) + (P.ACW_TICKET_EXTRA_SECONDS if category else 0.0)
        acw_ms = int(acw * MS)
        yield self.env.timeout(acw_ms)
        self.emit(
            CallEnded, region, call_id=call_id, agent_id=agent.agent_id, talk_ms=talk,
            hold_ms=hold, acw_ms=acw_ms, hung_up_by=hung_up_by,
        )  # fmt: skip
        if category is not None:
            self.env.process(self._ticket(call, category, line, agent.agent_id))
        if rng.random() < P.QA_SHARE:
            self.env.process(self._qa(call, agent.agent_id, wait, hung_up_by))
        self._after_work(agent)

    def _survey(self, wait_ms: int, transferred: bool) -> SurveyResult:
        pressure = min(1.0, wait_ms / 120_000)
        dissatisfied = P.DISSATISFIED_BASE + P.DISSATISFIED_SLOPE * pressure
        if transferred:
            dissatisfied += P.TRANSFER_DISSATISFIED_EXTRA
        basic = P.BASIC_BASE + P.BASIC_SLOPE * pressure
        draw = self.rng.random()
        if draw < dissatisfied:
            return SurveyResult.DISSATISFIED
        if draw < dissatisfied + basic:
            return SurveyResult.BASIC
        return SurveyResult.SATISFIED

    def _maybe_retry(self, caller_index: int) -> None:
        if self.rng.random() < P.RETRY_SHARE:
            delay = int(_lognormal(self.rng, P.RETRY_DELAY_SECONDS) * MS)
            if self.env.now + delay < self.end_ms:
                self.env.process(self._later(delay, caller_index))

    def _later(self, delay: int, caller_index: int):  # type: ignore[no-untyped-def]
        yield self.env.timeout(delay)
        yield self.env.process(self._call(caller_index))

    # -- tickets and QA -----------------------------------------------------------------------

    def _ticket(self, call: _Call, category: TicketCategory, line: BusinessLine, agent_id: str):  # type: ignore[no-untyped-def]
        rng, region = self.rng, call.region
        ticket_id = self._new_id()
        created = self.env.now
        due = self.clock.ms(policy_due_at(category, self.clock.utc(created)))  # the service rule
        if category == TicketCategory.DANGEROUS_CALL:
            ratio_median = 0.3
        else:
            ratio_median = self.profile.ticket_resolution_ratio
        self.emit(
            TicketCreated, region, ticket_id=ticket_id, call_id=call.call_id, category=category,
            business_line=line, agent_id=agent_id, due_at=self.clock.utc(due),
        )  # fmt: skip
        ratio = rng.lognormvariate(math.log(ratio_median), P.TICKET_RESOLUTION_SIGMA)
        resolve_at = created + max(60 * MS, ratio * (due - created))
        routed = category in (TicketCategory.BUSINESS_REQUEST, TicketCategory.REPORT)
        assignee = f"{self.spec.center_id}.dept.{line.value}" if routed else agent_id
        yield self._wait_until(created + min(0.1 * (resolve_at - created), 30 * 60 * MS))
        self.emit(TicketAssigned, region, ticket_id=ticket_id, assignee_id=assignee, routed=routed)
        if category in (
            TicketCategory.CALLBACK,
            TicketCategory.COMPLAINT,
            TicketCategory.DANGEROUS_CALL,
        ):
            yield self._wait_until(created + 0.8 * (resolve_at - created))
            self.emit(
                TicketCallbackMade, region, ticket_id=ticket_id, agent_id=agent_id,
                reached=rng.random() < 0.85,
            )  # fmt: skip
        yield self._wait_until(resolve_at)
        self.emit(TicketResolved, region, ticket_id=ticket_id, agent_id=agent_id)
        if rng.random() < P.TICKET_REOPEN_SHARE:
            yield self.env.timeout(int(rng.uniform(2, 24) * 3600 * MS))
            # The center's own reopen deadline (1 working day); the streams and the ledger
            # ignore it and apply the service rule from the reopen time (policy_due_at).
            new_due = add_working_days(self.clock.utc(self.env.now), 1)
            self.emit(TicketReopened, region, ticket_id=ticket_id, due_at=new_due)
            yield self.env.timeout(int(rng.uniform(1, 30) * 3600 * MS))
            self.emit(TicketResolved, region, ticket_id=ticket_id, agent_id=agent_id)
        yield self.env.timeout(int(rng.uniform(1, 24) * 3600 * MS))
        self.emit(TicketClosed, region, ticket_id=ticket_id)

    def _qa(self, call: _Call, agent_id: str, wait_ms: int, hung_up_by: HungUpBy):  # type: ignore[no-untyped-def]
        rng = self.rng
        yield self.env.timeout(int(rng.uniform(1, 6) * 3600 * MS))
        scores = {}
        for item in RUBRIC:
            if item.field == "waits_for_caller_hangup":
                scores[item.field] = item.maximum if hung_up_by == HungUpBy.CALLER else 0
            else:
                lost = rng.choices((0, 1, 2, 3), (0.7, 0.17, 0.09, 0.04))[0]
                scores[item.field] = max(0, item.maximum - lost * max(1, item.maximum // 5))
        self.emit(
            QaEvaluation, call.region, evaluation_id=self._new_id(), kind=QaKind.INTERNAL,
            evaluated_center_id=self.spec.center_id, evaluated_region_code=call.region,
            agent_id=agent_id, evaluator=f"{self.spec.center_id}.qa",
            outcome=1 if wait_ms < 30 * MS else 2, scores=QaScores(**scores),
        )  # fmt: skip
