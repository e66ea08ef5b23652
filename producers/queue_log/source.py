"""Reading a queue_log: replay to the end, or follow it like ``tail -F``.

:class:`LogSource` yields :class:`RawLine` (complete lines only: a line is taken once its
newline is written) and, in follow mode, ``None`` whenever it is idle at the end of the file
(the ingestor checkpoints then). Rotation is handled as ``tail -F`` does:

- the path now names another file (``rename`` + new file: device/inode changed) → the old
  file is read to its end, then the new one from its start;
- the file was emptied in place (``copytruncate``: shorter than the read offset, or another
  first line) → the rest of the rotated copy (the sibling with the file's identity), then the
  file again from its start;
- the path is missing for a while (between rename and re-create) → wait.

Each file is identified by a hash of its first line (:func:`file_id`), so a resumed run finds
its file again even after it was rotated to ``queue_log.1`` while the ingestor was down;
files rotated after it (``queue_log.1`` when the saved one is now ``queue_log.2``) are then
read in order before the current file. Compressed rotated files (``queue_log.2.gz``) cannot be
read; they are identified too (by their first line), so that unread lines gone into one are
reported (a warning naming the file) and the readable files rotated after it are still read.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
import re
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import BinaryIO, NamedTuple

from hotline.producers.queue_log.errors import MalformedLine
from hotline.producers.queue_log.parse import parse_line
from hotline.producers.queue_log.state import FilePosition

__all__ = ["LogSource", "RawLine", "file_id"]

log = logging.getLogger(__name__)

#: What a rotated file's name adds to the log's: ``.1``, ``-20250303``, ``.2025-03-03_10``,
#: ``.1740961800`` (digits and separators; ``.gz`` or ``.toml`` are not rotations).
_ROTATED = re.compile(r"^[.\-_][0-9][0-9._:T\-]*$")
_NUMBERED = re.compile(r"^\.([0-9]{1,6})$")
#: The summary's warning for each rotated file whose unread lines are only in a compressed file.
_COMPRESSED = "rotated file compressed before it was read"


class _Rotated(NamedTuple):
    """A rotated sibling of the log: its path, identity, and whether it is gzip-compressed."""

    path: Path
    id: str
    compressed: bool


def _likeness(path: Path, start: FilePosition) -> tuple[bool, int]:
    """How surely ``path`` is the file of ``start``: same device and inode, then size."""
    try:
        stat = path.stat()
    except OSError:
        return (False, -1)
    return ((stat.st_dev, stat.st_ino) == (start.dev, start.ino), stat.st_size)


def _find(rotated: list[_Rotated], position: FilePosition) -> int | None:
    """The index of the rotated file of ``position``; of several with its identity (copies),
    a readable one before a compressed one, then the renamed one (same inode), the longest."""
    same = [i for i, r in enumerate(rotated) if r.id == position.id]
    return max(
        same,
        key=lambda i: (not rotated[i].compressed, *_likeness(rotated[i].path, position)),
        default=None,
    )


def _newer(rotated: list[_Rotated], seen: set[str]) -> tuple[list[Path], list[Path]]:
    """Of the files rotated after the saved one, those to read and those compressed: one per
    identity not in ``seen`` (a copy is not read twice; a readable one comes first)."""
    read: list[Path] = []
    lost: list[Path] = []
    for r in rotated:
        if r.id in seen:
            continue
        seen.add(r.id)
        (lost if r.compressed else read).append(r.path)
    return read, lost


def _name_order(suffix: str) -> tuple[int, str, int]:
    """logrotate's order of rotated names, oldest first: dated ascending, then ``.N``
    from the highest N (oldest) to ``.1`` (newest)."""
    numbered = _NUMBERED.match(suffix)
    if numbered:
        return (1, "", -int(numbered.group(1)))
    return (0, suffix, 0)


def file_id(first_line: bytes) -> str:
    """The identity of a log file: 16 hex digits of SHA-256 of its first line."""
    return hashlib.sha256(first_line.rstrip(b"\r\n")).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class RawLine:
    """One complete line and the position just after it."""

    text: str
    position: FilePosition


def _first_line(path: Path, compressed: bool = False) -> bytes | None:
    """The first complete line of ``path`` (of its content, if it is gzip-compressed)."""
    try:
        with gzip.open(path, "rb") if compressed else path.open("rb") as f:
            line = f.readline()
    except (OSError, EOFError, zlib.error):  # also a .gz still being written
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
        #: The first line (its identity): gone from the file once it is truncated.
        self.first = self.file.readline() if offset else b""
        self.file.seek(offset)

    def position(self) -> FilePosition:
        return FilePosition(self.name, self.id, self.dev, self.ino, self.offset, self.line)

    def read(self) -> RawLine | None:
        """The next complete line, or None at the end (a partial line stays unread) or once
        the file was emptied in place (:meth:`replaced`)."""
        raw = self.file.readline()
        if not raw.endswith(b"\n") or self.replaced():
            self.file.seek(self.offset)
            return None
        self.offset += len(raw)
        self.line += 1
        if self.line == 1:
            self.id, self.first = file_id(raw), raw
        return RawLine(raw.decode("utf-8", errors="replace").rstrip("\r\n"), self.position())

    def replaced(self) -> bool:
        """Whether the file no longer begins with its first line: truncated (``copytruncate``),
        perhaps written again past our offset already."""
        return bool(self.first) and os.pread(self.file.fileno(), len(self.first), 0) != self.first

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
        tz: tzinfo = UTC,
    ) -> None:
        self.path = Path(path)
        self.start = start
        self.poll_interval = poll_interval
        #: The timezone of text times (to order rotated files by their first lines).
        self.tz = tz
        #: Notes for the summary (state file pointing at a file that is gone, rotations).
        self.notes: list[str] = []
        #: Counted warnings for the summary (unread lines in a compressed file).
        self.warnings: Counter[str] = Counter()
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
        """Open the current file where ``start`` left off, finishing rotated files first.

        If the path no longer holds the saved file (it was rotated while we were down), the
        rotated sibling with the saved identity is read from the saved offset, then every
        rotated sibling newer than it, oldest first (:meth:`_rotated`), then the current file.
        A compressed file among them is skipped and reported (:meth:`_unreadable`). Raises
        :class:`FileNotFoundError` only before the first line: if the path is missing after
        rotated files, the newest of them is left as the current file.
        """
        start, name = self.start, self.path.name
        if start is None or not start.id:
            self._current = _Open(self.path, name)
            return
        first = _first_line(self.path)
        current_id = file_id(first) if first is not None else None
        if current_id == start.id and self.path.stat().st_size >= start.offset:
            self._current = _Open(self.path, name, start.offset, start.line, start.id)
            return
        rotated = self._rotated()
        found = _find(rotated, start)
        if found is None:
            self._current = _Open(self.path, name)  # missing: said once it is there
            self.notes.append(
                f"the file of the state (id {start.id}, line {start.line}) is gone; "
                f"read {name} from its start"
            )
            log.warning("state refers to a file that is gone; reading %s from its start", name)
            return
        saved = rotated[found]
        newer, lost = _newer(rotated[found + 1 :], {start.id, current_id})
        files = newer if saved.compressed else [saved.path, *newer]
        path = files[0] if files else self.path  # the path missing: raises before a report
        at = start if path == saved.path else FilePosition(name, "")
        self._current = _Open(path, name, at.offset, at.line, at.id)
        self._report(start, saved, files, lost)
        for path in files[1:]:
            yield from self._drain(self._current)
            log.info("reading rotated %s (rotated after the state was saved)", path.name)
            self._current = _Open(path, name)
        if not files:
            return
        try:
            new = _Open(self.path, name)
        except FileNotFoundError:
            # Rotated, not yet created again: the newest rotated file stays the current one
            # (read to its end; in follow mode :meth:`_check_rotation` waits for the path).
            return
        yield from self._drain(self._current)
        self._current = new

    def _report(
        self, start: FilePosition, saved: _Rotated, files: list[Path], lost: list[Path]
    ) -> None:
        """Note what a resume reads (``files``, then the path), and warn of the unread lines
        of the saved file and of ``lost`` files that are only in compressed files."""
        read = [p.name for p in files]
        if saved.compressed:
            self._unreadable(saved.path, after=start.line)
        else:
            read[0] = f"{saved.path.name} (rotated) after line {start.line}"
            log.info("finishing rotated %s after line %d", saved.path.name, start.line)
        for path in lost:
            self._unreadable(path)
        self.notes.append(f"resumed {', then '.join([*read, self.path.name])}")

    def _unreadable(self, path: Path, after: int | None = None) -> None:
        """Say that the lines of the compressed ``path`` (those after line ``after``) are
        lost: a note, a counted warning, a logged warning."""
        lines = "its lines" if after is None else f"its lines after line {after}"
        text = f"{path.name}: {lines} cannot be read (compressed)"
        self.notes.append(text)
        self.warnings[_COMPRESSED] += 1
        log.warning("%s", text)

    @staticmethod
    def _drain(file: _Open) -> Iterator[RawLine]:
        while (line := file.read()) is not None:
            yield line
        file.close()

    def _rotated(self) -> list[_Rotated]:
        """Rotated siblings of the path with their identities, oldest first.

        Rotated names are the path's name plus ``.N`` (logrotate, Asterisk) or a date or
        timestamp suffix (logrotate ``dateext``: ``-20250303``, ``-2025-03-03``; Asterisk
        ``timestamp``: ``.1740961800``), and these plus ``.gz`` (compressed: identified by
        their first line, not read); other siblings (``queue_log.toml``, ``.bz2``) are not.
        The order is that of the files' first lines' times, which holds whatever the naming
        scheme (logrotate's ``.1`` is the newest, Asterisk's ``sequential`` strategy makes the
        highest number the newest); if a first line has no readable time, logrotate's naming
        decides: dated names ascending, then ``.N`` from the highest N to the lowest. A file
        being compressed (``.1`` beside ``.1.gz``) comes before its compressed copy.
        """
        found: list[tuple[_Rotated, datetime | None, tuple[int, str, int]]] = []
        for path in self.path.parent.glob(f"{glob_escape(self.path.name)}?*"):
            suffix = path.name[len(self.path.name) :]
            compressed = suffix.endswith(".gz")
            suffix = suffix.removesuffix(".gz")
            if not _ROTATED.match(suffix) or not path.is_file():
                continue
            first = _first_line(path, compressed)
            if first is None:
                continue
            rotated = _Rotated(path, file_id(first), compressed)
            found.append((rotated, self._time_of(first), _name_order(suffix)))
        if all(t is not None for _, t, _ in found):
            found.sort(key=lambda f: (f[1], f[2], f[0].compressed))
        else:
            found.sort(key=lambda f: (f[2], f[0].compressed))
        return [rotated for rotated, _, _ in found]

    def _time_of(self, first: bytes) -> datetime | None:
        try:
            return parse_line(first.decode("utf-8", errors="replace"), self.tz).time
        except MalformedLine:
            return None

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
        if stat.st_size < current.offset or current.replaced():
            log.info("%s was truncated; reading it from its start", current.name)
            self.notes.append(f"truncation after line {current.line} of file {current.id}")
            current.close()
            rest = self._rest_of_copy(current.position())
            self._current = _Open(self.path, self.path.name)
            return rest
        return None

    def _rest_of_copy(self, position: FilePosition) -> list[RawLine]:
        """The lines after ``position`` in the rotated copy of its file (``copytruncate``
        copies the file, then empties it), if a rotated file has its identity."""
        rotated = self._rotated()
        found = _find(rotated, position)
        if found is None:
            return []
        path = rotated[found].path
        if rotated[found].compressed:
            self._unreadable(path, after=position.line)
            return []
        log.info("reading the rest of %s after line %d", path.name, position.line)
        try:
            copy = _Open(path, position.name, position.offset, position.line, position.id)
        except FileNotFoundError:  # removed (or compressed) since it was listed
            self.notes.append(f"the copy {path.name} was gone before its rest was read")
            log.warning("%s was gone before the lines after %d were read", path.name, position.line)
            return []
        rest = list(self._drain(copy))
        self.notes.append(f"read {len(rest)} more lines from the copy {path.name}")
        return rest


def glob_escape(name: str) -> str:
    """``name`` with glob metacharacters escaped."""
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)
