"""Call lifecycle events (offered → IVR outcome → queued → answered/abandoned → transferred
→ ended) and the post-call survey. All are keyed by ``call_id``.

``caller_id`` is a keyed hash (HMAC-SHA256, the deployment key) of the caller's number,
computed before the event leaves the center; a phone number never fits its pattern.
"""

from __future__ import annotations

from hotline.schemas.base import Event
from hotline.schemas.enums import (
    BusinessLine,
    Channel,
    HungUpBy,
    IvrOutcome,
    SelfServiceKind,
    SurveyResult,
    TransferTarget,
)
from hotline.schemas.types import CallerId, Id, Millis


class CallOffered(Event):
    """A call (or contact on another channel) reached the hotline."""

    RECORD_TYPE = "call.offered"

    call_id: Id
    channel: Channel
    caller_id: CallerId | None = None
    """Null when the number is withheld; such calls never count as repeats."""


class CallIvrOutcome(Event):
    """The IVR part ended: self-served, or the caller asked for a person (转人工)."""

    RECORD_TYPE = "call.ivr_outcome"

    call_id: Id
    outcome: IvrOutcome
    self_service_kind: SelfServiceKind | None = None
    ivr_ms: Millis = 0


class CallQueued(Event):
    """The caller entered an agent queue for a business line."""

    RECORD_TYPE = "call.queued"

    call_id: Id
    business_line: BusinessLine


class CallAnswered(Event):
    """An agent answered after ``wait_ms`` in the queue."""

    RECORD_TYPE = "call.answered"

    call_id: Id
    agent_id: Id
    wait_ms: Millis


class CallAbandoned(Event):
    """The caller hung up in the queue after ``wait_ms``."""

    RECORD_TYPE = "call.abandoned"

    call_id: Id
    wait_ms: Millis


class CallTransferred(Event):
    """The agent transferred the call to a supervisor, expert seat, department or 12345."""

    RECORD_TYPE = "call.transferred"

    call_id: Id
    agent_id: Id
    target: TransferTarget


class CallEnded(Event):
    """The call ended; durations are totals for the call, after-call work included."""

    RECORD_TYPE = "call.ended"

    call_id: Id
    agent_id: Id | None = None
    talk_ms: Millis = 0
    hold_ms: Millis = 0
    acw_ms: Millis = 0
    hung_up_by: HungUpBy


class SurveyResponse(Event):
    """The caller's answer to the post-call IVR satisfaction survey."""

    RECORD_TYPE = "survey.response"

    call_id: Id
    agent_id: Id | None = None
    result: SurveyResult
