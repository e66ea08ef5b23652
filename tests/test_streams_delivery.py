"""The worker's outbox and changelog writer, without a broker (streams/delivery.py): order per
partition, delivery awaited before ``deliver`` returns, failures, and state writes that Faust's
own changelog recovery reads back as written."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import faust
import pytest
from aiokafka.partitioner import DefaultPartitioner
from faust.serializers.codecs import get_codec
from faust.types import Message
from hypothesis import given, settings
from hypothesis import strategies as st

from hotline.streams.app import GroupTable, Worker, group_partition
from hotline.streams.delivery import ChangelogWriter, DeliveryFailed, Outbox, key_partition
from hotline.streams.worker_config import WorkerConfig


class Batch:
    """A record batch of at most ``room`` messages (``append`` returns None when full)."""

    def __init__(self, room: int) -> None:
        self.records: list[tuple[Any, Any]] = []
        self.room = room
        self.closed = False

    def append(self, *, key: Any, value: Any, timestamp: Any) -> object | None:
        if self.closed or len(self.records) >= self.room:
            return None
        self.records.append((key, value))
        return object()

    def close(self) -> None:
        self.closed = True


class Client:
    """A stand-in for aiokafka's producer (batch API). The broker acknowledges a batch only
    when the test says so (``ack``); ``fail`` names keys whose batch fails."""

    def __init__(self, fail: frozenset[bytes] = frozenset(), room: int = 100) -> None:
        self.sent: list[tuple[str, Any, Any, int]] = []
        self.unacked: list[tuple[Batch, asyncio.Future[None]]] = []
        self.fail = fail
        self.room = room
        self.auto_ack = True

    async def partitions_for(self, topic: str) -> set[int]:
        return {0, 1, 2}

    def create_batch(self) -> Batch:
        return Batch(self.room)

    async def send_batch(self, batch: Batch, topic: str, *, partition: int) -> asyncio.Future:
        assert batch.closed, "a batch is closed before it is submitted (no linger, no extras)"
        self.sent += [(topic, key, value, partition) for key, value in batch.records]
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.unacked.append((batch, future))
        if self.auto_ack:
            self.ack()
        return future

    def ack(self) -> None:
        for batch, future in self.unacked:
            if any(key in self.fail for key, _ in batch.records):
                future.set_exception(OSError("broker gone"))
            else:
                future.set_result(None)
        self.unacked.clear()


def test_messages_go_out_in_order_per_partition_and_only_once() -> None:
    async def scenario() -> Client:
        client = Client(room=2)
        outbox = Outbox(lambda: client)
        for i in range(5):
            outbox.add("a", b"k%d" % i, b"x", 1)
        outbox.add("b", b"key", None, 0)
        outbox.add("c", b"key", b"v")  # no partition: the default partitioner's
        assert len(outbox) == 7
        assert await outbox.deliver() == 7
        outbox.add("a", b"k5", b"y", 1)
        assert await outbox.deliver() == 1
        assert await outbox.deliver() == 0
        assert outbox.delivered == 8 and len(outbox) == 0
        return client

    client = asyncio.run(scenario())
    assert [k for t, k, _, p in client.sent if t == "a"] == [b"k%d" % i for i in range(6)]
    assert ("b", b"key", None, 0) in client.sent
    assert ("c", b"key", b"v", DefaultPartitioner()(b"key", [0, 1, 2], [0, 1, 2])) in client.sent


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=120), st.integers(min_value=1, max_value=64))
def test_keys_land_on_the_partition_kafkas_default_partitioner_picks(
    key: bytes, count: int
) -> None:
    partitions = list(range(count))
    assert key_partition(key, partitions) == DefaultPartitioner()(key, partitions, partitions)


def test_deliver_returns_only_once_the_broker_acknowledged_everything() -> None:
    async def scenario() -> None:
        client = Client()
        outbox = Outbox(lambda: client)
        client.auto_ack = False
        outbox.add("a", b"k", b"v", 0)
        first = asyncio.ensure_future(outbox.deliver())
        await asyncio.sleep(0.01)
        assert client.sent and not first.done()  # handed over, not acknowledged yet
        # a second step queues meanwhile: it waits for the first delivery, then sends its own
        outbox.add("a", b"k2", b"v", 0)
        second = asyncio.ensure_future(outbox.deliver())
        await asyncio.sleep(0.01)
        assert len(client.sent) == 1 and not second.done()
        client.ack()
        assert await first == 1
        await asyncio.sleep(0.01)
        assert len(client.sent) == 2 and not second.done()
        client.ack()
        assert await second == 1

    asyncio.run(scenario())


def test_state_writes_go_out_only_once_the_outputs_are_acknowledged() -> None:
    """A persisted state implies its outputs are in Kafka: a kill -9 between the two leaves
    outputs without their state (the step is replayed, to the same versions), never the
    reverse, which lost the outputs of a cell created and evicted in the same step."""

    async def scenario() -> None:
        client = Client()
        client.auto_ack = False
        outbox = Outbox(lambda: client)
        outbox.add("out", b"o1", b"v", 0)
        outbox.add("changelog", b"s", b"v", 0, after=True)
        outbox.add("out", b"o2", b"v", 1)
        assert len(outbox) == 3
        delivery = asyncio.ensure_future(outbox.deliver())
        await asyncio.sleep(0.01)
        assert [k for _, k, _, _ in client.sent] == [b"o1", b"o2"]
        client.ack()
        await asyncio.sleep(0.01)
        assert [k for _, k, _, _ in client.sent] == [b"o1", b"o2", b"s"]
        assert not delivery.done()
        client.ack()
        assert await delivery == 3 and outbox.delivered == 3

        failing = Client(fail=frozenset({b"o"}))
        outbox = Outbox(lambda: failing)
        outbox.add("out", b"o", b"v", 0)
        outbox.add("changelog", b"s", b"v", 0, after=True)
        with pytest.raises(DeliveryFailed):
            await outbox.deliver()
        assert [k for _, k, _, _ in failing.sent] == [b"o"]  # the state write never went out

    asyncio.run(scenario())


def test_a_batch_the_broker_did_not_acknowledge_fails_the_delivery() -> None:
    async def scenario() -> None:
        client = Client(fail=frozenset({b"lost"}))
        outbox = Outbox(lambda: client)
        outbox.add("a", b"kept", b"x", 1)
        outbox.add("b", b"lost", b"y", 0)
        with pytest.raises(DeliveryFailed, match=r"1 of 2 record batches not delivered.*broker"):
            await outbox.deliver()

    asyncio.run(scenario())


def test_a_message_larger_than_a_batch_fails_loudly() -> None:
    async def scenario() -> None:
        client = Client(room=0)
        outbox = Outbox(lambda: client)
        outbox.add("a", b"k", b"x" * 10, 0)
        with pytest.raises(DeliveryFailed, match="10 bytes for a does not fit"):
            await outbox.deliver()

    asyncio.run(scenario())


def test_state_writes_are_read_back_by_fausts_changelog_recovery(tmp_path) -> None:
    app = faust.App(
        "outbox-test",
        broker="kafka://127.0.0.1:1",
        store="memory://",
        datadir=str(tmp_path),
        key_serializer="json",
        value_serializer="json",
    )

    def table() -> GroupTable:
        return app.tables.add(
            GroupTable(
                app=app, name=f"state{len(app.tables)}", default=None, partitions=6, key_type=str
            )
        )

    written, recovered = table(), table()
    client = Client()
    outbox = Outbox(lambda: client)
    writer = ChangelogWriter(written, outbox)
    writer["320000|c|call-1"] = {"e": ["AAE="], "r": None, "k": None}
    writer["320000|m"] = {"wm": 5, "src": {"t:0": [5, 1]}}
    writer["330000|b|60000|330200|pension|voice"] = {"parts": {"c1": [1, [1, 0]]}}
    writer["320000|m"] = {"wm": 9, "src": {}, "note": "接通率 ü"}
    assert writer.pop("320000|c|call-1") == {"e": ["AAE="], "r": None, "k": None}
    assert writer.pop("320000|c|never-written", "absent") == "absent"  # no tombstone
    assert dict(written.data) == {
        "320000|m": {"wm": 9, "src": {}, "note": "接通率 ü"},
        "330000|b|60000|330200|pension|voice": {"parts": {"c1": [1, [1, 0]]}},
    }
    assert asyncio.run(outbox.deliver()) == 5
    codec = get_codec("json")  # the bytes of Faust's own codec, byte for byte
    assert sorted((k, v or b"") for _, k, v, _ in client.sent) == sorted(
        (codec.dumps(k), b"" if v is None else codec.dumps(v))
        for k, v in [
            ("320000|c|call-1", {"e": ["AAE="], "r": None, "k": None}),
            ("320000|m", {"wm": 5, "src": {"t:0": [5, 1]}}),
            ("330000|b|60000|330200|pension|voice", {"parts": {"c1": [1, [1, 0]]}}),
            ("320000|m", {"wm": 9, "src": {}, "note": "接通率 ü"}),
            ("320000|c|call-1", None),
        ]
    )
    topic = written.changelog_topic.get_topic_name()
    assert {t for t, *_ in client.sent} == {topic}
    for _, key, _, partition in client.sent:  # a group's keys share its partition
        assert partition == group_partition(key.decode().strip('"').partition("|")[0], 6)

    async def replay() -> None:
        events = []
        for offset, (name, key, value, partition) in enumerate(client.sent):
            message = Message(name, partition, offset, 0.0, 0, {}, key, value, None)
            events.append(await written.changelog_topic.decode(message))
        recovered.apply_changelog_batch(events)

    asyncio.run(replay())
    assert dict(recovered.data) == dict(written.data)


def test_a_step_that_fails_stops_the_worker_before_faust_acknowledges_it(
    tmp_path, monkeypatch
) -> None:
    """Faust acks a batch whose agent raised (``take_events``' ``finally``): a failing step
    must end the process instead, so nothing past the last commit is acknowledged."""
    worker = Worker(WorkerConfig(app_id="t-fatal", partitions=3, datadir=tmp_path))
    exits: list[int] = []

    def fake_exit(code: int) -> None:
        exits.append(code)
        raise SystemExit(code)

    monkeypatch.setattr(os, "_exit", fake_exit)
    done: list[int] = []

    async def batches():
        for n in (1, 2, 3):
            yield [n]

    async def step(events: list[int]) -> None:
        if events == [2]:
            raise DeliveryFailed("broker gone")
        done.extend(events)

    with pytest.raises(SystemExit):
        asyncio.run(worker._steps(batches(), step))  # type: ignore[arg-type]
    assert exits == [70] and done == [1]  # exited at the failing step, nothing after it


def test_any_failed_delivery_stops_the_worker(tmp_path, monkeypatch) -> None:
    """Also outside an agent step (the timer's, a revocation's): no metadata for a topic."""
    worker = Worker(WorkerConfig(app_id="t-fatal-2", partitions=3, datadir=tmp_path))

    class NoMetadata(Client):
        async def partitions_for(self, topic: str) -> set[int]:
            raise TimeoutError(f"no metadata for {topic}")

    client = NoMetadata()
    worker.outbox = Outbox(lambda: client)
    worker.outbox.add("hotline.alerts", b"key", b"value")  # keyed: needs the partitions
    exits: list[int] = []

    def fake_exit(code: int) -> None:
        exits.append(code)
        raise SystemExit(code)

    monkeypatch.setattr(os, "_exit", fake_exit)
    with pytest.raises(SystemExit):
        asyncio.run(worker._deliver())
    assert exits == [70] and client.sent == []
