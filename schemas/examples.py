"""Example records of every type, telling one coherent story at one center, so later tests can
run every example through every processor.

- ``C1`` self-served in the IVR (pension account look-up);
- ``C2`` queued for pension, answered in 12 s, transferred to an expert seat, caller hung up
  first, satisfied; it opened complaint ticket ``T1`` (assigned, called back, resolved, closed);
- ``C3`` queued for medical insurance and abandoned after 3 s (a short abandon);
- ``C4`` from a withheld number, answered after 45 s (outside the 30 s service level), the
  agent hung up, survey "basic"; it opened dangerous-call ticket ``T2`` (assigned, resolved,
  reopened);
- agent ``A007``'s shift; two QA evaluations (one scored, one never connected);
- the derived records the pipeline makes of them.

Caller ids are HMAC-SHA256 hex digests of labels under a demo key — never phone numbers.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from hotline.schemas.agents import AgentStateChanged
from hotline.schemas.base import Envelope, Event, Record
from hotline.schemas.calls import (
    CallAbandoned,
    CallAnswered,
    CallEnded,
    CallIvrOutcome,
    CallOffered,
    CallQueued,
    CallTransferred,
    SurveyResponse,
)
from hotline.schemas.catalog import RECORD_TYPES
from hotline.schemas.derived import (
    AgentTimeSnapshot,
    Alert,
    CallRecord,
    DeadLetter,
    MetricSnapshot,
    QueueSnapshot,
    TicketCountSnapshot,
    TicketRecord,
)
from hotline.schemas.enums import (
    AgentState,
    AlertKind,
    BusinessLine,
    Channel,
    DeadLetterReason,
    HungUpBy,
    IvrOutcome,
    Level,
    NotReadyReason,
    QaKind,
    SelfServiceKind,
    Severity,
    SurveyResult,
    TicketCategory,
    TicketStatus,
    TransferTarget,
)
from hotline.schemas.qa import QaEvaluation, QaScores
from hotline.schemas.tickets import (
    TicketAssigned,
    TicketCallbackMade,
    TicketClosed,
    TicketCreated,
    TicketReopened,
    TicketResolved,
)

CENTER_ID = "js-nj-12333"
REGION_CODE = "320102"
PRODUCER_ID = "js-nj-acd-1"
T0 = datetime(2025, 3, 3, 1, 0, tzinfo=UTC)  # 09:00 Beijing time, a working Monday
_DEMO_KEY = b"hotline-examples-demo-key"
_ID_NAMESPACE = uuid.UUID("6f1d2c1e-7a53-4c41-9a8e-0d2f3c4b5a69")


def demo_caller_id(label: str) -> str:
    """An HMAC-SHA256 hex caller id for a made-up caller label (never a phone number)."""
    return hmac.new(_DEMO_KEY, label.encode(), hashlib.sha256).hexdigest()


class _Story:
    def __init__(self) -> None:
        self.sequence = 0
        self.records: list[Record] = []

    def emit(self, model: type[Record], at: timedelta, **fields: Any) -> None:
        if not issubclass(model, Event):  # a derived record: no envelope
            self.records.append(model(**fields))
            return
        self.sequence += 1
        envelope = Envelope(
            event_id=str(uuid.uuid5(_ID_NAMESPACE, f"{PRODUCER_ID}/{self.sequence}")),
            event_type=model.RECORD_TYPE,
            occurred_at=T0 + at,
            center_id=CENTER_ID,
            region_code=REGION_CODE,
            producer_id=PRODUCER_ID,
            sequence=self.sequence,
        )
        self.records.append(model(envelope=envelope, **fields))


def _s(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)


def _story() -> list[Record]:
    s = _Story()
    c1, c2 = demo_caller_id("caller-1"), demo_caller_id("caller-2")
    # agent A007 starts the shift
    s.emit(AgentStateChanged, _s(-600), agent_id="A007", state=AgentState.LOGGED_IN)
    s.emit(AgentStateChanged, _s(-590), agent_id="A007", state=AgentState.READY)
    # C1: self-served
    s.emit(CallOffered, _s(0), call_id="C1", channel=Channel.PHONE, caller_id=c1)
    s.emit(
        CallIvrOutcome,
        _s(40),
        call_id="C1",
        outcome=IvrOutcome.SELF_SERVED,
        self_service_kind=SelfServiceKind.PENSION_ACCOUNT,
        ivr_ms=40_000,
    )
    s.emit(CallEnded, _s(41), call_id="C1", hung_up_by=HungUpBy.CALLER)
    # C2: answered, transferred, survey, ticket T1
    s.emit(CallOffered, _s(60), call_id="C2", channel=Channel.PHONE, caller_id=c2)
    s.emit(CallIvrOutcome, _s(80), call_id="C2", outcome=IvrOutcome.AGENT_REQUESTED, ivr_ms=20_000)
    s.emit(CallQueued, _s(80), call_id="C2", business_line=BusinessLine.PENSION)
    s.emit(CallAnswered, _s(92), call_id="C2", agent_id="A007", wait_ms=12_000)
    s.emit(AgentStateChanged, _s(92), agent_id="A007", state=AgentState.ON_CALL)
    s.emit(
        CallTransferred, _s(200), call_id="C2", agent_id="A007", target=TransferTarget.EXPERT_SEAT
    )
    s.emit(
        TicketCreated,
        _s(260),
        ticket_id="T1",
        call_id="C2",
        category=TicketCategory.COMPLAINT,
        business_line=BusinessLine.PENSION,
        agent_id="A007",
        due_at=T0 + timedelta(days=2),
    )
    s.emit(
        CallEnded,
        _s(272),
        call_id="C2",
        agent_id="A007",
        talk_ms=150_000,
        hold_ms=30_000,
        acw_ms=0,
        hung_up_by=HungUpBy.CALLER,
    )
    s.emit(SurveyResponse, _s(285), call_id="C2", agent_id="A007", result=SurveyResult.SATISFIED)
    s.emit(
        AgentStateChanged,
        _s(272),
        agent_id="A007",
        state=AgentState.NOT_READY,
        reason=NotReadyReason.ACW,
    )
    # C3: short abandon
    s.emit(CallOffered, _s(300), call_id="C3", channel=Channel.WECHAT, caller_id=c1)
    s.emit(CallIvrOutcome, _s(310), call_id="C3", outcome=IvrOutcome.AGENT_REQUESTED, ivr_ms=10_000)
    s.emit(CallQueued, _s(310), call_id="C3", business_line=BusinessLine.MEDICAL)
    s.emit(CallAbandoned, _s(313), call_id="C3", wait_ms=3_000)
    s.emit(CallEnded, _s(313), call_id="C3", hung_up_by=HungUpBy.CALLER)
    # C4: withheld number, answered late, dangerous call ticket T2
    s.emit(CallOffered, _s(400), call_id="C4", channel=Channel.PHONE, caller_id=None)
    s.emit(CallIvrOutcome, _s(415), call_id="C4", outcome=IvrOutcome.AGENT_REQUESTED, ivr_ms=15_000)
    s.emit(CallQueued, _s(415), call_id="C4", business_line=BusinessLine.UNEMPLOYMENT)
    s.emit(CallAnswered, _s(460), call_id="C4", agent_id="A007", wait_ms=45_000)
    s.emit(
        TicketCreated,
        _s(700),
        ticket_id="T2",
        call_id="C4",
        category=TicketCategory.DANGEROUS_CALL,
        business_line=BusinessLine.UNEMPLOYMENT,
        agent_id="A007",
        due_at=T0 + timedelta(hours=1),
    )
    s.emit(
        CallEnded,
        _s(760),
        call_id="C4",
        agent_id="A007",
        talk_ms=300_000,
        acw_ms=60_000,
        hung_up_by=HungUpBy.AGENT,
    )
    s.emit(SurveyResponse, _s(770), call_id="C4", agent_id="A007", result=SurveyResult.BASIC)
    s.emit(TicketAssigned, _s(800), ticket_id="T2", assignee_id="supervisor-01")
    s.emit(TicketAssigned, _s(900), ticket_id="T1", assignee_id="js-nj-pension-bureau", routed=True)
    s.emit(TicketCallbackMade, _s(3600), ticket_id="T1", agent_id="A007", reached=True)
    s.emit(TicketResolved, _s(1500), ticket_id="T2", agent_id="supervisor-01")
    s.emit(TicketResolved, _s(3700), ticket_id="T1", agent_id="A007")
    s.emit(TicketReopened, _s(4000), ticket_id="T2", due_at=T0 + timedelta(hours=3))
    s.emit(TicketClosed, _s(7200), ticket_id="T1")
    s.emit(
        AgentStateChanged,
        _s(1800),
        agent_id="A007",
        state=AgentState.NOT_READY,
        reason=NotReadyReason.BREAK,
    )
    s.emit(AgentStateChanged, _s(28_800), agent_id="A007", state=AgentState.LOGGED_OUT)
    # QA
    s.emit(
        QaEvaluation,
        _s(5000),
        evaluation_id="QA-2025-320100-1",
        kind=QaKind.MYSTERY_SHOPPER,
        evaluated_center_id=CENTER_ID,
        evaluated_region_code="320100",
        agent_id="A007",
        evaluator="mohrss-qa-03",
        outcome=1,
        scores=QaScores(
            states_agent_number=5,
            polite_language=5,
            warm_tone=9,
            waits_for_caller_hangup=5,
            listens_patiently=9,
            grasps_and_guides=17,
            proper_closing=5,
            no_dead_air=4,
            responds_actively=10,
            accurate_complete=13,
            fits_caller=9,
        ),
    )
    s.emit(
        QaEvaluation,
        _s(5100),
        evaluation_id="QA-2025-320200-1",
        kind=QaKind.MYSTERY_SHOPPER,
        evaluated_center_id="js-wx-12333",
        evaluated_region_code="320200",
        evaluator="mohrss-qa-03",
        outcome=3,
    )
    # derived records
    s.emit(
        CallRecord,
        _s(0),
        call_id="C2",
        center_id=CENTER_ID,
        region_code=REGION_CODE,
        channel=Channel.PHONE,
        business_line=BusinessLine.PENSION,
        agent_id="A007",
        started_at=T0 + _s(60),
        ended_at=T0 + _s(272),
        queued=True,
        answered=True,
        answered_in_sl=True,
        wait_ms=12_000,
        talk_ms=150_000,
        hold_ms=30_000,
        transferred=True,
        transfer_target=TransferTarget.EXPERT_SEAT,
        caller_hung_up_first=True,
        survey_result=SurveyResult.SATISFIED,
        version=2,
    )
    s.emit(
        CallRecord,
        _s(0),
        call_id="C3",
        center_id=CENTER_ID,
        region_code=REGION_CODE,
        channel=Channel.WECHAT,
        business_line=BusinessLine.MEDICAL,
        started_at=T0 + _s(300),
        ended_at=T0 + _s(313),
        queued=True,
        abandoned=True,
        short_abandoned=True,
        wait_ms=3_000,
        caller_hung_up_first=True,
        repeat_7d=True,
        version=1,
    )
    s.emit(
        TicketRecord,
        _s(0),
        ticket_id="T1",
        center_id=CENTER_ID,
        region_code=REGION_CODE,
        call_id="C2",
        category=TicketCategory.COMPLAINT,
        business_line=BusinessLine.PENSION,
        status=TicketStatus.CLOSED,
        created_at=T0 + _s(260),
        due_at=T0 + timedelta(days=2),
        resolved_at=T0 + _s(3700),
        closed_at=T0 + _s(7200),
        callbacks=1,
        on_time=True,
        as_of=T0 + _s(7200),
        version=6,
    )
    s.emit(
        MetricSnapshot,
        _s(0),
        bucket_start=T0 + _s(60),
        level=Level.COUNTY,
        region_code=REGION_CODE,
        business_line=BusinessLine.PENSION,
        channel=Channel.PHONE,
        version=3,
        offered=1,
        queued=1,
        answered=1,
        answered_in_sl=1,
        wait_ms_answered=12_000,
        talk_ms=150_000,
        hold_ms=30_000,
        transferred=1,
        caller_hung_up_first=1,
        survey_responses=1,
        survey_satisfied=1,
    )
    s.emit(
        AgentTimeSnapshot,
        _s(0),
        bucket_start=T0 + _s(60),
        level=Level.COUNTY,
        region_code=REGION_CODE,
        version=1,
        staffed_ms=60_000,
        ready_ms=20_000,
        on_call_ms=30_000,
        acw_ms=10_000,
    )
    s.emit(
        TicketCountSnapshot,
        _s(0),
        bucket_start=T0 + _s(3660),
        level=Level.COUNTY,
        region_code=REGION_CODE,
        category=TicketCategory.COMPLAINT,
        version=4,
        created=1,
        resolved=1,
        resolved_on_time=1,
    )
    s.emit(
        Alert,
        _s(0),
        alert_id="AL-T2",
        kind=AlertKind.DANGEROUS_CALL,
        severity=Severity.CRITICAL,
        region_code=REGION_CODE,
        center_id=CENTER_ID,
        opened_at=T0 + _s(700),
        message="dangerous call ticket T2 opened; call back within 1 hour",
        dedupe_key="dangerous_call/T2",
        version=1,
    )
    s.emit(
        QueueSnapshot,
        _s(0),
        center_id=CENTER_ID,
        region_code=REGION_CODE,
        as_of=T0 + _s(5),
        waiting=1,
        longest_wait_ms=3_000,
    )
    s.emit(
        DeadLetter,
        _s(0),
        reason=DeadLetterReason.UNDECODABLE,
        stage="streams.assemble",
        source_topic="hotline.raw.32.calls",
        source_partition=2,
        source_offset=1234,
        original=b"\xc3\x01\x00\x00",
        error_type="CodecError",
        error_detail="truncated: 4 bytes, the single-object header needs 10",
        failed_at=T0 + _s(30),
    )
    return s.records


@cache
def all_examples() -> tuple[Record, ...]:
    """Every example record, in story order (raw events first, then derived records)."""
    return tuple(_story())


def examples_by_type() -> dict[str, tuple[Record, ...]]:
    """Example records grouped by dotted record type; every type has at least one."""
    grouped: dict[str, list[Record]] = {name: [] for name in RECORD_TYPES}
    for record in all_examples():
        grouped[record.RECORD_TYPE].append(record)
    return {name: tuple(records) for name, records in grouped.items()}
