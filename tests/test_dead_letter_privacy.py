"""No caller phone number in clear in dead letters (docs/privacy.md, "Dead letters"). Pure.

A center with its own Kafka client may send a raw event whose ``caller_id`` is the number
itself instead of its keyed hash. The worker's ingest dead-letters it (it fails validation):
neither the error text nor the original bytes kept in the dead letter (and from there in
ClickHouse) may hold the number. The numbers are libphonenumber's example numbers, built here.
"""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import phonenumbers
import pytest
from phonenumbers import PhoneNumberFormat, PhoneNumberType

from hotline.privacy import blank_phone_runs, blank_phone_runs_in_bytes, looks_like_phone
from hotline.producers.delivery import caller_problem
from hotline.producers.queue_log.parse import mask_line
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
