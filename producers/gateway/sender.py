"""The gateway's way to Kafka: send a batch and answer only once Kafka settled every record.

A record Kafka refuses (:data:`~hotline.producers.delivery.REFUSALS`: too large, invalid) is
reported by its index, so the gateway rejects it and accepts the rest. A refusal seen in a
batch is not trusted (kafka-python then fails every record its producer had not acknowledged
with that same error): :class:`~hotline.producers.delivery.Settler` confirms it by sending the
record alone on a fresh producer, and sends the records behind it again, in order. Any other
failure (no broker, a timeout) is a :class:`~hotline.errors.RetryableError`.

:meth:`BatchSender.reachable` is the gateway's health (``GET /healthz``): whether Kafka takes
a connection now, asked afresh each time (the producer's own connections say nothing while it
is idle: it makes them on the first send and drops idle ones).
"""

from hotline.errors import RetryableError
from hotline.producers.base import DeliveryConfig, OutboundRecord
from hotline.producers.delivery import Settler, new_producer, reachable, refusal_reason

__all__ = ["BatchSender", "KafkaBatchSender"]


class BatchSender:
    """Sends records and returns once Kafka acknowledged or refused each one; the reasons of
    the refused ones by index. Raises ``RetryableError`` if Kafka did not settle them all."""

    def send(self, records: list[OutboundRecord], timeout_s: float) -> dict[int, str]:
        raise NotImplementedError

    def reachable(self, timeout_s: float) -> bool:
        """Whether Kafka can be reached now, found out within about ``timeout_s``."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the connection."""


class KafkaBatchSender(BatchSender):
    """A shared idempotent ``acks=all`` producer, (re)connected on demand."""

    def __init__(self, config: DeliveryConfig) -> None:
        self._bootstrap_servers = config.bootstrap_servers
        self._kafka = Settler(lambda: new_producer(config, "hotline-gateway"))

    def send(self, records: list[OutboundRecord], timeout_s: float) -> dict[int, str]:
        settled = self._kafka.settle(records, timeout_s)
        if settled.error is not None:
            raise RetryableError(f"Kafka did not acknowledge the batch: {settled.error!r}")
        return {i: refusal_reason(f.exception) for i, f in enumerate(settled.done) if f.failed()}

    def reachable(self, timeout_s: float) -> bool:
        """Whether a bootstrap address accepts a TCP connection within ``timeout_s`` (each)."""
        return reachable(self._bootstrap_servers, timeout_s)

    def close(self) -> None:
        self._kafka.close()
