"""Whether Kafka is reachable, as ``GET /healthz`` tells it: asked at most once a while.

``/healthz`` needs no token and each probe opens a connection (waiting up to a second per
address while Kafka does not answer). :class:`KafkaHealth` keeps a probe's answer for
``ttl_s`` and lets only one request probe at a time; the others answer with the last result,
so a flood of calls opens about one connection per ``ttl_s`` and holds no worker threads.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

__all__ = ["KafkaHealth"]


class KafkaHealth:
    """``probe`` (True: Kafka reachable) asked at most once per ``ttl_s`` of ``clock``."""

    def __init__(
        self, probe: Callable[[], bool], ttl_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._probe = probe
        self._ttl_s = ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        self._last: tuple[float, bool] | None = None  # (when asked, answer)

    def _fresh(self) -> bool | None:
        last = self._last
        return last[1] if last is not None and self._clock() - last[0] < self._ttl_s else None

    def up(self) -> bool:
        """The last answer while it is fresh or while another request probes, else a new one."""
        if (fresh := self._fresh()) is not None:
            return fresh
        last = self._last
        if not self._lock.acquire(blocking=last is None):  # none yet: wait for the first
            assert last is not None
            return last[1]
        try:
            if (fresh := self._fresh()) is not None:  # probed while this one waited
                return fresh
            up = self._probe()
            self._last = (self._clock(), up)
            return up
        finally:
            self._lock.release()
