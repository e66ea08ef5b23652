"""``hotline stack init``: the topics and the ClickHouse schema, idempotently.

Works against any Kafka and ClickHouse the settings name: the embedded stack, or the compose
servers (the compose ``init`` service runs it on every start).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from hotline.infra.topics import ProvisionResult, ensure_topics, topic_layout
from hotline.regions import default_registry
from hotline.settings import Settings
from hotline.sinks import migrate
from hotline.sinks.client import connect

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Provisioned:
    """What :func:`provision` did."""

    topics: ProvisionResult
    migrations: tuple[str, ...]


def provision(settings: Settings) -> Provisioned:
    """Create the missing topics (raw per province, shared derived) and apply migrations."""
    provinces = [region.code for region in default_registry().provinces()]
    specs = topic_layout(settings.kafka, provinces)
    topics = ensure_topics(settings.kafka.bootstrap_servers, specs)
    log.info("topics: %d created, %d existing", len(topics.created), len(topics.existing))
    client = connect(settings.clickhouse, database="default")
    try:
        applied = migrate.migrate(client, settings.clickhouse.database)
    finally:
        client.disconnect()
    return Provisioned(topics, tuple(m.filename for m in applied))
