"""Errors of the quality package, under :mod:`hotline.errors`' taxonomy.

::

    InvalidInput
    └── QualityError        bad evaluation data (a row, a campaign, a report request)
        └── RowError        one CSV row, with its row number
"""

from __future__ import annotations

from hotline.errors import InvalidInput


class QualityError(InvalidInput):
    """Evaluation data or a report request that cannot be used as it is."""


class RowError(QualityError):
    """One row of an evaluators' CSV file; ``row`` counts the header as row 1."""

    def __init__(self, row: int, message: str) -> None:
        self.row = row
        self.message = message
        super().__init__(f"row {row}: {message}")
