"""The embedded Apache Kafka broker: one KRaft node (broker and controller) run on local Java.

The jars come from Maven Central through the pinned Maven project ``infra/kafka/pom.xml``
(:meth:`KafkaBroker.fetch`); the broker runs as a detached child process (its own session, so
it outlives the command that started it) with its data, log and pid file under
``<home>/kafka/``::

    <home>/kafka/
        lib-<version>/      the jars (or any ``lib_dir`` given; may be shared between homes)
        server.properties   rewritten on every start from the ports and paths given
        cluster.id          the KRaft cluster id, made once
        data/               log dirs and the metadata log, formatted once before the first start
        kafka.log           the broker's output (the previous run's is kept as kafka.log.1)
        kafka.pid

It implements :class:`hotline.infra.base.Service`. Errors: a missing ``java`` or ``mvn`` is a
:class:`~hotline.errors.ConfigurationError`; a failed fetch or format, or a broker that dies or
does not answer in time, raises :class:`KafkaBrokerError` (a
:class:`~hotline.infra.base.ServiceError`) naming the log file with its last lines.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import os
import shutil
import signal
import subprocess
import time
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

from hotline.errors import ConfigurationError
from hotline.infra.base import ServiceError, ServiceStatus, answers

__all__ = [
    "KAFKA_VERSION",
    "KafkaBroker",
    "KafkaBrokerError",
    "kafka_version",
]

log = logging.getLogger(__name__)

_HERE = Path(__file__).resolve().parent
POM = _HERE / "kafka" / "pom.xml"
LOG4J_CONFIG = _HERE / "kafka" / "log4j2.xml"
_MAIN_CLASS = "kafka.Kafka"
_FORMAT_CLASS = "kafka.tools.StorageTool"
_LIB_COMPLETE = ".complete"


def kafka_version(pom: Path = POM) -> str:
    """The Kafka version pinned in the Maven project (its ``kafka.version`` property)."""
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    node = ET.parse(pom).getroot().find("m:properties/m:kafka.version", ns)
    if node is None or not (node.text or "").strip():
        raise ConfigurationError(f"{pom} has no <kafka.version> property")
    return node.text.strip()


KAFKA_VERSION = kafka_version()


class KafkaBrokerError(ServiceError):
    """The embedded broker could not be prepared, started or reached."""


def _new_cluster_id() -> str:
    """A KRaft cluster id: 16 random bytes in URL-safe base64 without padding, like Kafka's."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


def _tool(name: str, hint: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise ConfigurationError(f"`{name}` is not on PATH: {hint}")
    return path


def _java() -> str:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").exists():
        return str(Path(java_home) / "bin" / "java")
    return _tool(
        "java", "install Java 17 or newer (e.g. `apt-get install openjdk-17-jre-headless`)"
    )


def _tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return "(no log yet)"
    return "\n".join(text.splitlines()[-lines:])


class KafkaBroker:
    """A single-node KRaft Kafka broker on 127.0.0.1 whose state lives under ``home/kafka``.

    ``port`` serves clients; ``controller_port`` is the KRaft controller listener. ``heap`` is
    the JVM's ``-Xmx`` (e.g. ``"512m"``). ``lib_dir`` holds the jars; by default
    ``home/kafka/lib-<version>``.
    """

    name = "kafka"

    def __init__(
        self,
        home: Path,
        port: int,
        controller_port: int,
        heap: str = "512m",
        *,
        lib_dir: Path | None = None,
    ) -> None:
        self.home = Path(home).resolve()
        self.port = port
        self.controller_port = controller_port
        self.heap = heap
        self.dir = self.home / "kafka"
        self.lib_dir = Path(lib_dir).resolve() if lib_dir else self.dir / f"lib-{KAFKA_VERSION}"
        self.data_dir = self.dir / "data"
        self.config_file = self.dir / "server.properties"
        self.log_file = self.dir / "kafka.log"
        self.pid_file = self.dir / "kafka.pid"
        self.cluster_id_file = self.dir / "cluster.id"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    # -- jars ------------------------------------------------------------------------------

    def fetch(self) -> Path:
        """Make sure the jars are in :attr:`lib_dir` (runs Maven once); returns the folder.

        Maven resolves into the default local repository (``~/.m2``), so a second lib folder
        copies from there without network. Concurrent fetches are safe: each copies into its
        own temporary folder and renames it into place.
        """
        if (self.lib_dir / _LIB_COMPLETE).exists():
            return self.lib_dir
        mvn = _tool("mvn", "install Maven 3.8+ (e.g. `apt-get install maven`) to fetch the jars")
        self.lib_dir.parent.mkdir(parents=True, exist_ok=True)
        staging = self.lib_dir.with_name(f"{self.lib_dir.name}.tmp-{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        command = [
            mvn,
            "-q",
            "-B",
            "-f",
            str(POM),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={staging}",
        ]
        log.info("fetching Kafka %s jars into %s", KAFKA_VERSION, self.lib_dir)
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0 or not any(staging.glob("kafka_2.13-*.jar")):
            shutil.rmtree(staging, ignore_errors=True)
            output = (result.stdout + result.stderr)[-3000:]
            raise KafkaBrokerError(f"Maven could not fetch the Kafka jars ({POM}):\n{output}")
        (staging / _LIB_COMPLETE).write_text(KAFKA_VERSION + "\n")
        try:
            staging.rename(self.lib_dir)
        except OSError:  # another process won the race (or a partial folder is in the way)
            if not (self.lib_dir / _LIB_COMPLETE).exists():
                shutil.rmtree(self.lib_dir, ignore_errors=True)
                staging.rename(self.lib_dir)
            else:
                shutil.rmtree(staging, ignore_errors=True)
        return self.lib_dir

    # -- configuration ---------------------------------------------------------------------

    def server_properties(self) -> str:
        """The broker's configuration as written to ``server.properties``."""
        settings = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
            "listeners": (
                f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}"
            ),
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(self.data_dir),
            "num.partitions": "1",
            # topics are provisioned explicitly (hotline.infra.topics)
            "auto.create.topics.enable": "false",
            # one node: every internal topic has one replica; fewer partitions start faster
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "10",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "10",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            "log.retention.check.interval.ms": "300000",
        }
        return "".join(f"{key}={value}\n" for key, value in settings.items())

    def _java_command(self, main_class: str, *args: str) -> list[str]:
        return [
            _java(),
            f"-Xmx{self.heap}",
            "-Xms64m",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-XX:+ExplicitGCInvokesConcurrent",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={LOG4J_CONFIG}",
            f"-Dkafka.logs.dir={self.dir}",
            "-cp",
            f"{self.lib_dir}/*",
            main_class,
            *args,
        ]

    def _format_storage(self) -> None:
        """Format the log dirs once (KRaft needs a cluster id before the first start)."""
        if (self.data_dir / "meta.properties").exists():
            return
        if self.cluster_id_file.exists():
            cluster_id = self.cluster_id_file.read_text().strip()
        else:
            cluster_id = _new_cluster_id()
            self.cluster_id_file.write_text(cluster_id + "\n")
        command = self._java_command(
            _FORMAT_CLASS,
            "format",
            # one argument, "=" joined: an id may start with "-" (base64url), which the
            # formatter's argument parser would take for an option
            f"--cluster-id={cluster_id}",
            f"--config={self.config_file}",
            "--ignore-formatted",
        )
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise KafkaBrokerError(
                f"formatting Kafka storage in {self.data_dir} failed:\n"
                f"{(result.stdout + result.stderr)[-3000:]}"
            )

    # -- the process -----------------------------------------------------------------------

    def _read_pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        return pid if self._is_our_broker(pid) else None

    def _is_our_broker(self, pid: int) -> bool:
        if self._proc is not None and self._proc.pid == pid:
            # our own child: poll() reaps it once it exits (right after the fork its command
            # line is still Python's, so /proc is no help then)
            return self._proc.poll() is None
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return False
        # a zombie has an empty command line; a reused pid has another one
        return _MAIN_CLASS.encode() in cmdline and str(self.config_file).encode() in cmdline

    def start(self) -> None:
        """Start the broker in the background; a broker already running is left alone.

        Returns once the process is launched; call :meth:`wait_ready` to wait for clients.
        """
        if self._read_pid() is not None:
            return
        self.fetch()
        self.dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(self.server_properties())
        self._format_storage()
        if self.log_file.exists():
            self.log_file.replace(self.log_file.with_name("kafka.log.1"))
        with self.log_file.open("ab") as out:
            self._proc = subprocess.Popen(
                self._java_command(_MAIN_CLASS, str(self.config_file)),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.dir,
                start_new_session=True,
            )
        self.pid_file.write_text(f"{self._proc.pid}\n")
        log.info("Kafka %s starting (pid %d), log %s", KAFKA_VERSION, self._proc.pid, self.log_file)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the broker: SIGTERM, wait up to ``timeout`` s for a clean shutdown, then SIGKILL."""
        pid = self._read_pid()
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            if not self._wait_gone(pid, timeout):
                log.warning("Kafka (pid %d) did not stop in %.0f s; killing it", pid, timeout)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                self._wait_gone(pid, 10.0)
        self.pid_file.unlink(missing_ok=True)
        self._proc = None

    def _wait_gone(self, pid: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.pid == pid:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self._proc.wait(timeout=0.1)
            if not self._is_our_broker(pid):
                return True
            time.sleep(0.1)
        return False

    def status(self) -> ServiceStatus:
        """Whether the broker process runs, with its pid, endpoints and version."""
        pid = self._read_pid()
        return ServiceStatus(
            name=self.name,
            running=pid is not None,
            pid=pid,
            endpoints={
                "bootstrap": self.bootstrap_servers,
                "controller": f"127.0.0.1:{self.controller_port}",
            },
            version=KAFKA_VERSION,
            detail=f"log {self.log_file}",
        )

    def wait_ready(self, timeout: float = 90.0) -> None:
        """Block until the broker answers a metadata request (kafka-python) or raise."""
        from kafka import KafkaAdminClient
        from kafka.errors import KafkaError

        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if self._read_pid() is None:
                raise KafkaBrokerError(
                    f"Kafka is not running (it exited or was never started); "
                    f"log {self.log_file}:\n{_tail(self.log_file)}"
                )
            if not answers(self.port):
                time.sleep(0.2)
                continue
            try:
                admin = KafkaAdminClient(
                    bootstrap_servers=self.bootstrap_servers,
                    request_timeout_ms=5000,
                    client_id="hotline-ready-check",
                )
            except (KafkaError, OSError) as exc:
                last_error = exc
                time.sleep(0.2)
                continue
            try:
                admin.describe_cluster()
                return
            except (KafkaError, OSError) as exc:
                last_error = exc
                time.sleep(0.2)
            finally:
                admin.close()
        raise KafkaBrokerError(
            f"Kafka did not answer on {self.bootstrap_servers} within {timeout:.0f} s "
            f"(last error: {last_error!r}); log {self.log_file}:\n{_tail(self.log_file)}"
        )
