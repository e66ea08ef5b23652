"""Failed-login throttling: at most N failed logins per user name and M per client address
within a sliding window; past that ``POST /api/login`` answers 429 until the oldest failure
leaves the window.

In memory and **per process**: a restart forgets every count, and several dashboard processes
(uvicorn workers, replicas) count separately, so each allows its own N. The client address is
the one the ASGI server reports (behind a reverse proxy, the proxy's, unless uvicorn takes it
from ``X-Forwarded-For``: ``--forwarded-allow-ips``).

An attempt **reserves** a slot in both counts before the password is checked
(:meth:`LoginThrottle.begin`), so parallel attempts cannot all pass the check before the first
failure is counted; a failure keeps the slot (:meth:`LoginThrottle.failed`, a no-op), a success
clears the user name's count and frees the client's slot (:meth:`LoginThrottle.succeeded`),
an error frees both (:meth:`LoginThrottle.release`). Successful logins never count.

Names are counted whether or not such a user exists, so a 429 says nothing about the name.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Attempt", "LoginThrottle"]

#: longest user name kept as a key (valid names have at most 64 characters)
_NAME_KEY_LENGTH = 80
#: sweep keys whose failures all left the window once the table has grown past this
_SWEEP_AT = 1024


@dataclass(frozen=True, slots=True)
class Attempt:
    """One reserved login attempt: the keys it counts under and its time."""

    user_key: str
    client_key: str
    at: float


class LoginThrottle:
    """Thread-safe sliding-window counts of failed logins, keyed by user name and by client."""

    def __init__(
        self,
        per_user: int,
        per_client: int,
        window_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if per_user < 1 or per_client < 1 or window_s <= 0:
            raise ValueError("login throttle: limits must be ≥ 1 and the window > 0")
        self.per_user = per_user
        self.per_client = per_client
        self.window_s = window_s
        self._clock = clock
        self._lock = threading.Lock()
        self._times: dict[str, deque[float]] = {}
        self._sweep_at = _SWEEP_AT

    def begin(self, user: str, client: str) -> Attempt | float:
        """Reserve one attempt for ``user`` from ``client``: the :class:`Attempt`, or, when
        either count is full, the seconds until a slot frees (nothing is reserved then)."""
        user_key = "u:" + user[:_NAME_KEY_LENGTH]
        client_key = "c:" + client
        with self._lock:
            now = self._clock()
            self._maybe_sweep(now)
            wait = 0.0
            for key, limit in ((user_key, self.per_user), (client_key, self.per_client)):
                times = self._recent(key, now)
                if times is not None and len(times) >= limit:
                    wait = max(wait, times[len(times) - limit] + self.window_s - now)
            if wait > 0:
                return wait
            for key in (user_key, client_key):
                self._times.setdefault(key, deque()).append(now)
            return Attempt(user_key, client_key, now)

    def failed(self, attempt: Attempt) -> None:
        """The password was wrong: the reserved slots stay counted until the window passes."""

    def succeeded(self, attempt: Attempt) -> None:
        """The login worked: the user name starts afresh; the client's reserved slot is freed
        (its earlier failures still count)."""
        with self._lock:
            self._times.pop(attempt.user_key, None)
            self._drop(attempt.client_key, attempt.at)

    def release(self, attempt: Attempt) -> None:
        """The check did not happen (an error): free both reserved slots."""
        with self._lock:
            self._drop(attempt.user_key, attempt.at)
            self._drop(attempt.client_key, attempt.at)

    @staticmethod
    def retry_after(wait: float) -> int:
        """Whole seconds for a ``Retry-After`` header (at least 1)."""
        return max(1, math.ceil(wait))

    # -- internals (under the lock) -----------------------------------------------------------

    def _recent(self, key: str, now: float) -> deque[float] | None:
        times = self._times.get(key)
        if times is None:
            return None
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if not times:
            del self._times[key]
            return None
        return times

    def _drop(self, key: str, at: float) -> None:
        times = self._times.get(key)
        if times is None:
            return
        with contextlib.suppress(ValueError):  # it may have left the window already
            times.remove(at)
        if not times:
            del self._times[key]

    def _maybe_sweep(self, now: float) -> None:
        if len(self._times) < self._sweep_at:
            return
        cutoff = now - self.window_s
        self._times = {k: t for k, t in self._times.items() if t and t[-1] > cutoff}
        # amortised: the next sweep waits until the table has doubled again
        self._sweep_at = max(_SWEEP_AT, 2 * len(self._times))

    def __len__(self) -> int:
        """Keys held (for tests)."""
        return len(self._times)
