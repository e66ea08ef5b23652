"""Every record type of the contracts: its dotted name, its pydantic model, its Avro record.

``RECORD_TYPES`` maps the dotted name (``call.offered``) to the model; ``EVENT_TYPES`` is the
subset with an envelope (raw events from centers), ``DERIVED_TYPES`` the pipeline's records.
"""

from __future__ import annotations

from hotline.schemas.agents import AgentStateChanged
from hotline.schemas.base import Event, Record
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
from hotline.schemas.qa import QaEvaluation
from hotline.schemas.tickets import (
    TicketAssigned,
    TicketCallbackMade,
    TicketClosed,
    TicketCreated,
    TicketReopened,
    TicketResolved,
)

_MODELS: tuple[type[Record], ...] = (
    CallOffered,
    CallIvrOutcome,
    CallQueued,
    CallAnswered,
    CallAbandoned,
    CallTransferred,
    CallEnded,
    SurveyResponse,
    TicketCreated,
    TicketAssigned,
    TicketCallbackMade,
    TicketResolved,
    TicketReopened,
    TicketClosed,
    AgentStateChanged,
    QaEvaluation,
    CallRecord,
    TicketRecord,
    MetricSnapshot,
    AgentTimeSnapshot,
    TicketCountSnapshot,
    QueueSnapshot,
    Alert,
    DeadLetter,
)

RECORD_TYPES: dict[str, type[Record]] = {model.RECORD_TYPE: model for model in _MODELS}
EVENT_TYPES: dict[str, type[Event]] = {
    name: model for name, model in RECORD_TYPES.items() if issubclass(model, Event)
}
DERIVED_TYPES: dict[str, type[Record]] = {
    name: model for name, model in RECORD_TYPES.items() if name not in EVENT_TYPES
}

#: The Kafka message key field of each record type (one call / ticket / agent per partition).
KEY_FIELDS: dict[str, str] = {
    **{name: "call_id" for name in RECORD_TYPES if name.startswith(("call.", "survey."))},
    **{name: "ticket_id" for name in RECORD_TYPES if name.startswith("ticket.")},
    "agent.state": "agent_id",
    "qa.evaluation": "evaluation_id",
    "metric.snapshot": "region_code",
    "agent_time.snapshot": "region_code",
    "ticket_count.snapshot": "region_code",
    "queue.snapshot": "center_id",
    "alert.record": "dedupe_key",
    "dead_letter.record": "source_topic",
}


def model_for(record_type: str) -> type[Record]:
    """The model of a dotted record type; ``KeyError`` names the unknown type."""
    try:
        return RECORD_TYPES[record_type]
    except KeyError:
        raise KeyError(f"unknown record type {record_type!r}") from None
