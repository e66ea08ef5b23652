"""A minimal Faust worker for the kill -9 recovery test: counts messages per key in a table.

Configured by environment variables (the test runs it as ``python counter_app.py worker``):
``COUNTER_APP_ID``, ``COUNTER_BROKER`` (host:port), ``COUNTER_SOURCE`` (topic),
``COUNTER_PARTITIONS``, ``COUNTER_DATADIR``, ``COUNTER_WEB_PORT`` (unused: the web server is
off), ``COUNTER_BULK`` (``1``: the worker's recovery, which reads the changelog in bulk first,
:mod:`hotline.streams.changelog_reader`; ``interrupted``: the same, failing halfway through
its first batch, so Faust's recovery must read on from where it stopped; otherwise Faust's
own), ``COUNTER_OUTPUT`` (a JSON file the worker rewrites twice a second with its table:
``{key: count}``) and ``COUNTER_RECOVERED`` (a JSON file written once, when the table's first
recovery is complete and before any message is processed: ``{key: {"n": …, "offset": …}}``).

The table is changelog-backed (``memory://`` store, so a restarted worker rebuilds it from the
changelog alone). Each entry keeps the offset of the last message it counted, so a message
delivered again after a crash (its offset was not committed yet) is not counted twice: the
counts are exact if and only if the table comes back complete.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import faust

from hotline.streams.changelog_reader import BulkRecovery, BulkRecoveryTableManager

APP_ID = os.environ["COUNTER_APP_ID"]
PARTITIONS = int(os.environ["COUNTER_PARTITIONS"])
OUTPUT = Path(os.environ["COUNTER_OUTPUT"])
RECOVERED = Path(os.environ["COUNTER_RECOVERED"])


class InterruptedBulkRecovery(BulkRecovery):
    """The bulk read, failing after it applied half of its first batch."""

    def _apply(self, tp, records):  # type: ignore[no-untyped-def]
        records = list(records)
        super()._apply(tp, records[: len(records) // 2])
        raise RuntimeError("interrupted by the test")


class InterruptedTableManager(BulkRecoveryTableManager):
    recovery_class = InterruptedBulkRecovery


MANAGERS = {"1": BulkRecoveryTableManager, "interrupted": InterruptedTableManager}
MANAGER = MANAGERS.get(os.environ.get("COUNTER_BULK", ""))

app = faust.App(
    APP_ID,
    broker=f"kafka://{os.environ['COUNTER_BROKER']}",
    store="memory://",
    datadir=os.environ["COUNTER_DATADIR"],
    web_enabled=False,
    web_port=int(os.environ.get("COUNTER_WEB_PORT", "0")) or 6066,
    topic_partitions=PARTITIONS,
    consumer_auto_offset_reset="earliest",
    broker_session_timeout=6.0,
    broker_heartbeat_interval=1.0,
    broker_commit_interval=1.0,
    key_serializer="json",  # the table's changelog: JSON keys and values
    value_serializer="json",
    **({"TableManager": MANAGER} if MANAGER is not None else {}),
)
source = app.topic(
    os.environ["COUNTER_SOURCE"],
    key_type=bytes,
    value_type=bytes,
    key_serializer="raw",
    value_serializer="raw",
    partitions=PARTITIONS,
)
counts = app.Table(
    "counts",
    default=None,
    partitions=PARTITIONS,
    key_type=str,
)


@app.agent(source)
async def count(stream: faust.StreamT) -> None:
    async for event in stream.events():
        key = event.key.decode()
        offset = event.message.offset
        entry = counts.get(key) or {"n": 0, "offset": -1}
        if offset > entry["offset"]:  # one key lives on one partition: offsets only grow
            counts[key] = {"n": entry["n"] + 1, "offset": offset}


def _write(path: Path, value: object) -> None:
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps(value))
    partial.replace(path)


@counts.on_recover
async def recovered() -> None:
    """The table as recovery restored it: Faust resumes the source partitions only after its
    tables' recover callbacks. A later recovery (another rebalance) may follow processing."""
    if not RECOVERED.exists():
        _write(RECOVERED, dict(counts.items()))


@app.timer(0.5)
async def dump() -> None:
    _write(OUTPUT, {key: entry["n"] for key, entry in counts.items()})


if __name__ == "__main__":
    app.main()
