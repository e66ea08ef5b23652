"""The worker's own CPU per event, in-process: its ingest and groups steps on the same simulated
events as ``streams_bench.py``, with a stand-in for Kafka (record batches are built, nothing is
sent, group-topic messages are fed back to the groups step) — no broker, no Faust consumer.
The steps run in one thread: their CPU time is that thread's (``time.thread_time``), reported
as events/s with the wall-clock rate beside it; the ratios are of CPU time. Each round runs in
a fresh interpreter, once with CPython's garbage-collector defaults and once with the worker's
setting (:mod:`hotline.streams.gc_tuning`), side by side. With ``--against REV``, each round
runs this checkout and the commit REV instead (both with the worker's setting, alternately;
REV's ``hotline`` packages from a temporary git worktree, through ``bench/at_tree.py``, driven
by this file's harness, so REV must have the worker methods it calls). With ``--python PATH``,
each round runs this checkout under this interpreter and under PATH (both with the worker's
setting), to compare Python builds; PATH must import ``hotline`` and its dependencies, e.g. a
virtualenv made with that interpreter and ``pip install -e .``.

    .venv/bin/python bench/worker_steps.py [--events 60000] [--rounds 2]
        [--against REV | --python PATH] [--verbose] [--ingest-batch 2000] [--group-batch 8]
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
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from in_process import InProcessWorker, RawRecord, from_json, to_json
from streams_bench import CENTERS, make_events

from hotline.producers.delivery import Preparer
from hotline.settings import KafkaSettings

SEED = 7
HERE = Path(__file__).resolve().parent


async def _steps(records: list[RawRecord], ingest_batch: int, group_batch: int) -> dict[str, Any]:
    """Every raw message through the worker's steps (:class:`in_process.InProcessWorker`);
    CPU and wall seconds spent in each kind."""
    steps = InProcessWorker({topic for topic, _, _ in records}, ingest_batch, group_batch)
    await steps.feed(records)
    return {
        "ingest_cpu_s": steps.ingest_cpu_s,
        "groups_cpu_s": steps.groups_cpu_s,
        "ingest_s": steps.ingest_s,
        "groups_s": steps.groups_s,
        "stats": steps.stats(),
    }


def child(path: str, tuned: bool, ingest_batch: int, group_batch: int) -> None:
    """One run in this interpreter; prints its result as JSON."""
    records = from_json(json.loads(Path(path).read_text()))
    if tuned:
        from hotline.streams.gc_tuning import collect_less_often

        collect_less_often()
    gc_s = [0.0]  # the cyclic collector's CPU time in the run (start-up included)
    started = [0.0]

    def clock(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.thread_time()
        else:
            gc_s[0] += time.thread_time() - started[0]

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


def _run(
    argv: list[str], label: str, round_: int, events: int, verbose: bool
) -> tuple[float, float]:
    """One child run; prints its line (``verbose``: and the worker's stats, with its state
    writes per key kind) and returns its events/s of CPU time and of wall time."""
    out = subprocess.run(argv, capture_output=True, text=True)
    if out.returncode:
        sys.exit(f"{label}: the run failed (exit {out.returncode}):\n{out.stderr}")
    result = json.loads(out.stdout.splitlines()[-1])
    rate = events / (result["ingest_cpu_s"] + result["groups_cpu_s"])
    wall = events / (result["ingest_s"] + result["groups_s"])
    print(
        f"round {round_}: {label:22} {rate:8,.0f} events/s of CPU ({wall:,.0f} of wall time; "
        f"CPU: ingest {result['ingest_cpu_s']:.2f} s, groups {result['groups_cpu_s']:.2f} s, "
        f"GC in the whole run {result['gc_s']:.2f} s; peak RSS {result['peak_mib']:.0f} MiB; "
        f"{result['stats']['records_out']:,} records, "
        f"{result['stats']['snapshots_out']:,} snapshots, "
        f"{sum(result['stats']['state_writes'].values()):,} state writes)",
        flush=True,
    )
    if verbose:
        print(f"  stats: {result['stats']}", flush=True)
    return rate, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=60_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--against", metavar="REV", help="compare with this git commit instead of GC settings"
    )
    parser.add_argument(
        "--python",
        metavar="PATH",
        help="compare this interpreter with the one at PATH instead of GC settings "
        "(PATH must import hotline: a virtualenv with `pip install -e .`)",
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
    if args.against and args.python:
        parser.error("--against and --python compare different things: give one")
    if args.child:
        child(args.child, args.tuned, args.ingest_batch, args.group_batch)
        return
    print(f"generating {args.events:,} simulated events …", flush=True)
    prepare = Preparer(KafkaSettings(topic_prefix="bench")).prepare
    records = [prepare(e) for e in make_events(args.events, CENTERS, SEED)]
    with contextlib.ExitStack() as stack:
        file = stack.enter_context(tempfile.NamedTemporaryFile("w", suffix=".json"))
        json.dump(to_json((r.topic, r.key, r.value) for r in records), file)
        file.flush()
        batches = ["--ingest-batch", str(args.ingest_batch), "--group-batch", str(args.group_batch)]
        me = [sys.executable, __file__, "--child", file.name, *batches]
        if args.against:
            tree = stack.enter_context(_worktree(args.against))
            there = [sys.executable, str(HERE / "at_tree.py"), str(tree), *me[1:]]
            sides = [(args.against, [*there, "--tuned"]), ("this checkout", [*me, "--tuned"])]
        elif args.python:
            sides = [
                ("this interpreter", [*me, "--tuned"]),
                (args.python, [args.python, *me[1:], "--tuned"]),
            ]
        else:
            sides = [("CPython's GC defaults", me), ("worker's GC setting", [*me, "--tuned"])]
        for round_ in range(1, args.rounds + 1):
            rates = [_run(argv, label, round_, len(records), args.verbose) for label, argv in sides]
            print(
                f"round {round_}: ratio {sides[1][0]} / {sides[0][0]}: "
                f"{rates[1][0] / rates[0][0]:.2f} of CPU time "
                f"({rates[1][1] / rates[0][1]:.2f} of wall time)"
            )


if __name__ == "__main__":
    main()
