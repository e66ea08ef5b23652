"""Event contracts and the wire codec of hotline.

- Avro schemas (the wire contract): ``schemas/avro/*.avsc``; released versions in
  ``schemas/avro/history/``; loaded by :mod:`hotline.schemas.registry`.
- Pydantic models (the in-process contract): :mod:`~hotline.schemas.calls`,
  :mod:`~hotline.schemas.tickets`, :mod:`~hotline.schemas.agents`, :mod:`~hotline.schemas.qa`,
  :mod:`~hotline.schemas.derived`; enums in :mod:`~hotline.schemas.enums`;
  ``RECORD_TYPES`` maps ``"call.offered"`` etc. to the model.
- :func:`check` validates a dict against its ``.avsc`` contract without pydantic.
- :class:`Codec` / :func:`default_codec`: Avro single-object encoding.
- :mod:`hotline.schemas.examples`: example records of every type.
"""

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
from hotline.schemas.catalog import DERIVED_TYPES, EVENT_TYPES, KEY_FIELDS, RECORD_TYPES, model_for
from hotline.schemas.codec import Codec, default_codec
from hotline.schemas.contract import check
from hotline.schemas.derived import (
    AGENT_TIME_COUNTERS,
    METRIC_COUNTERS,
    TICKET_COUNT_COUNTERS,
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
from hotline.schemas.errors import CodecError, ContractViolation
from hotline.schemas.qa import RUBRIC, QaEvaluation, QaScores
from hotline.schemas.tickets import (
    TicketAssigned,
    TicketCallbackMade,
    TicketClosed,
    TicketCreated,
    TicketReopened,
    TicketResolved,
)

__all__ = [
    "AGENT_TIME_COUNTERS",
    "DERIVED_TYPES",
    "EVENT_TYPES",
    "KEY_FIELDS",
    "METRIC_COUNTERS",
    "RECORD_TYPES",
    "RUBRIC",
    "TICKET_COUNT_COUNTERS",
    "AgentState",
    "AgentStateChanged",
    "AgentTimeSnapshot",
    "Alert",
    "AlertKind",
    "BusinessLine",
    "CallAbandoned",
    "CallAnswered",
    "CallEnded",
    "CallIvrOutcome",
    "CallOffered",
    "CallQueued",
    "CallRecord",
    "CallTransferred",
    "Channel",
    "Codec",
    "CodecError",
    "ContractViolation",
    "DeadLetter",
    "DeadLetterReason",
    "Envelope",
    "Event",
    "HungUpBy",
    "IvrOutcome",
    "Level",
    "MetricSnapshot",
    "NotReadyReason",
    "QaEvaluation",
    "QaKind",
    "QaScores",
    "QueueSnapshot",
    "Record",
    "SelfServiceKind",
    "Severity",
    "SurveyResponse",
    "SurveyResult",
    "TicketAssigned",
    "TicketCallbackMade",
    "TicketCategory",
    "TicketClosed",
    "TicketCountSnapshot",
    "TicketCreated",
    "TicketRecord",
    "TicketReopened",
    "TicketResolved",
    "TicketStatus",
    "TransferTarget",
    "check",
    "default_codec",
    "model_for",
]
