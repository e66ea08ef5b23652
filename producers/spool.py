"""A durable, append-only, in-order spool of outbound Kafka records on local disk.

When Kafka is unreachable a producer appends records here and drains them, oldest first,
when it returns; a record leaves the spool only after Kafka acknowledged it (:meth:`commit`).
One process owns a spool folder at a time (an ``flock`` on ``lock``).

Layout of ``<spool_root>/<producer_id>/``::

    lock                     held while a producer has the spool open
    cursor                   "<segment> <offset>\\n": the first record not yet acknowledged
                             (replaced atomically: write, fsync, rename, fsync the folder)
    000000000000.seg …       segments, filled in order; a new one after ``segment_bytes``

A segment is ``HLSPOOL1`` followed by records::

    u32 body length | u32 CRC-32 of body | body
    body = u16 len, topic (UTF-8) | i32 len (-1: no key), key | u32 len, value
           | u16 header count, then per header: u16 len, name (UTF-8) | u32 len, value

All integers big-endian. Every :meth:`Spool.append` is one write and one ``fsync``.

Recovery on open: every segment from the cursor on is read and checked. Damage at the end of
the last segment is what a crash during an append leaves (a torn tail: a record cut short or
whose CRC fails): it is cut off and logged with the file, offset and bytes dropped
(:attr:`Spool.recovered` keeps the message). Damage anywhere else cannot come from a crash and
raises :class:`~hotline.producers.base.SpoolCorrupt` naming the file and offset.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import struct
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from hotline.errors import ConfigurationError
from hotline.producers.base import OutboundRecord, SpoolCorrupt, SpoolFull

__all__ = ["MAGIC", "Position", "Spool", "decode_body", "encode_record"]

log = logging.getLogger(__name__)

MAGIC = b"HLSPOOL1"
_FRAME = struct.Struct(">II")
_U16 = struct.Struct(">H")
_I32 = struct.Struct(">i")
_U32 = struct.Struct(">I")
_SUFFIX = ".seg"
#: The smallest body: empty topic, no key, empty value, no headers.
_MIN_BODY = 2 + 4 + 4 + 2


@dataclass(frozen=True, slots=True, order=True)
class Position:
    """A place in the spool: segment number and byte offset in it."""

    segment: int
    offset: int


def encode_record(record: OutboundRecord) -> bytes:
    """The framed bytes of one record (length, CRC, body)."""
    topic = record.topic.encode("utf-8")
    parts = [_U16.pack(len(topic)), topic]
    if record.key is None:
        parts.append(_I32.pack(-1))
    else:
        parts += [_I32.pack(len(record.key)), record.key]
    parts += [_U32.pack(len(record.value)), record.value, _U16.pack(len(record.headers))]
    for name, value in record.headers:
        raw = name.encode("utf-8")
        parts += [_U16.pack(len(raw)), raw, _U32.pack(len(value)), value]
    body = b"".join(parts)
    return _FRAME.pack(len(body), zlib.crc32(body)) + body


def decode_body(body: bytes) -> OutboundRecord:
    """The record of a checked body; ``ValueError`` if its inner lengths do not add up."""
    view = memoryview(body)
    pos = 0

    def take(n: int) -> bytes:
        nonlocal pos
        if n < 0 or pos + n > len(view):
            raise ValueError("inner length beyond the body")
        out = bytes(view[pos : pos + n])
        pos += n
        return out

    topic = take(_U16.unpack(take(2))[0]).decode("utf-8")
    key_len = _I32.unpack(take(4))[0]
    key = None if key_len == -1 else take(key_len)
    value = take(_U32.unpack(take(4))[0])
    headers = []
    for _ in range(_U16.unpack(take(2))[0]):
        name = take(_U16.unpack(take(2))[0]).decode("utf-8")
        headers.append((name, take(_U32.unpack(take(4))[0])))
    if pos != len(view):
        raise ValueError("trailing bytes in the body")
    return OutboundRecord(topic, key, value, tuple(headers))


def _read_record(f: BinaryIO, size: int, offset: int) -> tuple[OutboundRecord, int] | str:
    """The record at ``offset`` and the next offset, or why there is none there."""
    frame = f.read(_FRAME.size)
    if len(frame) < _FRAME.size:
        return f"frame cut short ({len(frame)} of {_FRAME.size} bytes)"
    length, crc = _FRAME.unpack(frame)
    end = offset + _FRAME.size + length
    if length < _MIN_BODY or end > size:
        return f"record length {length} does not fit (file has {size} bytes)"
    body = f.read(length)
    if zlib.crc32(body) != crc:
        return "CRC mismatch"
    try:
        return decode_body(body), end
    except (ValueError, UnicodeDecodeError) as exc:
        return f"malformed body ({exc})"


class Spool:
    """The spool in ``directory``, bounded to ``max_bytes`` of segment files.

    Not thread-safe: one producer calls it from one thread.
    """

    def __init__(
        self,
        directory: str | Path,
        max_bytes: int = 1024**3,
        segment_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        self.path = Path(directory)
        self.max_bytes = max_bytes
        self.segment_bytes = segment_bytes
        #: What recovery did on open (a torn tail cut off), or None.
        self.recovered: str | None = None
        self.path.mkdir(parents=True, exist_ok=True)
        self._lock = (self.path / "lock").open("a+b")
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            raise ConfigurationError(
                f"spool {self.path} is in use by another producer process; "
                "give each producer its own producer_id"
            ) from None
        self._writer: BinaryIO | None = None
        self._write_segment = -1
        self._cursor = Position(0, len(MAGIC))
        self._pending = 0
        self._sizes: dict[int, int] = {}
        try:
            self._recover()
        except BaseException:
            self.close()
            raise

    # -- state ------------------------------------------------------------------------------

    def __len__(self) -> int:
        """Records not yet acknowledged."""
        return self._pending

    @property
    def bytes_used(self) -> int:
        """Bytes of all segment files (what counts against ``max_bytes``)."""
        return sum(self._sizes.values())

    def _segment_path(self, index: int) -> Path:
        return self.path / f"{index:012d}{_SUFFIX}"

    def _segments(self) -> list[int]:
        return sorted(int(p.stem) for p in self.path.glob(f"*{_SUFFIX}") if p.stem.isdigit())

    # -- open -------------------------------------------------------------------------------

    def _recover(self) -> None:
        segments = self._segments()
        cursor_file = self.path / "cursor"
        if not segments:
            cursor_file.unlink(missing_ok=True)
            return
        cursor = Position(segments[0], len(MAGIC))
        with contextlib.suppress(FileNotFoundError, ValueError):
            seg, off = cursor_file.read_text().split()
            cursor = max(cursor, Position(int(seg), int(off)))
        for index in segments:
            if index < cursor.segment:  # acknowledged, left by a crash before deletion
                self._segment_path(index).unlink()
        segments = [i for i in segments if i >= cursor.segment]
        if not segments:
            cursor_file.unlink(missing_ok=True)
            return
        if cursor.segment not in segments:
            cursor = Position(segments[0], len(MAGIC))
        self._cursor = cursor
        for index in segments:
            start = cursor.offset if index == cursor.segment else len(MAGIC)
            self._pending += self._check_segment(index, start, last=index == segments[-1])
            self._sizes[index] = self._segment_path(index).stat().st_size
        self._open_writer(segments[-1])

    def _check_segment(self, index: int, start: int, *, last: bool) -> int:
        """Count the records from ``start``; cut a torn tail of the last segment."""
        path = self._segment_path(index)
        size = path.stat().st_size
        with path.open("rb") as f:
            if f.read(len(MAGIC)) != MAGIC:
                if last and size < len(MAGIC) and start == len(MAGIC):
                    self._cut(path, 0, size, "segment header cut short")
                    path.write_bytes(MAGIC)
                    return 0
                raise SpoolCorrupt(f"{path}: not a spool segment (bad header); move it aside")
            f.seek(start)
            offset, count = start, 0
            while offset < size:
                result = _read_record(f, size, offset)
                if isinstance(result, str):
                    if not last:
                        raise SpoolCorrupt(
                            f"{path} is damaged at offset {offset}: {result}; it is not the "
                            "last segment, so no crash explains it — move the spool folder "
                            "aside and replay its source"
                        )
                    self._cut(path, offset, size, result)
                    break
                offset = result[1]
                count += 1
        return count

    def _cut(self, path: Path, offset: int, size: int, reason: str) -> None:
        self.recovered = (
            f"spool {path}: torn tail after a crash at offset {offset} ({reason}); "
            f"dropped {size - offset} bytes of a write that was never fsynced"
        )
        log.warning("%s", self.recovered)
        with path.open("r+b") as f:
            f.truncate(offset)
            os.fsync(f.fileno())

    # -- writing ----------------------------------------------------------------------------

    def _open_writer(self, index: int) -> None:
        if self._writer is not None:
            self._writer.close()
        path = self._segment_path(index)
        new = not path.exists()
        self._writer = path.open("ab")
        if new:
            self._writer.write(MAGIC)
            self._writer.flush()
            os.fsync(self._writer.fileno())
            self._fsync_dir()
        self._write_segment = index
        self._sizes[index] = path.stat().st_size

    def _fsync_dir(self) -> None:
        fd = os.open(self.path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def append(self, records: Iterable[OutboundRecord]) -> int:
        """Append ``records`` behind the others, all or none, then fsync; returns the count.

        Raises :class:`SpoolFull` (nothing written) when they would pass ``max_bytes``.
        """
        frames = [encode_record(r) for r in records]
        if not frames:
            return 0
        data = b"".join(frames)
        needed = len(data) + (len(MAGIC) if self._rolls() else 0)
        if self.bytes_used + needed > self.max_bytes:
            raise SpoolFull(self.path, self.max_bytes, self.bytes_used, needed)
        if self._rolls():
            self._open_writer(self._write_segment + 1)
        assert self._writer is not None
        self._writer.write(data)
        self._writer.flush()
        os.fsync(self._writer.fileno())
        self._sizes[self._write_segment] += len(data)
        self._pending += len(frames)
        return len(frames)

    def _rolls(self) -> bool:
        if self._writer is None:
            return True
        return self._sizes[self._write_segment] >= self.segment_bytes

    # -- reading and acknowledging ----------------------------------------------------------

    def read(self, max_records: int) -> tuple[list[OutboundRecord], list[Position]]:
        """Up to ``max_records`` oldest unacknowledged records, each with the position after it.

        Acknowledge the first ``k`` with ``commit(ends[k - 1], k)``.
        """
        out: list[OutboundRecord] = []
        ends: list[Position] = []
        pos = self._cursor
        for index in sorted(self._sizes):
            if index < pos.segment or len(out) >= max_records:
                continue
            path = self._segment_path(index)
            size = self._sizes[index]
            offset = pos.offset if index == pos.segment else len(MAGIC)
            with path.open("rb") as f:
                f.seek(offset)
                while offset < size and len(out) < max_records:
                    result = _read_record(f, size, offset)
                    if isinstance(result, str):
                        raise SpoolCorrupt(f"{path} changed under the spool at {offset}: {result}")
                    out.append(result[0])
                    offset = result[1]
                    ends.append(Position(index, offset))
            pos = Position(index, offset)
        return out, ends

    def commit(self, position: Position, count: int) -> None:
        """Mark the ``count`` oldest records, ending at ``position``, acknowledged."""
        if count <= 0:
            return
        self._pending -= count
        if self._pending == 0:
            self._reset()
            return
        self._cursor = position
        tmp = self.path / "cursor.tmp"
        with tmp.open("w") as f:
            f.write(f"{position.segment} {position.offset}\n")
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(self.path / "cursor")
        for index in [i for i in self._sizes if i < position.segment]:
            self._segment_path(index).unlink(missing_ok=True)
            del self._sizes[index]
        self._fsync_dir()

    def _reset(self) -> None:
        """Everything acknowledged: delete the segments, then the cursor."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        for index in list(self._sizes):
            self._segment_path(index).unlink(missing_ok=True)
        self._sizes.clear()
        (self.path / "cursor").unlink(missing_ok=True)
        self._fsync_dir()
        self._cursor = Position(self._write_segment + 1, len(MAGIC))
        self._write_segment = self._cursor.segment - 1

    def records(self) -> Sequence[OutboundRecord]:
        """All unacknowledged records, oldest first (tests and inspection)."""
        return self.read(self._pending)[0]

    def close(self) -> None:
        """Release the writer and the lock; the contents stay for the next open."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if not self._lock.closed:
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            self._lock.close()
