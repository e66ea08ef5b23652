"""The pydantic side of the contracts: the record base class and the envelope.

Every model is frozen, forbids unknown fields and keeps input values out of its validation
errors. ``model.to_avro()`` gives the dict the codec encodes; ``Model.from_avro(d)``
validates a decoded dict. Cross-field rules that Avro cannot express are declared once in
``PRESENT_IFF`` and mirrored as a ``hotline.present_iff`` property in the ``.avsc`` file (see
:mod:`hotline.schemas.contract`).
"""

from __future__ import annotations

from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, model_validator

from hotline.schemas.types import Count, EventType, Id, RegionCode, SchemaVersion, UtcMillis, Uuid

NAMESPACE = "cn.hotline.events"

#: Every record and the envelope: frozen, no unknown fields, and validation errors that name
#: the field and the rule but never echo the value (``hide_input_in_errors``): a decoded event
#: is untrusted input, and its error text goes to dead letters and logs — a raw phone number
#: in ``caller_id`` must not (docs/privacy.md).
_CONFIG = ConfigDict(
    frozen=True, extra="forbid", use_attribute_docstrings=True, hide_input_in_errors=True
)


class Record(BaseModel):
    """Base of every record type: one model per ``.avsc`` record of the same name."""

    model_config = _CONFIG

    #: The dotted type name (``call.offered``), the codec's key for this record type.
    RECORD_TYPE: ClassVar[str]
    #: Field → (other field, values): the field is non-null exactly when other is in values.
    PRESENT_IFF: ClassVar[dict[str, tuple[str, tuple[Any, ...]]]] = {}

    @classmethod
    def avro_name(cls) -> str:
        """The full name of the matching Avro record, e.g. ``cn.hotline.events.CallOffered``."""
        return f"{NAMESPACE}.{cls.__name__}"

    @model_validator(mode="after")
    def _check_present_iff(self) -> Self:
        for name, (other, values) in self.PRESENT_IFF.items():
            required = getattr(self, other) in values
            present = getattr(self, name) is not None
            if required != present:
                state = "required" if required else "not allowed"
                raise ValueError(f"{name} is {state} when {other} is {getattr(self, other)!r}")
        return self

    def to_avro(self) -> dict[str, Any]:
        """The dict form the codec and fastavro take (enums stay ``StrEnum``, times datetime)."""
        return self.model_dump()

    @classmethod
    def from_avro(cls, data: dict[str, Any]) -> Self:
        """Validate a decoded dict into this model."""
        return cls.model_validate(data)


class Envelope(BaseModel):
    """Carried by every raw event: who emitted it, when, about which region, in what order."""

    model_config = _CONFIG

    event_id: Uuid
    event_type: EventType
    occurred_at: UtcMillis
    center_id: Id
    region_code: RegionCode
    producer_id: Id
    sequence: Count
    schema_version: SchemaVersion = 1


class Event(Record):
    """A raw event from a center: an envelope plus the family's payload fields."""

    envelope: Envelope

    @model_validator(mode="after")
    def _check_event_type(self) -> Self:
        if self.envelope.event_type != self.RECORD_TYPE:
            raise ValueError(
                f"envelope.event_type is {self.envelope.event_type!r}, "
                f"expected {self.RECORD_TYPE!r} for {type(self).__name__}"
            )
        return self
