"""``hotline simulate``: help, a small run with a config file, clear errors."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest
from kafka import KafkaConsumer
from typer.testing import CliRunner

from hotline.cli import app
from hotline.workdays import CHINA_TZ, CalendarNotCovered


def test_help_names_every_option() -> None:
    result = CliRunner().invoke(app, ["simulate", "--help"])
    assert result.exit_code == 0, result.output
    options = "--centers --profile --config --start --days --hours --seed --speed --out"
    for option in [*options.split(), "--sl-seconds", "--short-abandon-seconds", "--service-hours"]:
        assert option in result.output, option


def test_small_run_writes_events_and_ledger(tmp_path: Path) -> None:
    config = tmp_path / "sim.toml"
    config.write_text('[profiles]\n"*" = "understaffed"\n[agents]\nC330200 = 6\n')
    out = tmp_path / "out"
    args = ["simulate", "-c", "C330200", "--config", str(config), "--start", "2025-03-03T09:00",
            "--hours", "1", "--out", str(out), "--sl-seconds", "20", "-q"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "call.offered" in result.output and "events/s" in result.output
    meta = json.loads((out / "ledger.jsonl").read_text().splitlines()[0])
    assert meta["service_level_ms"] == 20_000 and meta["short_abandon_ms"] == 5_000
    assert meta["centers"] == [
        {"agents": 6, "center_id": "C330200", "profile": "understaffed",
         "windows": meta["centers"][0]["windows"]}
    ]  # fmt: skip
    assert (out / "events.jsonl").stat().st_size > 0


def test_service_hours_open_the_centers_at_night(tmp_path: Path) -> None:
    """What make demo runs: round-the-clock hours, so agents answer at 22:00 China time."""
    args = ["simulate", "-c", "C330200", "-p", "*=healthy", "--start", "2025-03-03T22:00",
            "--hours", "1", "-q"]  # fmt: skip
    answered = {}
    for name, extra in (("own", []), ("override", ["--service-hours", "00:00-24:00"])):
        out = tmp_path / name
        result = CliRunner().invoke(app, [*args, *extra, "--out", str(out)])
        assert result.exit_code == 0, result.output
        lines = (out / "ledger.jsonl").read_text().splitlines()
        meta = json.loads(lines[0])
        assert meta.get("service_hours") == (["00:00-24:00"] if extra else None)
        answered[name] = sum(json.loads(line).get("answered", 0) for line in lines[1:])
    assert answered["own"] == 0 < answered["override"]
    bad = CliRunner().invoke(app, [*args, "--service-hours", "18:00-08:00", "--out", str(out)])
    assert bad.exit_code != 0
    assert "18:00-08:00" in str(bad.exception) or "18:00-08:00" in bad.output


def test_unknown_profile_and_center_are_clear_errors(tmp_path: Path) -> None:
    bad = CliRunner().invoke(app, ["simulate", "-p", "C330200=sleepy", "--out", str(tmp_path)])
    assert bad.exit_code != 0
    assert "sleepy" in str(bad.exception) or "sleepy" in bad.output
    bad = CliRunner().invoke(app, ["simulate", "-c", "X1", "--hours", "1", "--out", str(tmp_path)])
    assert bad.exit_code != 0
    assert "X1" in str(bad.exception) or "X1" in bad.output


@pytest.mark.kafka
def test_to_kafka_delivers_every_event_to_the_province_raw_topics(
    tmp_path: Path, bootstrap: str, unique: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOTLINE_KAFKA__BOOTSTRAP_SERVERS", bootstrap)
    monkeypatch.setenv("HOTLINE_KAFKA__TOPIC_PREFIX", unique)
    monkeypatch.setenv("HOTLINE_KAFKA__RAW_PARTITIONS", "1")
    monkeypatch.setenv("HOTLINE_STACK__HOME", str(tmp_path / "home"))
    out = tmp_path / "out"
    args = ["simulate", "-c", "C330200", "--start", "2025-03-03T09:00", "--hours", "1",
            "--to", "kafka", "--out", str(out), "-q"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert not (out / "events.jsonl").exists()
    sent = int(re.search(r"([\d,]+) acknowledged", result.output).group(1).replace(",", ""))
    assert sent > 0 and "0 spooled" in result.output

    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, auto_offset_reset="earliest", consumer_timeout_ms=5000
    )
    consumer.subscribe(pattern=rf"^{re.escape(unique)}\.raw\.330000\..*")
    ids = set()
    for message in consumer:
        ids.add(dict(message.headers)["event_id"])
    consumer.close()
    assert len(ids) == sent


@pytest.mark.parametrize("start", ["yesterday", "2025-02-30", "2025-03-03T25:00"])
def test_a_bad_start_is_a_usage_error_naming_the_option(start: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["simulate", "--start", start, "--out", str(tmp_path)])
    assert result.exit_code == 2, result.output
    assert "'--start'" in result.output and "YYYY-MM-DD" in result.output
    assert not isinstance(result.exception, ValueError)


def test_a_profile_or_agents_key_that_names_nothing_is_refused(tmp_path: Path) -> None:
    args = ["simulate", "-p", "990000=understaffed", "--hours", "1", "--out", str(tmp_path)]
    bad = CliRunner().invoke(app, args)
    assert bad.exit_code != 0 and "990000" in str(bad.exception)
    config = tmp_path / "sim.toml"
    config.write_text("[agents]\nC999999 = 3\n", encoding="utf-8")
    args = ["simulate", "--config", str(config), "--hours", "1", "--out", str(tmp_path)]
    bad = CliRunner().invoke(app, args)
    assert bad.exit_code != 0 and "C999999" in str(bad.exception)


def test_a_short_region_code_as_profile_key_reaches_its_centers() -> None:
    from hotline.producers.simulator.centers import plan_centers
    from hotline.producers.simulator.params import Profile

    planned = plan_centers(1, ["33"], {"33": Profile.UNDERSTAFFED})
    assert planned and {c.profile for c in planned} == {Profile.UNDERSTAFFED}


def test_a_start_beyond_the_calendar_is_a_clear_error(tmp_path: Path) -> None:
    """The calendar's own error, naming the day (was an AttributeError from SimPy's re-raise)."""
    args = ["simulate", "-c", "C320100", "--start", "2031-03-03", "--hours", "1", "-q"]
    bad = CliRunner().invoke(app, [*args, "--out", str(tmp_path)])
    assert isinstance(bad.exception, CalendarNotCovered), bad.output
    assert "2031-03-03" in str(bad.exception) and "chinesecalendar" in str(bad.exception)


def test_a_calendar_file_lets_the_simulation_run_in_a_year_beyond_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``HOTLINE_CALENDAR_FILE`` is read by the ``hotline`` command itself (every command)."""
    from hotline import workdays

    monkeypatch.setattr(workdays, "_SUPPLEMENT", {})  # what the file adds ends with the test
    calendar = tmp_path / "calendar.toml"
    calendar.write_text("[2031]\nholidays = [[2031-01-01, 2031-01-03]]\n", encoding="utf-8")
    args = ["simulate", "-c", "C320100", "--start", "2031-03-03", "--hours", "1", "-q"]
    monkeypatch.setenv("HOTLINE_CALENDAR_FILE", str(calendar))
    try:
        done = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "out")])
    finally:
        workdays._is_workday.cache_clear()
    assert done.exit_code == 0, done.output
    assert any((tmp_path / "out").iterdir())
    monkeypatch.setenv("HOTLINE_CALENDAR_FILE", str(tmp_path / "missing.toml"))
    bad = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "out2")])
    assert bad.exit_code != 0 and "calendar file" in str(bad.exception)


def test_unknown_years_weekdays_lets_the_simulation_run_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`make demo` simulates from now: from late December 2026 on, a ticket's due time fell in
    2027, which chinesecalendar 1.11.0 does not know, and the simulator stopped. With
    ``--unknown-years weekdays`` it takes Monday-Friday there and says so."""
    from hotline import workdays

    monkeypatch.setattr(workdays, "_SUPPLEMENT", {})  # the stand-in ends with the test
    args = ["simulate", "-c", "C320100", "--start", "2031-12-30", "--hours", "36", "-q"]
    try:
        done = CliRunner().invoke(
            app, [*args, "--unknown-years", "weekdays", "--out", str(tmp_path)]
        )
    finally:
        workdays._is_workday.cache_clear()
    assert done.exit_code == 0, done.output
    for year in (2031, 2032):
        assert f"the official calendar of {year} is not known" in done.output, done.output
    events = [json.loads(line) for line in (tmp_path / "events.jsonl").open()]
    due = [
        datetime.fromisoformat(e["due_at"]).astimezone(CHINA_TZ)
        for e in events
        if e["envelope"]["event_type"] == "ticket.created" and e["category"] != "dangerous_call"
    ]
    assert due and all(d.weekday() < 5 for d in due)
    assert any(d.year == 2032 for d in due)


def test_simulate_writes_under_the_stack_home_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before, .hotline/simulator under the current folder whatever HOTLINE_STACK__HOME said."""
    monkeypatch.setenv("HOTLINE_STACK__HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["simulate", "-c", "C330200", "--hours", "1", "-q"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "home" / "simulator" / "events.jsonl").is_file()
    assert not (tmp_path / ".hotline").exists()


@pytest.mark.slow
def test_simulate_stopped_by_sigterm_closes_its_files_and_says_so(tmp_path: Path) -> None:
    """`make down` stops a simulation with SIGTERM: before, it died at once (exit -15, no word,
    the events file's buffered tail and Kafka's unacknowledged records lost)."""
    out = tmp_path / "sim"
    command = [str(Path(sys.executable).with_name("hotline")), "simulate", "-c", "32"]
    command += ["--days", "1", "-q", "--out", str(out)]
    proc = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    events = out / "events.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not events.exists() or events.stat().st_size < 10**6):
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, stderr
    assert "stopped (SIGTERM) before the end of the simulated span" in stderr
    assert "Traceback" not in stderr
    lines = events.read_text().splitlines()
    assert lines and all(json.loads(line) for line in lines)  # closed after a whole line
