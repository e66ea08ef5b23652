"""Sink write path vs a bare clickhouse-driver insert of the same rows.

    python bench/sink_bench.py --port 9000 [--rows 100000] [--batch 10000]

Side by side, into ``call_records`` of a scratch database ``hotline_bench``:
``sink``  = decode each message with the codec, check its contract, build the row
            (sinks/rows.py), insert per batch with the sink's Writer;
``bare``  = insert the already-built tuples with ``client.execute`` (no decode, no checks).
Kafka is not involved (FACTS.md has kafka-python's consume rate).
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta

from clickhouse_driver import Client

from hotline.schemas import CallRecord, Channel, default_codec
from hotline.sinks.migrate import migrate
from hotline.sinks.rows import TABLES, to_rows
from hotline.sinks.writer import Writer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=10_000)
    args = parser.parse_args()
    codec = default_codec()
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    messages = [
        codec.encode_model(
            CallRecord(
                call_id=f"b{i}", center_id="ctr-1", region_code="320102", channel=Channel.PHONE,
                started_at=t0 + timedelta(seconds=i), queued=True, answered=True,
                talk_ms=1000 + i % 500, version=1,
            )
        )
        for i in range(args.rows)
    ]  # fmt: skip
    client = Client(args.host, port=args.port)
    db = "hotline_bench"
    client.execute(f"DROP DATABASE IF EXISTS {db}")
    migrate(client, db)
    writer = Writer(client, db)

    start = time.perf_counter()
    rows = []
    for offset, value in enumerate(messages):
        rows.append(to_rows(codec, value, topic="b", partition=0, offset=offset)[0].row)
        if len(rows) == args.batch:
            writer.write({"call_records": rows})
            rows = []
    if rows:
        writer.write({"call_records": rows})
    sink_s = time.perf_counter() - start

    built = [to_rows(codec, v, topic="b", partition=0, offset=0)[0].row for v in messages]
    client.execute(f"TRUNCATE TABLE {db}.call_records")
    columns = ", ".join(TABLES["call_records"])
    start = time.perf_counter()
    for i in range(0, len(built), args.batch):
        client.execute(
            f"INSERT INTO {db}.call_records ({columns}) VALUES", built[i : i + args.batch]
        )
    bare_s = time.perf_counter() - start
    print(f"rows={args.rows} batch={args.batch}")
    print(f"sink (decode+check+row+insert): {args.rows / sink_s:,.0f} rows/s")
    print(f"bare clickhouse-driver insert:  {args.rows / bare_s:,.0f} rows/s")
    client.execute(f"DROP DATABASE IF EXISTS {db}")


if __name__ == "__main__":
    main()
