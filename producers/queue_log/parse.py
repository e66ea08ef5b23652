"""One Asterisk ``queue_log`` line → :class:`QueueLogLine`, and masking for dead letters.

The format (``queue_log`` file, Asterisk 1.8 and later)::

    time|callid|queuename|agent|event|data1|data2|data3|data4|data5

``time`` is Unix epoch seconds (the default); realtime back-ends exported to text may carry
``YYYY-MM-DD HH:MM:SS[.ffffff]`` instead, which is read in the center's local timezone.
Older Asterisk versions wrote all event data into one ``|``-separated tail; newer ones the
same, so data fields are simply the fields after the event name (``ATTENDEDTRANSFER|LINK``
has six).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from hotline.privacy import mask_phone, replace_phone_runs
from hotline.producers.queue_log.errors import MalformedLine

__all__ = ["QueueLogLine", "mask_line", "parse_line"]

_EVENT = re.compile(r"^[A-Z][A-Z0-9_]*$")
#: ``re.ASCII``/``[0-9]``: ``\d`` alone would take full-width and other Unicode digits.
_TIME_TEXT = re.compile(r"^\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d{1,6})?$", re.ASCII)
_EPOCH_TEXT = re.compile(r"^[0-9]+(\.[0-9]*)?$")
#: Times accepted, as epoch seconds (exclusive): after 1970-01-01, before 2106-02-07.
_EPOCH_RANGE = (0, 2**32)
#: Epoch seconds 2001–2033 (ten digits from 1), with an optional fraction: no Chinese phone
#: number is written so.
_EPOCH = re.compile(r"^1[0-9]{9}(\.[0-9]{1,6})?$")
#: An Asterisk unique id: epoch seconds, a dot, a sequence number.
_UNIQUEID = re.compile(r"^1[0-9]{9}\.[0-9]+$")


@dataclass(frozen=True, slots=True)
class QueueLogLine:
    """A parsed line; ``data`` holds every field after the event name (may be empty)."""

    time: datetime
    callid: str
    queue: str
    agent: str
    event: str
    data: tuple[str, ...]

    def field(self, index: int) -> str:
        """``data[index]`` (0-based) or ``""`` when the line has fewer fields."""
        return self.data[index] if index < len(self.data) else ""


def _parse_time(text: str, tz: tzinfo) -> datetime:
    """Epoch seconds or ``YYYY-MM-DD HH:MM:SS[.ffffff]`` in ``tz``, as aware UTC.

    Anything else — an impossible date (``2025-02-30``, MySQL's ``0000-00-00 00:00:00``),
    a leap second (``:60``), non-ASCII digits, a time outside 1970–2106 — is a
    :class:`MalformedLine` whose reason starts with ``bad time``.
    """
    text = text.strip()
    low, high = _EPOCH_RANGE
    if _EPOCH_TEXT.match(text):
        seconds = float(text)  # cannot fail on ASCII digits; a huge value becomes inf
        if not low < seconds < high:
            raise MalformedLine("bad time: out of range (1970–2106)")
        return datetime.fromtimestamp(seconds, UTC)
    if not _TIME_TEXT.match(text):
        raise MalformedLine("bad time: neither epoch seconds nor YYYY-MM-DD HH:MM:SS")
    try:
        time = datetime.fromisoformat(text.replace(" ", "T")).replace(tzinfo=tz).astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        # datetime's messages ("day is out of range for month", "second must be in 0..59",
        # "year 0 is out of range") never echo the input.
        raise MalformedLine(f"bad time: {exc}") from None
    if not low < time.timestamp() < high:
        raise MalformedLine("bad time: out of range (1970–2106)")
    return time


def parse_line(text: str, tz: tzinfo) -> QueueLogLine:
    """Parse one line (without its newline); :class:`MalformedLine` if it is not one."""
    text = text.rstrip("\r\n")
    if not text.strip():
        raise MalformedLine("empty line")
    fields = text.split("|")
    if len(fields) < 5:
        raise MalformedLine(f"{len(fields)} fields, at least 5 expected")
    time = _parse_time(fields[0], tz)
    event = fields[4].strip()
    if not _EVENT.match(event):
        raise MalformedLine("event name is not an upper-case word")
    return QueueLogLine(
        time=time,
        callid=fields[1].strip(),
        queue=fields[2].strip(),
        agent=fields[3].strip(),
        event=event,
        data=tuple(f.strip() for f in fields[5:]),
    )


def _mask_runs(text: str) -> str:
    return replace_phone_runs(text, mask_phone)


def mask_line(text: str) -> str:
    """``text`` safe for logs and dead letters: digit runs that could be numbers are masked.

    The time (field 1, if it looks like a time: ``YYYY-MM-DD HH:MM:SS`` or epoch seconds,
    with or without a fraction) and an Asterisk unique id (field 2, ``epoch.seq``) are kept so
    that a dead letter can still be found in the log; every other run of 5+ digits is masked,
    its digits separated or not by spaces, ``+``, ``()``, ``-``, ``.`` or ``/`` (all of which
    a phone number may be written with: ``138.1234.5678``, ``138/1234/5678``).
    """
    text = text.rstrip("\r\n")
    fields = text.split("|")
    if len(fields) >= 2:
        keep = [fields[0] if _TIME_TEXT.match(fields[0]) or _EPOCH.match(fields[0]) else None]
        keep.append(fields[1] if _UNIQUEID.match(fields[1]) else None)
        out = [k if k is not None else _mask_runs(f) for k, f in zip(keep, fields[:2], strict=True)]
        return "|".join(out + [_mask_runs(f) for f in fields[2:]])
    return _mask_runs(text)
