"""The sink's processor: a pure function from one Kafka message to one table row.

:func:`to_row` decodes a message with the codec, checks it against its contract, picks the
table (by record type, and by topic for the sequence-gap topic) and returns a
:class:`Routed` row in the column order of :data:`TABLES`. Anything that can never be written
becomes a dead-letter row (:func:`dead_letter_row`) with the reason and the original bytes in
base64; the offset is then committed past it like any other.

Null strings are stored as ``''`` (LowCardinality columns); counters and flags as integers.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hotline.errors import InvalidInput
from hotline.regions import RegionRegistry, default_registry
from hotline.schemas import (
    AGENT_TIME_COUNTERS,
    METRIC_COUNTERS,
    TICKET_COUNT_COUNTERS,
    Codec,
    CodecError,
    ContractViolation,
    Level,
    check,
    default_codec,
)
from hotline.schemas.redact import may_hold_phone_number, phone_number_problem, redact_original
from hotline.streams.rollup import NATIONAL_CODE, region_at

STAGE = "sinks.clickhouse"

#: The instants every time column can hold: ClickHouse's DateTime range (the minute buckets are
#: DateTime('UTC'); the facts' DateTime64 columns hold more, but their China ``day`` (a Date)
#: wraps round and the TTLs' toDateTime() does not reach further). Outside it a minute bucket
#: fails its INSERT (an error no retry cures) and a call's ``day`` wraps round (2200 → 2020).
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2106, 2, 7, 6, 28, 15, tzinfo=UTC)


_CALL_FLAGS = (
    "offered",
    "self_served",
    "queued",
    "answered",
    "abandoned",
    "short_abandoned",
    "answered_in_sl",
)

#: Table → where its rows stand in the region tree: columns the sink fills from the registry.
PLACE_COLUMNS: dict[str, tuple[str, ...]] = {
    "call_records": ("province_code", "city_code"),
    "tickets": ("province_code", "city_code"),
    "ticket_history": ("province_code",),
    "metric_minute": ("province_code",),
    "agent_minute": ("province_code",),
    "ticket_minute": ("province_code",),
    "alerts": ("province_code",),
    "sequence_gaps": ("province_code",),
    "agent_states": ("province_code",),
    "queue_now": ("province_code",),
}
_PLACE_LEVELS = {"province_code": Level.PROVINCE, "city_code": Level.CITY}


def place(registry: RegionRegistry, table: str, region_code: str) -> tuple[str, ...]:
    """The province (and city) a row of ``table`` belongs to, by the streams' roll-up rules.

    Taken from the region registry, never from a code's digits: the Corps' cities (6590xx)
    belong to 660000, province-direct county-level cities stand as city-level units.
    The national level (000000) belongs to no province and stays 000000.
    """
    if region_code == NATIONAL_CODE:
        return tuple(NATIONAL_CODE for _ in PLACE_COLUMNS[table])
    return tuple(
        region_at(registry, region_code, _PLACE_LEVELS[column]) for column in PLACE_COLUMNS[table]
    )


#: Table → the columns its row builder gives, in row order.
_BUILT_COLUMNS: dict[str, tuple[str, ...]] = {
    "call_records": (
        "call_id", "center_id", "region_code", "channel", "business_line", "agent_id",
        "started_at", "ended_at", *_CALL_FLAGS, "wait_ms", "talk_ms", "hold_ms", "acw_ms",
        "transferred", "transfer_target", "caller_hung_up_first", "repeat_7d", "survey_result",
        "closed_by_timeout", "short_abandon_threshold_ms", "service_level_threshold_ms",
        "version", "self_service_kind",
    ),
    "tickets": (
        "ticket_id", "center_id", "region_code", "call_id", "category", "business_line",
        "status", "created_at", "due_at", "resolved_at", "closed_at", "callbacks", "reopens",
        "on_time", "overdue", "as_of", "version",
    ),
    "ticket_history": (
        "ticket_id", "region_code", "center_id", "category", "business_line", "status",
        "created_at", "due_at", "resolved_at", "closed_at", "on_time", "overdue", "as_of",
        "version",
    ),
    "metric_minute": (
        "level", "region_code", "business_line", "channel", "bucket_start", *METRIC_COUNTERS,
        "version",
    ),
    "agent_minute": ("level", "region_code", "bucket_start", *AGENT_TIME_COUNTERS, "version"),
    "ticket_minute": (
        "level", "region_code", "bucket_start", "category", *TICKET_COUNT_COUNTERS, "version",
    ),
    "alerts": (
        "alert_id", "kind", "severity", "region_code", "center_id", "opened_at", "closed_at",
        "message", "dedupe_key", "version",
    ),
    "sequence_gaps": (
        "alert_id", "kind", "severity", "region_code", "center_id", "opened_at", "closed_at",
        "message", "dedupe_key", "version",
    ),
    "agent_states": (
        "event_id", "agent_id", "center_id", "region_code", "state", "reason", "occurred_at",
        "producer_id", "sequence",
    ),
    "queue_now": ("center_id", "region_code", "as_of", "waiting", "longest_wait_ms"),
    "dead_letters": (
        "stage", "reason", "source_topic", "source_partition", "source_offset",
        "original_base64", "error_type", "error_detail", "failed_at", "region_code",
        "province_code",
    ),
}  # fmt: skip
#: Characters of a dead letter's error text kept in ``dead_letters.error_detail``.
DETAIL_LIMIT = 10_000
#: Table → the columns the sink inserts, in row order: the built ones, then the place ones.
TABLES: dict[str, tuple[str, ...]] = {
    table: columns + PLACE_COLUMNS.get(table, ()) for table, columns in _BUILT_COLUMNS.items()
}


@dataclass(frozen=True, slots=True)
class Routed:
    """One row for one table."""

    table: str
    row: tuple[Any, ...]


def _s(value: Any) -> str:
    return "" if value is None else str(value)


def _flag(value: Any) -> int:
    return 1 if value else 0


def _call(r: Mapping[str, Any]) -> tuple[Any, ...]:
    return (
        r["call_id"], r["center_id"], r["region_code"], _s(r["channel"]),
        _s(r["business_line"]), _s(r["agent_id"]), r["started_at"], r["ended_at"],
        *(_flag(r[f]) for f in _CALL_FLAGS),
        r["wait_ms"], r["talk_ms"], r["hold_ms"], r["acw_ms"], _flag(r["transferred"]),
        _s(r["transfer_target"]), _flag(r["caller_hung_up_first"]), _flag(r["repeat_7d"]),
        _s(r["survey_result"]), _flag(r["closed_by_timeout"]),
        r["short_abandon_threshold_ms"], r["service_level_threshold_ms"], r["version"],
        _s(r.get("self_service_kind")),
    )  # fmt: skip


def _on_time(value: Any) -> int | None:
    return None if value is None else _flag(value)


def _ticket(r: Mapping[str, Any]) -> tuple[Any, ...]:
    return (
        r["ticket_id"], r["center_id"], r["region_code"], _s(r["call_id"]), _s(r["category"]),
        _s(r["business_line"]), _s(r["status"]), r["created_at"], r["due_at"],
        r["resolved_at"], r["closed_at"], r["callbacks"], r["reopens"], _on_time(r["on_time"]),
        _flag(r["overdue"]), r["as_of"], r["version"],
    )  # fmt: skip


def _ticket_history(r: Mapping[str, Any]) -> tuple[Any, ...]:
    return (
        r["ticket_id"], r["region_code"], r["center_id"], _s(r["category"]),
        _s(r["business_line"]), _s(r["status"]), r["created_at"], r["due_at"],
        r["resolved_at"], r["closed_at"], _on_time(r["on_time"]), _flag(r["overdue"]),
        r["as_of"], r["version"],
    )  # fmt: skip


def _minute(record_type: str, r: Mapping[str, Any]) -> None:
    if r["bucket_seconds"] != 60:
        raise ContractViolation(record_type, [f"bucket_seconds {r['bucket_seconds']} != 60"])


def _snapshot(r: Mapping[str, Any]) -> tuple[Any, ...]:
    _minute("metric.snapshot", r)
    return (
        _s(r["level"]), r["region_code"], _s(r["business_line"]), _s(r["channel"]),
        r["bucket_start"], *(r[c] for c in METRIC_COUNTERS), r["version"],
    )  # fmt: skip


def _agent_time(r: Mapping[str, Any]) -> tuple[Any, ...]:
    _minute("agent_time.snapshot", r)
    return (
        _s(r["level"]), r["region_code"], r["bucket_start"],
        *(r[c] for c in AGENT_TIME_COUNTERS), r["version"],
    )  # fmt: skip


def _ticket_count(r: Mapping[str, Any]) -> tuple[Any, ...]:
    _minute("ticket_count.snapshot", r)
    return (
        _s(r["level"]), r["region_code"], r["bucket_start"], _s(r["category"]),
        *(r[c] for c in TICKET_COUNT_COUNTERS), r["version"],
    )  # fmt: skip


def _alert(r: Mapping[str, Any]) -> tuple[Any, ...]:
    return (
        r["alert_id"], _s(r["kind"]), _s(r["severity"]), r["region_code"], _s(r["center_id"]),
        r["opened_at"], r["closed_at"], r["message"], r["dedupe_key"], r["version"],
    )  # fmt: skip


def _agent_state(r: Mapping[str, Any]) -> tuple[Any, ...]:
    e = r["envelope"]
    return (
        e["event_id"], r["agent_id"], e["center_id"], e["region_code"], _s(r["state"]),
        _s(r["reason"]), e["occurred_at"], e["producer_id"], e["sequence"],
    )  # fmt: skip


def _queue(r: Mapping[str, Any]) -> tuple[Any, ...]:
    return (r["center_id"], r["region_code"], r["as_of"], r["waiting"], r["longest_wait_ms"])


_RAW_TOPIC = re.compile(r"\.raw\.(?P<province>[1-9]\d0000)\.[a-z_]+$")


def _topic_province(topic: str) -> str:
    """The province of a raw topic (``<prefix>.raw.320000.calls``); ``''`` for other topics."""
    found = _RAW_TOPIC.search(topic)
    return found["province"] if found else ""


def _pipeline_dead_letter(r: Mapping[str, Any]) -> tuple[Any, ...]:
    return (
        r["stage"], _s(r["reason"]), r["source_topic"], r["source_partition"],
        r["source_offset"], base64.b64encode(r["original"]).decode("ascii"), r["error_type"],
        r["error_detail"], r["failed_at"], "", _topic_province(r["source_topic"]),
    )  # fmt: skip


_Build = Callable[[Mapping[str, Any]], tuple[Any, ...]]

#: Record type → the tables it is written to, with the row builder of each.
ROUTES: dict[str, tuple[tuple[str, _Build], ...]] = {
    "call.record": (("call_records", _call),),
    "ticket.record": (("tickets", _ticket), ("ticket_history", _ticket_history)),
    "metric.snapshot": (("metric_minute", _snapshot),),
    "agent_time.snapshot": (("agent_minute", _agent_time),),
    "ticket_count.snapshot": (("ticket_minute", _ticket_count),),
    "alert.record": (("alerts", _alert),),
    "agent.state": (("agent_states", _agent_state),),
    "queue.snapshot": (("queue_now", _queue),),
    "dead_letter.record": (("dead_letters", _pipeline_dead_letter),),
}
#: Topic role → routes that replace :data:`ROUTES` for records on that topic.
TOPIC_ROUTES: dict[str, dict[str, tuple[tuple[str, _Build], ...]]] = {
    "sequence_gaps": {"alert.record": (("sequence_gaps", _alert),)},
}


def to_rows(
    codec: Codec,
    value: bytes | None,
    *,
    topic: str,
    partition: int,
    offset: int,
    role: str | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    registry: RegionRegistry | None = None,
) -> list[Routed]:
    """The rows one message becomes; a dead-letter row when it can never be written.

    ``role`` is the shared-topic role of ``topic`` (``"sequence_gaps"`` …) or None for others.
    """
    registry = registry or default_registry()
    record: Any = None
    try:
        if value is None:
            raise CodecError("message has no value (tombstone)")
        record_type, record = codec.decode(value)
        routes = TOPIC_ROUTES.get(role or "", {}).get(record_type) or ROUTES.get(record_type)
        if routes is None:
            raise ContractViolation(record_type, [f"no table for this record type on {topic}"])
        check(record_type, record, decoded=True)
        if (  # a raw event, which a center wrote: docs/privacy.md, "Ids"
            _topic_province(topic)
            and may_hold_phone_number(value)
            and (problem := phone_number_problem(record))
        ):
            raise InvalidInput(problem)
        if record_type == "dead_letter.record":  # one from a worker before the masking
            redacted = redact_original(codec, record["original"])
            if redacted.changed:
                record["original"] = redacted.data
                record["error_detail"] = redacted.detail(record["error_detail"], DETAIL_LIMIT)
        rows = []
        for table, build in routes:
            row = build(record)
            _check_storable(record_type, table, row)
            if table in PLACE_COLUMNS:
                row += place(registry, table, row[TABLES[table].index("region_code")])
            rows.append(Routed(table, row))
        return rows
    except CodecError as exc:
        reason, error = "undecodable", exc
    except (ContractViolation, InvalidInput, KeyError, TypeError, ValueError) as exc:
        reason, error = "invalid", exc
    where = _dead_letter_place(registry, topic, record)
    return [dead_letter_row(value, reason, error, topic, partition, offset, now(), codec, where)]


def _dead_letter_place(registry: RegionRegistry, topic: str, record: Any) -> tuple[str, str]:
    """(region_code, province_code) of a message this sink gives up on: the region of the
    record when it decoded with one the registry places, else ``''`` and the province of the
    raw topic it came from, else ``''`` and ``''`` (seen by the all-province users only)."""
    if isinstance(record, Mapping):
        envelope = record.get("envelope")
        region = record.get("region_code") or (
            envelope.get("region_code") if isinstance(envelope, Mapping) else None
        )
        if isinstance(region, str):
            if region == NATIONAL_CODE:
                return region, NATIONAL_CODE
            try:
                return region, region_at(registry, region, Level.PROVINCE)
            except (InvalidInput, KeyError, ValueError):
                pass
    return "", _topic_province(topic)


#: Table → the positions of its instants in a built row (the time columns: ``*_at``,
#: ``as_of``, ``bucket_start``).
_INSTANTS: dict[str, tuple[int, ...]] = {
    table: tuple(
        i for i, c in enumerate(columns) if c.endswith("_at") or c in ("as_of", "bucket_start")
    )
    for table, columns in _BUILT_COLUMNS.items()
}


def _check_storable(record_type: str, table: str, row: tuple[Any, ...]) -> None:
    """Raise :class:`ContractViolation` for an instant of ``row`` that ``table`` cannot hold."""
    columns = _BUILT_COLUMNS[table]
    problems = [
        f"{columns[i]} {row[i].isoformat()} is outside what ClickHouse stores "
        f"({EARLIEST.isoformat()} … {LATEST.isoformat()})"
        for i in _INSTANTS[table]
        if row[i] is not None and not EARLIEST <= row[i] <= LATEST
    ]
    if problems:
        raise ContractViolation(record_type, problems)


def dead_letter_row(
    value: bytes | None,
    reason: str,
    error: BaseException,
    topic: str,
    partition: int,
    offset: int,
    failed_at: datetime,
    codec: Codec | None = None,
    where: tuple[str, str] = ("", ""),
) -> Routed:
    """A ``dead_letters`` row for a message this sink gives up on; ``where`` is its
    (region_code, province_code), what a province user's row filter reads.

    The sink also reads the raw agent topics, which centers write: a raw event there may
    carry a caller's number in clear, which is masked in the original bytes
    (:func:`~hotline.schemas.redact.redact_original`) and said in the detail.
    """
    redacted = redact_original(codec or default_codec(), value)
    original = base64.b64encode(redacted.data).decode("ascii")
    return Routed(
        "dead_letters",
        (
            STAGE,
            reason,
            topic,
            partition,
            offset,
            original,
            type(error).__name__,
            redacted.detail(str(error), DETAIL_LIMIT),
            failed_at,
            *where,
        ),
    )
