"""Schema evolution: old reader / new writer and new reader / old writer both work."""

from __future__ import annotations

import copy

import pytest

from hotline.schemas.codec import Codec
from hotline.schemas.errors import CodecError
from hotline.schemas.examples import examples_by_type
from hotline.schemas.registry import Schema, current_schemas, fingerprint

V1 = current_schemas()["call.offered"]


def _v2() -> Schema:
    """call.offered v2: adds ``dialled_line`` with a default, removes optional ``caller_id``."""
    schema = copy.deepcopy(V1)
    schema["fields"] = [f for f in schema["fields"] if f["name"] != "caller_id"]
    schema["fields"].append({"name": "dialled_line", "type": "string", "default": "12333"})
    return schema


V2 = _v2()


def _v1_record() -> dict:
    return next(e for e in examples_by_type()["call.offered"] if e.caller_id).to_avro()


def test_versions_have_different_fingerprints() -> None:
    assert fingerprint(V1) != fingerprint(V2)


def test_new_reader_reads_old_writer() -> None:
    old = Codec({"call.offered": V1})
    new = Codec({"call.offered": V2}, writers=[V1])
    record = _v1_record()
    record_type, decoded = new.decode(old.encode("call.offered", record))
    assert record_type == "call.offered"
    assert decoded["dialled_line"] == "12333"  # added field: the reader's default
    assert "caller_id" not in decoded  # removed field: dropped
    assert {k: v for k, v in decoded.items() if k != "dialled_line"} == {
        k: v for k, v in record.items() if k != "caller_id"
    }


def test_old_reader_reads_new_writer() -> None:
    new = Codec({"call.offered": V2})
    old = Codec({"call.offered": V1}, writers=[V2])
    record = {k: v for k, v in _v1_record().items() if k != "caller_id"}
    record["dialled_line"] = "12345"
    _, decoded = old.decode(new.encode("call.offered", record))
    assert decoded["caller_id"] is None  # removed optional field: the old reader's default
    assert "dialled_line" not in decoded  # field unknown to the old reader: skipped
    assert decoded["call_id"] == record["call_id"]


def test_current_writer_still_decodes_without_resolution() -> None:
    codec = Codec({"call.offered": V2}, writers=[V1, V2])
    record = {k: v for k, v in _v1_record().items() if k != "caller_id"}
    record["dialled_line"] = "12333"
    assert codec.decode(codec.encode("call.offered", record)) == ("call.offered", record)


def test_incompatible_change_is_a_codec_error() -> None:
    schema = copy.deepcopy(V1)
    schema["fields"].append({"name": "required_new", "type": "string"})  # no default
    reader = Codec({"call.offered": schema}, writers=[V1])
    data = Codec({"call.offered": V1}).encode("call.offered", _v1_record())
    with pytest.raises(CodecError, match=r"call.offered"):
        reader.decode(data)
