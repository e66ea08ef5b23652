"""The .avsc files, the Python enums, the models, the history and the docs stay in step."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import hotline.schemas as public
from hotline.schemas import examples
from hotline.schemas.catalog import KEY_FIELDS, RECORD_TYPES
from hotline.schemas.codec import default_codec
from hotline.schemas.contract import check
from hotline.schemas.enums import ALL_ENUMS, CHINESE_NAMES
from hotline.schemas.errors import ContractViolation
from hotline.schemas.qa import GROUP_MAXIMA, RUBRIC, QaScores
from hotline.schemas.registry import AVRO_DIR, current_schemas, load_library, main, unfrozen

DOCS = Path(__file__).resolve().parent.parent / "docs" / "events.md"


@pytest.mark.parametrize("enum", ALL_ENUMS, ids=lambda e: e.__name__)
def test_python_and_avro_enums_have_the_same_symbols(enum) -> None:
    schema = json.loads((AVRO_DIR / f"cn.hotline.events.{enum.__name__}.avsc").read_text())
    assert schema["type"] == "enum"
    assert schema["symbols"] == [member.value for member in enum]
    assert all(member in CHINESE_NAMES for member in enum)


@pytest.mark.parametrize("enum", ALL_ENUMS, ids=lambda e: e.__name__)
def test_docs_list_every_enum_symbol_with_its_chinese_name(enum) -> None:
    text = DOCS.read_text(encoding="utf-8")
    for member in enum:
        assert f"| `{member.value}` | {CHINESE_NAMES[member]} |" in text, member


def test_every_avro_enum_has_a_python_enum() -> None:
    avro_enums = {s["name"] for s in load_library().values() if s["type"] == "enum"}
    assert avro_enums == {enum.__name__ for enum in ALL_ENUMS}


@pytest.mark.parametrize("record_type", sorted(RECORD_TYPES))
def test_avsc_fields_match_model_fields(record_type: str) -> None:
    model = RECORD_TYPES[record_type]
    schema = current_schemas()[record_type]
    assert schema["name"] == model.avro_name()
    assert [f["name"] for f in schema["fields"]] == list(model.model_fields)
    for field in schema["fields"]:
        info = model.model_fields[field["name"]]
        assert ("default" in field) == (not info.is_required()), field["name"]
        if "default" in field:
            assert field["default"] == info.default, field["name"]


def test_every_record_type_is_documented_keyed_and_named_consistently() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for record_type, model in RECORD_TYPES.items():
        assert f"`{record_type}`" in text
        assert KEY_FIELDS[record_type] in model.model_fields
        family, _, kind = record_type.partition(".")
        assert family and kind and record_type == record_type.lower()


def test_rubric_matches_the_national_monitoring() -> None:
    assert [item.maximum for item in RUBRIC] == [5, 5, 10, 5, 10, 20, 5, 5, 10, 15, 10]
    assert sum(item.maximum for item in RUBRIC) == 100
    for group, maximum in GROUP_MAXIMA.items():
        assert sum(i.maximum for i in RUBRIC if i.group == group) == maximum
    assert list(QaScores.model_fields) == [item.field for item in RUBRIC]
    best = QaScores(**{item.field: item.maximum for item in RUBRIC})
    assert (best.etiquette, best.communication, best.problem_solving, best.total) == (
        25,
        40,
        35,
        100,
    )


def test_every_current_schema_is_frozen_in_history() -> None:
    assert unfrozen() == [], "run `python -m hotline.schemas.registry freeze`"
    assert main(["check"]) == 0


def test_examples_cover_every_type_and_meet_the_contract() -> None:
    grouped = examples.examples_by_type()
    assert set(grouped) == set(RECORD_TYPES)
    for record_type, records in grouped.items():
        assert records, record_type
        for record in records:
            check(record_type, record.to_avro())


def test_example_caller_ids_are_hmac_hex_never_phone_numbers() -> None:
    caller_ids = [r.caller_id for r in examples.examples_by_type()["call.offered"] if r.caller_id]
    assert caller_ids
    for caller_id in caller_ids:
        assert len(caller_id) == 64 and int(caller_id, 16) >= 0


def test_example_events_are_sequenced_per_producer() -> None:
    events = [r for r in examples.all_examples() if hasattr(r, "envelope")]
    assert [e.envelope.sequence for e in events] == list(range(1, len(events) + 1))
    assert len({e.envelope.event_id for e in events}) == len(events)


def test_check_raises_one_error_listing_every_problem() -> None:
    record = examples.examples_by_type()["call.answered"][0].to_avro()
    bad = {**record, "wait_ms": -1, "agent_id": "no spaces allowed"}
    with pytest.raises(ContractViolation) as caught:
        check("call.answered", bad)
    assert len(caught.value.problems) == 2
    assert "wait_ms" in str(caught.value) and "agent_id" in str(caught.value)
    with pytest.raises(ContractViolation, match="unknown record type"):
        check("call.unknown", record)


def test_a_decoded_record_is_still_held_to_the_hotline_rules() -> None:
    record = examples.examples_by_type()["call.answered"][0].to_avro()
    codec = default_codec()
    _, decoded = codec.decode(codec.encode("call.answered", {**record, "wait_ms": -1}))
    with pytest.raises(ContractViolation) as caught:  # what the sink checks: no Avro pass
        check("call.answered", decoded, decoded=True)
    assert caught.value.problems == ["wait_ms: -1 is below the minimum 0"]
    check("call.answered", codec.decode(codec.encode("call.answered", record))[1], decoded=True)


def test_public_api_is_explicit() -> None:
    exported = {name for name in dir(public) if not name.startswith("_")}
    modules = {
        "agents", "base", "calls", "catalog", "codec", "contract", "derived", "enums",
        "errors", "examples", "qa", "redact", "registry", "tickets", "types",
    }  # fmt: skip
    assert exported - modules == set(public.__all__)
