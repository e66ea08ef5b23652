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
codec's hot path does not.
"""

from __future__ import annotations

import re
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


def _check_record(
    schema: Schema, value: Any, path: str, records: dict[str, Schema], problems: list[str]
) -> None:
    if not isinstance(value, dict):
        return  # fastavro reports the type
    names = {field["name"] for field in schema["fields"]}
    problems.extend(f"{path}{key}: unknown field" for key in value if key not in names)
    for field in schema["fields"]:
        name, here = field["name"], f"{path}{field['name']}"
        item = value.get(name, field.get("default", _MISSING))
        if item is _MISSING or item is None:
            continue
        if isinstance(item, bool) and not any(b == "boolean" for b in _branches(field["type"])):
            problems.append(f"{here}: {item!r} is a boolean, not a number")
        if _is_timestamp(field["type"]) and (not isinstance(item, datetime) or item.tzinfo is None):
            problems.append(f"{here}: {item!r} is not a timezone-aware datetime")
        if "hotline.min" in field and isinstance(item, int) and item < field["hotline.min"]:
            problems.append(f"{here}: {item} is below the minimum {field['hotline.min']}")
        if "hotline.max" in field and isinstance(item, int) and item > field["hotline.max"]:
            problems.append(f"{here}: {item} is above the maximum {field['hotline.max']}")
        pattern = field.get("hotline.pattern")
        if pattern and isinstance(item, str) and not _pattern(pattern).fullmatch(item):
            problems.append(f"{here}: {item!r} does not match {pattern}")
        nested = _record_of(field["type"], records)
        if nested is not None:
            _check_record(nested, item, f"{here}.", records, problems)
    for name, condition in schema.get("hotline.present_iff", {}).items():
        for other, values in condition.items():
            required = value.get(other) in values
            present = value.get(name) is not None
            if required != present:
                state = "required" if required else "not allowed"
                problems.append(f"{path}{name}: {state} when {other} is {value.get(other)!r}")
    record_type = schema.get("hotline.record_type")
    envelope = value.get("envelope")
    event_type = envelope.get("event_type") if isinstance(envelope, dict) else None
    if record_type and event_type is not None and event_type != record_type:
        problems.append(f"{path}envelope.event_type: {event_type!r} is not {record_type!r}")


def violations(schema: Schema, record: Any) -> list[str]:
    """Every way ``record`` breaks ``schema`` (an expanded ``.avsc`` schema); empty if none."""
    problems: list[str] = []
    try:
        validate(record, parse_schema(schema), raise_errors=True)
    except ValidationError as exc:
        problems.extend(str(error) for error in exc.errors)
    except (TypeError, ValueError, AttributeError) as exc:
        problems.append(f"not encodable: {exc}")
    if isinstance(record, dict):
        _check_record(schema, record, "", _named_records(schema, {}), problems)
    else:
        problems.append(f"a record must be a dict, not {type(record).__name__}")
    return problems


def check(record_type: str, record: Any) -> None:
    """Raise :class:`ContractViolation` unless ``record`` meets the current ``record_type``."""
    try:
        schema = current_schemas()[record_type]
    except KeyError:
        raise ContractViolation(record_type, ["unknown record type"]) from None
    problems = violations(schema, record)
    if problems:
        raise ContractViolation(record_type, problems)
