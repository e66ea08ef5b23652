"""Commands the docs give for a running broker work as written (against the real broker)."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from fixtures_kafka import topic_configs

from hotline.streams.app import CHANGELOG_CONFIGS

pytestmark = pytest.mark.kafka

ROOT = Path(__file__).resolve().parent.parent


def test_the_changelog_settings_command_of_streams_md_keeps_the_topic_compacted(
    bootstrap: str, unique: str
) -> None:
    """docs/streams.md, "Restart: the changelog is compacted": the embedded stack's command
    gives an older changelog the segment settings, incrementally (the bare `kafka-configs`
    it gave before needs --bootstrap-server, and the embedded stack has no Kafka tools)."""
    from kafka.admin import KafkaAdminClient, NewTopic

    text = (ROOT / "docs" / "streams.md").read_text(encoding="utf-8")
    block = re.search(r"```sh\n(\s*\.venv/bin/python -c 'from kafka\.admin .*?)```", text, re.S)
    assert block is not None
    command = textwrap.dedent(block.group(1))
    assert "127.0.0.1:9092" in command and "hotline-streams-state-changelog" in command
    topic = f"{unique}-state-changelog"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics(
            [NewTopic(topic, 1, 1, topic_configs={"cleanup.policy": "compact"})]  # as Faust
        )
    finally:
        admin.close()
    command = command.replace("127.0.0.1:9092", bootstrap)
    command = command.replace("hotline-streams-state-changelog", topic)
    command = command.replace(".venv/bin/python", sys.executable, 1)
    done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    configs = topic_configs(bootstrap, topic)
    assert {name: configs[name] for name in CHANGELOG_CONFIGS} == CHANGELOG_CONFIGS
    assert configs["cleanup.policy"] == "compact"
