"""``hotline stack``: up, status, init, logs, down against a real stack in a temporary home."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import shutil
import socket
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
from fixtures_kafka import free_port

from hotline.errors import ConfigurationError
from hotline.infra.stack import local_kafka_port
from hotline.infra.topics import RAW_FAMILIES, SHARED_TOPICS
from hotline.regions import default_registry
from hotline.settings import KafkaSettings
from hotline.status_file import write_status

ROOT = Path(__file__).resolve().parent.parent
#: 32 provinces × 5 raw families + the shared topics (167 today)
TOPICS = len(default_registry().provinces()) * len(RAW_FAMILIES) + len(SHARED_TOPICS)


def _hotline(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hotline", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        cwd=ROOT,
    )


@pytest.mark.kafka
@pytest.mark.clickhouse
@pytest.mark.slow
def test_up_status_init_logs_down_and_data_survives(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "HOTLINE_STACK__HOME": str(tmp_path / "stack"),
        "HOTLINE_KAFKA__BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}",
        "HOTLINE_STACK__KAFKA_CONTROLLER_PORT": str(free_port()),
        "HOTLINE_STACK__KAFKA_HEAP": "384m",
        "HOTLINE_CLICKHOUSE__PORT": str(free_port()),
        "HOTLINE_CLICKHOUSE__HTTP_PORT": str(free_port()),
    }
    try:
        up = _hotline(env, "stack", "up")
        assert up.returncode == 0, up.stderr
        assert f"{TOPICS} created" in up.stdout
        assert "0001_database.sql" in up.stdout

        status = _hotline(env, "stack", "status")
        assert status.returncode == 0, status.stdout
        assert status.stdout.count("running") == 2
        assert f"stack home: {(tmp_path / 'stack').resolve()}" in " ".join(status.stdout.split())
        assert "4.4.0" in status.stdout and "26.9" in status.stdout

        again = _hotline(env, "stack", "up")  # idempotent: leaves the running stack alone
        assert again.returncode == 0, again.stderr
        assert f"0 created, {TOPICS} already there" in again.stdout
        assert "none pending" in again.stdout

        logs = _hotline(env, "stack", "logs", "kafka", "-n", "5")
        assert logs.returncode == 0 and logs.stdout.strip()

        assert _hotline(env, "stack", "down").returncode == 0
        stopped = _hotline(env, "stack", "status")
        assert stopped.returncode == 3 and "running" not in stopped.stdout

        restarted = _hotline(env, "stack", "up")  # topics and migrations survived the restart
        assert restarted.returncode == 0, restarted.stderr
        assert f"0 created, {TOPICS} already there" in restarted.stdout
        assert "none pending" in restarted.stdout
    finally:
        _hotline(env, "stack", "down")


def test_embedded_stack_needs_a_local_bootstrap_address() -> None:
    assert local_kafka_port(KafkaSettings(bootstrap_servers="127.0.0.1:19092")) == 19092
    for wrong in ("kafka:9092", "127.0.0.1:1,127.0.0.1:2", "127.0.0.1"):
        with pytest.raises(ConfigurationError, match="BOOTSTRAP_SERVERS"):
            local_kafka_port(KafkaSettings(bootstrap_servers=wrong))


def test_unknown_log_service_is_a_clear_error(tmp_path: Path) -> None:
    env = {**os.environ, "HOTLINE_STACK__HOME": str(tmp_path)}
    result = _hotline(env, "stack", "logs", "zookeeper")
    assert result.returncode == 2
    assert "unknown service 'zookeeper'" in result.stderr


def _compose() -> list[str] | None:
    if (
        shutil.which("docker")
        and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0
    ):
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


#: The variables docker-compose.yml requires (``${…:?…}``), as the compose tests set them.
COMPOSE_ENV = {
    "HOTLINE_CLICKHOUSE_PASSWORD": "p",
    "HOTLINE_CLICKHOUSE_ANALYST_PASSWORD": "p",
    "HOTLINE_CLICKHOUSE_DASHBOARD_PASSWORD": "p",
    "HOTLINE_CLICKHOUSE_QA_WRITER_PASSWORD": "p",
    "GRAFANA_ADMIN_PASSWORD": "p",
}


def _run_compose(*args: str, env: dict[str, str] = COMPOSE_ENV) -> subprocess.CompletedProcess[str]:
    compose = _compose()
    assert compose, "docker compose (or docker-compose) is installed by infra/system-deps.sh"
    return subprocess.run(
        [*compose, "-f", str(ROOT / "docker-compose.yml"), *args],
        env={**{k: v for k, v in os.environ.items() if k not in COMPOSE_ENV}, **env},
        capture_output=True,
        text=True,
        cwd=ROOT,
    )


def test_docker_compose_file_is_valid() -> None:
    result = _run_compose("config", "-q")
    assert result.returncode == 0, result.stderr


def test_compose_takes_single_quoted_passwords_of_an_env_file_as_written(tmp_path: Path) -> None:
    """docker-compose.yml's header and docs/stack.md: in ``.env`` a password in single quotes
    reaches the services as written, ``$`` and `` #`` included (unquoted, compose would read
    ``$w`` as a variable and cut the value at `` #``)."""
    import yaml

    password = 'pa$w #r"d'
    env_file = tmp_path / ".env"
    env_file.write_text("".join(f"{name}='{password}'\n" for name in COMPOSE_ENV))
    result = _run_compose("--env-file", str(env_file), "config", env={})
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    seen = {
        value.replace("$$", "$")  # `config` writes a literal $ as $$
        for service in services.values()
        for name, value in (service.get("environment") or {}).items()
        if "PASSWORD" in name and value
    }
    assert seen == {password}


@pytest.mark.parametrize("hours", ["", '{"320000": {"hours": "08:30-12:00,13:30-17:30"}}'])
def test_compose_hands_the_workers_alert_settings_through_as_written(
    tmp_path: Path, hours: str
) -> None:
    """docker-compose.yml: the operator's JSON for the stream worker's alert settings (in
    ``.env``, single-quoted) reaches the worker as written, and unset it is no setting (a
    default of ``{}`` in ``${…:-{}}`` came out of docker-compose 1.x as the value plus ``}``)."""
    import yaml

    from hotline.streams.config import streams_config_from_env

    env_file = tmp_path / ".env"
    env_file.write_text(
        "".join(f"{name}='p'\n" for name in COMPOSE_ENV)
        + (f"HOTLINE_STREAMS__ALERTS__SERVICE_HOURS='{hours}'\n" if hours else "")
    )
    result = _run_compose("--env-file", str(env_file), "config", env={})
    assert result.returncode == 0, result.stderr
    environment = yaml.safe_load(result.stdout)["services"]["streams"]["environment"]
    assert environment["HOTLINE_STREAMS__ALERTS__SERVICE_HOURS"] == hours
    streams = {k: v for k, v in environment.items() if k.startswith("HOTLINE_STREAMS__")}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in streams.items():
            patch.setenv(name, value)
        alerts = streams_config_from_env().alerts
    assert list(alerts.service_hours) == (["320000"] if hours else [])
    assert alerts.province_rates == {}


@functools.cache
def _resolved_services() -> dict[str, Any]:
    """The services as compose itself resolves the file (variables, anchors): `config`."""
    import yaml

    result = _run_compose("config")
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)["services"]


def _mounts(service: dict[str, Any]) -> dict[str, str]:
    """Mount target → source (volume name or host path) of a resolved service."""
    mounts = {}
    for volume in service.get("volumes", []):
        if isinstance(volume, str):  # docker-compose 1.x: "source:target[:mode]"
            source, target = volume.split(":")[:2]
        else:  # docker compose 2.x: the long syntax
            source, target = volume.get("source", ""), volume["target"]
        mounts[target] = source
    return mounts


def _mounted_at(service: dict[str, Any], path: str) -> tuple[str, str] | None:
    """(source, target) of the mount that holds ``path`` in the service, if any."""
    for target, source in _mounts(service).items():
        if PurePosixPath(path).is_relative_to(target):
            return source, target
    return None


def test_compose_kafka_keeps_its_log_on_a_volume() -> None:
    """apache/kafka writes to /tmp/kraft-combined-logs inside the container unless
    KAFKA_LOG_DIRS says otherwise: topics and offsets would go with a recreated container."""
    kafka = _resolved_services()["kafka"]
    log_dirs = kafka["environment"].get("KAFKA_LOG_DIRS", "/tmp/kraft-combined-logs")
    for log_dir in log_dirs.split(","):
        mount = _mounted_at(kafka, log_dir)
        assert mount, f"Kafka's log dir {log_dir} is on no volume"
        assert mount[0] in _named_volumes(), f"{log_dir} is on {mount[0]}, not a named volume"


def _named_volumes() -> set[str]:
    import yaml

    return set(yaml.safe_load((ROOT / "docker-compose.yml").read_text())["volumes"])


def test_compose_grafana_keeps_its_state_and_installs_the_datasource_plugin() -> None:
    """Grafana's database (users, preferences) and plugins survive a recreated container; the
    provisioned datasource's plugin is installed the way the pinned version supports; the
    dashboards are mounted where the file provider looks."""
    import yaml

    grafana = _resolved_services()["grafana"]
    mounts = _mounts(grafana)
    assert mounts.get("/var/lib/grafana") in _named_volumes()

    provisioning = ROOT / "infra" / "grafana" / "provisioning"
    types = {
        datasource["type"]
        for path in (provisioning / "datasources").glob("*.yml")
        for datasource in yaml.safe_load(path.read_text())["datasources"]
    }
    env = grafana["environment"]
    major, minor = (int(n) for n in grafana["image"].rsplit(":", 1)[1].split(".")[:2])
    if (major, minor) >= (12, 1):  # GF_INSTALL_PLUGINS is deprecated from there on
        assert "GF_INSTALL_PLUGINS" not in env
        plugins = env["GF_PLUGINS_PREINSTALL_SYNC"]
    else:
        plugins = env["GF_INSTALL_PLUGINS"]
    assert types <= {plugin.split("@")[0].strip() for plugin in plugins.split(",")}
    # pinned as the images are: unpinned, Grafana installs (and keeps updating to) the latest
    # release, which may need a newer Grafana or read the provisioned settings differently
    for plugin in plugins.split(","):
        assert re.fullmatch(r"[\w-]+@\d+\.\d+\.\d+", plugin.strip()), f"not pinned: {plugin}"

    for path in (provisioning / "dashboards").glob("*.yml"):
        for provider in yaml.safe_load(path.read_text())["providers"]:
            folder = provider["options"]["path"]
            assert Path(mounts.get(folder, "")) == ROOT / "infra" / "grafana" / "dashboards"


_ADMIN = "HOTLINE_CLICKHOUSE__PASSWORD"
_KAFKA = {"HOTLINE_KAFKA__BOOTSTRAP_SERVERS"}
_CLICKHOUSE = {"HOTLINE_CLICKHOUSE__HOST", "HOTLINE_CLICKHOUSE__PORT"}
_HOME = {"HOTLINE_STACK__HOME"}
_DASHBOARD, _QA_WRITER = (
    "HOTLINE_CLICKHOUSE__DASHBOARD_PASSWORD",
    "HOTLINE_CLICKHOUSE__QA_WRITER_PASSWORD",
)

#: What each compose service reads of hotline's settings (HOTLINE_*) and of the secrets, as its
#: code does: a service gets no secret it does not use.
SERVICE_ENV: dict[str, set[str]] = {
    "kafka": set(),
    # `db users-xml` (sinks/cli.py, UsersConfig.from_settings): the hashes of every ClickHouse
    # user's password; it connects to nothing
    "clickhouse-users": {
        _ADMIN,
        "HOTLINE_CLICKHOUSE__ANALYST_PASSWORD",
        _DASHBOARD,
        _QA_WRITER,
        "HOTLINE_CLICKHOUSE__PROVINCE_PASSWORDS",
    },
    # its healthcheck's clickhouse-client logs in as the admin
    "clickhouse": {"HOTLINE_CLICKHOUSE_PASSWORD"},
    # `stack init` (infra/provision.py): topics, then migrations as the ClickHouse admin
    "init": _KAFKA | _CLICKHOUSE | {_ADMIN},
    # `streams worker` (streams/cli.py): settings.kafka, and the alert settings an operator
    # sets per province (streams/config.py)
    "streams": _KAFKA
    | {"HOTLINE_STREAMS__ALERTS__PROVINCE_RATES", "HOTLINE_STREAMS__ALERTS__SERVICE_HOURS"},
    # `sink` (sinks/sink.py): Kafka in, ClickHouse out as the admin
    "sink": _KAFKA | _CLICKHOUSE | {_ADMIN},
    # `dashboard` (dashboards/cli.py, build_services): reads as `dashboard`, stores
    # evaluations as `qa_writer`; users and acknowledgements under the stack home
    "dashboard": _CLICKHOUSE | _HOME | {_DASHBOARD, _QA_WRITER},
    # `serve ingest` (producers/gateway/cli.py): Kafka, tokens under the stack home; it
    # refuses caller numbers in clear and hashes none, so it has no use for the caller key
    "gateway": _KAFKA | _HOME,
    # its admin login; the datasource's `dashboard` password (infra/grafana/provisioning)
    "grafana": {"GF_SECURITY_ADMIN_PASSWORD", "HOTLINE_CLICKHOUSE_DASHBOARD_PASSWORD"},
}


def _is_setting(variable: str) -> bool:
    """Whether ``HOTLINE_A__B`` names a field of :class:`Settings` (``a``, then ``b`` in it),
    or ``HOTLINE_STREAMS__A__B`` one of :class:`StreamsConfig` (the worker's own settings)."""
    from pydantic import BaseModel

    from hotline.settings import Settings
    from hotline.streams.config import StreamsConfig

    model: Any = Settings
    name = variable.removeprefix("HOTLINE_")
    if name.startswith("STREAMS__"):
        model, name = StreamsConfig, name.removeprefix("STREAMS__")
    for part in name.lower().split("__"):
        field = model.model_fields.get(part) if isinstance(model, type) else None
        if field is None:
            return False
        annotation = field.annotation
        model = (
            annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel)
            else None
        )
    return model is None


def test_compose_hotline_variables_are_settings() -> None:
    """Every HOTLINE_* variable compose gives the project's image names a setting, spelt as
    hotline/settings.py reads it: pydantic-settings ignores an unknown one, so a typo would
    leave the default (e.g. 127.0.0.1 for ClickHouse) without a word."""
    for name, service in _resolved_services().items():
        if service.get("image") != "hotline:local":
            continue
        for variable in service.get("environment", {}):
            if variable.startswith("HOTLINE_"):
                assert _is_setting(variable), f"{name}: {variable} is no field of Settings"
    assert not _is_setting("HOTLINE_CLICKHOUSE__PASSWROD")  # the check can fail
    assert not _is_setting("HOTLINE_CLICKHOUSE")  # a group, not a value
    assert _is_setting("HOTLINE_STREAMS__ALERTS__SERVICE_HOURS")
    assert not _is_setting("HOTLINE_STREAMS__ALERTS__SERVICE_HOUR")


def _is_secret(variable: str) -> bool:
    return any(word in variable for word in ("PASSWORD", "KEY", "SECRET", "TOKEN"))


def test_compose_gives_each_service_only_the_settings_and_secrets_it_reads() -> None:
    """No shared block hands every secret (ClickHouse admin, analyst and province passwords,
    the caller key) to every container: each gets what its code reads, per SERVICE_ENV."""
    services = _resolved_services()
    given = {
        name: {
            v for v in service.get("environment", {}) if v.startswith("HOTLINE_") or _is_secret(v)
        }
        for name, service in services.items()
    }
    assert given == SERVICE_ENV


def test_compose_secrets_of_other_images_are_used_where_they_go() -> None:
    """A secret given to a service not of the project's image (Grafana's own GF_ settings
    aside) is used there: by its healthcheck or by a file mounted into it."""
    for name, service in _resolved_services().items():
        if service.get("image") == "hotline:local":
            continue
        used = " ".join(service.get("healthcheck", {}).get("test", []))
        for source in _mounts(service).values():
            if Path(source).is_dir():
                used += " ".join(f.read_text() for f in Path(source).rglob("*") if f.is_file())
        for variable in service.get("environment", {}):
            if _is_secret(variable) and not variable.startswith("GF_"):
                assert variable in used, f"{name} gets {variable} and uses it nowhere"


#: uid, gid of the ``clickhouse`` user, which the clickhouse/clickhouse-server image runs the
#: server as (its entrypoint starts as root and drops to that user).
CLICKHOUSE_SERVER_IDS = (101, 101)


def test_compose_gives_users_xml_to_the_clickhouse_server_user(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """clickhouse-users writes users.xml as root into the volume that clickhouse-server reads
    as uid 101: the file (0600, password hashes) must belong to that user, or the server
    cannot read its users and the whole stack stays down."""
    from typer.testing import CliRunner

    from hotline.cli import app

    services = _resolved_services()
    writer = services["clickhouse-users"]
    args = list(writer["command"])
    out = args.index("--out") + 1
    volume, target = _mounted_at(writer, args[out]) or ("", "")
    relative = PurePosixPath(args[out]).relative_to(target)
    assert (volume, "/etc/clickhouse-server/users.d") in [
        (source, mounted) for mounted, source in _mounts(services["clickhouse"]).items()
    ], "clickhouse-server reads the file that clickhouse-users writes"

    args[out] = str(tmp_path / relative)
    chowned: list[tuple[int, int]] = []
    monkeypatch.setattr(os, "chown", lambda path, uid, gid: chowned.append((uid, gid)))
    result = CliRunner().invoke(app, args, env=writer["environment"])
    assert result.exit_code == 0, result.output
    assert chowned == [CLICKHOUSE_SERVER_IDS]
    assert stat.S_IMODE((tmp_path / relative).stat().st_mode) == 0o600


def test_users_xml_owner_must_be_numeric(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from hotline.cli import app

    out = tmp_path / "users.xml"
    result = CliRunner().invoke(app, ["db", "users-xml", "--out", str(out), "--owner", "ch"])
    assert result.exit_code == 2 and "numeric UID:GID" in result.output
    assert not out.exists()


def test_compose_uses_the_embedded_kafka_version() -> None:
    from hotline.infra.kafka_broker import KAFKA_VERSION

    assert f"image: apache/kafka:{KAFKA_VERSION}\n" in (ROOT / "docker-compose.yml").read_text()


def _resolve(args: list[str]) -> str:
    """The ``hotline`` command that a command line runs (as its ``--help`` names it), after
    the CLI parsed it with its values, without running it: an unknown command or option, a
    value the option refuses (a port out of range, not a number) or a stray argument fails."""
    import typer
    import typer.main
    from typer.testing import CliRunner

    from hotline.cli import app

    result = CliRunner().invoke(app, [*args, "--help"], prog_name="hotline")
    assert result.exit_code == 0, f"hotline {' '.join(args)}: {result.output}"
    usage = next(line for line in result.output.splitlines() if "Usage:" in line)
    path = usage.split("Usage: hotline")[1].split("[OPTIONS]")[0].split()
    # --help stops before the values are converted: parse the command's own part again
    command, ctx = typer.main.get_command(app), None
    for name in path:
        ctx = typer.Context(command, info_name=name, parent=ctx)
        command = command.get_command(ctx, name)  # type: ignore[attr-defined]
    try:
        command.make_context(path[-1], list(args[len(path) :]), parent=ctx)
    except Exception as exc:  # typer's own click's errors, or pydantic's from the CLI's types
        raise AssertionError(f"hotline {' '.join(args)}: {exc}") from exc
    return " ".join(path)


def test_compose_services_run_hotline_commands_that_parse() -> None:
    """Each service of the project's image runs a ``hotline`` command whose options exist: a
    renamed option would otherwise surface only on a server."""
    import yaml

    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    ours = {name: s for name, s in services.items() if s.get("image") == "hotline:local"}
    assert {name: _resolve(s["command"]) for name, s in ours.items()} == {
        "clickhouse-users": "db users-xml",
        "init": "stack init",
        "streams": "streams worker",
        "sink": "sink",
        "dashboard": "dashboard",
        "gateway": "serve ingest",
    }
    with pytest.raises(AssertionError, match="No such option"):  # the check can fail
        _resolve(["streams", "worker", "--no-such-option"])
    with pytest.raises(AssertionError, match="less than or equal to 65535"):
        _resolve(["dashboard", "--host", "0.0.0.0", "--port", "80000"])
    with pytest.raises(AssertionError, match="unexpected extra argument"):
        _resolve(["serve", "ingest", "--port", "8333", "8334"])


_HEALTH_URL = re.compile(r"http://127\.0\.0\.1:(\d+)(/[^'\"\s]*)")


def _healthcheck(service: dict[str, Any], port: int) -> list[str]:
    """The service's healthcheck command, run here: ``python`` is this interpreter and the
    URL's port is ``port`` (the service's own port is checked against its command line)."""
    test = service.get("healthcheck", {}).get("test", [])
    assert test[:2] == ["CMD", "python"], f"not a python healthcheck: {test}"
    return [sys.executable, *(_HEALTH_URL.sub(rf"http://127.0.0.1:{port}\2", a) for a in test[2:])]


def _passes(check: list[str]) -> bool:
    return subprocess.run(check, capture_output=True, timeout=30).returncode == 0


@contextlib.contextmanager
def _serving(name: str, tmp_path: Path, bootstrap: str = "127.0.0.1:1") -> Iterator[list[str]]:
    """Service ``name`` run here as compose gives its command (another port, this host), Kafka
    at ``bootstrap``; its healthcheck command, once its app answers HTTP (a few seconds)."""
    service = _resolved_services()[name]
    args = [str(a) for a in service["command"]]
    test = " ".join(service.get("healthcheck", {}).get("test", []))
    url = _HEALTH_URL.search(test)
    assert url, f"{name} has no healthcheck that asks its app: {test!r}"
    assert url.group(1) == args[args.index("--port") + 1], "the healthcheck asks another port"

    port = free_port()
    args[args.index("--port") + 1], args[args.index("--host") + 1] = str(port), "127.0.0.1"
    env = {
        **os.environ,
        **{k: str(v) for k, v in service["environment"].items()},
        "HOTLINE_STACK__HOME": str(tmp_path),
        # container names do not resolve here; nothing but Kafka for the gateway's health
        # needs to answer for the app to serve
        "HOTLINE_KAFKA__BOOTSTRAP_SERVERS": bootstrap,
        "HOTLINE_CLICKHOUSE__HOST": "127.0.0.1",
        "HOTLINE_CLICKHOUSE__PORT": "1",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "hotline", *args],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(120):  # until the app answers (start-up: a few seconds), or fail
            if _answers(f"http://127.0.0.1:{port}{url.group(2)}") or process.poll() is not None:
                break
            time.sleep(0.5)
        assert process.poll() is None, f"{name} exited {process.returncode}"
        yield _healthcheck(service, port)
    finally:
        process.terminate()
        process.wait(timeout=30)


def _answers(url: str) -> bool:
    """Whether an HTTP server answers ``url`` (with any status)."""
    try:
        urllib.request.urlopen(url, timeout=5).close()
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False
    return True


@pytest.mark.slow
@pytest.mark.parametrize("name", ["dashboard", pytest.param("gateway", marks=pytest.mark.kafka)])
def test_compose_web_services_have_a_healthcheck_that_passes_and_can_fail(
    tmp_path: Path, name: str, request: pytest.FixtureRequest
) -> None:
    """The dashboard and the gateway (published ports) say whether their app answers: the
    healthcheck of each, run against the service's own command (its options as compose gives
    them, another port), passes while it serves (the gateway's: with Kafka reachable) and
    fails once it is gone."""
    bootstrap = request.getfixturevalue("bootstrap") if name == "gateway" else "127.0.0.1:1"
    with _serving(name, tmp_path, bootstrap) as check:
        assert _passes(check), f"{name}'s healthcheck fails while it serves"
    assert not _passes(check), f"{name}'s healthcheck passes with nothing serving"


@pytest.mark.slow
def test_compose_gateway_is_unhealthy_while_kafka_is_unreachable(tmp_path: Path) -> None:
    """The gateway serves with nothing at Kafka's address, but every batch would get 503:
    its healthcheck fails (``/healthz`` answers 503)."""
    with _serving("gateway", tmp_path, f"127.0.0.1:{free_port()}") as check:
        assert not _passes(check), "the gateway's healthcheck passes while Kafka is unreachable"


@pytest.mark.parametrize("name", ["streams", "sink"])
def test_compose_worker_and_sink_have_a_healthcheck_that_reads_their_status_file(
    tmp_path: Path, name: str
) -> None:
    """The stream worker and the sink (no port) say whether they are alive: their healthcheck
    runs ``hotline health`` (an existing command whose options parse) on the status file that
    the service's own command writes; run here on a file of our own, it passes while the file
    is fresh and fails when it is missing or older than its --max-age."""
    service = _resolved_services()[name]
    args = [str(a) for a in service["command"]]
    test = [str(a) for a in service.get("healthcheck", {}).get("test", [])]
    assert test[:2] == ["CMD", "hotline"], f"{name} has no hotline healthcheck: {test}"
    assert _resolve(test[2:]) == "health"
    written = args[args.index("--status-file") + 1]
    assert written in test, f"{name}'s healthcheck reads another file than {written}"
    assert "start_period" in service["healthcheck"], "a start (state recovery) is not unhealthy"

    local = tmp_path / "status.json"
    check = [
        sys.executable,
        "-m",
        "hotline",
        *(str(local) if a == written else a for a in test[2:]),
    ]
    assert not _passes(check), f"{name}'s healthcheck passes without a status file"
    write_status(local, name, {"stats": {}})
    assert _passes(check), f"{name}'s healthcheck fails on a fresh status file"
    max_age = float(test[test.index("--max-age") + 1])
    local.write_text(json.dumps({"at": time.time() - max_age - 5, "stats": {}}))
    assert not _passes(check), f"{name}'s healthcheck passes on a stale status file"


def _runtime_stage() -> str:
    """The stage of infra/docker/Dockerfile that runs hotline (the last), lines joined."""
    dockerfile = (ROOT / "infra" / "docker" / "Dockerfile").read_text()
    return dockerfile.split("\nFROM ")[-1].replace("\\\n", " ")


def _command_words(stage: str, command: str) -> list[list[str]]:
    """The arguments of each ``command`` in the stage's shell commands."""
    return [found.split() for found in re.findall(rf"\b{command} ([^&;\n]*)", stage)]


def _option(words: list[str], name: str) -> str:
    return words[words.index(name) + 1]


def _ids(user: str, stage: str) -> tuple[int, int]:
    """uid, gid that ``USER``/``user:`` ``name|uid[:group|gid]`` runs as, by the stage's
    useradd and groupadd (without a group: the user's primary group, root's for an unknown
    uid, as Docker does)."""
    groups = {w[-1]: int(_option(w, "--gid")) for w in _command_words(stage, "groupadd")}
    primary = {}  # user name and uid → the name or gid of its primary group
    for words in _command_words(stage, "useradd"):
        primary[words[-1]] = primary[_option(words, "--uid")] = _option(words, "--gid")
    name, _, group = user.partition(":")
    uid = int(name) if name.isdigit() else int(_option(_useradd(stage, name), "--uid"))
    group = group or primary.get(name, "0")
    return uid, int(group) if group.isdigit() else groups[group]


def _useradd(stage: str, name: str) -> list[str]:
    return next(words for words in _command_words(stage, "useradd") if words[-1] == name)


#: Options of the project's commands that name a file or folder the command writes.
WRITTEN_OPTIONS = ("--out", "--datadir", "--status-file", "--tokens", "--dead-letters")


def test_services_of_the_project_image_run_unprivileged_and_own_what_they_write() -> None:
    """The project's image runs as an unprivileged user, and every compose service of it as a
    non-root user that owns where it writes: each folder a volume is mounted on is made in the
    image with that owner (a new named volume takes it from there), and every path it writes
    (its stack home, a path option of its command) is on such a volume or in /tmp."""
    stage = _runtime_stage()
    image_user = re.findall(r"^USER (\S+)$", stage, re.M)
    assert image_user, "the image runs as root: no USER"
    assert _ids(image_user[-1], stage)[0] != 0
    owned = {}
    for words in _command_words(stage, "install -d"):
        owner = _ids(f"{_option(words, '-o')}:{_option(words, '-g')}", stage)
        skip = {i + 1 for i, word in enumerate(words) if word.startswith("-")}
        owned |= {w: owner for i, w in enumerate(words) if i not in skip and w[0] == "/"}

    ours = {n: s for n, s in _resolved_services().items() if s.get("image") == "hotline:local"}
    assert len(ours) == 6, sorted(ours)
    for name, service in ours.items():
        ids = _ids(str(service.get("user", image_user[-1])), stage)
        assert ids[0] != 0, f"{name} runs as root"
        mounts = _mounts(service)
        for target in mounts:
            assert owned.get(target) == ids, f"{name}: {target} is not made for {ids} in the image"
        args = [str(a) for a in service["command"]]
        written = [args[i + 1] for i, arg in enumerate(args) if arg in WRITTEN_OPTIONS]
        if "HOTLINE_STACK__HOME" in service.get("environment", {}):
            written.append(service["environment"]["HOTLINE_STACK__HOME"])
        for path in written:
            assert _mounted_at(service, path) or PurePosixPath(path).is_relative_to("/tmp"), (
                f"{name} writes {path}, on no volume of its own"
            )


def test_image_copies_every_package_the_project_installs() -> None:
    """The Dockerfile copies each folder of pyproject's ``package-dir``: ``pip install .``
    in the image fails on a missing one (a server would find out at its first build)."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    folders = set(project["tool"]["setuptools"]["package-dir"].values())
    dockerfile = (ROOT / "infra" / "docker" / "Dockerfile").read_text()
    copied = {line.split()[1] for line in dockerfile.splitlines() if line.startswith("COPY ")}
    assert folders <= copied, f"not copied into the image: {sorted(folders - copied)}"


def _report_pdf_packages() -> set[str]:
    """The Debian packages infra/system-deps.sh installs for the quality report's PDF."""
    script = (ROOT / "infra" / "system-deps.sh").read_text()
    block = script.split("# The quality report's PDF", 1)[1].split("\n\n", 1)[0]
    return {name for names in re.findall(r"missing\+=\(([^)]*)\)", block) for name in names.split()}


def _apt_installed(stage: str) -> set[str]:
    """The packages that the ``apt-get install`` commands of a Dockerfile stage name."""
    text = stage.replace("\\\n", " ")
    packages: set[str] = set()
    for command in re.findall(r"apt-get install ([^&;\n]*)", text):
        packages |= {word for word in command.split() if not word.startswith("-")}
    return packages


def test_image_has_the_system_libraries_of_the_report_pdf() -> None:
    """`hotline report quality` writes its PDF with WeasyPrint, which needs pango and, for the
    Chinese text, a CJK font: the image installs what infra/system-deps.sh installs for it on
    a workstation, in the stage that runs hotline."""
    packages = _report_pdf_packages()
    assert {"fonts-noto-cjk", "libpango-1.0-0"} <= packages  # the script was read
    dockerfile = (ROOT / "infra" / "docker" / "Dockerfile").read_text()
    runtime = dockerfile.split("\nFROM ")[-1]
    assert 'ENTRYPOINT ["hotline"]' in runtime
    missing = packages - _apt_installed(runtime)
    assert not missing, f"not installed in the image: {sorted(missing)}"


def _stack_env(tmp_path: Path, **ports: int) -> dict[str, str]:
    chosen = {
        "kafka": free_port(),
        "controller": free_port(),
        "clickhouse": free_port(),
        "http": free_port(),
        **ports,
    }
    return {
        **os.environ,
        "HOTLINE_STACK__HOME": str(tmp_path / "stack"),
        "HOTLINE_KAFKA__BOOTSTRAP_SERVERS": f"127.0.0.1:{chosen['kafka']}",
        "HOTLINE_STACK__KAFKA_CONTROLLER_PORT": str(chosen["controller"]),
        "HOTLINE_CLICKHOUSE__PORT": str(chosen["clickhouse"]),
        "HOTLINE_CLICKHOUSE__HTTP_PORT": str(chosen["http"]),
    }


@pytest.mark.parametrize(
    ("which", "said"),
    [
        (
            "clickhouse",
            "(ClickHouse) is in use: stop what holds it or set HOTLINE_CLICKHOUSE__PORT",
        ),
        ("http", "(ClickHouse HTTP) is in use: stop what holds it or set HOTLINE_CLICKHOUSE__HTTP"),
        ("kafka", "(Kafka) is in use: stop what holds it or set HOTLINE_KAFKA__BOOTSTRAP_SERVERS"),
        ("controller", "(Kafka controller) is in use: stop what holds it or set HOTLINE_STACK__"),
    ],
)
def test_up_names_a_taken_port_before_starting_anything(
    tmp_path: Path, which: str, said: str
) -> None:
    with socket.socket() as stranger:
        stranger.bind(("127.0.0.1", 0))
        stranger.listen()
        port = stranger.getsockname()[1]
        up = _hotline(_stack_env(tmp_path, **{which: port}), "stack", "up")
    assert up.returncode == 1, up.stderr
    lines = up.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: port {port} {said}"), up.stderr
    assert not (tmp_path / "stack" / "clickhouse" / "pid").exists()


def test_status_names_its_home_and_a_port_answered_by_another_stack(tmp_path: Path) -> None:
    with socket.socket() as stranger:
        stranger.bind(("127.0.0.1", 0))
        stranger.listen()
        port = stranger.getsockname()[1]
        status = _hotline(_stack_env(tmp_path, clickhouse=port), "stack", "status")
    assert status.returncode == 3
    out = " ".join(status.stdout.split())  # rich may wrap long lines
    assert f"stack home: {(tmp_path / 'stack').resolve()}" in out
    assert (
        f"clickhouse: not started from {(tmp_path / 'stack').resolve()}, but something answers "
        f"on port {port}" in out
    )
    assert "kafka: not started" not in out
