"""Per-call facts and the per-call counters of DOMAIN.md, as pure functions.

The ledger, the stream processor and the ClickHouse views must agree *exactly*, so the rules
live here once:

* :class:`CallFacts` is what the events of one call say (assembled by :class:`CallAssembler`
  from ``call.*`` and ``survey.response`` events, in stream order).
* :func:`call_counters` turns facts into the counters of DOMAIN.md for given thresholds.
* Bucket rule: all counters of a call belong to the UTC minute in which it was **offered**
  (:func:`minute_bucket` of ``call.offered``'s ``occurred_at``), to the region of that
  ``call.offered`` envelope, its channel, and :func:`ledger_business_line`.
* ``repeat_7d``: the call's caller id (not null) offered another call in the 7 days
  (``REPEAT_WINDOW``) before this call's offered time (:class:`RepeatTracker`); the counter
  (and the call record's flag) counts answered calls only, so that the repeat-call rate
  ``repeat_7d / answered`` is a share of answered calls.
* ``queued``: an answered call counts as queued even if its ``call.queued`` was lost, so that
  ``answered / queued`` cannot pass 100 %.
* Ticket due rule: :func:`policy_due_at` — the national service rule (complaint: 2 working
  days on China's official calendar, via :mod:`hotline.workdays`; a dangerous call: 2 hours),
  from the ticket's creation or reopen time. The simulator's centers, its ledger and the
  stream processor all take due times from it (:func:`ticket_due_at`: the stream never
  trusts a producer's ``due_at`` for scoring, unless the calendar cannot decide).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from hotline.producers.simulator.params import DANGEROUS_DUE_SECONDS, TICKET_DUE_WORKDAYS
from hotline.schemas import (
    BusinessLine,
    Channel,
    Event,
    HungUpBy,
    IvrOutcome,
    SelfServiceKind,
    SurveyResult,
    TicketCategory,
)
from hotline.workdays import CalendarNotCovered, add_working_days

__all__ = [
    "COUNTER_NAMES",
    "DEFAULT_THRESHOLDS",
    "REPEAT_WINDOW",
    "CallAssembler",
    "CallFacts",
    "RepeatTracker",
    "Thresholds",
    "call_counters",
    "ledger_business_line",
    "minute_bucket",
    "policy_due_at",
    "ticket_due_at",
]

log = logging.getLogger(__name__)

REPEAT_WINDOW = timedelta(days=7)

#: The per-call counters, in ledger column order.
COUNTER_NAMES: tuple[str, ...] = (
    "offered",
    "self_served",
    "queued",
    "answered",
    "abandoned",
    "short_abandoned",
    "answered_in_sl",
    "wait_ms",
    "talk_ms",
    "hold_ms",
    "acw_ms",
    "transferred",
    "caller_hung_up_first",
    "repeat_7d",
    "survey_responses",
    "survey_satisfied",
    "survey_basic",
    "survey_dissatisfied",
)

#: The business line a self-served call is counted under (it never chose a queue).
SELF_SERVICE_LINES: dict[SelfServiceKind, BusinessLine] = {
    SelfServiceKind.PENSION_ACCOUNT: BusinessLine.PENSION,
    SelfServiceKind.MEDICAL_ACCOUNT: BusinessLine.MEDICAL,
    SelfServiceKind.WORK_INJURY_ACCOUNT: BusinessLine.WORK_INJURY,
    SelfServiceKind.UNEMPLOYMENT_ACCOUNT: BusinessLine.UNEMPLOYMENT,
    SelfServiceKind.MATERNITY_ACCOUNT: BusinessLine.MATERNITY,
    SelfServiceKind.LOST_CARD_REPORT: BusinessLine.SOCIAL_SECURITY_CARD,
    SelfServiceKind.POLICY_RECORDING: BusinessLine.OTHER,
    SelfServiceKind.OTHER: BusinessLine.OTHER,
}


@dataclass(frozen=True, slots=True)
class Thresholds:
    """The configurable thresholds of the counters (DOMAIN.md defaults)."""

    service_level_ms: int = 30_000
    short_abandon_ms: int = 5_000


#: The DOMAIN.md defaults: service level 30 s, short abandon 5 s.
DEFAULT_THRESHOLDS = Thresholds()


@dataclass(slots=True)
class CallFacts:
    """What the events of one call say; fields are ``None`` until their event is seen."""

    call_id: str
    offered_at: datetime
    center_id: str
    region_code: str
    channel: Channel
    caller_id: str | None = None
    ivr_outcome: IvrOutcome | None = None
    self_service_kind: SelfServiceKind | None = None
    business_line: BusinessLine | None = None  # from call.queued
    answer_wait_ms: int | None = None
    abandon_wait_ms: int | None = None
    transferred: bool = False
    ended: bool = False
    talk_ms: int = 0
    hold_ms: int = 0
    acw_ms: int = 0
    hung_up_by: HungUpBy | None = None
    survey: SurveyResult | None = None
    repeat_7d: bool = False

    @property
    def queued(self) -> bool:
        return self.business_line is not None

    @property
    def answered(self) -> bool:
        return self.answer_wait_ms is not None


def minute_bucket(at: datetime) -> datetime:
    """The start of the UTC minute holding ``at`` (the call's ``call.offered`` time)."""
    return at.replace(second=0, microsecond=0)


def policy_due_at(category: TicketCategory, start: datetime) -> datetime:
    """The service rule's due time of a ticket opened (created or reopened) at ``start``:
    working days per category (:data:`~.params.TICKET_DUE_WORKDAYS`; complaint: 2) on China's
    official calendar incl. 调休 (:func:`hotline.workdays.add_working_days`); a dangerous call
    ``DANGEROUS_DUE_SECONDS`` (2 hours) later. Raises
    :class:`hotline.workdays.CalendarNotCovered` outside the calendar's years."""
    if category == TicketCategory.DANGEROUS_CALL:
        return start + timedelta(seconds=DANGEROUS_DUE_SECONDS)
    return add_working_days(start, TICKET_DUE_WORKDAYS[category])


def ticket_due_at(
    category: TicketCategory, opened: Event, previous: datetime | None
) -> datetime | None:
    """The due time in force after ``opened`` (a ``ticket.created`` or ``ticket.reopened``):
    :func:`policy_due_at` from its ``occurred_at``. Only if the installed calendar does not
    cover the dates (:class:`~hotline.workdays.CalendarNotCovered`: upgrade the pinned
    ``chinesecalendar``) the producer's ``due_at`` stands in — ``previous`` when it has none —
    so one stray timestamp cannot stop the stream; the producer's value is otherwise ignored.
    The first stand-in for each uncovered year is logged as a warning (:func:`_warn_stand_in`).
    """
    try:
        return policy_due_at(category, opened.envelope.occurred_at)
    except CalendarNotCovered as exc:
        _warn_stand_in(exc)
        stated: datetime | None = getattr(opened, "due_at", None)
        return stated if stated is not None else previous


_stood_in_years: set[int] = set()
"""Uncovered years already warned about by this process."""


def _warn_stand_in(exc: CalendarNotCovered) -> None:
    """Tell the operator, once per uncovered year, that due times are not the service rule's:
    on-time and overdue judgements then rest on the centers' own ``due_at``."""
    if exc.day.year in _stood_in_years:
        return
    _stood_in_years.add(exc.day.year)
    log.warning(
        "ticket due times reaching %d: %s; until then each ticket's own due_at (from the "
        "center's system) stands in for the 2-working-day rule",
        exc.day.year,
        exc,
    )


def ledger_business_line(facts: CallFacts) -> BusinessLine:
    """The queue's line if queued; else the self-service kind's line; else ``other``."""
    if facts.business_line is not None:
        return facts.business_line
    if facts.self_service_kind is not None:
        return SELF_SERVICE_LINES[facts.self_service_kind]
    return BusinessLine.OTHER


def call_counters(facts: CallFacts, thresholds: Thresholds = DEFAULT_THRESHOLDS) -> dict[str, int]:
    """The counters of one call, keyed by :data:`COUNTER_NAMES` (in that order)."""
    answered = facts.answered
    queued = facts.queued or answered  # an answer without its queued event (lost) was queued
    abandoned = facts.queued and not answered and facts.abandon_wait_ms is not None
    short = abandoned and (facts.abandon_wait_ms or 0) < thresholds.short_abandon_ms
    in_sl = answered and (facts.answer_wait_ms or 0) <= thresholds.service_level_ms
    survey = facts.survey
    return {
        "offered": 1,
        "self_served": int(facts.ivr_outcome == IvrOutcome.SELF_SERVED),
        "queued": int(queued),
        "answered": int(answered),
        "abandoned": int(abandoned),
        "short_abandoned": int(short),
        "answered_in_sl": int(in_sl),
        "wait_ms": facts.answer_wait_ms or 0,
        "talk_ms": facts.talk_ms,
        "hold_ms": facts.hold_ms,
        "acw_ms": facts.acw_ms,
        "transferred": int(facts.transferred),
        "caller_hung_up_first": int(answered and facts.hung_up_by == HungUpBy.CALLER),
        "repeat_7d": int(answered and facts.repeat_7d),  # of answered calls: / answered
        "survey_responses": int(survey is not None),
        "survey_satisfied": int(survey == SurveyResult.SATISFIED),
        "survey_basic": int(survey == SurveyResult.BASIC),
        "survey_dissatisfied": int(survey == SurveyResult.DISSATISFIED),
    }


@dataclass(slots=True)
class RepeatTracker:
    """Remembers each caller's latest offered time to flag repeats within 7 days.

    Feed calls in offered order. Keeps only callers seen within the window of the latest call.
    """

    window: timedelta = REPEAT_WINDOW
    _last: dict[str, datetime] = field(default_factory=dict)

    def seen(self, caller_id: str | None, offered_at: datetime) -> bool:
        """Record a call; True if the caller offered another call within the window before."""
        if caller_id is None:
            return False
        previous = self._last.get(caller_id)
        self._last[caller_id] = offered_at
        return previous is not None and offered_at - previous <= self.window


class CallAssembler:
    """Folds ``call.*`` and ``survey.response`` events into :class:`CallFacts` per call.

    Events of one call must arrive in order (``call.offered`` first), as the simulator emits
    them. Other event types are ignored.
    """

    def __init__(self, window: timedelta = REPEAT_WINDOW) -> None:
        self.calls: dict[str, CallFacts] = {}
        self._repeats = RepeatTracker(window)

    def add(self, event: Event) -> None:
        kind = event.RECORD_TYPE
        if kind == "call.offered":
            env = event.envelope
            facts = CallFacts(
                call_id=event.call_id,  # type: ignore[attr-defined]
                offered_at=env.occurred_at,
                center_id=env.center_id,
                region_code=env.region_code,
                channel=event.channel,  # type: ignore[attr-defined]
                caller_id=event.caller_id,  # type: ignore[attr-defined]
            )
            facts.repeat_7d = self._repeats.seen(facts.caller_id, facts.offered_at)
            self.calls[facts.call_id] = facts
            return
        if not kind.startswith(("call.", "survey.")):
            return
        facts = self.calls[event.call_id]  # type: ignore[attr-defined]
        if kind == "call.ivr_outcome":
            facts.ivr_outcome = event.outcome  # type: ignore[attr-defined]
            facts.self_service_kind = event.self_service_kind  # type: ignore[attr-defined]
        elif kind == "call.queued":
            facts.business_line = event.business_line  # type: ignore[attr-defined]
        elif kind == "call.answered":
            facts.answer_wait_ms = event.wait_ms  # type: ignore[attr-defined]
        elif kind == "call.abandoned":
            facts.abandon_wait_ms = event.wait_ms  # type: ignore[attr-defined]
        elif kind == "call.transferred":
            facts.transferred = True
        elif kind == "call.ended":
            facts.ended = True
            facts.talk_ms = event.talk_ms  # type: ignore[attr-defined]
            facts.hold_ms = event.hold_ms  # type: ignore[attr-defined]
            facts.acw_ms = event.acw_ms  # type: ignore[attr-defined]
            facts.hung_up_by = event.hung_up_by  # type: ignore[attr-defined]
        elif kind == "survey.response":
            facts.survey = event.result  # type: ignore[attr-defined]

    def add_all(self, events: Iterable[Event]) -> CallAssembler:
        for event in events:
            self.add(event)
        return self
