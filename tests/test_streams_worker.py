"""The Faust worker on the real broker: simulator → KafkaEventSink → raw topics → worker
subprocess → snapshots and agent-time topics; the highest version per key equals the ledger
at every level, also when the worker is killed (SIGKILL) twice mid-run and restarted, and
when a second worker joins and leaves mid-run (rebalances). The rebalance run also checks
alerts end to end: an unstaffed line raises a center-unreachable alert, a dangerous-call
ticket a critical one."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from operator import attrgetter
from pathlib import Path
from typing import Any

import pytest
from fixtures_kafka import ROOT, topic_configs, topic_partitions
from kafka import KafkaConsumer, TopicPartition
from kafka.admin import KafkaAdminClient
from test_streams_agent_time import Expected, agent_time_at_every_level, snapshots_before
from test_streams_alerts import T0, created, resolved
from test_streams_rejects import CTI_ID, HANGZHOU, NINGBO, _as, _call, _ticket
from test_streams_ticket_counts import Counts, snapshots_in, ticket_counts_at_every_level

from hotline.infra.topics import ensure_topics, shared_topic, topic_layout
from hotline.producers.base import DeliveryConfig
from hotline.producers.delivery import KafkaEventSink
from hotline.producers.simulator import Ledger, MemorySink, SimConfig, simulate
from hotline.producers.simulator.facts import DEFAULT_THRESHOLDS, Thresholds
from hotline.producers.simulator.ledger import iso
from hotline.producers.simulator.params import Profile
from hotline.producers.simulator.runner import DEFAULT_START
from hotline.regions import default_registry
from hotline.schemas import (
    TICKET_COUNT_COUNTERS,
    AlertKind,
    BusinessLine,
    Envelope,
    Event,
    Level,
    Severity,
    TicketCategory,
    TicketCreated,
    default_codec,
)
from hotline.settings import KafkaSettings
from hotline.status_file import Status, StatusFileError, describe, read_status
from hotline.streams.app import CHANGELOG_CONFIGS, ensure_groups_topic, groups_topic
from hotline.streams.counters import counts_from, ledger_view
from hotline.streams.rollup import region_at
from hotline.streams.status import group_status
from hotline.streams.tickets import TicketState
from hotline.streams.worker_config import WorkerConfig
from hotline.workdays import china_minute

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

CENTERS = ["C330200", "C320100", "C460000", "C660000"]
PROVINCES = ["330000", "320000", "460000", "660000"]
PARTITIONS = 3
TWO_HOURS = SimConfig(
    seed=7, centers=CENTERS, start=DEFAULT_START + timedelta(hours=9), duration=timedelta(hours=2)
)
A_DAY = SimConfig(
    seed=7, centers=["C330200", "C460000"], start=DEFAULT_START, duration=timedelta(days=1)
)
KILL_AFTER = 1500
"""New snapshots (a new row or a higher version) a worker makes before the test kills it —
or :data:`KILL_WITHIN` after its first status."""
KILL_WITHIN = 1.0
"""Seconds after a worker's first status file of phase ``running`` (its state recovered, its
timer running) by
which the test kills it anyway: a worker that kept up with the input has only its replay and
its idle flush left, and the flush waits for 4 s without input."""


def _kafka(bootstrap: str, unique: str) -> KafkaSettings:
    """The test broker's settings, topics under ``unique``, :data:`PARTITIONS` each."""
    return KafkaSettings(
        bootstrap_servers=bootstrap,
        topic_prefix=unique,
        raw_partitions=PARTITIONS,
        shared_partitions=PARTITIONS,
    )


def _simulate(
    kafka: KafkaSettings,
    tmp_path: Path,
    profiles: dict[str, Profile] | None = None,
    extra: tuple[Event, ...] = (),
    config: SimConfig = TWO_HOURS,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    held: list[Event] | None = None,
) -> tuple[dict, Expected, Counts, datetime]:
    """Simulate ``config``, then send its events to the raw topics at full speed: the ledger's
    call counters per level (counted with ``thresholds``), its agent time and ticket counts at
    every level, and the end of the simulated span. With ``held``, the events of the second
    half of the span are put there instead, for the test to send (:func:`_send`)."""
    config = dataclasses.replace(config, profiles=profiles or {})
    ensure_topics(kafka.bootstrap_servers, topic_layout(kafka, PROVINCES))
    simulated = MemorySink()
    ledger = Ledger(config.end, thresholds=thresholds)
    simulate(config, simulated, ledger)
    half = config.start + (config.end - config.start) / 2
    now = [e for e in simulated.events if held is None or e.envelope.occurred_at < half]
    if held is not None:
        held += [e for e in simulated.events if e.envelope.occurred_at >= half]
    assert len(simulated.events) > 10_000
    _send(kafka, tmp_path, now, "sim-test")
    if extra:
        _send(kafka, tmp_path, extra, "test-injector")
    registry = default_registry()
    expected: dict = {}
    for level in Level:
        out: dict = defaultdict(dict)
        for (minute, region, line, channel), counters in ledger.call_rows().items():
            row = out[(region_at(registry, region, level), minute, line, channel)]
            for name, value in counters.items():
                row[name] = row.get(name, 0) + value
        expected[level] = dict(out)
    agents = agent_time_at_every_level(ledger)
    tickets = ticket_counts_at_every_level([*ledger.records(), *_ticket_rows(extra)])
    assert len(agents) > 500 and len(tickets) > 100
    return expected, agents, tickets, config.end


def _sink(kafka: KafkaSettings, tmp_path: Path, name: str) -> KafkaEventSink:
    return KafkaEventSink(
        DeliveryConfig(
            bootstrap_servers=kafka.bootstrap_servers,
            topic_prefix=kafka.topic_prefix,
            spool_root=tmp_path / "spool",
        ),
        name,
    )


def _send(kafka: KafkaSettings, tmp_path: Path, events: Sequence[Event], name: str) -> None:
    """Send ``events`` to the raw topics (in their order), all of them."""
    sink = _sink(kafka, tmp_path, name)
    for event in events:
        sink.emit(event)
    sink.close()
    assert sink.sent == len(events) and not sink.spooled


#: The held second hour trickles in while the second worker starts: this many events every
#: half second (~60 s for the hour), so that no province group is idle for the worker's idle
#: flush (4 s: then later input would be late) and input is left when it has joined.
_TRICKLE = 100


def _ticket_rows(events: Iterable[Event]) -> list[dict]:
    """Ledger-style ticket rows of injected events (the ledger does not see them)."""
    states: dict[str, TicketState] = {}
    for e in events:
        if e.RECORD_TYPE.startswith("ticket."):
            states.setdefault(e.ticket_id, TicketState(e.ticket_id)).add(e)  # type: ignore[attr-defined]
    return [
        {
            "kind": "tickets",
            "minute": iso(datetime.fromtimestamp(ms / 1000, UTC)),
            "region_code": region,
            "category": category,
            **dict(zip(TICKET_COUNT_COUNTERS, counts, strict=True)),
        }
        for state in states.values()
        for (ms, region, category), counts in state.counts_by_minute().items()
    ]


class TopicReader:
    """Reads a shared topic from the start; keeps the highest version per ``key_of(row)``.

    A client that has fetched nothing ``STUCK_S`` after it started while the topic has messages
    is started again (seen on a loaded machine: a reader that never fetched, while the worker
    wrote thousands of snapshots); reading again from the start changes nothing.
    """

    STUCK_S = 15

    def __init__(self, bootstrap: str, topic: str, key_of: Callable[[Any], Any]) -> None:
        self.bootstrap, self.topic, self.key_of = bootstrap, topic, key_of
        self.codec = default_codec()
        self.rows: dict = {}
        self.messages = 0
        self.updates = 0
        """Messages that added a row or raised its version (a re-sent one does neither)."""
        self._open()

    def _open(self) -> None:
        self.consumer = KafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False)
        self.parts = [
            TopicPartition(self.topic, p) for p in topic_partitions(self.consumer, self.topic)
        ]
        self.consumer.assign(self.parts)
        self.consumer.seek_to_beginning(*self.parts)
        self.opened, self.fetched = time.monotonic(), False

    def poll(self) -> int:
        """One fetch; how many messages it brought."""
        batch = self.consumer.poll(timeout_ms=500, max_records=50_000)
        count = 0
        for records in batch.values():
            for record in records:
                count += 1
                row = self.codec.decode_model(record.value)
                key = self.key_of(row)
                held = self.rows.get(key)
                if held is None or row.version > held.version:
                    self.rows[key] = row
                    self.updates += 1
        self.messages += count
        self.fetched = self.fetched or count > 0
        stuck = not self.fetched and time.monotonic() - self.opened > self.STUCK_S
        if stuck and any(self.consumer.end_offsets(self.parts).values()):
            self.consumer.close()
            self._open()
        return count

    def drain(self) -> dict:
        """Everything there is now."""
        while self.poll():
            pass
        return self.rows

    def wait_for(self, expected: dict, view: Callable[[Any], dict], timeout_s: float = 30) -> dict:
        """Read until ``view(rows)`` equals ``expected`` or ``timeout_s`` passed; the view."""
        deadline = time.monotonic() + timeout_s
        while True:
            got = view(self.drain().values())
            if got == expected or time.monotonic() > deadline:
                return got
            time.sleep(0.5)


class SnapshotReader(TopicReader):
    """The snapshots topic, per (level, region, bucket, line, channel)."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        super().__init__(
            bootstrap,
            topic,
            lambda s: (s.level, s.region_code, s.bucket_start, s.business_line, s.channel),
        )

    def at(self, level: Level) -> dict:
        if not self.rows:
            return {}  # nothing read: compares unequal to what was expected
        names = [n for n in type(next(iter(self.rows.values()))).model_fields]
        out = {}
        for (lvl, region, minute, line, channel), snap in self.rows.items():
            if lvl is not level:
                continue
            counts = counts_from({n: getattr(snap, n) for n in names if n in _COUNTERS})
            if any(counts):
                out[(region, minute, line.value, channel.value)] = ledger_view(counts)
        return out

    def matches(self, expected: dict) -> bool:
        return bool(self.rows) and all(self.at(lv) == expected[lv] for lv in Level)


def _settle(
    reader: SnapshotReader,
    expected: dict,
    worker: subprocess.Popen,
    tmp_path: Path,
    names: list[str],
    within_s: float = 120,
) -> None:
    """Read snapshots until they equal ``expected`` at every level (or ``within_s`` passed),
    then again after 3 s (nothing more may change them), and compare. A failure says which
    cells differ, whether the wait ran out, and what the workers ``names`` last reported."""
    deadline = time.monotonic() + within_s
    while not reader.matches(expected) and time.monotonic() < deadline:
        assert worker.poll() is None, "worker died"
        reader.poll()
    timed_out = time.monotonic() >= deadline
    time.sleep(3)
    reader.drain()
    for level in Level:
        got = reader.at(level)
        if got != expected[level]:
            pytest.fail(
                f"{level.value}: {_difference(got, expected[level])}; "
                f"{'the wait ran out' if timed_out else 'matched, then changed'}\n"
                + "\n".join(_worker_report(tmp_path, name) for name in names)
            )


def _assert_no_sequence_gaps(bootstrap: str, kafka: KafkaSettings) -> None:
    """The simulator loses no event, so a sequence gap means the worker lost some between the
    raw topics and its groups: on 30 Nov the 16 gaps of a failed join/leave run were exactly
    the 37 events of an ingest batch dropped at a rebalance (docs/streams.md)."""
    topic = shared_topic(kafka, "sequence_gaps")
    gaps = TopicReader(bootstrap, topic, attrgetter("dedupe_key")).drain()
    assert not gaps, sorted(gap.message for gap in gaps.values())[:5]


def _difference(got: dict, want: dict) -> str:
    """Cells missing, extra and wrong, with up to three of each."""
    missing = sorted(want.keys() - got.keys())
    extra = sorted(got.keys() - want.keys())
    wrong = sorted(k for k in want.keys() & got.keys() if want[k] != got[k])
    parts = [f"{len(want)} cells expected"]
    for label, keys in (("missing", missing), ("extra", extra)):
        parts.append(f"{len(keys)} {label} {keys[:3]}")
    changed = [
        (k, {n: (got[k][n], want[k][n]) for n in want[k] if got[k][n] != want[k][n]})
        for k in wrong[:3]
    ]
    parts.append(f"{len(wrong)} wrong (got, want) {changed}")
    return ", ".join(parts)


def _worker_report(tmp_path: Path, name: str) -> str:
    """A worker's last status (stats, groups flushed) and the end of its log."""
    status = tmp_path / f"status-{name}.json"
    stats = json.loads(status.read_text()) if status.exists() else "no status file"
    log = tmp_path / f"{name}.log"
    tail = log.read_text(errors="replace")[-1500:] if log.exists() else ""
    return f"--- {name}: {stats}\n{tail}"


def _agent_and_ticket_readers(bootstrap: str, kafka: KafkaSettings) -> tuple[TopicReader, ...]:
    """Readers of the agent-time topic (per level, region, minute) and the ticket-count topic
    (per level, region, minute, category)."""
    return (
        TopicReader(
            bootstrap,
            shared_topic(kafka, "agent_time"),
            lambda a: (a.level, a.region_code, a.bucket_start),
        ),
        TopicReader(
            bootstrap,
            shared_topic(kafka, "ticket_counts"),
            lambda t: (t.level, t.region_code, t.bucket_start, t.category),
        ),
    )


_COUNTERS = set(__import__("hotline.streams.counters", fromlist=["COUNTERS"]).COUNTERS)


def _start(
    kafka: KafkaSettings,
    app_id: str,
    tmp_path: Path,
    name: str,
    loglevel: str | None = None,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    options: Sequence[str] = (),
    settings: dict[str, str] | None = None,
) -> subprocess.Popen:
    """A replay worker (its log in ``name``.log) with the test's options, then ``options``;
    ``settings``: more environment variables."""
    env = {
        **os.environ,
        "HOTLINE_KAFKA__BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "HOTLINE_KAFKA__TOPIC_PREFIX": kafka.topic_prefix,
        "HOTLINE_STREAMS__SERVICE_LEVEL_MS": str(thresholds.service_level_ms),
        "HOTLINE_STREAMS__SHORT_ABANDON_MS": str(thresholds.short_abandon_ms),
        **(settings or {}),
    }
    args = [
        sys.executable,
        "-m",
        "hotline",
        "streams",
        "worker",
        "--app-id",
        app_id,
        "--replay",
        "--idle-flush",
        "4",
        "--partitions",
        str(PARTITIONS),
        "--datadir",
        str(tmp_path / f"data-{name}"),
        "--status-file",
        str(tmp_path / f"status-{name}.json"),
        "--loglevel",
        loglevel or os.environ.get("HOTLINE_TEST_WORKER_LOGLEVEL", "warning"),
    ]
    for p in PROVINCES:
        args += ["--province", p]
    args += options
    log = (tmp_path / f"{name}.log").open("wb")
    return subprocess.Popen(
        args, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


def _running(tmp_path: Path, name: str) -> bool:
    """Whether the worker's status file says it runs: its state recovered, its timer running
    (while it recovers, it writes phase ``recovering``)."""
    status = tmp_path / f"status-{name}.json"
    with contextlib.suppress(OSError, ValueError):  # not written yet
        return json.loads(status.read_text()).get("phase") == "running"
    return False


def _kill(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        _kill(proc)


def _run(
    bootstrap: str,
    unique: str,
    tmp_path: Path,
    kills: int,
    worker_first: bool = False,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> None:
    """Two hours of four centers sent, then the worker started (a backlog; killed ``kills``
    times mid-run); or with ``worker_first``, a day of two centers sent at full speed while
    the worker reads it. The worker is given ``thresholds`` in its environment."""
    kafka = _kafka(bootstrap, unique)
    app_id = f"{unique}-app"
    worker = None
    try:
        if worker_first:
            ensure_topics(bootstrap, topic_layout(kafka, PROVINCES))
            worker = _start(kafka, app_id, tmp_path, "w0", thresholds=thresholds)
            started = time.monotonic() + 60
            while not _running(tmp_path, "w0") and time.monotonic() < started:
                assert worker.poll() is None, (tmp_path / "w0.log").read_text()[-3000:]
                time.sleep(0.2)
        expected, agents_expected, tickets_expected, end = _simulate(
            kafka, tmp_path, config=A_DAY if worker_first else TWO_HOURS, thresholds=thresholds
        )
        reader = SnapshotReader(bootstrap, shared_topic(kafka, "metric_snapshots"))
        agents, tickets = _agent_and_ticket_readers(bootstrap, kafka)
        if worker is None:
            worker = _start(kafka, app_id, tmp_path, "w0", thresholds=thresholds)
        for k in range(kills):
            _wait_until_busy(tmp_path, f"w{k}", worker, reader)
            assert not reader.matches(expected), "finished before the kill: not mid-run"
            _kill(worker)
            worker = _start(
                kafka, app_id, tmp_path, f"w{k + 1}", loglevel="info", thresholds=thresholds
            )
        _settle(reader, expected, worker, tmp_path, [f"w{k}" for k in range(kills + 1)])
        _assert_no_sequence_gaps(bootstrap, kafka)
        assert (
            agents.wait_for(agents_expected, lambda r: snapshots_before(r, end)) == agents_expected
        )
        assert tickets.wait_for(tickets_expected, snapshots_in) == tickets_expected
        ingest = group_status(bootstrap, [f"{app_id}-ingest"], 0.0)  # ingest's own group
        assert ingest and all(row.lag == 0 for row in ingest), ingest
        changelog = topic_configs(bootstrap, f"{app_id}-state-changelog")
        assert changelog["cleanup.policy"] == "compact"  # segments close: docs "Restart"
        assert {k: changelog.get(k) for k in CHANGELOG_CONFIGS} == CHANGELOG_CONFIGS
        worker.send_signal(signal.SIGTERM)  # graceful: the reader leaves its group, exit 0
        assert worker.wait(timeout=30) == 0, (tmp_path / f"w{kills}.log").read_text()[-3000:]
        if kills:  # the last restart read its changelog in bulk and said so (docs/streams.md)
            text = (tmp_path / f"w{kills}.log").read_text()
            assert re.search(r"changelog read in bulk: [1-9]\d* messages", text), text[-3000:]
            assert re.search(r"state restored: [1-9][\d,]* keys", text), text[-3000:]
    finally:
        if worker is not None:
            _stop(worker)


def test_worker_snapshots_equal_the_ledger(bootstrap: str, unique: str, tmp_path: Path) -> None:
    _run(bootstrap, unique, tmp_path, kills=0)


#: Thresholds other than DOMAIN.md's defaults: set in the worker's environment, they must
#: change its counts the way they change the ledger's.
OTHER_THRESHOLDS = Thresholds(service_level_ms=12_000, short_abandon_ms=15_000)


def test_thresholds_set_in_the_environment_are_the_workers(
    bootstrap: str, unique: str, tmp_path: Path
) -> None:
    ledger = Ledger(TWO_HOURS.end, thresholds=OTHER_THRESHOLDS)
    simulate(TWO_HOURS, MemorySink(), ledger)
    default = Ledger(TWO_HOURS.end)
    simulate(TWO_HOURS, MemorySink(), default)
    for name in ("answered_in_sl", "short_abandoned"):  # else the test could not fail
        total = sum(row[name] for row in ledger.call_rows().values())
        assert total != sum(row[name] for row in default.call_rows().values()), name
    _run(bootstrap, unique, tmp_path, kills=0, thresholds=OTHER_THRESHOLDS)


def test_history_sent_while_the_worker_reads_it_equals_the_ledger(
    bootstrap: str, unique: str, tmp_path: Path
) -> None:
    """A day sent at full speed (~4 simulated hours a second) while the worker reads it: a
    partition read to its end a moment before its producer wrote more still holds the
    watermark (docs/streams.md, "Watermarks"); before, ~6 % of the call events were late."""
    _run(bootstrap, unique, tmp_path, kills=0, worker_first=True)


def test_history_sent_while_the_worker_reads_it_killed_twice_still_equals_the_ledger(
    bootstrap: str, unique: str, tmp_path: Path
) -> None:
    """The same, with the worker killed (SIGKILL) twice mid-run: each source partition's
    progress (read to its end or not) comes back from the table with its event time."""
    _run(bootstrap, unique, tmp_path, kills=2, worker_first=True)


def test_worker_killed_twice_still_equals_the_ledger(
    bootstrap: str, unique: str, tmp_path: Path
) -> None:
    _run(bootstrap, unique, tmp_path, kills=2)


def _dangerous_ticket() -> TicketCreated:
    at = DEFAULT_START + timedelta(hours=10)
    envelope = Envelope(
        event_id=str(uuid.uuid4()),
        event_type="ticket.created",
        occurred_at=at,
        center_id="C330200",
        region_code="330203",
        producer_id="test-injector",
        sequence=1,
    )
    return TicketCreated(
        envelope=envelope,
        ticket_id="T-DANGER-1",
        category=TicketCategory.DANGEROUS_CALL,
        business_line=BusinessLine.PENSION,
        due_at=at + timedelta(hours=2),
    )


def _wait_until_busy(
    tmp_path: Path, name: str, worker: subprocess.Popen, reader: SnapshotReader
) -> None:
    """Until the worker made :data:`KILL_AFTER` new snapshots, or :data:`KILL_WITHIN` seconds
    passed since its first status file of phase ``running``. A count of all snapshot messages
    was a poor clock: a restarted worker re-sends thousands, and one that recovered fast had
    sometimes finished before the count was reached."""
    deadline, first_status = time.monotonic() + 60, None
    start = reader.updates
    while time.monotonic() < deadline:
        assert worker.poll() is None, (tmp_path / f"{name}.log").read_text()[-3000:]
        reader.poll()
        if reader.updates >= start + KILL_AFTER:
            return
        if first_status is None and _running(tmp_path, name):
            first_status = time.monotonic()
        if first_status is not None and time.monotonic() - first_status >= KILL_WITHIN:
            return


def _rebalances(tmp_path: Path, name: str) -> int:
    """Rebalances a worker has completed, from its status file (0 before the first)."""
    status = tmp_path / f"status-{name}.json"
    if not status.exists():
        return 0
    return int(json.loads(status.read_text())["stats"].get("rebalances", 0))


def _after_rebalance(tmp_path: Path, name: str, within_s: float = 30) -> Status:
    """A worker's status file once its latest rebalance has ended (or ``within_s`` passed)."""
    deadline = time.monotonic() + within_s
    while True:
        status = read_status(tmp_path / f"status-{name}.json", max_age_s=60)
        rebalance = status.body["last_rebalance"]
        if (rebalance and rebalance["paused_s"] is not None) or time.monotonic() > deadline:
            return status
        time.sleep(0.2)


def test_worker_joins_and_leaves_still_equals_the_ledger_and_alerts(
    bootstrap: str, unique: str, tmp_path: Path
) -> None:
    kafka = _kafka(bootstrap, unique)
    held: list[Event] = []  # the second hour: sent once the second worker has joined
    expected, agents_expected, tickets_expected, end = _simulate(
        kafka, tmp_path, {"C660000": Profile.UNSTAFFED_LINE}, (_dangerous_ticket(),), held=held
    )
    reader = SnapshotReader(bootstrap, shared_topic(kafka, "metric_snapshots"))
    agents, tickets = _agent_and_ticket_readers(bootstrap, kafka)
    app_id = f"{unique}-app"
    first = _start(kafka, app_id, tmp_path, "w0")
    second = None
    try:
        deadline = time.monotonic() + 60
        while reader.messages < 2000 and time.monotonic() < deadline:
            assert first.poll() is None, (tmp_path / "w0.log").read_text()[-3000:]
            reader.poll()
        joining = time.time()
        second = _start(kafka, app_id, tmp_path, "w1")  # joins: partitions move to it
        joined = time.monotonic() + 120  # a loaded machine may take long to start it
        trickle, sent, next_at = _sink(kafka, tmp_path, "sim-test"), 0, 0.0
        while _rebalances(tmp_path, "w0") < 2 and time.monotonic() < joined:
            assert second.poll() is None, (tmp_path / "w1.log").read_text()[-3000:]
            if time.monotonic() >= next_at and sent < len(held) - _TRICKLE:
                for event in held[sent : sent + _TRICKLE]:
                    trickle.emit(event)
                trickle.flush()
                sent, next_at = sent + _TRICKLE, time.monotonic() + 0.5
            reader.poll()
        assert _rebalances(tmp_path, "w0") >= 2, "the second worker never joined"
        # the first worker's status file keeps the rebalance (it may have lasted 7 ms: the
        # phase is gone by now, test_a_rebalance_stays_in_the_status_file_after_its_phase)
        status = _after_rebalance(tmp_path, "w0")
        rebalance = status.body["last_rebalance"]
        assert rebalance and rebalance["paused_s"] is not None, status.body  # ended in 30 s
        assert joining <= rebalance["at"] <= time.time(), rebalance
        assert 0 <= rebalance["paused_s"] <= time.time() - joining, rebalance
        assert any(line.startswith("  last rebalance ") for line in describe(status))
        for event in held[sent:]:  # the rest, at once: the workers share it
            trickle.emit(event)
        trickle.close()
        assert trickle.sent == len(held) and not trickle.spooled
        while reader.messages < 6000 and time.monotonic() < deadline + 30:
            assert second.poll() is None, (tmp_path / "w1.log").read_text()[-3000:]
            reader.poll()
        assert not reader.matches(expected), "finished before the second worker left"
        _stop(second)  # leaves: its partitions move back
        _settle(reader, expected, first, tmp_path, ["w0", "w1"])
        _assert_no_sequence_gaps(bootstrap, kafka)
        assert (
            agents.wait_for(agents_expected, lambda r: snapshots_before(r, end)) == agents_expected
        )
        assert tickets.wait_for(tickets_expected, snapshots_in) == tickets_expected
        alerts = TopicReader(
            bootstrap, shared_topic(kafka, "alerts"), attrgetter("alert_id")
        ).drain()
        unreachable = [a for a in alerts.values() if a.kind is AlertKind.CENTER_UNREACHABLE]
        assert {a.center_id for a in unreachable} == {"C660000"}
        # its input ends with the line still unstaffed: the last episode stays open and says
        # since when no call was seen (the end of the minute of its last call)
        *done, last = sorted(unreachable, key=attrgetter("opened_at"))
        assert all(a.closed_at is not None for a in done) and last.closed_at is None, last
        offered = max(
            e.envelope.occurred_at
            for e in held
            if e.envelope.center_id == "C660000" and e.RECORD_TYPE == "call.offered"
        )
        since = china_minute(offered.replace(second=0, microsecond=0) + timedelta(minutes=1))
        assert last.message == (
            f"center C660000: unreachable, then no calls seen since {since} (China time)"
        )
        # the simulator raises dangerous-call tickets of its own: the injected one is among them
        danger = {
            a.dedupe_key: a.severity for a in alerts.values() if a.kind is AlertKind.DANGEROUS_CALL
        }
        assert danger.get("dangerous_call|T-DANGER-1") is Severity.CRITICAL, danger
        assert set(danger.values()) == {Severity.CRITICAL}, danger
        tickets = TopicReader(
            bootstrap, shared_topic(kafka, "ticket_records"), attrgetter("ticket_id")
        )
        assert "T-DANGER-1" in tickets.drain()
        assert _rebalances(tmp_path, "w0") >= 3  # start, join, leave
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                _stop(proc)


def test_the_worker_creates_its_group_topic_before_faust_starts(
    bootstrap: str, unique: str
) -> None:
    """``hotline streams worker`` calls this before Faust starts: the group topic exists with
    the worker's partitions (Faust, creating it just before its consumer subscribed, once left
    it unassigned: docs/streams.md, "the group topic left unassigned"); again, nothing
    changes."""
    config = WorkerConfig(
        app_id=f"{unique}-app",
        kafka=KafkaSettings(bootstrap_servers=bootstrap, topic_prefix=unique),
        partitions=4,
    )
    name = groups_topic(config).name
    assert name == f"{unique}-app-groups"
    for _ in range(2):
        ensure_groups_topic(config)
        consumer = KafkaConsumer(bootstrap_servers=bootstrap)
        try:
            assert consumer.partitions_for_topic(name) == {0, 1, 2, 3}
        finally:
            consumer.close()


def _dead_letters(
    bootstrap: str, kafka: KafkaSettings, count: int, within_s: float = 90
) -> list[Any]:
    """The dead-letter topic read from the start until it holds ``count`` records (or
    ``within_s`` passed), decoded."""
    reader = TopicReader(bootstrap, shared_topic(kafka, "dead_letters"), lambda d: d)
    found: list[Any] = []
    deadline = time.monotonic() + within_s
    while len(found) < count and time.monotonic() < deadline:
        for records in reader.consumer.poll(timeout_ms=500).values():
            found += [reader.codec.decode_model(r.value) for r in records]
    reader.consumer.close()
    return found


def _stats(tmp_path: Path, name: str, key: str, want: int) -> int:
    """A worker's status-file stat ``key`` once it reached ``want`` (or 30 s passed)."""
    deadline, got = time.monotonic() + 30, 0
    while got < want and time.monotonic() < deadline:
        status = tmp_path / f"status-{name}.json"
        if status.exists():
            with contextlib.suppress(ValueError):  # written as we read
                got = json.loads(status.read_text())["stats"].get(key, 0)
        time.sleep(0.2)
    return got


def test_the_worker_dead_letters_id_collisions_and_ends_before_creation(
    bootstrap: str, unique: str, tmp_path: Path
) -> None:
    """Through the broker: two centers of Zhejiang both send call ``1740961800.123`` and
    ticket ``T0001``, and a ticket's resolution occurred before its creation. The second
    center's events and the early resolution are dead-lettered (``invalid``, with their raw
    source message and error type), counted in the worker's status, and the first center's
    call and ticket are its own. Restarted, the worker reads the ticket back from its
    changelog and still knows its center."""
    kafka = _kafka(bootstrap, unique)
    ensure_topics(bootstrap, topic_layout(kafka, PROVINCES))
    ningbo = [*_call(NINGBO, CTI_ID, T0, "C330200.A001"), *_ticket(NINGBO, "T0001", T0)[:2]]
    hangzhou = [*_call(HANGZHOU, CTI_ID, T0, "C330100.A007"), *_ticket(HANGZHOU, "T0001", T0)]
    early = [
        created("T2", TicketCategory.COMPLAINT, T0, T0 + timedelta(days=2)),
        resolved("T2", T0 - timedelta(minutes=3)),
    ]
    _send(kafka, tmp_path, [*ningbo, *hangzhou, *early], "test-injector")
    app_id = f"{unique}-app"
    worker = _start(kafka, app_id, tmp_path, "w0")
    try:
        dead = _dead_letters(bootstrap, kafka, len(hangzhou) + 1)
        assert sorted((d.error_type, d.reason.value) for d in dead) == sorted(
            [("IdCollision", "invalid")] * len(hangzhou) + [("EndBeforeCreated", "invalid")]
        )
        assert all(".raw.330000." in d.source_topic and d.source_offset >= 0 for d in dead)
        codec = default_codec()
        assert {codec.decode_model(d.original) for d in dead} == {*hangzhou, early[1]}
        assert _stats(tmp_path, "w0", "id_collision", len(hangzhou)) == len(hangzhou)
        assert _stats(tmp_path, "w0", "end_before_created", 1) == 1
        calls = TopicReader(bootstrap, shared_topic(kafka, "call_records"), attrgetter("call_id"))
        tickets = TopicReader(
            bootstrap, shared_topic(kafka, "ticket_records"), attrgetter("ticket_id")
        )
        centers = calls.wait_for(
            {CTI_ID: "C330200"}, lambda rs: {r.call_id: r.center_id for r in rs}
        )
        assert centers == {CTI_ID: "C330200"}
        held = tickets.wait_for({"T0001", "T2"}, lambda rows: {r.ticket_id for r in rows})
        assert held == {"T0001", "T2"}
        assert tickets.rows["T0001"].center_id == "C330200"
        assert tickets.rows["T2"].resolved_at is None
        _stop(worker)
        worker = _start(kafka, app_id, tmp_path, "w1")
        again = _as(HANGZHOU, hangzhou[-1])  # a new event of the other center's T0001
        _send(kafka, tmp_path, [again], "test-injector-2")
        assert _stats(tmp_path, "w1", "id_collision", 1) == 1
        dead = _dead_letters(bootstrap, kafka, len(hangzhou) + 3, within_s=5)
        assert len(dead) == len(hangzhou) + 2  # no earlier one dead-lettered again
        [new] = [d for d in dead if codec.decode_model(d.original) == again]
        assert (new.error_type, new.reason.value) == ("IdCollision", "invalid")
    finally:
        _stop(worker)


def _health(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hotline", "health", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )


def test_health_reads_the_status_file_of_a_running_worker_and_fails_once_it_stopped(
    bootstrap: str, unique: str, tmp_path: Path
) -> None:
    """``hotline health`` on a real worker's ``--status-file``: while it runs, exit 0 with its
    counters (a call's events in, a dead letter), its group's watermark — once the
    partitions without input (surveys, agents, qa) no longer hold it (``--source-idle``) —
    and in the file the center's latest event; once it stopped, the file ages past
    ``--max-age``: exit 1, one line "hung or dead"; a file no worker writes: exit 1, "no
    status file"."""
    kafka = _kafka(bootstrap, unique)
    ensure_topics(bootstrap, topic_layout(kafka, PROVINCES))
    call = _call(NINGBO, CTI_ID, T0, "C330200.A001")
    early = [
        created("T2", TicketCategory.COMPLAINT, T0, T0 + timedelta(days=2)),
        resolved("T2", T0 - timedelta(minutes=3)),
    ]
    _send(kafka, tmp_path, [*call, *early], "test-injector")
    worker = _start(kafka, f"{unique}-app", tmp_path, "w0", options=["--source-idle", "2"])
    status = tmp_path / "status-w0.json"
    try:
        assert _stats(tmp_path, "w0", "raw_in", len(call) + 2) == len(call) + 2
        assert _stats(tmp_path, "w0", "dead_invalid", 1) == 1
        deadline = time.monotonic() + 30
        while True:
            alive = _health(str(status), "--max-age", "30")
            assert alive.returncode == 0, alive.stderr + _worker_report(tmp_path, "w0")
            if "\n  group 330000: watermark 20" in alive.stdout or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert alive.stdout.startswith(f"{status}: streams worker (pid {worker.pid}), written ")
        assert f"raw in {len(call) + 2}, " in alive.stdout
        assert "dead letters 1 (invalid 1)" in alive.stdout
        assert "\n  group 330000: watermark 20" in alive.stdout, alive.stdout
        centers = json.loads(status.read_text())["groups"]["330000"]["centers"]
        assert centers == {"C330200": (T0 + timedelta(seconds=200)).isoformat()}  # call.ended
    finally:
        _stop(worker)
    written = json.loads(status.read_text())["at"]
    while time.time() - written <= 2:  # no worker writes it any more
        time.sleep(0.2)
    dead = _health(str(status), "--max-age", "1")
    assert dead.returncode == 1 and dead.stdout == ""
    assert dead.stderr.startswith(f"error: {status}: written "), dead.stderr
    assert dead.stderr.endswith(f"streams worker (pid {worker.pid}) is hung or dead\n")
    missing = _health(str(tmp_path / "status-w1.json"))
    assert missing.returncode == 1
    assert missing.stderr.startswith(f"error: {tmp_path / 'status-w1.json'}: no status file")


class StatusWatch:
    """Every version of a status file, as ``hotline health`` reads it, read in a thread every
    20 ms until :meth:`stop`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.seen: list[Status] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.wait(0.02):
            with contextlib.suppress(StatusFileError):  # not written yet
                status = read_status(self.path, max_age_s=60)
                if not self.seen or status.body["at"] != self.seen[-1].body["at"]:
                    self.seen.append(status)

    def phases(self) -> list[str]:
        return [s.body.get("phase", "none") for s in self.seen]

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def test_a_restarted_worker_says_in_its_status_file_how_far_its_recovery_is(
    bootstrap: str, unique: str, tmp_path: Path
) -> None:
    """A worker restarted on the changelog of two hours of four centers (tens of thousands of
    messages): while it restores its state, before its timer runs, its status file is written
    with phase ``recovering`` and the changelog messages left of the total, which ``hotline
    health`` shows (alive); then phase ``running`` with its groups. Before, it wrote nothing
    until its state was back: a long recovery looked like a dead worker. Before it joins the
    group, from its start, it writes phase ``starting``."""
    kafka = _kafka(bootstrap, unique)
    expected, *_ = _simulate(kafka, tmp_path)
    reader = SnapshotReader(bootstrap, shared_topic(kafka, "metric_snapshots"))
    app_id = f"{unique}-app"
    worker = _start(kafka, app_id, tmp_path, "w0")
    try:
        _settle(reader, expected, worker, tmp_path, ["w0"])
    finally:
        _stop(worker)
    watch = StatusWatch(tmp_path / "status-w1.json")
    worker = _start(kafka, app_id, tmp_path, "w1", loglevel="info")
    try:
        deadline = time.monotonic() + 120
        while "running" not in watch.phases() and time.monotonic() < deadline:
            assert worker.poll() is None, (tmp_path / "w1.log").read_text()[-3000:]
            time.sleep(0.1)
    finally:
        watch.stop()
        _stop(worker)
    phases = watch.phases()
    report = f"{phases}\n" + _worker_report(tmp_path, "w1")
    assert phases[0] == "starting" and "recovering" in phases, report
    starting = phases.index("recovering")
    assert set(phases[:starting]) == {"starting"}, report  # written before it joined the group
    assert describe(watch.seen[0])[1] == (
        "  starting: joining its consumer group, no partitions assigned yet"
    )
    recovering = phases[starting : phases.index("running")]
    assert set(recovering) == {"recovering"}, report  # then running: no other phase between
    text = (tmp_path / "w1.log").read_text()
    bulk = re.search(r"changelog read in bulk: (\d+) messages", text)
    assert bulk and int(bulk[1]) > 10_000, report  # what it recovered: a non-trivial changelog
    seen = watch.seen[starting : starting + len(recovering)]
    progress = [s.body["recovery"] for s in seen]
    assert all(0 <= p["remaining"] <= p["total"] for p in progress), progress
    shown = [describe(s)[1] for s in seen]  # as `hotline health`
    assert all(line.startswith("  recovering its state from the changelog") for line in shown)
    running = watch.seen[starting + len(recovering)].body
    assert "recovery" not in running and running["state_keys"] > 0, running


def test_the_worker_keeps_its_data_dir_under_the_stack_home(
    bootstrap: str, unique: str, tmp_path: Path
) -> None:
    """Without --datadir: <stack home>/streams, made with its parents (before, .hotline/streams
    under the current folder whatever HOTLINE_STACK__HOME said, and a FileNotFoundError
    traceback from Faust where that folder had no .hotline)."""
    ensure_topics(bootstrap, topic_layout(_kafka(bootstrap, unique), ["330000"]))
    home = tmp_path / "not-made-yet" / "home"
    status = tmp_path / "status.json"
    env = {
        **os.environ,
        "HOTLINE_KAFKA__BOOTSTRAP_SERVERS": bootstrap,
        "HOTLINE_KAFKA__TOPIC_PREFIX": unique,
        "HOTLINE_STACK__HOME": str(home),
    }
    args = [sys.executable, "-m", "hotline", "streams", "worker", "--app-id", f"{unique}-app"]
    args += ["--province", "330000", "--status-file", str(status), "--loglevel", "warning"]
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    with (tmp_path / "worker.log").open("wb") as log:
        proc = subprocess.Popen(
            args, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 90
        while not status.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert status.exists(), (tmp_path / "worker.log").read_text()
        assert (home / "streams").is_dir() and not (cwd / ".hotline").exists()
    finally:
        _stop(proc)
    assert proc.returncode == 0, (tmp_path / "worker.log").read_text()


def test_a_worker_without_its_raw_topics_says_which_and_exits_at_once(
    bootstrap: str, unique: str, tmp_path: Path
) -> None:
    """A stack not provisioned, or another topic prefix than the producers': exit 1 before
    Faust starts, naming the missing topics and what to do. Until 2 Dec the raw reader's
    consumer waited for them, logging an error ten times a second, then failed after 40 s;
    a SIGTERM in that wait once hung the worker until it was killed (a CI run of 2 Dec)."""
    ensure_topics(bootstrap, topic_layout(_kafka(bootstrap, unique), ["330000"]))
    env = {
        **os.environ,
        "HOTLINE_KAFKA__BOOTSTRAP_SERVERS": bootstrap,
        "HOTLINE_KAFKA__TOPIC_PREFIX": unique,
        "HOTLINE_STACK__HOME": str(tmp_path / "home"),
    }
    args = [sys.executable, "-m", "hotline", "streams", "worker", "--app-id", f"{unique}-app"]
    args += ["--province", "330000", "--province", "320000"]
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stderr
    assert done.stderr.splitlines()[-1] == (
        f"error: 5 of the 10 raw topics this worker reads are missing on Kafka at {bootstrap}: "
        f"{unique}.raw.320000.agents, {unique}.raw.320000.calls, {unique}.raw.320000.qa and 2 "
        "more; create them with `hotline stack init`, or set HOTLINE_KAFKA__TOPIC_PREFIX to the "
        f"producers' prefix (it is '{unique}')"
    )
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:  # nothing made for a worker that never started
        assert f"{unique}-app-groups" not in admin.list_topics()
    finally:
        admin.close()
