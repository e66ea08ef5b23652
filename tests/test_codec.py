"""The single-object wire format and its one error type."""

from __future__ import annotations

import struct

import pytest

from hotline.errors import InvalidInput
from hotline.schemas.catalog import RECORD_TYPES
from hotline.schemas.codec import HEADER_SIZE, MARKER, Codec, default_codec
from hotline.schemas.errors import CodecError
from hotline.schemas.examples import all_examples, examples_by_type
from hotline.schemas.registry import current_schemas, fingerprint, history_schemas

_EMPTY = 0xC15D213AA4D7A795


def _rabin(data: bytes) -> int:
    """CRC-64-AVRO as the Avro specification writes it, bit by bit."""
    fp = _EMPTY
    for byte in data:
        fp ^= byte
        for _ in range(8):
            fp = (fp >> 1) ^ (_EMPTY & -(fp & 1))
    return fp


def test_fingerprint_is_the_avro_spec_rabin_little_endian() -> None:
    # the Avro spec's test vector: "int" → 8f5c393f1ad57572
    assert fingerprint("int").hex() == "8f5c393f1ad57572"  # type: ignore[arg-type]
    from fastavro.schema import to_parsing_canonical_form

    for schema in current_schemas().values():
        canonical = to_parsing_canonical_form(schema).encode()
        assert fingerprint(schema) == struct.pack("<Q", _rabin(canonical))


@pytest.mark.parametrize("example", all_examples(), ids=lambda e: e.RECORD_TYPE)
def test_every_example_round_trips_with_the_header(example) -> None:
    codec = default_codec()
    data = codec.encode_model(example)
    assert data[:2] == MARKER == b"\xc3\x01"
    assert data[2:HEADER_SIZE] == codec.fingerprint(example.RECORD_TYPE)
    assert codec.decode_model(data) == example


def test_default_codec_knows_every_record_type_and_every_released_version() -> None:
    codec = default_codec()
    assert codec.record_types == set(RECORD_TYPES)
    for schema in history_schemas():
        record_type = schema["hotline.record_type"]
        for example in examples_by_type()[record_type]:
            data = Codec({record_type: schema}).encode(record_type, example.to_avro())
            assert codec.decode(data) == (record_type, example.to_avro())


def test_codec_error_is_invalid_input() -> None:
    assert issubclass(CodecError, InvalidInput)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "truncated: 0 bytes"),
        (b"\xc3\x01\x00", "truncated: 3 bytes"),
        (b"\xc3\x02" + bytes(8) + b"\x00", "bad marker c302"),
        (b"{}" + bytes(20), "bad marker 7b7d"),
        (b"\xc3\x01" + bytes(8) + b"\x00", "unknown schema fingerprint 0000000000000000"),
        ("c301", "cannot decode str"),
        (None, "cannot decode NoneType"),
    ],
)
def test_decode_errors_name_what_was_wrong(data: bytes, message: str) -> None:
    with pytest.raises(CodecError, match=message):
        default_codec().decode(data)


def test_truncated_and_trailing_bodies() -> None:
    codec = default_codec()
    data = codec.encode_model(examples_by_type()["call.ended"][1])
    with pytest.raises(CodecError, match=r"call.ended: body of .* truncated or corrupt"):
        codec.decode(data[:-1])
    with pytest.raises(CodecError, match=r"call.ended: 2 trailing bytes"):
        codec.decode(data + b"\x00\x00")


def test_decode_model_rejects_a_body_that_breaks_the_contract() -> None:
    codec = default_codec()
    record = examples_by_type()["call.answered"][0].to_avro()
    data = codec.encode("call.answered", {**record, "wait_ms": -5})  # Avro-valid long
    assert codec.decode(data)[1]["wait_ms"] == -5
    with pytest.raises(CodecError, match=r"call.answered: decoded record is invalid"):
        codec.decode_model(data)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"call_id": 5}, "call_id is <5> of type <class 'int'> expected string"),
        ({"call_id": None}, "call_id"),
        ({"wait_ms": "12"}, "wait_ms is <12> of type <class 'str'> expected long"),
        ({"wait_ms": 2**64}, "wait_ms"),
        ({"envelope": {"event_id": "x"}}, "Envelope.event_type"),
        ({"envelope": None}, "envelope"),
    ],
)
def test_encode_errors_name_the_field(change: dict, message: str) -> None:
    record = {**examples_by_type()["call.answered"][0].to_avro(), **change}
    with pytest.raises(CodecError, match=rf"cannot encode call.answered: .*{message}"):
        default_codec().encode("call.answered", record)


def test_encode_refuses_unknown_types_and_non_dicts() -> None:
    codec = default_codec()
    with pytest.raises(CodecError, match=r"unknown record type 'call.nope'"):
        codec.encode("call.nope", {})
    with pytest.raises(CodecError, match=r"cannot encode call.queued"):
        codec.encode("call.queued", ["not", "a", "dict"])  # type: ignore[arg-type]
    with pytest.raises(CodecError, match=r"unknown record type"):
        codec.fingerprint("call.nope")


def test_a_writer_without_reader_is_refused() -> None:
    schemas = current_schemas()
    with pytest.raises(CodecError, match=r"CallQueued has no reader"):
        Codec({"call.offered": schemas["call.offered"]}, [schemas["call.queued"]])
