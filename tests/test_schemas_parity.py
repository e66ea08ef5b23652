"""Every pydantic model and its .avsc accept and reject the same inputs, and valid inputs
round-trip through plain fastavro and through the codec unchanged."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import datetime
from io import BytesIO
from typing import Any

import pytest
from fastavro import parse_schema, schemaless_reader, schemaless_writer
from pydantic import ValidationError

from hotline.schemas.catalog import RECORD_TYPES
from hotline.schemas.codec import default_codec
from hotline.schemas.contract import violations
from hotline.schemas.examples import examples_by_type
from hotline.schemas.qa import RUBRIC
from hotline.schemas.registry import current_schemas

_DROP = object()
Case = tuple[str, str, dict[str, Any], bool]  # record type, label, input, valid?


def _with(record: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    result = copy.deepcopy(record)
    *parents, last = path.split(".")
    node = result
    for key in parents:
        node = node[key]
    if value is _DROP:
        del node[last]
    else:
        node[last] = value
    return result


def _fields(record_type: str) -> list[dict[str, Any]]:
    return current_schemas()[record_type]["fields"]


def _cases() -> Iterator[Case]:
    for record_type, examples in examples_by_type().items():
        model = RECORD_TYPES[record_type]
        base = examples[0].to_avro()
        for n, example in enumerate(examples):
            yield record_type, f"example {n}", example.to_avro(), True
        yield record_type, "unknown field", {**base, "phone": "13800000000"}, False
        yield record_type, "not a dict", [base], False  # type: ignore[misc]
        for name, info in model.model_fields.items():
            if info.is_required():
                yield record_type, f"missing {name}", _with(base, name, _DROP), False
            else:
                # a PRESENT_IFF field that the example carries is required by its condition
                needed = name in model.PRESENT_IFF and base.get(name) is not None
                yield record_type, f"default {name}", _with(base, name, _DROP), not needed
        for field in _fields(record_type):
            name, avro_type = field["name"], field["type"]
            branches = avro_type if isinstance(avro_type, list) else [avro_type]
            if "null" in branches:
                needed = name in model.PRESENT_IFF and base.get(name) is not None
                yield record_type, f"null {name}", _with(base, name, None), not needed
            else:
                yield record_type, f"null required {name}", _with(base, name, None), False
            for branch in branches:
                kind = branch.get("type") if isinstance(branch, dict) else branch
                if kind == "enum":
                    yield record_type, f"bad enum {name}", _with(base, name, "fax"), False
                if kind in ("int", "long"):
                    yield record_type, f"str for {name}", _with(base, name, "12"), False
                    yield record_type, f"bool for {name}", _with(base, name, True), False
                    yield record_type, f"float for {name}", _with(base, name, 1.5), False
                    top = 2**31 if kind == "int" else 2**63
                    yield record_type, f"overflow {name}", _with(base, name, top), False
                if kind == "string":
                    yield record_type, f"int for {name}", _with(base, name, 7), False
                if kind == "boolean":
                    yield record_type, f"int for {name}", _with(base, name, 1), False
                if kind == "bytes":
                    yield record_type, f"str for {name}", _with(base, name, "abc"), False
                if isinstance(branch, dict) and branch.get("logicalType") == "timestamp-millis":
                    naive = datetime(2025, 3, 3, 9, 0)
                    yield record_type, f"naive {name}", _with(base, name, naive), False
                    yield record_type, f"int for {name}", _with(base, name, 1_700_000_000), False
            if "hotline.min" in field:
                low = field["hotline.min"] - 1
                yield record_type, f"below min {name}", _with(base, name, low), False
                yield record_type, f"at min {name}", _with(base, name, low + 1), True
            if "hotline.max" in field:
                high = field["hotline.max"] + 1
                yield record_type, f"above max {name}", _with(base, name, high), False
        if "envelope" in base:
            yield from _envelope_cases(record_type, base)
        for name in ("region_code", "evaluated_region_code"):
            if name in base:
                yield from _region_cases(record_type, base, name)


def _envelope_cases(record_type: str, base: dict[str, Any]) -> Iterator[Case]:
    yield from _region_cases(record_type, base, "envelope.region_code")
    yield record_type, "wrong event_type", _with(base, "envelope.event_type", "call.other"), False
    yield record_type, "bad event_type", _with(base, "envelope.event_type", "Call Offered"), False
    yield record_type, "bad event_id", _with(base, "envelope.event_id", "not-a-uuid"), False
    upper = base["envelope"]["event_id"].upper()
    yield record_type, "upper-case event_id", _with(base, "envelope.event_id", upper), False
    yield record_type, "negative sequence", _with(base, "envelope.sequence", -1), False
    yield record_type, "schema_version 0", _with(base, "envelope.schema_version", 0), False
    yield record_type, "empty center_id", _with(base, "envelope.center_id", ""), False
    yield record_type, "spaced center_id", _with(base, "envelope.center_id", "a b"), False
    yield (
        record_type,
        "missing envelope.producer_id",
        _with(base, "envelope.producer_id", _DROP),
        False,
    )
    yield record_type, "envelope extra", _with(base, "envelope.caller_phone", "138"), False


#: The snapshot types: their region code may be the national code 000000.
_SNAPSHOTS = {"metric.snapshot", "agent_time.snapshot", "ticket_count.snapshot"}


def _region_cases(record_type: str, base: dict[str, Any], path: str) -> Iterator[Case]:
    for code, valid in [
        ("320102", True),
        ("110000", True),
        ("660000", True),
        ("32010", False),
        ("3201020", False),
        ("990000", False),
        ("000000", record_type in _SNAPSHOTS),  # national snapshots (docs/streams.md)
        ("32010a", False),
        (" 320102", False),
    ]:
        yield record_type, f"{path}={code!r}", _with(base, path, code), valid


def _special_cases() -> Iterator[Case]:
    by_type = examples_by_type()
    scored = next(e for e in by_type["qa.evaluation"] if e.scores is not None).to_avro()
    unscored = next(e for e in by_type["qa.evaluation"] if e.scores is None).to_avro()
    for item in RUBRIC:
        path = f"scores.{item.field}"
        top = _with(scored, path, item.maximum)
        yield "qa.evaluation", f"{item.field}={item.maximum}", top, True
        yield "qa.evaluation", f"{item.field} over", _with(scored, path, item.maximum + 1), False
        yield "qa.evaluation", f"{item.field} negative", _with(scored, path, -1), False
        yield "qa.evaluation", f"{item.field} missing", _with(scored, path, _DROP), False
    yield "qa.evaluation", "outcome 2 scored", _with(scored, "outcome", 2), True
    yield "qa.evaluation", "outcome 3 scored", _with(scored, "outcome", 3), False
    yield "qa.evaluation", "outcome 4 scored", _with(scored, "outcome", 4), False
    yield "qa.evaluation", "outcome 1 unscored", _with(unscored, "outcome", 1), False
    yield "qa.evaluation", "outcome 4 unscored", _with(unscored, "outcome", 4), True
    yield "qa.evaluation", "outcome 0", _with(unscored, "outcome", 0), False
    yield "qa.evaluation", "outcome 5", _with(unscored, "outcome", 5), False
    yield "qa.evaluation", "score total field", _with(scored, "scores.total", 95), False

    offered = by_type["call.offered"][0].to_avro()
    for caller_id, valid in [
        ("17000005678", False),
        ("+8617000005678", False),
        ("0" * 64, True),
        ("A" * 64, False),
        ("0" * 63, False),
        (None, True),
    ]:
        record = _with(offered, "caller_id", caller_id)
        yield "call.offered", f"caller_id={caller_id!r}", record, valid

    states = by_type["agent.state"]
    ready = next(e for e in states if e.state == "ready").to_avro()
    busy = next(e for e in states if e.state == "not_ready").to_avro()
    yield "agent.state", "ready with reason", _with(ready, "reason", "break"), False
    yield "agent.state", "not_ready without reason", _with(busy, "reason", None), False
    yield "agent.state", "not_ready, reason omitted", _with(busy, "reason", _DROP), False
    yield "agent.state", "not_ready training", _with(busy, "reason", "training"), True


CASES = [*_cases(), *_special_cases()]


def _pydantic_accepts(record_type: str, record: Any) -> bool:
    try:
        RECORD_TYPES[record_type].model_validate(record)
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize(
    ("record_type", "label", "record", "valid"),
    CASES,
    ids=[f"{c[0]}:{c[1]}" for c in CASES],
)
def test_model_and_avsc_agree(record_type: str, label: str, record: Any, valid: bool) -> None:
    problems = violations(current_schemas()[record_type], record)
    assert _pydantic_accepts(record_type, record) is valid, label
    assert (not problems) is valid, problems


def test_the_table_is_broad() -> None:
    assert len(CASES) > 800
    assert sum(valid for *_, valid in CASES) > 150
    assert {c[0] for c in CASES} == set(RECORD_TYPES)


@pytest.mark.parametrize("record_type", sorted(RECORD_TYPES))
def test_valid_records_round_trip(record_type: str) -> None:
    schema = parse_schema(current_schemas()[record_type])
    codec = default_codec()
    for example in examples_by_type()[record_type]:
        record = example.to_avro()
        out = BytesIO()
        schemaless_writer(out, schema, record)
        out.seek(0)
        assert schemaless_reader(out, schema) == record
        assert codec.decode(codec.encode(record_type, record)) == (record_type, record)
        assert codec.decode_model(codec.encode_model(example)) == example
