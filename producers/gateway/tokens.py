"""Per-center API tokens of the ingest gateway, stored only as SHA-256 hashes.

A token is 32 random bytes (``secrets.token_urlsafe``) behind the prefix ``hl_``; it is shown
once when created and never stored. The tokens file (JSON, mode 0600) holds, per token, the
center id, the SHA-256 hex of the token and when it was made. A fast unsalted hash is enough
for random 256-bit secrets (nothing to guess, unlike passwords) and keeps each request cheap.

A running gateway sees ``hotline serve ingest-token add``/``revoke`` from the next request on
(:meth:`TokenStore.refresh`): no restart.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import json
import logging
import os
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from hotline.errors import ConfigurationError

__all__ = ["PREFIX", "TokenEntry", "TokenStore", "hash_token"]

PREFIX = "hl_"

log = logging.getLogger(__name__)


def hash_token(token: str) -> str:
    """The SHA-256 hex of a token, as stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class TokenEntry:
    center_id: str
    sha256: str
    created: str


class TokenStore:
    """The tokens file at ``path``, kept in step with the file while the gateway runs.

    Read at construction (an unreadable file raises ``ConfigurationError``). Every
    :meth:`center_of` then checks the file with one ``stat`` (inode, size, mtime — the
    ``ingest-token`` commands replace the file atomically, so each of their writes changes
    it) and re-reads it when it changed: a token added or revoked by another process counts
    from the next request on, without a restart. The new tokens replace the old in one
    assignment. A file that has become unreadable, invalid or missing keeps the last good
    tokens (it never lets an unknown token in) and logs an error once per change of the file;
    :attr:`error` says why until a good file is read again. :meth:`add` and :meth:`revoke`
    start from the file as it is now.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._signature: tuple[int, int, int] | None = None
        #: why the file could not be re-read (the last good tokens are in use), else None
        self.error: str | None = None
        self._set(self._read_now())

    @property
    def entries(self) -> tuple[TokenEntry, ...]:
        self.refresh()
        return self._entries

    def center_of(self, token: str) -> str | None:
        """The center a presented token belongs to, or None."""
        self.refresh()
        digest = hash_token(token)
        entry = self._by_hash.get(digest)
        if entry is None or not hmac.compare_digest(entry.sha256, digest):
            return None
        return entry.center_id

    def refresh(self) -> bool:
        """Re-read the file if it changed since it was last read; True if tokens changed.

        Never raises: a bad file keeps the last good tokens (see the class docstring)."""
        signature = self._stat()
        if signature == self._signature:
            return False
        if not self._lock.acquire(blocking=False):
            return False  # another request is re-reading it; use the tokens in hand
        try:
            if signature == self._signature:
                return False
            self._signature = signature
            try:
                if signature is None:
                    raise ConfigurationError(f"tokens file {self.path} is missing")
                entries = self._read()
            except ConfigurationError as exc:
                self.error = f"{exc}; keeping the {len(self._entries)} token(s) read before"
                log.error("%s", self.error)
                return False
            changed = {e.sha256 for e in entries} != set(self._by_hash)
            self._set(entries)
            log.info("tokens file %s re-read: %d token(s)", self.path, len(entries))
            return changed
        finally:
            self._lock.release()

    def add(self, center_id: str) -> str:
        """Make a new token for ``center_id``, store its hash, return the token (once)."""
        token = PREFIX + secrets.token_urlsafe(32)
        entry = TokenEntry(center_id, hash_token(token), datetime.now(UTC).isoformat())
        with self._lock, self._file_lock():
            entries = self._read_now()
            self._save([*entries, entry])
        return token

    def revoke(self, center_id: str) -> int:
        """Remove every token of ``center_id``; returns how many."""
        with self._lock, self._file_lock():
            entries = self._read_now()
            kept = [e for e in entries if e.center_id != center_id]
            self._save(kept)
        return len(entries) - len(kept)

    @contextlib.contextmanager
    def _file_lock(self) -> Iterator[None]:
        """Held by one ``ingest-token`` command at a time (``flock`` on ``<file>.lock``): two
        run at once would each write the file they read plus their own token, losing one."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path.with_name(self.path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _set(self, entries: list[TokenEntry]) -> None:
        self._entries = tuple(entries)
        self._by_hash = {e.sha256: e for e in entries}  # one assignment: readers see old or new
        self.error = None

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            st = self.path.stat()
        except OSError:
            return None
        return (st.st_ino, st.st_size, st.st_mtime_ns)

    def _read_now(self) -> list[TokenEntry]:
        """The file's tokens (none if it does not exist); remembers what was read."""
        self._signature = self._stat()
        if self._signature is None:
            return []
        return self._read()

    def _read(self) -> list[TokenEntry]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            entries = [TokenEntry(**item) for item in data["tokens"]]
        except OSError as exc:
            raise ConfigurationError(f"tokens file {self.path} cannot be read: {exc}") from exc
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigurationError(f"tokens file {self.path} is unreadable: {exc}") from exc
        for entry in entries:
            if not all(isinstance(v, str) for v in (entry.center_id, entry.sha256, entry.created)):
                raise ConfigurationError(f"tokens file {self.path} is unreadable: {entry!r}")
        return entries

    def _save(self, entries: list[TokenEntry]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        data = {"tokens": [_as_dict(e) for e in entries]}
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(self.path)
        self._signature = self._stat()
        self._set(entries)


def _as_dict(entry: TokenEntry) -> dict[str, str]:
    return {"center_id": entry.center_id, "sha256": entry.sha256, "created": entry.created}
