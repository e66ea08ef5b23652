"""Dead-letter originals without phone numbers in clear (docs/privacy.md, "Dead letters").

A dead letter keeps the bytes it was made of (``original``) so that it can be found, read and
replayed; they are kept for two years in ClickHouse. A producer that skipped
pseudonymisation may have put a caller's phone number in them, though — in a caller field, or
by a bug in any other text field (an agent id, a call or ticket id, a message):
:func:`redact_original` masks it before the bytes leave the process.

- Bytes that decode (with their own writer schema): every string value, at any depth, that
  may hold a phone number (:func:`phone_values`) is masked *in place*: every digit of each
  run of 5+ digits in it but the last two becomes ``*``
  (:func:`hotline.privacy.blank_phone_runs`), as many bytes as before. In a caller field — a
  field whose name starts with ``caller``, as the producers' check reads it — that is any
  text but a caller id (64 hex) with such a run; in any other field, text with such a run
  that is neither of a shape that holds no number (a caller id, a UUID, a region code, an
  ISO time stamp) nor made only of runs of a known harmless shape (:data:`_KNOWN_RUN`: six
  digits as in a region or center id, the 12333 and 12345 hotlines, a year-region id, an
  Asterisk unique id; and a queue_log agent id's hex digest). An Avro string is
  length-prefixed, so the bytes stay decodable and every other byte stays as it was. Bytes
  without such a value are returned unchanged, byte for byte (late events and the like must
  stay replayable). Integers are left alone: the schemas' longs and ints are times,
  durations, counts, sequence numbers, versions and scores, none an identifier.
- Bytes that do not decode: every run of 5+ digits after the single-object header is masked the
  same way (as ``hotline.producers.queue_log`` masks its dead-letter lines); such bytes cannot
  be replayed anyway.

:func:`redact_json` does the same for an event in JSON form (the HTTP gateway's rejected
events, which may be malformed in any field): every value that could hold a number is masked,
only values of a shape that cannot (a caller id, a UUID, a region code, a time stamp, or one
the caller names) are kept.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from hotline.privacy import (
    PHONE_RUN,
    blank_phone_runs,
    blank_phone_runs_in_bytes,
    has_phone_run,
    is_dialable_number,
)
from hotline.schemas.codec import HEADER_SIZE, MARKER, Codec
from hotline.schemas.errors import CodecError
from hotline.schemas.types import CALLER_ID_PATTERN, REGION_CODE_PATTERN, UUID_PATTERN

__all__ = [
    "MAX_JSON_DEPTH",
    "TOO_DEEP",
    "Redacted",
    "may_hold_phone_number",
    "phone_number_problem",
    "phone_values",
    "redact_json",
    "redact_original",
]

_CALLER_ID = re.compile(CALLER_ID_PATTERN)
#: Text of these shapes holds no phone number: kept by :func:`redact_json` (but in a caller
#: field, where only a caller id is kept).
_NO_NUMBER = re.compile(
    "|".join(f"(?:{p.strip('^$')})" for p in (CALLER_ID_PATTERN, UUID_PATTERN, REGION_CODE_PATTERN))
    + r"|\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?"
)
#: Runs of digits (phone separators allowed) of these shapes, in text outside a caller field,
#: are no phone number (:func:`redact_original` keeps them): six digits, the shape of a
#: region code (``C320100``, ``ctr-320102``, also an unknown or invalid code) — no caller's
#: number has six digits; the 12333 and 12345 hotlines' own numbers (``js-nj-12333``, the
#: transfer target ``platform_12345``); a year and a region code (``QA-2025-320100-1``); an
#: Asterisk unique id, epoch seconds ``.`` a sequence, and the leg queue_log adds
#: (``C320100:1740966786.200-2``).
_KNOWN_RUN = re.compile(
    r"[0-9]{6}|123(?:33|45)|20[0-9]{2}-[0-9]{6}(?:-[0-9]{1,4})?"
    r"|1[0-9]{9}\.[0-9]{1,9}(?:-[0-9]{1,4})?"
)
#: The hex digest ending a queue_log agent id made of a name with other characters
#: (``C320100:Local:8001_from-queue:n.1a2b3c``, ``QueueLogMapping.agent_id``): after a letter,
#: ``_`` or ``:``, so it joins no run of digits before it.
_DIGEST_TAIL = re.compile(r"(?<=[A-Za-z_:])\.[0-9a-f]{6}\Z")
#: :func:`redact_json` keeps this many levels of objects and arrays (an event has 3); what
#: lies deeper is replaced by :data:`TOO_DEEP`, so no input can exhaust the recursion.
MAX_JSON_DEPTH = 32
TOO_DEEP = f"<nested deeper than {MAX_JSON_DEPTH} levels: not kept>"


@dataclass(frozen=True, slots=True)
class Redacted:
    """The bytes to keep, and what was masked in them (``note`` is empty when nothing was)."""

    data: bytes
    note: str = ""
    #: value in clear → its mask, to scrub the same value from an error text (never shown)
    masks: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def changed(self) -> bool:
        return bool(self.note)

    def scrub(self, text: str) -> str:
        """``text`` with each masked value replaced by its mask (a second line of defence:
        validation errors do not echo values, see :mod:`hotline.schemas.base`)."""
        for clear, masked in self.masks.items():
            text = text.replace(clear, masked)
        return text

    def detail(self, text: str, limit: int) -> str:
        """A dead letter's ``error_detail``: the note first (so that truncation to ``limit``
        characters keeps it), then ``text`` scrubbed."""
        text = self.scrub(text)
        return (f"{self.note}; {text}" if self.note else text)[:limit]


def _may_hold_phone(text: str, caller: bool) -> bool:
    """Whether a string value of a decoded record may hold a phone number in clear (see the
    module's docstring): in a caller field, unless a caller id; elsewhere, unless of a shape
    that holds none or made only of runs of a known harmless shape."""
    if _CALLER_ID.fullmatch(text):
        return False
    if caller:
        return has_phone_run(text)
    if _NO_NUMBER.fullmatch(text):
        return False
    runs = (m.group() for m in PHONE_RUN.finditer(_DIGEST_TAIL.sub("", text)))
    return any(has_phone_run(run) and not _KNOWN_RUN.fullmatch(run) for run in runs)


def phone_values(
    value: Any,
    path: str = "",
    caller: bool = False,
    test: Callable[[str, bool], bool] = _may_hold_phone,
) -> Iterator[tuple[str, str, bool]]:
    """``(field path, text, in a caller field)`` of each string of a decoded record, at any
    depth (nested records and arrays; an array's items are in its field), that may hold a
    phone number in clear (``test(text, in a caller field)``)."""
    if isinstance(value, str):
        if test(value, caller):
            yield path, value, caller
    elif isinstance(value, dict):
        for name, item in value.items():
            here = f"{path}.{name}" if path else str(name)
            yield from phone_values(item, here, str(name).startswith("caller"), test)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from phone_values(item, f"{path}.{i}" if path else str(i), caller, test)


_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
_TEN_DIGITS = b"0" * 10


def _ten_digits(data: bytes) -> bool:
    """Whether ``data`` holds ten ASCII digits in a row once every ``-`` and ``.`` is taken
    out: the fewest of a Chinese number with its area code. Ids (``ID_PATTERN``) are ASCII."""
    return _TEN_DIGITS in data.translate(_DIGITS_AS_ZERO, b"-.")


#: What holds no number in an event's Avro bytes: whole strings of a shape that holds none
#: (:data:`_NO_NUMBER`), a UUID (36 characters, so its length prefix is the byte ``H``) and a
#: caller id (64, prefix ``\x80\x01``); and an Asterisk unique id after a ``:`` as
#: queue_log's call ids end (``C320100:1740966786.200-2``; :data:`_KNOWN_RUN`), not followed
#: by more of a run. One in five simulated events has ten digits in a row in a UUID once its
#: dashes are out, and most queue_log events in their call id.
_WHOLE_NO_NUMBER = re.compile(
    rb"H[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|\x80\x01[0-9a-f]{64}"
    rb"|(?<=:)1[0-9]{9}\.[0-9]{1,9}(?:-[0-9]{1,4})?(?![0-9.-])"
)


def may_hold_phone_number(data: bytes) -> bool:
    """Whether an event's Avro bytes may hold a phone number in an id: a cheap look before
    :func:`phone_number_problem` (a byte translation and a substring search; where they
    find ten digits, again without what :data:`_WHOLE_NO_NUMBER` matches)."""
    return _ten_digits(data) and _ten_digits(_WHOLE_NO_NUMBER.sub(b"", data))


def _holds_dialable_number(text: str, caller: bool) -> bool:
    """Outside a caller field (the schema allows only a caller id there): text not of a
    shape that holds no number with a run, of no known harmless shape, that is a number a
    caller could be called on (:func:`hotline.privacy.is_dialable_number`)."""
    if caller or len(text) < 10 or (text.isascii() and not _ten_digits(text.encode())):
        return False  # the common case, cheaply
    if _NO_NUMBER.fullmatch(text):
        return False
    runs = (m.group() for m in PHONE_RUN.finditer(_DIGEST_TAIL.sub("", text)))
    return any(not _KNOWN_RUN.fullmatch(run) and is_dialable_number(run) for run in runs)


def phone_number_problem(record: dict[str, Any]) -> str | None:
    """Why a valid event (``record``: its fields, as encoded) must not be stored, or None:
    an id or other text field holds a phone number (a producer that wrote the caller's
    number into a call, agent or ticket id). Names the fields, shows them masked only.

    Narrower than the dead letters' masking (any run of 5+ digits of no known shape), which
    may err towards masking; this refuses good data, so only a number as a caller's would
    be written counts: a mobile, a number with its trunk ``0`` or country code."""
    found = list(phone_values(record, test=_holds_dialable_number))
    if not found:
        return None
    shown = ", ".join(f"{name} {blank_phone_runs(text)!r}" for name, text, _ in found)
    return (
        f"a phone number in clear in {shown}: ids must not hold one (send the caller's "
        "keyed hash in caller_id, and ids of the center's own)"
    )


def _avro_length(n: int) -> bytes:
    """Avro's encoding of a string's length: zig-zag, then a base-128 varint."""
    n <<= 1  # zig-zag of a non-negative long
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def redact_original(codec: Codec, data: bytes | None) -> Redacted:
    """``data`` with any caller phone number masked (see the module's docstring)."""
    if not data:
        return Redacted(data or b"")
    try:
        _, record = codec.decode_as_written(data)
    except CodecError:
        start = HEADER_SIZE if data[:2] == MARKER and len(data) >= HEADER_SIZE else 0
        masked = blank_phone_runs_in_bytes(data, start)
        if masked == data:
            return Redacted(data)
        return Redacted(
            masked,
            "original masked: the bytes do not decode, so every run of 5+ digits in them "
            "(a possible phone number) has its digits but the last two replaced by '*'",
        )
    found = list(phone_values(record))
    if not found:
        return Redacted(data)
    masks = {value: blank_phone_runs(value) for _, value, _ in found}
    body = data[HEADER_SIZE:]
    for clear, masked in masks.items():
        raw, hidden = clear.encode("utf-8"), masked.encode("utf-8")
        prefix = _avro_length(len(raw))
        body = body.replace(prefix + raw, prefix + hidden)
    out = data[:HEADER_SIZE] + body
    try:  # the masked bytes must decode, with no phone-like value left
        clean = not list(phone_values(codec.decode_as_written(out)[1]))
    except CodecError:
        clean = False
    callers = sorted({name for name, _, caller in found if caller})
    others = sorted({name for name, _, caller in found if not caller})
    held = [f"{', '.join(callers)} held a phone number in clear"] if callers else []
    if others:
        held.append(
            f"{', '.join(others)} held a run of 5+ digits of no known id shape "
            "(possibly a phone number)"
        )
    its = "its" if len(found) == 1 else "their"
    note = f"original masked: {'; '.join(held)}; {its} digits but the last two of each run"
    if clean:
        note += " are replaced by '*' (same length, the rest of the bytes unchanged)"
    else:  # not expected: mask every digit run of the body instead
        out = blank_phone_runs_in_bytes(data, HEADER_SIZE)
        note += ", and those of every other run of 5+ digits, are replaced by '*'"
    return Redacted(out, note, masks)


def redact_json(value: Any, keep: Callable[[str], bool] = lambda _: False) -> tuple[Any, bool]:
    """``value`` (parsed JSON) with every possible phone number masked, and whether any was.

    Walks objects and arrays. Text in a caller field (a key starting with ``caller``) that is
    not a caller id, and any other text that is neither of a shape that holds no number (a
    caller id, a UUID, a region code, an ISO time stamp) nor accepted by ``keep`` (e.g. known
    center ids), gets each run of 5+ digits masked by :func:`blank_phone_runs`; an integer of
    5+ digits becomes its masked text; keys are masked like text. An object or array deeper
    than :data:`MAX_JSON_DEPTH` levels becomes :data:`TOO_DEEP`.
    """
    changed = False

    def text(raw: str, caller: bool) -> str:
        nonlocal changed
        if _CALLER_ID.fullmatch(raw) or (not caller and (_NO_NUMBER.fullmatch(raw) or keep(raw))):
            return raw
        masked = blank_phone_runs(raw)
        changed = changed or masked != raw
        return masked

    def walk(item: Any, caller: bool, depth: int) -> Any:
        nonlocal changed
        if isinstance(item, dict | list) and depth == MAX_JSON_DEPTH:
            return TOO_DEEP
        if isinstance(item, dict):
            return {
                text(str(k), False): walk(v, str(k).startswith("caller"), depth + 1)
                for k, v in item.items()
            }
        if isinstance(item, list):
            return [walk(v, caller, depth + 1) for v in item]
        if isinstance(item, str):
            return text(item, caller)
        if isinstance(item, int | float) and not isinstance(item, bool):
            masked = blank_phone_runs(str(item))
            if masked != str(item):
                changed = True
                return masked
        return item

    return walk(value, False, 0), changed
