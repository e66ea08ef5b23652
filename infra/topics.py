"""Hotline's Kafka topic layout and its idempotent provisioning.

Raw events live in a namespace per province (so ACLs, quotas and retention can differ per
province), one topic per event family; everything derived is shared by all provinces::

    hotline.raw.<province>.calls       call lifecycle events        raw_partitions, raw retention
    hotline.raw.<province>.tickets     ticket lifecycle events
    hotline.raw.<province>.agents      agent state events
    hotline.raw.<province>.surveys     survey responses
    hotline.raw.<province>.qa          QA evaluations
    hotline.records.calls              one record per call          shared_partitions,
    hotline.records.tickets            ticket records (latest wins)  derived retention
    hotline.metrics.snapshots          versioned counter snapshots
    hotline.metrics.agents             versioned agent-time snapshots (closed minutes)
    hotline.metrics.tickets            versioned ticket-count snapshots
    hotline.alerts                     alerts
    hotline.deadletter                 events that can never be processed, with the reason
    hotline.sequence-gaps              detected gaps in producers' sequence numbers
    hotline.metrics.queues             calls waiting per center now (newest as_of wins)

``<province>`` is the six-digit GB/T 2260 code of a provincial-level division (``320000``);
the prefix is ``settings.kafka.topic_prefix``. Every topic is ``cleanup.policy=delete`` with
``retention.ms`` from the settings. Consumers subscribe to all provinces of a family with a
pattern such as ``^hotline\\.raw\\.\\d{6}\\.calls$`` (:func:`raw_pattern`).
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from hotline.errors import ConfigurationError, RetryableError
from hotline.settings import KafkaSettings

__all__ = [
    "RAW_FAMILIES",
    "SHARED_TOPICS",
    "ProvisionResult",
    "TopicSpec",
    "connect_problems",
    "ensure_topics",
    "host_and_port",
    "missing_topics",
    "province_topics",
    "raw_pattern",
    "raw_topic",
    "require_kafka",
    "shared_topic",
    "shared_topics",
    "topic_layout",
]

RAW_FAMILIES: tuple[str, ...] = ("calls", "tickets", "agents", "surveys", "qa")
"""The event families; each province has one raw topic per family."""

SHARED_TOPICS: dict[str, str] = {
    "call_records": "records.calls",
    "ticket_records": "records.tickets",
    "metric_snapshots": "metrics.snapshots",
    "agent_time": "metrics.agents",
    "ticket_counts": "metrics.tickets",
    "alerts": "alerts",
    "dead_letters": "deadletter",
    "sequence_gaps": "sequence-gaps",
    "queues": "metrics.queues",
}
"""Role → topic name after the prefix, for the topics every province shares."""

_PROVINCE = re.compile(r"^[1-9]\d0000$")
_HOUR_MS = 3_600_000


@dataclass(frozen=True)
class TopicSpec:
    """One topic as it should exist: name, partitions and topic-level configs."""

    name: str
    partitions: int
    configs: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ProvisionResult:
    """What :func:`ensure_topics` did: topics it created and topics that were already there."""

    created: tuple[str, ...]
    existing: tuple[str, ...]


def _check_province(code: str) -> str:
    if not _PROVINCE.fullmatch(code):
        raise ConfigurationError(
            f"{code!r} is not a provincial-level GB/T 2260 code (six digits ending in 0000)"
        )
    return code


def raw_topic(kafka: KafkaSettings, province: str, family: str) -> str:
    """The raw topic of one event family in one province, e.g. ``hotline.raw.320000.calls``."""
    if family not in RAW_FAMILIES:
        raise ConfigurationError(f"unknown event family {family!r}; known: {RAW_FAMILIES}")
    return f"{kafka.topic_prefix}.raw.{_check_province(province)}.{family}"


def raw_pattern(kafka: KafkaSettings, family: str) -> str:
    """A regex subscribing to one family's raw topics of every province."""
    if family not in RAW_FAMILIES:
        raise ConfigurationError(f"unknown event family {family!r}; known: {RAW_FAMILIES}")
    return rf"^{re.escape(kafka.topic_prefix)}\.raw\.[1-9]\d0000\.{family}$"


def shared_topic(kafka: KafkaSettings, role: str) -> str:
    """The shared topic for a role of :data:`SHARED_TOPICS`, e.g. ``hotline.alerts``."""
    try:
        return f"{kafka.topic_prefix}.{SHARED_TOPICS[role]}"
    except KeyError:
        known = list(SHARED_TOPICS)
        raise ConfigurationError(f"unknown shared topic {role!r}; known: {known}") from None


def _retention(hours: int) -> dict[str, str]:
    return {"cleanup.policy": "delete", "retention.ms": str(hours * _HOUR_MS)}


def province_topics(kafka: KafkaSettings, province: str) -> list[TopicSpec]:
    """The raw topics of one province (one per event family)."""
    configs = _retention(kafka.raw_retention_hours)
    return [
        TopicSpec(raw_topic(kafka, province, family), kafka.raw_partitions, configs)
        for family in RAW_FAMILIES
    ]


def shared_topics(kafka: KafkaSettings) -> list[TopicSpec]:
    """The topics every province shares (records, snapshots, alerts, dead letters, gaps)."""
    configs = _retention(kafka.derived_retention_hours)
    return [
        TopicSpec(shared_topic(kafka, role), kafka.shared_partitions, configs)
        for role in SHARED_TOPICS
    ]


def topic_layout(kafka: KafkaSettings, provinces: Iterable[str]) -> list[TopicSpec]:
    """Every topic of the deployment: the raw topics of each province, then the shared ones.

    ``provinces`` are the provincial GB/T 2260 codes to serve (the caller takes them from the
    region registry); duplicates are ignored.
    """
    specs: list[TopicSpec] = []
    for province in dict.fromkeys(provinces):
        specs.extend(province_topics(kafka, province))
    return [*specs, *shared_topics(kafka)]


_KAFKA_PORT = 9092


def connect_problems(bootstrap_servers: str, timeout_s: float) -> list[str]:
    """Why no bootstrap address accepts a TCP connection, one line per address; empty as soon
    as one does (a cheap probe, before the Kafka clients' own retries)."""
    problems = []
    for address in bootstrap_servers.split(","):
        try:
            with socket.create_connection(host_and_port(address), timeout_s):
                return []
        except (OSError, ValueError) as exc:
            problems.append(f"{address.strip()}: {getattr(exc, 'strerror', None) or exc}")
    return problems


def host_and_port(address: str) -> tuple[str, int]:
    """A bootstrap address as the Kafka clients read it: ``host:port``, ``[v6]:port``, a bare
    IPv6 address, an optional ``scheme://``; no port means Kafka's 9092 (no host: this host)."""
    address = address.strip().rpartition("://")[2]
    if address.startswith("["):
        host, _, rest = address[1:].partition("]")
        port = rest.removeprefix(":")
    elif address.count(":") == 1:
        host, port = address.split(":")
    else:  # a host name, or an IPv6 address without brackets: no port
        host, port = address, ""
    return host or "127.0.0.1", int(port) if port else _KAFKA_PORT


def require_kafka(bootstrap_servers: str, timeout_s: float = 3.0) -> None:
    """Raise :class:`RetryableError` unless a bootstrap address accepts a TCP connection within
    ``timeout_s``: a command fails in seconds, where kafka-python's clients would retry (and log
    every attempt) for half a minute first."""
    if problems := connect_problems(bootstrap_servers, timeout_s):
        raise RetryableError(
            f"cannot reach Kafka at {bootstrap_servers} ({'; '.join(problems)}); start it "
            "(`hotline stack up`) or point HOTLINE_KAFKA__BOOTSTRAP_SERVERS at it"
        )


def ensure_topics(
    bootstrap_servers: str, specs: Iterable[TopicSpec], *, timeout_s: float = 30.0
) -> ProvisionResult:
    """Create the topics that do not exist yet; existing ones are left as they are.

    Idempotent and safe to race with another provisioner. An existing topic is never changed
    (more partitions would move keys to other partitions); its partition count is not checked.
    Raises :class:`~hotline.errors.RetryableError` if the broker cannot be reached.
    """
    from kafka.errors import KafkaError, TopicAlreadyExistsError

    wanted = {spec.name: spec for spec in specs}
    admin = _admin(bootstrap_servers, timeout_s)
    try:
        present = set(admin.list_topics())
        missing = [name for name in wanted if name not in present]
        created: list[str] = []
        raced: list[str] = []
        if missing:
            response = admin.create_topics(
                {
                    name: {
                        "num_partitions": wanted[name].partitions,
                        "replication_factor": -1,  # the broker's default.replication.factor
                        "configs": wanted[name].configs,
                    }
                    for name in missing
                },
                timeout_ms=int(timeout_s * 1000),
                raise_errors=False,
                wait_for_metadata=True,
            )
            for topic in response["topics"]:
                code = topic["error_code"]
                if code == 0:
                    created.append(topic["name"])
                elif code == TopicAlreadyExistsError.errno:
                    raced.append(topic["name"])
                else:
                    raise ConfigurationError(
                        f"cannot create topic {topic['name']}: error {code} "
                        f"{topic.get('error_message') or ''}".rstrip()
                    )
    except KafkaError as exc:
        raise RetryableError(f"provisioning topics on {bootstrap_servers} failed: {exc}") from exc
    finally:
        admin.close()
    existing = [name for name in wanted if name in present or name in raced]
    return ProvisionResult(created=tuple(sorted(created)), existing=tuple(sorted(existing)))


def missing_topics(
    bootstrap_servers: str, names: Iterable[str], *, timeout_s: float = 30.0
) -> list[str]:
    """The topics of ``names`` that the broker does not have, sorted. Raises
    :class:`~hotline.errors.RetryableError` if the broker cannot be reached."""
    from kafka.errors import KafkaError

    admin = _admin(bootstrap_servers, timeout_s)
    try:
        present = set(admin.list_topics())
    except KafkaError as exc:
        raise RetryableError(f"listing the topics on {bootstrap_servers} failed: {exc}") from exc
    finally:
        admin.close()
    return sorted(set(names) - present)


def _admin(bootstrap_servers: str, timeout_s: float) -> Any:
    """A kafka-python admin client of a broker that answers (:func:`require_kafka` first)."""
    from kafka.admin import KafkaAdminClient
    from kafka.errors import KafkaError

    require_kafka(bootstrap_servers)
    try:
        return KafkaAdminClient(
            bootstrap_servers=bootstrap_servers,
            request_timeout_ms=int(timeout_s * 1000),
            client_id="hotline-topics",
        )
    except KafkaError as exc:
        raise RetryableError(f"cannot reach Kafka at {bootstrap_servers}: {exc}") from exc
