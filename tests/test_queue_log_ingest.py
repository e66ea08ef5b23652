"""The ingestor: bad lines, resume after a crash, follow with rotation, no caller number out."""

from __future__ import annotations

import bz2
import gzip
import json
import logging
import lzma
import os
import shutil
import threading
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import cramjam
import pytest
from test_queue_log_helpers import HASHER, T0, ingestor, mapping, row, write_log

from hotline.producers.queue_log import Translator, parse_line, read_state, source
from hotline.producers.queue_log.sample import generate_sample
from hotline.producers.queue_log.source import LogSource, RawLine, file_id
from hotline.producers.queue_log.state import FilePosition
from hotline.producers.simulator.sinks import MemorySink, event_line
from hotline.schemas import Event


class AckSink:
    """Events count as delivered only after flush/close; ``crash_at`` fails an emit."""

    def __init__(self, crash_at: int | None = None) -> None:
        self.pending: list[Event] = []
        self.delivered: list[Event] = []
        self.crash_at = crash_at
        self.emitted = 0

    def emit(self, event: Event) -> None:
        self.emitted += 1
        if self.crash_at is not None and self.emitted >= self.crash_at:
            raise RuntimeError("simulated crash")
        self.pending.append(event)

    def flush(self) -> None:
        self.delivered += self.pending
        self.pending = []

    def close(self) -> None:
        if self.crash_at is not None and self.emitted >= self.crash_at:
            self.pending = []  # a crashed process acknowledges nothing more
            return
        self.flush()


def sample_log(tmp_path: Path, calls: int = 60) -> Path:
    lines, _ = generate_sample(calls=calls)
    return write_log(tmp_path / "queue_log", lines)


def ids(events: list[Event]) -> list[str]:
    return [e.envelope.event_id for e in events]


def test_bad_lines_are_counted_with_line_numbers_and_do_not_stop(tmp_path) -> None:
    rows = [
        row(0, "1.1", "yanglao", "NONE", "ENTERQUEUE", "", "17000001234", 1),  # 1
        "this is not a queue_log line 13800138000",  # 2: malformed, with a number in it
        row(1, "2.2", "yanglao", "PJSIP/8001", "CONNECT", 1, "x", 1),  # 3: unknown call
        row(2, "1.1", "yanglao", "NONE", "BOGUSEVENT", "x"),  # 4: unknown event
        "",  # 5: empty
        row(3, "1.1", "yanglao", "NONE", "ABANDON", 1, 1, "soon"),  # 6: bad number
        row(4, "1.1", "yanglao", "NONE", "ABANDON", 1, 1, 4),  # 7: fine
    ]
    run = ingestor(tmp_path, write_log(tmp_path / "queue_log", rows))
    summary = run.run()
    assert summary.lines == 7
    assert [(b.line, b.reason) for b in summary.bad] == [
        (2, "1 fields, at least 5 expected"),
        (3, "CONNECT for an unknown call"),
        (4, "unknown event BOGUSEVENT"),
        (5, "empty line"),
        (6, "ABANDON waittime is not a whole number"),
    ]
    assert [e.RECORD_TYPE for e in run.sink.events][-2:] == ["call.abandoned", "call.ended"]
    dead = [json.loads(x) for x in (tmp_path / "dead.jsonl").read_text().splitlines()]
    assert [d["line"] for d in dead] == [2, 3, 4, 5, 6]
    assert "13800138000" not in json.dumps(dead)
    assert "…00" in dead[0]["text"]  # masked: digit count and last two digits only


@pytest.mark.parametrize(
    "bad",
    [
        "2025-02-30 08:30:00|1.9|yanglao|NONE|ENTERQUEUE||17000001234|1",
        "2025-03-03 24:10:00|1.9|yanglao|NONE|ENTERQUEUE||17000001234|1",
        "0000-00-00 00:00:00|1.9|yanglao|NONE|ENTERQUEUE||17000001234|1",
        "2025-03-03 08:30:60|1.9|yanglao|NONE|ENTERQUEUE||17000001234|1",
        "¹⁷⁴⁰⁹⁶¹⁸⁰⁰|1.9|yanglao|NONE|ENTERQUEUE||17000001234|1",
    ],
)
def test_impossible_time_is_dead_lettered_and_a_restart_goes_on(tmp_path, bad) -> None:
    rows = [
        row(0, "1.1", "yanglao", "NONE", "ENTERQUEUE", "", "17000001234", 1),
        bad,
        row(5, "1.1", "yanglao", "NONE", "ABANDON", 1, 1, 5),
    ]
    log = write_log(tmp_path / "queue_log", rows)
    run = ingestor(tmp_path, log)
    summary = run.run()
    assert summary.lines == 3
    assert [b.line for b in summary.bad] == [2]
    assert summary.bad[0].reason.startswith("bad time: ")
    assert [e.RECORD_TYPE for e in run.sink.events][-2:] == ["call.abandoned", "call.ended"]
    dead = [json.loads(x) for x in (tmp_path / "dead.jsonl").read_text().splitlines()]
    assert [(d["line"], d["reason"]) for d in dead] == [(2, summary.bad[0].reason)]
    assert "17000001234" not in json.dumps(dead)
    assert read_state(tmp_path / "state.json", run.producer_id).file.line == 3
    again = ingestor(tmp_path, log).run()  # the restart does not trip over it again
    assert (again.lines, again.bad) == (0, [])


def test_odd_lines_never_stop_a_run(tmp_path) -> None:
    """Fuzz: odd fields in every position give events or dead letters, never an exception."""
    import random

    rng = random.Random(12333)
    events = ["ENTERQUEUE", "CONNECT", "COMPLETECALLER", "COMPLETEAGENT", "ABANDON"]
    events += ["EXITWITHTIMEOUT", "EXITWITHKEY", "EXITEMPTY", "BLINDTRANSFER", "TRANSFER"]
    events += ["ATTENDEDTRANSFER", "AGENTLOGIN", "ADDMEMBER", "AGENTLOGOFF", "REMOVEMEMBER"]
    events += ["PAUSE", "PAUSEALL", "UNPAUSE", "UNPAUSEALL", "QUEUESTART", "RINGNOANSWER", "X"]
    times = [str(T0), f"{T0}.5", "2025-02-30 10:00:00", "0000-00-00 00:00:00", "¹⁷⁴⁰⁹⁶¹⁸⁰⁰"]
    times += ["2025-03-03 10:00:60", "0001-01-01 00:00:00", "9999-12-31 23:59:59", "1" * 400, ""]
    times += ["１７４０９６１８００", "1740961800.", "-5", "nan", "inf", "1e9"]
    odd = ["", " ", "NONE", "-1", "0", "5", "9" * 30, "9" * 5000, "１２", "¹²³", "٣", "1e5", "nan"]
    odd += ["1_0", "+5", "\x00", "17000001234", "+86 170 0000 4321", "(((((", "😀", "a" * 200]
    odd += ["PJSIP/8001", "Local/17000005678@from-queue/n", "BRIDGE", "LINK", "APP", "话后整理"]
    callids = ["1.1", "1.2", "2.1", "NONE", "", "x" * 80, "a b"]
    agents = ["PJSIP/8001", "Agent/1", "NONE", "", "Local/17000005678@from-queue/n", "/", "a|b"]
    rows = []
    for _ in range(3000):
        fields = [rng.choice(times), rng.choice(callids), rng.choice(["yanglao", "NONE", "", "q"])]
        fields += [rng.choice(agents), rng.choice(events)]
        fields += [rng.choice(odd) for _ in range(rng.randint(0, 8))]
        cut = rng.randint(0, len(fields)) if rng.random() < 0.05 else len(fields)
        rows.append("|".join(fields[:cut]))
    run = ingestor(tmp_path, write_log(tmp_path / "queue_log", rows))
    summary = run.run()
    assert summary.lines == len(rows)
    assert len(summary.bad) > 1000 and summary.events > 100
    dead = (tmp_path / "dead.jsonl").read_text().splitlines()
    assert len(dead) == len(summary.bad)
    text = "\n".join(dead)
    assert not any(n in text for n in ("17000004321", "170 0000 4321", "17000001234"))


REMOTE = "Local/17000005678@from-queue/n"  # a remote agent reached on a mobile


def _remote_agent_rows(agent: str = REMOTE, callid: str = "1.1") -> list[str]:
    return [
        row(0, callid, "yanglao", "NONE", "ENTERQUEUE", "", "17000001234", 1),
        row(12, callid, "yanglao", agent, "CONNECT", 12, "1.2", 3),
        row(100, "NONE", "yanglao", agent, "PAUSE", "lunch"),
    ]


def test_phone_number_in_an_agent_name_is_pseudonymised_stably(tmp_path, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    run = ingestor(tmp_path, write_log(tmp_path / "queue_log", _remote_agent_rows()))
    summary = run.run()
    agent_ids = {e.agent_id for e in run.sink.events if getattr(e, "agent_id", None)}
    assert len(agent_ids) == 1
    (agent_id,) = agent_ids
    assert agent_id.startswith("C320100:Local:phone_") and "_from-queue:n." in agent_id
    out = "\n".join(event_line(e) for e in run.sink.events)
    for text in (out, caplog.text, (tmp_path / "state.json").read_text(), repr(summary)):
        assert "17000005678" not in text and "00005678" not in text
    # the same agent, another run (and the rest of its call after a restart): the same id
    again = ingestor(tmp_path / "b", write_log(tmp_path / "b.log", _remote_agent_rows()))
    again.run()
    assert {e.agent_id for e in again.sink.events if getattr(e, "agent_id", None)} == agent_ids
    with (tmp_path / "queue_log").open("a") as f:
        f.write(row(200, "1.1", "yanglao", REMOTE, "COMPLETECALLER", 12, 188, 1) + "\n")
    resumed = ingestor(tmp_path, tmp_path / "queue_log")
    assert resumed.run().bad == []
    assert {e.agent_id for e in resumed.sink.events} == agent_ids
    # another number: another id
    other = ingestor(tmp_path / "c", write_log(tmp_path / "c.log", _remote_agent_rows(
        "Local/17000005679@from-queue/n")))  # fmt: skip
    other.run()
    assert agent_id not in {e.agent_id for e in other.sink.events if getattr(e, "agent_id", None)}


def test_state_saved_with_a_number_in_an_agent_name_is_rekeyed(tmp_path) -> None:
    old = {
        "calls": {"1.1": {"call_id": "C320100:1.1", "legs": 1, "queue": "yanglao",
                          "region": "320100", "enter_ms": 0, "agent": REMOTE}},
        "agents": {REMOTE: {"state": "on_call", "queues": [], "paused": None}},
    }  # fmt: skip
    translator = Translator(mapping(), HASHER, old)
    assert "17000005678" not in json.dumps(translator.snapshot())
    line = parse_line(
        row(200, "1.1", "yanglao", REMOTE, "COMPLETECALLER", 12, 188, 1), mapping().tz
    )
    drafts = translator.feed(line)
    assert [d.fields.get("state") for d in drafts] == [None, "ready"]


def test_unusable_caller_number_is_sent_as_withheld_and_warned(tmp_path) -> None:
    rows = [row(0, "1.1", "yanglao", "NONE", "ENTERQUEUE", "", "12", 1)]
    run = ingestor(tmp_path, write_log(tmp_path / "queue_log", rows))
    summary = run.run()
    assert run.sink.events[0].caller_id is None
    assert sum(summary.warnings.values()) == 1


def test_unmapped_queue_is_a_warning_with_the_default_line(tmp_path) -> None:
    rows = [row(0, "1.1", "mystery", "NONE", "ENTERQUEUE", "", "anonymous", 1)]
    run = ingestor(tmp_path, write_log(tmp_path / "queue_log", rows))
    summary = run.run()
    assert run.sink.events[2].business_line == "other"
    assert any("mystery" in w for w in summary.warnings)


def test_replay_gives_the_same_ids(tmp_path) -> None:
    log = sample_log(tmp_path)
    first = ingestor(tmp_path / "a", log)
    first.run()
    second = ingestor(tmp_path / "b", log)
    second.run()
    assert ids(first.sink.events) == ids(second.sink.events)
    assert len(set(ids(first.sink.events))) == len(first.sink.events)
    assert [e.envelope.sequence for e in first.sink.events] == list(range(len(first.sink.events)))


def dead_letters(path: Path) -> list[tuple[int, str]]:
    return [(d["line"], d["text"]) for d in map(json.loads, path.read_text().splitlines())]


@pytest.mark.parametrize("crash_at", [1, 37, 200, 399])
def test_restart_after_a_crash_resumes_after_the_last_delivered_line(tmp_path, crash_at) -> None:
    """Also each bad line is dead-lettered once: those between the last checkpoint and the
    crash were appended again by the restart (and a record torn by the crash stayed)."""
    lines, _ = generate_sample(calls=60)
    for at in range(len(lines) - 1, 0, -5):  # a bad line in every checkpoint interval
        lines.insert(at, f"{T0 + at}|garbage line")
    log = write_log(tmp_path / "queue_log", lines)
    whole = ingestor(tmp_path / "whole", log, AckSink())
    whole.run()
    expected = whole.sink.delivered
    assert len(expected) > crash_at

    crashed = AckSink(crash_at=crash_at)
    with pytest.raises(RuntimeError, match="simulated crash"):
        ingestor(tmp_path, log, crashed, checkpoint_lines=25).run()
    with (tmp_path / "dead.jsonl").open("a") as out:  # killed in the middle of a record
        out.write('{"producer_id": "ql.C32')
    resumed = AckSink()
    ingestor(tmp_path, log, resumed, checkpoint_lines=25).run()

    got = crashed.delivered + resumed.delivered
    assert ids(got) == ids(expected)  # no duplicate, nothing missing, same order
    assert [e.envelope.sequence for e in got] == list(range(len(expected)))
    assert [event_line(e) for e in got] == [event_line(e) for e in expected]
    assert dead_letters(tmp_path / "dead.jsonl") == dead_letters(tmp_path / "whole" / "dead.jsonl")


def test_clean_stop_then_appended_lines_continue(tmp_path) -> None:
    lines, _ = generate_sample(calls=40)
    half = len(lines) // 2
    log = write_log(tmp_path / "queue_log", lines[:half])
    first = ingestor(tmp_path, log, AckSink())
    summary = first.run()
    assert summary.lines == half
    assert read_state(tmp_path / "state.json", first.producer_id).file.line == half
    with log.open("a") as out:
        out.write("".join(x + "\n" for x in lines[half:]))
    second = ingestor(tmp_path, log, AckSink())
    assert second.run().resumed_after_line == half

    whole = ingestor(tmp_path / "whole", write_log(tmp_path / "whole.log", lines), AckSink())
    whole.run()
    assert ids(first.sink.delivered + second.sink.delivered) == ids(whole.sink.delivered)


def test_restart_finds_a_file_rotated_while_down(tmp_path) -> None:
    lines, _ = generate_sample(calls=40)
    a, b, c = len(lines) // 3, 2 * len(lines) // 3, len(lines)
    log = write_log(tmp_path / "queue_log", lines[:a])
    first = ingestor(tmp_path, log, AckSink())
    first.run()
    with log.open("a") as out:  # more lines, then rotated away
        out.write("".join(x + "\n" for x in lines[a:b]))
    os.rename(log, tmp_path / "queue_log.1")
    write_log(log, lines[b:c])
    second = ingestor(tmp_path, log, AckSink())
    summary = second.run()
    assert summary.lines == c - a
    assert any("rotated" in n for n in summary.notes)
    got = first.sink.delivered + second.sink.delivered
    assert len(set(ids(got))) == len(got)
    assert [e.envelope.sequence for e in got] == list(range(len(got)))
    assert summary.bad == []  # calls spanning the rotation continue from the saved state


def _unanswered(first: int, n: int) -> list[str]:
    out = []
    for i in range(first, first + n):
        out.append(row(i * 10, f"{i}.1", "yanglao", "NONE", "ENTERQUEUE", "", "17000001234", 1))
        out.append(row(i * 10 + 5, f"{i}.1", "yanglao", "NONE", "ABANDON", 1, 1, 5))
    return out


@pytest.mark.parametrize(
    ("older", "newer"),
    [
        ("queue_log.2", "queue_log.1"),  # logrotate: .1 is the newest
        ("queue_log.3", "queue_log.4"),  # Asterisk rotatestrategy=sequential: highest newest
        ("queue_log-20250303", "queue_log-20250304"),  # logrotate dateext
    ],
    ids=["logrotate", "asterisk-sequential", "dateext"],
)
def test_restart_after_two_rotations_reads_every_rotated_file(tmp_path, older, newer) -> None:
    d = tmp_path / "log"
    d.mkdir()
    log = d / "queue_log"
    write_log(log, _unanswered(0, 2))  # day 1, read
    first = ingestor(tmp_path, log, AckSink())
    first.run()
    with log.open("a") as out:  # rest of day 1, then two rotations while the ingestor is down
        out.write("".join(x + "\n" for x in _unanswered(2, 2)))
    os.rename(log, d / older)
    write_log(d / newer, _unanswered(10, 2))  # day 2
    write_log(log, _unanswered(20, 2))  # day 3 (current)
    _compress(write_log(d / "queue_log.7", _unanswered(-10, 1)))  # older, compressed: not read
    write_log(d / "queue_log.toml", ["region_code = '320100'"])  # not a rotation
    (d / "queue_log.9").write_bytes((d / older).read_bytes())  # a copy: not read twice
    os.utime(d / "queue_log.9", (0, 0))
    second = ingestor(tmp_path, log, AckSink())
    summary = second.run()
    calls = [
        e.call_id.split(":")[1] for e in second.sink.delivered if e.RECORD_TYPE == "call.offered"
    ]
    assert calls == ["2.1", "3.1", "10.1", "11.1", "20.1", "21.1"]
    assert summary.bad == []
    assert summary.notes == [
        f"resumed {older} (rotated) after line 4, then {newer}, then queue_log"
    ]
    got = first.sink.delivered + second.sink.delivered
    assert len(set(ids(got))) == len(got)
    assert [e.envelope.sequence for e in got] == list(range(len(got)))
    again = ingestor(tmp_path, log, AckSink()).run()
    assert again.lines == 0


_COMPRESS = {
    ".gz": gzip.compress,
    ".bz2": bz2.compress,
    ".xz": lzma.compress,
    ".zst": lambda data: bytes(cramjam.zstd.compress(data)),
}


def _compress(path: Path, suffix: str = ".gz", done: bool = True) -> Path:
    """logrotate's ``compress``: ``path`` becomes ``path`` + ``suffix`` (removed once ``done``)."""
    packed = path.with_name(path.name + suffix)
    packed.write_bytes(_COMPRESS[suffix](path.read_bytes()))
    if done:
        path.unlink()
    return packed


def _down_for_two_rotations(tmp: Path) -> Path:
    """Four lines of ``tmp/log/queue_log`` read; two more written, then two rotations while
    the ingestor is down: ``queue_log.2`` (those two unread), ``queue_log.1``, ``queue_log``."""
    d = tmp / "log"
    d.mkdir(parents=True)
    log = write_log(d / "queue_log", _unanswered(0, 2))
    ingestor(tmp, log, AckSink()).run()
    with log.open("a") as out:  # unread when the file is rotated
        out.write("".join(x + "\n" for x in _unanswered(2, 1)))
    os.rename(log, d / "queue_log.2")
    write_log(d / "queue_log.1", _unanswered(10, 2))
    return write_log(log, _unanswered(20, 2))


def _offered(events: list[Event]) -> list[str]:
    return [e.call_id.split(":")[1] for e in events if e.RECORD_TYPE == "call.offered"]


_UNREADABLE = "compressed rotated file corrupt or truncated"


@pytest.mark.parametrize("suffix", list(_COMPRESS))
@pytest.mark.parametrize(
    ("compressed", "compressing"),
    [
        (["queue_log.2"], []),
        (["queue_log.2", "queue_log.1"], []),
        (["queue_log.1"], []),
        ([], ["queue_log.2", "queue_log.1"]),
    ],
    ids=["saved-compressed", "both-compressed", "newer-compressed", "being-compressed"],
)
def test_restart_after_compressed_rotations_reads_them(
    tmp_path, suffix, compressed, compressing
) -> None:
    """logrotate ``compress`` without ``delaycompress``, restarted after it compressed
    (or after two rotations with ``delaycompress``): the state's file is ``queue_log.2.gz``.
    Its unread lines, and those of a compressed file rotated after it, were reported lost
    (``.gz``) or the compressed files not even recognised (``.bz2``, ``.xz``, ``.zst``: the
    state's file "gone", the current file read from its start). They are read, decompressed:
    the same events as from the uncompressed files."""
    plain = ingestor(tmp_path / "plain", _down_for_two_rotations(tmp_path / "plain"), AckSink())
    plain.run()
    log = _down_for_two_rotations(tmp_path)
    for name in compressed:
        _compress(log.with_name(name), suffix)
    for name in compressing:  # the copy is written, the file not yet removed: read the file
        _compress(log.with_name(name), suffix, done=False)
    second = ingestor(tmp_path, log, AckSink())
    summary = second.run()
    assert _offered(second.sink.delivered) == ["2.1", "10.1", "11.1", "20.1", "21.1"]
    assert [event_line(e) for e in second.sink.delivered] == [
        event_line(e) for e in plain.sink.delivered
    ]
    assert summary.bad == []
    names = [n + suffix if n in compressed else n for n in ("queue_log.2", "queue_log.1")]
    assert summary.notes == [
        f"resumed {names[0]} (rotated) after line 4, then {names[1]}, then queue_log"
    ]
    assert _UNREADABLE not in summary.warnings
    assert ingestor(tmp_path, log, AckSink()).run().lines == 0


def _two_days(tmp: Path, lines: list[str], a: int, b: int, suffix: str) -> Path:
    """``lines[:a]`` read, then ``lines[a:b]`` written and rotated to ``queue_log.1`` +
    ``suffix`` (``compress``, no ``delaycompress``) while the ingestor is down; ``lines[b:]``
    current."""
    d = tmp / "log"
    d.mkdir(parents=True)
    log = write_log(d / "queue_log", lines[:a])
    ingestor(tmp, log, AckSink()).run()
    with log.open("a") as out:
        out.write("".join(x + "\n" for x in lines[a:b]))
    os.rename(log, d / "queue_log.1")
    _compress(d / "queue_log.1", suffix)
    return write_log(log, lines[b:])


def _rotate_again(log: Path, more: list[str], suffix: str) -> None:
    """Another rotation with ``compress`` to ``suffix``: ``.1.gz`` → ``.2.gz``, ``queue_log``
    → ``.1.gz`` (with ``.gz``)."""
    os.rename(log.with_name(f"queue_log.1{suffix}"), log.with_name(f"queue_log.2{suffix}"))
    os.rename(log, log.with_name("queue_log.1"))
    _compress(log.with_name("queue_log.1"), suffix)
    write_log(log, more)


@pytest.mark.parametrize("suffix", [".gz", ".zst"])
@pytest.mark.parametrize("rotated_again", [False, True], ids=["restart", "rotated-again"])
@pytest.mark.parametrize("crash_at", [2, 60, 150, 260])
def test_crash_inside_a_compressed_rotation_resumes_there_once(
    tmp_path, crash_at, rotated_again, suffix
) -> None:
    """A checkpoint inside a compressed rotation holds the offset in its uncompressed bytes
    and the inode of the compressed file; the restart (after one more rotation, perhaps)
    finds the file by the first line of its content and goes on after the last delivered
    line: every event and every dead letter once, in order, as without the crash."""
    lines, _ = generate_sample(calls=60)
    for at in range(len(lines) - 1, 0, -7):  # bad lines, dead-lettered
        lines.insert(at, f"{T0 + at}|garbage line")
    a, b, c = 12, 150, 220
    whole_log = _two_days(tmp_path / "whole", lines[:c], a, b, suffix)
    whole = ingestor(tmp_path / "whole", whole_log, AckSink())
    if rotated_again:
        _rotate_again(whole.path, lines[c:], suffix)
    whole.run()
    expected = whole.sink.delivered
    assert len(expected) > crash_at

    log = _two_days(tmp_path, lines[:c], a, b, suffix)
    crashed = AckSink(crash_at=crash_at)
    with pytest.raises(RuntimeError, match="simulated crash"):
        ingestor(tmp_path, log, crashed, checkpoint_lines=5).run()
    saved = read_state(tmp_path / "state.json", whole.producer_id).file
    inside = saved.id == file_id(lines[0].encode()) and saved.line > a
    assert inside == (crash_at in (60, 150))  # the checkpoint is inside the compressed file
    if inside:
        assert saved.ino == log.with_name(f"queue_log.1{suffix}").stat().st_ino
    if rotated_again:
        _rotate_again(log, lines[c:], suffix)
    resumed = AckSink()
    ingestor(tmp_path, log, resumed, checkpoint_lines=5).run()

    got = crashed.delivered + resumed.delivered
    assert [event_line(e) for e in got] == [event_line(e) for e in expected]
    assert dead_letters(tmp_path / "dead.jsonl") == dead_letters(tmp_path / "whole" / "dead.jsonl")


@pytest.mark.parametrize("old_state", [False, True], ids=["state", "state-without-time"])
def test_restart_after_the_saved_file_was_removed_reads_the_files_rotated_after_it(
    tmp_path, old_state
) -> None:
    """The state's file removed while the ingestor was down (logrotate's ``rotate 1``): the
    current file was read from its start, ``queue_log.1`` (rotated after the state's file,
    never read) skipped. The files whose first line is not older than the state's file's are
    read; an older one left there is not. A state saved without that time (older version)
    cannot tell them apart: the current file is read from its start, as before."""
    log = _down_for_two_rotations(tmp_path)
    state = tmp_path / "state.json"
    saved = json.loads(state.read_text())
    assert saved["file"]["first_time"] == T0  # the time of the file's first line
    if old_state:
        del saved["file"]["first_time"]
        state.write_text(json.dumps(saved))
    log.with_name("queue_log.2").unlink()
    _compress(write_log(log.with_name("queue_log.3"), _unanswered(-10, 1)))  # older
    run = ingestor(tmp_path, log, AckSink())
    summary = run.run()
    gone = f"the file of the state (id {saved['file']['id']}, line 4) is gone; read "
    if old_state:
        assert _offered(run.sink.delivered) == ["20.1", "21.1"]
        assert summary.notes == [gone + "queue_log from its start"]
    else:
        assert _offered(run.sink.delivered) == ["10.1", "11.1", "20.1", "21.1"]
        assert summary.notes == [gone + "queue_log.1, then queue_log from their start"]
    assert summary.bad == []
    assert ingestor(tmp_path, log, AckSink()).run().lines == 0


#: The uncompressed bytes of a block, the least a decompressor gives out: a file cut short
#: within its first block gives no line (``.gz`` and ``.xz`` give out as they go).
_BLOCK = {".bz2": 900_000, ".zst": 128 * 1024}


@pytest.mark.parametrize(
    ("suffix", "calls"), [*((suffix, 300) for suffix in _COMPRESS), (".zst", 3000)]
)
def test_a_truncated_compressed_rotation_is_read_up_to_the_damage_and_reported(
    tmp_path, caplog, suffix, calls
) -> None:
    """A compressed rotation cut short (disk full, logrotate killed): its lines up to the
    damage are read, then an error names the file and is counted, and the files rotated
    after it are read as usual. (One cut short within its first block — of 900 kB for
    ``.bz2``, 128 KiB for ``.zst`` — gives no line at all: it is not known to be the state's
    file, which is "gone", and the files rotated after it are read.) A ``.zst`` of several
    blocks gave no line either: it was decompressed whole before its first line was read."""
    log = _down_for_two_rotations(tmp_path)
    with log.with_name("queue_log.2").open("a") as out:  # more lines after the saved ones
        out.write("".join(x + "\n" for x in _unanswered(100, calls)))
    size = log.with_name("queue_log.2").stat().st_size
    packed = _compress(log.with_name("queue_log.2"), suffix)
    packed.write_bytes(packed.read_bytes()[: packed.stat().st_size * 2 // 3])
    run = ingestor(tmp_path, log, AckSink())
    summary = run.run()
    offered = _offered(run.sink.delivered)
    assert offered[-4:] == ["10.1", "11.1", "20.1", "21.1"]
    rest = ["2.1", *(f"{i}.1" for i in range(100, 100 + calls))]
    assert offered[:-4] == rest[: len(offered) - 4]  # a prefix: nothing invented
    (note,) = [n for n in summary.notes if "cannot be decompressed" in n]
    assert note.startswith(f"queue_log.2{suffix}: cannot be decompressed ")
    if size < _BLOCK.get(suffix, 0):
        assert offered == ["10.1", "11.1", "20.1", "21.1"]
        assert note.endswith("): corrupt or truncated, not read")
    else:
        after = 4 + 2 * (len(offered) - 4)  # lines read of .2 (the last ABANDON, perhaps not)
        assert note.endswith("): corrupt or truncated, its further lines are not read")
        assert int(note.split("after line ")[1].split(" ")[0]) in (after - 1, after)
        assert len(offered) > 4  # lines of the damaged file were read
    assert summary.warnings[_UNREADABLE] == 1
    assert note in caplog.text and "ERROR" in caplog.text
    assert summary.bad == []


def _large_zst(path: Path, size: int) -> tuple[Path, list[str]]:
    """``path`` + ``.zst``: a queue_log line, then ``size`` bytes of lines that compress
    only by half (so the compressed file is large too); with its lines."""
    lines = _unanswered(0, 1) + [
        f"{T0}|0.1|yanglao|NONE|NOTE|{os.urandom(50).hex()}" for _ in range(size // 130)
    ]
    return _compress(write_log(path, lines), ".zst"), lines


class _Counted:
    """A file that adds the size of each read to ``sizes``."""

    def __init__(self, raw: BinaryIO, sizes: list[int]) -> None:
        self.raw, self.sizes = raw, sizes

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.sizes.append(len(data))
        return data

    def __getattr__(self, name: str) -> object:
        return getattr(self.raw, name)


def test_the_first_line_of_a_large_zst_is_read_without_decompressing_it_all(
    tmp_path, monkeypatch
) -> None:
    """Listing the rotated files reads the first line of each compressed one (its identity
    and time): a ``.zst`` was read and decompressed whole for it, in memory (hundreds of MB
    for a busy center's day). It is decompressed as it is read: its first line costs the
    first compressed chunk."""
    log = write_log(tmp_path / "queue_log", _unanswered(20, 1))
    packed, _ = _large_zst(tmp_path / "queue_log.1", 4_000_000)
    sizes: list[int] = []
    codec = source._CODECS[".zst"]
    monkeypatch.setitem(source._CODECS, ".zst", lambda raw: codec(_Counted(raw, sizes)))
    (rotated,) = LogSource(log)._rotated()
    assert rotated.id == file_id(_unanswered(0, 1)[0].encode())
    assert rotated.time == T0
    # At most its first block (128 KiB decompressed, no more compressed) and two chunks.
    assert 0 < sum(sizes) <= 144 * 1024 < packed.stat().st_size // 8


@pytest.mark.parametrize("after", [1, 20_000], ids=["first-line", "past-blocks"])
def test_a_large_zst_is_read_to_its_end_in_bounded_memory(tmp_path, after) -> None:
    """Resumed inside a ``.zst`` rotation (after its first line, or 2.6 MB into it: past many
    blocks), its lines are read as it is decompressed, from the line after the saved one:
    Python holds a few chunks of it at a time, not the file (it held the file compressed
    and decompressed, twice its size and more)."""
    log = write_log(tmp_path / "queue_log", _unanswered(20, 1))
    _, lines = _large_zst(tmp_path / "queue_log.1", 4_000_000)
    offset = sum(len(line) + 1 for line in lines[:after])
    start = FilePosition(log.name, file_id(lines[0].encode()), 0, 0, offset, after, T0)
    expected = iter(lines[after:] + _unanswered(20, 1))  # the rest of .1.zst, then queue_log
    tracemalloc.start()
    try:
        for line in LogSource(log, start).lines():
            assert line is not None and line.text == next(expected)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert next(expected, None) is None
    assert peak < 1_000_000


#: The first bytes of a file of each format (its magic number).
_MAGIC = {
    ".gz": b"\x1f\x8b\x08\x00",
    ".bz2": b"BZh9",
    ".xz": b"\xfd7zXZ\x00",
    ".zst": b"(\xb5/\xfd",
}


@pytest.mark.parametrize("suffix", list(_COMPRESS))
def test_an_undecodable_compressed_sibling_is_reported_once_unless_being_compressed(
    tmp_path, caplog, suffix
) -> None:
    """A compressed sibling that cannot be decompressed even to its first line is not known
    to be a rotation of this log, nor read: it was skipped silently. It is reported (once a
    run), except while it is being written beside its uncompressed file."""
    log = _down_for_two_rotations(tmp_path)
    (log.with_name(f"queue_log.3{suffix}")).write_bytes(_MAGIC[suffix] + b"garbage" * 20)
    being = _compress(log.with_name("queue_log.1"), suffix, done=False)
    being.write_bytes(being.read_bytes()[:12])
    run = ingestor(tmp_path, log, AckSink())
    summary = run.run()
    assert _offered(run.sink.delivered) == ["2.1", "10.1", "11.1", "20.1", "21.1"]
    unreadable = [n for n in summary.notes if "cannot be decompressed" in n]
    assert len(unreadable) == 1 and unreadable[0].startswith(
        f"queue_log.3{suffix}: cannot be decompressed ("
    )
    assert summary.warnings[_UNREADABLE] == 1
    assert f"queue_log.1{suffix}" not in caplog.text


@pytest.mark.parametrize("follow", [False, True], ids=["replay", "follow"])
def test_a_rotation_compressed_after_it_was_listed_is_read_from_its_copy(
    tmp_path, monkeypatch, follow
) -> None:
    """``queue_log.1`` listed, then compressed (``.1.gz`` written, ``.1`` removed) before the
    resume opened it: FileNotFoundError after the rest of ``queue_log.2`` was yielded — a
    replay failed, and ``--follow`` started the resume over, yielding those lines twice."""
    log = _down_for_two_rotations(tmp_path)
    source = LogSource(
        log, read_state(tmp_path / "state.json", ingestor(tmp_path, log).producer_id).file
    )
    listings = []

    def listed_then_compressed() -> list:
        listing = LogSource._rotated(source)
        if not listings:
            _compress(log.with_name("queue_log.1"))
        listings.append(listing)
        return listing

    monkeypatch.setattr(source, "_rotated", listed_then_compressed)
    lines = source.lines(follow=follow)
    got = _until_idle(lines) if follow else list(lines)
    assert [x.text for x in got] == _unanswered(2, 1) + _unanswered(10, 2) + _unanswered(20, 2)


def _wait_for(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.01)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("follow", [False, True], ids=["replay", "follow"])
def test_restart_before_the_rotated_log_is_recreated_reads_each_line_once(tmp_path, follow) -> None:
    """Restarted after a rename rotation, before Asterisk creates the log again: the rotated
    file was read again at every poll (duplicate events, false dead letters), and a run
    without --follow crashed on the missing path at every restart."""
    lines, _ = generate_sample(calls=40)
    a, b, c = len(lines) // 3, 2 * len(lines) // 3, len(lines)
    log = write_log(tmp_path / "queue_log", lines[:a])
    first = ingestor(tmp_path, log, AckSink())
    first.run()
    with log.open("a") as out:
        out.write("".join(x + "\n" for x in lines[a : b - 1]))
    rotated = tmp_path / "queue_log.1"
    os.rename(log, rotated)
    runs = [ingestor(tmp_path, log, AckSink(), poll_interval=0.01)]
    if follow:
        stop = threading.Event()
        worker = threading.Thread(target=lambda: runs[0].run(True, stop.is_set))
        worker.start()
        try:
            _wait_for(lambda: getattr(runs[0], "summary", None) and runs[0].summary.lines)
            time.sleep(0.1)  # many polls while the path is missing
            with rotated.open("a") as out:  # Asterisk's old descriptor
                out.write(lines[b - 1] + "\n")
            time.sleep(0.05)
            write_log(log, lines[b:c])
            _wait_for(lambda: runs[0].summary.lines >= c - a)
        finally:
            stop.set()
            worker.join(10)
    else:
        with rotated.open("a") as out:
            out.write(lines[b - 1] + "\n")
        assert runs[0].run().lines == b - a  # the rotated file, then a clean end
        write_log(log, lines[b:c])
        runs.append(ingestor(tmp_path, log, AckSink()))
        runs[1].run()
    assert sum(r.summary.lines for r in runs) == c - a
    assert all(r.summary.bad == [] for r in runs)
    whole = ingestor(tmp_path / "whole", write_log(tmp_path / "whole.log", lines), AckSink())
    whole.run()
    got = first.sink.delivered + [e for r in runs for e in r.sink.delivered]
    assert [e.RECORD_TYPE for e in got] == [e.RECORD_TYPE for e in whole.sink.delivered]
    assert len(set(ids(got))) == len(got)
    assert [e.envelope.sequence for e in got] == list(range(len(got)))


@pytest.mark.timeout(30)
@pytest.mark.parametrize("how", ["rename", "copytruncate"])
def test_follow_picks_up_appends_and_survives_rotation(tmp_path, how) -> None:
    lines, _ = generate_sample(calls=30)
    parts = [lines[:50], lines[50:100], lines[100:120], lines[120:]]
    log = write_log(tmp_path / "queue_log", parts[0])
    sink = MemorySink()
    run = ingestor(tmp_path, log, sink, poll_interval=0.01)
    stop = threading.Event()
    result: dict[str, object] = {}
    worker = threading.Thread(target=lambda: result.update(s=run.run(True, stop.is_set)))
    worker.start()
    try:
        _wait_for(lambda: run.summary.lines == 50 if hasattr(run, "summary") else False)
        with log.open("a") as out:  # a line written in two pieces is read once complete
            out.write(parts[1][0][:10])
            out.flush()
            time.sleep(0.05)
            out.write(parts[1][0][10:] + "\n" + "".join(x + "\n" for x in parts[1][1:]))
        _wait_for(lambda: run.summary.lines == 100)
        if how == "rename":
            os.rename(log, tmp_path / "queue_log.1")
            with (tmp_path / "queue_log.1").open("a") as out:  # the writer's old descriptor
                out.write("".join(x + "\n" for x in parts[2]))
            time.sleep(0.05)
            write_log(log, parts[3])
        else:
            with log.open("a") as out:
                out.write("".join(x + "\n" for x in parts[2]))
            _wait_for(lambda: run.summary.lines == 120)
            log.write_text("")  # copytruncate
            time.sleep(0.05)
            with log.open("a") as out:
                out.write("".join(x + "\n" for x in parts[3]))
        _wait_for(lambda: run.summary.lines == len(lines))
    finally:
        stop.set()
        worker.join(10)
    summary = result["s"]
    assert summary.bad == []
    whole = ingestor(tmp_path / "whole", write_log(tmp_path / "whole.log", lines))
    whole.run()
    assert [e.RECORD_TYPE for e in sink.events] == [e.RECORD_TYPE for e in whole.sink.events]
    assert len(set(ids(sink.events))) == len(sink.events)
    assert [e.envelope.sequence for e in sink.events] == list(range(len(sink.events)))
    assert any(("rotation" if how == "rename" else "truncation") in n for n in summary.notes)


def _until_idle(lines: Iterator[RawLine | None], polls: int = 5) -> list[RawLine]:
    """The lines a following source yields until it has been idle for ``polls`` polls."""
    out: list[RawLine] = []
    idle = 0
    while idle < polls:
        item = next(lines)
        idle = idle + 1 if item is None else 0
        out += [item] if item is not None else []
    return out


def _copytruncate(log: Path, then: list[str]) -> None:
    shutil.copy(log, log.with_name("queue_log.1"))
    log.write_text("")
    with log.open("a") as out:
        out.write("".join(x + "\n" for x in then))


def test_follow_copytruncate_reads_the_lines_after_the_offset_from_the_copy(tmp_path) -> None:
    """copytruncate while following: the reader went on at byte 0 of the emptied file, so the
    lines written between its last read and the copy (there only in queue_log.1) were lost."""
    rows = _unanswered(0, 4)
    log = write_log(tmp_path / "queue_log", rows[:5])
    lines = LogSource(log, poll_interval=0.001).lines(follow=True)
    old = _until_idle(lines)
    with log.open("a") as out:
        out.write("".join(x + "\n" for x in rows[5:7]))
    _copytruncate(log, rows[7:])
    got = old + _until_idle(lines)
    assert [x.text for x in got] == rows
    old_id, new_id = old[0].position.id, file_id(rows[7].encode())
    assert [(x.position.id, x.position.line) for x in got[5:]] == [
        (old_id, 6),
        (old_id, 7),
        (new_id, 1),
    ]


def test_a_state_whose_file_is_gone_is_noted_once_while_the_path_is_missing(tmp_path) -> None:
    """Following with a state whose file is gone while the path is missing too: the note was
    added again at every poll until the path appeared."""
    rows = _unanswered(0, 2)
    gone = FilePosition("queue_log", file_id(b"gone\n"), offset=100, line=3)
    source = LogSource(tmp_path / "queue_log", gone, poll_interval=0.001)
    lines = source.lines(follow=True)
    assert [next(lines) for _ in range(5)] == [None] * 5  # polls while it is missing
    write_log(tmp_path / "queue_log", rows)
    assert [x.text for x in _until_idle(lines)] == rows
    assert [n for n in source.notes if "is gone" in n] == [
        f"the file of the state (id {gone.id}, line 3) is gone; read queue_log from its start"
    ]


def test_a_copy_gone_before_its_rest_is_read_is_noted_and_reading_goes_on(
    tmp_path, monkeypatch
) -> None:
    """copytruncate, and the copy removed (or compressed) between being listed and opened:
    following stopped with FileNotFoundError. It notes the loss and reads the new file."""
    rows = _unanswered(0, 4)
    log = write_log(tmp_path / "queue_log", rows[:5])
    source = LogSource(log, poll_interval=0.001)
    lines = source.lines(follow=True)
    old = _until_idle(lines)
    _copytruncate(log, rows[7:])
    listed = source._rotated()
    (tmp_path / "queue_log.1").unlink()
    monkeypatch.setattr(source, "_rotated", lambda: listed)
    assert [x.text for x in old + _until_idle(lines)] == rows[:5] + rows[7:]
    assert "the copy queue_log.1 was gone before its rest was read" in source.notes


@pytest.mark.parametrize("damaged", [False, True], ids=["whole", "truncated"])
def test_copytruncate_with_the_copy_compressed_at_once_reads_its_rest(tmp_path, damaged) -> None:
    """copytruncate with ``compress`` and no ``delaycompress``: the lines after the offset
    are only in ``queue_log.1.gz`` when the truncation is noticed; they were lost silently,
    then reported lost. They are read from it; if it cannot be decompressed, that is
    reported and the emptied file still followed."""
    rows = _unanswered(0, 4)
    log = write_log(tmp_path / "queue_log", rows[:5])
    source = LogSource(log, poll_interval=0.001)
    lines = source.lines(follow=True)
    old = _until_idle(lines)
    with log.open("a") as out:
        out.write("".join(x + "\n" for x in rows[5:7]))
    _copytruncate(log, rows[7:])
    packed = _compress(tmp_path / "queue_log.1")
    if damaged:
        packed.write_bytes(packed.read_bytes()[:-12])  # the end (CRC, length) cut off
    got = old + _until_idle(lines)
    if damaged:  # the lines up to the damage, then the new file's
        (note,) = [n for n in source.notes if n.startswith("queue_log.1.gz: cannot be")]
        read = int(note.split("after line ")[1].split(" ")[0]) - 5
        assert read in (0, 1) and [x.text for x in got] == rows[: 5 + read] + rows[7:]
        assert source.warnings == {_UNREADABLE: 1}
    else:
        assert [x.text for x in got] == rows
        assert "read 2 more lines from the copy queue_log.1.gz" in source.notes
        assert source.warnings == {}
    with log.open("a") as out:
        out.write(rows[0] + "\n")
    assert [x.text for x in _until_idle(lines)] == rows[:1]


@pytest.mark.parametrize("read", [1, 3], ids=["between-lines", "idle-at-the-end"])
def test_follow_notices_copytruncate_even_if_the_file_grew_past_the_offset(tmp_path, read) -> None:
    """copytruncate, then more lines than were read, before the reader looked again: it
    noticed no truncation (the file was not shorter than its offset), went on mid-line in the
    new content (a fragment read as a line, the first new lines lost) under the old file's
    identity and line numbers."""
    rows, new = _unanswered(0, 2)[:3], _unanswered(10, 3)
    log = write_log(tmp_path / "queue_log", rows)
    lines = LogSource(log, poll_interval=0.001).lines(follow=True)
    got = [next(lines) for _ in range(read)]
    _copytruncate(log, new)
    got += _until_idle(lines)
    assert [x.text for x in got] == rows + new
    assert [x.position.line for x in got] == [1, 2, 3, 1, 2, 3, 4, 5, 6]
    assert {x.position.id for x in got[3:]} == {file_id(new[0].encode())}


def test_no_caller_number_in_events_logs_state_or_dead_letters(tmp_path, caplog) -> None:
    lines, _ = generate_sample(calls=80)
    numbers = {ln.split("|")[6] for ln in lines if "|ENTERQUEUE|" in ln} - {"", "anonymous"}
    assert len(numbers) > 20
    bad = [f"{n}|garbage" for n in list(numbers)[:3]]
    bad.append(row(0, "x.1", "yanglao", "NONE", "CONNECT", list(numbers)[3]))
    log = write_log(tmp_path / "queue_log", lines + bad)
    caplog.set_level(logging.DEBUG)
    run = ingestor(tmp_path, log)
    summary = run.run()
    assert len(summary.bad) == 4
    out = "\n".join(event_line(e) for e in run.sink.events)
    texts = [
        out,
        caplog.text,
        (tmp_path / "state.json").read_text(),
        (tmp_path / "dead.jsonl").read_text(),
        repr(summary),
    ]
    for number in numbers:
        for text in texts:
            assert number not in text
    assert all(e.caller_id is None or len(e.caller_id) == 64
               for e in run.sink.events if e.RECORD_TYPE == "call.offered")  # fmt: skip
