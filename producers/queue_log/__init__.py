"""The Asterisk ``queue_log`` adapter (``hotline ingest queue-log``), see docs/queue_log.md.

- :func:`~.parse.parse_line` reads one line; :class:`~.translate.Translator` turns lines into
  call lifecycle and agent-state events (pure, JSON state, caller numbers hashed inside);
- :class:`~.ingest.QueueLogIngestor` reads a file (replay, or follow through rotation),
  emits into any :class:`~hotline.producers.simulator.sinks.EventSink`, dead-letters bad
  lines and saves a resume state after every acknowledged flush;
- :func:`~.mapping.load_mapping` reads the TOML mapping; :mod:`~.sample` writes a synthetic
  sample log covering every event type.
"""

from hotline.producers.queue_log.errors import MalformedLine, Uninterpretable
from hotline.producers.queue_log.ingest import (
    EVENT_ID_NAMESPACE,
    BadLine,
    IngestSummary,
    QueueLogIngestor,
    default_paths,
    event_id,
    producer_id_for,
)
from hotline.producers.queue_log.mapping import (
    QueueLogMapping,
    QueueSpec,
    TransferSpec,
    check_mapping,
    load_mapping,
)
from hotline.producers.queue_log.parse import QueueLogLine, mask_line, parse_line
from hotline.producers.queue_log.sample import SAMPLE_MAPPING, generate_sample, write_sample
from hotline.producers.queue_log.sinks import JsonlAppendSink
from hotline.producers.queue_log.source import LogSource, RawLine, file_id
from hotline.producers.queue_log.state import FilePosition, ResumeState, read_state, write_state
from hotline.producers.queue_log.translate import INFO_EVENTS, Draft, Translator

__all__ = [
    "EVENT_ID_NAMESPACE",
    "INFO_EVENTS",
    "SAMPLE_MAPPING",
    "BadLine",
    "Draft",
    "FilePosition",
    "IngestSummary",
    "JsonlAppendSink",
    "LogSource",
    "MalformedLine",
    "QueueLogIngestor",
    "QueueLogLine",
    "QueueLogMapping",
    "QueueSpec",
    "RawLine",
    "ResumeState",
    "TransferSpec",
    "Translator",
    "Uninterpretable",
    "check_mapping",
    "default_paths",
    "event_id",
    "file_id",
    "generate_sample",
    "load_mapping",
    "mask_line",
    "parse_line",
    "producer_id_for",
    "read_state",
    "write_sample",
    "write_state",
]
