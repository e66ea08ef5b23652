"""The codec's fast path equals fastavro's public functions, byte for byte and value for value.

The codec calls fastavro's Cython ``write_data`` / ``_read_data`` with pre-bound named-type
tables and reads ``timestamp-millis`` as longs, converting them itself; this pins that to what
``schemaless_writer`` / ``schemaless_reader`` return for the same schemas.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import BytesIO

import pytest
from fastavro import parse_schema, schemaless_reader, schemaless_writer

from hotline.schemas.codec import HEADER_SIZE, Codec, _timestamp_paths, default_codec
from hotline.schemas.examples import all_examples, examples_by_type
from hotline.schemas.registry import current_schemas, history_schemas


def _public(schema: dict, record: dict) -> tuple[bytes, dict]:
    parsed = parse_schema(schema)
    out = BytesIO()
    schemaless_writer(out, parsed, record)
    return out.getvalue(), schemaless_reader(BytesIO(out.getvalue()), parsed)


@pytest.mark.parametrize("example", all_examples(), ids=lambda e: e.RECORD_TYPE)
def test_bytes_and_values_equal_fastavros_public_functions(example) -> None:
    codec, record = default_codec(), example.to_avro()
    body, decoded = _public(current_schemas()[example.RECORD_TYPE], record)
    data = codec.encode(example.RECORD_TYPE, record)
    assert data[HEADER_SIZE:] == body
    assert codec.decode(data) == (example.RECORD_TYPE, decoded)


def test_history_writers_resolve_as_fastavro_does() -> None:
    codec = default_codec()
    for schema in history_schemas():
        record_type = schema["hotline.record_type"]
        reader = current_schemas()[record_type]
        for example in examples_by_type()[record_type]:
            data = Codec({record_type: schema}).encode(record_type, example.to_avro())
            expected = schemaless_reader(
                BytesIO(data[HEADER_SIZE:]), parse_schema(schema), parse_schema(reader)
            )
            assert codec.decode(data) == (record_type, expected)


@pytest.mark.parametrize(
    "when",
    [
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(1833, 12, 31, 23, 59, 59, 999_000, tzinfo=UTC),
        datetime(1969, 12, 31, 23, 59, 59, 999_000, tzinfo=UTC),
        datetime(1970, 1, 1, tzinfo=UTC),
        datetime(2025, 3, 3, 9, 30, 0, 123_000, tzinfo=UTC),
        datetime(2106, 2, 7, 6, 28, 15, 999_000, tzinfo=UTC),
        datetime(2106, 2, 7, 6, 28, 16, 1_000, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999_000, tzinfo=UTC),
    ],
)
def test_timestamps_anywhere_in_range_decode_exactly(when: datetime) -> None:
    example = examples_by_type()["ticket.created"][0]
    record = example.to_avro()
    record["envelope"] = {**record["envelope"], "occurred_at": when}
    record["due_at"] = when + timedelta(0) if when.year < 9999 else when
    _, decoded = _public(current_schemas()["ticket.created"], record)
    assert default_codec().decode(default_codec().encode("ticket.created", record))[1] == decoded


def test_timestamp_paths_of_the_schemas() -> None:
    paths = {name: _timestamp_paths(schema) for name, schema in current_schemas().items()}
    assert paths["call.answered"] == (("envelope", "occurred_at"),)
    assert ("due_at",) in paths["ticket.created"]
    assert all(p is not None for p in paths.values())


def test_a_timestamp_in_an_array_is_left_to_fastavro() -> None:
    schema = {
        "type": "record",
        "name": "T",
        "fields": [
            {
                "name": "at",
                "type": {
                    "type": "array",
                    "items": {"type": "long", "logicalType": "timestamp-millis"},
                },
            }
        ],
    }
    assert _timestamp_paths(schema) is None
    record = {"at": [datetime(2025, 1, 1, tzinfo=UTC)]}
    codec = Codec({"t": schema})
    assert codec.decode(codec.encode("t", record)) == ("t", record)
