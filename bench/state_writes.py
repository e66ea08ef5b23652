"""Count the worker's state writes by table-key kind, in-process (no broker).

The same simulated events as ``streams_bench.py`` go through one ``GroupState`` per province in
batches; after each batch ``GroupState.dump`` writes into a table that only counts. Each write
is one changelog message (Faust's per-message send) in the real worker, so this is where its
state cost comes from. Kinds: ``c`` call states, ``x`` roll-up cells, ``b`` buckets, ``t``
tombstones, ``r`` repeat entries, ``a`` agent timelines, ``y`` agent-time pages, ``tc`` ticket
count cells, ``am``/``al``/``ae``/``ad`` alerts, ``k``/``kt`` tickets, ``s`` sequences,
``m`` meta (docs/streams.md).

    .venv/bin/python bench/state_writes.py --events 60000 --batch 1000
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from streams_bench import CENTERS, make_events

from hotline.regions import default_registry
from hotline.schemas import Event, default_codec
from hotline.streams.config import StreamsConfig
from hotline.streams.groups import GroupState, Inbound


class _Counting(dict):  # type: ignore[type-arg]
    """A table that keeps nothing and counts writes per key kind (``<group>|<kind>|…``)."""

    def __init__(self, kinds: Counter[str]) -> None:
        super().__init__()
        self.kinds = kinds

    def __setitem__(self, key: str, value: Any) -> None:
        self.kinds[key.split("|")[1]] += 1

    def pop(self, key: str, default: Any = None) -> Any:
        self.kinds[key.split("|")[1]] += 1
        return default


def count_writes(events: list[Event], batch: int) -> Counter[str]:
    """State writes per kind when each province's events go through its group in batches."""
    registry, codec, config = default_registry(), default_codec(), StreamsConfig()
    by_group: dict[str, list[Event]] = defaultdict(list)
    for e in events:
        by_group[registry.province_of(e.envelope.region_code).code].append(e)
    kinds: Counter[str] = Counter()
    table = _Counting(kinds)
    for group, mine in by_group.items():
        state = GroupState(group, config, registry, codec)
        for i in range(0, len(mine), batch):
            state.process(Inbound(e, "t", 0, j) for j, e in enumerate(mine[i : i + batch]))
            state.dump(table)
        point = state.flush_point()
        if point is not None:
            state.advance(point)
            state.dump(table)
    return kinds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=60_000, help="simulated events (60000)")
    parser.add_argument("--batch", type=int, default=1_000, help="events per group batch (1000)")
    args = parser.parse_args()
    events = make_events(args.events, CENTERS, seed=12333)
    families = Counter(e.RECORD_TYPE.split(".")[0] for e in events)
    print(f"{len(events):,} events: " + ", ".join(f"{k} {v:,}" for k, v in families.items()))
    kinds = count_writes(events, args.batch)
    print(f"{sum(kinds.values()):,} state writes in batches of {args.batch:,}:")
    for kind, n in kinds.most_common():
        print(f"  {kind:>3} {n:>8,}")


if __name__ == "__main__":
    main()
