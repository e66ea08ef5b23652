"""Login sessions: random tokens held in memory, each expiring ``ttl_s`` after login.

A restart of the dashboard logs everyone out (sessions are not written anywhere).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import HTTPException, Request

from .users import User

COOKIE = "hotline_session"


def require_json(request: Request) -> None:
    """Refuse (415) a POST that is not ``application/json``: a cross-site form cannot send
    JSON, so with the SameSite cookie this is the guard against cross-site requests (also at
    login, which a hostile page could otherwise use to log a browser into another account)."""
    if not request.headers.get("content-type", "").startswith("application/json"):
        raise HTTPException(415, "请以 application/json 提交")


@dataclass(frozen=True, slots=True)
class Session:
    token: str
    user: User
    expires_at: float


class SessionStore:
    def __init__(self, ttl_s: int, clock: Callable[[], float] = time.time) -> None:
        self.ttl_s = ttl_s
        self._clock = clock
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def create(self, user: User) -> Session:
        session = Session(secrets.token_urlsafe(32), user, self._clock() + self.ttl_s)
        with self._lock:
            now = self._clock()
            self._sessions = {t: s for t, s in self._sessions.items() if s.expires_at > now}
            self._sessions[session.token] = session
        return session

    def get(self, token: str | None) -> Session | None:
        if not token:
            return None
        with self._lock:
            session = self._sessions.get(token)
            if session is None:
                return None
            if session.expires_at <= self._clock():
                del self._sessions[token]
                return None
            return session

    def delete(self, token: str | None) -> None:
        with self._lock:
            self._sessions.pop(token or "", None)
