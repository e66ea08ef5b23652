"""bench/sink_throughput.py times the bare reader and the sink alike: each from its first
message to its last (the sink: to the commit of its last), without start-up or close."""

from __future__ import annotations

import sys
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
    """Reads ``total`` messages in steps after a slow start (the group join), on a fake clock
    in ms: 25 messages at 300, 350, 400 and 450; like the real sink it commits the last ones
    only once stopped, after the idle poll it was in (20 ms), and then takes a while to close."""

    def __init__(self, clock: list[int]) -> None:
        self.clock, self.stats, self.stopped_at = clock, SinkStats(), None

    def tick(self) -> None:
        now = self.clock[0]
        self.stats.messages = 25 * len([t for t in (300, 350, 400, 450) if t <= now])
        if self.stopped_at is not None and now >= self.stopped_at + 20:
            self.stats.committed = self.stats.messages

    def run(self) -> None:
        """The thread's target; :class:`_Thread` never runs it."""

    def stop(self) -> None:
        if self.stopped_at is None:
            self.stopped_at = self.clock[0]


class _Thread:
    """The sink's thread, never started: the fake sink moves with the clock."""

    def __init__(self, **_: object) -> None:
        pass

    def start(self) -> None:
        pass

    def is_alive(self) -> bool:
        return True

    def join(self, timeout: float) -> None:
        pass


def test_the_sink_is_timed_from_its_first_message_to_its_last_commit(monkeypatch) -> None:
    clock, made = [0], []

    def sink(settings: object, config: object) -> _Sink:
        made.append(_Sink(clock))
        made[-1].config = config
        return made[-1]

    def sleep(seconds: float) -> None:
        clock[0] += round(seconds * 1000)
        made[0].tick()

    monkeypatch.setattr(sink_throughput, "Sink", sink)
    monkeypatch.setattr(sink_throughput.threading, "Thread", _Thread)
    monkeypatch.setattr(sink_throughput.time, "sleep", sleep)
    monkeypatch.setattr(sink_throughput.time, "perf_counter", lambda: clock[0] / 1000)
    seconds, _ = sink_throughput.sink_run(SimpleNamespace(), "group", 100)
    assert seconds == pytest.approx(
        0.170
    )  # 300 ms to 470 ms: first message to the last commit; no join, no close
    assert made[0].config.poll_timeout_s == sink_throughput.SINK_POLL_TIMEOUT_S
