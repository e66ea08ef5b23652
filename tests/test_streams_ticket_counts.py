"""Ticket counts in the worker's groups: created, resolved and resolved on time per minute ×
region × category equal the simulator's ledger at every level — in order, shuffled with
duplicates, and after crashes that leave none or a prefix of a step's state writes."""

from __future__ import annotations

import random
from collections.abc import Iterable
from datetime import datetime

import pytest
from group_driver import Latest, drive, in_batches
from test_streams_tickets_agents import run

from hotline.regions import default_registry
from hotline.schemas import TICKET_COUNT_COUNTERS, Event, Level, TicketCountSnapshot, default_codec
from hotline.streams.config import StreamsConfig
from hotline.streams.groups import GroupOutput, GroupState
from hotline.streams.rollup import region_at
from hotline.streams.ticket_counts import TicketCount

Counts = dict[tuple[Level, str, int, str], tuple[int, ...]]


def expected() -> Counts:
    return ticket_counts_at_every_level(run()[1])


def ticket_counts_at_every_level(ledger_rows: Iterable[dict]) -> Counts:
    """The ledger's ticket rows at every level: (level, region, minute ms, category) →
    (created, resolved, resolved on time)."""
    registry, out = default_registry(), {}
    for row in ledger_rows:
        if row["kind"] != "tickets":
            continue
        minute = int(datetime.fromisoformat(row["minute"]).timestamp() * 1000)
        for level in Level:
            key = (level, region_at(registry, row["region_code"], level), minute, row["category"])
            old = out.get(key, (0,) * len(TICKET_COUNT_COUNTERS))
            out[key] = tuple(o + row[n] for o, n in zip(old, TICKET_COUNT_COUNTERS, strict=True))
    return out


def snapshots_in(rows: Iterable[TicketCountSnapshot]) -> Counts:
    """Wire snapshots (the latest per key) as :func:`ticket_counts_at_every_level` has them."""
    return {
        (s.level, s.region_code, int(s.bucket_start.timestamp() * 1000), s.category.value): counts
        for s in rows
        if any(counts := tuple(getattr(s, name) for name in TICKET_COUNT_COUNTERS))
    }


def _tickets() -> list[Event]:
    return [e for e in run()[0] if e.RECORD_TYPE.startswith("ticket.")]


def _drive(batches_of: dict[str, list[list[Event]]], **crashes: object) -> Counts:
    latest = Latest(lambda t: (t.level, t.region_code, t.minute_ms, t.category))  # type: ignore[attr-defined]

    def emit(out: GroupOutput) -> None:
        latest.write(out.ticket_counts)

    groups = drive(batches_of, emit, **crashes)  # type: ignore[arg-type]
    registry, codec, config = default_registry(), default_codec(), StreamsConfig()
    for g, (state, table) in groups.items():
        reloaded = GroupState.load(g, table, config, registry, codec)
        assert reloaded.ticket_counts.cells == state.ticket_counts.cells
    rows = latest.rows.values()
    return {
        (t.level, t.region_code, t.minute_ms, t.category): t.counts for t in rows if any(t.counts)
    }  # type: ignore[attr-defined]


def test_ticket_counts_equal_the_ledger_at_every_level() -> None:
    want = expected()
    assert sum(v[0] for k, v in want.items() if k[0] is Level.NATIONAL) > 20
    assert sum(v[2] for v in want.values()) > 0  # some resolved on time
    assert _drive(in_batches(_tickets())) == want


def test_shuffled_and_duplicated_ticket_events_are_exact() -> None:
    rng = random.Random(3)
    batches_of = in_batches(_tickets(), size=100)
    for batches in batches_of.values():
        for i, batch in enumerate(batches):
            mixed = batch + batch[::4]
            rng.shuffle(mixed)
            batches[i] = mixed
    assert _drive(batches_of) == expected()


@pytest.mark.parametrize("torn", [False, True], ids=["none-written", "torn-write"])
def test_crashes_then_replay_are_exact(torn: bool) -> None:
    assert _drive(in_batches(_tickets(), size=50), crash_every=3, torn=torn) == expected()


def test_wire_record_is_the_model() -> None:
    codec = default_codec()
    count = TicketCount(Level.PROVINCE, "330000", 1_740_000_000_000, 3, (2, 1, 1), "complaint")
    model = TicketCountSnapshot(**count.to_avro())
    assert codec.encode("ticket_count.snapshot", count.to_avro()) == codec.encode_model(model)
    assert TicketCount.from_dict(count.to_dict()) == count
    old = {k: v for k, v in count.to_dict().items() if k != "level"}  # before the level was sent
    assert TicketCount.from_dict(old) == count
