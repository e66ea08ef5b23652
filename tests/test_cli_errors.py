"""User mistakes end in one ``error: …`` line (or a usage error), never in a traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hotline.cli import app
from hotline.errors import ConfigurationError
from hotline.regions import check_provinces, default_registry


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


@pytest.mark.parametrize(
    ("code", "said"),
    [("990000", "expected one of the 32 province-level codes"), ("320100", "a city of 320000")],
)
def test_streams_worker_refuses_an_unknown_province_before_connecting(
    code: str, said: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Nothing listens there: had the worker tried to connect, it would hang, not fail at once.
    monkeypatch.setenv("HOTLINE_KAFKA__BOOTSTRAP_SERVERS", f"127.0.0.1:{_closed_port()}")
    args = ["streams", "worker", "--province", "320000", "--province", code, "--workers", "2"]
    result = CliRunner().invoke(app, args)
    assert isinstance(result.exception, ConfigurationError), result.output
    assert str(result.exception).startswith(f"unknown province {code} (")
    assert said in str(result.exception)


def test_check_provinces_passes_the_32_province_codes() -> None:
    codes = [r.code for r in default_registry().provinces()]
    assert len(codes) == 32 and check_provinces(codes) == tuple(codes)
    with pytest.raises(ConfigurationError, match="unknown province 32 "):
        check_provinces(["32"])


def _hotline(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The console script itself: what a user sees, logging handlers and all."""
    return subprocess.run(
        [str(Path(sys.executable).with_name("hotline")), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
    )


@pytest.mark.parametrize("args", [("sql", "SELECT 1"), ("db", "status")])
def test_clickhouse_down_is_one_error_line_without_the_driver_traceback(
    args: tuple[str, ...],
) -> None:
    done = _hotline(*args, env={"HOTLINE_CLICKHOUSE__PORT": str(_closed_port())})
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert "ClickHouse unreachable" in lines[0] and "Traceback" not in done.stderr
    # and what to do about it (before, the driver's reason alone)
    assert lines[0].endswith(
        "; start it (`hotline stack up`) or point HOTLINE_CLICKHOUSE__HOST and "
        "HOTLINE_CLICKHOUSE__PORT at it"
    ), lines[0]


def test_streams_status_with_kafka_down_fails_fast_and_clean() -> None:
    """The probe's message (``connect_problems``) proves the fast path: kafka-python's own
    client would have retried until its request timeout and said something else."""
    bootstrap = f"127.0.0.1:{_closed_port()}"
    done = _hotline("streams", "status", env={"HOTLINE_KAFKA__BOOTSTRAP_SERVERS": bootstrap})
    assert done.returncode == 1
    *before, last = done.stderr.strip().splitlines()
    assert last == _kafka_down_line(bootstrap)
    assert not [line for line in before if " kafka." in line or "Traceback" in line], before


def _kafka_down_line(bootstrap: str) -> str:
    return (
        f"error: cannot reach Kafka at {bootstrap} ({bootstrap}: Connection refused); start it "
        "(`hotline stack up`) or point HOTLINE_KAFKA__BOOTSTRAP_SERVERS at it"
    )


@pytest.mark.parametrize(
    "args",
    [
        ("sink",),
        ("stack", "init"),
        ("streams", "worker", "--province", "330000"),
        ("simulate", "--to", "kafka", "--centers", "C330200", "--hours", "1", "--out", "{tmp}"),
    ],
    ids=lambda args: " ".join(args[:2]),
)
def test_kafka_down_is_one_line_within_seconds(args: tuple[str, ...], tmp_path: Path) -> None:
    """Before, the Kafka clients retried for ~30 s, logging each attempt, and the sink then
    ended in a KafkaTimeoutError traceback. The probe's line proves the fast path (as for
    ``streams status``)."""
    bootstrap = f"127.0.0.1:{_closed_port()}"
    env = {"HOTLINE_KAFKA__BOOTSTRAP_SERVERS": bootstrap, "HOTLINE_DEMO": "true"}
    done = _hotline(*(a.format(tmp=tmp_path) for a in args), env=env)
    assert done.returncode == 1
    *before, last = done.stderr.strip().splitlines()
    assert last == _kafka_down_line(bootstrap)
    assert not [line for line in before if " kafka." in line or "Traceback" in line], before


@pytest.mark.parametrize(
    ("variable", "value", "said"),
    [
        ("HOTLINE_CLICKHOUSE__PORT", "abc", "HOTLINE_CLICKHOUSE__PORT: Input should be a valid"),
        ("HOTLINE_LOG_LEVEL", "LOUD", "HOTLINE_LOG_LEVEL: Value error, unknown level 'LOUD'"),
        (
            "HOTLINE_CLICKHOUSE__PROVINCE_PASSWORDS",
            '{"320000": secret',
            "HOTLINE_CLICKHOUSE__…: a value that takes JSON is not valid JSON",
        ),
    ],
)
def test_a_bad_setting_is_one_line_naming_its_variable(
    variable: str, value: str, said: str
) -> None:
    done = _hotline("regions", "stats", env={variable: value})
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: settings: {said}"), done.stderr
    assert "(in the environment or .env)" in lines[0]
    assert "secret" not in done.stderr  # values are not echoed: they may be passwords


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (("dashboard", "--port", "99999"), "--port"),
        (("dashboard", "demo-account", "--port", "0"), "--port"),
        (("serve", "ingest", "--port", "-1"), "--port"),
        (("serve", "ingest", "--rate", "0"), "--rate"),
        (("serve", "ingest", "--burst", "0"), "--burst"),
        (("serve", "ingest", "--max-body", "100"), "--max-body"),
        (("streams", "worker", "--web-port", "70000"), "--web-port"),
        (("stack", "logs", "kafka", "-n", "-5"), "--lines"),
        (("sink", "--batch-rows", "0"), "--batch-rows"),
        (("sink", "--max-wait", "-1"), "--max-wait"),
        (("sink", "--max-poll-records", "0"), "--max-poll-records"),
        (("sink", "--progress-every", "0"), "--progress-every"),
    ],
)
def test_an_option_out_of_range_is_a_usage_error_naming_it(
    args: tuple[str, ...], option: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: pydantic's ValidationError or socket's OverflowError, as a traceback."""
    monkeypatch.setenv("HOTLINE_KAFKA__BOOTSTRAP_SERVERS", f"127.0.0.1:{_closed_port()}")
    result = CliRunner().invoke(app, list(args), terminal_width=200)
    assert result.exit_code == 2, result.output
    assert "Invalid value for" in result.output and option in result.output


@pytest.mark.parametrize("command", [("dashboard",), ("serve", "ingest")], ids=" ".join)
def test_a_taken_port_is_one_line_naming_the_option(command: tuple[str, ...]) -> None:
    """Before: uvicorn's log of ``[Errno 98] error while attempting to bind``, which named
    the address but not the option to change."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = _hotline(*command, "--port", str(port), env={})
    assert done.returncode == 1
    *_, last = done.stderr.strip().splitlines()
    assert last == (
        f"error: cannot listen on 127.0.0.1:{port}: Address already in use; another process "
        f"already listens on port {port} (`make down` stops the demo's); choose another with "
        "--port"
    )
    assert "Traceback" not in done.stderr and "hotline dashboards on" not in done.stdout


def test_a_host_not_of_this_machine_is_one_line_naming_the_option() -> None:
    done = _hotline("dashboard", "--host", "192.0.2.1", "--port", str(_closed_port()), env={})
    assert done.returncode == 1
    *_, last = done.stderr.strip().splitlines()
    assert last.startswith("error: cannot listen on 192.0.2.1:"), done.stderr
    assert last.endswith(
        "Cannot assign requested address; check --host (an address of this "
        "machine, e.g. 127.0.0.1 or 0.0.0.0)"
    ), last


@pytest.mark.parametrize(
    ("args", "what"),
    [
        (
            ("report", "quality", "--year", "2025", "--out", "{tmp}"),
            "reading hotline.qa_evaluations",
        ),
        (
            ("quality", "campaign", "--year", "2025", "--centers", "C330200"),
            "storing evaluations in hotline.qa_evaluations",
        ),
    ],
    ids=lambda value: " ".join(value[:2]) if isinstance(value, tuple) else "",
)
def test_a_report_failing_in_clickhouse_says_what_it_was_doing(
    args: tuple[str, ...], what: str, tmp_path: Path
) -> None:
    """Before: the error began with the first 80 characters of the report's SQL."""
    args = tuple(arg.format(tmp=tmp_path) for arg in args)
    done = _hotline(*args, env={"HOTLINE_CLICKHOUSE__PORT": "1"})
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: {what}: ClickHouse unreachable: "), last
