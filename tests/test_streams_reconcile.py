"""Exact reconciliation of the pure pipeline (simulator events → state machine → counters →
roll-ups) with the simulator's ground-truth ledger, at every level, in order and disordered:
three working-day hours at four centers, and a quiet night at round-the-clock centers."""

from __future__ import annotations

import functools
import random
from collections import defaultdict
from datetime import datetime, timedelta

import pytest

from hotline.producers.simulator import Ledger, MemorySink, SimConfig, simulate
from hotline.producers.simulator.centers import parse_service_hours
from hotline.producers.simulator.params import Profile
from hotline.producers.simulator.runner import DEFAULT_START
from hotline.regions import default_registry
from hotline.schemas import Event, Level
from hotline.streams.calls import CALL_EVENT_TYPES, CallAssembly
from hotline.streams.counters import ledger_view
from hotline.streams.pipeline import Pipeline, SnapshotStore
from hotline.streams.rollup import region_at

#: Ningbo, Nanjing, Hainan's provincial center (province-direct counties 4690xx) and the
#: Corps (660000 and its cities 6590xx): every roll-up rule is exercised.
CENTERS = ["C330200", "C320100", "C460000", "C660000"]
Key = tuple[datetime, str, str, str]


#: The simulated runs: ``working_day`` (three working-day hours at :data:`CENTERS`) is the
#: one every test uses; ``overnight`` crosses China's midnight (Thu 6 → Fri 7 Mar 2025,
#: 21:00–03:00) at round-the-clock centers, one understaffed, one with recordings only and
#: Urumqi's 650100 beside Ningbo, Hainan and the Corps: few calls, so one batch spans more
#: than the call horizon (the roll-ups once dropped part of such a batch as late).
CASES = {
    "working_day": SimConfig(
        seed=2025,
        centers=CENTERS,
        start=DEFAULT_START + timedelta(hours=9),
        duration=timedelta(hours=3),
    ),
    "overnight": SimConfig(
        seed=3,
        centers=["C330200", "C460000", "C660000", "C650100"],
        profiles={"C650100": Profile.UNDERSTAFFED, "C660000": Profile.RECORDINGS_ONLY},
        start=DEFAULT_START + timedelta(days=3, hours=21),
        duration=timedelta(hours=6),
        service_hours=parse_service_hours("00:00-24:00"),
    ),
}


@functools.cache
def run(case: str = "working_day") -> tuple[tuple[Event, ...], dict[Key, dict[str, int]]]:
    """One of :data:`CASES`: the call events and the ledger's call rows."""
    config = CASES[case]
    sink = MemorySink()
    ledger = Ledger(config.end)
    simulate(config, sink, ledger)
    events = tuple(e for e in sink.events if e.RECORD_TYPE in CALL_EVENT_TYPES)
    return events, ledger.call_rows()


def expected_at(
    level: Level, case: str = "working_day"
) -> dict[tuple[str, datetime, str, str], dict[str, int]]:
    registry = default_registry()
    out: dict[tuple[str, datetime, str, str], dict[str, int]] = defaultdict(dict)
    for (minute, region, line, channel), counters in run(case)[1].items():
        row = out[(region_at(registry, region, level), minute, line, channel)]
        for name, value in counters.items():
            row[name] = row.get(name, 0) + value
    return dict(out)


def got_at(store: SnapshotStore, level: Level) -> dict:
    """Latest snapshots of one level; all-zero ones (a call moved out of a bucket) dropped."""
    return {
        (s.region_code, s.bucket_start, s.business_line, s.channel): ledger_view(s.counts)
        for s in store.at_level(level)
        if any(s.counts)
    }


def drive(events: list[Event], batch: int) -> tuple[Pipeline, SnapshotStore]:
    pipeline, store = Pipeline(), SnapshotStore()
    for i in range(0, len(events), batch):
        store.write(pipeline.process(events[i : i + batch]).snapshots)
    store.write(pipeline.close().snapshots)
    return pipeline, store


def check_every_level(store: SnapshotStore, case: str = "working_day") -> None:
    for level in Level:
        assert got_at(store, level) == expected_at(level, case), level


@pytest.mark.parametrize("case", list(CASES))
def test_in_order_pipeline_equals_the_ledger_at_every_level(case: str) -> None:
    events, rows = run(case)
    if case == "working_day":
        assert sum(r["offered"] for r in rows.values()) > 1000
        assert {k[1][:2] for k in rows} >= {"33", "32", "46", "66"}
    else:  # a batch of 400 events spans more than the horizon, across regions
        assert {k[1][:2] for k in rows} >= {"33", "46", "65", "66"}
        at = [e.envelope.occurred_at for e in events]
        spans = [at[min(i + 399, len(at) - 1)] - at[i] for i in range(0, len(at), 400)]
        assert max(spans) > CallAssembly().config.retention + timedelta(minutes=11)
    pipeline, store = drive(list(events), batch=400)
    check_every_level(store, case)
    assert pipeline.calls.stats["late"] == pipeline.calls.stats["orphan"] == 0
    # National = the sum of everything, and each level partitions the same calls.
    totals = {
        level: sum(ledger_view(s.counts)["offered"] for s in store.at_level(level))
        for level in Level
    }
    assert len(set(totals.values())) == 1


@pytest.mark.slow
def test_disordered_duplicated_delivery_equals_the_ledger_at_every_level() -> None:
    """Events delivered up to 5 min late (inside the lateness horizon), 5 % twice."""
    events, _ = run()
    rnd = random.Random(12333)
    delivered: list[tuple[datetime, int, Event]] = []
    for e in events:
        for _ in range(2 if rnd.random() < 0.05 else 1):
            delay = timedelta(milliseconds=rnd.randrange(300_000))
            delivered.append((e.envelope.occurred_at + delay, rnd.randrange(10**9), e))
    delivered.sort(key=lambda t: (t[0], t[1]))
    pipeline, store = drive([e for _, _, e in delivered], batch=250)
    check_every_level(store)
    assert pipeline.calls.stats["duplicates"] > 0 and pipeline.calls.stats["late"] == 0


def test_snapshot_replay_in_any_order_changes_nothing() -> None:
    events, _ = run()
    pipeline, store = Pipeline(), SnapshotStore()
    emitted = []
    for i in range(0, len(events), 400):
        emitted.extend(pipeline.process(events[i : i + 400]).snapshots)
    emitted.extend(pipeline.close().snapshots)
    store.write(emitted)
    replay = SnapshotStore()
    shuffled = emitted + emitted[: len(emitted) // 2]
    random.Random(1).shuffle(shuffled)
    replay.write(shuffled)
    assert replay.rows == store.rows
    check_every_level(replay)
