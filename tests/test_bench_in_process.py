"""bench/in_process.py drives the worker's own steps (``worker_steps.py``, ``worker_memory.py``):
it must keep up with the worker's methods, or those benchmarks stop with a traceback (the
outbox's ``after`` argument once broke both unnoticed)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from hotline.producers.delivery import Preparer
from hotline.settings import KafkaSettings

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

from in_process import InProcessWorker
from streams_bench import CENTERS, make_events


def test_the_harness_takes_every_event_through_the_worker_steps() -> None:
    prepare = Preparer(KafkaSettings(topic_prefix="bench")).prepare
    records = [prepare(e) for e in make_events(3000, CENTERS[:2], seed=7)]
    raw = [(r.topic, r.key, r.value) for r in records]
    steps = InProcessWorker({topic for topic, _, _ in raw}, ingest_batch=500, group_batch=8)
    asyncio.run(steps.feed(raw))
    stats = steps.stats()
    assert stats["raw_in"] == stats["group_in"] == 3000
    assert not [k for k in stats if k.startswith("dead_")]  # nothing dead-lettered
    assert stats["records_out"] > 0 and stats["snapshots_out"] > 0
    assert {"c", "b", "x", "m"} <= set(stats["state_writes"])  # calls, buckets, cells, meta
    assert steps.ingest_s > 0 and steps.groups_s > 0  # wall time
    assert steps.ingest_cpu_s > 0 and steps.groups_cpu_s > 0  # CPU time of its one thread
