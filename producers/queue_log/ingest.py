"""The ingestor: queue_log lines → events into any :class:`EventSink`, resumably.

Order of work per line: parse → translate (the caller number is hashed inside) → build every
event of the line (envelope: deterministic id, next sequence) → ``sink.emit`` each. Bad lines
go to the dead-letter file with a masked copy of the line and never stop the run.

Commit order (written where it happens, :meth:`QueueLogIngestor._checkpoint`): every
``checkpoint_lines`` lines and whenever a followed file is idle, ``sink.flush()`` (every event
so far acknowledged), then the dead-letter file is fsynced, then the state file is replaced
(with the dead-letter file's length). A sink without ``flush`` is checkpointed only after
``close()`` at the end of the run. After a crash the lines since the last checkpoint are read
again and give the same events — same ids, same sequence numbers — which downstream
deduplicates by id; the dead-letter file is first cut back to its saved length, so their
dead letters are written once.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from pydantic import ValidationError

from hotline.errors import InvalidInput
from hotline.privacy import CallerHasher
from hotline.producers.queue_log.errors import MalformedLine, Uninterpretable
from hotline.producers.queue_log.mapping import QueueLogMapping
from hotline.producers.queue_log.parse import mask_line, parse_line
from hotline.producers.queue_log.source import LogSource, RawLine
from hotline.producers.queue_log.state import FilePosition, ResumeState, read_state, write_state
from hotline.producers.queue_log.translate import Draft, Translator
from hotline.producers.simulator.sinks import EventSink
from hotline.schemas import Envelope, Event

__all__ = [
    "EVENT_ID_NAMESPACE",
    "BadLine",
    "IngestSummary",
    "QueueLogIngestor",
    "default_paths",
    "event_id",
    "producer_id_for",
]

log = logging.getLogger(__name__)

#: Namespace of the UUIDv5 event ids (fixed forever: changing it changes every id).
EVENT_ID_NAMESPACE = uuid.UUID("5b0c1f3e-12a3-5e33-9a12-3c0ad1e0a333")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.:-]")

Progress = Callable[[int, int], None]


def event_id(file: str, line: int, index: int) -> str:
    """The id of the ``index``-th event of line ``line`` of file ``file`` (its first-line hash)."""
    return str(uuid.uuid5(EVENT_ID_NAMESPACE, f"queue_log:{file}:{line}:{index}"))


def producer_id_for(center_id: str, path: str | Path) -> str:
    """``ql.<center>.<file name>``: one producer per center and log file, stable over rotation."""
    name = _UNSAFE.sub("_", Path(path).name) or "queue_log"
    return f"ql.{center_id}.{name}"[:64]


def default_paths(home: Path, producer_id: str) -> tuple[Path, Path]:
    """State and dead-letter files under ``<home>/queue_log/``."""
    folder = home / "queue_log"
    return folder / f"{producer_id}.state.json", folder / f"{producer_id}.deadletter.jsonl"


@dataclass(frozen=True, slots=True)
class BadLine:
    """A line that gave no events: which file (name and id), which line, why."""

    file: str
    file_id: str
    line: int
    reason: str


@dataclass
class IngestSummary:
    """What a run did."""

    producer_id: str
    resumed_after_line: int = 0
    lines: int = 0
    events_by_type: Counter[str] = field(default_factory=Counter)
    queue_log_events: Counter[str] = field(default_factory=Counter)
    bad: list[BadLine] = field(default_factory=list)
    warnings: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)
    pending_bytes: int = 0
    wall_seconds: float = 0.0

    @property
    def events(self) -> int:
        return sum(self.events_by_type.values())

    @property
    def bad_by_reason(self) -> Counter[str]:
        return Counter(b.reason for b in self.bad)

    @property
    def events_per_second(self) -> float:
        return self.events / self.wall_seconds if self.wall_seconds > 0 else 0.0


class QueueLogIngestor:
    """Reads one queue_log (replay or follow) into ``sink``; see the module docstring."""

    def __init__(
        self,
        path: str | Path,
        mapping: QueueLogMapping,
        sink: EventSink,
        hasher: CallerHasher,
        *,
        state_path: str | Path,
        dead_letter_path: str | Path,
        producer_id: str | None = None,
        checkpoint_lines: int = 1000,
        poll_interval: float = 0.2,
        progress: Progress | None = None,
    ) -> None:
        self.path = Path(path)
        self.mapping = mapping
        self.sink = sink
        self.hasher = hasher
        self.center_id = mapping.center
        self.producer_id = (
            producer_id or mapping.producer_id or producer_id_for(self.center_id, self.path)
        )
        self.state_path = Path(state_path)
        self.dead_letter_path = Path(dead_letter_path)
        self.checkpoint_lines = max(1, checkpoint_lines)
        self.poll_interval = poll_interval
        self.progress = progress
        self._dead: IO[str] | None = None

    # -- the run ---------------------------------------------------------------------------

    def run(self, follow: bool = False, stop: Callable[[], bool] | None = None) -> IngestSummary:
        """Read from the saved position to the end (or forever with ``follow``, until
        ``stop()`` is true, checked between lines); close the sink; save the position."""
        stop = stop or (lambda: False)
        state = read_state(self.state_path, self.producer_id)
        self._translator = Translator(self.mapping, self.hasher, state.translator)
        self._sequence = state.next_sequence
        self._last: FilePosition | None = state.file
        self._since_checkpoint = 0
        self._dead_bytes = self._cut_dead_letters(state.dead_letter_bytes)
        if state.dead_letter_bytes is None:  # fresh or older: a crash before the first
            self._save_state()  # checkpoint must find the length to cut back to
        summary = self.summary = IngestSummary(
            self.producer_id, resumed_after_line=state.file.line if state.file else 0
        )
        if state.file:
            log.info("resuming %s after line %d", self.path.name, state.file.line)
        source = LogSource(self.path, state.file, self.poll_interval, self.mapping.tz)
        begun = time.perf_counter()
        try:
            for item in source.lines(follow, stop):
                if item is None:
                    if self._since_checkpoint:
                        self._checkpoint()
                    continue
                self._line(item)
                if self._since_checkpoint >= self.checkpoint_lines:
                    self._checkpoint()
                if self.progress is not None and summary.lines % 256 == 0:
                    self.progress(item.position.offset, source.size())
                if stop():
                    break
            summary.pending_bytes = source.pending_bytes()
        except BaseException:
            # The last checkpoint stays valid; a restart reads the lines after it again.
            self._close_quietly()
            raise
        finally:
            summary.notes.extend(source.notes)
            summary.warnings.update(source.warnings)
            summary.warnings.update(self._translator.warnings)
            summary.notes.extend(self._translator.notes)
            summary.wall_seconds = time.perf_counter() - begun
        self.sink.close()
        self._checkpoint(final=True)
        if self._dead is not None:
            self._dead.close()
        if self.progress is not None and self._last is not None:
            self.progress(self._last.offset, max(self._last.offset, source.size()))
        return summary

    def _line(self, item: RawLine) -> None:
        summary = self.summary
        summary.lines += 1
        position = item.position
        try:
            parsed = parse_line(item.text, self.mapping.tz)
            summary.queue_log_events[parsed.event] += 1
            events = self._build(self._translator.feed(parsed), position)
        except (MalformedLine, Uninterpretable) as exc:
            self._dead_letter(item, exc.reason)
        except InvalidInput as exc:  # any other bad-input error (their messages are masked)
            self._dead_letter(item, str(exc))
        else:
            for event in events:
                self.sink.emit(event)
                summary.events_by_type[event.RECORD_TYPE] += 1
            self._sequence += len(events)
        self._last = position
        self._since_checkpoint += 1

    def _build(self, drafts: list[Draft], position: FilePosition) -> list[Event]:
        """All events of one line, or :class:`Uninterpretable` (nothing of the line is sent)."""
        events = []
        for index, draft in enumerate(drafts):
            envelope = Envelope(
                event_id=event_id(position.id, position.line, index),
                event_type=draft.model.RECORD_TYPE,
                occurred_at=draft.time,
                center_id=self.center_id,
                region_code=draft.region_code,
                producer_id=self.producer_id,
                sequence=self._sequence + index,
            )
            try:
                events.append(draft.model(envelope=envelope, **draft.fields))
            except ValidationError as exc:
                where = ", ".join(".".join(map(str, e["loc"])) for e in exc.errors())
                raise Uninterpretable(
                    f"invalid {draft.model.RECORD_TYPE} event (fields: {where})"
                ) from None
        return events

    # -- dead letters and checkpoints -----------------------------------------------------

    def _dead_letter(self, item: RawLine, reason: str) -> None:
        position = item.position
        bad = BadLine(position.name, position.id, position.line, reason)
        self.summary.bad.append(bad)
        log.debug("%s line %d: %s", position.name, position.line, reason)
        if self._dead is None:
            self.dead_letter_path.parent.mkdir(parents=True, exist_ok=True)
            self._dead = self.dead_letter_path.open("a", encoding="utf-8")
        record = {
            "producer_id": self.producer_id,
            "file": bad.file,
            "file_id": bad.file_id,
            "line": bad.line,
            "reason": reason,
            "text": mask_line(item.text),
        }
        self._dead.write(json.dumps(record, ensure_ascii=False) + "\n")

    def _cut_dead_letters(self, saved: int | None) -> int:
        """Cut the dead-letter file back to ``saved`` bytes (its length at the checkpoint: what
        follows is of lines read again now, or torn by a crash); its length after that."""
        try:
            size = self.dead_letter_path.stat().st_size
        except FileNotFoundError:
            return 0
        if saved is None or size <= saved:
            return size
        os.truncate(self.dead_letter_path, saved)
        log.info("cut %d bytes of dead letters written after the checkpoint", size - saved)
        return saved

    def _checkpoint(self, final: bool = False) -> None:
        """flush the sink → fsync dead letters → replace the state file (in this order)."""
        if not final:
            flush = getattr(self.sink, "flush", None)
            if flush is None:
                return  # nothing acknowledges before close(): checkpoint at the end only
            flush()
        if self._dead is not None:
            self._dead.flush()
            os.fsync(self._dead.fileno())
            self._dead_bytes = os.fstat(self._dead.fileno()).st_size
        self._save_state()
        self._since_checkpoint = 0

    def _save_state(self) -> None:
        """Replace the state file: the position, sequence and translator after the last line
        read, and the dead-letter file's length."""
        write_state(
            self.state_path,
            ResumeState(
                producer_id=self.producer_id,
                next_sequence=self._sequence,
                file=self._last,
                translator=self._translator.snapshot(),
                dead_letter_bytes=self._dead_bytes,
            ),
        )

    def _close_quietly(self) -> None:
        for closer in (self.sink.close, self._dead.close if self._dead else None):
            if closer is None:
                continue
            try:
                closer()
            except Exception:  # the original error matters more
                log.exception("closing after an error failed")
