"""Stream processing: throughput of the Faust worker against a Quix Streams peer on the same
events, and the worker's freshness (event time → snapshot in Kafka) in live mode.

    .venv/bin/python bench/streams_bench.py [--events 60000] [--rounds 1]
        [--fresh-seconds 60] [--rate 2000] [--skip-quix] [--skip-fresh] [--skip-throughput]
        [--partitions 3] [--idle-flush 5] [--workers 1] [--verbose] [--floor]

Starts its own embedded broker on free ports in a temporary home (jars from
``.hotline/kafka/lib-<version>``) and stops it at the end.

1. **Throughput.** N simulated events (4 centers in 4 provinces, from 08:00 local) go into the
   raw topics of a fresh prefix. Per round, side by side on the same events:

   a. ``hotline streams worker --replay`` (subprocess, fresh app id). Start-up = spawn → the
      first message on its group topic; processing = that message → the last snapshot before
      the first idle flush (the worker's status file has the flush times; replay mode flushes
      only once all input is processed; the snapshots topic uses LogAppendTime: broker
      append time). Events/s
      = N / processing. Cross-check: every snapshot key and counter equals the pure
      :class:`~hotline.streams.pipeline.Pipeline` on the same events (all levels).
   b. Quix Streams 3.28 (subprocess, fresh consumer group): one StreamingDataFrame per raw *calls*
      topic, concatenated; decode with ``hotline.schemas.default_codec``; keep call events;
      ``group_by`` county × minute × business line × channel (the event's *own* fields: no
      call assembly, no repeat_7d, no roll-ups, no versions) and a stateful count, one output
      message per call event. **A much simpler aggregation than the worker's.** Same timing
      rules (first output → last output); counts are checked against an in-process count.
      Its rate is of call events (all it keeps); the ratio faust / quix is of call events/s
      each: the same ``call.*`` events over each one's processing time (the worker handles
      every other event too in its time), i.e. the peer's processing time over the worker's.

   c. With ``--floor``: bare Faust (subprocess, same Faust version and consumer settings as the
      worker): one agent over all raw topics with the worker's ingest batching
      (``take_events(2000, 0.1 s)``) that does nothing but send one message per batch with its
      size. The ceiling of any Faust worker that reads every raw message on this box. Same
      timing rules (first output → last output).

   All three processes tune Python's garbage collector as the worker does
   (:mod:`hotline.streams.gc_tuning`), so the ratios compare the code, not the GC setting.

2. **Freshness.** The worker in live mode (default ``--wall-clock-skew``) on another fresh
   prefix while this script sends simulated call and survey events at ``--rate`` events/s
   with ``occurred_at`` rewritten to the wall clock at send time (order kept, so a call takes
   milliseconds instead of minutes). Latency of a call = append time of the first county
   snapshot of its bucket whose ``offered`` count includes it − its ``call.ended`` time
   (a call is counted at its end; a survey after it is a later version).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import logging
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

from embedded_broker import embedded_broker
from kafka import KafkaConsumer, TopicPartition

from hotline.infra.topics import (
    RAW_FAMILIES,
    TopicSpec,
    ensure_topics,
    raw_topic,
    shared_topic,
    topic_layout,
)
from hotline.producers.base import DeliveryConfig
from hotline.producers.delivery import KafkaEventSink
from hotline.producers.simulator import MemorySink, SimConfig, simulate
from hotline.producers.simulator.runner import DEFAULT_START
from hotline.regions import default_registry
from hotline.schemas import Event, default_codec
from hotline.settings import KafkaSettings
from hotline.streams.calls import CALL_EVENT_TYPES
from hotline.streams.counters import COUNTERS, counts_from
from hotline.streams.gc_tuning import collect_less_often
from hotline.streams.pipeline import Pipeline, SnapshotStore

ROOT = Path(__file__).resolve().parent.parent
CENTERS = ["C330200", "C320100", "C460000", "C660000"]
FRESH_CENTERS = [*CENTERS, "C110000", "C310000"]
WORKER_LOGLEVEL = os.environ.get("HOTLINE_BENCH_WORKER_LOGLEVEL", "warning")
"""The workers' ``--loglevel``; with ``HOTLINE_BENCH_LOGS`` (a folder) their logs are kept."""


def load() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


# -- events -----------------------------------------------------------------------------------


def make_events(count: int, centers: list[str], seed: int) -> list[Event]:
    """The first ``count`` events of one simulation long enough (from 08:00 local)."""
    hours = 4
    while True:
        sink = MemorySink()
        config = SimConfig(
            seed=seed,
            centers=centers,
            start=DEFAULT_START + timedelta(hours=8),  # 08:00 China time
            duration=timedelta(hours=hours),
        )
        simulate(config, sink)
        if len(sink.events) >= count or hours >= 48:
            return sink.events[:count]
        hours = int(hours * count / max(len(sink.events), 1)) + 1


def provinces_of(events: list[Event]) -> list[str]:
    registry = default_registry()
    regions = {e.envelope.region_code for e in events}
    return sorted({registry.province_of(r).code for r in regions})


def provision(kafka: KafkaSettings, provinces: list[str]) -> None:
    """The topic layout; the snapshots topic stamped with the broker's append time."""
    snapshots = shared_topic(kafka, "metric_snapshots")
    specs = [
        TopicSpec(s.name, s.partitions, {**s.configs, "message.timestamp.type": "LogAppendTime"})
        if s.name == snapshots
        else s
        for s in topic_layout(kafka, provinces)
    ]
    ensure_topics(kafka.bootstrap_servers, specs)


def delivery(kafka: KafkaSettings, home: Path) -> DeliveryConfig:
    return DeliveryConfig(
        bootstrap_servers=kafka.bootstrap_servers,
        topic_prefix=kafka.topic_prefix,
        spool_root=home / "spool",
    )


def produce(events: list[Event], kafka: KafkaSettings, home: Path) -> None:
    sink = KafkaEventSink(delivery(kafka, home), "bench-streams")
    for event in events:
        sink.emit(event)
    sink.close()
    assert sink.sent == len(events) and not sink.spooled, (sink.sent, sink.spooled)


def pipeline_snapshots(events: list[Event]) -> dict[tuple, tuple]:
    """Pure pipeline on the same events: key → counters of the highest version (all levels)."""
    pipeline, store = Pipeline(), SnapshotStore()
    calls = [e for e in events if e.RECORD_TYPE in CALL_EVENT_TYPES]
    for i in range(0, len(calls), 500):
        store.write(pipeline.process(calls[i : i + 500]).snapshots)
    store.write(pipeline.close().snapshots)
    return {
        (s.level.value, s.region_code, s.bucket_start, s.business_line, s.channel): s.counts
        for s in store.rows.values()
    }


# -- reading topics back ----------------------------------------------------------------------


class TopicReader:
    """Reads a topic from the start (all partitions), or from its end as of now (``new``:
    what later rounds write); yields (timestamp ms, key, value)."""

    def __init__(self, bootstrap: str, topic: str, new: bool = False) -> None:
        self.consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        parts = self.consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in parts]
        self.consumer.assign(tps)
        if new:
            self.consumer.seek_to_end()
            for tp in tps:
                self.consumer.position(tp)  # resolved now, before the worker writes
        else:
            self.consumer.seek_to_beginning()

    def poll(self, timeout_ms: int = 200) -> list:
        out = []
        for records in self.consumer.poll(timeout_ms=timeout_ms, max_records=50_000).values():
            out.extend((r.timestamp, r.key, r.value) for r in records)
        return out

    def drain(self) -> list:
        out = []
        while batch := self.poll(1000):
            out.extend(batch)
        return out

    def close(self) -> None:
        self.consumer.close()


def first_timestamp(bootstrap: str, topic: str) -> float | None:
    """The smallest message timestamp of a topic (seconds), None if empty."""
    reader = TopicReader(bootstrap, topic)
    try:
        stamps = [ts for ts, _, _ in reader.drain()]
    finally:
        reader.close()
    return min(stamps) / 1000 if stamps else None


def snapshot_key(snap) -> tuple:
    return (
        snap.level.value,
        snap.region_code,
        snap.bucket_start,
        snap.business_line.value,
        snap.channel.value,
    )


def snapshot_counts(snap) -> tuple:
    return counts_from({n: getattr(snap, n) for n in COUNTERS})


# -- the Faust worker -------------------------------------------------------------------------


def start_worker(
    kafka: KafkaSettings,
    app_id: str,
    home: Path,
    provinces: list[str],
    idle_flush: float | None,
    loglevel: str = "warning",
    name: str | None = None,
) -> subprocess.Popen:
    """``hotline streams worker``: replay mode with ``idle_flush`` seconds, else live mode;
    its data dir, status file and log named after ``name`` (default: the app id)."""
    name = name or app_id
    env = {
        **os.environ,
        "HOTLINE_KAFKA__BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "HOTLINE_KAFKA__TOPIC_PREFIX": kafka.topic_prefix,
        "HOTLINE_KAFKA__RAW_PARTITIONS": str(kafka.raw_partitions),
        "HOTLINE_KAFKA__SHARED_PARTITIONS": str(kafka.shared_partitions),
    }
    args = [sys.executable, "-m", "hotline", "streams", "worker", "--app-id", app_id]
    args += ["--partitions", str(kafka.raw_partitions), "--datadir", str(home / f"data-{name}")]
    args += ["--status-file", str(home / f"status-{name}.json"), "--loglevel", loglevel]
    if idle_flush is not None:
        args += ["--replay", "--idle-flush", str(idle_flush)]
    for p in provinces:
        args += ["--province", p]
    log = (home / f"{name}.log").open("wb")
    return subprocess.Popen(
        args, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


def keep_log(path: Path) -> None:
    """Copy a worker's log to ``$HOTLINE_BENCH_LOGS`` when set (the home is temporary)."""
    if target := os.environ.get("HOTLINE_BENCH_LOGS"):
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(target) / path.name)


def stop(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def read_status(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _summed_stats(home: Path, names: list[str]) -> dict[str, int]:
    """The workers' status-file counters, summed (one worker: its own)."""
    total: Counter[str] = Counter()
    for name in names:
        for key, value in read_status(home / f"status-{name}.json").get("stats", {}).items():
            if isinstance(value, int | float):
                total[key] += value
    return dict(total)


def faust_throughput(
    kafka: KafkaSettings,
    home: Path,
    provinces: list[str],
    n: int,
    expected: dict,
    tag: str,
    idle_flush: float,
    workers: int = 1,
) -> dict:
    """One replay by ``workers`` worker processes of one app (they share its partitions).
    The end is the last snapshot before the first idle flush of any worker: with several,
    that holds while they finish within ``idle_flush`` of each other (a larger
    ``--idle-flush`` makes sure)."""
    codec = default_codec()
    app_id = f"{kafka.topic_prefix}-faust-{tag}"
    reader = TopicReader(kafka.bootstrap_servers, shared_topic(kafka, "metric_snapshots"), new=True)
    rows: dict[tuple, tuple] = {}  # key -> (version, counts)
    stamps: list[int] = []
    names = [app_id] if workers == 1 else [f"{app_id}-w{i}" for i in range(workers)]
    spawned = time.time()
    procs = [
        start_worker(kafka, app_id, home, provinces, idle_flush, WORKER_LOGLEVEL, name)
        for name in names
    ]
    quiet_since = time.monotonic()
    flushed_at = 0.0
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            for proc, name in zip(procs, names, strict=True):
                if proc.poll() is not None:
                    raise RuntimeError((home / f"{name}.log").read_text()[-3000:])
            batch = reader.poll()
            if batch:
                quiet_since = time.monotonic()
            for ts, _, value in batch:
                stamps.append(ts)
                snap = codec.decode_model(value)
                key = snapshot_key(snap)
                if key not in rows or snap.version > rows[key][0]:
                    rows[key] = (snap.version, snapshot_counts(snap))
            stats = _summed_stats(home, names)
            if stats.get("raw_in", 0) < n or stats.get("idle_flushes", 0) < len(provinces):
                continue
            # the last idle flush comes after a quiet spell: its snapshots (and the national
            # ones they feed) are still to be read then
            flushed_at = flushed_at or time.monotonic()
            if time.monotonic() - max(quiet_since, flushed_at) > 2:
                break
        else:
            raise RuntimeError("worker did not finish in 600 s")
    finally:
        for proc, name in zip(procs, names, strict=True):
            stop(proc)
            keep_log(home / f"{name}.log")
        reader.close()
    first = first_timestamp(kafka.bootstrap_servers, f"{app_id}-groups")
    assert first is not None
    stamps.sort()
    flushes = [
        g["flushed_at"]
        for name in names
        for g in read_status(home / f"status-{name}.json").get("groups", {}).values()
        if g.get("flushed_at")
    ]
    # replay mode flushes a group only once all input is processed: what came before the first
    # flush is the processing's output (until 29 Nov the end was taken at the first quiet gap
    # of 3 s, and a gap of 2.99 s before a flush counted the flush as processing time)
    before_flush = [t for t in stamps if t <= min(flushes) * 1000] if flushes else stamps
    if not before_flush:
        raise SystemExit(
            f"no snapshot came before the worker's first idle flush: {n:,} events are too "
            "few to time (try --events 6000 or more)"
        )
    end = max(before_flush)
    dead: Counter[str] = Counter()
    reader = TopicReader(kafka.bootstrap_servers, shared_topic(kafka, "dead_letters"))
    for _, _, value in reader.drain():
        letter = codec.decode_model(value)
        original = codec.decode_model(letter.original).RECORD_TYPE
        dead[f"{letter.reason.value}:{original}:{letter.stage}"] += 1
        dead[f"{letter.reason.value}@partition {letter.source_partition}"] += 1
    reader.close()
    got = {k: c for k, (_, c) in rows.items()}
    same = sum(1 for k, c in expected.items() if got.get(k) == c)
    unequal: Counter[str] = Counter()  # per level: missing / extra / other counters
    for k in expected.keys() | got.keys():
        if k not in got:
            unequal[f"{k[0]} missing"] += 1
        elif k not in expected:
            unequal[f"{k[0]} extra"] += 1
        elif got[k] != expected[k]:
            unequal[f"{k[0]} differs"] += 1
    return {
        "startup_s": first - spawned,
        "processing_s": end / 1000 - first,
        "rate": n / (end / 1000 - first),
        "snapshot_messages": len(stamps),
        "keys": len(got),
        "keys_expected": len(expected),
        "keys_equal": same,
        "stats": _summed_stats(home, names),
        "dead": dict(dead),
        "unequal": dict(unequal),
    }


# -- the Quix Streams peer --------------------------------------------------------------------


def quix_child(args: argparse.Namespace) -> None:
    """The peer's process: decode → call events → group_by bucket → stateful count."""
    from quixstreams import Application, State

    codec = default_codec()
    app = Application(
        broker_address=args.bootstrap,
        consumer_group=args.group,
        auto_offset_reset="earliest",
        state_dir=args.state_dir,
        loglevel="WARNING",
    )

    def bucket(data: bytes) -> dict | None:
        event = codec.decode_model(data)
        if not event.RECORD_TYPE.startswith("call."):
            return None
        at = event.envelope.occurred_at
        line = getattr(event, "business_line", None)
        channel = getattr(event, "channel", None)
        return {
            "r": event.envelope.region_code,
            "m": int(at.timestamp()) // 60 * 60,
            "l": line.value if line is not None else "-",
            "c": channel.value if channel is not None else "-",
        }

    def count(value: dict, state: State) -> dict:
        n = state.get("n", 0) + 1
        state.set("n", n)
        return {"k": f"{value['r']}|{value['m']}|{value['l']}|{value['c']}", "n": n}

    frames = [
        app.dataframe(app.topic(t, key_deserializer="bytes", value_deserializer="bytes"))
        for t in args.topics
    ]
    sdf = frames[0]
    for other in frames[1:]:
        sdf = sdf.concat(other)
    sdf = sdf.apply(bucket).filter(lambda v: v is not None)
    sdf = sdf.group_by(lambda v: f"{v['r']}|{v['m']}|{v['l']}|{v['c']}", name="bucket")
    sdf = sdf.apply(count, stateful=True)
    sdf.to_topic(app.topic(args.out, key_serializer="str", value_serializer="json"))
    collect_less_often()  # the worker's garbage-collector setting: a like-for-like runtime
    app.run()


def quix_expected(events: list[Event]) -> Counter[str]:
    out: Counter[str] = Counter()
    for e in events:
        if e.RECORD_TYPE.startswith("call."):
            line = getattr(e, "business_line", None)
            channel = getattr(e, "channel", None)
            out[
                f"{e.envelope.region_code}|{int(e.envelope.occurred_at.timestamp()) // 60 * 60}"
                f"|{line.value if line is not None else '-'}"
                f"|{channel.value if channel is not None else '-'}"
            ] += 1
    return out


def quix_throughput(
    kafka: KafkaSettings, home: Path, provinces: list[str], events: list[Event], tag: str
) -> dict:
    expected = quix_expected(events)
    calls = sum(expected.values())
    out = f"{kafka.topic_prefix}.quix-{tag}.counts"
    ensure_topics(
        kafka.bootstrap_servers,
        [TopicSpec(out, kafka.shared_partitions, {"message.timestamp.type": "LogAppendTime"})],
    )
    topics = [raw_topic(kafka, p, "calls") for p in provinces]  # its input: call topics
    args = [sys.executable, __file__, "--quix-child", "--bootstrap", kafka.bootstrap_servers]
    args += ["--group", f"{kafka.topic_prefix}-quix-{tag}", "--out", out]
    args += ["--state-dir", str(home / f"quix-{tag}"), "--topics", *topics]
    reader = TopicReader(kafka.bootstrap_servers, out)
    got: dict[str, int] = {}
    stamps: list[int] = []
    spawned = time.time()
    log = (home / f"quix-{tag}.log").open("wb")
    proc = subprocess.Popen(
        args, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 600
        while len(stamps) < calls and time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError((home / f"quix-{tag}.log").read_text()[-3000:])
            for ts, _, value in reader.poll():
                stamps.append(ts)
                row = json.loads(value)
                got[row["k"]] = max(got.get(row["k"], 0), row["n"])
    finally:
        stop(proc)
        reader.close()
    stamps.sort()
    first = stamps[0] / 1000
    return {
        "startup_s": first - spawned,
        "processing_s": (stamps[-1] - stamps[0]) / 1000,
        "rate": calls / ((stamps[-1] - stamps[0]) / 1000),
        "outputs": len(stamps),
        "call_events": calls,
        "keys": len(got),
        "keys_equal": sum(1 for k, v in expected.items() if got.get(k) == v),
        "keys_expected": len(expected),
    }


# -- the bare Faust floor ---------------------------------------------------------------------


def floor_child(args: argparse.Namespace) -> None:
    """Bare Faust: read every raw message in the worker's batches, send one count per batch."""
    import faust
    from faust.worker import Worker as FaustWorker

    app = faust.App(
        args.group,
        broker=f"kafka://{args.bootstrap}",
        store="memory://",
        datadir=args.state_dir,
        web_enabled=False,
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=1.0,
    )
    raw = app.topic(*args.topics, key_serializer="raw", value_serializer="raw")
    out = app.topic(args.out, key_serializer="raw", value_serializer="raw")

    @app.agent(raw)
    async def read(stream: faust.StreamT) -> None:
        async for events in stream.take_events(2000, 0.1):
            await out.send(value=str(len(events)).encode())

    collect_less_often()
    FaustWorker(app, loglevel="warning", quiet=True).execute_from_commandline()


def floor_throughput(
    kafka: KafkaSettings, home: Path, provinces: list[str], n: int, tag: str
) -> dict:
    out = f"{kafka.topic_prefix}.floor-{tag}.batches"
    ensure_topics(
        kafka.bootstrap_servers, [TopicSpec(out, 1, {"message.timestamp.type": "LogAppendTime"})]
    )
    topics = [raw_topic(kafka, p, f) for p in provinces for f in RAW_FAMILIES]
    args = [sys.executable, __file__, "--floor-child", "--bootstrap", kafka.bootstrap_servers]
    args += ["--group", f"{kafka.topic_prefix}-floor-{tag}", "--out", out]
    args += ["--state-dir", str(home / f"floor-{tag}"), "--topics", *topics]
    reader = TopicReader(kafka.bootstrap_servers, out)
    read, stamps = 0, []
    log = (home / f"floor-{tag}.log").open("wb")
    proc = subprocess.Popen(
        args, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 600
        while read < n and time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError((home / f"floor-{tag}.log").read_text()[-3000:])
            for ts, _, value in reader.poll():
                stamps.append(ts)
                read += int(value)
    finally:
        stop(proc)
        reader.close()
    seconds = (max(stamps) - min(stamps)) / 1000
    return {"read": read, "processing_s": seconds, "rate": read / seconds}


# -- freshness --------------------------------------------------------------------------------


def freshness(bootstrap: str, home: Path, seconds: float, rate: float, partitions: int) -> dict:
    kafka = KafkaSettings(
        bootstrap_servers=bootstrap,
        topic_prefix=f"fr{int(time.time()) % 100_000}",
        raw_partitions=partitions,
        shared_partitions=partitions,
    )
    need = int(seconds * rate) + 1
    print(f"freshness: simulating {need:,} events …", flush=True)
    pool = [
        e
        for e in make_events(int(need * 1.3), FRESH_CENTERS, seed=4242)
        if e.RECORD_TYPE in CALL_EVENT_TYPES
    ][:need]
    provinces = provinces_of(pool)
    provision(kafka, provinces)
    app_id = f"{kafka.topic_prefix}-live"
    proc = start_worker(kafka, app_id, home, provinces, None, WORKER_LOGLEVEL)
    status = home / f"status-{app_id}.json"
    deadline = time.monotonic() + 120
    while read_status(status).get("phase") != "running" and time.monotonic() < deadline:
        time.sleep(0.2)  # a status of phase "recovering" comes before the timer runs
    time.sleep(3)  # assignment after the first status write
    sink = KafkaEventSink(delivery(kafka, home), "bench-fresh")
    sent: list[Event] = []
    began = time.monotonic()
    try:
        for i, event in enumerate(pool):
            ahead = began + i / rate - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
            env = event.envelope.model_copy(update={"occurred_at": datetime.now(UTC)})
            event = event.model_copy(update={"envelope": env})
            sink.emit(event)
            sent.append(event)
        send_s = time.monotonic() - began
        sink.close()
        time.sleep(10)  # the tail
    finally:
        stats = read_status(status).get("stats", {})
        stop(proc)
        keep_log(home / f"{app_id}.log")
    # bucket of each call by the pure pipeline on the same (rewritten) events
    pipeline = Pipeline()
    key_of: dict[str, tuple] = {}
    for j in range(0, len(sent), 500):
        for o in pipeline.process(sent[j : j + 500]).records:
            k = o.contribution.key
            key_of.setdefault(
                o.contribution.call_id, (k.region_code, k.bucket_start, k.business_line, k.channel)
            )
    ended = {
        e.call_id: e.envelope.occurred_at.timestamp() for e in sent if e.RECORD_TYPE == "call.ended"
    }
    calls_of: dict[tuple, list[tuple[float, str]]] = defaultdict(list)
    for call, at in ended.items():
        if call in key_of:
            calls_of[key_of[call]].append((at, call))
    codec = default_codec()
    reader = TopicReader(bootstrap, shared_topic(kafka, "metric_snapshots"))
    seen: dict[tuple, list[tuple[int, float]]] = defaultdict(list)  # key -> (offered, ts)
    for ts, _, value in reader.drain():
        snap = codec.decode_model(value)
        if snap.level.value == "county":
            key = (
                snap.region_code,
                snap.bucket_start,
                snap.business_line.value,
                snap.channel.value,
            )
            seen[key].append((snap.offered, ts / 1000))
    reader.close()
    t0 = min(ended.values()) + 5 if ended else 0
    latencies: list[float] = []
    not_counted = 0
    for key, members in calls_of.items():
        members.sort()
        snaps = sorted(seen.get(key, []), key=lambda s: s[1])
        for rank, (at, _) in enumerate(members, start=1):
            if at < t0:  # warm-up: the first 5 s
                continue
            hit = next((ts for offered, ts in snaps if offered >= rank), None)
            if hit is None:
                not_counted += 1
            else:
                latencies.append(hit - at)
    latencies.sort()
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    return {
        "sent": len(sent),
        "send_s": send_s,
        "calls_ended": len(ended),
        "measured": len(latencies),
        "not_counted": not_counted,
        "p50": q[49],
        "p99": q[98],
        "max": latencies[-1] if latencies else 0.0,
        "centers": len(FRESH_CENTERS),
        "raw_in": stats.get("raw_in", 0),
    }


# -- main -------------------------------------------------------------------------------------


def run(bootstrap: str, home: Path, args: argparse.Namespace) -> None:
    print(f"start: {load()}", flush=True)
    partitions = args.partitions
    kafka = KafkaSettings(
        bootstrap_servers=bootstrap,
        topic_prefix=f"sb{int(time.time()) % 100_000}",
        raw_partitions=partitions,
        shared_partitions=partitions,
    )
    if not args.skip_throughput:
        print(f"generating {args.events:,} simulated events …", flush=True)
        events = make_events(args.events, CENTERS, seed=12333)
        n = len(events)
        provinces = provinces_of(events)
        provision(kafka, provinces)
        produce(events, kafka, home)
        t = time.perf_counter()
        expected = pipeline_snapshots(events)
        pure_s = time.perf_counter() - t
        calls = sum(1 for e in events if e.RECORD_TYPE in CALL_EVENT_TYPES)
        print(f"{n:,} events ({calls:,} call/survey events) in {len(provinces)} provinces, "
              f"{partitions} partitions per topic; pure pipeline in-process: "
              f"{calls / pure_s:,.0f} call events/s, {len(expected):,} snapshot keys",
              flush=True)  # fmt: skip
        for r in range(args.rounds):
            f = faust_throughput(
                kafka, home, provinces, n, expected, f"r{r}", args.idle_flush, args.workers
            )
            times = f" ×{args.workers}" if args.workers > 1 else ""
            print(f"round {r + 1}: faust worker --replay{times}: {f['rate']:>8,.0f} events/s "
                  f"({f['processing_s']:.1f} s; start-up {f['startup_s']:.1f} s; "
                  f"{f['snapshot_messages']:,} snapshot messages; keys equal to the pure "
                  f"pipeline {f['keys_equal']:,}/{f['keys_expected']:,}, got {f['keys']:,}) "
                  f"[{load()}]", flush=True)  # fmt: skip
            if args.verbose:
                print(f"  worker stats: {f['stats']}; dead letters: {f['dead']}", flush=True)
                print(f"  keys not equal to the pure pipeline: {f['unequal']}", flush=True)
            if args.floor:
                fl = floor_throughput(kafka, home, provinces, n, f"r{r}")
                print(f"round {r + 1}: bare faust floor (reads, no work): {fl['rate']:>8,.0f} "
                      f"events/s ({fl['processing_s']:.1f} s; {fl['read']:,} read) [{load()}]",
                      flush=True)  # fmt: skip
            if args.skip_quix:
                continue
            qx = quix_throughput(kafka, home, provinces, events, f"r{r}")
            print(f"round {r + 1}: quix streams (simpler count): {qx['rate']:>8,.0f} call events/s "
                  f"({qx['processing_s']:.1f} s; start-up {qx['startup_s']:.1f} s; "
                  f"{qx['outputs']:,} outputs for {qx['call_events']:,} call events; counts "
                  f"equal {qx['keys_equal']:,}/{qx['keys_expected']:,}) [{load()}]",
                  flush=True)  # fmt: skip
            # like with like: the worker's rate over the same call events as the peer's (the
            # worker handles every other event too in that time): the peer's processing time
            # over the worker's
            faust_calls = qx["call_events"] / f["processing_s"]
            print(f"round {r + 1}: ratio faust / quix, call events/s each: "
                  f"{faust_calls / qx['rate']:.2f} (faust {faust_calls:,.0f} call events/s, "
                  f"all its events in that time)", flush=True)  # fmt: skip
    if not args.skip_fresh:
        fr = freshness(bootstrap, home, args.fresh_seconds, args.rate, partitions)
        print(f"freshness (live worker, {fr['centers']} centers, {fr['sent']:,} call/survey "
              f"events in {fr['send_s']:.1f} s = {fr['sent'] / fr['send_s']:,.0f}/s): "
              f"call.ended → county snapshot appended p50 {fr['p50'] * 1000:,.0f} ms, "
              f"p99 {fr['p99'] * 1000:,.0f} ms, max {fr['max'] * 1000:,.0f} ms over "
              f"{fr['measured']:,} calls (first 5 s skipped); {fr['not_counted']:,} ended "
              f"calls not in a snapshot 10 s after the last send (worker read {fr['raw_in']:,} of "
              f"{fr['sent']:,} events by then) "
              f"[{load()}]", flush=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=60_000, help="throughput: raw events")
    parser.add_argument("--rounds", type=int, default=1, help="throughput rounds (side by side)")
    parser.add_argument("--fresh-seconds", type=float, default=60.0, help="freshness: duration")
    parser.add_argument("--rate", type=float, default=2000.0, help="freshness: events/s sent")
    parser.add_argument("--skip-quix", action="store_true", help="no Quix Streams peer")
    parser.add_argument("--skip-fresh", action="store_true", help="no freshness run")
    parser.add_argument("--skip-throughput", action="store_true", help="freshness only")
    parser.add_argument("--partitions", type=int, default=3, help="partitions per topic")
    parser.add_argument("--idle-flush", type=float, default=5.0, help="the worker's, replay")
    parser.add_argument(
        "--workers", type=int, default=1, help="throughput: worker processes sharing the replay"
    )
    parser.add_argument("--verbose", action="store_true", help="print the worker's stats")
    parser.add_argument(
        "--floor", action="store_true", help="also bare Faust reading the raw topics (its ceiling)"
    )
    parser.add_argument("--floor-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--quix-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--bootstrap", help=argparse.SUPPRESS)
    parser.add_argument("--group", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--state-dir", help=argparse.SUPPRESS)
    parser.add_argument("--topics", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("kafka").setLevel(logging.ERROR)  # NotLeader retries on fresh topics
    if args.quix_child:
        quix_child(args)
        return
    if args.floor_child:
        floor_child(args)
        return
    peer = not (args.skip_quix or args.skip_throughput)
    if peer and importlib.util.find_spec("quixstreams") is None:
        sys.exit("the Quix Streams peer is not installed: run `make bench-deps` (or --skip-quix)")
    with (
        tempfile.TemporaryDirectory(prefix="hotline-bench-") as tmp,
        embedded_broker(Path(tmp)) as bootstrap,
    ):
        run(bootstrap, Path(tmp), args)


if __name__ == "__main__":
    main()
