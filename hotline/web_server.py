"""Serve an ASGI app with uvicorn on a socket bound first, so a bad ``--host``/``--port`` is
one line naming the option instead of uvicorn's log of an ``OSError``."""

from __future__ import annotations

import errno
import socket
from typing import Any

from hotline.errors import ConfigurationError


class CannotListen(ConfigurationError):
    """The address given by ``--host``/``--port`` cannot be listened on."""

    def __init__(self, host: str, port: int, reason: OSError) -> None:
        super().__init__(f"cannot listen on {host}:{port}: {reason.strerror or reason}")
        if reason.errno == errno.EADDRINUSE:
            self.hint = (
                f"another process already listens on port {port} "
                "(`make down` stops the demo's); choose another with --port"
            )
        else:
            self.hint = "check --host (an address of this machine, e.g. 127.0.0.1 or 0.0.0.0)"


def listen(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` as uvicorn binds one (``SO_REUSEADDR``); raises
    :class:`CannotListen` if that address is taken or not this machine's."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise CannotListen(host, port, exc) from exc
    return sock


def serve_on(app: Any, sock: socket.socket, *, log_level: str = "info") -> None:
    """Run ``app`` on the bound ``sock`` until Ctrl-C or SIGTERM; closes the socket."""
    import uvicorn

    host, port = sock.getsockname()[:2]
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level=log_level))
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
