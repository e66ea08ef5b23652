"""bench/in_process.py drives the worker's own steps (``worker_steps.py``, ``worker_memory.py``):
it must keep up with the worker's methods, or those benchmarks stop with a traceback (the
outbox's ``after`` argument once broke both unnoticed). It is also the broker-less worker for
a test of what the worker sends (the identities of dead letters judged from its state)."""

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


def test_dead_letters_judged_from_state_keep_one_identity_each() -> None:
    """An orphan's events are judged after the step that read them (their source message is
    not known then): each dead letter still gets a (topic, partition, offset) of its own, the
    identity of its row in ClickHouse's ``dead_letters`` (they all were ``-state``, -1, 0)."""
    from hotline.schemas import default_codec

    prepare = Preparer(KafkaSettings(topic_prefix="bench")).prepare
    events = make_events(14000, CENTERS[:2], seed=7)  # 3 h: past its call horizon (2 h 10)
    answered = next(e for e in events if e.RECORD_TYPE == "call.answered")
    orphaned = [e for e in events if getattr(e, "call_id", None) == answered.call_id]
    kept = [e for e in events if not (e in orphaned and e.RECORD_TYPE == "call.offered")]
    records = [prepare(e) for e in kept]
    raw = [(r.topic, r.key, r.value) for r in records]
    steps = InProcessWorker({topic for topic, _, _ in raw}, ingest_batch=500, group_batch=8)
    steps.keep([steps.worker.out["dead_letters"]])
    asyncio.run(steps.feed(raw))
    codec = default_codec()
    dead = [codec.decode_model(value) for _, _, value in steps.kept]
    from_state = [d for d in dead if d.source_partition == -1]
    assert len(from_state) == len(orphaned) - 1 >= 2  # every event but the missing offer
    assert {d.reason.value for d in from_state} == {"orphan"}
    identities = {(d.source_topic, d.source_partition, d.source_offset) for d in dead}
    assert len(identities) == len(dead)
