"""The wire format: Avro single-object encoding, self-describing by schema fingerprint.

::

    C3 01 | 8-byte CRC-64-AVRO fingerprint (little-endian) of the writer schema's canonical form
          | Avro binary body (schemaless)

A :class:`Codec` knows one *reader* schema per record type (the current ``.avsc``) and any
number of older *writer* schemas (``avro/history/``); bytes written with any known schema are
resolved to the current reader schema, so a field added with a default reads as its default
and a removed field is dropped.

The hot path is dict-level and does only what fastavro cannot: one dict look-up for the
schema, a 10-byte header, a bounds check. Schemas are parsed once per fingerprint. Pydantic
sits at the edges (:meth:`Codec.encode_model`, :meth:`Codec.decode_model`). Every failure is a
:class:`~hotline.schemas.errors.CodecError` whose message says what was wrong.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from io import BytesIO
from typing import Any

from fastavro import parse_schema, schemaless_reader, schemaless_writer
from fastavro.validation import ValidationError, validate

from hotline.schemas.base import Record
from hotline.schemas.catalog import model_for
from hotline.schemas.errors import CodecError
from hotline.schemas.registry import (
    Schema,
    current_schemas,
    fingerprint,
    full_name,
    history_schemas,
)

MARKER = b"\xc3\x01"
HEADER_SIZE = 10


@dataclass(frozen=True, slots=True)
class _Reading:
    record_type: str
    writer: Any  # parsed writer schema
    reader: Any  # parsed reader schema, or None when the writer is the reader


class Codec:
    """Encodes dicts of a record type to single-object bytes and decodes them back.

    ``readers`` maps each dotted record type to its current (expanded) schema; ``writers`` are
    older schemas of the same records that may still be on the wire. A writer whose record
    name matches no reader is refused at construction time.
    """

    def __init__(self, readers: Mapping[str, Schema], writers: Iterable[Schema] = ()) -> None:
        self._encoding: dict[str, tuple[bytes, Any]] = {}
        self._decoding: dict[bytes, _Reading] = {}
        by_name: dict[str, tuple[str, Any]] = {}
        for record_type, schema in readers.items():
            parsed = parse_schema(schema)
            header = MARKER + fingerprint(schema)
            self._encoding[record_type] = (header, parsed)
            self._decoding[header] = _Reading(record_type, parsed, None)
            by_name[full_name(schema)] = (record_type, parsed)
        for schema in writers:
            header = MARKER + fingerprint(schema)
            if header in self._decoding:
                continue
            try:
                record_type, reader = by_name[full_name(schema)]
            except KeyError:
                raise CodecError(f"writer schema {full_name(schema)} has no reader") from None
            self._decoding[header] = _Reading(record_type, parse_schema(schema), reader)

    @property
    def record_types(self) -> frozenset[str]:
        """The record types this codec can encode."""
        return frozenset(self._encoding)

    def fingerprint(self, record_type: str) -> bytes:
        """The 8-byte fingerprint written for ``record_type``."""
        return self._header(record_type)[0][2:]

    def _header(self, record_type: str) -> tuple[bytes, Any]:
        try:
            return self._encoding[record_type]
        except KeyError:
            raise CodecError(f"cannot encode unknown record type {record_type!r}") from None

    def encode(self, record_type: str, record: Mapping[str, Any]) -> bytes:
        """Single-object bytes of ``record`` (a dict of the current ``record_type`` schema).

        Only Avro types are checked here (missing fields, wrong types, out-of-range ints);
        the ``hotline.*`` rules are checked by :func:`hotline.schemas.contract.check` or the
        pydantic model at the edge.
        """
        try:
            header, schema = self._encoding[record_type]
        except KeyError:
            raise CodecError(f"cannot encode unknown record type {record_type!r}") from None
        out = BytesIO()
        out.write(header)
        try:
            schemaless_writer(out, schema, record)
        except Exception as exc:
            raise CodecError(_encode_problem(record_type, schema, record, exc)) from exc
        return out.getvalue()

    def decode(self, data: bytes) -> tuple[str, dict[str, Any]]:
        """``(record type, dict)`` of single-object bytes, resolved to the current schema."""
        try:
            reading = self._decoding[data[:HEADER_SIZE]]
        except (KeyError, TypeError):
            raise CodecError(_header_problem(data)) from None
        stream = BytesIO(data)
        stream.seek(HEADER_SIZE)
        try:
            record = schemaless_reader(stream, reading.writer, reading.reader)
        except Exception as exc:
            raise CodecError(
                f"{reading.record_type}: body of {len(data)} bytes is truncated or corrupt "
                f"({type(exc).__name__}: {exc})"
            ) from exc
        if stream.tell() != len(data):
            raise CodecError(
                f"{reading.record_type}: {len(data) - stream.tell()} trailing bytes after the body"
            )
        return reading.record_type, record  # type: ignore[return-value]

    def encode_model(self, model: Record) -> bytes:
        """Bytes of a validated pydantic record."""
        return self.encode(model.RECORD_TYPE, model.to_avro())

    def decode_model(self, data: bytes) -> Record:
        """The pydantic record of single-object bytes; contract violations are CodecErrors."""
        record_type, record = self.decode(data)
        try:
            return model_for(record_type).from_avro(record)
        except ValueError as exc:  # pydantic's ValidationError is a ValueError
            raise CodecError(f"{record_type}: decoded record is invalid: {exc}") from exc


def _encode_problem(record_type: str, schema: Any, record: Any, exc: Exception) -> str:
    try:
        validate(record, schema, raise_errors=True)
    except ValidationError as invalid:
        return f"cannot encode {record_type}: " + "; ".join(str(e) for e in invalid.errors)
    except Exception:  # validation itself choked on the input; report the writer's error
        pass
    return f"cannot encode {record_type}: {type(exc).__name__}: {exc}"


def _header_problem(data: object) -> str:
    if not isinstance(data, bytes | bytearray | memoryview):
        return f"cannot decode {type(data).__name__}; expected bytes"
    if len(data) < HEADER_SIZE:
        return f"truncated: {len(data)} bytes, the single-object header needs {HEADER_SIZE}"
    if bytes(data[:2]) != MARKER:
        return f"bad marker {bytes(data[:2]).hex()}; single-object encoding starts with c301"
    return f"unknown schema fingerprint {bytes(data[2:HEADER_SIZE]).hex()}"


@cache
def default_codec() -> Codec:
    """The codec of the installed schemas: current readers plus every released writer."""
    return Codec(current_schemas(), history_schemas())
