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
   ``hotline.sinks.sink.Sink`` (a fresh consumer group) consumes them into ClickHouse. Both
   are timed from their first message (the group join, metadata and first fetch before it
   are not counted): the bare reader to its last message (the messages of its first poll,
   in hand when its clock starts, are not counted), the sink to the commit of its last one
   (its stats; it polls with a 20 ms timeout here, so that once stopped it does not sit
   out its 0.5 s poll before the last flush; closing its consumer is not counted).
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
    """The messages the worker's steps send to the sink's topics, the steps' CPU seconds, and
    the provinces of the events."""
    kafka = KafkaSettings(topic_prefix=PREFIX)
    simulated = make_events(events, CENTERS, SEED)
    collect_less_often()  # the worker's garbage-collector setting, as the worker runs it
    prepare = Preparer(kafka).prepare
    raw = [(r.topic, r.key, r.value) for r in map(prepare, simulated)]
    steps = InProcessWorker({topic for topic, _, _ in raw}, ingest_batch=2000, group_batch=8)
    steps.keep({shared_topic(kafka, role) for role in SINK_ROLES})
    asyncio.run(steps.feed(raw))
    return steps.kept, steps.ingest_cpu_s + steps.groups_cpu_s, provinces_of(simulated)


def send(bootstrap: str, messages: list[RawRecord]) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, batch_size=512 * 1024)
    for topic, key, value in messages:
        producer.send(topic, key=key, value=value)
    producer.flush()
    producer.close()


def bare_consume(bootstrap: str, topics: set[str], total: int) -> float | None:
    """Messages/s of a bare kafka-python consumer reading ``total`` messages of ``topics``,
    timed as the sink is: from its first message, i.e. the return of its first poll that
    brought any (the metadata fetch, offset reset and first fetch before it are not
    counted), to the last message. The messages of that first poll came before the clock
    started, so they are not counted either. None: all came in the first poll (too few to
    time)."""
    consumer = KafkaConsumer(
        *sorted(topics),
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_poll_records=5000,
    )
    started, first, seen = 0.0, 0, 0
    while seen < total:
        got = sum(len(batch) for batch in consumer.poll(timeout_ms=500).values())
        if got and not seen:
            started, first = time.perf_counter(), got
        seen += got
    elapsed = time.perf_counter() - started
    consumer.close()
    return (seen - first) / elapsed if seen > first else None


SINK_POLL_TIMEOUT_S = 0.02
"""The bench's sink polls with this timeout (the sink's default: 0.5 s). A stopped sink
flushes its last rows only once its poll returns, and nothing more comes after the last
message: with the default, up to 0.5 s idle would end the timing."""


def sink_run(settings: Settings, group: str, total: int) -> tuple[float, int]:
    """Seconds for the sink to write and commit ``total`` messages, from its first message
    (its consumer group's join before that is not counted) to the commit of the last one (its
    stats show all committed; closing its consumer afterwards is not counted). It is stopped
    once it has read them all, so the last rows do not wait out ``max_wait_s``. Also the rows
    it wrote. Both ends are seen by sampling its stats every 5 ms."""
    config = SinkConfig(group_id=group, agent_states=False, poll_timeout_s=SINK_POLL_TIMEOUT_S)
    sink = Sink(settings, config)
    thread = threading.Thread(target=sink.run, daemon=True)
    thread.start()
    started = done_at = None
    stopped = False
    while done_at is None:
        time.sleep(0.005)
        stats = sink.stats
        if started is None and stats.messages:
            started = time.perf_counter()
        if stats.committed >= total:
            done_at = time.perf_counter()
        elif not thread.is_alive():
            raise RuntimeError(
                f"the sink stopped having read {stats.messages:,} and committed "
                f"{stats.committed:,} of {total:,} messages"
            )
        elif stats.messages >= total and not stopped:
            sink.stop()  # it flushes and commits what it holds, then returns
            stopped = True
    sink.stop()
    thread.join(120)
    assert started is not None
    return done_at - started, sink.stats.rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=60_000, help="simulated raw events")
    parser.add_argument("--rounds", type=int, default=1, help="rounds of bare reader and sink")
    add_server_arguments(parser, "hotline_sink_bench")  # a scratch database, dropped
    args = parser.parse_args()
    print(f"the worker's steps on {args.events:,} simulated events …", flush=True)
    messages, worker_s, provinces = worker_outputs(args.events)
    topics = {topic for topic, _, _ in messages}
    print(
        f"worker (in-process steps): {len(messages):,} messages for the sink in {worker_s:.2f} s "
        f"of CPU = {len(messages) / worker_s:,.0f} outputs/s "
        f"({args.events / worker_s:,.0f} events/s)",
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
            bare_rate = bare_consume(bootstrap, topics, len(messages))
            sink_s, rows = sink_run(settings, f"sink-bench-{round_}", len(messages))
            sink_rate = len(messages) / sink_s
            bare = (
                f"{bare_rate:,.0f} msg/s"
                if bare_rate
                else "all in its first poll (too few messages to time)"
            )
            print(
                f"round {round_}: bare kafka-python read {bare}; "
                f"sink {sink_rate:,.0f} msg/s ({rows:,} rows in {sink_s:.2f} s); "
                f"ratio sink / worker {sink_rate * worker_s / len(messages):.2f}"
                + (f", sink / bare read {sink_rate / bare_rate:.2f}" if bare_rate else ""),
                flush=True,
            )
        client.execute(f"DROP DATABASE IF EXISTS {args.database}")


if __name__ == "__main__":
    main()
