"""Whatever bytes arrive, decode returns a record or raises CodecError, nothing else."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hotline.schemas.codec import HEADER_SIZE, default_codec
from hotline.schemas.errors import CodecError
from hotline.schemas.examples import all_examples

CODEC = default_codec()
VALID = [CODEC.encode_model(example) for example in all_examples()]
HEADERS = sorted({data[:HEADER_SIZE] for data in VALID})
FAST = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _decode(data: bytes) -> None:
    with contextlib.suppress(CodecError):
        CODEC.decode(data)
    with contextlib.suppress(CodecError):
        CODEC.decode_model(data)


@FAST
@given(st.binary(max_size=300))
def test_random_bytes(data: bytes) -> None:
    _decode(data)


@FAST
@given(st.sampled_from(HEADERS), st.binary(max_size=300))
def test_random_bodies_behind_a_known_header(header: bytes, body: bytes) -> None:
    _decode(header + body)


@st.composite
def _mutated(draw: Any) -> bytes:
    data = bytearray(draw(st.sampled_from(VALID)))
    for _ in range(draw(st.integers(1, 4))):
        action = draw(st.sampled_from(["flip", "set", "cut", "insert", "delete"]))
        position = draw(st.integers(0, max(len(data) - 1, 0)))
        if action == "flip" and data:
            data[position] ^= 1 << draw(st.integers(0, 7))
        elif action == "set" and data:
            data[position] = draw(st.integers(0, 255))
        elif action == "cut":
            del data[position:]
        elif action == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=8))
        elif action == "delete" and data:
            del data[position]
    return bytes(data)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_mutated())
def test_mutations_of_valid_encodings(data: bytes) -> None:
    _decode(data)


_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(max_size=10),
    st.binary(max_size=10),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)


@FAST
@given(st.sampled_from(all_examples()), st.data())
def test_encode_with_random_field_values(example: Any, data: st.DataObject) -> None:
    record = example.to_avro()
    for name in data.draw(st.sets(st.sampled_from(sorted(record)), min_size=1, max_size=3)):
        record[name] = data.draw(_values)
    with contextlib.suppress(CodecError):
        CODEC.encode(example.RECORD_TYPE, record)


@pytest.mark.parametrize("cut", range(HEADER_SIZE + 1))
def test_every_prefix_of_a_valid_encoding(cut: int) -> None:
    for data in VALID:
        _decode(data[: cut + (len(data) - HEADER_SIZE) * (cut == HEADER_SIZE)])
