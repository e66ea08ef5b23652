"""Encode + decode throughput of hotline's codec against bare fastavro, in the same run.

Both sides encode the same dicts with the same parsed schemas and decode the bytes back;
the bare side is ``schemaless_writer`` into a ``BytesIO`` + ``schemaless_reader`` (no header,
no schema look-up), hotline's is ``Codec.encode`` + ``Codec.decode`` (single-object header,
fingerprint look-up, bounds checks, error wrapping). The event mix is mostly call lifecycle,
with surveys, tickets and agent states. Rounds alternate between the two sides and the best
round of each is reported; rounds are timed in this process's CPU time (``process_time``,
one thread) as well as wall time, since other processes on a shared box stretch wall time.

    .venv/bin/python bench/codec_bench.py [--events N] [--rounds R] [--seed S]
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from io import BytesIO
from typing import Any

from fastavro import schemaless_reader, schemaless_writer

from hotline.schemas.codec import default_codec
from hotline.schemas.examples import examples_by_type

#: Share of each record type in the mix (per 100 events).
MIX = {
    "call.offered": 14,
    "call.ivr_outcome": 14,
    "call.queued": 10,
    "call.answered": 9,
    "call.abandoned": 1,
    "call.transferred": 2,
    "call.ended": 14,
    "survey.response": 6,
    "ticket.created": 2,
    "ticket.assigned": 2,
    "ticket.resolved": 2,
    "ticket.closed": 2,
    "agent.state": 22,
}


def build_mix(events: int, seed: int) -> list[tuple[str, dict[str, Any]]]:
    """``events`` (record type, dict) pairs drawn from the examples with the :data:`MIX`."""
    rng = random.Random(seed)
    types = list(MIX)
    pool = {name: [e.to_avro() for e in examples_by_type()[name]] for name in types}
    chosen = rng.choices(types, weights=[MIX[t] for t in types], k=events)
    return [(name, rng.choice(pool[name])) for name in chosen]


def _bare(items: list[tuple[str, dict[str, Any]]]) -> Callable[[], None]:
    codec = default_codec()
    schemas = {name: codec._encoding[name][1] for name in MIX}  # the same parsed schemas
    work = [(schemas[name], record) for name, record in items]

    def run() -> None:
        for schema, record in work:
            out = BytesIO()
            schemaless_writer(out, schema, record)
            schemaless_reader(BytesIO(out.getvalue()), schema)

    return run


def _hotline(items: list[tuple[str, dict[str, Any]]]) -> Callable[[], None]:
    codec = default_codec()
    encode, decode = codec.encode, codec.decode

    def run() -> None:
        for name, record in items:
            decode(encode(name, record))

    return run


def _best(run: Callable[[], None], events: int, best: tuple[float, float]) -> tuple[float, float]:
    """(CPU, wall) events/s of one round, each kept if better than ``best``."""
    cpu, wall = time.process_time(), time.perf_counter()
    run()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return max(best[0], events / cpu), max(best[1], events / wall)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Encode+decode events/s: hotline's codec beside bare fastavro."
    )
    parser.add_argument("--events", type=int, default=50_000, help="events per round")
    parser.add_argument("--rounds", type=int, default=7, help="rounds per side (best is kept)")
    parser.add_argument("--seed", type=int, default=12333, help="seed of the event mix")
    args = parser.parse_args(argv)

    items = build_mix(args.events, args.seed)
    bare, hotline = _bare(items), _hotline(items)
    bare(), hotline()  # warm up
    bare_rate = hotline_rate = (0.0, 0.0)
    for _ in range(args.rounds):
        bare_rate = _best(bare, args.events, bare_rate)
        hotline_rate = _best(hotline, args.events, hotline_rate)
    size = sum(len(default_codec().encode(n, r)) for n, r in items) / len(items)
    print(f"events per round   {args.events} ({args.rounds} rounds, best kept)")
    print(f"mean encoded size  {size:.0f} bytes incl. 10-byte header")
    print("                   events/s (encode+decode), by CPU time | by wall time")
    print(f"bare fastavro      {bare_rate[0]:>9,.0f} | {bare_rate[1]:>9,.0f}")
    print(f"hotline codec      {hotline_rate[0]:>9,.0f} | {hotline_rate[1]:>9,.0f}")
    print(
        f"cost ratio         {bare_rate[0] / hotline_rate[0]:>9.3f} | "
        f"{bare_rate[1] / hotline_rate[1]:>9.3f} (hotline time / bare time)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
