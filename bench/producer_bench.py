"""Producer throughput: the delivery path (Avro encoding, checks, keys, routing, spool-ready
sink) against bare kafka-python sending the same pre-encoded records with the same settings.

    .venv/bin/python bench/producer_bench.py [--events 100000] [--bootstrap HOST:PORT]
        [--linger-ms N] [--batch-size BYTES] [--compression lz4|none]   # default: DeliveryConfig

Without ``--bootstrap`` it starts its own embedded broker on free ports in a temporary home
(jars from ``.hotline/kafka/lib-<version>``) and stops it at the end. Events come from the
simulator (Ningbo and Nanjing); both runs send the same messages to the same raw topics.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from embedded_broker import embedded_broker

from hotline.infra.topics import ensure_topics, topic_layout
from hotline.producers.base import DeliveryConfig
from hotline.producers.delivery import KafkaEventSink, Preparer, new_producer
from hotline.producers.simulator import MemorySink, SimConfig, simulate
from hotline.schemas import Event
from hotline.settings import KafkaSettings
from hotline.workdays import CHINA_TZ


def make_events(count: int) -> list[Event]:
    events: list[Event] = []
    start = datetime(2025, 3, 3, 8, tzinfo=CHINA_TZ)
    day = 0
    while len(events) < count:
        sink = MemorySink()
        config = SimConfig(
            seed=12333 + day,
            centers=["C330200", "C320100"],
            start=start + timedelta(days=day),
            duration=timedelta(hours=10),
        )
        simulate(config, sink)
        events += sink.events
        day += 1
    return events[:count]


def run(bootstrap: str, count: int, home: Path, overrides: dict[str, object]) -> None:
    prefix = f"bench{int(time.time())}"
    kafka = KafkaSettings(bootstrap_servers=bootstrap, topic_prefix=prefix)
    ensure_topics(bootstrap, [s for s in topic_layout(kafka, ["320000", "330000"])])
    print(f"generating {count:,} simulated events …", flush=True)
    events = make_events(count)
    config = DeliveryConfig(
        bootstrap_servers=bootstrap, topic_prefix=prefix, spool_root=home / "spool", **overrides
    )

    # warm-up: leaders elected, connections open, code paths hot
    warm = KafkaEventSink(config, "bench-warmup")
    for event in events[:2000]:
        warm.emit(event)
    warm.close()

    sink = KafkaEventSink(config, "bench-delivery")
    began = time.perf_counter()
    for event in events:
        sink.emit(event)
    sink.flush()
    delivery_s = time.perf_counter() - began
    assert not sink.spooling and sink.sent == len(events), (sink.sent, sink.spooling)
    sink.close()

    preparer = Preparer(kafka)
    records = [preparer.prepare(e) for e in events]
    producer = new_producer(config, "bench-bare")
    began = time.perf_counter()
    for r in records:
        producer.send(r.topic, value=r.value, key=r.key, headers=list(r.headers))
    producer.flush()
    bare_s = time.perf_counter() - began
    producer.close()

    encode_began = time.perf_counter()
    for e in events:
        preparer.prepare(e)
    encode_s = time.perf_counter() - encode_began

    delivery_rate, bare_rate = count / delivery_s, count / bare_s
    print(f"settings: acks=all, idempotence, {config.compression_type}, "
          f"linger_ms={config.linger_ms}, batch_size={config.batch_size}")  # fmt: skip
    print(f"delivery path (validate+Avro+route+send): {delivery_rate:>10,.0f} events/s "
          f"({delivery_s:.2f} s)")  # fmt: skip
    print(f"bare kafka-python, pre-encoded bytes:     {bare_rate:>10,.0f} events/s "
          f"({bare_s:.2f} s)")  # fmt: skip
    print(f"prepare alone (check+Avro+key+topic):     {count / encode_s:>10,.0f} events/s")
    print(f"ratio delivery / bare: {delivery_rate / bare_rate:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--bootstrap", help="an existing broker instead of a private one")
    parser.add_argument("--linger-ms", type=int, help="override DeliveryConfig.linger_ms")
    parser.add_argument("--batch-size", type=int, help="override DeliveryConfig.batch_size")
    parser.add_argument("--compression", help="override DeliveryConfig.compression_type")
    args = parser.parse_args()
    overrides: dict[str, object] = {}
    if args.linger_ms is not None:
        overrides["linger_ms"] = args.linger_ms
    if args.batch_size is not None:
        overrides["batch_size"] = args.batch_size
    if args.compression is not None:
        overrides["compression_type"] = None if args.compression == "none" else args.compression
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="hotline-bench-") as tmp:
        home = Path(tmp)
        if args.bootstrap:
            run(args.bootstrap, args.events, home, overrides)
            return
        with embedded_broker(home) as bootstrap:
            run(bootstrap, args.events, home, overrides)


if __name__ == "__main__":
    main()
