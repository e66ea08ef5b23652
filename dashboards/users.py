"""Dashboard accounts: a JSON file of names, scopes and argon2id password hashes.

The operator manages it with ``hotline dashboard user add|list|remove``; the file is written
atomically with mode 0600. Passwords are never stored or logged in clear.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from hotline.errors import ConfigurationError, InvalidInput
from hotline.regions import RegionRegistry

from .scopes import Scope

_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
MIN_PASSWORD_LENGTH = 8


def _exists(name: str) -> InvalidInput:
    return InvalidInput(f"user {name!r} exists (use --replace to change it)")


@dataclass(frozen=True, slots=True)
class User:
    name: str
    scope: Scope
    #: A digest of the stored password hash: a user whose password was reset compares unequal.
    stamp: str = field(default="", repr=False)


class UserStore:
    """Accounts in ``path``; reads the file on every lookup (the operator may change it live)."""

    def __init__(self, path: Path, regions: RegionRegistry, hasher: PasswordHasher | None = None):
        self.path = path
        self.regions = regions
        self._hasher = hasher or PasswordHasher()
        self._lock = threading.Lock()
        # Verified against when the name is unknown, so that timing does not reveal names.
        self._dummy_hash = self._hasher.hash("not a password of anyone")

    def _load(self) -> dict[str, dict[str, str]]:
        if not self.path.exists():
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return dict(data["users"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigurationError(f"dashboard users file {self.path} is broken: {exc}") from exc

    def _save(self, users: dict[str, dict[str, str]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump({"users": users}, out, ensure_ascii=False, indent=2, sort_keys=True)
        tmp.replace(self.path)

    def check(self, name: str, scope: str, *, replace: bool = False) -> Scope:
        """The checks of :meth:`add` that need no password: the name, the scope and (without
        ``replace``) that the name is free; the parsed scope. ``hotline dashboard user add``
        runs them before it asks for the password."""
        if not _NAME.match(name):
            raise InvalidInput(f"user name {name!r}: use 1–64 letters, digits, '_', '.', '-'")
        parsed = Scope.parse(scope, self.regions)
        if not replace and name in self._load():
            raise _exists(name)
        return parsed

    def add(self, name: str, password: str, scope: str, *, replace: bool = False) -> User:
        """Create (or with ``replace`` overwrite) an account: name and scope are checked
        (:meth:`check`) before the password."""
        parsed = self.check(name, scope, replace=replace)
        if len(password) < MIN_PASSWORD_LENGTH:
            raise InvalidInput(f"password too short: at least {MIN_PASSWORD_LENGTH} characters")
        with self._lock:
            users = self._load()
            if name in users and not replace:  # added since the check
                raise _exists(name)
            users[name] = {
                "scope": str(parsed),
                "password_hash": self._hasher.hash(password),
                "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            }
            self._save(users)
        return User(name, parsed)

    def remove(self, name: str) -> None:
        with self._lock:
            users = self._load()
            if name not in users:
                raise InvalidInput(f"no dashboard user {name!r}")
            del users[name]
            self._save(users)

    def list(self) -> list[User]:
        return [self._user(name, entry) for name, entry in sorted(self._load().items())]

    def get(self, name: str) -> User | None:
        """The account as the file holds it now (None if there is none)."""
        entry = self._load().get(name)
        return None if entry is None else self._user(name, entry)

    def _user(self, name: str, entry: dict[str, str]) -> User:
        stamp = hashlib.sha256(entry["password_hash"].encode()).hexdigest()[:16]
        return User(name, Scope.parse(entry["scope"], self.regions), stamp)

    def verify(self, name: str, password: str) -> User | None:
        """The user if ``password`` is theirs, else None (same work for unknown names)."""
        entry = self._load().get(name)
        stored = entry["password_hash"] if entry else self._dummy_hash
        try:
            self._hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return None
        if entry is None:
            return None
        return self._user(name, entry)
