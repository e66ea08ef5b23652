"""The embedded ClickHouse server: the pinned ``chdb-core`` engine in a detached child process.

It serves the native TCP protocol (and HTTP) on 127.0.0.1, so everything else talks to it
with clickhouse-driver exactly as to ``clickhouse-server``. The child is
:mod:`hotline.infra.clickhouse_child`; this module writes its configuration, launches it in
its own session (it outlives the CLI that started it), and stops it with SIGTERM, then SIGKILL.

Layout under ``home`` (``.hotline/clickhouse`` by default)::

    config.xml  users.xml  pid  data/  log/{child.log,clickhouse.log,clickhouse.err.log}
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections import deque
from pathlib import Path

from clickhouse_driver import Client
from clickhouse_driver.errors import Error as DriverError

from hotline.errors import ConfigurationError
from hotline.infra.base import ServiceError, ServiceStatus
from hotline.infra.clickhouse_users import UsersConfig, write_users_xml
from hotline.settings import Settings

log = logging.getLogger(__name__)

CHILD_MODULE = "hotline.infra.clickhouse_child"
HOST = "127.0.0.1"
_DATA_PATH_SQL = "SELECT path FROM system.disks WHERE name = 'default'"


def render_config_xml(home: Path, tcp_port: int, http_port: int) -> str:
    """The server's config.xml: loopback only, the given ports, users.xml and logs in ``home``."""
    root = ET.Element("clickhouse")
    ET.SubElement(root, "listen_host").text = HOST
    ET.SubElement(root, "tcp_port").text = str(tcp_port)
    ET.SubElement(root, "http_port").text = str(http_port)
    ET.SubElement(root, "users_config").text = str(home / "users.xml")
    # The engine honours the log files and their rotation (size × count: at most ~60 MB of
    # each log, older ones gzipped) but, served through chdb's query(), not <level>: it logs
    # at trace whatever the level says (checked with chdb-core 26.9.0; connect()'s
    # ?log-level= would apply it but cannot serve). The level stays for when it is honoured.
    logger = ET.SubElement(root, "logger")
    for tag, text in (
        ("level", "information"),
        ("log", str(home / "log" / "clickhouse.log")),
        ("errorlog", str(home / "log" / "clickhouse.err.log")),
        ("size", "10M"),
        ("count", "5"),
        ("console", "0"),
    ):
        ET.SubElement(logger, tag).text = text
    ET.indent(root)
    return ET.tostring(root, encoding="unicode") + "\n"


class ClickHouseServer:
    """One embedded ClickHouse server (see :mod:`hotline.infra.base` for the lifecycle)."""

    name = "clickhouse"

    def __init__(
        self,
        home: Path,
        tcp_port: int,
        http_port: int,
        users: UsersConfig,
        *,
        python: str = sys.executable,
    ) -> None:
        self.home = home.resolve()
        self.tcp_port = tcp_port
        self.http_port = http_port
        self.users = users
        self.python = python
        self._process: subprocess.Popen[bytes] | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> ClickHouseServer:
        """The server of the local stack: ``<stack.home>/clickhouse``, the clients' ports."""
        return cls(
            settings.stack.home / "clickhouse",
            settings.clickhouse.port,
            settings.clickhouse.http_port,
            UsersConfig.from_settings(settings),
        )

    # -- paths ---------------------------------------------------------------------------------

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def log_dir(self) -> Path:
        return self.home / "log"

    @property
    def child_log(self) -> Path:
        return self.log_dir / "child.log"

    @property
    def error_log(self) -> Path:
        return self.log_dir / "clickhouse.err.log"

    @property
    def pid_file(self) -> Path:
        return self.home / "pid"

    @property
    def endpoints(self) -> dict[str, str]:
        return {"tcp": f"{HOST}:{self.tcp_port}", "http": f"http://{HOST}:{self.http_port}"}

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        """Write config.xml and users.xml, then launch the child unless it already runs."""
        pid = self.pid()
        if pid is not None:
            log.info("clickhouse already running (pid %d)", pid)
            return
        if self.users.admin_password.get_secret_value():
            # The engine's own serving query runs as the admin without a password: with one
            # it ends at once in AUTHENTICATION_FAILED, and the child with it.
            raise ConfigurationError(
                "the embedded ClickHouse cannot have an admin password: unset "
                "HOTLINE_CLICKHOUSE__PASSWORD for the local stack (it listens on 127.0.0.1 "
                "only); a password-protected admin needs clickhouse-server (docker compose)"
            )
        for folder in (self.data_dir, self.log_dir):
            folder.mkdir(parents=True, exist_ok=True)
        (self.home / "config.xml").write_text(
            render_config_xml(self.home, self.tcp_port, self.http_port), encoding="utf-8"
        )
        write_users_xml(self.users, self.home / "users.xml")
        with self.child_log.open("ab") as out:
            try:
                self._process = subprocess.Popen(
                    [self.python, "-m", CHILD_MODULE, "--home", str(self.home)],
                    stdin=subprocess.DEVNULL,  # the child replaces it with its own pipe
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    cwd=self.home,
                    start_new_session=True,  # outlive the caller; no terminal signals
                    close_fds=True,
                )
            except OSError as exc:
                raise ServiceError(f"cannot launch {self.python} for clickhouse: {exc}") from exc
        self.pid_file.write_text(f"{self._process.pid}\n", encoding="ascii")
        log.info("clickhouse started (pid %d) on %s", self._process.pid, self.endpoints["tcp"])

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Poll ``SELECT 1`` over TCP until it answers; raise with the log tail otherwise."""
        deadline = time.monotonic() + timeout
        last_error = "no answer yet"
        while True:
            if self.pid() is None:
                raise ServiceError(self._failure("clickhouse exited before it was ready"))
            try:
                # A bare connect first: the driver logs a traceback for every refused attempt.
                socket.create_connection((HOST, self.tcp_port), timeout=1.0).close()
                rows = self._query(_DATA_PATH_SQL, connect_timeout=1.0)
                # Another server on our port (our child then fails to listen) is not ours.
                if rows and Path(str(rows[0][0])) == self.data_dir:
                    return
                last_error = f"{self.endpoints['tcp']} is served from {rows[0][0] if rows else '?'}"
            except (DriverError, OSError, EOFError) as exc:
                last_error = f"{type(exc).__name__}: {exc}".splitlines()[0]
            if time.monotonic() >= deadline:
                raise ServiceError(
                    self._failure(f"clickhouse not ready after {timeout:.0f}s ({last_error})")
                )
            time.sleep(0.1)

    def status(self) -> ServiceStatus:
        pid = self.pid()
        if pid is None:
            return ServiceStatus(self.name, False, None, self.endpoints, None, "not running")
        try:
            version = str(self._query("SELECT version()", connect_timeout=1.0)[0][0])
        except (DriverError, OSError, EOFError) as exc:
            detail = f"process alive but not answering: {exc}".splitlines()[0]
            return ServiceStatus(self.name, True, pid, self.endpoints, None, detail)
        return ServiceStatus(
            self.name, True, pid, self.endpoints, version, f"data in {self.data_dir}"
        )

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (the child ends its serving query and exits), then SIGKILL after ``timeout``."""
        pid = self.pid()
        if pid is None:
            self._forget()
            return
        self._signal(pid, signal.SIGTERM)
        if not self._wait_gone(pid, timeout):
            log.warning("clickhouse (pid %d) ignored SIGTERM for %.0fs; killing it", pid, timeout)
            self._signal(pid, signal.SIGKILL)
            if not self._wait_gone(pid, 10.0):
                raise ServiceError(f"clickhouse (pid {pid}) survived SIGKILL")
        self._forget()
        log.info("clickhouse stopped (pid %d)", pid)

    def kill(self) -> None:
        """SIGKILL without asking (fault-injection tests); data written so far survives."""
        pid = self.pid()
        if pid is not None:
            self._signal(pid, signal.SIGKILL)
            self._wait_gone(pid, 10.0)
        self._forget()

    # -- helpers -------------------------------------------------------------------------------

    def pid(self) -> int | None:
        """The child's pid when the pid file names a live child of this home, else None."""
        try:
            pid = int(self.pid_file.read_text(encoding="ascii").strip())
        except (FileNotFoundError, ValueError):
            return None
        return pid if self._is_our_child(pid) else None

    def _is_our_child(self, pid: int) -> bool:
        if self._process is not None and self._process.pid == pid:
            return self._process.poll() is None  # reaps it when it has exited
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError, IndexError):
            return False
        # A recycled pid belongs to another program; a zombie no longer serves.
        return (
            CHILD_MODULE.encode() in cmdline
            and str(self.home).encode() in cmdline
            and (state != "Z")
        )

    def _wait_gone(self, pid: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self._is_our_child(pid):
                return True
            time.sleep(0.05)
        return not self._is_our_child(pid)

    @staticmethod
    def _signal(pid: int, signum: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)

    def _forget(self) -> None:
        if self._process is not None:
            self._process.poll()
            self._process = None
        self.pid_file.unlink(missing_ok=True)

    def _query(self, sql: str, *, connect_timeout: float) -> list[tuple[object, ...]]:
        client = Client(
            HOST,
            port=self.tcp_port,
            user=self.users.admin_user,
            password=self.users.admin_password.get_secret_value(),
            connect_timeout=connect_timeout,
            send_receive_timeout=5,
        )
        try:
            return client.execute(sql)
        finally:
            client.disconnect()

    def _failure(self, headline: str, lines: int = 20) -> str:
        parts = [headline]
        for path in (self.child_log, self.error_log):
            tail = _tail(path, lines)
            if tail:
                parts.append(f"--- last lines of {path} ---\n{tail}")
        if len(parts) == 1:
            parts.append(f"(no log in {self.log_dir})")
        return "\n".join(parts)


def _tail(path: Path, lines: int) -> str:
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            return "".join(deque(handle, maxlen=lines)).rstrip()
    except FileNotFoundError:
        return ""
