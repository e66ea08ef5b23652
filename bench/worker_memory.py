"""The worker's memory over simulated days: does its state stay bounded?

A multi-day simulation (``--centers``, ``--days``) goes day by day (China time) through the
worker's ingest and groups steps in one fresh interpreter (:mod:`in_process`: no broker, the
worker's garbage-collector setting). After each day, with a full collection first, it reports
the process's resident memory, the live Python objects the collector tracks, and the worker's
state table keys per kind (module docstring of :mod:`hotline.streams.groups`). The ratios
compare each day with day 2 (the first whole day), and the last day with the same weekday a
week before: state that is pruned as it should be stops growing once its longest horizon has
passed (a call's repeat-caller entry: 7 days). Each day's input is read only when its turn
comes, so the resident memory is the worker's plus one day of raw messages.

With ``--broker``, the same days go through the real thing instead: an embedded broker on free
ports in a temporary home (:mod:`embedded_broker`) and ``hotline streams worker
--replay`` as a subprocess, its Faust consumer, producer and changelog included. Each day is
sent to the raw topics; once the worker's status file shows every event of it through the
groups, and a settling pause of ``--settle`` seconds for the national group, the bench reads
the worker's resident memory from ``/proc/<pid>/status`` and its state table's size from the
status file (``state_keys``; no per-kind split, no object count: they are in another process).
The day's rate includes sending it. The worker never idle-flushes here, like the steps
in-process: a flush ends a replay (watermark past the latest event + the whole retention), so
the next day's first hours would be late. After the last day the worker is stopped (SIGTERM)
and started again (at loglevel ``info``): the bench reports how long it took to have its state
table and groups back (from the changelog), and its resident memory then. It reads that off
the restarted worker's log (``state restored: N keys``, then ``group G loaded: C calls`` per
group), compared with the stopped worker's last status. Its status file is no clock for this:
the first one is written at the end of its first full tick, which may already have evicted
closed minutes (eviction runs at a group's first advance after a load) or released idle
partitions, and then no status of it matches the stopped worker's (4 of 6 runs of 14 days
with the bulk changelog read never did).

    .venv/bin/python bench/worker_memory.py [--days 10] [--centers C330200 C460000]
        [--seed 7] [--broker [--settle 3]]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import timedelta, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from embedded_broker import embedded_broker
from in_process import InProcessWorker, from_json, to_json
from streams_bench import (
    WORKER_LOGLEVEL,
    keep_log,
    produce,
    provinces_of,
    provision,
    read_status,
    start_worker,
    stop,
)

from hotline.producers.delivery import Preparer
from hotline.producers.simulator import MemorySink, SimConfig, simulate
from hotline.producers.simulator.runner import DEFAULT_START
from hotline.schemas import Event
from hotline.settings import KafkaSettings

CHINA = timezone(timedelta(hours=8))


def _rss_mib(pid: int | str = "self") -> float:
    """A process's resident memory now (VmRSS), MiB; this process's by default."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def _keys_by_kind(table: Any) -> Counter[str]:
    """The state table's keys per kind (``province|kind|…``)."""
    return Counter(key.split("|", 2)[1] for key in table.data)


async def _days(lines: Iterator[str], topics: set[str]) -> None:
    """Each day (a JSON line: day, records as hex) through one worker, read when its turn
    comes; a JSON line per day."""
    steps = InProcessWorker(topics, ingest_batch=2000, group_batch=8)
    for line in lines:
        day, rows = json.loads(line)
        records = from_json(rows)
        del rows
        before = steps.ingest_s + steps.groups_s
        await steps.feed(records)
        seconds = steps.ingest_s + steps.groups_s - before
        gc.collect()
        keys = _keys_by_kind(steps.worker.table)
        sample = {
            "day": day,
            "events": len(records),
            "events_per_s": len(records) / seconds,
            "rss_mib": _rss_mib(),
            "objects": len(gc.get_objects()),
            "state_keys": sum(keys.values()),
            "keys": dict(keys.most_common()),
        }
        print(json.dumps(sample), flush=True)


def child(path: str) -> None:
    """The run, in this interpreter with the worker's collector setting: the file's first
    line has the raw topics, each further line a day."""
    from hotline.streams.gc_tuning import collect_less_often

    collect_less_often()
    with open(path) as file:
        topics = set(json.loads(next(file)))
        asyncio.run(_days(file, topics))


def simulated_days(centers: list[str], days: int, seed: int) -> list[tuple[str, list[Event]]]:
    """The events of one simulation from ``DEFAULT_START`` over ``days`` days, per China
    date."""
    sink = MemorySink()
    config = SimConfig(
        seed=seed, centers=centers, start=DEFAULT_START, duration=timedelta(days=days)
    )
    simulate(config, sink)
    by_day: dict[str, list[Event]] = defaultdict(list)
    for event in sink.events:
        by_day[event.envelope.occurred_at.astimezone(CHINA).date().isoformat()].append(event)
    return sorted(by_day.items())


def in_process(days: list[tuple[str, list[Event]]]) -> Iterator[dict[str, Any]]:
    """Each day's sample from the worker's steps in a child interpreter (:func:`child`)."""
    prepare = Preparer(KafkaSettings(topic_prefix="bench")).prepare
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl") as file:
        raw = [(day, [prepare(e) for e in events]) for day, events in days]
        file.write(json.dumps(sorted({r.topic for _, records in raw for r in records})) + "\n")
        for day, records in raw:
            file.write(json.dumps([day, to_json((r.topic, r.key, r.value) for r in records)]))
            file.write("\n")
        file.flush()
        del raw
        argv = [sys.executable, __file__, "--child", file.name]
        with subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) as proc:
            assert proc.stdout is not None
            for line in proc.stdout:
                yield json.loads(line)
        if proc.returncode:
            sys.exit(f"the worker's run failed (exit {proc.returncode})")


NEVER_S = 10**9
"""An idle flush this far off never comes."""
_RESTORED = re.compile(r"state restored: ([\d,]+) keys")
_LOADED = re.compile(r"group (\d+) loaded: (\d+) calls")
"""The worker's log lines of a recovery (:mod:`hotline.streams.recovery_log`, ``_group``)."""


def with_broker(days: list[tuple[str, list[Event]]], settle: float) -> Iterator[dict[str, Any]]:
    """Each day's sample from ``hotline streams worker --replay`` on an embedded broker."""
    provinces = provinces_of([e for _, events in days for e in events])
    with (
        tempfile.TemporaryDirectory(prefix="hotline-bench-") as tmp,
        embedded_broker(Path(tmp)) as bootstrap,
    ):
        home = Path(tmp)
        kafka = KafkaSettings(bootstrap_servers=bootstrap, topic_prefix="memory")
        provision(kafka, provinces)
        app_id = "memory-worker"
        status_path = home / f"status-{app_id}.json"
        proc = start_worker(kafka, app_id, home, provinces, NEVER_S, WORKER_LOGLEVEL)
        try:
            sent = 0
            for day, events in days:
                started = time.monotonic()
                produce(events, kafka, home)
                sent += len(events)
                while read_status(status_path).get("stats", {}).get("group_in", 0) < sent:
                    if proc.poll() is not None:
                        log = (home / f"{app_id}.log").read_text()[-3000:]
                        sys.exit(f"the worker stopped (exit {proc.returncode}):\n{log}")
                    time.sleep(0.1)
                seconds = time.monotonic() - started
                time.sleep(settle)
                status = read_status(status_path)
                yield {
                    "day": day,
                    "events": len(events),
                    "events_per_s": len(events) / seconds,
                    "rss_mib": _rss_mib(proc.pid),
                    "state_keys": status["state_keys"],
                    "dead_letters": {
                        k.removeprefix("dead_"): n
                        for k, n in status["stats"].items()
                        if k.startswith("dead_")
                    },
                }
            last = read_status(status_path)  # the state it runs with, before it stops
            stop(proc)  # SIGTERM: a graceful stop, then the same worker again
            spawned = time.time()
            proc = start_worker(kafka, app_id, home, provinces, NEVER_S, "info")
            yield _restarted(proc, home / f"{app_id}.log", last, spawned)
        finally:
            stop(proc)
            keep_log(home / f"{app_id}.log")


def _restarted(
    proc: subprocess.Popen, log: Path, before: dict[str, Any], spawned: float
) -> dict[str, Any]:
    """The restarted worker's recovery: seconds from its spawn until its log (``log``) says
    its state table is back with the keys of ``before`` (the stopped worker's last status)
    and every group loaded with its calls, and its resident memory then."""
    expected = (before["state_keys"], {g: s["calls"] for g, s in before["groups"].items()})
    while True:
        text = log.read_text(errors="replace")
        restored = [int(n.replace(",", "")) for n in _RESTORED.findall(text)]
        got = (restored[-1] if restored else None, {g: int(c) for g, c in _LOADED.findall(text)})
        if got == expected:
            return {
                "recovery_s": time.time() - spawned,
                "rss_mib": _rss_mib(proc.pid),
                "state_keys": got[0],
            }
        if proc.poll() is not None or time.time() - spawned > 600:
            sys.exit(
                f"the restarted worker did not recover in 600 s (exit {proc.poll()}): its log "
                f"says {got[0]} state keys and calls per group {got[1]}, against "
                f"{expected[0]} and {expected[1]} before the stop"
            )
        time.sleep(0.1)


def _line(sample: dict[str, Any], base: dict[str, Any] | None) -> str:
    """A day's sample as text; with ``base``, its ratios to that day's."""
    text = (
        f"{sample['day']}: {sample['events']:7,} events ({sample['events_per_s']:6,.0f}/s); "
        f"RSS {sample['rss_mib']:5.0f} MiB"
    )
    if "objects" in sample:
        text += f", {sample['objects'] / 1e6:5.2f} M objects"
    text += f", {sample['state_keys']:7,} state keys"
    if "keys" in sample:
        text += " (" + ", ".join(f"{k} {n:,}" for k, n in list(sample["keys"].items())[:6]) + ")"
    if "dead_letters" in sample:
        dead = sample["dead_letters"]
        text += f", {sum(dead.values()):,} dead letters" + (f" {dead}" if dead else "")
    if base is not None:
        text += f"; vs {base['day']}: RSS {sample['rss_mib'] / base['rss_mib']:.2f}"
        if "objects" in sample:
            text += f", objects {sample['objects'] / base['objects']:.2f}"
        text += f", keys {sample['state_keys'] / base['state_keys']:.2f}"
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=10, help="simulated days")
    parser.add_argument(
        "--centers", nargs="+", default=["C330200", "C460000"], help="simulated centers"
    )
    parser.add_argument("--seed", type=int, default=7, help="the simulation's seed")
    parser.add_argument(
        "--broker",
        action="store_true",
        help="through an embedded broker and the worker's command, not its steps in-process",
    )
    parser.add_argument(
        "--settle", type=float, default=3.0, help="--broker: seconds after a day before sampling"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    started = time.monotonic()
    print(f"simulating {args.days} days of {', '.join(args.centers)} …", flush=True)
    days = simulated_days(args.centers, args.days, args.seed)
    total = sum(len(events) for _, events in days)
    seconds = time.monotonic() - started
    where = "the worker on a broker" if args.broker else "the worker's steps"
    print(f"{total:,} events in {seconds:.0f} s; {where}, day by day:", flush=True)
    run = with_broker(days, args.settle) if args.broker else in_process(days)
    del days
    samples: list[dict[str, Any]] = []
    for sample in run:
        if "recovery_s" in sample:  # --broker: the worker restarted after the last day
            print(
                f"restarted after the last day: {sample['state_keys']:,} state keys and the "
                f"groups back in {sample['recovery_s']:.1f} s (spawn → its log); RSS "
                f"{sample['rss_mib']:.0f} MiB",
                flush=True,
            )
            continue
        samples.append(sample)
        print(_line(sample, samples[1] if len(samples) > 2 else None), flush=True)
    if len(samples) >= 9:  # the last day against the same weekday a week before (not day 1)
        print("a week later (same weekday): " + _line(samples[-1], samples[-8]), flush=True)


if __name__ == "__main__":
    main()
