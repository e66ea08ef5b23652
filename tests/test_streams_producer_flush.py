"""The producer flush before a commit drains Faust's send buffer (streams/producer_flush.py).

Pure logic: a real ``ProducerBuffer`` service whose messages go to a slow stand-in channel (a
publish takes longer than the 0.1 s after which Faust's own flush gives up)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from faust.transport.producer import ProducerBuffer

from hotline.streams.producer_flush import drain_before_commit, drained

PUBLISH_S = 0.3


class SlowChannel:
    def __init__(self) -> None:
        self.published: list[object] = []

    async def publish_message(self, fut: object, wait: bool = False) -> None:
        await asyncio.sleep(PUBLISH_S)
        self.published.append(fut)


async def _flushed(patch: bool, messages: int = 3) -> tuple[int, bool]:
    buffer = ProducerBuffer()
    buffer.app = SimpleNamespace(conf=SimpleNamespace(producer_threaded=False))
    if patch:
        drain_before_commit(buffer)
    await buffer.start()
    channel = SlowChannel()
    try:
        for _ in range(messages):
            buffer.put(SimpleNamespace(message=SimpleNamespace(channel=channel)))
        await buffer.flush()
        return len(channel.published), drained(buffer)
    finally:
        while not drained(buffer):  # let the rest go before stopping (Faust raises otherwise)
            await asyncio.sleep(PUBLISH_S)
        await buffer.stop()


def test_faust_flush_alone_returns_with_messages_still_buffered() -> None:
    published, empty = asyncio.run(_flushed(patch=False))
    assert published < 3 and not empty


def test_drained_flush_returns_only_when_every_message_was_handed_over() -> None:
    assert asyncio.run(_flushed(patch=True)) == (3, True)


def test_drained_flush_of_an_idle_buffer_returns_at_once() -> None:
    assert asyncio.run(_flushed(patch=True, messages=0)) == (0, True)
