"""User mistakes end in one ``error: …`` line (or a usage error), never in a traceback."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hotline.cli import app


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def no_clickhouse(monkeypatch: pytest.MonkeyPatch) -> None:
    """Point ClickHouse at a port nothing listens on: a query would fail as 'unreachable'."""
    monkeypatch.setenv("HOTLINE_CLICKHOUSE__HOST", "127.0.0.1")
    monkeypatch.setenv("HOTLINE_CLICKHOUSE__PORT", str(_closed_port()))


@pytest.mark.parametrize("fmt", ["csv", "json", "table", "parquet"])
def test_sql_out_into_a_missing_directory_fails_before_the_query(
    fmt: str, tmp_path: Path, no_clickhouse: None
) -> None:
    out = tmp_path / "missing" / f"x.{fmt}"
    result = CliRunner().invoke(app, ["sql", "-f", fmt, "--out", str(out), "SELECT 1"])
    assert result.exit_code == 1, result.output
    assert f"error: cannot write {out}: directory {out.parent} does not exist" in result.output
    assert "unreachable" not in result.output  # checked before connecting


def test_sql_out_onto_a_directory_is_refused(tmp_path: Path, no_clickhouse: None) -> None:
    result = CliRunner().invoke(app, ["sql", "-f", "csv", "--out", str(tmp_path), "SELECT 1"])
    assert result.exit_code == 1, result.output
    assert f"error: cannot write {tmp_path}: it is a directory" in result.output
