"""No caller phone number in clear in dead letters (docs/privacy.md, "Dead letters"). Pure.

A center with its own Kafka client may send a raw event whose ``caller_id`` is the number
itself instead of its keyed hash. The worker's ingest dead-letters it (it fails validation):
neither the error text nor the original bytes kept in the dead letter (and from there in
ClickHouse) may hold the number. The numbers are libphonenumber's example numbers, built here.
"""

from __future__ import annotations

import base64
import copy
import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import phonenumbers
import pytest
from phonenumbers import PhoneNumberFormat, PhoneNumberType
from test_queue_log_helpers import ingestor, write_log

from hotline.privacy import blank_phone_runs, blank_phone_runs_in_bytes, looks_like_phone
from hotline.producers.delivery import caller_problem
from hotline.producers.queue_log.parse import mask_line
from hotline.producers.queue_log.sample import generate_sample
from hotline.producers.simulator.runner import SimConfig, simulate
from hotline.producers.simulator.sinks import MemorySink
from hotline.schemas import CallOffered, CodecError, DeadLetter, DeadLetterReason, default_codec
from hotline.schemas.examples import all_examples
from hotline.schemas.redact import redact_original
from hotline.sinks import rows as sink_rows
from hotline.streams.app import Worker
from hotline.streams.worker_config import WorkerConfig

_MOBILE = phonenumbers.example_number_for_type("CN", PhoneNumberType.MOBILE)
_LANDLINE = phonenumbers.example_number_for_type("CN", PhoneNumberType.FIXED_LINE)
MOBILE = str(_MOBILE.national_number)  # 11 digits
LANDLINE = phonenumbers.format_number(_LANDLINE, PhoneNumberFormat.NATIONAL)  # 0xx xxxx xxxx
M = MOBILE
#: Spellings a producer may send, each read by ``normalize_phone`` as a number.
SPELLINGS = [
    M,
    f"+86 {M[:3]}-{M[3:7]}-{M[7:]}",
    f"{M[:3]}.{M[3:7]}.{M[7:]}",
    f"+86.{M[:3]}.{M[3:7]}.{M[7:]}",
    f"{M[:3]}/{M[3:7]}/{M[7:]}",
    f"({M[:3]}) {M[3:]}",
    "".join(chr(ord(c) + 0xFEE0) for c in M),  # full-width digits (3 bytes each in UTF-8)
    LANDLINE,
    # separators libphonenumber reads that are no ASCII: a hyphen (U+2010), full-width digits
    # and hyphens, the katakana prolonged sound mark, zero-width spaces (the
    # number shows as 11 digits in a row) and soft hyphens
    f"{M[:3]}\u2010{M[3:7]}\u2010{M[7:]}",
    "\uff0d".join("".join(chr(ord(c) + 0xFEE0) for c in g) for g in (M[:3], M[3:7], M[7:])),
    f"{M[:3]}\u30fc{M[3:7]}\u30fc{M[7:]}",
    f"{M[:3]}\u200b{M[3:7]}\u200b{M[7:]}",
    f"{M[:3]}\u00ad{M[3:7]}\u00ad{M[7:]}",
]
RAW_TOPIC = "hotline.raw.320000.calls"


def _offered(caller_id: str | None, region_code: str = "320100") -> dict[str, Any]:
    return {
        "envelope": {
            "event_id": str(uuid.UUID(int=7)),
            "event_type": "call.offered",
            "occurred_at": datetime(2025, 3, 3, 1, 0, tzinfo=UTC),
            "center_id": "C320100",
            "region_code": region_code,
            "producer_id": "p1",
            "sequence": 1,
            "schema_version": 1,
        },
        "call_id": "c1",
        "channel": "phone",
        "caller_id": caller_id,
    }


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


def _clear_in(number: str, data: bytes) -> bool:
    """Whether ``data`` holds ``number`` as written, or its digits in a row."""
    return number.encode() in data or _digits(number).encode() in data


def test_spellings_are_numbers() -> None:
    for spelling in SPELLINGS:
        assert looks_like_phone(spelling)
        assert phonenumbers.is_valid_number(phonenumbers.parse(spelling, "CN"))


# -- validation errors never echo a value -------------------------------------------------


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_validation_error_names_field_and_rule_but_not_the_value(spelling: str) -> None:
    codec = default_codec()
    data = codec.encode("call.offered", _offered(spelling))  # Avro has no pattern rule
    with pytest.raises(CodecError) as caught:
        codec.decode_model(data)
    text = str(caught.value)
    assert "caller_id" in text and "should match pattern '^[0-9a-f]{64}$'" in text
    assert "string_pattern_mismatch" in text
    assert spelling not in text and _digits(spelling) not in _digits(text)
    assert "input_value" not in text


def test_nested_envelope_errors_hide_the_value_too() -> None:
    codec = default_codec()
    data = codec.encode("call.offered", _offered("ab" * 32, region_code=MOBILE))
    with pytest.raises(CodecError) as caught:
        codec.decode_model(data)
    text = str(caught.value)
    assert "envelope.region_code" in text and "should match pattern" in text
    assert MOBILE not in text and "input_value" not in text


def test_every_record_model_hides_input_in_errors() -> None:
    models = {type(r) for r in all_examples()} | {CallOffered, DeadLetter}
    for model in models:
        assert model.model_config.get("hide_input_in_errors") is True, model


# -- the original bytes: caller fields masked in place -------------------------------------


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_a_caller_number_is_masked_in_place_in_the_original(spelling: str) -> None:
    codec = default_codec()
    data = codec.encode("call.offered", _offered(spelling))
    assert _clear_in(spelling, data)
    redacted = redact_original(codec, data)
    out = redacted.data
    assert redacted.changed and "caller_id held a phone number in clear" in redacted.note
    assert len(out) == len(data) and not _clear_in(spelling, out)
    # the bytes decode, the caller is masked (last two digits kept), everything else intact
    record_type, record = codec.decode(out)
    assert record_type == "call.offered"
    masked = record["caller_id"]
    assert masked == blank_phone_runs(spelling)
    assert _digits(masked) == _digits(spelling)[-2:] and "*" in masked
    assert len(masked.encode()) == len(spelling.encode())
    assert record == {**codec.decode(data)[1], "caller_id": masked}
    # only the caller's bytes changed
    start = data.index(spelling.encode())
    changed = [i for i, (a, b) in enumerate(zip(data, out, strict=True)) if a != b]
    assert changed and start <= changed[0] and changed[-1] < start + len(spelling.encode())
    # masking again changes nothing; the detail is scrubbed too
    assert redact_original(codec, out).data == out and not redact_original(codec, out).changed
    assert spelling not in redacted.detail(f"was {spelling}", 2000)


def test_valid_and_phone_free_bytes_are_kept_exactly() -> None:
    codec = default_codec()
    for record in all_examples():  # every record type, valid: unchanged, byte for byte
        data = codec.encode_model(record)
        redacted = redact_original(codec, data)
        assert redacted.data == data and not redacted.changed and redacted.note == ""
    for caller in (None, "ab" * 32, "not-a-hash", "1234", "0" * 64):  # no number in clear
        data = codec.encode("call.offered", _offered(caller))
        assert redact_original(codec, data).data == data
    assert redact_original(codec, b"").data == b"" and redact_original(codec, None).data == b""


def test_undecodable_bytes_have_their_digit_runs_masked() -> None:
    codec = default_codec()
    dotted = f"{M[:3]}.{M[3:7]}.{M[7:]}"
    for data in (
        f'{{"caller_id": "{dotted}", "n": 12}}'.encode(),  # JSON from a misconfigured client
        b"\xff\xfe" + MOBILE.encode() + b"\x00",  # not UTF-8
        codec.encode("call.offered", _offered(MOBILE))[:-3],  # a truncated body
    ):
        redacted = redact_original(codec, data)
        assert redacted.changed and "do not decode" in redacted.note
        assert len(redacted.data) == len(data) and not _clear_in(MOBILE, redacted.data)
        assert not _clear_in(dotted, redacted.data)
    # an unknown fingerprint: the header is kept, the number in the body masked
    unknown = b"\xc3\x01" + b"12345678" + b"\x16" + MOBILE.encode()
    out = redact_original(codec, unknown).data
    assert out[:10] == unknown[:10] and out[10:] == b"\x16" + b"*" * 9 + MOBILE[-2:].encode()
    assert redact_original(codec, b"\xc3\x01 1234").data == b"\xc3\x01 1234"  # short runs kept
    assert blank_phone_runs_in_bytes(b"x 138/1234/5678 y") == b"x ***/****/**78 y"


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_undecodable_bytes_that_are_not_utf8_have_every_spelling_masked(spelling: str) -> None:
    """Bytes that are not UTF-8 as a whole (Avro of an unknown schema) still hold their strings
    in UTF-8: a number written with full-width digits or Unicode separators is masked there
    too, in the same length."""
    data = b"\xc3\x01" + bytes(8) + b"\xff\x16" + spelling.encode() + b"\x00"
    redacted = redact_original(default_codec(), data)
    assert redacted.changed and len(redacted.data) == len(data)
    assert redacted.data[:10] == data[:10] and not _clear_in(spelling, redacted.data)
    assert redacted.data.endswith(blank_phone_runs(spelling).encode() + b"\x00")


# -- the original bytes: a number in any other string field --------------------------------

DOTTED = f"{M[:3]}.{M[3:7]}.{M[7:]}"
#: (record type, field path, value): a producer's bug put the caller's number in a field that
#: is no caller field: an id (Avro has no pattern rule, and ``13812345678`` is a valid id),
#: a nested one, a free text, an array item is checked the same way.
ELSEWHERE = [
    ("call.answered", ("agent_id",), M),
    ("call.ended", ("agent_id",), DOTTED),  # a nullable string
    ("call.offered", ("call_id",), f"C320100:{M}"),
    ("call.offered", ("envelope", "producer_id"), f"acd-{M}"),
    ("call.offered", ("envelope", "center_id"), LANDLINE.replace(" ", "-")),
    ("ticket.created", ("ticket_id",), f"T-{DOTTED}"),
    ("ticket.assigned", ("assignee_id",), M),
    ("qa.evaluation", ("evaluator",), M),
    ("alert.record", ("message",), f"caller asks for a call back on {LANDLINE}"),
]


def _example(record_type: str) -> dict[str, Any]:
    return next(r for r in all_examples() if record_type == r.RECORD_TYPE).to_avro()


def _with(record: dict[str, Any], path: tuple[str, ...], value: str) -> dict[str, Any]:
    out = copy.deepcopy(record)
    inner = out
    for name in path[:-1]:
        inner = inner[name]
    inner[path[-1]] = value
    return out


@pytest.mark.parametrize(("record_type", "path", "value"), ELSEWHERE)
def test_a_number_in_any_other_string_field_is_masked_in_place(
    record_type: str, path: tuple[str, ...], value: str
) -> None:
    """Not only caller fields: until 1 Dec a decodable event with the caller's number in an
    agent, call, ticket or producer id or in a message kept it in clear (Kafka, ClickHouse)."""
    codec = default_codec()
    record = _example(record_type)
    data = codec.encode(record_type, _with(record, path, value))
    assert _clear_in(value, data)
    redacted = redact_original(codec, data)
    out = redacted.data
    name = ".".join(path)
    assert redacted.note.startswith(f"original masked: {name} held a run of 5+ digits")
    assert len(out) == len(data) and not _clear_in(value, out) and not _clear_in(M, out)
    decoded = codec.decode_as_written(out)[1]
    assert decoded == _with(codec.decode_as_written(data)[1], path, blank_phone_runs(value))
    assert redact_original(codec, out).data == out and not redact_original(codec, out).changed
    assert value not in redacted.detail(f"{name} was {value}", 2000)


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_every_spelling_is_masked_in_an_agent_id(spelling: str) -> None:
    codec = default_codec()
    data = codec.encode("call.answered", {**_example("call.answered"), "agent_id": spelling})
    redacted = redact_original(codec, data)
    assert redacted.changed and "agent_id held a run of 5+ digits" in redacted.note
    assert not _clear_in(spelling, redacted.data) and len(redacted.data) == len(data)
    assert codec.decode(redacted.data)[1]["agent_id"] == blank_phone_runs(spelling)


def test_a_caller_field_and_another_are_both_named() -> None:
    codec = default_codec()
    offered = _offered(MOBILE)
    offered["envelope"]["producer_id"] = f"p-{MOBILE}"  # the same number: one mask, both places
    offered["call_id"] = DOTTED
    redacted = redact_original(codec, codec.encode("call.offered", offered))
    assert redacted.note.startswith(
        "original masked: caller_id held a phone number in clear; call_id, envelope.producer_id "
        "held a run of 5+ digits of no known id shape (possibly a phone number); their digits"
    )
    record = codec.decode(redacted.data)[1]
    assert record["caller_id"] == blank_phone_runs(MOBILE)
    assert record["call_id"] == blank_phone_runs(DOTTED) == "***.****.**" + M[-2:]
    assert record["envelope"]["producer_id"] == "p-" + blank_phone_runs(MOBILE)


#: Values with long digit runs that the repository's producers and examples make, of a known
#: shape: kept, so that such events dead-lettered as late stay replayable byte for byte.
KNOWN_SHAPES = [
    "C320100",  # a center id: C + region code
    "ctr-999999",  # six digits: an unknown or invalid region code is readable too
    "ql.C320100.queue_log",  # queue_log's producer id
    "C320100:PJSIP:8001",
    "C320100:1740966786.200",  # queue_log's call id: center, Asterisk unique id …
    "C320100:1740966786.200-2",  # … and the leg
    "C320100:Local:8008_from-queue:n.608426",  # a queue_log agent id's hex digest
    "C320100.A027",  # the simulator's agent id
    "js-nj-12333",  # the hotline's own number
    "platform_12345",  # a transfer target (enum symbols decode as text)
    "QA-2025-320100-1",  # a campaign evaluation id
    "ms-2025-C320100",
    str(uuid.UUID(int=123456789012345)),
    "2025-03-03T09:00:00+08:00",
]
#: Near misses: a number in clear beside or inside one of those shapes is masked.
NOT_KNOWN = [
    f"C320100-{M}",
    f"C320100:{M}.5",  # 11 digits before the dot: no Asterisk unique id
    f"{M[:10]}.{M[10:]}-{M}",
    f"2025-{M}",
    f"x{M[:4]}.{M[4:10]}",  # the digest must follow a letter, '_' or ':'
    f"n.{M[:6]}{M[6:]}",
    f"12333{M}",
    "1233345",
    M[:5],
]


def test_values_of_a_known_shape_are_kept_and_near_misses_masked() -> None:
    codec = default_codec()
    answered = _example("call.answered")
    for value in KNOWN_SHAPES:
        data = codec.encode("call.answered", {**answered, "agent_id": value})
        assert redact_original(codec, data).data == data, value
    for value in NOT_KNOWN:
        data = codec.encode("call.answered", {**answered, "agent_id": value})
        redacted = redact_original(codec, data)
        assert redacted.changed and "agent_id held" in redacted.note, value
        assert codec.decode(redacted.data)[1]["agent_id"] == blank_phone_runs(value), value


def repository_events(tmp_path: Path) -> list[Any]:
    """The events the queue_log adapter (a sample log and a ``Local/…`` member) and the
    simulator (ten minutes of one center) make: ids with long digit runs included."""
    lines, _ = generate_sample(calls=40)
    enter = next(ln for ln in lines if "|CONNECT|" in ln).split("|")
    member = "Local/8008@from-queue/n"  # its agent id ends in the digest .608426
    lines.append("|".join([str(int(enter[0]) + 1), "NONE", "yanglao", member, "ADDMEMBER", ""]))
    run = ingestor(tmp_path, write_log(tmp_path / "queue_log", lines))
    run.run()
    simulated = MemorySink()
    start = datetime(2025, 3, 3, 9, tzinfo=timezone(timedelta(hours=8)))
    simulate(SimConfig(centers=["C320100"], start=start, duration=timedelta(minutes=10)), simulated)
    events = run.sink.events + simulated.events
    assert any((getattr(e, "agent_id", None) or "").endswith(".608426") for e in events)
    return events


def test_the_events_of_the_repository_producers_are_kept_exactly(tmp_path: Path) -> None:
    """Every event the simulator and the queue_log adapter make (ids with long digit runs
    included: C320100, Asterisk unique ids, a Local/… member's digest) is kept byte for byte."""
    events = repository_events(tmp_path)
    codec = default_codec()
    for event in events:
        data = codec.encode_model(event)
        assert redact_original(codec, data).data == data, event


# -- the worker's ingest and the sink -----------------------------------------------------


def test_the_worker_dead_letters_a_raw_caller_number_masked(tmp_path: Path) -> None:
    """The reproduction, through the worker's ingest (no broker: its sends are captured)."""
    codec = default_codec()
    worker = Worker(WorkerConfig(app_id="t-dl-privacy", partitions=3, datadir=tmp_path))
    sent: list[tuple[str, bytes, bytes]] = []
    worker._send = lambda role, key, value: sent.append((role, key, value))  # type: ignore[method-assign]
    data = codec.encode("call.offered", _offered(MOBILE))
    latest = datetime.now(UTC) + timedelta(hours=1)
    assert worker._validate(data, RAW_TOPIC, 0, 7, 1_740_963_600.0, latest) is None
    [(role, key, value)] = sent
    assert role == "dead_letters" and key == f"{RAW_TOPIC}:0:7".encode()
    assert MOBILE.encode() not in value
    dead = codec.decode_model(value)
    assert dead.reason == DeadLetterReason.INVALID and dead.source_offset == 7
    assert dead.error_detail.startswith("original masked: caller_id held a phone number")
    assert "caller_id" in dead.error_detail and "should match pattern" in dead.error_detail
    assert MOBILE not in dead.error_detail
    assert len(dead.original) == len(data) and MOBILE.encode() not in dead.original
    assert codec.decode(dead.original)[1] == {
        **codec.decode(data)[1],
        "caller_id": "*" * 9 + MOBILE[-2:],
    }
    assert worker.stats["masked_originals"] == 1 and worker.stats["dead_invalid"] == 1
    # from there into ClickHouse's dead_letters
    [row] = sink_rows.to_rows(codec, value, topic="hotline.deadletter", partition=0, offset=0)
    columns = dict(zip(sink_rows.TABLES["dead_letters"], row.row, strict=True))
    assert row.table == "dead_letters" and MOBILE not in columns["error_detail"]
    assert base64.b64decode(columns["original_base64"]) == dead.original

    # a late or otherwise invalid event without a number keeps its bytes exactly
    sent.clear()
    late = codec.encode("call.offered", _offered("ab" * 32, region_code="320100"))
    worker._dead(DeadLetterReason.LATE, "LateEvent", "late", late, RAW_TOPIC, 0, 8)
    assert codec.decode_model(sent[0][2]).original == late
    assert codec.decode_model(sent[0][2]).error_detail == "late"


def test_the_sink_masks_a_raw_event_it_cannot_route() -> None:
    """The sink reads the raw agent topics, which centers write: a call event there with a
    number in clear is dead-lettered by the sink itself, masked."""
    codec = default_codec()
    data = codec.encode("call.offered", _offered(MOBILE))
    [row] = sink_rows.to_rows(codec, data, topic="hotline.raw.320000.agents", partition=1, offset=2)
    columns = dict(zip(sink_rows.TABLES["dead_letters"], row.row, strict=True))
    original = base64.b64decode(columns["original_base64"])
    assert columns["stage"] == sink_rows.STAGE and MOBILE.encode() not in original
    assert len(original) == len(data) and codec.decode(original)[1]["caller_id"].endswith(M[-2:])
    assert columns["error_detail"].startswith("original masked: caller_id")


def test_the_worker_masks_a_late_event_with_a_number_in_an_agent_id(tmp_path: Path) -> None:
    """A late event is dead-lettered without validation of its ids: an agent id that is the
    caller's number (valid for the id pattern) was kept in clear; one of known shapes is kept
    byte for byte."""
    codec = default_codec()
    worker = Worker(WorkerConfig(app_id="t-dl-late", partitions=3, datadir=tmp_path))
    sent: list[bytes] = []
    worker._send = lambda role, key, value: sent.append(value)  # type: ignore[method-assign]
    answered = _example("call.answered")
    kept = codec.encode("call.answered", {**answered, "call_id": "C320100:1740966786.200-2"})
    leaky = codec.encode("call.answered", {**answered, "agent_id": DOTTED})
    for offset, data in enumerate((kept, leaky)):
        worker._dead(DeadLetterReason.LATE, "LateEvent", "late", data, RAW_TOPIC, 0, offset)
    first, second = (codec.decode_model(value) for value in sent)
    assert first.original == kept and first.error_detail == "late"
    assert not _clear_in(DOTTED, second.original) and len(second.original) == len(leaky)
    assert second.error_detail.startswith("original masked: agent_id held a run of 5+ digits")
    assert codec.decode(second.original)[1]["agent_id"] == blank_phone_runs(DOTTED)
    assert worker.stats["masked_originals"] == 1 and worker.stats["dead_late"] == 2


def test_the_sink_scrubs_a_number_its_contract_check_echoes() -> None:
    """The sink's contract check names a value that breaks a pattern (``region_code: '…' does
    not match``): a number in clear there is masked in the original and in the detail."""
    codec = default_codec()
    record = next(r for r in all_examples() if r.RECORD_TYPE == "call.record").to_avro()
    data = codec.encode("call.record", {**record, "region_code": MOBILE})
    [row] = sink_rows.to_rows(codec, data, topic="hotline.records.calls", partition=0, offset=0)
    columns = dict(zip(sink_rows.TABLES["dead_letters"], row.row, strict=True))
    assert columns["error_detail"].startswith("original masked: region_code held")
    assert "does not match" in columns["error_detail"] and MOBILE not in columns["error_detail"]
    assert MOBILE.encode() not in base64.b64decode(columns["original_base64"])


def test_the_sink_masks_a_dead_letter_of_a_worker_without_the_masking() -> None:
    codec = default_codec()
    data = codec.encode("call.offered", _offered(MOBILE))
    old = DeadLetter(
        reason=DeadLetterReason.INVALID,
        stage="streams.ingest",
        source_topic=RAW_TOPIC,
        source_partition=0,
        source_offset=7,
        original=data,
        error_type="CodecError",
        error_detail=f"caller_id [input_value='{MOBILE}', input_type=str]",
        failed_at=datetime(2025, 3, 3, tzinfo=UTC),
    )
    value = codec.encode_model(old)
    [row] = sink_rows.to_rows(codec, value, topic="hotline.deadletter", partition=0, offset=0)
    columns = dict(zip(sink_rows.TABLES["dead_letters"], row.row, strict=True))
    assert MOBILE not in columns["error_detail"]
    assert MOBILE.encode() not in base64.b64decode(columns["original_base64"])


# -- the producers' check and the queue_log's dead-letter text ----------------------------


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_the_producers_refuse_every_spelling(spelling: str) -> None:
    problem = caller_problem({"caller_id": spelling})
    assert problem is not None and "phone number in clear" in problem and spelling not in problem


@pytest.mark.parametrize(
    "number",
    [f"{M[:3]}.{M[3:7]}.{M[7:]}", f"+86.{M[:3]}.{M[3:7]}.{M[7:]}", f"{M[:3]}/{M[3:7]}/{M[7:]}"],
)
def test_queue_log_masks_dotted_and_slashed_numbers(number: str) -> None:
    for line in (
        f"1740990000|1740990000.17|q1|NONE|ENTERQUEUE||{number}|1",
        f"garbage with {number} in it",
        f"1740990000|{number}|q1|NONE|ENTERQUEUE||x|1",  # a number where the unique id goes
    ):
        masked = mask_line(line)
        assert number not in masked and _digits(number) not in _digits(masked)
        assert f"<{len(_digits(number))} digits, …{number[-2:]}>" in masked


def test_queue_log_keeps_the_time_and_the_unique_id() -> None:
    for time in ("1740990000", "1740990000.25", "2025-03-03 16:20:00"):
        line = f"{time}|1740990000.17|q1|NONE|ENTERQUEUE||{M[:3]}.{M[3:7]}.{M[7:]}|1"
        assert (
            mask_line(line) == f"{time}|1740990000.17|q1|NONE|ENTERQUEUE||<11 digits, …{M[-2:]}>|1"
        )
    assert mask_line("1740990000|1740990000.17|q1|SIP/1001|CONNECT|12|1.5|3") == (
        "1740990000|1740990000.17|q1|SIP/1001|CONNECT|12|1.5|3"
    )
