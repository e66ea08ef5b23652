"""The embedded local stack: one Kafka broker and one ClickHouse server under one home folder.

Both run as detached child processes (they outlive the command that started them), with data,
logs and pid files under ``settings.stack.home`` (default ``.hotline/``)::

    .hotline/kafka/        jars, data, server.properties, kafka.log, kafka.pid
    .hotline/clickhouse/   data, log/, config.xml, users.xml, pid

:meth:`LocalStack.up` is idempotent: what already runs is left alone; it returns once both
services answer their health checks. :meth:`LocalStack.down` stops both cleanly; data stays.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from hotline.errors import ConfigurationError
from hotline.infra.base import Service, ServiceStatus
from hotline.infra.clickhouse_server import ClickHouseServer
from hotline.infra.kafka_broker import KafkaBroker
from hotline.settings import KafkaSettings, Settings
from hotline.web_server import CannotListen, listen

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LocalStack:
    """The two services of the embedded stack, built from settings."""

    kafka: KafkaBroker
    clickhouse: ClickHouseServer
    startup_timeout_s: float

    @classmethod
    def from_settings(cls, settings: Settings) -> LocalStack:
        stack = settings.stack
        return cls(
            kafka=KafkaBroker(
                stack.home,
                local_kafka_port(settings.kafka),
                stack.kafka_controller_port,
                stack.kafka_heap,
            ),
            clickhouse=ClickHouseServer.from_settings(settings),
            startup_timeout_s=stack.startup_timeout_s,
        )

    @property
    def services(self) -> tuple[Service, ...]:
        return (self.kafka, self.clickhouse)

    @property
    def home(self) -> Path:
        """The stack home (the parent of the services' folders), absolute."""
        return self.kafka.home

    def ports(self) -> dict[str, list[Port]]:
        """Every port each service listens on, by service name."""
        return {
            "kafka": [
                Port(self.kafka.port, "Kafka", "HOTLINE_KAFKA__BOOTSTRAP_SERVERS"),
                Port(
                    self.kafka.controller_port,
                    "Kafka controller",
                    "HOTLINE_STACK__KAFKA_CONTROLLER_PORT",
                ),
            ],
            "clickhouse": [
                Port(self.clickhouse.tcp_port, "ClickHouse", "HOTLINE_CLICKHOUSE__PORT"),
                Port(self.clickhouse.http_port, "ClickHouse HTTP", "HOTLINE_CLICKHOUSE__HTTP_PORT"),
            ],
        }

    def check_ports(self) -> None:
        """Raise ConfigurationError naming the first port that a service not yet running from
        this home would listen on but something else holds (its own running services pass)."""
        running = {status.name for status in self.status() if status.running}
        for name, ports in self.ports().items():
            if name in running:
                continue
            for port in ports:
                if port_in_use(port.number):
                    raise ConfigurationError(
                        f"port {port.number} ({port.label}) is in use: stop what holds it or "
                        f"set {port.setting}"
                    )

    def up(self) -> list[ServiceStatus]:
        """Start what is not running, wait until both answer, return their status.

        The ports of what is to start are checked first: a taken one is named at once.
        """
        self.check_ports()
        self.kafka.fetch()
        for service in self.services:
            service.start()
        for service in self.services:
            service.wait_ready(self.startup_timeout_s)
        return self.status()

    def down(self) -> None:
        """Stop both services (ClickHouse first, so nothing writes into a stopping broker)."""
        self.clickhouse.stop()
        self.kafka.stop()

    def status(self) -> list[ServiceStatus]:
        return [service.status() for service in self.services]

    def log_files(self) -> dict[str, Path]:
        """The main log file of each service, by service name."""
        return {
            "kafka": self.kafka.log_file,
            "clickhouse": self.clickhouse.log_dir / "clickhouse.log",
        }


@dataclass(frozen=True)
class Port:
    """A port a stack service listens on, what it is for, and the setting that moves it."""

    number: int
    label: str
    setting: str


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """Whether binding ``host:port`` fails (someone listens there), as the service's bind would
    (``SO_REUSEADDR``: TIME_WAIT is no obstacle)."""
    try:
        listen(host, port).close()
    except CannotListen:
        return True
    return False


def local_kafka_port(kafka: KafkaSettings) -> int:
    """The port of ``kafka.bootstrap_servers`` when it names one broker on this machine."""
    host, _, port = kafka.bootstrap_servers.partition(":")
    if "," in kafka.bootstrap_servers or host not in {"127.0.0.1", "localhost"}:
        raise ConfigurationError(
            "the embedded stack runs one broker on 127.0.0.1, but "
            f"HOTLINE_KAFKA__BOOTSTRAP_SERVERS "
            f"is {kafka.bootstrap_servers!r}; set it to 127.0.0.1:PORT"
        )
    if not port.isdigit():
        raise ConfigurationError(f"no port in HOTLINE_KAFKA__BOOTSTRAP_SERVERS={host!r}")
    return int(port)
