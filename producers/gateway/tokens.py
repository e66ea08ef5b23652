"""Per-center API tokens of the ingest gateway, stored only as SHA-256 hashes.

A token is 32 random bytes (``secrets.token_urlsafe``) behind the prefix ``hl_``; it is shown
once when created and never stored. The tokens file (JSON, mode 0600) holds, per token, the
center id, the SHA-256 hex of the token and when it was made. A fast unsalted hash is enough
for random 256-bit secrets (nothing to guess, unlike passwords) and keeps each request cheap.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from hotline.errors import ConfigurationError

__all__ = ["PREFIX", "TokenEntry", "TokenStore", "hash_token"]

PREFIX = "hl_"


def hash_token(token: str) -> str:
    """The SHA-256 hex of a token, as stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class TokenEntry:
    center_id: str
    sha256: str
    created: str


class TokenStore:
    """The tokens file at ``path``; read at construction, written on :meth:`add`/:meth:`revoke`."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._entries: list[TokenEntry] = []
        if self.path.exists():
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
                self._entries = [TokenEntry(**item) for item in data["tokens"]]
            except (ValueError, KeyError, TypeError) as exc:
                raise ConfigurationError(f"tokens file {self.path} is unreadable: {exc}") from exc
        self._by_hash = {e.sha256: e for e in self._entries}

    @property
    def entries(self) -> tuple[TokenEntry, ...]:
        return tuple(self._entries)

    def center_of(self, token: str) -> str | None:
        """The center a presented token belongs to, or None."""
        digest = hash_token(token)
        entry = self._by_hash.get(digest)
        if entry is None or not hmac.compare_digest(entry.sha256, digest):
            return None
        return entry.center_id

    def add(self, center_id: str) -> str:
        """Make a new token for ``center_id``, store its hash, return the token (once)."""
        token = PREFIX + secrets.token_urlsafe(32)
        entry = TokenEntry(center_id, hash_token(token), datetime.now(UTC).isoformat())
        self._entries.append(entry)
        self._by_hash[entry.sha256] = entry
        self._save()
        return token

    def revoke(self, center_id: str) -> int:
        """Remove every token of ``center_id``; returns how many."""
        kept = [e for e in self._entries if e.center_id != center_id]
        removed = len(self._entries) - len(kept)
        self._entries = kept
        self._by_hash = {e.sha256: e for e in kept}
        self._save()
        return removed

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        data = {"tokens": [_as_dict(e) for e in self._entries]}
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(self.path)


def _as_dict(entry: TokenEntry) -> dict[str, str]:
    return {"center_id": entry.center_id, "sha256": entry.sha256, "created": entry.created}
