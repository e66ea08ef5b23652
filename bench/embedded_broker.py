"""The benchmarks' own Kafka broker: on free ports in a temporary home, with the jars
``make install`` fetched (``.hotline/kafka/lib-<version>``); stopped at the end."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from pathlib import Path

from hotline.infra.kafka_broker import KAFKA_VERSION, KafkaBroker

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def embedded_broker(home: Path) -> Iterator[str]:
    """A Kafka broker on free ports in ``home``, ready; its bootstrap servers."""
    broker = KafkaBroker(
        home,
        port=free_port(),
        controller_port=free_port(),
        heap="512m",
        lib_dir=ROOT / ".hotline" / "kafka" / f"lib-{KAFKA_VERSION}",
    )
    broker.start()
    try:
        broker.wait_ready(timeout=120)
        yield broker.bootstrap_servers
    finally:
        broker.stop(timeout=30)
