"""The resume file: where the last delivered line is, and what the translator knew then.

Written atomically (temp file, fsync, rename) only after the sink acknowledged every event
of the lines it covers (``sink.flush()``, or ``sink.close()`` at the end). JSON::

    {"version": 1, "producer_id": "ql.C320100.queue_log", "next_sequence": 1234,
     "file": {"name": "queue_log", "id": "9f2c…", "dev": 64769, "ino": 131,
              "offset": 88213, "line": 1032, "first_time": 1740960000.0},
     "translator": {"calls": {…}, "agents": {…}, "finished": […]},
     "dead_letter_bytes": 4821, "updated_at": "2025-03-03T08:00:00.000Z"}

``file.id`` is a hash of the file's first line, so the same file is recognised after a
rename (log rotation) and a replay gives the same event ids; ``file.first_time`` (absent in
older state files) tells which rotated files are newer than it once it is gone.
``dead_letter_bytes`` is the length of the dead-letter file when the state was saved (absent
in older state files): a restart cuts the file back to it, since the lines after the position
are read again. The file holds no caller number.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hotline.errors import ConfigurationError

__all__ = ["FilePosition", "ResumeState", "read_state", "write_state"]

VERSION = 1


@dataclass
class FilePosition:
    """A position in one log file: after ``line`` complete lines, at byte ``offset``;
    ``first_time`` is the Unix time of the file's first line (None if unknown), which places
    the file among its rotated siblings once it is gone."""

    name: str
    id: str
    dev: int = 0
    ino: int = 0
    offset: int = 0
    line: int = 0
    first_time: float | None = None


@dataclass
class ResumeState:
    """Everything a restart needs (see the module docstring)."""

    producer_id: str
    next_sequence: int = 0
    file: FilePosition | None = None
    translator: dict[str, Any] = field(default_factory=dict)
    dead_letter_bytes: int | None = None


def read_state(path: Path, producer_id: str) -> ResumeState:
    """The saved state, or a fresh one if ``path`` does not exist."""
    if not path.exists():
        return ResumeState(producer_id)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("version") != VERSION:
            raise ValueError(f"version {data.get('version')!r}, expected {VERSION}")
        state = ResumeState(
            producer_id=data["producer_id"],
            next_sequence=int(data["next_sequence"]),
            file=FilePosition(**data["file"]) if data.get("file") else None,
            translator=data.get("translator") or {},
            dead_letter_bytes=_optional_int(data.get("dead_letter_bytes")),
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigurationError(f"queue_log state file {path} is unusable: {exc}") from exc
    if state.producer_id != producer_id:
        raise ConfigurationError(
            f"queue_log state file {path} belongs to producer {state.producer_id!r}, "
            f"not {producer_id!r}: pass another --state file"
        )
    return state


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


def write_state(path: Path, state: ResumeState) -> None:
    """Replace ``path`` atomically with ``state``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "version": VERSION,
        "producer_id": state.producer_id,
        "next_sequence": state.next_sequence,
        "file": asdict(state.file) if state.file else None,
        "translator": state.translator,
        "dead_letter_bytes": state.dead_letter_bytes,
        "updated_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
    }
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as out:
        json.dump(data, out, ensure_ascii=False, separators=(",", ":"))
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)
