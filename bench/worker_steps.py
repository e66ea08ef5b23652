"""The worker's own CPU per event, in-process: its ingest and groups steps on the same simulated
events as ``streams_bench.py``, with a stand-in for Kafka (record batches are built, nothing is
sent, group-topic messages are fed back to the groups step) — no broker, no Faust consumer.
Each round runs in a fresh interpreter, once with CPython's garbage-collector defaults and once
with the worker's setting (:mod:`hotline.streams.gc_tuning`), side by side. With ``--against
REV``, each round runs this checkout and the commit REV instead (both with the worker's
setting, alternately; REV's ``hotline`` packages from a temporary git worktree, through
``bench/at_tree.py``, driven by this file's harness, so REV must have the worker methods it
calls).

    .venv/bin/python bench/worker_steps.py [--events 60000] [--rounds 2] [--against REV]
        [--verbose] [--ingest-batch 2000] [--group-batch 8]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from streams_bench import CENTERS, make_events

from hotline.producers.delivery import Preparer
from hotline.settings import KafkaSettings

SEED = 7
HERE = Path(__file__).resolve().parent


class _NoBroker:
    """What the outbox uses of aiokafka's producer: real record batches, sent nowhere."""

    async def partitions_for(self, topic: str) -> set[int]:
        return {0, 1, 2}

    def create_batch(self) -> Any:
        from aiokafka.producer.message_accumulator import BatchBuilder

        return BatchBuilder(256 * 1024, 0)

    async def send_batch(self, batch: Any, topic: str, *, partition: int) -> asyncio.Future:
        done = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


async def _steps(
    records: list[tuple[str, bytes | None, bytes]], ingest_batch: int, group_batch: int
) -> dict[str, Any]:
    """Every raw message through ingest steps of ``ingest_batch``, each step's group-topic
    messages through groups steps of ``group_batch`` (the worker's: 2,000 and 8); seconds spent
    in each."""
    from aiokafka.structs import ConsumerRecord
    from faust.types.tuples import Message

    from hotline.streams.app import Worker
    from hotline.streams.groups import NATIONAL_GROUP
    from hotline.streams.worker_config import WorkerConfig

    config = WorkerConfig(
        app_id="bench-steps",
        kafka=KafkaSettings(topic_prefix="bench"),
        partitions=3,
        wall_clock_skew_s=None,
        idle_flush_s=5,
    )
    worker = Worker(config)
    client = _NoBroker()
    worker.outbox._client = lambda: client  # type: ignore[assignment]
    internal = worker.internal.get_topic_name()
    fed_back: list[Message] = []
    group_offsets: dict[int, int] = defaultdict(int)
    changelog = worker.table.changelog_topic.get_topic_name()
    state_writes: Counter[str] = Counter()  # per key kind (groups.py); "-" marks a delete
    add = worker.outbox.add

    def add_and_feed_back(topic: str, key: Any, value: Any, partition: Any = None) -> None:
        if topic == internal:
            offset = group_offsets[partition]
            group_offsets[partition] += 1
            fed_back.append(Message(topic, partition, offset, time.time(), 0, [], key, value, None))
        elif topic == changelog:
            state_writes[key.decode().strip('"').split("|")[1] + "-" * (value is None)] += 1
        add(topic, key, value, partition)

    worker.outbox.add = add_and_feed_back  # type: ignore[method-assign]
    raw_offsets: dict[str, int] = defaultdict(int)
    raw = []
    for topic, key, value in records:
        now_ms = int(time.time() * 1000)
        raw.append(
            ConsumerRecord(topic, 0, raw_offsets[topic], now_ms, 0, key, value, None, 0, 0, ())
        )
        raw_offsets[topic] += 1
    sources = sorted({f"{m.topic}:{m.partition}" for m in raw})
    ingest = groups = 0.0
    for i in range(0, len(raw), ingest_batch):
        started = time.perf_counter()
        await worker._read(raw[i : i + ingest_batch])
        ingest += time.perf_counter() - started
        while fed_back:
            batch, fed_back[:] = fed_back[:group_batch], fed_back[group_batch:]
            for msg in batch:
                if worker.continuity.unknown([msg.tp]):
                    worker.continuity.start(msg.tp, msg.offset)
                group = msg.key.decode()
                if group not in worker.groups:  # the timer's part: its source partitions
                    state = worker._group(group)
                    if group != NATIONAL_GROUP:
                        state.expect([s for s in sources if f".raw.{group}." in s])
            started = time.perf_counter()
            await worker._process([SimpleNamespace(message=m) for m in batch])
            groups += time.perf_counter() - started
    stats = {**worker.stats, "state_writes": dict(state_writes.most_common())}
    return {"ingest_s": ingest, "groups_s": groups, "stats": stats}


def child(path: str, tuned: bool, ingest_batch: int, group_batch: int) -> None:
    """One run in this interpreter; prints its result as JSON."""
    records = json.loads(Path(path).read_text())
    records = [(t, bytes.fromhex(k) if k else None, bytes.fromhex(v)) for t, k, v in records]
    if tuned:
        from hotline.streams.gc_tuning import collect_less_often

        collect_less_often()
    gc_s = [0.0]  # the cyclic collector's time in the run (start-up included)
    started = [0.0]

    def clock(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            gc_s[0] += time.perf_counter() - started[0]

    gc.callbacks.append(clock)
    result = asyncio.run(_steps(records, ingest_batch, group_batch))
    gc.callbacks.remove(clock)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    print(json.dumps({**result, "gc_s": gc_s[0], "peak_mib": peak_mib}))


@contextlib.contextmanager
def _worktree(rev: str) -> Iterator[Path]:
    """A temporary git worktree of ``rev`` (detached), removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="worker-steps-") as tmp:
        tree = Path(tmp) / "tree"
        git = ["git", "-C", str(HERE.parent)]
        subprocess.run([*git, "worktree", "add", "--detach", "-q", str(tree), rev], check=True)
        try:
            yield tree
        finally:
            subprocess.run([*git, "worktree", "remove", "--force", str(tree)], check=True)


def _run(argv: list[str], label: str, round_: int, events: int, verbose: bool) -> float:
    """One child run; prints its line (``verbose``: and the worker's stats, with its state
    writes per key kind) and returns its events/s."""
    out = subprocess.run(argv, check=True, capture_output=True, text=True)
    result = json.loads(out.stdout.splitlines()[-1])
    rate = events / (result["ingest_s"] + result["groups_s"])
    print(
        f"round {round_}: {label:22} {rate:8,.0f} events/s "
        f"(ingest {result['ingest_s']:.2f} s, groups {result['groups_s']:.2f} s, "
        f"GC in the whole run {result['gc_s']:.2f} s, peak RSS {result['peak_mib']:.0f} MiB; "
        f"{result['stats']['records_out']:,} records, "
        f"{result['stats']['snapshots_out']:,} snapshots, "
        f"{sum(result['stats']['state_writes'].values()):,} state writes)",
        flush=True,
    )
    if verbose:
        print(f"  stats: {result['stats']}", flush=True)
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=60_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--against", metavar="REV", help="compare with this git commit instead of GC settings"
    )
    parser.add_argument("--verbose", action="store_true", help="print the worker's stats")
    parser.add_argument(
        "--ingest-batch", type=int, default=2000, help="raw events per ingest step (worker's)"
    )
    parser.add_argument(
        "--group-batch", type=int, default=8, help="group-topic messages per groups step"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--tuned", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.tuned, args.ingest_batch, args.group_batch)
        return
    print(f"generating {args.events:,} simulated events …", flush=True)
    prepare = Preparer(KafkaSettings(topic_prefix="bench")).prepare
    records = [prepare(e) for e in make_events(args.events, CENTERS, SEED)]
    with contextlib.ExitStack() as stack:
        file = stack.enter_context(tempfile.NamedTemporaryFile("w", suffix=".json"))
        json.dump([(r.topic, (r.key or b"").hex(), r.value.hex()) for r in records], file)
        file.flush()
        batches = ["--ingest-batch", str(args.ingest_batch), "--group-batch", str(args.group_batch)]
        me = [sys.executable, __file__, "--child", file.name, *batches]
        if args.against:
            tree = stack.enter_context(_worktree(args.against))
            there = [sys.executable, str(HERE / "at_tree.py"), str(tree), *me[1:]]
            sides = [(args.against, [*there, "--tuned"]), ("this checkout", [*me, "--tuned"])]
        else:
            sides = [("CPython's GC defaults", me), ("worker's GC setting", [*me, "--tuned"])]
        for round_ in range(1, args.rounds + 1):
            rates = [_run(argv, label, round_, len(records), args.verbose) for label, argv in sides]
            print(f"round {round_}: ratio {sides[1][0]} / {sides[0][0]}: {rates[1] / rates[0]:.2f}")


if __name__ == "__main__":
    main()
