"""The sample generator covers every queue_log event; the CLI runs it end to end."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import tomllib
from collections import Counter
from pathlib import Path

import pytest
from test_queue_log_helpers import ingestor, write_log
from typer.testing import CliRunner

from hotline.cli import app
from hotline.errors import ConfigurationError
from hotline.producers.queue_log import QueueLogMapping, check_mapping, read_state
from hotline.producers.queue_log.sample import SAMPLE_MAPPING, generate_sample, write_sample
from hotline.schemas import AgentState, NotReadyReason

ROOT = Path(__file__).resolve().parent.parent

#: Every queue_log event the adapter documents (docs/queue_log.md).
EVENTS = {
    "ENTERQUEUE", "CONNECT", "COMPLETECALLER", "COMPLETEAGENT", "ABANDON", "EXITWITHTIMEOUT",
    "EXITWITHKEY", "EXITEMPTY", "RINGNOANSWER", "RINGCANCELED", "BLINDTRANSFER",
    "ATTENDEDTRANSFER", "TRANSFER", "AGENTLOGIN", "AGENTLOGOFF", "AGENTCALLBACKLOGIN",
    "AGENTCALLBACKLOGOFF", "ADDMEMBER", "REMOVEMEMBER", "PAUSE", "UNPAUSE", "PAUSEALL",
    "UNPAUSEALL", "CONFIGRELOAD", "QUEUESTART", "SYSCOMPAT", "DID", "INFO",
}  # fmt: skip


def test_sample_covers_every_event_type_and_is_deterministic() -> None:
    lines, stats = generate_sample(calls=60)
    assert Counter(ln.split("|")[4] for ln in lines).keys() >= EVENTS
    assert {ln.split("|")[5] for ln in lines if "|ATTENDEDTRANSFER|" in ln} == {
        "BRIDGE", "APP", "LINK",
    }  # fmt: skip
    assert generate_sample(calls=60)[0] == lines
    assert generate_sample(calls=60, seed=1)[0] != lines
    times = [int(ln.split("|")[0]) for ln in lines]
    assert times == sorted(times)
    assert stats.lines == len(lines)


def test_sample_caller_numbers_are_the_synthetic_ones() -> None:
    lines, _ = generate_sample(calls=300)
    numbers = {ln.split("|")[6] for ln in lines if "|ENTERQUEUE|" in ln}
    synthetic = re.compile(r"^(1700000\d{4}|0255550\d{4}|5550\d{4}|anonymous|)$")
    assert all(synthetic.match(n) for n in numbers), numbers


def test_sample_ingests_cleanly_into_every_call_and_agent_state(tmp_path) -> None:
    lines, stats = generate_sample(calls=120)
    run = ingestor(tmp_path, write_log(tmp_path / "queue_log", lines))
    summary = run.run()
    assert summary.bad == []
    assert summary.warnings == Counter()
    assert summary.lines == stats.lines
    kinds = Counter(e.RECORD_TYPE for e in run.sink.events)
    assert kinds["call.offered"] == kinds["call.ended"] == 120
    for kind in ("call.answered", "call.abandoned", "call.transferred", "call.ivr_outcome"):
        assert kinds[kind] > 0
    states = {(e.state, e.reason) for e in run.sink.events if e.RECORD_TYPE == "agent.state"}
    assert {s for s, _ in states} == set(AgentState)
    assert {r for _, r in states if r} == set(NotReadyReason)
    state = read_state(tmp_path / "state.json", run.producer_id)
    assert state.translator["calls"] == {}  # every call finished
    assert {a["state"] for a in state.translator["agents"].values()} == {"logged_out"}


def test_sample_mapping_and_docs_example_are_valid() -> None:
    check_mapping(QueueLogMapping.model_validate(tomllib.loads(SAMPLE_MAPPING)))
    docs = (ROOT / "docs" / "queue_log.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```toml\n(.*?)```", docs, flags=re.S)
    assert blocks
    for block in blocks:
        check_mapping(QueueLogMapping.model_validate(tomllib.loads(block)))


def test_cli_sample_then_ingest_then_resume(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HOTLINE_DEMO", "true")
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    log = tmp_path / "queue_log"
    made = runner.invoke(app, ["ingest", "queue-log-sample", str(log), "--calls", "30"])
    assert made.exit_code == 0, made.output
    args = ["ingest", "queue-log", str(log), "--mapping", f"{log}.toml", "-q"]
    args += ["--out", "events.jsonl", "--state", "st.json", "--dead-letter", "dead.jsonl"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "call.offered" in first.output
    events = (tmp_path / "events.jsonl").read_text().splitlines()
    assert sum(json.loads(e)["envelope"]["event_type"] == "call.offered" for e in events) == 30
    again = runner.invoke(app, args)
    assert again.exit_code == 0, again.output
    assert "resumed after line" in again.output
    assert (tmp_path / "events.jsonl").read_text().splitlines() == events  # nothing re-sent


def test_cli_a_missing_file_without_follow_is_one_error_line(tmp_path, monkeypatch) -> None:
    """Before: a FileNotFoundError traceback."""
    monkeypatch.setenv("HOTLINE_DEMO", "true")
    monkeypatch.setenv("HOTLINE_STACK__HOME", str(tmp_path / "home"))
    (tmp_path / "map.toml").write_text(SAMPLE_MAPPING, encoding="utf-8")
    missing = tmp_path / "nope.log"
    result = CliRunner().invoke(
        app, ["ingest", "queue-log", str(missing), "-m", str(tmp_path / "map.toml"), "-q"]
    )
    assert isinstance(result.exception, ConfigurationError), result.output
    assert str(result.exception) == (
        f"{missing}: no such file; check the path, or --follow waits for it"
    )


def _saved_line(state: Path) -> int:
    """The line a run's state file has reached so far (0 before its first checkpoint)."""
    try:
        return int((json.loads(state.read_text()).get("file") or {}).get("line", 0))
    except (OSError, ValueError):
        return 0


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_cli_a_replay_stopped_by_a_signal_says_so_and_the_next_run_goes_on(
    tmp_path: Path, sig: signal.Signals
) -> None:
    """A signal mid-replay: the summary says the run was stopped (before, the whole unread
    rest was 'unfinished last line … left for next run'), the exit is 128 + the signal
    (before, 0 after Ctrl-C; a SIGTERM killed it without its summary or last checkpoint),
    and the next run delivers the rest: every event once."""
    log = tmp_path / "queue_log"
    write_sample(log, seed=7, calls=6_000)  # a replay of seconds: the signal lands mid-file
    (tmp_path / "map.toml").write_text(SAMPLE_MAPPING, encoding="utf-8")
    state = tmp_path / "st.json"
    command = [str(Path(sys.executable).with_name("hotline")), "ingest", "queue-log", str(log)]
    command += ["-m", str(tmp_path / "map.toml"), "-q", "--out", str(tmp_path / "events.jsonl")]
    command += ["--state", str(state), "--checkpoint-lines", "200"]
    env = {**os.environ, "HOTLINE_DEMO": "true", "HOTLINE_STACK__HOME": str(tmp_path / "home")}
    proc = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not _saved_line(state):
        time.sleep(0.05)
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 128 + sig, stderr
    assert f"stopped ({sig.name})" in stderr and "bytes not read yet" in stderr, stderr
    assert "unfinished last line" not in stderr and "Traceback" not in stderr
    rest = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert rest.returncode == 0, rest.stderr
    assert "resumed after line" in rest.stderr
    events = [json.loads(e)["envelope"] for e in (tmp_path / "events.jsonl").open()]
    assert len({e["event_id"] for e in events}) == len(events)
    assert sum(e["event_type"] == "call.offered" for e in events) == 6_000


def test_cli_kafka_down_says_the_events_were_spooled(tmp_path, monkeypatch) -> None:
    """Before, the summary said only 'events: Kafka' when every event went to the spool."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        bootstrap = f"127.0.0.1:{sock.getsockname()[1]}"
    monkeypatch.setenv("HOTLINE_DEMO", "true")
    monkeypatch.setenv("HOTLINE_STACK__HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HOTLINE_KAFKA__BOOTSTRAP_SERVERS", bootstrap)
    log = tmp_path / "queue_log"
    write_sample(log, seed=3, calls=30)
    (tmp_path / "map.toml").write_text(SAMPLE_MAPPING, encoding="utf-8")
    args = ["ingest", "queue-log", str(log), "-m", str(tmp_path / "map.toml"), "-q", "--kafka"]
    result = CliRunner().invoke(app, args, terminal_width=200)
    assert result.exit_code == 0, result.output
    events = int(re.search(r"│ events +│ ([\d,]+)", result.output)[1].replace(",", ""))
    assert f"kafka {bootstrap}: 0 acknowledged, {events:,} spooled for later, refused: none" in (
        result.output
    )
