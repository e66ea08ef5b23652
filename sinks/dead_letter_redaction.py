"""Mask the dead letters already stored in ClickHouse as new ones are masked.

The worker and the sink mask a phone number in a dead letter's original bytes and error text
before it is written (:func:`~hotline.schemas.redact.redact_original`, docs/privacy.md). Rows
written before a masking rule existed keep the number in clear; :func:`redact_stored` reads
every row of ``dead_letters``, masks those the rules mask today, inserts the masked copy
(same key: ``dead_letters`` keeps the latest insert of a source message and stage) and merges
the table so that the copy in clear is gone.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from clickhouse_driver import Client

from hotline.schemas import Codec, default_codec
from hotline.schemas.redact import redact_original
from hotline.sinks.client import translated_errors
from hotline.sinks.rows import DETAIL_LIMIT, TABLES
from hotline.sinks.writer import Writer

__all__ = ["Redaction", "redact_stored"]

_COLUMNS = TABLES["dead_letters"]
_KEY = ("source_topic", "source_partition", "source_offset", "stage")
_KEY_AT = tuple(_COLUMNS.index(column) for column in _KEY)
_ORIGINAL = _COLUMNS.index("original_base64")
_DETAIL = _COLUMNS.index("error_detail")


@dataclass(slots=True)
class Redaction:
    """What :func:`redact_stored` did: dead letters read, and masked (rewritten)."""

    read: int = 0
    masked: int = 0


def redact_stored(
    client: Client,
    database: str,
    page: int = 1000,
    progress: Callable[[Redaction], None] = lambda _: None,
    codec: Codec | None = None,
) -> Redaction:
    """Mask every dead letter of ``database`` whose original or detail holds what
    :func:`redact_original` masks; ``progress`` after each ``page`` of rows (in key order).
    Re-runnable: a masked row has nothing left to mask."""
    codec = codec or default_codec()
    writer = Writer(client, database)
    done = Redaction()
    after: tuple[Any, ...] | None = None
    while rows := _page(client, database, after, page):
        masked = [row for row in (_masked(codec, row) for row in rows) if row is not None]
        if masked:
            writer.insert("dead_letters", masked)
        done.read += len(rows)
        done.masked += len(masked)
        after = tuple(rows[-1][i] for i in _KEY_AT)
        progress(done)
    if done.masked:  # the copies in clear merge away
        with translated_errors(f"merging {database}.dead_letters"):
            client.execute(f"OPTIMIZE TABLE {database}.dead_letters FINAL")
    return done


def _page(
    client: Client, database: str, after: tuple[Any, ...] | None, size: int
) -> list[tuple[Any, ...]]:
    """The next ``size`` rows (as the latest insert of each key) after the key ``after``."""
    key = ", ".join(_KEY)
    where = f"WHERE ({key}) > %(after)s" if after is not None else ""
    with translated_errors(f"reading {database}.dead_letters"):
        return client.execute(
            f"SELECT {', '.join(_COLUMNS)} FROM {database}.dead_letters FINAL {where} "
            f"ORDER BY {key} LIMIT {size}",
            {"after": after},
        )


def _masked(codec: Codec, row: tuple[Any, ...]) -> tuple[Any, ...] | None:
    """``row`` with its original masked and said in its detail, or None: nothing to mask."""
    redacted = redact_original(codec, base64.b64decode(row[_ORIGINAL]))
    if not redacted.changed:
        return None
    out = list(row)
    out[_ORIGINAL] = base64.b64encode(redacted.data).decode("ascii")
    out[_DETAIL] = redacted.detail(row[_DETAIL], DETAIL_LIMIT)
    return tuple(out)
