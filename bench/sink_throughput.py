"""Can one sink keep up with one stream worker? Messages/s of each, on the same messages.

    .venv/bin/python bench/sink_throughput.py [--events 60000] [--rounds 1]

1. The worker's steps run in-process on simulated events (``in_process.py``, as in
   ``worker_steps.py``, with the worker's garbage-collector setting); every message they send
   to a topic the sink reads (call records, snapshots, agent time, ticket counts, tickets,
   alerts, queues, gaps, dead letters) is kept, and the steps' own CPU time gives the
   worker's output rate (outputs/s).
2. Those messages go to an embedded broker (own ports, temp home), ClickHouse starts in a temp
   home (or ``--clickhouse-port``) and is migrated.
3. Per round, side by side: a bare kafka-python consumer reads them all (its ceiling), then
   ``hotline.sinks.sink.Sink`` (a fresh consumer group) consumes them into ClickHouse,
   timed from its first message (after its group join) to the commit of the last one.
   Every round writes the same rows again (the tables keep one row per identity).

The ratio sink / worker above 1 means one sink drains what one worker makes faster than the
worker makes it.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from embedded_broker import embedded_broker
from in_process import InProcessWorker, RawRecord
from kafka import KafkaConsumer, KafkaProducer
from query_bench import add_server_arguments, clickhouse
from streams_bench import CENTERS, make_events, provinces_of, provision

from hotline.infra.topics import shared_topic
from hotline.producers.delivery import Preparer
from hotline.settings import ClickHouseSettings, KafkaSettings, Settings
from hotline.sinks.migrate import migrate
from hotline.sinks.sink import SINK_ROLES, Sink, SinkConfig
from hotline.streams.gc_tuning import collect_less_often

PREFIX = "bench"
SEED = 7


def worker_outputs(events: int) -> tuple[list[RawRecord], float, list[str]]:
    """The messages the worker's steps send to the sink's topics, the steps' seconds, and the
    provinces of the events."""
    kafka = KafkaSettings(topic_prefix=PREFIX)
    simulated = make_events(events, CENTERS, SEED)
    collect_less_often()  # the worker's garbage-collector setting, as the worker runs it
    prepare = Preparer(kafka).prepare
    raw = [(r.topic, r.key, r.value) for r in map(prepare, simulated)]
    steps = InProcessWorker({topic for topic, _, _ in raw}, ingest_batch=2000, group_batch=8)
    steps.keep({shared_topic(kafka, role) for role in SINK_ROLES})
    asyncio.run(steps.feed(raw))
    return steps.kept, steps.ingest_s + steps.groups_s, provinces_of(simulated)


def send(bootstrap: str, messages: list[RawRecord]) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, batch_size=512 * 1024)
    for topic, key, value in messages:
        producer.send(topic, key=key, value=value)
    producer.flush()
    producer.close()


def bare_consume(bootstrap: str, topics: set[str], total: int) -> float:
    """Seconds for a bare kafka-python consumer to read ``total`` messages of ``topics``."""
    consumer = KafkaConsumer(
        *sorted(topics),
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_poll_records=5000,
    )
    started, seen = time.perf_counter(), 0
    while seen < total:
        seen += sum(len(batch) for batch in consumer.poll(timeout_ms=500).values())
    elapsed = time.perf_counter() - started
    consumer.close()
    return elapsed


def sink_run(settings: Settings, group: str, total: int) -> tuple[float, int]:
    """Seconds for the sink to write and commit ``total`` messages, from its first message
    (its consumer group's join before that is not counted) to the commit of the last one; it
    is stopped once it has read them all, so the last rows do not wait out ``max_wait_s``.
    Also the rows it wrote."""
    sink = Sink(settings, SinkConfig(group_id=group, agent_states=False))
    thread = threading.Thread(target=sink.run, daemon=True)
    thread.start()
    started = None
    while sink.stats.messages < total:
        time.sleep(0.005)
        if not thread.is_alive():
            raise RuntimeError("the sink stopped before it had read every message")
        if started is None and sink.stats.messages:
            started = time.perf_counter()
    sink.stop()  # it flushes and commits what it holds, then returns
    thread.join(120)
    done_at = time.perf_counter()
    if sink.stats.committed < total:
        raise RuntimeError(f"the sink committed {sink.stats.committed:,} of {total:,} messages")
    assert started is not None
    return done_at - started, sink.stats.rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=60_000, help="simulated raw events")
    parser.add_argument("--rounds", type=int, default=1, help="rounds of bare reader and sink")
    add_server_arguments(parser, "hotline_sink_bench")  # a scratch database, dropped
    args = parser.parse_args()
    print(f"the worker's steps on {args.events:,} simulated events …", flush=True)
    messages, worker_s, provinces = worker_outputs(args.events)
    topics = {topic for topic, _, _ in messages}
    print(
        f"worker (in-process steps): {len(messages):,} messages for the sink in {worker_s:.2f} s "
        f"= {len(messages) / worker_s:,.0f} outputs/s ({args.events / worker_s:,.0f} events/s)",
        flush=True,
    )
    with (
        tempfile.TemporaryDirectory(prefix="hotline-sink-bench-") as tmp,
        embedded_broker(Path(tmp)) as bootstrap,
        clickhouse(args) as (client, port),
    ):
        kafka = KafkaSettings(bootstrap_servers=bootstrap, topic_prefix=PREFIX)
        provision(kafka, provinces)
        send(bootstrap, messages)
        client.execute(f"DROP DATABASE IF EXISTS {args.database}")
        migrate(client, args.database)
        settings = Settings(
            kafka=kafka, clickhouse=ClickHouseSettings(port=port, database=args.database)
        )
        for round_ in range(1, args.rounds + 1):
            bare_s = bare_consume(bootstrap, topics, len(messages))
            sink_s, rows = sink_run(settings, f"sink-bench-{round_}", len(messages))
            sink_rate = len(messages) / sink_s
            print(
                f"round {round_}: bare kafka-python read {len(messages) / bare_s:,.0f} msg/s; "
                f"sink {sink_rate:,.0f} msg/s ({rows:,} rows in {sink_s:.2f} s); "
                f"ratio sink / worker {sink_rate * worker_s / len(messages):.2f}, "
                f"sink / bare read {bare_s / sink_s:.2f}",
                flush=True,
            )
        client.execute(f"DROP DATABASE IF EXISTS {args.database}")


if __name__ == "__main__":
    main()
