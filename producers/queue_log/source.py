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
read in order before the current file. Rotated files compressed by logrotate
(``queue_log.2.gz``, ``.bz2``, ``.xz``, ``.zst``) are read decompressed: identified by the
first line of their content, their offsets and lines those of the uncompressed file, so a
position taken in ``queue_log.1`` goes on in its compressed copy. One that cannot be
decompressed to its end (corrupt, truncated) is read up to there, and that is reported.
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import hashlib
import logging
import lzma
import os
import re
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, tzinfo
from pathlib import Path
from typing import BinaryIO, NamedTuple

from hotline.producers.queue_log import zstd
from hotline.producers.queue_log.errors import MalformedLine
from hotline.producers.queue_log.parse import parse_line
from hotline.producers.queue_log.state import FilePosition

__all__ = ["LogSource", "RawLine", "file_id"]

log = logging.getLogger(__name__)

#: What a rotated file's name adds to the log's: ``.1``, ``-20250303``, ``.2025-03-03_10``,
#: ``.1740961800`` (digits and separators; ``.toml`` is not a rotation), then perhaps the
#: suffix of a compressed file (:data:`_CODECS`).
_ROTATED = re.compile(r"^[.\-_][0-9][0-9._:T\-]*$")
_NUMBERED = re.compile(r"^\.([0-9]{1,6})$")

Codec = Callable[[BinaryIO], BinaryIO]

#: The content of a compressed rotated file, by suffix: logrotate's ``compress`` (gzip), or
#: its ``compresscmd`` bzip2, xz or zstd. Each is decompressed as it is read.
_CODECS: dict[str, Codec] = {
    ".gz": lambda raw: gzip.GzipFile(fileobj=raw, mode="rb"),
    ".bz2": bz2.BZ2File,
    ".xz": lzma.LZMAFile,
    ".zst": zstd.ZstdFile,
}
#: What reading a compressed file raises when it cannot be decompressed (corrupt, truncated:
#: ``EOFError``; ``gzip.BadGzipFile`` is an ``OSError``), or when the disk fails.
_BROKEN = (OSError, EOFError, zlib.error, lzma.LZMAError, zstd.ZstdError)
#: The summary's warning for each compressed rotated file that could not be read to its end.
_UNREADABLE = "compressed rotated file corrupt or truncated"


class _Rotated(NamedTuple):
    """A rotated sibling of the log: its path, identity, whether it is compressed, and the
    time of its first line (Unix seconds; None if it has no readable time)."""

    path: Path
    id: str
    compressed: bool
    time: float | None


def _likeness(path: Path, start: FilePosition) -> tuple[bool, int]:
    """How surely ``path`` is the file of ``start``: same device and inode, then size."""
    try:
        stat = path.stat()
    except OSError:
        return (False, -1)
    return ((stat.st_dev, stat.st_ino) == (start.dev, start.ino), stat.st_size)


def _find(rotated: list[_Rotated], position: FilePosition) -> int | None:
    """The index of the rotated file of ``position``; of several with its identity (copies),
    an uncompressed one before a compressed one (which may still be being written), then the
    one with the saved inode, then the longest."""
    same = [i for i, r in enumerate(rotated) if r.id == position.id]
    return max(
        same,
        key=lambda i: (not rotated[i].compressed, *_likeness(rotated[i].path, position)),
        default=None,
    )


def _newer(rotated: list[_Rotated], seen: set[str | None]) -> list[_Rotated]:
    """Of the files rotated after the saved one, one per identity not in ``seen`` (a copy is
    not read twice; of a file and its compressed copy, the file, listed first)."""
    read: list[_Rotated] = []
    for r in rotated:
        if r.id not in seen:
            seen.add(r.id)
            read.append(r)
    return read


def _after_gone(
    rotated: list[_Rotated], start: FilePosition, seen: set[str | None]
) -> list[_Rotated]:
    """The rotated files to read when none is the file of ``start`` (removed, or compressed and
    undecodable): those whose first line is not older than its first line, one per identity
    not in ``seen``; none if a time is unknown (a state saved without it, or a first line
    without a readable time), since their order to it is then unknown. logrotate removes the
    oldest files first, so the files rotated after a removed one are all still there."""
    since = start.first_time
    if since is None or any(r.time is None for r in rotated):
        return []
    return _newer([r for r in rotated if r.time is not None and r.time >= since], seen)


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


def _first_line(path: Path, codec: Codec | None = None) -> bytes | None:
    """The first complete line of ``path`` (of its content decompressed by ``codec``), None if
    it has none or cannot be opened; a file that cannot be decompressed raises (``_BROKEN``)."""
    try:
        raw = path.open("rb")
    except OSError:
        return None
    with raw, codec(raw) if codec else contextlib.nullcontext(raw) as content:
        line = content.readline()
    return line if line.endswith(b"\n") else None


def _time_of(first: bytes, tz: tzinfo) -> float | None:
    """The Unix time of a log line (text times in ``tz``), None if it has none."""
    try:
        return parse_line(first.decode("utf-8", errors="replace"), tz).time.timestamp()
    except MalformedLine:
        return None


def _reason(error: BaseException) -> str:
    return str(error) or type(error).__name__


class _Open:
    """One open file and where we are in it (at ``at``, else at its start); ``tz`` reads the
    time of its first line."""

    def __init__(self, path: Path, name: str, tz: tzinfo, at: FilePosition | None = None) -> None:
        self.raw: BinaryIO = path.open("rb")
        stat = os.fstat(self.raw.fileno())
        self.path, self.name, self.dev, self.ino = path, name, stat.st_dev, stat.st_ino
        at = at or FilePosition(name, "")
        self.offset, self.line, self.id = at.offset, at.line, at.id
        self.tz, self.first_time = tz, at.first_time
        self._pending = 0
        self.file: BinaryIO = self.raw
        #: The first line (its identity): gone from the file once it is truncated.
        self.first = b""
        self._start()

    def _start(self) -> None:
        """Go to the offset (reading the first line on the way, if the offset is past it)."""
        self.first = self.file.readline() if self.offset else b""
        self.file.seek(self.offset)
        if self.first:
            self.first_time = _time_of(self.first, self.tz)

    def position(self) -> FilePosition:
        return FilePosition(
            self.name, self.id, self.dev, self.ino, self.offset, self.line, self.first_time
        )

    def read(self) -> RawLine | None:
        """The next complete line, or None at the end (a partial line stays unread) or once
        the file was emptied in place (:meth:`replaced`)."""
        raw = self.file.readline()
        if not raw.endswith(b"\n") or self.replaced():
            self.file.seek(self.offset)
            return None
        return self._take(raw)

    def _take(self, raw: bytes) -> RawLine:
        self.offset += len(raw)
        self.line += 1
        if self.line == 1:
            self.id, self.first = file_id(raw), raw
            self.first_time = _time_of(raw, self.tz)
        return RawLine(raw.decode("utf-8", errors="replace").rstrip("\r\n"), self.position())

    def replaced(self) -> bool:
        """Whether the file no longer begins with its first line: truncated (``copytruncate``),
        perhaps written again past our offset already."""
        return bool(self.first) and os.pread(self.raw.fileno(), len(self.first), 0) != self.first

    def pending(self) -> int:
        if self.raw.closed:
            return self._pending
        return max(0, os.fstat(self.raw.fileno()).st_size - self.offset)

    def close(self) -> None:
        if not self.raw.closed:
            self._pending = self.pending()
            self.file.close()
            self.raw.close()


class _Unpacked(_Open):
    """A compressed rotated file, read decompressed: offsets count uncompressed bytes, and the
    device and inode are the compressed file's. It no longer grows (a last line without its
    newline stays pending). A decompression error ends it: ``broken(file, error)`` is called,
    once, with ``file.line`` the number of lines read before it."""

    def __init__(
        self,
        path: Path,
        name: str,
        tz: tzinfo,
        at: FilePosition | None,
        broken: Callable[[_Unpacked, BaseException], None],
    ) -> None:
        self._broken = broken
        self.error: BaseException | None = None
        super().__init__(path, name, tz, at)

    def _start(self) -> None:
        try:
            self.file = _CODECS[self.path.suffix](self.raw)
            super()._start()  # decompresses up to the offset (past the end: to the end)
        except _BROKEN as exc:
            self._fail(exc)

    def _fail(self, error: BaseException) -> None:
        self.error = error
        self._broken(self, error)

    def read(self) -> RawLine | None:
        if self.error is not None:
            return None
        try:
            raw = self.file.readline()
        except _BROKEN as exc:
            self._fail(exc)
            return None
        if not raw.endswith(b"\n"):
            self._pending += len(raw)  # b"" once it was read
            return None
        return self._take(raw)

    def replaced(self) -> bool:
        return False

    def pending(self) -> int:
        return self._pending


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
        #: Counted warnings for the summary (compressed files that cannot be read).
        self.warnings: Counter[str] = Counter()
        self._current: _Open | None = None
        #: Compressed siblings already reported as unreadable (each is said once a run).
        self._unreadable: set[Path] = set()

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
        rotated sibling newer than it, oldest first (:meth:`_rotated`), then the current file;
        compressed ones decompressed. If no file has the saved identity, the rotated files not
        older than it (:func:`_after_gone`) are read from their start, then the current file.
        Raises :class:`FileNotFoundError` only before the first line: if the path is missing
        after rotated files, the newest of them is left as the current file.
        """
        start, name = self.start, self.path.name
        if start is None or not start.id:
            self._current = _Open(self.path, name, self.tz)
            return
        first = _first_line(self.path)
        current_id = file_id(first) if first is not None else None
        if current_id == start.id and self.path.stat().st_size >= start.offset:
            self._current = _Open(self.path, name, self.tz, start)
            return
        rotated = self._rotated()
        found = _find(rotated, start)
        at: FilePosition | None = start
        if found is not None:
            files = [rotated[found], *_newer(rotated[found + 1 :], {start.id, current_id})]
            read = [f"{files[0].path.name} (rotated) after line {start.line}"]
            read += [r.path.name for r in files[1:]]
            self.notes.append(f"resumed {', then '.join([*read, name])}")
            log.info("finishing rotated %s after line %d", files[0].path.name, start.line)
        else:
            files, at = self._gone(start, rotated, current_id), None
            if not files:
                return
        for r in files:
            opened = self._open_rotated(r, at)
            if opened is None:
                after = f" after line {at.line}" if at else ""
                self.notes.append(f"{r.path.name} was gone before its lines{after} were read")
                log.warning("%s was gone before its lines%s were read", r.path.name, after)
            else:
                if self._current is not None:
                    yield from self._drain(self._current)
                    log.info("reading rotated %s (rotated after the state was saved)", r.path.name)
                self._current = opened
            at = None
        try:
            new = _Open(self.path, name, self.tz)
        except FileNotFoundError:
            # Rotated, not yet created again: the newest rotated file stays the current one
            # (read to its end; in follow mode :meth:`_check_rotation` waits for the path).
            if self._current is None:
                raise
            return
        if self._current is not None:
            yield from self._drain(self._current)
        self._current = new

    def _gone(
        self, start: FilePosition, rotated: list[_Rotated], current_id: str | None
    ) -> list[_Rotated]:
        """The rotated files to read when none is the file of ``start`` (:func:`_after_gone`),
        said in a note; if there are none, the path is opened (raising FileNotFoundError before
        the note if it is missing: said once it is there)."""
        files = _after_gone(rotated, start, {current_id})
        if not files:
            self._current = _Open(self.path, self.path.name, self.tz)
        read = ", then ".join([*(r.path.name for r in files), self.path.name])
        self.notes.append(
            f"the file of the state (id {start.id}, line {start.line}) is gone; "
            f"read {read} from {'their' if files else 'its'} start"
        )
        log.warning("state refers to a file that is gone; reading %s from the start", read)
        return files

    def _open(self, path: Path, at: FilePosition | None) -> _Open:
        """A rotated file, opened at ``at`` (its start if None); decompressed if compressed."""
        if path.suffix in _CODECS:
            return _Unpacked(path, self.path.name, self.tz, at, self._broken)
        return _Open(path, self.path.name, self.tz, at)

    def _open_rotated(self, rotated: _Rotated, at: FilePosition | None) -> _Open | None:
        """:meth:`_open` ``rotated``; if it is gone since it was listed (logrotate removes a
        file once its compressed copy is written), the file with its identity now, if any."""
        try:
            return self._open(rotated.path, at)
        except FileNotFoundError:
            pass
        listed = self._rotated()
        found = _find(listed, at or FilePosition(self.path.name, rotated.id))
        if found is None:
            return None
        try:
            return self._open(listed[found].path, at)
        except FileNotFoundError:
            return None

    def _broken(self, file: _Unpacked, error: BaseException) -> None:
        """Say that the compressed ``file`` cannot be read after its line ``file.line``: a
        note, a counted warning, a logged error."""
        text = (
            f"{file.path.name}: cannot be decompressed after line {file.line} "
            f"({_reason(error)}): corrupt or truncated, its further lines are not read"
        )
        self._report_unreadable(text)

    def _report_unreadable(self, text: str) -> None:
        self.notes.append(text)
        self.warnings[_UNREADABLE] += 1
        log.error("%s", text)

    @staticmethod
    def _drain(file: _Open) -> Iterator[RawLine]:
        while (line := file.read()) is not None:
            yield line
        file.close()

    def _rotated(self) -> list[_Rotated]:
        """Rotated siblings of the path with their identities, oldest first.

        Rotated names are the path's name plus ``.N`` (logrotate, Asterisk) or a date or
        timestamp suffix (logrotate ``dateext``: ``-20250303``, ``-2025-03-03``; Asterisk
        ``timestamp``: ``.1740961800``), and these plus ``.gz``, ``.bz2``, ``.xz`` or ``.zst``
        (compressed: identified by the first line of their content); other siblings
        (``queue_log.toml``) are not. A compressed one whose first line cannot be decompressed
        is reported (once a run), unless its uncompressed file is there (being compressed).
        The order is that of the files' first lines' times, which holds whatever the naming
        scheme (logrotate's ``.1`` is the newest, Asterisk's ``sequential`` strategy makes the
        highest number the newest); if a first line has no readable time, logrotate's naming
        decides: dated names ascending, then ``.N`` from the highest N to the lowest. A file
        being compressed (``.1`` beside ``.1.gz``) comes before its compressed copy.
        """
        found: list[tuple[_Rotated, tuple[int, str, int]]] = []
        for path in self.path.parent.glob(f"{glob_escape(self.path.name)}?*"):
            suffix = path.name[len(self.path.name) :]
            codec = _CODECS.get(path.suffix)
            if codec is not None:
                suffix = suffix.removesuffix(path.suffix)
            if not _ROTATED.match(suffix) or not path.is_file():
                continue
            try:
                first = _first_line(path, codec)
            except _BROKEN as exc:
                if codec is not None and not path.with_suffix("").exists():
                    self._unidentified(path, exc)
                continue
            if first is None:
                continue
            rotated = _Rotated(path, file_id(first), codec is not None, _time_of(first, self.tz))
            found.append((rotated, _name_order(suffix)))
        if all(r.time is not None for r, _ in found):
            found.sort(key=lambda f: (f[0].time, f[1], f[0].compressed))
        else:
            found.sort(key=lambda f: (f[1], f[0].compressed))
        return [rotated for rotated, _ in found]

    def _unidentified(self, path: Path, error: BaseException) -> None:
        """Say (once a run) that the compressed ``path`` cannot be read even to its first
        line, so it is not known which file it is, nor read."""
        if path not in self._unreadable:
            self._unreadable.add(path)
            self._report_unreadable(
                f"{path.name}: cannot be decompressed ({_reason(error)}): corrupt or "
                f"truncated, not read"
            )

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
            self._current = _Open(self.path, self.path.name, self.tz)
            return rest
        if stat.st_size < current.offset or current.replaced():
            log.info("%s was truncated; reading it from its start", current.name)
            self.notes.append(f"truncation after line {current.line} of file {current.id}")
            current.close()
            rest = self._rest_of_copy(current.position())
            self._current = _Open(self.path, self.path.name, self.tz)
            return rest
        return None

    def _rest_of_copy(self, position: FilePosition) -> list[RawLine]:
        """The lines after ``position`` in the rotated copy of its file (``copytruncate``
        copies the file, then empties it; perhaps compressed it), if a rotated file has its
        identity."""
        rotated = self._rotated()
        found = _find(rotated, position)
        if found is None:
            return []
        path = rotated[found].path
        copy = self._open_rotated(rotated[found], position)
        if copy is None:  # removed since it was listed
            self.notes.append(f"the copy {path.name} was gone before its rest was read")
            log.warning("%s was gone before the lines after %d were read", path.name, position.line)
            return []
        path = copy.path
        log.info("reading the rest of %s after line %d", path.name, position.line)
        rest = list(self._drain(copy))
        self.notes.append(f"read {len(rest)} more lines from the copy {path.name}")
        return rest


def glob_escape(name: str) -> str:
    """``name`` with glob metacharacters escaped."""
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)
