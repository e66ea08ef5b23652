"""The state table's changelog read back in bulk before Faust's own recovery.

Faust's recovery of a memory-store table passes every changelog message through its consumer
machinery one at a time (a queue, a task and a timeout each): ~220 µs per message here, so a
restart after two weeks of two centers took 82–96 s (docs/streams-measured.md). Its recovery
starts from each changelog partition's offset in ``active_offsets`` and reads to the
partition's highwater. :class:`BulkRecovery` reads that same range first, with its own
aiokafka consumer in batches of thousands, decodes the messages with the changelog topic's
own schema and applies them with the table's own ``apply_changelog_batch`` (the code Faust
applies its batches with), then moves ``active_offsets`` to the highwater. Faust's recovery
then finds nothing left to read and resumes the agents.

It runs inside Faust's recovery service, after the rebalance listener returned (the consumer
group's heartbeats go on meanwhile), right after Faust built the offsets to read from
(``Recovery._build_offsets``, faust-streaming 0.15.3, pinned). Faust gives that call the
broker request timeout (90 s by default) and stops its recovery service when it runs out, so
the bulk read stops after :data:`_BUDGET` of it and leaves the rest to Faust, as it does on
any error; so are messages after the highwater, if any. A rebalance that begins during the
bulk read (Faust signals ``signal_recovery_start`` after revoking partitions and filtering
``active_offsets``) stops it before it applies anything more: applied after that, a batch of a
revoked partition put its offset back into ``active_offsets``, where it would outlive the
partition's recovered keys (a memory store drops them) and make a later recovery of it start
there instead of at the beginning.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from typing import Any, NamedTuple

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from faust.tables.manager import TableManager
from faust.tables.recovery import Recovery
from faust.types import TP, CollectionT, ConsumerT

__all__ = ["BulkRecovery", "BulkRecoveryTableManager"]

log = logging.getLogger(__name__)

_MAX_RECORDS = 20_000
"""Changelog messages per fetch."""
_FETCH_BYTES = 16 * 1024 * 1024
"""Bytes per partition per fetch (aiokafka's default is 1 MiB)."""
_STUCK_S = 30.0
"""Seconds without a message before the bulk read leaves the rest to Faust."""
_BUDGET = 0.6
"""The share of Faust's timeout for building the offsets that the bulk read may take."""


class _Message(NamedTuple):
    """What a memory store's ``apply_changelog_batch`` reads of an event's message."""

    value: bytes | None
    partition: int


class _Event(NamedTuple):
    """A decoded changelog message, as a memory store's ``apply_changelog_batch`` reads it."""

    key: Any
    value: Any
    message: _Message


class BulkRecovery(Recovery):
    """Faust's recovery, with each active changelog range read in bulk first."""

    logger = logging.getLogger("faust.tables.recovery.bulk")
    """Faust's recovery lines stay under Faust's loggers (``hotline`` quiets them)."""

    async def _build_offsets(
        self, consumer: ConsumerT, tps: set[TP], destination: Any, title: str
    ) -> None:
        await super()._build_offsets(consumer, tps, destination, title)
        if destination is self.active_offsets and tps:
            await self._read_in_bulk(tps)

    async def _read_in_bulk(self, tps: set[TP]) -> None:
        """Apply the changelog messages of ``tps`` after their offsets (as Faust built them)
        up to their highwaters, moving each partition's offset along; what is left after an
        error or the time budget, Faust's recovery reads."""
        ranges: dict[TP, int] = {}  # partition → its last offset to read
        starts: dict[TP, int] = {}
        for tp in tps:
            first, last = self.active_offsets[tp] + 1, self.active_highwaters.get(tp)
            if last is not None and last >= first:
                ranges[tp], starts[tp] = last, first
        if not ranges:
            return
        started = time.monotonic()
        deadline = started + _BUDGET * float(self.app.conf.broker_request_timeout)
        servers = [f"{url.host}:{url.port or 9092}" for url in self.app.conf.broker]
        reader = AIOKafkaConsumer(
            bootstrap_servers=servers,
            enable_auto_commit=False,
            group_id=None,
            max_partition_fetch_bytes=_FETCH_BYTES,
        )
        read = 0
        try:
            await reader.start()
            reader.assign([TopicPartition(*tp) for tp in ranges])
            for tp, first in starts.items():
                reader.seek(TopicPartition(*tp), first)
            progress_at = time.monotonic()
            while ranges and (now := time.monotonic()) < deadline and now - progress_at < _STUCK_S:
                # Let the worker's other tasks run between batches: a fetch whose records are
                # buffered already returns without waiting, so a read of many batches held the
                # event loop to its end, and the recovery's sampler (its log lines and the
                # status file, app.py) saw nothing of it.
                await asyncio.sleep(0)
                batches = await reader.getmany(timeout_ms=1000, max_records=_MAX_RECORDS)
                if self.signal_recovery_start.is_set():
                    break  # another rebalance began meanwhile: its recovery starts over
                for atp, records in batches.items():
                    tp = TP(atp.topic, atp.partition)
                    if tp in ranges and (mine := [r for r in records if r.offset <= ranges[tp]]):
                        self._apply(tp, mine)
                        self.active_offsets[tp] = mine[-1].offset
                        read += len(mine)
                        progress_at = time.monotonic()
                for tp, last in list(ranges.items()):
                    if await reader.position(TopicPartition(*tp)) > last:
                        self.active_offsets[tp] = last
                        reader.pause(TopicPartition(*tp))
                        del ranges[tp]
        except Exception as exc:  # Faust's recovery goes on from the offsets reached
            log.warning("changelog read in bulk stopped (%r); Faust reads the rest", exc)
        finally:
            await reader.stop()
        log.info(
            "changelog read in bulk: %d messages of %d partitions in %.1f s%s",
            read,
            len(starts),
            time.monotonic() - started,
            f"; {len(ranges)} left to Faust" if ranges else "",
        )

    def _apply(self, tp: TP, records: Iterable[ConsumerRecord]) -> None:
        """Decode ``records`` as Faust's consumer would and apply them to the table."""
        table: CollectionT = self.tp_to_table[tp]
        schema = table.changelog_topic.schema
        app = self.app
        events = [
            _Event(
                schema.loads_key(app, r),
                schema.loads_value(app, r),
                _Message(r.value, r.partition),
            )
            for r in records
        ]
        table.apply_changelog_batch(events)  # type: ignore[arg-type]


class BulkRecoveryTableManager(TableManager):
    """Faust's table manager with :class:`BulkRecovery` (the app's ``TableManager``)."""

    logger = logging.getLogger("faust.tables.manager.bulk")
    recovery_class: type[BulkRecovery] = BulkRecovery

    @property
    def recovery(self) -> Recovery:
        if self._recovery is None:
            self._recovery = self.recovery_class(self.app, self, beacon=self.beacon, loop=self.loop)
        return self._recovery
