"""Count the worker's state writes by table-key kind, in-process (no broker).

The same simulated events as ``streams_bench.py`` go through one ``GroupState`` per province in
batches of ``--batch`` events, and the provinces' snapshots, agent time and ticket counts of
each batch through the national group (``000000``), as the worker sends them to it. The
batches of all provinces take turns in the order of their first event. After each batch
``GroupState.dump`` writes into the worker's own state table through its own
``ChangelogWriter`` (streams/delivery.py), whose outbox here only counts: so a write counts
exactly when the worker sends a changelog record (a delete of a key never written sends none).
Each is one changelog message, sent in the worker's per-step record batches (the outbox), so
this is where its state cost comes from. Kinds: ``c`` call states, ``x`` roll-up cells (the
national group's too), ``b`` buckets, ``a`` agent timelines, ``y`` agent-time pages, ``tc``
ticket count cells, ``am``/``al``/``ae``/``ad`` alerts, ``k``/``ktc`` tickets (``kt-``: the
deletes of ticket tombstones written before 1 Dec), ``s`` sequences, ``m`` meta
(docs/streams.md); a kind with ``-``: deletes (tombstones).

Not the worker's own batching: ``worker_steps.py --verbose`` counts the state writes of its
ingest and groups steps (2,000 raw events, 8 group-topic messages).

    .venv/bin/python bench/state_writes.py --events 60000 --batch 1000
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from in_process import bench_config, write_kind
from streams_bench import CENTERS, make_events

from hotline.regions import default_registry
from hotline.schemas import Event, default_codec
from hotline.streams.config import StreamsConfig
from hotline.streams.delivery import ChangelogWriter
from hotline.streams.groups import NATIONAL_GROUP, GroupOutput, GroupState, Inbound


class CountingOutbox:
    """What :class:`ChangelogWriter` uses of the worker's outbox: it counts the changelog
    records it is given per key kind (``<group>|<kind>|…``, JSON; ``-`` for a delete) and per
    group."""

    def __init__(self) -> None:
        self.kinds: Counter[str] = Counter()
        self.groups: Counter[str] = Counter()

    def add(
        self,
        topic: str,
        key: bytes,
        value: bytes | None,
        partition: Any = None,
        after: bool = False,
    ) -> None:
        group, kind = write_kind(key, value)
        self.kinds[kind] += 1
        self.groups[group] += 1


def worker_state() -> tuple[ChangelogWriter, CountingOutbox, StreamsConfig]:
    """The worker's state table (streams/app.py: its key and value codecs, its partitions)
    behind the worker's ``ChangelogWriter``, with an outbox that counts; the worker's rules."""
    from hotline.streams.app import Worker

    config = bench_config("bench-state-writes")
    outbox = CountingOutbox()
    store = ChangelogWriter(Worker(config).table, outbox)  # type: ignore[arg-type]
    return store, outbox, config.streams


def count_writes(events: list[Event], batch: int) -> CountingOutbox:
    """State writes (per kind and per group) when each province's events go through its
    group in batches, and what each batch sends the national group through that group."""
    registry, codec = default_registry(), default_codec()
    store, outbox, config = worker_state()
    by_group: dict[str, list[Inbound]] = defaultdict(list)
    for i, e in enumerate(events):
        by_group[registry.province_of(e.envelope.region_code).code].append(Inbound(e, "t", 0, i))
    states = {group: GroupState(group, config, registry, codec) for group in by_group}
    national = GroupState(NATIONAL_GROUP, config, registry, codec)

    def step(state: GroupState, out: GroupOutput) -> None:
        state.dump(store)
        national.process_snapshots(
            out.province_snapshots, out.province_agent_times, out.province_ticket_counts
        )
        national.dump(store)

    turns = sorted(  # (the first event's place, group, the batch)
        (mine[i].offset, group, mine[i : i + batch])
        for group, mine in by_group.items()
        for i in range(0, len(mine), batch)
    )
    for _, group, items in turns:
        step(states[group], states[group].process(items))
    for state in states.values():  # the idle flush at the end of a replay (not the nation's)
        point = state.flush_point()
        if point is not None:
            step(state, state.advance(point))
    return outbox


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=60_000, help="simulated events (60000)")
    parser.add_argument("--batch", type=int, default=1_000, help="events per group batch (1000)")
    args = parser.parse_args()
    events = make_events(args.events, CENTERS, seed=12333)
    families = Counter(e.RECORD_TYPE.split(".")[0] for e in events)
    print(f"{len(events):,} events: " + ", ".join(f"{k} {v:,}" for k, v in families.items()))
    counted = count_writes(events, args.batch)
    kinds, national = counted.kinds, counted.groups[NATIONAL_GROUP]
    print(
        f"{sum(kinds.values()):,} state writes in batches of {args.batch:,} "
        f"(the national group's: {national:,}):"
    )
    for kind, n in kinds.most_common():
        print(f"  {kind:>3} {n:>8,}")


if __name__ == "__main__":
    main()
