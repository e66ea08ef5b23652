"""Dead-letter originals without phone numbers in clear (docs/privacy.md, "Dead letters").

A dead letter keeps the bytes it was made of (``original``) so that it can be found, read and
replayed; they are kept for two years in ClickHouse. A producer that skipped
pseudonymisation may have put a caller's phone number in them, though: :func:`redact_original`
masks it before the bytes leave the process.

- Bytes that decode (with their own writer schema): each caller field — a field whose name
  starts with ``caller``, as the producers' check reads it — holding text that is not a caller
  id (64 hex) and has a run of 5+ digits is masked *in place*: every digit of the run but its
  last two becomes ``*`` (:func:`hotline.privacy.blank_phone_runs`), as many bytes as before.
  An Avro string is length-prefixed, so the bytes stay decodable and every other byte stays
  as it was. Bytes without such a value are returned unchanged, byte for byte (late events and
  the like must stay replayable).
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

from hotline.privacy import blank_phone_runs, blank_phone_runs_in_bytes, has_phone_run
from hotline.schemas.codec import HEADER_SIZE, MARKER, Codec
from hotline.schemas.errors import CodecError
from hotline.schemas.types import CALLER_ID_PATTERN, REGION_CODE_PATTERN, UUID_PATTERN

__all__ = [
    "MAX_JSON_DEPTH",
    "TOO_DEEP",
    "Redacted",
    "caller_values",
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


def caller_values(record: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """``(field path, text)`` of each caller field of a decoded record that holds a phone-like
    value: not a caller id, with a run of 5+ digits (nested records and arrays included)."""
    if isinstance(record, dict):
        for name, value in record.items():
            here = f"{path}{name}"
            if (
                isinstance(name, str)
                and name.startswith("caller")
                and isinstance(value, str)
                and not _CALLER_ID.fullmatch(value)
                and has_phone_run(value)
            ):
                yield here, value
            elif isinstance(value, dict | list):
                yield from caller_values(value, f"{here}.")
    elif isinstance(record, list):
        for i, item in enumerate(record):
            yield from caller_values(item, f"{path}{i}.")


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
    found = list(caller_values(record))
    if not found:
        return Redacted(data)
    masks = {value: blank_phone_runs(value) for _, value in found}
    body = data[HEADER_SIZE:]
    for clear, masked in masks.items():
        raw, hidden = clear.encode("utf-8"), masked.encode("utf-8")
        prefix = _avro_length(len(raw))
        body = body.replace(prefix + raw, prefix + hidden)
    out = data[:HEADER_SIZE] + body
    try:  # the masked bytes must decode, with no phone-like caller value left
        clean = not list(caller_values(codec.decode_as_written(out)[1]))
    except CodecError:
        clean = False
    names = ", ".join(sorted({name for name, _ in found}))
    note = f"original masked: {names} held a phone number in clear; its digits but the last two"
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
