"""The gateway's way to Kafka: send a batch and answer only once Kafka settled every record.

A record Kafka refuses (:data:`~hotline.producers.delivery.REFUSALS`: too large, invalid) is
reported by its index, so the gateway rejects it and accepts the rest. kafka-python marks an
idempotent producer fatal after a refusal by the broker and fails every record it has not
acknowledged with that same error, so a refusal seen in a batch is not trusted: the producer
is replaced and each record not acknowledged is sent again alone, in order, each settled before
the next (per-key order is kept); a record refused alone is refused. Any other failure (no
broker, a timeout) is a :class:`~hotline.errors.RetryableError`.
"""

import time
from contextlib import suppress

from kafka import KafkaProducer
from kafka.errors import KafkaError, KafkaTimeoutError
from kafka.future import Future

from hotline.errors import RetryableError
from hotline.producers.base import DeliveryConfig, OutboundRecord
from hotline.producers.delivery import (
    abandon,
    is_refusal,
    new_producer,
    refusal_reason,
    send_record,
)

__all__ = ["BatchSender", "KafkaBatchSender"]


class BatchSender:
    """Sends records and returns once Kafka acknowledged or refused each one; the reasons of
    the refused ones by index. Raises ``RetryableError`` if Kafka did not settle them all."""

    def send(self, records: list[OutboundRecord], timeout_s: float) -> dict[int, str]:
        raise NotImplementedError

    def close(self) -> None:
        """Release the connection."""


class KafkaBatchSender(BatchSender):
    """A shared idempotent ``acks=all`` producer, (re)connected on demand."""

    def __init__(self, config: DeliveryConfig) -> None:
        self.config = config
        self._producer: KafkaProducer | None = None

    def send(self, records: list[OutboundRecord], timeout_s: float) -> dict[int, str]:
        deadline = time.monotonic() + timeout_s
        try:
            futures = self._settle(records, deadline)
            if not any(is_refusal(f) for f in futures):
                for future in futures:
                    if future.failed():
                        raise future.exception
                return {}
            refused: dict[int, str] = {}
            for i, future in enumerate(futures):
                if future.succeeded():
                    continue
                self._drop()  # fatal after a refusal: a fresh producer for each try alone
                [alone] = self._settle([records[i]], deadline)
                if is_refusal(alone):
                    refused[i] = refusal_reason(alone.exception)
                elif alone.failed():
                    raise alone.exception
            return refused
        except (KafkaError, OSError) as exc:
            self._drop()
            raise RetryableError(f"Kafka did not acknowledge the batch: {exc!r}") from exc

    def _settle(self, records: list[OutboundRecord], deadline: float) -> list[Future]:
        """Send ``records`` and wait until each is acknowledged or failed; their futures.

        Raises ``KafkaTimeoutError`` if one is still open at ``deadline``."""
        if self._producer is None:
            self._producer = new_producer(self.config, "hotline-gateway")
        producer = self._producer
        futures = [send_record(producer, r) for r in records]
        with suppress(KafkaError):  # a batch split for size ends flush early; futures tell
            producer.flush(timeout=max(0.0, deadline - time.monotonic()))
        for future in futures:
            if future.is_done:  # a refusal by ``send`` itself is a done plain Future
                continue
            try:
                future.get(timeout=max(0.0, deadline - time.monotonic()))
            except KafkaError:
                if not future.is_done:
                    raise KafkaTimeoutError("Kafka did not acknowledge in time") from None
        return futures

    def _drop(self) -> None:
        if self._producer is not None:
            abandon(self._producer)
            self._producer = None

    def close(self) -> None:
        if self._producer is not None:
            self._producer.close(timeout=5)
            self._producer = None
