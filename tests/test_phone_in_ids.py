"""A caller's number in an id of a valid event (docs/privacy.md, "Ids"): refused by the
producers (and so the HTTP gateway), dead-lettered masked by the stream worker's ingest and
by the sink (raw agent states); ids of the repository's own shapes pass (the queue_log
adapter puts keyed pseudonyms in place of numbers in agent names: test_queue_log*). Numbers
are libphonenumber's example numbers, built here (no fixture holds one).
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from pathlib import Path

import phonenumbers
import pytest
from test_dead_letter_privacy import (
    DOTTED,
    LANDLINE,
    MOBILE,
    RAW_TOPIC,
    _example,
    _with,
    repository_events,
)

from hotline.privacy import is_dialable_number
from hotline.producers.base import RefusedEvent
from hotline.producers.delivery import Preparer
from hotline.schemas import DeadLetterReason, default_codec
from hotline.schemas.redact import may_hold_phone_number, phone_number_problem
from hotline.sinks import rows as sink_rows
from hotline.streams.app import Worker
from hotline.streams.worker_config import WorkerConfig

M = MOBILE
DASHED_LANDLINE = LANDLINE.replace(" ", "-")  # 0xx-xxxx-xxxx: an id may hold no space
#: (field path, id) of call.answered events that hold a caller's number.
LEAKY = [
    (("agent_id",), M),
    (("agent_id",), f"A-{DOTTED}"),
    (("call_id",), f"C320100:{M}"),
    (("call_id",), f"x-{DASHED_LANDLINE}"),
    (("call_id",), f"in-86{M}"),
    (("call_id",), f"0086{M}"),
    (("envelope", "producer_id"), f"acd-{M}"),
]
#: Ids with long digit runs that hold no caller's number.
HARMLESS = [
    "C320100:1740966786.200-2",  # an Asterisk unique id and its leg
    "C320100:1764662400.5",  # one that reads as a valid mobile without its dot
    "T-20250303-01",  # a date and a sequence (Guangzhou's 020 2503 0301 with a trunk 0)
    "1764662400123",  # epoch milliseconds
    "js-nj-12333",
    "QA-2025-320100-1",
    "8abf7cf8-6571-4b1b-a7e8-9c66723dd057",
    "C320100:Local:8008_from-queue:n.608426",
]


def test_a_callers_number_is_told_from_ids_with_long_digit_runs() -> None:
    digits = "".join(c for c in LANDLINE if c.isdigit())
    for run in (M, DOTTED, DASHED_LANDLINE, digits, f"86{M}", f"0086{M}"):
        assert is_dialable_number(run), run
    # valid for libphonenumber, but no caller's number is written without its trunk 0
    assert phonenumbers.is_valid_number(phonenumbers.parse("020-2503-0301", "CN"))
    for run in ("2025030301", "1764662400123", "12333", "320100", M[:-1]):
        assert not is_dialable_number(run), run


@pytest.mark.parametrize(("path", "value"), LEAKY)
def test_a_number_in_an_id_is_a_problem_named_and_masked(path: tuple[str, ...], value: str) -> None:
    record = _with(_example("call.answered"), path, value)
    data = default_codec().encode("call.answered", record)
    assert may_hold_phone_number(data)
    problem = phone_number_problem(record)
    assert problem is not None and ".".join(path) in problem, problem
    assert value not in problem and M not in problem


@pytest.mark.parametrize("value", HARMLESS)
def test_ids_of_known_shapes_are_no_problem(value: str) -> None:
    record = _with(_example("call.answered"), ("call_id",), value)
    assert phone_number_problem(record) is None


def test_the_repository_producers_events_hold_no_number_in_an_id(tmp_path: Path) -> None:
    events = repository_events(tmp_path)
    assert len(events) > 100
    assert [e for e in events if phone_number_problem(e.to_avro())] == []


def test_the_producers_refuse_a_number_in_an_id() -> None:
    """The delivery's last check before Kafka (the HTTP gateway answers it per event as
    ``caller_in_clear``); an id of a known shape goes."""
    codec, preparer = default_codec(), Preparer()
    answered = _example("call.answered")
    for path, value in LEAKY:
        event = codec.decode_model(codec.encode("call.answered", _with(answered, path, value)))
        with pytest.raises(RefusedEvent) as refused:
            preparer.prepare(event)
        assert M not in str(refused.value) and "phone number in clear" in str(refused.value)
    for value in HARMLESS:
        event = codec.decode_model(codec.encode("call.answered", {**answered, "call_id": value}))
        assert preparer.prepare(event).key == value.encode()


def test_the_worker_dead_letters_a_valid_event_with_a_number_in_an_id(tmp_path: Path) -> None:
    """Through the worker's ingest (no broker: its sends are captured): counted, dead-lettered
    as invalid with the field named, the original masked; the same event without it goes on
    to its province."""
    codec = default_codec()
    worker = Worker(WorkerConfig(app_id="t-phone-in-id", partitions=3, datadir=tmp_path))
    sent: list[tuple[str, bytes]] = []
    worker._send = lambda role, key, value: sent.append((role, value))  # type: ignore[method-assign]
    latest = datetime.now(UTC) + timedelta(hours=1)
    answered = _example("call.answered")
    leaky = codec.encode("call.answered", {**answered, "agent_id": f"A-{DOTTED}"})
    assert worker._validate(leaky, RAW_TOPIC, 0, 3, 1_740_963_600.0, latest) is None
    [(role, value)] = sent
    dead = codec.decode_model(value)
    assert role == "dead_letters" and dead.reason == DeadLetterReason.INVALID
    assert "agent_id 'A-***.****.**" in dead.error_detail, dead.error_detail
    assert M[:7] not in dead.error_detail and DOTTED.encode() not in value
    assert dead.error_detail.startswith("original masked: agent_id held a run of 5+ digits")
    assert len(dead.original) == len(leaky)
    assert worker.stats["phone_in_id"] == 1 and worker.stats["dead_invalid"] == 1
    assert worker.stats["masked_originals"] == 1
    sent.clear()
    clean = codec.encode("call.answered", answered)
    assert worker._validate(clean, RAW_TOPIC, 0, 4, 1_740_963_600.0, latest) == "320000"
    assert sent == [] and worker.stats["phone_in_id"] == 1


def test_uuids_and_caller_ids_with_ten_digits_in_a_row_are_not_read_further() -> None:
    """The cheap look skips whole UUIDs and caller ids (one simulated event in five has ten
    digits in a row in a UUID once its dashes are out) and queue_log's Asterisk call ids,
    not ids that hold a number, nor near misses of those shapes."""
    codec, uuid = default_codec(), "12345678-1234-4234-8234-123456789012"
    offered = _example("call.offered")
    record = {**offered, "call_id": uuid, "caller_id": "0123456789" * 6 + "abcd"}
    record["envelope"] = {**offered["envelope"], "event_id": uuid}
    assert not may_hold_phone_number(codec.encode("call.offered", record))
    assert phone_number_problem(record) is None
    leaky = {**record, "call_id": f"call-{M}"}
    assert may_hold_phone_number(codec.encode("call.offered", leaky))
    assert phone_number_problem(leaky) is not None
    asterisk = {**record, "call_id": "C320100:1740966786.200-2"}
    assert not may_hold_phone_number(codec.encode("call.offered", asterisk))
    for near in ("C320100:1740966786.200-12345", "C320100-1740966786.200-2", f"x-{uuid}"):
        assert may_hold_phone_number(codec.encode("call.offered", {**record, "call_id": near}))


def test_the_sink_dead_letters_a_raw_agent_state_with_a_number_in_its_agent_id() -> None:
    """The sink reads the raw agent topics itself (agent states to ClickHouse): the same
    check, a dead-letter row with the field named and the original masked."""
    codec, topic = default_codec(), "hotline.raw.320000.agents"
    state = _example("agent.state")
    leaky = codec.encode("agent.state", {**state, "agent_id": f"A-{DOTTED}"})
    [row] = sink_rows.to_rows(codec, leaky, topic=topic, partition=0, offset=5)
    columns = dict(zip(sink_rows.TABLES["dead_letters"], row.row, strict=True))
    assert row.table == "dead_letters" and columns["reason"] == "invalid"
    assert "a phone number in clear in agent_id 'A-***.****.**" in columns["error_detail"]
    assert DOTTED.encode() not in base64.b64decode(columns["original_base64"])
    clean = codec.encode("agent.state", state)
    tables = [r.table for r in sink_rows.to_rows(codec, clean, topic=topic, partition=0, offset=6)]
    assert tables and "dead_letters" not in tables, tables
