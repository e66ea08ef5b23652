"""bench/state_writes.py counts a state write exactly when the worker sends a changelog record:
through the worker's own table and ChangelogWriter, an outbox that counts in place of Kafka."""

from __future__ import annotations

import sys
from pathlib import Path

from hotline.streams.groups import NATIONAL_GROUP

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

from state_writes import count_writes, worker_state
from streams_bench import CENTERS, make_events


def test_a_delete_counts_only_for_a_key_that_was_written() -> None:
    store, outbox, _ = worker_state()
    store.pop("320000|kt|T-1", None)  # GroupState.dump's put(key, None) of a key never written
    assert not outbox.kinds
    store["320000|kt|T-1"] = 1_700_000_000_000
    store.pop("320000|kt|T-1", None)
    store.pop("320000|kt|T-1", None)
    assert outbox.kinds == {"kt": 1, "kt-": 1}
    assert outbox.groups == {"320000": 2}


def test_the_national_group_is_counted_too() -> None:
    counted = count_writes(make_events(3000, CENTERS[:2], seed=7), batch=500)
    assert counted.groups[NATIONAL_GROUP] > 0
    assert len(counted.groups) == 3  # two provinces and the nation
    assert sum(counted.kinds.values()) == sum(counted.groups.values())
    assert {"c", "x", "b", "m"} <= set(counted.kinds)
