"""The producer layer's contract: configuration, the outbound record, errors, sequencing.

Lifecycle of a delivery sink (:class:`~hotline.producers.delivery.KafkaEventSink`)::

    sink = KafkaEventSink(config, producer_id)   # opens the spool, drains it first if possible
    sink.emit(event)        # validate → pseudonymity check → encode → Kafka or spool; may block
    sink.flush()            # every earlier event is acknowledged by Kafka or fsynced in the spool
    sink.close()            # flush, then release the producer and the spool lock

``emit`` never drops an event silently: it is sent, spooled, or dead-lettered locally with its
reason (:class:`RefusedEvent`, or Kafka refused it: ``delivery.REFUSALS``). It raises
:class:`SpoolFull` (backpressure) when Kafka is away and the spool has reached its limit.

Errors::

    HotlineError
    ├── InvalidInput ── RefusedEvent       an event that must not leave (dead-lettered locally)
    ├── Backpressure ── SpoolFull          Kafka away and the spool at its limit
    └── HotlineError ── SpoolCorrupt       a spool segment is damaged beyond a torn tail
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from hotline.errors import Backpressure, HotlineError, InvalidInput
from hotline.settings import Settings

__all__ = [
    "DeliveryConfig",
    "OutboundRecord",
    "RefusedEvent",
    "Sequencer",
    "SpoolCorrupt",
    "SpoolFull",
]


class RefusedEvent(InvalidInput):
    """An event the delivery will not send (e.g. a phone number in a caller field)."""


class SpoolFull(Backpressure):
    """Kafka is unreachable and the spool holds as much as it may; the emitter must pause."""

    def __init__(self, path: Path, limit: int, used: int, needed: int) -> None:
        self.path, self.limit, self.used, self.needed = path, limit, used, needed
        super().__init__(
            f"spool {path} is full: {used} of {limit} bytes used, {needed} more needed; "
            "Kafka has been unreachable for a while — restore it (the spool then drains) "
            "or raise spool_max_bytes"
        )


class SpoolCorrupt(HotlineError):
    """A spool segment is damaged where no crash could have left it (not a torn tail)."""


@dataclass(frozen=True, slots=True)
class OutboundRecord:
    """One Kafka message as it is sent and as it is spooled."""

    topic: str
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()

    def header(self, name: str) -> bytes | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None


class DeliveryConfig(BaseModel):
    """How a producer talks to Kafka and where it spools. Build with :meth:`from_settings`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    bootstrap_servers: str = "127.0.0.1:9092"
    topic_prefix: str = "hotline"
    compression_type: str | None = Field("lz4", description="lz4 (pinned package), gzip or None")
    linger_ms: int = Field(20, ge=0)
    batch_size: int = Field(256 * 1024, ge=1024)
    max_in_flight: int = Field(5, ge=1, le=5, description="≤ 5 keeps order with idempotence")
    request_timeout_ms: int = Field(10_000, ge=1000)
    delivery_timeout_ms: int = Field(30_000, ge=1000)
    max_block_ms: int = Field(5_000, ge=100)
    bootstrap_timeout_ms: int = Field(3_000, ge=100)
    spool_root: Path = Path(".hotline/spool")
    spool_max_bytes: int = Field(1024**3, ge=1024)
    spool_segment_bytes: int = Field(64 * 1024 * 1024, ge=1024)
    spool_batch: int = Field(1000, ge=1, description="records per fsync while spooling")
    drain_batch: int = Field(5000, ge=1, description="records per acknowledged drain step")
    outage_after_s: float = Field(
        10.0, gt=0, description="an unacknowledged record this old means Kafka is away"
    )
    probe_interval_s: float = Field(2.0, gt=0, description="how often to retry Kafka in outage")

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: object) -> DeliveryConfig:
        """Kafka address and topic prefix from ``settings``, spool under the stack home."""
        values: dict[str, object] = {
            "bootstrap_servers": settings.kafka.bootstrap_servers,
            "topic_prefix": settings.kafka.topic_prefix,
            "spool_root": settings.stack.home / "spool",
        }
        values.update(overrides)
        return cls.model_validate(values)

    def spool_dir(self, producer_id: str) -> Path:
        """The spool folder of one producer: ``<spool_root>/<producer_id>``."""
        return self.spool_root / producer_id


class Sequencer:
    """Per-producer sequence numbers (0, 1, 2, …) for the envelope's ``sequence`` field.

    A gap downstream means a lost event. Start from the last number used (``start``) when a
    producer resumes, so numbers never repeat for one ``producer_id``.
    """

    __slots__ = ("_counter", "producer_id")

    def __init__(self, producer_id: str, start: int = 0) -> None:
        self.producer_id = producer_id
        self._counter = itertools.count(start)

    def next(self) -> int:
        """The next sequence number."""
        return next(self._counter)
