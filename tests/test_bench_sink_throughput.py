"""bench/sink_throughput.py times the bare reader and the sink alike: each from its first
message to its last (the sink: to the commit of its last), without start-up or close."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from hotline.sinks.sink import SinkStats

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import sink_throughput


class _Consumer:
    """Polls return these batch sizes; each poll takes one second of a fake clock."""

    def __init__(self, sizes: list[int], clock: list[float]) -> None:
        self.sizes, self.clock = list(sizes), clock

    def poll(self, timeout_ms: int) -> dict:
        self.clock[0] += 1.0
        size = self.sizes.pop(0)
        return {"tp": [None] * size} if size else {}

    def close(self) -> None:
        self.clock[0] += 100.0  # closing is not timed


def _bare(monkeypatch: pytest.MonkeyPatch, sizes: list[int]) -> float | None:
    clock = [0.0]
    monkeypatch.setattr(sink_throughput, "KafkaConsumer", lambda *_, **__: _Consumer(sizes, clock))
    monkeypatch.setattr(sink_throughput.time, "perf_counter", lambda: clock[0])
    return sink_throughput.bare_consume("bootstrap", {"t"}, sum(sizes))


def test_the_bare_reader_is_timed_from_its_first_message_to_its_last(monkeypatch) -> None:
    # empty polls (metadata, offset reset, first fetch) at 1 and 2; the first 3 messages come
    # with the poll that ends at 3 and start the clock; the last poll ends at 5: 7 messages
    # in 2 seconds
    assert _bare(monkeypatch, [0, 0, 3, 2, 5]) == 3.5


def test_a_bare_read_that_came_in_one_poll_is_not_timed(monkeypatch) -> None:
    assert _bare(monkeypatch, [0, 4]) is None


class _Sink:
    """Reads ``total`` messages in steps after a slow start; like the real sink, it commits
    the last ones only once stopped (after an idle poll) and then takes a while to close."""

    def __init__(self, settings: object, config: object) -> None:
        self.config = config
        self.stats = SinkStats()
        self._stopping = threading.Event()

    def run(self) -> None:
        time.sleep(0.3)  # the group join: not timed
        for _ in range(4):
            self.stats.messages += 25
            time.sleep(0.05)
        self._stopping.wait(5)
        time.sleep(0.02)  # the idle poll it was in
        self.stats.committed = self.stats.messages
        time.sleep(0.5)  # closing its consumer: not timed

    def stop(self) -> None:
        self._stopping.set()


def test_the_sink_is_timed_from_its_first_message_to_its_last_commit(monkeypatch) -> None:
    made: list[_Sink] = []

    def sink(settings: object, config: object) -> _Sink:
        made.append(_Sink(settings, config))
        return made[-1]

    monkeypatch.setattr(sink_throughput, "Sink", sink)
    seconds, _ = sink_throughput.sink_run(SimpleNamespace(), "group", 100)
    assert 0.2 - 0.02 <= seconds < 0.2 + 0.15  # 4 × 50 ms + the idle poll; no join, no close
    assert made[0].config.poll_timeout_s == sink_throughput.SINK_POLL_TIMEOUT_S
