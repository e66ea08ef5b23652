"""The contract of a local-stack service (ClickHouse, Kafka): start, wait, status, stop.

Lifecycle::

    start()  ──►  wait_ready(timeout)  ──►  … serve …  ──►  stop(timeout)
      │                                                       │
      └─ detached child process; it outlives the caller ──────┘

- ``start()`` launches the service as a detached child process (its own session), records its
  pid under the service's home folder and returns without waiting. It is idempotent: when the
  recorded process is alive, it does nothing. It raises :class:`ServiceError` when the process
  cannot be launched at all.
- ``wait_ready(timeout)`` blocks until the service answers its protocol, polling. It raises
  :class:`ServiceError` when the process died or the timeout passed; the message names the log
  file and quotes its last lines.
- ``status()`` never raises for a stopped or broken service: it reports what it finds.
- ``stop(timeout)`` asks the process to end (SIGTERM), waits up to ``timeout`` seconds, then
  kills it (SIGKILL). Stopping a stopped service does nothing. Data stays on disk.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from hotline.errors import HotlineError


class ServiceError(HotlineError):
    """A local-stack service could not be started, did not become ready, or could not stop."""


@dataclass(frozen=True)
class ServiceStatus:
    """What ``status()`` found: whether the service runs, its pid, endpoints and version."""

    name: str
    running: bool
    pid: int | None
    endpoints: dict[str, str] = field(default_factory=dict)
    version: str | None = None
    detail: str = ""


@runtime_checkable
class Service(Protocol):
    """A service of the embedded local stack; see the module docstring for the lifecycle."""

    name: str

    def start(self) -> None:
        """Launch the service detached, unless it already runs; do not wait for readiness."""
        ...

    def wait_ready(self, timeout: float) -> None:
        """Block until the service answers; raise :class:`ServiceError` otherwise."""
        ...

    def status(self) -> ServiceStatus:
        """Report the service's state; never raises because the service is down."""
        ...

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, wait up to ``timeout`` seconds, then SIGKILL; no-op when stopped."""
        ...


def answers(port: int, host: str = "127.0.0.1", timeout: float = 1.0) -> bool:
    """Whether something accepts a TCP connection on ``host:port``."""
    with socket.socket() as sock:
        sock.settimeout(timeout)
        return sock.connect_ex((host, port)) == 0
