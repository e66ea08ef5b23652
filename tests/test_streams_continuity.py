"""Offsets Faust's consumer skipped are read from Kafka and processed in order
(streams/continuity.py): the bookkeeping and the worker's batch step without a broker, the
reader on the real broker."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from faust.types import TP, Message
from kafka import KafkaProducer

from hotline.infra.topics import TopicSpec, ensure_topics
from hotline.streams.app import Worker
from hotline.streams.continuity import Continuity, MissedReader
from hotline.streams.worker_config import WorkerConfig

A, B = TP("raw", 0), TP("raw", 1)


def _message(tp: TP, offset: int) -> Message:
    return Message(tp.topic, tp.partition, offset, 0.0, 0, {}, b"k", b"%d" % offset, None, tp=tp)


def test_continuity_finds_the_offsets_skipped_since_the_committed_offset() -> None:
    c = Continuity()
    assert c.unknown([A, B, A]) == [A, B]
    c.start(A, 5)
    c.start(B, None)  # nothing known: the first message sets it
    assert c.unknown([A, B]) == []
    assert c.missing(A, 5) is None
    c.processed(A, 5)
    assert c.missing(A, 8) == (6, 8)
    c.processed(A, 8)
    assert c.missing(A, 7) is None  # given again: processed again, nothing missing
    c.processed(A, 7)
    assert c.missing(A, 9) is None
    assert c.missing(B, 100) is None
    c.processed(B, 100)
    assert c.missing(B, 102) == (101, 102)
    c.reset()
    assert c.unknown([A]) == [A]


class Reader:
    """The offsets asked for, as messages."""

    def __init__(self) -> None:
        self.asked: list[tuple[TP, int, int]] = []

    async def read(self, tp: TP, first: int, stop: int) -> list[Message]:
        self.asked.append((tp, first, stop))
        return [_message(tp, o) for o in range(first, stop)]


def test_a_worker_step_reads_what_faust_skipped_before_the_rest(tmp_path) -> None:
    worker = Worker(WorkerConfig(app_id="t-gaps", partitions=3, datadir=tmp_path))
    reader = Reader()
    worker.missed = reader  # type: ignore[assignment]
    committed = {A: 2, B: 0}

    async def committed_offsets(tps: list[Any]) -> dict[Any, int]:
        return {tp: committed[tp] for tp in tps}

    worker._committed = committed_offsets  # type: ignore[method-assign]

    def step(tp_offsets: list[tuple[TP, int]]) -> list[tuple[TP, int]]:
        events = [SimpleNamespace(message=_message(tp, o)) for tp, o in tp_offsets]
        got = asyncio.run(worker._without_gaps(events))  # type: ignore[arg-type]
        return [(m.tp, m.offset) for m in got]

    # Faust resumes A at its committed offset 2 but gives 3, 4, 7, 8: 2, 5 and 6 are read
    assert step([(A, 3), (A, 4), (B, 0), (A, 7), (A, 8)]) == [
        (A, 2), (A, 3), (A, 4), (B, 0), (A, 5), (A, 6), (A, 7), (A, 8),
    ]  # fmt: skip
    assert reader.asked == [(A, 2, 3), (A, 5, 7)]
    assert worker.stats["skipped_read"] == 3
    assert step([(A, 6), (A, 9), (B, 1)]) == [(A, 6), (A, 9), (B, 1)]  # 6 again: no read
    assert len(reader.asked) == 2
    # after a rebalance another worker had processed A up to 20: it starts there
    committed[A] = 20
    asyncio.run(worker._rebalanced())
    assert step([(A, 20), (A, 21)]) == [(A, 20), (A, 21)]
    assert len(reader.asked) == 2


@pytest.mark.kafka
def test_the_missed_reader_reads_a_range_of_one_partition(bootstrap: str, unique: str) -> None:
    topic = f"{unique}.missed"
    ensure_topics(bootstrap, [TopicSpec(topic, 2)])
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    for i in range(30):
        producer.send(topic, key=b"k%d" % i, value=b"v%d" % i, partition=0)
    producer.flush()
    producer.close()

    async def read() -> list[Message]:
        reader = MissedReader(bootstrap, timeout_s=30)
        try:
            first = await reader.read(TP(topic, 0), 5, 9)
            again = await reader.read(TP(topic, 0), 28, 30)  # the same consumer, another range
            return first + again
        finally:
            await reader.close()

    got = asyncio.run(read())
    assert [(m.offset, m.key, m.value) for m in got] == [
        (o, b"k%d" % o, b"v%d" % o) for o in (5, 6, 7, 8, 28, 29)
    ]
    assert all(m.tp == TP(topic, 0) and m.timestamp > 0 for m in got)


def test_a_step_fails_when_the_committed_offsets_stay_unknown(tmp_path, monkeypatch) -> None:
    """Found by a code audit (30 Nov): when the committed offsets could not be asked (the
    broker busy in a rebalance), the step went on checking from its own first message — the
    very place where Faust was seen to skip offsets, then committed past them. It now asks
    again, and after the last try the step fails (the worker exits 70 and its restart resumes
    from the commit); a later answer is used as usual."""
    worker = Worker(WorkerConfig(app_id="t-starts", partitions=3, datadir=tmp_path))
    worker.missed = Reader()  # type: ignore[assignment]
    monkeypatch.setattr("hotline.streams.app._START_PAUSE_S", 0.0)
    answers: list[Any] = [RuntimeError("coordinator busy")] * 5

    async def committed_offsets(tps: list[Any]) -> dict[Any, int]:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return {tp: answer for tp in tps}

    worker._committed = committed_offsets  # type: ignore[method-assign]
    events = [SimpleNamespace(message=_message(A, o)) for o in (5, 6)]
    with pytest.raises(RuntimeError, match="coordinator busy"):
        asyncio.run(worker._without_gaps(events))  # type: ignore[arg-type]
    assert answers == []
    answers[:] = [RuntimeError("coordinator busy"), 3]
    got = asyncio.run(worker._without_gaps(events))  # type: ignore[arg-type]
    assert [m.offset for m in got] == [3, 4, 5, 6]  # 3 and 4 read from Kafka
