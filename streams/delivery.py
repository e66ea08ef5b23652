"""The worker's writes, delivered in one go per step and awaited before the step ends.

A step of an agent (a batch) or of the timer writes thousands of messages: outputs, group-topic
bundles and the changed state keys' changelog records. Faust's ``send_soon`` (and a table's
``__setitem__``, which sends its changelog record that way) costs a future, a queue hop and a
task switch per message, and leaves delivery to the flush before the next offset commit.

:class:`Outbox` queues a step's messages in order; :meth:`Outbox.deliver` appends them to one
record batch per topic partition (aiokafka's ``create_batch``/``send_batch``), hands the batches
to the Kafka client and **waits until the broker has acknowledged every one**. The agents call
it before their batch ends, and Faust acknowledges a batch's events only after that
(``Stream.take_events``), so a committed offset implies its writes are in Kafka without relying
on any flush before the commit. One lock, held until delivery, serializes the steps of the
agents and the timer: the messages reach each partition in the order they were queued, which is
the order the in-memory state changed (a group's state keys share one changelog partition, so a
crash leaves a prefix of the write order; docs/streams.md, "Exactness under kill -9").
The state writes (queued with ``after``) go out only once everything else of the delivery is
acknowledged: a persisted state implies its outputs are in Kafka. Sent together, a kill -9 could
persist a step's state but not its outputs; what the state still held was re-sent at the next
load, but a cell or call created and evicted in the same step was lost for good.

:class:`ChangelogWriter` is the mapping that :meth:`GroupState.dump` writes to: the table's
store plus its changelog record (Faust's own key/value bytes and partition; a delete is a
tombstone, as Faust's ``on_key_del`` sends it), read back by Faust's changelog recovery.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Protocol

import faust
from faust.serializers.codecs import get_codec
from faust.utils import json as faust_json
from murmurhash2 import murmurhash2

__all__ = ["ChangelogWriter", "DeliveryFailed", "Outbox", "key_partition"]

_KAFKA_SEED = 0x9747B28C
"""The seed of Kafka's murmur2 (its Java client's ``Utils.murmur2``)."""


def key_partition(key: bytes, partitions: list[int]) -> int:
    """Where Kafka's default partitioner (aiokafka's, the Java client's) puts a keyed message:
    the positive murmur2 of the key modulo the number of partitions."""
    return partitions[(murmurhash2(key, _KAFKA_SEED) & 0x7FFFFFFF) % len(partitions)]


_Message = tuple[str, bytes | None, bytes | None, int | None]
"""Topic, key, value and partition (None: the default partitioner's) of a queued message."""


class DeliveryFailed(RuntimeError):
    """A message handed to the Kafka client was not acknowledged by the broker."""


class BatchBuilder(Protocol):
    def append(self, *, timestamp: int | None, key: bytes | None, value: bytes | None) -> Any: ...

    def close(self) -> None: ...


class BatchClient(Protocol):
    """What :meth:`Outbox.deliver` uses of aiokafka's producer."""

    async def partitions_for(self, topic: str) -> set[int]: ...

    def create_batch(self) -> BatchBuilder: ...

    async def send_batch(
        self, batch: BatchBuilder, topic: str, *, partition: int
    ) -> asyncio.Future[Any]: ...


class Outbox:
    """Messages of the current steps, in order, until :meth:`deliver` sends them with the
    Kafka client that ``client`` returns (asked for only when there is something to send)."""

    def __init__(self, client: Callable[[], BatchClient]) -> None:
        self._client = client
        self._messages: list[_Message] = []
        self._after: list[_Message] = []
        self._partitions: dict[str, list[int]] = {}
        self._lock = asyncio.Lock()
        self.delivered = 0

    def add(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        partition: int | None = None,
        *,
        after: bool = False,
    ) -> None:
        """Queue a message (``partition`` None: the default partitioner's, by key); with
        ``after``, it is sent once the messages queued without it are acknowledged."""
        (self._after if after else self._messages).append((topic, key, value, partition))

    def __len__(self) -> int:
        return len(self._messages) + len(self._after)

    async def deliver(self) -> int:
        """Send everything queued and wait until the broker acknowledged it; how many. The
        messages queued with ``after`` are sent once the others are acknowledged.

        A caller that finds the lock held waits for the other step's delivery, which may
        include its own messages: when this returns, everything queued before the call is
        delivered. Raises :class:`DeliveryFailed` when a batch was not acknowledged (and
        then sends none of the ``after`` messages).
        """
        async with self._lock:
            first, then = self._messages, self._after
            self._messages, self._after = [], []
            sent = await self._send_all(first)
            sent += await self._send_all(then)
            self.delivered += sent
            return sent

    async def _send_all(self, messages: list[_Message]) -> int:
        """Send ``messages`` and wait until the broker acknowledged every batch."""
        if not messages:
            return 0
        client = self._client()
        batches: dict[tuple[str, int], BatchBuilder] = {}
        futures: list[asyncio.Future[Any]] = []
        partitions = self._partitions
        for topic, key, value, partition in messages:
            if partition is None:  # the default partitioner's, by key
                known = partitions.get(topic) or await self._learn(client, topic)
                partition = key_partition(key or b"", known)
            batch = batches.get((topic, partition))
            if batch is None:
                batch = batches[(topic, partition)] = client.create_batch()
            if batch.append(key=key, value=value, timestamp=None) is None:  # full
                futures.append(await _send(client, batch, topic, partition))
                batch = batches[(topic, partition)] = client.create_batch()
                if batch.append(key=key, value=value, timestamp=None) is None:
                    raise DeliveryFailed(
                        f"a message of {len(value or b'')} bytes for {topic} does not fit "
                        "in a record batch"
                    )
        for (topic, partition), batch in batches.items():
            futures.append(await _send(client, batch, topic, partition))
        results = await asyncio.gather(*futures, return_exceptions=True)
        failed = [r for r in results if isinstance(r, BaseException)]
        if failed:
            raise DeliveryFailed(
                f"{len(failed)} of {len(futures)} record batches not delivered: {failed[0]!r}"
            )
        return len(messages)

    async def _learn(self, client: BatchClient, topic: str) -> list[int]:
        """A topic's partitions, asked once (keyed messages go where Kafka's default
        partitioner, murmur2 of the key, puts them)."""
        known = self._partitions[topic] = sorted(await client.partitions_for(topic))
        return known


async def _send(
    client: BatchClient, batch: BatchBuilder, topic: str, partition: int
) -> asyncio.Future[Any]:
    """Submit a batch, closed: nothing else joins it, and the client sends it without
    lingering for more."""
    batch.close()
    return await client.send_batch(batch, topic, partition=partition)


class ChangelogWriter:
    """``store[key] = value`` / ``store.pop(key)`` on a Faust table without its per-key
    ``send_soon``: the value goes to the table's store, its changelog record to the outbox,
    sent after the step's other messages (``after``)."""

    def __init__(self, table: faust.Table, outbox: Outbox) -> None:
        self.table = table
        self.outbox = outbox
        self.name = table.changelog_topic.get_topic_name()
        self._dump_key = _dumps(table.key_serializer)
        self._dump_value = _dumps(table.value_serializer)

    def __setitem__(self, key: str, value: Any) -> None:
        self.table.data[key] = value
        self._log(key, self._dump_value(value))

    def pop(self, key: str, default: Any = None) -> Any:
        """Remove a key (a tombstone, as Faust's ``on_key_del``); an absent key: nothing."""
        if key not in self.table.data:
            return default
        found = self.table.data.pop(key)
        self._log(key, None)
        return found

    def _log(self, key: str, value: bytes | None) -> None:
        raw_key = self._dump_key(key)
        self.outbox.add(self.name, raw_key, value, self.table.partition_for_key(key), after=True)


def _dumps(serializer: str) -> Callable[[Any], bytes]:
    """A table codec's ``dumps``. For ``json`` with orjson installed, the function Faust's json
    codec calls, whose bytes it passes on unchanged: the codec chain around it (three more
    calls) cost ~1 µs per state key written."""
    if serializer == "json" and faust_json.orjson is not None:
        return faust_json.dumps  # type: ignore[return-value]
    return get_codec(serializer).dumps
