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

    .venv/bin/python bench/worker_memory.py [--days 10] [--centers C330200 C460000]
        [--seed 7]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
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

from in_process import InProcessWorker, RawRecord, from_json, to_json

from hotline.producers.delivery import Preparer
from hotline.producers.simulator import MemorySink, SimConfig, simulate
from hotline.producers.simulator.runner import DEFAULT_START
from hotline.settings import KafkaSettings

CHINA = timezone(timedelta(hours=8))


def _rss_mib() -> float:
    """This process's resident memory now (VmRSS), MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
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


def simulated_days(centers: list[str], days: int, seed: int) -> list[tuple[str, list[RawRecord]]]:
    """The raw messages of one simulation from ``DEFAULT_START`` over ``days`` days, per China
    date."""
    sink = MemorySink()
    config = SimConfig(
        seed=seed, centers=centers, start=DEFAULT_START, duration=timedelta(days=days)
    )
    simulate(config, sink)
    prepare = Preparer(KafkaSettings(topic_prefix="bench")).prepare
    by_day: dict[str, list[RawRecord]] = defaultdict(list)
    for event in sink.events:
        record = prepare(event)
        day = event.envelope.occurred_at.astimezone(CHINA).date().isoformat()
        by_day[day].append((record.topic, record.key, record.value))
    return sorted(by_day.items())


def _line(sample: dict[str, Any], base: dict[str, Any] | None) -> str:
    keys = sum(sample["keys"].values())
    kinds = ", ".join(f"{kind} {n:,}" for kind, n in list(sample["keys"].items())[:6])
    text = (
        f"{sample['day']}: {sample['events']:7,} events ({sample['events_per_s']:6,.0f}/s); "
        f"RSS {sample['rss_mib']:5.0f} MiB, {sample['objects'] / 1e6:5.2f} M objects, "
        f"{keys:7,} state keys ({kinds})"
    )
    if base is not None:
        base_keys = sum(base["keys"].values())
        text += (
            f"; vs {base['day']}: RSS {sample['rss_mib'] / base['rss_mib']:.2f}, "
            f"objects {sample['objects'] / base['objects']:.2f}, keys {keys / base_keys:.2f}"
        )
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=10, help="simulated days")
    parser.add_argument(
        "--centers", nargs="+", default=["C330200", "C460000"], help="simulated centers"
    )
    parser.add_argument("--seed", type=int, default=7, help="the simulation's seed")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    started = time.monotonic()
    print(f"simulating {args.days} days of {', '.join(args.centers)} …", flush=True)
    days = simulated_days(args.centers, args.days, args.seed)
    total = sum(len(records) for _, records in days)
    seconds = time.monotonic() - started
    print(f"{total:,} events in {seconds:.0f} s; the worker's steps, day by day:", flush=True)
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl") as file:
        topics = sorted({topic for _, records in days for topic, _, _ in records})
        file.write(json.dumps(topics) + "\n")
        for day, records in days:
            file.write(json.dumps([day, to_json(records)]) + "\n")
        file.flush()
        del days
        argv = [sys.executable, __file__, "--child", file.name]
        with subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) as proc:
            assert proc.stdout is not None
            samples = []
            for line in proc.stdout:
                samples.append(json.loads(line))
                base = samples[1] if len(samples) > 2 else None
                print(_line(samples[-1], base), flush=True)
        if proc.returncode:
            sys.exit(f"the worker's run failed (exit {proc.returncode})")
    if len(samples) >= 9:  # the last day against the same weekday a week before (not day 1)
        print("a week later (same weekday): " + _line(samples[-1], samples[-8]), flush=True)


if __name__ == "__main__":
    main()
