"""Constrained field types shared by the models, each matching one Avro type plus its
``hotline.*`` constraint properties in the ``.avsc`` files.

Scalars are strict (no ``"5"`` → ``5``, no ``True`` → ``1``) because the Avro writer is
strict too; ints carry Avro's 32-/64-bit bounds. Timestamps must be timezone-aware datetimes
and are normalised to UTC at millisecond precision, which is what ``timestamp-millis`` keeps.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, Field, Strict

INT_MIN, INT_MAX = -(2**31), 2**31 - 1
UINT32_MAX = 2**32 - 1
LONG_MIN, LONG_MAX = -(2**63), 2**63 - 1

#: GB/T 2260 code: 2 digits province (a real province prefix, 66 for the XPCC), 2 city, 2 county.
REGION_CODE_PATTERN = r"^(1[1-5]|2[1-3]|3[1-7]|4[1-6]|5[0-4]|6[1-6]|71|81|82)[0-9]{4}$"
#: Region of a metric snapshot: a GB/T 2260 code, or ``000000`` for the national level.
SNAPSHOT_REGION_CODE_PATTERN = (
    r"^(000000|(1[1-5]|2[1-3]|3[1-7]|4[1-6]|5[0-4]|6[1-6]|71|81|82)[0-9]{4})$"
)
#: A keyed hash of the caller's number: HMAC-SHA256 as 64 lower-case hex digits.
CALLER_ID_PATTERN = r"^[0-9a-f]{64}$"
#: Canonical lower-case UUID text.
UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
#: Identifiers minted by centers and the pipeline (call, agent, ticket, center, producer ids).
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
#: Dotted record type names such as ``call.offered``.
EVENT_TYPE_PATTERN = r"^[a-z_]+\.[a-z_]+$"

#: Plausible event times: an ``occurred_at`` before this is invalid (the stream worker's
#: ingest and the HTTP gateway alike) ...
EARLIEST_OCCURRED_AT = datetime(2000, 1, 1, tzinfo=UTC)
#: ... and so is one more than this many seconds ahead of the checker's clock (the default of
#: the worker's ``max_future_s`` and of the gateway's).
MAX_FUTURE_S = 86_400.0


def _to_utc_millis(value: datetime) -> datetime:
    if value.tzinfo is UTC and not value.microsecond % 1000:  # e.g. every decoded value
        return value
    value = value.astimezone(UTC)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


Int = Annotated[int, Strict(), Field(ge=INT_MIN, le=INT_MAX)]
Long = Annotated[int, Strict(), Field(ge=LONG_MIN, le=LONG_MAX)]
SchemaVersion = Annotated[int, Strict(), Field(ge=1, le=INT_MAX)]
Count = Annotated[int, Strict(), Field(ge=0, le=LONG_MAX)]
Millis = Annotated[int, Strict(), Field(ge=0, le=LONG_MAX)]
# a count or duration the warehouse keeps in a UInt32 column (``hotline.max`` 4294967295)
Count32 = Annotated[int, Strict(), Field(ge=0, le=UINT32_MAX)]
Millis32 = Annotated[int, Strict(), Field(ge=0, le=UINT32_MAX)]
Bool = Annotated[bool, Strict()]
Text = Annotated[str, Strict()]
Bytes = Annotated[bytes, Strict()]
UtcMillis = Annotated[AwareDatetime, Strict(), AfterValidator(_to_utc_millis)]
RegionCode = Annotated[str, Strict(), Field(pattern=REGION_CODE_PATTERN)]
SnapshotRegionCode = Annotated[str, Strict(), Field(pattern=SNAPSHOT_REGION_CODE_PATTERN)]
CallerId = Annotated[str, Strict(), Field(pattern=CALLER_ID_PATTERN)]
Uuid = Annotated[str, Strict(), Field(pattern=UUID_PATTERN)]
Id = Annotated[str, Strict(), Field(pattern=ID_PATTERN)]
EventType = Annotated[str, Strict(), Field(pattern=EVENT_TYPE_PATTERN)]

# Rubric item scores: 0 to the item's maximum points.
Score5 = Annotated[int, Strict(), Field(ge=0, le=5)]
Score10 = Annotated[int, Strict(), Field(ge=0, le=10)]
Score15 = Annotated[int, Strict(), Field(ge=0, le=15)]
Score20 = Annotated[int, Strict(), Field(ge=0, le=20)]
