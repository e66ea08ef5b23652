"""bench/in_process.py drives the worker's own steps (``worker_steps.py``, ``worker_memory.py``):
it must keep up with the worker's methods, or those benchmarks stop with a traceback (the
outbox's ``after`` argument once broke both unnoticed). It is also the broker-less worker for
a test of what the worker sends (the identities of dead letters judged from its state; another
center's call under a closed call's id)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from hotline.producers.delivery import Preparer
from hotline.settings import KafkaSettings

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

from in_process import InProcessWorker
from streams_bench import CENTERS, make_events
from test_streams_rejects import HANGZHOU, NINGBO, _as


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


def test_another_centers_call_under_a_closed_calls_id_is_dead_lettered_as_a_collision() -> None:
    """Through the worker's steps: Ningbo's first call was closed and evicted hours ago, its
    tombstone still holds its id; Hangzhou (same province) then offers a call under that id.
    Its dead letter is ``invalid`` / ``IdCollision``, counted under ``id_collision`` (it was
    ``late`` / ``LateEvent``: a clock problem, to an operator); a fresh event of Ningbo's own
    under the id stays ``late``."""
    from hotline.schemas import DeadLetterReason, default_codec

    prepare = Preparer(KafkaSettings(topic_prefix="bench")).prepare
    events = make_events(14000, CENTERS[:2], seed=7)  # 3 h: past its call horizon (2 h 10)
    first = next(
        e for e in events if e.RECORD_TYPE == "call.offered" and e.envelope.center_id == NINGBO[0]
    )
    end = {"occurred_at": events[-1].envelope.occurred_at}  # hours after it was evicted
    offered = first.model_copy(update={"envelope": first.envelope.model_copy(update=end)})
    hangzhou, own = _as(HANGZHOU, offered), _as(NINGBO, offered)
    records = [prepare(e) for e in [*events, hangzhou, own]]
    raw = [(r.topic, r.key, r.value) for r in records]
    steps = InProcessWorker({topic for topic, _, _ in raw}, ingest_batch=500, group_batch=8)
    steps.keep([steps.worker.out["dead_letters"]])
    asyncio.run(steps.feed(raw))
    codec = default_codec()
    dead = {
        codec.decode_model(d.original): d
        for d in map(codec.decode_model, (v for *_, v in steps.kept))
    }
    assert (dead[hangzhou].reason, dead[hangzhou].error_type) == (
        DeadLetterReason.INVALID,
        "IdCollision",
    )
    assert NINGBO[0] in dead[hangzhou].error_detail and HANGZHOU[0] in dead[hangzhou].error_detail
    assert (dead[own].reason, dead[own].error_type) == (DeadLetterReason.LATE, "LateEvent")
    assert steps.stats()["id_collision"] == 1
