"""A producer flush that drains Faust's send buffer before an offset commit.

Faust commits offsets after ``producer.flush()``, and it flushes before a rebalance hands the
partitions over: that is what makes a committed offset imply that the state writes and outputs
of its events are in Kafka. But ``ProducerBuffer.flush`` (faust-streaming 0.15.3) returns as soon
as no buffered message was sent for 0.1 s, with messages still in the buffer: on a loaded
machine the commit then went ahead while the changelog writes of the last batch were still
buffered. The next owner of the partition recovered the table without them and read on from the
committed offset, so those events were lost (seen as a ``call.offered`` missing after a worker
left: its later events were dead-lettered as orphans and a sequence gap was raised).

:func:`drain_before_commit` replaces the buffer's ``flush`` with one that waits until the buffer
is empty and its sender idle (no message between the queue and the Kafka client).
"""

from __future__ import annotations

import asyncio
import contextlib
import types

from faust.transport.producer import ProducerBuffer

__all__ = ["drain_before_commit", "drained"]

_WAIT_S = 0.1


def drained(buffer: ProducerBuffer) -> bool:
    """True when nothing is queued and the sender task waits for the next message."""
    pending = buffer.pending
    return pending.empty() and bool(pending._getters)  # type: ignore[attr-defined]


async def _flush(self: ProducerBuffer) -> None:
    while not drained(self):
        if self.state != "running":  # stopping: as Faust's own flush
            if self.size:
                raise RuntimeError(f"cannot flush: producer {self.state}, {self.size} queued")
            return
        self.message_sent.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.message_sent.wait(), timeout=_WAIT_S)


def drain_before_commit(buffer: ProducerBuffer) -> None:
    """Make ``buffer.flush()`` wait until every buffered message reached the Kafka client."""
    buffer.flush = types.MethodType(_flush, buffer)  # type: ignore[method-assign]
