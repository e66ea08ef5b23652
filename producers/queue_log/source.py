"""Reading a queue_log: replay to the end, or follow it like ``tail -F``.

:class:`LogSource` yields :class:`RawLine` (complete lines only: a line is taken once its
newline is written) and, in follow mode, ``None`` whenever it is idle at the end of the file
(the ingestor checkpoints then). Rotation is handled as ``tail -F`` does:

- the path now names another file (``rename`` + new file: device/inode changed) → the old
  file is read to its end, then the new one from its start;
- the file shrank below the read offset (``copytruncate``) → it is read again from its start;
- the path is missing for a while (between rename and re-create) → wait.

Each file is identified by a hash of its first line (:func:`file_id`), so a resumed run finds
its file again even after it was rotated to ``queue_log.1`` while the ingestor was down.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from hotline.producers.queue_log.state import FilePosition

__all__ = ["LogSource", "RawLine", "file_id"]

log = logging.getLogger(__name__)


def file_id(first_line: bytes) -> str:
    """The identity of a log file: 16 hex digits of SHA-256 of its first line."""
    return hashlib.sha256(first_line.rstrip(b"\r\n")).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class RawLine:
    """One complete line and the position just after it."""

    text: str
    position: FilePosition


def _first_line(path: Path) -> bytes | None:
    try:
        with path.open("rb") as f:
            line = f.readline()
    except OSError:
        return None
    return line if line.endswith(b"\n") else None


class _Open:
    """One open file and where we are in it."""

    def __init__(self, path: Path, name: str, offset: int = 0, line: int = 0, ident: str = ""):
        self.file: BinaryIO = path.open("rb")
        stat = os.fstat(self.file.fileno())
        self.dev, self.ino = stat.st_dev, stat.st_ino
        self.name = name
        self.offset, self.line, self.id = offset, line, ident
        self._pending = 0
        self.file.seek(offset)

    def position(self) -> FilePosition:
        return FilePosition(self.name, self.id, self.dev, self.ino, self.offset, self.line)

    def read(self) -> RawLine | None:
        """The next complete line, or None at the end (a partial line stays unread)."""
        raw = self.file.readline()
        if not raw.endswith(b"\n"):
            self.file.seek(self.offset)
            return None
        self.offset += len(raw)
        self.line += 1
        if self.line == 1:
            self.id = file_id(raw)
        return RawLine(raw.decode("utf-8", errors="replace").rstrip("\r\n"), self.position())

    def pending(self) -> int:
        if self.file.closed:
            return self._pending
        return max(0, os.fstat(self.file.fileno()).st_size - self.offset)

    def close(self) -> None:
        if not self.file.closed:
            self._pending = self.pending()
            self.file.close()


class LogSource:
    """The lines of ``path`` from ``start`` on (see the module docstring)."""

    def __init__(
        self,
        path: str | Path,
        start: FilePosition | None = None,
        poll_interval: float = 0.2,
    ) -> None:
        self.path = Path(path)
        self.start = start
        self.poll_interval = poll_interval
        #: Notes for the summary (state file pointing at a file that is gone, rotations).
        self.notes: list[str] = []
        self._current: _Open | None = None

    @property
    def position(self) -> FilePosition | None:
        """Where the last yielded line ended (None before the first line)."""
        return self._current.position() if self._current else None

    def size(self) -> int:
        """Bytes of the current file (for progress)."""
        try:
            return self.path.stat().st_size
        except OSError:
            return 0

    def pending_bytes(self) -> int:
        """Bytes after the last complete line of the current file (a line being written)."""
        return self._current.pending() if self._current else 0

    def _resume(self) -> Iterator[RawLine]:
        """Open the current file where ``start`` left off, finishing a rotated file first."""
        start, name = self.start, self.path.name
        if start is None or not start.id:
            self._current = _Open(self.path, name)
            return
        first = _first_line(self.path)
        same = first is not None and file_id(first) == start.id
        if same and self.path.stat().st_size >= start.offset:
            self._current = _Open(self.path, name, start.offset, start.line, start.id)
            return
        for sibling in sorted(self.path.parent.glob(f"{glob_escape(name)}?*")):
            first = _first_line(sibling)
            if first is None or file_id(first) != start.id:
                continue
            self.notes.append(
                f"resumed {sibling.name} (rotated) after line {start.line}, then {name}"
            )
            log.info("finishing rotated %s after line %d", sibling.name, start.line)
            old = _Open(sibling, name, start.offset, start.line, start.id)
            self._current = old
            while (line := old.read()) is not None:
                yield line
            old.close()
            break
        else:
            self.notes.append(
                f"the file of the state (id {start.id}, line {start.line}) is gone; "
                f"read {name} from its start"
            )
            log.warning("state refers to a file that is gone; reading %s from its start", name)
        self._current = _Open(self.path, name)

    def lines(
        self, follow: bool = False, stop: Callable[[], bool] | None = None
    ) -> Iterator[RawLine | None]:
        """Yield complete lines; in follow mode also ``None`` when idle, until ``stop()``."""
        yield from self._iter(follow, stop or (lambda: False))

    def _iter(self, follow: bool, stop: Callable[[], bool]) -> Iterator[RawLine | None]:
        while True:
            try:
                yield from self._resume()
                break
            except FileNotFoundError:
                if not follow or stop():
                    raise
                yield None
                time.sleep(self.poll_interval)
        try:
            while True:
                current = self._current
                assert current is not None
                line = current.read()
                if line is not None:
                    yield line
                    continue
                if not follow:
                    return
                yield None
                if stop():
                    return
                switched = self._check_rotation(current)
                if switched is None:
                    time.sleep(self.poll_interval)
                else:
                    yield from switched
        finally:
            if self._current is not None:
                self._current.close()

    def _check_rotation(self, current: _Open) -> list[RawLine] | None:
        """Lines left in a rotated file after switching to the new one; None if no change."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return None  # renamed, not yet re-created: keep the old file open and wait
        if (stat.st_dev, stat.st_ino) != (current.dev, current.ino):
            rest: list[RawLine] = []
            while (line := current.read()) is not None:
                rest.append(line)
            if current.pending():
                self.notes.append(
                    f"rotation: {current.pending()} bytes without a newline at the end of "
                    f"the old file were skipped"
                )
            log.info(
                "%s was rotated after line %d; reading the new file", current.name, current.line
            )
            self.notes.append(f"rotation after line {current.line} of file {current.id}")
            current.close()
            self._current = _Open(self.path, self.path.name)
            return rest
        if stat.st_size < current.offset:
            log.info("%s was truncated; reading it from its start", current.name)
            self.notes.append(f"truncation after line {current.line} of file {current.id}")
            current.close()
            self._current = _Open(self.path, self.path.name)
            return []
        return None


def glob_escape(name: str) -> str:
    """``name`` with glob metacharacters escaped."""
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)
