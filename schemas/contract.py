"""Checking a dict against its ``.avsc`` contract, independent of the pydantic models.

Avro types are checked by fastavro; on top of them the ``.avsc`` files declare what Avro cannot
say, as properties this module enforces:

- field ``hotline.min`` / ``hotline.max``: inclusive bounds of an int/long (null passes);
- field ``hotline.pattern``: a regular expression the whole string must match (null passes);
- record ``hotline.present_iff``: ``{field: {other: [values]}}`` — ``field`` is non-null
  exactly when ``other`` has one of ``values``;
- record ``hotline.record_type``: an ``envelope.event_type`` must equal it.

It also rejects what fastavro's writer would silently accept: unknown fields, booleans for
numbers, naive datetimes for ``timestamp-millis``. The pydantic models enforce the same rules
(a test runs both over the same table of inputs); producers and tests call :func:`check`, the
sink calls it on what the codec decoded (``decoded=True``: the Avro types hold already), the
codec's hot path does not. Each record type's rules are read off its schema once
(:class:`Contract`), not walked again for every record.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from fastavro import parse_schema
from fastavro.validation import ValidationError, validate

from hotline.schemas.errors import ContractViolation
from hotline.schemas.registry import Schema, current_schemas

_MISSING = object()


@cache
def _pattern(text: str) -> re.Pattern[str]:
    return re.compile(text)


def _named_records(schema: Any, found: dict[str, Schema]) -> dict[str, Schema]:
    if isinstance(schema, list):
        for branch in schema:
            _named_records(branch, found)
    elif isinstance(schema, dict) and schema.get("type") == "record":
        found[schema["name"]] = schema
        for field in schema["fields"]:
            _named_records(field["type"], found)
    return found


def _branches(avro_type: Any) -> list[Any]:
    return avro_type if isinstance(avro_type, list) else [avro_type]


def _record_of(avro_type: Any, records: dict[str, Schema]) -> Schema | None:
    for branch in _branches(avro_type):
        if isinstance(branch, dict) and branch.get("type") == "record":
            return branch
        if isinstance(branch, str) and branch in records:
            return records[branch]
    return None


def _is_timestamp(avro_type: Any) -> bool:
    return any(
        isinstance(b, dict) and b.get("logicalType", "").startswith("timestamp")
        for b in _branches(avro_type)
    )


class _Rules:
    """One record schema's rules, read off the schema once (:func:`_compile`)."""

    __slots__ = ("fields", "names", "present_iff", "record_type")

    def __init__(self) -> None:
        self.names: frozenset[str] = frozenset()
        self.fields: tuple[_FieldRules, ...] = ()
        self.present_iff: tuple[tuple[str, str, Any], ...] = ()
        self.record_type: str | None = None


@dataclass(frozen=True, slots=True)
class _FieldRules:
    name: str
    default: Any
    numeric: bool
    """A boolean is refused (the field takes no ``boolean``)."""
    timestamp: bool
    minimum: int | None
    maximum: int | None
    pattern: re.Pattern[str] | None
    nested: _Rules | None


def _compile(schema: Schema, records: dict[str, Schema], done: dict[str, _Rules]) -> _Rules:
    """The rules of a record ``schema`` (``records``: the named records it may refer to)."""
    rules = done.get(schema["name"])
    if rules is not None:
        return rules
    rules = done[schema["name"]] = _Rules()  # before its fields: a record may refer to itself
    fields = []
    for field in schema["fields"]:
        nested = _record_of(field["type"], records)
        pattern = field.get("hotline.pattern")
        fields.append(
            _FieldRules(
                name=field["name"],
                default=field.get("default", _MISSING),
                numeric=not any(b == "boolean" for b in _branches(field["type"])),
                timestamp=_is_timestamp(field["type"]),
                minimum=field.get("hotline.min"),
                maximum=field.get("hotline.max"),
                pattern=_pattern(pattern) if pattern else None,
                nested=None if nested is None else _compile(nested, records, done),
            )
        )
    rules.names = frozenset(f["name"] for f in schema["fields"])
    rules.fields = tuple(fields)
    rules.present_iff = tuple(
        (name, other, values)
        for name, condition in schema.get("hotline.present_iff", {}).items()
        for other, values in condition.items()
    )
    rules.record_type = schema.get("hotline.record_type")
    return rules


def _check_record(rules: _Rules, value: Any, path: str, problems: list[str]) -> None:
    if not isinstance(value, dict):
        return  # fastavro reports the type
    names = rules.names
    problems.extend(f"{path}{key}: unknown field" for key in value if key not in names)
    for field in rules.fields:
        item = value.get(field.name, field.default)
        if item is _MISSING or item is None:
            continue
        here = path + field.name
        if field.numeric and isinstance(item, bool):
            problems.append(f"{here}: {item!r} is a boolean, not a number")
        if field.timestamp and (not isinstance(item, datetime) or item.tzinfo is None):
            problems.append(f"{here}: {item!r} is not a timezone-aware datetime")
        if field.minimum is not None and isinstance(item, int) and item < field.minimum:
            problems.append(f"{here}: {item} is below the minimum {field.minimum}")
        if field.maximum is not None and isinstance(item, int) and item > field.maximum:
            problems.append(f"{here}: {item} is above the maximum {field.maximum}")
        pattern = field.pattern
        if pattern is not None and isinstance(item, str) and not pattern.fullmatch(item):
            problems.append(f"{here}: {item!r} does not match {pattern.pattern}")
        if field.nested is not None:
            _check_record(field.nested, item, f"{here}.", problems)
    for name, other, values in rules.present_iff:
        required = value.get(other) in values
        present = value.get(name) is not None
        if required != present:
            state = "required" if required else "not allowed"
            problems.append(f"{path}{name}: {state} when {other} is {value.get(other)!r}")
    envelope = value.get("envelope")
    event_type = envelope.get("event_type") if isinstance(envelope, dict) else None
    if rules.record_type and event_type is not None and event_type != rules.record_type:
        problems.append(f"{path}envelope.event_type: {event_type!r} is not {rules.record_type!r}")


class Contract:
    """One ``.avsc`` schema (expanded) made ready to check records against, many times."""

    def __init__(self, schema: Schema) -> None:
        self.parsed = parse_schema(schema)
        self.rules = _compile(schema, _named_records(schema, {}), {})

    def violations(self, record: Any, decoded: bool = False) -> list[str]:
        """Every way ``record`` breaks the schema; empty if none. ``decoded``: it is what the
        codec decoded (to this schema), so its Avro types hold and only the ``hotline.*``
        rules are checked."""
        problems: list[str] = []
        if not decoded:
            try:
                validate(record, self.parsed, raise_errors=True)
            except ValidationError as exc:
                problems.extend(str(error) for error in exc.errors)
            except (TypeError, ValueError, AttributeError) as exc:
                problems.append(f"not encodable: {exc}")
        if isinstance(record, dict):
            _check_record(self.rules, record, "", problems)
        else:
            problems.append(f"a record must be a dict, not {type(record).__name__}")
        return problems


def violations(schema: Schema, record: Any) -> list[str]:
    """Every way ``record`` breaks ``schema`` (an expanded ``.avsc`` schema); empty if none."""
    return Contract(schema).violations(record)


@cache
def _contract(record_type: str) -> Contract | None:
    schema = current_schemas().get(record_type)
    return None if schema is None else Contract(schema)


def check(record_type: str, record: Any, *, decoded: bool = False) -> None:
    """Raise :class:`ContractViolation` unless ``record`` meets the current ``record_type``
    (``decoded``: a dict from :meth:`~hotline.schemas.codec.Codec.decode`, see
    :meth:`Contract.violations`)."""
    contract = _contract(record_type)
    if contract is None:
        raise ContractViolation(record_type, ["unknown record type"])
    problems = contract.violations(record, decoded)
    if problems:
        raise ContractViolation(record_type, problems)
