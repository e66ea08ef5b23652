"""``hotline db redact-dead-letters``: dead letters stored before today's masking rules are
masked in place in a real ClickHouse, and no copy in clear is left (docs/privacy.md)."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime

import pytest
from clickhouse_driver import Client
from test_dead_letter_privacy import MOBILE, _clear_in, _offered
from typer.testing import CliRunner

from hotline.cli import app
from hotline.schemas import default_codec
from hotline.settings import ClickHouseSettings
from hotline.sinks.migrate import migrate
from hotline.sinks.writer import Writer

pytestmark = pytest.mark.clickhouse

CALLER_ID = "ab" * 32
FAILED_AT = datetime(2025, 3, 3, 2, 0, tzinfo=UTC)


def _row(offset: int, original: bytes, detail: str) -> tuple:
    """A ``dead_letters`` row as a sink of before the masking wrote it."""
    original_base64 = base64.b64encode(original).decode()
    return (
        "streams.ingest", "invalid", "hotline.raw.320000.calls", 0, offset, original_base64,
        "InvalidEvent", detail, FAILED_AT, "320100", "320000",
    )  # fmt: skip


def test_stored_dead_letters_are_masked_and_no_copy_in_clear_is_left(
    clickhouse_settings: ClickHouseSettings, clickhouse_client: Client
) -> None:
    """Three dead letters stored in clear: an event with the caller's number as its
    ``caller_id`` (and the number echoed in its detail, as old sinks' checks did), bytes that
    do not decode holding it, and a valid event. Read a row per page: the first two are
    rewritten masked, saying so, the third kept byte for byte; after the merge every row is
    one row, none holds the number; a second run masks nothing."""
    database = f"dlr_{uuid.uuid4().hex[:10]}"
    codec = default_codec()
    clear_event = codec.encode("call.offered", _offered(MOBILE))
    clean_event = codec.encode("call.offered", _offered(CALLER_ID))
    not_avro = f'{{"caller": "{MOBILE}"}}'.encode()
    migrate(clickhouse_client, database)
    try:
        Writer(clickhouse_client, database).insert(
            "dead_letters",
            [
                _row(1, clear_event, f"caller_id: '{MOBILE}' does not match"),
                _row(2, not_avro, "undecodable"),
                _row(3, clean_event, "late"),
            ],
        )
        env = {
            "HOTLINE_CLICKHOUSE__PORT": str(clickhouse_settings.port),
            "HOTLINE_CLICKHOUSE__DATABASE": database,
        }
        runner = CliRunner()
        first = runner.invoke(app, ["db", "redact-dead-letters", "--page", "1"], env=env)
        assert first.exit_code == 0, first.output
        assert first.output.endswith(
            f"{database}.dead_letters: read 3 dead letters, masked 2 "
            "(table merged: no copy in clear left)\n"
        )
        rows = clickhouse_client.execute(
            f"SELECT source_offset, original_base64, error_detail FROM {database}.dead_letters "
            "ORDER BY source_offset"  # no FINAL: every copy stored
        )
        assert [offset for offset, *_ in rows] == [1, 2, 3]
        originals = {offset: base64.b64decode(original) for offset, original, _ in rows}
        details = {offset: detail for offset, _, detail in rows}
        assert not any(_clear_in(MOBILE, data) for data in originals.values())
        assert not any(MOBILE in detail for detail in details.values())
        assert details[1].startswith("original masked: caller_id held a phone number in clear")
        assert details[1].endswith(f"caller_id: '*********{MOBILE[-2:]}' does not match")
        assert codec.decode(originals[1])[1]["caller_id"] == f"*********{MOBILE[-2:]}"
        assert details[2].startswith("original masked: the bytes do not decode")
        assert (originals[3], details[3]) == (clean_event, "late")

        again = runner.invoke(app, ["db", "redact-dead-letters"], env=env)
        assert again.exit_code == 0, again.output
        assert again.output.endswith(f"{database}.dead_letters: read 3 dead letters, masked 0\n")
    finally:
        clickhouse_client.execute(f"DROP DATABASE IF EXISTS {database}")


def test_a_database_not_migrated_is_named_with_what_to_run(
    clickhouse_settings: ClickHouseSettings,
) -> None:
    database = f"dlr_{uuid.uuid4().hex[:10]}"
    env = {
        "HOTLINE_CLICKHOUSE__PORT": str(clickhouse_settings.port),
        "HOTLINE_CLICKHOUSE__DATABASE": database,
    }
    result = CliRunner().invoke(app, ["db", "redact-dead-letters"], env=env)
    assert result.exit_code == 1
    assert f"error: database {database} does not exist: run hotline db migrate" in result.output
