"""Sink write path vs a bare clickhouse-driver insert of the same rows, rows/s side by side.

    .venv/bin/python bench/sink_bench.py [--clickhouse-port 9000] [--rows 100000] [--batch 10000]

Side by side, into ``call_records`` of a scratch database ``hotline_bench``:
``sink``  = decode each message with the codec, check its contract, build the row
            (sinks/rows.py), insert per batch with the sink's Writer;
``bare``  = insert the already-built tuples with ``client.execute`` (no decode, no checks).
Kafka is not involved (FACTS.md has kafka-python's consume rate). Without ``--clickhouse-port``
a ClickHouse is started in a temp home and removed afterwards (as by ``query_bench.py``).
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from clickhouse_driver import Client
from query_bench import add_server_arguments, clickhouse

from hotline.schemas import CallRecord, Channel, default_codec
from hotline.sinks.migrate import migrate
from hotline.sinks.rows import TABLES, to_rows
from hotline.sinks.writer import Writer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_server_arguments(parser, "hotline_bench")  # a scratch database, dropped
    parser.add_argument("--rows", type=int, default=100_000, help="call records per side")
    parser.add_argument("--batch", type=int, default=10_000, help="rows per insert")
    args = parser.parse_args()
    with clickhouse(args) as (client, _port):
        run(client, args)


def run(client: Client, args: argparse.Namespace) -> None:
    """Both sides into ``args.database``.call_records; prints rows/s of each and their ratio."""
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
    db = args.database
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
    print(f"ratio sink / bare:              {bare_s / sink_s:.2f}")
    client.execute(f"DROP DATABASE IF EXISTS {db}")


if __name__ == "__main__":
    main()
