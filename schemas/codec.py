"""The wire format: Avro single-object encoding, self-describing by schema fingerprint.

::

    C3 01 | 8-byte CRC-64-AVRO fingerprint (little-endian) of the writer schema's canonical form
          | Avro binary body (schemaless)

A :class:`Codec` knows one *reader* schema per record type (the current ``.avsc``) and any
number of older *writer* schemas (``avro/history/``); bytes written with any known schema are
resolved to the current reader schema, so a field added with a default reads as its default
and a removed field is dropped.

The hot path is dict-level and does only what fastavro cannot: one dict look-up for the
schema, a 10-byte header, a bounds check. Schemas are parsed once per fingerprint, and so are
fastavro's named-type tables: the hot path calls fastavro's own Cython ``write_data`` /
``_read_data`` (what ``schemaless_writer`` / ``schemaless_reader`` call after re-collecting
those tables on every call), pre-bound per schema. Decoding reads ``timestamp-millis`` fields
as plain longs and turns them into aware UTC datetimes afterwards, along paths found once per
schema — the same values fastavro's logical reader returns, at a third of its cost. Pydantic
sits at the edges (:meth:`Codec.encode_model`, :meth:`Codec.decode_model`). Every failure is a
:class:`~hotline.schemas.errors.CodecError` whose message says what was wrong.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from io import BytesIO
from typing import Any

from fastavro import parse_schema

# fastavro's Cython entry points under schemaless_writer/-reader (fastavro is pinned in
# pyproject.toml; tests/test_codec_fastpath.py checks they give the public functions' results)
from fastavro._read import _read_data
from fastavro._write import write_data
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

_TIMESTAMP_MILLIS = "timestamp-millis"
_WRITE_OPTIONS = {"strict": False, "strict_allow_default": False, "disable_tuple_notation": False}
_READ_OPTIONS: dict[str, Any] = {}  # fastavro's defaults (no record names, strict unicode)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: Below this many ms from the epoch (|t| < 2**32 s, years 1834–2106) a float of seconds is
#: exact to the microsecond, so the fast ``fromtimestamp`` gives fastavro's exact value.
_FAST_MS = 2**32 * 1000

Path = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Reading:
    record_type: str
    writer: Any  # parsed writer schema (timestamps as plain longs when ``paths`` is set)
    reader: Any  # parsed reader schema, or None when the writer is the reader
    named: dict[str, dict[str, Any]]  # fastavro's named-type tables: {"writer": …, "reader": …}
    converters: tuple[Callable[[dict[str, Any]], None], ...]  # timestamp-millis fields


@dataclass(frozen=True, slots=True)
class _Writing:
    header: bytes
    schema: Any  # parsed schema, logical types included
    named: dict[str, Any]


class Codec:
    """Encodes dicts of a record type to single-object bytes and decodes them back.

    ``readers`` maps each dotted record type to its current (expanded) schema; ``writers`` are
    older schemas of the same records that may still be on the wire. A writer whose record
    name matches no reader is refused at construction time.
    """

    def __init__(self, readers: Mapping[str, Schema], writers: Iterable[Schema] = ()) -> None:
        self._encoding: dict[str, tuple[bytes, Any]] = {}
        self._writing: dict[str, _Writing] = {}
        self._decoding: dict[bytes, _Reading] = {}
        by_name: dict[str, tuple[str, Schema]] = {}
        for record_type, schema in readers.items():
            named: dict[str, Any] = {}
            parsed = parse_schema(schema, named_schemas=named)
            header = MARKER + fingerprint(schema)
            self._encoding[record_type] = (header, parsed)
            self._writing[record_type] = _Writing(header, parsed, named)
            self._decoding[header] = _reading(record_type, schema, None)
            by_name[full_name(schema)] = (record_type, schema)
        for schema in writers:
            header = MARKER + fingerprint(schema)
            if header in self._decoding:
                continue
            try:
                record_type, reader = by_name[full_name(schema)]
            except KeyError:
                raise CodecError(f"writer schema {full_name(schema)} has no reader") from None
            self._decoding[header] = _reading(record_type, schema, reader)

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
            writing = self._writing[record_type]
        except KeyError:
            raise CodecError(f"cannot encode unknown record type {record_type!r}") from None
        out = bytearray(writing.header)
        try:
            write_data(out, record, writing.schema, writing.named, "", _WRITE_OPTIONS)
        except Exception as exc:
            raise CodecError(_encode_problem(record_type, writing.schema, record, exc)) from exc
        return bytes(out)

    def decode(self, data: bytes) -> tuple[str, dict[str, Any]]:
        """``(record type, dict)`` of single-object bytes, resolved to the current schema."""
        reading, record = self._read(data, resolve=True)
        return reading.record_type, record

    def decode_as_written(self, data: bytes) -> tuple[str, dict[str, Any]]:
        """``(record type, dict)`` of single-object bytes as their writer schema has them.

        No resolution to the current schema (fields the reader dropped are kept) and
        timestamps stay epoch-ms longs: for looking at what a producer sent, e.g. before
        dead-lettering it (:mod:`hotline.schemas.redact`), not for the hot path.
        """
        reading, record = self._read(data, resolve=False)
        return reading.record_type, record

    def _read(self, data: bytes, resolve: bool) -> tuple[_Reading, dict[str, Any]]:
        """The reading of ``data``'s header and its body's dict; ``resolve``: to the current
        schema, timestamps as datetimes."""
        try:
            reading = self._decoding[data[:HEADER_SIZE]]
        except (KeyError, TypeError):
            raise CodecError(_header_problem(data)) from None
        stream = BytesIO(data)
        stream.seek(HEADER_SIZE)
        try:
            record = _read_data(
                stream,
                reading.writer,
                reading.named,
                reading.reader if resolve else None,
                _READ_OPTIONS,
            )
            if resolve:
                for convert in reading.converters:  # timestamps read as longs → datetimes
                    convert(record)
        except Exception as exc:
            raise CodecError(
                f"{reading.record_type}: body of {len(data)} bytes is truncated or corrupt "
                f"({type(exc).__name__}: {exc})"
            ) from exc
        if stream.tell() != len(data):
            raise CodecError(
                f"{reading.record_type}: {len(data) - stream.tell()} trailing bytes after the body"
            )
        return reading, record  # type: ignore[return-value]

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


def _reading(record_type: str, writer: Schema, reader: Schema | None) -> _Reading:
    """How to decode bodies written with ``writer`` into ``reader`` (None: the same)."""
    paths = _timestamp_paths(reader or writer)
    if paths is not None:  # read timestamps as longs, converters turn them into datetimes
        writer, reader = _plain_longs(writer), reader and _plain_longs(reader)
    named: dict[str, dict[str, Any]] = {"writer": {}, "reader": {}}
    parsed_writer = parse_schema(writer, named_schemas=named["writer"])
    parsed_reader = None if reader is None else parse_schema(reader, named_schemas=named["reader"])
    converters = tuple(_converter(path) for path in paths or ())
    return _Reading(record_type, parsed_writer, parsed_reader, named, converters)


def _timestamp_paths(schema: Schema) -> tuple[Path, ...] | None:
    """Field paths of every ``timestamp-millis`` value in records of ``schema``.

    None when one cannot be reached by field names alone (inside an array, a map, or a union
    of more than null and one type): fastavro then converts them itself.
    """
    named: dict[str, Any] = {}
    paths: list[Path] = []

    def visit(node: Any, path: Path | None, namespace: str, seen: frozenset[str]) -> bool:
        if isinstance(node, str):
            node = named.get(node) or named.get(f"{namespace}.{node}")
            if node is None:
                return True  # a primitive, enum or fixed
        if isinstance(node, list):  # a union: paths go through ["null", X] only
            if len([alt for alt in node if alt != "null"]) > 1:
                path = None
            return all(visit(alt, path, namespace, seen) for alt in node)
        if node.get("logicalType") == _TIMESTAMP_MILLIS:
            if path is None:
                return False
            paths.append(path)
            return True
        kind = node["type"]
        if kind in ("record", "error", "enum", "fixed"):
            name = full_name({"namespace": namespace, **node})
            named[name] = named[node["name"]] = node
            if kind == "enum" or kind == "fixed" or name in seen:
                return True
            inner = name.rpartition(".")[0]
            return all(
                visit(f["type"], None if path is None else (*path, f["name"]), inner, seen | {name})
                for f in node["fields"]
            )
        if kind == "array":
            return visit(node["items"], None, namespace, seen)
        if kind == "map":
            return visit(node["values"], None, namespace, seen)
        return visit(kind, path, namespace, seen) if isinstance(kind, dict | list) else True

    if not visit(schema, (), schema.get("namespace", ""), frozenset()):
        return None
    return tuple(p for p in paths if p)


def _plain_longs(schema: Any) -> Any:
    """``schema`` with each ``timestamp-millis`` annotation removed (a plain long)."""
    if isinstance(schema, dict):
        return {
            k: _plain_longs(v)
            for k, v in schema.items()
            if not (k == "logicalType" and v == _TIMESTAMP_MILLIS)
        }
    if isinstance(schema, list):
        return [_plain_longs(v) for v in schema]
    return schema


def _from_millis(ms: int) -> datetime:
    """What fastavro's ``timestamp-millis`` reader returns (aware UTC), exactly."""
    if -_FAST_MS < ms < _FAST_MS:
        return datetime.fromtimestamp(ms / 1000, UTC)
    return _EPOCH + timedelta(milliseconds=ms)


def _converter(path: Path) -> Callable[[dict[str, Any]], None]:
    """A function turning the epoch-ms long at ``path`` of a decoded record into a datetime.

    Paths of one or two names (nearly all: ``envelope.occurred_at``, ``due_at``) get a flat
    function with :func:`_from_millis` inlined: this runs once per timestamp on the hot path.
    """
    *parents, leaf = path
    fromtimestamp, fast = datetime.fromtimestamp, _FAST_MS

    if not parents:

        def convert(record: dict[str, Any]) -> None:
            ms = record[leaf]
            if ms is not None:
                record[leaf] = (
                    fromtimestamp(ms / 1000, UTC) if -fast < ms < fast else _from_millis(ms)
                )

    elif len(parents) == 1:
        parent = parents[0]

        def convert(record: dict[str, Any]) -> None:
            node = record[parent]
            if node is not None:  # a null ["null", record]
                ms = node[leaf]
                if ms is not None:
                    node[leaf] = (
                        fromtimestamp(ms / 1000, UTC) if -fast < ms < fast else _from_millis(ms)
                    )

    else:

        def convert(record: dict[str, Any]) -> None:
            node: Any = record
            for name in parents:
                node = node[name]
                if node is None:
                    return
            if node[leaf] is not None:
                node[leaf] = _from_millis(node[leaf])

    return convert


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
