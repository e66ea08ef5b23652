"""Errors of :mod:`hotline.schemas`; both are :class:`~hotline.errors.InvalidInput`, so the
message they carry goes to the dead-letter record as it is.

::

    InvalidInput
    ├── CodecError         bytes that cannot be decoded, or a dict that cannot be encoded
    └── ContractViolation  a dict that breaks its .avsc contract (types or hotline.* rules)
"""

from __future__ import annotations

from hotline.errors import InvalidInput


class CodecError(InvalidInput):
    """Encoding or decoding failed; the message names the record type, field or byte issue."""


class ContractViolation(InvalidInput):
    """A record breaks its Avro contract; ``problems`` lists every violation found."""

    def __init__(self, record_type: str, problems: list[str]) -> None:
        super().__init__(f"{record_type}: " + "; ".join(problems))
        self.record_type = record_type
        self.problems = problems
