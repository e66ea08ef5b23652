"""Delivering events to Kafka: prepare (check, encode, route) and send, spooling on outage.

**Preparing** an event (:class:`Preparer`, pure, no broker): refuse a caller field that looks
like a phone number (:class:`~hotline.producers.base.RefusedEvent`: pseudonymise first, see
:mod:`hotline.privacy`), encode with the Avro single-object codec, key by the record type's
``KEY_FIELDS`` entry (one call / ticket / agent stays on one partition), route to the raw topic
of the event's province and family (:func:`hotline.infra.topics.raw_topic`), and add headers
``event_type``, ``schema_fingerprint`` (hex), ``event_id`` and ``producer_id`` (the envelope's).

**Sending** (:class:`KafkaEventSink`): kafka-python with ``acks=all``, idempotence, lz4,
``linger_ms``/``batch_size`` batching and at most 5 requests in flight (which keeps order per
partition under idempotence). The sink is in one of two modes:

- *direct*: records go to the producer; their futures are kept in send order. A record not
  acknowledged after ``outage_after_s``, a failed send, or a failure other than a refusal
  (below) means Kafka is away: the producer is closed at once and every record it had not
  acknowledged is written to the spool *in send order* (if the spool has no room for them,
  they wait in memory: they were taken), then the sink spools.
- *spooling*: new records are appended to the spool behind the older ones (fsync per
  ``spool_batch`` records and on :meth:`~KafkaEventSink.flush`), so order is kept. Every
  ``probe_interval_s`` the sink tries Kafka; once it answers, the spool is drained oldest
  first, ``drain_batch`` records at a time; the cursor moves past the records of a step that
  are acknowledged or refused, up to the first that is neither. Records waiting in memory
  follow, through the spool, or from memory while they do not fit in the empty spool. An
  empty spool and memory switch back to direct mode.

:class:`SpoolFull` from :meth:`~KafkaEventSink.emit_record` means exactly that its record was
not taken (emit it again after a pause); it is never raised for records taken before.

A record Kafka *refuses* (:data:`REFUSALS`: too large, invalid; retrying cannot change the
answer) is dead-lettered with the reason, counted in :attr:`~KafkaEventSink.refused` and
skipped, in both modes, so the records behind it go on; no other record is. A refusal is
trusted only for a record sent alone on a fresh producer: once the broker refused a record,
kafka-python marks the idempotent producer fatal and fails every record it has not
acknowledged, later ones too, with that same error. So a drain step goes through
:class:`Settler` (as does the HTTP gateway): the producer is replaced, the first record not
acknowledged is sent alone, then the ones behind it again together, and so on, in order. In
direct mode a refusal lets the records in flight settle, spools the unacknowledged ones in
send order and drains them at once (no outage is counted): the sink is back in direct mode
unless Kafka went away meanwhile.

A sink opened on a non-empty spool (left by an earlier process) starts by draining it.

Delivery is at-least-once with duplicates limited to what idempotence cannot see: a record
whose request reached the broker but whose acknowledgement was lost when the producer was
closed for an outage, a record acknowledged behind the first unacknowledged one of a drain
step an outage cut short, or a crash between Kafka's acknowledgement of a drain step and the
cursor's fsync. Each carries its ``event_id``; the stream's assemble stage drops duplicates.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kafka import KafkaProducer
from kafka.errors import (
    InvalidRecordError,
    InvalidTimestampError,
    KafkaError,
    KafkaTimeoutError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
)
from kafka.future import Future

from hotline.errors import InvalidInput
from hotline.infra.topics import connect_problems, raw_topic
from hotline.privacy import blank_phone_runs, looks_like_phone, mask_phone
from hotline.producers.base import DeliveryConfig, OutboundRecord, RefusedEvent, SpoolFull
from hotline.producers.spool import Spool
from hotline.regions import RegionRegistry, default_registry
from hotline.schemas import KEY_FIELDS, Codec, Event, default_codec
from hotline.schemas.redact import may_hold_phone_number, phone_number_problem
from hotline.schemas.types import CALLER_ID_PATTERN
from hotline.settings import KafkaSettings

__all__ = [
    "FAMILIES",
    "REFUSALS",
    "DeadLetterLog",
    "KafkaEventSink",
    "Preparer",
    "Settled",
    "Settler",
    "caller_problem",
    "connect_problems",
    "family_of",
    "new_producer",
    "refusal_reason",
]

log = logging.getLogger(__name__)

#: Record type prefix → raw topic family (``hotline.infra.topics.RAW_FAMILIES``).
FAMILIES: dict[str, str] = {
    "call": "calls",
    "survey": "surveys",
    "ticket": "tickets",
    "agent": "agents",
    "qa": "qa",
}
_CALLER_ID = re.compile(CALLER_ID_PATTERN)

#: Errors by which Kafka refuses one record for what it is (its size, content or time stamp):
#: sending it again cannot succeed, so it is dead-lettered (once :class:`Settler` confirmed it
#: is that record's own). Every other error, retriable or not (no broker, a fenced producer),
#: counts as an outage: the record is spooled and sent again, so nothing good is dropped. So
#: do a topic Kafka does not let this producer write and a topic name it rejects: a
#: configuration to fix, after which the spooled records go through (dead letters keep no
#: payload: they would be lost).
REFUSALS: tuple[type[KafkaError], ...] = (
    InvalidRecordError,
    InvalidTimestampError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
)


def family_of(record_type: str) -> str:
    """The raw topic family of an event type (``call.offered`` → ``calls``)."""
    try:
        return FAMILIES[record_type.split(".", 1)[0]]
    except KeyError:
        raise InvalidInput(f"{record_type!r} is not a raw event type; no raw topic") from None


def caller_problem(fields: Mapping[str, Any]) -> str | None:
    """Why a caller field of ``fields`` must not leave the center, or None.

    A caller field is any key starting with ``caller`` holding text. Refused: text of digits
    and phone punctuation (spaces, ``+()-./``) with at least 5 digits
    (:func:`hotline.privacy.looks_like_phone`: a number in clear), shown only masked. Text
    that is a 64-hex HMAC id passes; anything else is left to the schema's validation.
    """
    for name, value in fields.items():
        if not name.startswith("caller") or not isinstance(value, str):
            continue
        if _CALLER_ID.fullmatch(value):
            continue
        if looks_like_phone(value):
            return (
                f"{blank_phone_runs(name)} holds a phone number in clear {mask_phone(value)}; "
                "send its keyed hash (hotline.privacy.caller_id) instead"
            )
    return None


class Preparer:
    """Turns events into :class:`OutboundRecord` s: check, encode, key, route, headers."""

    def __init__(
        self,
        kafka: KafkaSettings | None = None,
        codec: Codec | None = None,
        regions: RegionRegistry | None = None,
    ) -> None:
        self.kafka = kafka or KafkaSettings()
        self.codec = codec or default_codec()
        self.regions = regions or default_registry()
        self._topics: dict[tuple[str, str], str] = {}
        # (region, record type) → topic, then the constant headers, pre-encoded
        self._routes: dict[tuple[str, str], tuple[str, bytes, bytes]] = {}
        self._callers: dict[type[Event], tuple[str, ...]] = {}
        self._encode = self.codec.encode

    def topic(self, region_code: str, record_type: str) -> str:
        """The raw topic of ``record_type`` events about ``region_code`` (cached)."""
        family = family_of(record_type)
        found = self._topics.get((region_code, family))
        if found is None:
            province = self.regions.province_of(region_code).code
            found = raw_topic(self.kafka, province, family)
            self._topics[(region_code, family)] = found
        return found

    def prepare(self, event: Event) -> OutboundRecord:
        """The record of ``event``; :class:`RefusedEvent` / ``InvalidInput`` if it cannot go.

        ``event`` is a validated model already (validation happened when it was built), so
        nothing is validated again here: the caller check, one encode, cached routing, and
        no phone number in an id (:func:`hotline.schemas.redact.phone_number_problem`).
        """
        cls = type(event)
        fields = self._callers.get(cls)
        if fields is None:
            fields = tuple(n for n in cls.model_fields if n.startswith("caller"))
            self._callers[cls] = fields
        if fields:
            problem = caller_problem({n: getattr(event, n) for n in fields})
            if problem:
                raise RefusedEvent(problem)
        record_type = event.RECORD_TYPE
        envelope = event.envelope
        route = self._routes.get((envelope.region_code, record_type))
        if route is None:
            route = (
                self.topic(envelope.region_code, record_type),
                record_type.encode(),
                self.codec.fingerprint(record_type).hex().encode(),
            )
            self._routes[(envelope.region_code, record_type)] = route
        topic, event_type, fingerprint = route
        key = getattr(event, KEY_FIELDS[record_type], None)
        record = event.to_avro()
        value = self._encode(record_type, record)
        if may_hold_phone_number(value) and (problem := phone_number_problem(record)):
            raise RefusedEvent(problem)
        return OutboundRecord(
            topic=topic,
            key=key.encode() if isinstance(key, str) else None,
            value=value,
            headers=(
                ("event_type", event_type),
                ("schema_fingerprint", fingerprint),
                ("event_id", envelope.event_id.encode()),
                ("producer_id", envelope.producer_id.encode()),
            ),
        )


class DeadLetterLog:
    """Events refused before sending: one JSON line each (id, type, reason; no payload).

    :meth:`append` writes lines its caller built (the HTTP gateway's carry more: its stage and
    the masked original); writes are serialised, so threads may share one log.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.count = 0
        self._lock = threading.Lock()

    def write(self, event: Event | Mapping[str, Any], reason: str) -> None:
        if isinstance(event, Event):
            envelope: Mapping[str, Any] = event.envelope.model_dump(mode="json")
        else:
            envelope = event.get("envelope") or {}
            if not isinstance(envelope, Mapping):
                envelope = {}
        self.append(
            [
                {
                    "event_id": envelope.get("event_id"),
                    "event_type": envelope.get("event_type"),
                    "center_id": envelope.get("center_id"),
                    "reason": reason,
                }
            ]
        )

    def append(self, lines: Iterable[Mapping[str, Any]]) -> int:
        """Append ``lines`` (each after an ``at`` time stamp) in one write; how many.

        Raises ``OSError`` if the file cannot be written."""
        at = datetime.now(UTC).isoformat(timespec="milliseconds")
        text = "".join(json.dumps({"at": at, **line}, ensure_ascii=False) + "\n" for line in lines)
        if not text:
            return 0
        n = text.count("\n")
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as f:
                f.write(text)
            self.count += n
        return n


def new_producer(config: DeliveryConfig, client_id: str) -> KafkaProducer:
    """A kafka-python producer with the delivery settings (raises ``KafkaError`` if away)."""
    return KafkaProducer(
        bootstrap_servers=config.bootstrap_servers,
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        compression_type=config.compression_type,
        linger_ms=config.linger_ms,
        batch_size=config.batch_size,
        max_in_flight_requests_per_connection=config.max_in_flight,
        request_timeout_ms=config.request_timeout_ms,
        delivery_timeout_ms=config.delivery_timeout_ms,
        max_block_ms=config.max_block_ms,
        bootstrap_timeout_ms=config.bootstrap_timeout_ms,
        reconnect_backoff_max_ms=1000,
    )


def abandon(producer: KafkaProducer) -> None:
    """Close ``producer`` at once, failing whatever it has not sent.

    kafka-python's ``close(timeout=0)`` first calls ``flush(0)``, which raises while records
    are pending, and then never stops its sender thread; so on that error the sender is
    force-closed here (its pending futures fail, and the caller spools their records).
    """
    try:
        producer.close(timeout=0)
    except KafkaError:
        sender = getattr(producer, "_sender", None)
        if sender is not None:
            sender.force_close()
            sender.join(5)
        producer._closed = True


def _send_record(producer: KafkaProducer, record: OutboundRecord) -> Future:
    """Hand ``record`` to ``producer``; a refusal ``send`` raises comes back as a failed future.

    Other ``KafkaError`` s (Kafka away) are raised.
    """
    try:
        return producer.send(
            record.topic, value=record.value, key=record.key, headers=list(record.headers)
        )
    except REFUSALS as exc:  # kafka-python checks max_request_size before sending
        return Future().failure(exc)


def _is_refusal(future: Future) -> bool:
    """Whether ``future`` failed with one of :data:`REFUSALS`."""
    return future.failed() and isinstance(future.exception, REFUSALS)


def refusal_reason(exc: BaseException) -> str:
    """The dead-letter reason of a record Kafka refused with ``exc``, naming Kafka's error."""
    detail, name = str(exc), type(exc).__name__
    return f"Kafka refused the record: {detail if name in detail else f'{name}: {detail}'}"


def _await_futures(producer: KafkaProducer, futures: Iterable[Future], deadline: float) -> None:
    """Flush ``producer``, then wait until each of ``futures`` is done or ``deadline`` (a
    ``time.monotonic()``) passed.

    kafka-python's ``flush`` raises ``UnknownError('Future not done')`` when the broker made it
    split a batch for size, while the halves are still on their way; the futures tell."""
    with suppress(KafkaError):
        producer.flush(timeout=max(0.0, deadline - time.monotonic()))
    for future in futures:
        if not future.is_done:
            with suppress(KafkaError):  # failed or timed out: the future says which
                future.get(timeout=max(0.0, deadline - time.monotonic()))


@dataclass
class Settled:
    """What Kafka made of a list of records: :attr:`done`, the futures of its longest prefix
    Kafka settled, each acknowledged or failed with a refusal of that record's own;
    :attr:`error`, why the next record is not settled (Kafka away, a timeout), None if all
    are."""

    done: list[Future]
    error: BaseException | None


class Settler:
    """Sends lists of records on a producer of its own and settles each record.

    kafka-python marks an idempotent producer fatal once the broker refused a record, and fails
    every record it has not acknowledged with that same refusal. So a refusal in a list is not
    trusted: the producer is replaced, the first record not acknowledged is sent alone (a
    refusal now is its own), then the ones behind it are sent again together, and so on; each
    round settles at least one record, and the order of the list is kept.

    Threads may share one (the gateway's request threads do): a thread drops only the producer
    it used, so a fresh one another thread opened meanwhile stays, and each producer is
    abandoned once.
    """

    def __init__(self, connect: Callable[[], KafkaProducer]) -> None:
        self._connect = connect
        self.producer: KafkaProducer | None = None
        self._lock = threading.Lock()

    def open(self) -> KafkaProducer:
        """The producer, connected now if there is none (``KafkaError``/``OSError`` if away)."""
        with self._lock:
            if self.producer is None:
                self.producer = self._connect()
            return self.producer

    def drop(self, used: KafkaProducer | None = None) -> None:
        """Abandon (:func:`abandon`) the producer ``used`` (default: the current one): it
        failed, or a refusal made it fatal. Nothing if it is no longer the current one (it
        was dropped already)."""
        with self._lock:
            victim = self.producer
            if victim is None or (used is not None and used is not victim):
                return
            self.producer = None
        abandon(victim)

    def close(self) -> None:
        """Close the producer, waiting up to 5 s for what it holds."""
        with self._lock:
            producer, self.producer = self.producer, None
        if producer is not None:
            producer.close(timeout=5)

    def settle(self, records: list[OutboundRecord], timeout_s: float) -> Settled:
        """Send ``records`` and wait, ``timeout_s`` at most, until Kafka settled each; a
        record not settled drops the producer (the caller sends it again later)."""
        deadline = time.monotonic() + timeout_s
        final: list[Future | None] = [None] * len(records)
        todo, error, used = list(range(len(records))), None, None
        try:
            while todo and error is None:
                todo, error, used = self._round(records, todo, final, deadline)
        except (KafkaError, OSError) as exc:
            error = exc
        if error is not None:
            self.drop(used)
        settled = final.index(None) if None in final else len(final)
        return Settled([f for f in final[:settled] if f is not None], error)

    def _round(
        self,
        records: list[OutboundRecord],
        todo: list[int],
        final: list[Future | None],
        deadline: float,
    ) -> tuple[list[int], BaseException | None, KafkaProducer]:
        """Send the records at ``todo`` together and put the future of each one settled in
        ``final``; the indexes left to send, why they are not settled if Kafka is away, and
        the producer last used."""
        producer, futures = self._send([records[i] for i in todo], deadline)
        for i, future in zip(todo, futures, strict=True):
            if future.succeeded():
                final[i] = future
        left = [i for i in todo if final[i] is None]
        if not left:
            return [], None, producer
        if not any(_is_refusal(f) for f in futures):  # Kafka away: the first unsettled tells
            return left, _failure(futures[todo.index(left[0])]), producer
        self.drop(producer)  # it is fatal: a refusal is trusted for a record alone on a fresh one
        producer, [alone] = self._send([records[left[0]]], deadline)
        if not (alone.succeeded() or _is_refusal(alone)):
            return left, _failure(alone), producer
        final[left[0]] = alone
        if _is_refusal(alone):
            self.drop(producer)
        return left[1:], None, producer

    def _send(
        self, records: list[OutboundRecord], deadline: float
    ) -> tuple[KafkaProducer, list[Future]]:
        producer = self.open()
        futures = [_send_record(producer, r) for r in records]
        _await_futures(producer, futures, deadline)
        return producer, futures


def _failure(future: Future) -> BaseException:
    """Why ``future`` is not settled: its error, or a timeout if it is not done."""
    if future.failed():
        return future.exception
    return KafkaTimeoutError("Kafka did not acknowledge in time")


def reachable(bootstrap_servers: str, timeout_s: float = 0.25) -> bool:
    """Whether any bootstrap address accepts a TCP connection (a cheap probe in an outage)."""
    return not connect_problems(bootstrap_servers, timeout_s)


Clock = Callable[[], float]


class KafkaEventSink:
    """The delivery path of one producer; an ``EventSink`` (``emit``/``close``) for any emitter.

    See the module docstring for the modes. Counters: :attr:`sent` (acknowledged by Kafka),
    :attr:`spooled`, :attr:`refused` (by reason), :attr:`outages`.
    """

    def __init__(
        self,
        config: DeliveryConfig,
        producer_id: str,
        *,
        preparer: Preparer | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        self.config = config
        self.producer_id = producer_id
        self.preparer = preparer or Preparer(
            KafkaSettings(
                bootstrap_servers=config.bootstrap_servers, topic_prefix=config.topic_prefix
            ),
        )
        self._clock = clock
        directory = config.spool_dir(producer_id)
        self.spool = Spool(directory, config.spool_max_bytes, config.spool_segment_bytes)
        self.dead_letters = DeadLetterLog(directory / "dead_letters.jsonl")
        self.sent = 0
        self.spooled = 0
        self.outages = 0
        self.refused: Counter[str] = Counter()
        self._kafka = Settler(lambda: new_producer(config, f"hotline-{producer_id}"))
        self._inflight: deque[tuple[OutboundRecord, Future, float]] = deque()
        self._buffer: list[OutboundRecord] = []
        self._since_reap = 0
        self._last_reap = 0.0
        self._spooling = len(self.spool) > 0
        self._next_probe = 0.0
        self._closed = False
        if self._spooling:
            log.info("spool %s holds %d records; draining first", directory, len(self.spool))
            self._try_drain()
        elif self._connect() is None:
            self._enter_outage([], f"no broker answers at {config.bootstrap_servers}")

    # -- the EventSink protocol -------------------------------------------------------------

    def emit(self, event: Event) -> None:
        """Send ``event`` (or spool it); refused events are dead-lettered locally."""
        try:
            record = self.preparer.prepare(event)
        except InvalidInput as exc:
            self.refused[_reason_kind(exc)] += 1
            self.dead_letters.write(event, str(exc))
            log.warning("refused %s: %s", event.envelope.event_id, exc)
            return
        self.emit_record(record)

    def emit_record(self, record: OutboundRecord) -> None:
        """Send (or spool) an already prepared record.

        Raises :class:`SpoolFull` when Kafka is away and the spool has no room for the
        buffered records: this record is not taken (emit it again after a pause); the ones
        taken before stay.
        """
        if self._closed:
            raise RuntimeError(f"the Kafka sink of {self.producer_id} is closed")
        if self._spooling:
            self._buffer.append(record)
            due = self._clock() >= self._next_probe
            if due:
                self._try_drain()  # leaves in the buffer only what the spool has no room for
            if due or len(self._buffer) >= self.config.spool_batch:
                try:
                    self._spool_buffer()
                except SpoolFull:
                    self._buffer.pop()  # still the newest: a drain takes the buffer's head
                    raise
            return
        producer = self._kafka.producer
        if producer is None:
            self._enter_outage([record], "no producer")
            return
        try:
            future = _send_record(producer, record)
        except KafkaError as exc:
            self._enter_outage([record], f"send failed: {exc}")
            return
        now = self._clock()
        self._inflight.append((record, future, now))
        self._since_reap += 1
        # retire futures in bulk (keeps emit cheap), and at least once a second
        if self._since_reap >= 64 or now - self._last_reap >= 1.0:
            self._since_reap = 0
            self._last_reap = now
            self._reap()

    def flush(self) -> None:
        """Every earlier event is now acknowledged by Kafka or fsynced in the spool.

        Raises :class:`SpoolFull` if the spool has no room for the ones waiting in memory (they
        stay there, for the drain)."""
        if not self._spooling and self._kafka.producer is not None:
            self._await_inflight()
            self._reap(final=True)
        if self._spooling:
            self._spool_buffer()

    def delivered(self) -> str:
        """One line for a run's summary: what Kafka acknowledged, spooled, refused."""
        refused = ", ".join(f"{n} {why}" for why, n in self.refused.items()) or "none"
        return (
            f"kafka {self.config.bootstrap_servers}: {self.sent:,} acknowledged, "
            f"{self.spooled:,} spooled for later, refused: {refused}"
        )

    def close(self) -> None:
        """Flush, try one last drain, then release the producer and the spool.

        Raises :class:`SpoolFull` if records taken could be neither sent nor spooled (Kafka
        away and the spool full): they are lost, and the log says how many."""
        if self._closed:
            return
        try:
            with suppress(SpoolFull):  # what the spool has no room for may still go to Kafka
                self.flush()
            if self._spooling:
                self._try_drain()
            if self._buffer:
                try:
                    self._spool_buffer()
                except SpoolFull:
                    log.error("closing: %d records taken are lost", len(self._buffer))
                    raise
        finally:
            self._closed = True
            self._kafka.close()
            self.spool.close()
        if len(self.spool):
            log.warning(
                "closed with %d records in spool %s; they are sent on the next start",
                len(self.spool),
                self.spool.path,
            )

    def drain(self) -> bool:
        """Try Kafka now and send the spool; True when the spool is empty (direct mode)."""
        if not self._spooling:
            return True
        return self._try_drain()

    @property
    def spooling(self) -> bool:
        """Whether Kafka is considered away (new records go to the spool)."""
        return self._spooling

    # -- direct mode ------------------------------------------------------------------------

    def _reap(self, final: bool = False) -> None:
        """Retire acknowledged records in order; detect an outage or a refusal from the oldest
        one not acknowledged."""
        now = self._clock()
        inflight = self._inflight
        while inflight:
            _, future, sent_at = inflight[0]
            if not future.is_done:
                if final or now - sent_at >= self.config.outage_after_s:
                    self._enter_outage([], f"unacknowledged after {now - sent_at:.1f} s")
                return
            if _is_refusal(future):
                self._confirm_through_spool()
                return
            if future.failed():
                self._enter_outage([], f"send failed after retries: {future.exception!r}")
                return
            inflight.popleft()
            self.sent += 1

    def _confirm_through_spool(self) -> None:
        """After a refusal, which is not trusted: let the records in flight settle, spool the
        ones not acknowledged and drain them at once (:meth:`Settler.settle` confirms them)."""
        log.info("Kafka refused a record; the unacknowledged ones go through the spool")
        self._await_inflight()
        self._spool_unacknowledged([])
        self._try_drain()

    def _await_inflight(self) -> None:
        """Wait, ``delivery_timeout_ms`` at most, until every record in flight is settled."""
        producer = self._kafka.producer
        if producer is not None:
            deadline = time.monotonic() + self.config.delivery_timeout_ms / 1000
            _await_futures(producer, (future for _, future, _ in self._inflight), deadline)

    def _dead_letter(self, record: OutboundRecord, exc: BaseException) -> None:
        """Count and dead-letter a record Kafka refused (one of :data:`REFUSALS`)."""
        event_id = (record.header("event_id") or b"").decode()
        event_type = (record.header("event_type") or b"").decode()
        self.refused[type(exc).__name__] += 1
        reason = refusal_reason(exc)
        self.dead_letters.write(
            {"envelope": {"event_id": event_id, "event_type": event_type}}, reason
        )
        log.warning("%s %s dead-lettered: %s", event_type, event_id, reason)

    def _enter_outage(self, newest: list[OutboundRecord], why: str) -> None:
        """Spool what is unacknowledged and ``newest``, and retry Kafka in a while."""
        self.outages += 1
        log.warning("Kafka unreachable (%s); spooling to %s", why, self.spool.path)
        self._spool_unacknowledged(newest)
        self._next_probe = self._clock() + self.config.probe_interval_s

    def _spool_unacknowledged(self, newest: list[OutboundRecord]) -> None:
        """Close the producer now, spool its unacknowledged records in order, then spool."""
        self._kafka.drop()
        unacked: list[OutboundRecord] = []
        for record, future, _ in self._inflight:
            if future.is_done and future.succeeded():
                self.sent += 1
            else:
                unacked.append(record)
        self._inflight.clear()
        self._spooling = True
        self._buffer = unacked + newest + self._buffer
        try:
            self._spool_buffer()
        except SpoolFull as exc:  # taken already: they wait in memory, for the drain to send
            log.warning("%s; %d records taken stay in memory", exc, len(self._buffer))

    # -- spooling mode ----------------------------------------------------------------------

    def _spool_buffer(self) -> None:
        if self._buffer:
            self.spooled += self.spool.append(self._buffer)
            self._buffer = []

    def _connect(self) -> KafkaProducer | None:
        """The producer, connected now if need be; None if Kafka is away."""
        if self._kafka.producer is None and not reachable(self.config.bootstrap_servers):
            return None
        try:
            return self._kafka.open()
        except (KafkaError, OSError) as exc:
            log.debug("Kafka still unreachable: %s", exc)
            return None

    def _try_drain(self) -> bool:
        """Send the spool oldest first; a step's records leave it once acknowledged or refused.

        The buffer goes to the spool first, or, if the spool is full, once a step made room;
        a buffer too big for the empty spool is sent from memory, ``drain_batch`` at a time.
        Never raises :class:`SpoolFull`: what does not fit stays in the buffer.
        """
        self._next_probe = self._clock() + self.config.probe_interval_s
        if self._connect() is None:
            with suppress(SpoolFull):
                self._spool_buffer()
            return False
        while len(self.spool) or self._buffer:
            with suppress(SpoolFull):
                self._spool_buffer()
            if len(self.spool):
                records, ends = self.spool.read(self.config.drain_batch)
                settled = self._drain_step(records)
                if settled:  # the settled prefix leaves the spool even if a later one failed
                    self.spool.commit(ends[settled - 1], settled)
            else:
                records = self._buffer[: self.config.drain_batch]
                settled = self._drain_step(records)
                del self._buffer[:settled]
            if settled < len(records):
                self._next_probe = self._clock() + self.config.probe_interval_s
                return False
        log.info("spool %s drained; sending directly again", self.spool.path)
        self._spooling = False
        return True

    def _drain_step(self, records: list[OutboundRecord]) -> int:
        """Settle ``records`` through the :class:`Settler`, counting the acknowledged ones and
        dead-lettering the refused ones; how many of them, a prefix, are settled."""
        settled = self._kafka.settle(records, self.config.delivery_timeout_ms / 1000)
        for record, future in zip(records, settled.done, strict=False):
            if future.succeeded():
                self.sent += 1
            else:
                self._dead_letter(record, future.exception)
        if settled.error is not None:
            log.info("drain step failed (%r); retrying later", settled.error)
        return len(settled.done)


def _reason_kind(exc: Exception) -> str:
    if isinstance(exc, RefusedEvent):
        return "caller_in_clear"
    return type(exc).__name__


def send_all(sink: KafkaEventSink, events: Iterable[Event]) -> None:
    """Emit every event, then flush (a convenience for scripts)."""
    for event in events:
        sink.emit(event)
    sink.flush()
