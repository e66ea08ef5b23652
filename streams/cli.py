"""``hotline streams worker|status``: run the Faust worker; show the group's lag and rate."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from hotline.regions import check_provinces
from hotline.settings import Settings, load_settings
from hotline.streams.config import streams_config_from_env
from hotline.streams.worker_config import WorkerConfig

log = logging.getLogger(__name__)


class LogLevel(StrEnum):
    """The worker's ``--loglevel``."""

    debug = "debug"
    info = "info"
    warning = "warning"
    error = "error"


app = typer.Typer(help="Stream processors: the Faust worker and its consumer-group status.")


def _settings(ctx: typer.Context) -> Settings:
    return ctx.obj if isinstance(ctx.obj, Settings) else load_settings()


@app.command("worker", short_help="Run the stream worker: raw events → records, snapshots, alerts.")
def worker_command(
    ctx: typer.Context,
    app_id: str = typer.Option(
        "hotline-streams",
        "--app-id",
        help="Faust app id = the groups stage's consumer group; ingest's is <app id>-ingest",
    ),
    workers: int = typer.Option(
        1,
        "--workers",
        min=1,
        help="run N worker processes, each with its own data dir (<datadir>-<i>) and status "
        "file (<stem>-<i>.json)",
    ),
    province: Annotated[
        list[str] | None, typer.Option("--province", help="serve only these provinces")
    ] = None,
    partitions: int = typer.Option(6, "--partitions", help="partitions of the group topic"),
    web_port: int | None = typer.Option(
        None, "--web-port", min=1, max=65535, help="Faust web server (off)"
    ),
    web_host: str = typer.Option(
        "127.0.0.1",
        "--web-host",
        help="the address the Faust web server binds (its /table/ views answer the state: keep "
        "it on this machine)",
    ),
    wall_clock_skew: float | None = typer.Option(
        600.0, "--wall-clock-skew", help="live mode: watermark >= now - this (seconds)"
    ),
    replay: bool = typer.Option(
        False, "--replay", help="historical input: no wall-clock watermark; idle flush instead"
    ),
    idle_flush: float = typer.Option(10.0, "--idle-flush", help="replay: idle seconds → close"),
    source_idle: float = typer.Option(
        60.0, "--source-idle", help="a silent source partition stops holding the watermark (s)"
    ),
    stall_timeout: float = typer.Option(
        120.0,
        "--stall-timeout",
        help="exit 70 when the groups stage processed nothing this long while its input "
        "waited (a stalled Faust consumer; restarting resumes exactly); 0: never",
    ),
    datadir: Annotated[
        Path | None,
        typer.Option(
            "--datadir",
            help="Faust's data dir (default: <stack home>/streams, HOTLINE_STACK__HOME); stays "
            "empty (v1/tables/): the state table is in memory, restored from its Kafka "
            "changelog, and offsets are committed to Kafka",
        ),
    ] = None,
    status_file: Annotated[
        Path | None,
        typer.Option(
            "--status-file",
            help="write the worker's counters, its groups (calls, watermark, partitions "
            "behind) and its state-table size here as JSON, every second; read it with "
            "hotline health",
        ),
    ] = None,
    loglevel: Annotated[
        LogLevel,
        typer.Option(
            "--loglevel",
            case_sensitive=False,
            help="info shows start-up, the state's recovery after a restart (how far it is), "
            "groups loaded and partitions assigned",
        ),
    ] = LogLevel.info,
) -> None:
    """Run the stream worker: raw events of its provinces → call and ticket records; metric,
    agent-time and ticket-count snapshots at county, city, province and national level; alerts,
    dead letters and sequence gaps (docs/streams.md). SIGTERM stops it gracefully; offsets are
    committed. Thresholds, horizons and alert rules come from HOTLINE_STREAMS__<NAME> variables
    or .env, e.g. HOTLINE_STREAMS__SERVICE_LEVEL_MS=20000 or HOTLINE_STREAMS__ALERTS__SERVICE_HOURS
    (centers' service hours, JSON); docs/streams.md, "Setting them", lists them all."""
    settings = _settings(ctx)
    check_provinces(province or ())  # before any connection: a wrong one would join the group
    streams = streams_config_from_env()  # a wrong HOTLINE_STREAMS__ value stops here
    datadir = datadir or settings.stack.home / "streams"
    if workers > 1:
        raise SystemExit(_run_many(workers, datadir, status_file))
    config = WorkerConfig(
        app_id=app_id,
        kafka=settings.kafka,
        provinces=tuple(province or ()),
        partitions=partitions,
        web_port=web_port,
        web_host=web_host,
        wall_clock_skew_s=None if replay else wall_clock_skew,
        idle_flush_s=idle_flush if replay else None,
        source_idle_s=source_idle,
        stall_s=stall_timeout or None,
        datadir=datadir,
        status_file=status_file,
        streams=streams,
    )
    changed = streams.model_dump(mode="json", exclude_defaults=True)
    log.info("streams settings: %s", f"set in the environment {changed}" if changed else "defaults")
    from faust.worker import Worker as FaustWorker

    from hotline.streams.app import create_app, ensure_groups_topic, require_raw_topics
    from hotline.streams.gc_tuning import collect_less_often

    datadir.parent.mkdir(parents=True, exist_ok=True)  # Faust makes only the last folder
    faust_app = create_app(config)
    require_raw_topics(config, faust_app.hotline.raw_names)  # type: ignore[attr-defined]
    ensure_groups_topic(config)
    collect_less_often()
    FaustWorker(faust_app, loglevel=loglevel.value, quiet=True).execute_from_commandline()


#: Options whose value each child of ``--workers N`` gets its own of (or none).
_PER_CHILD = ("--workers", "--datadir", "--status-file")


def child_argv(argv: list[str], i: int, datadir: Path, status_file: Path | None) -> list[str]:
    """The arguments of child ``i`` of ``--workers N``: ``argv`` without the per-child
    options (``--opt value`` or ``--opt=value``), then one worker with its own data dir
    (``<datadir>-<i>``) and status file (``<stem>-<i><suffix>``)."""
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg in _PER_CHILD:
            skip = True
        elif not arg.startswith(tuple(o + "=" for o in _PER_CHILD)):
            out.append(arg)
    out += ["--workers", "1", "--datadir", f"{datadir}-{i}"]
    if status_file is not None:
        out += ["--status-file", str(status_file.with_stem(f"{status_file.stem}-{i}"))]
    return out


def _run_many(n: int, datadir: Path, status_file: Path | None) -> int:
    """N copies of this command, each one worker with its own data dir; SIGTERM → all."""
    procs = []
    for i in range(n):
        argv = child_argv(sys.argv[1:], i, datadir, status_file)
        procs.append(subprocess.Popen([sys.executable, "-m", "hotline", *argv]))

    def stop(signum: int, _frame: object) -> None:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    return max(proc.wait() for proc in procs)


@app.command("status", short_help="Lag and throughput of the worker's consumer groups.")
def status_command(
    ctx: typer.Context,
    app_id: str = typer.Option(
        "hotline-streams",
        "--app-id",
        help="the worker's --app-id (groups <app id>-ingest, <app id>)",
    ),
    interval: float = typer.Option(5.0, "--interval", help="seconds between the two samples"),
) -> None:
    """Lag and throughput per topic/partition from committed offsets: the raw topics as read
    by ingest (consumer group <app id>-ingest), the group topic by the groups stage (<app id>).
    """
    from hotline.streams.status import group_status

    settings = _settings(ctx)
    groups = [f"{app_id}-ingest", app_id]
    rows = group_status(settings.kafka.bootstrap_servers, groups, interval)
    if not rows:
        typer.echo(f"groups {', '.join(groups)}: no committed offsets")
        raise typer.Exit(1)
    typer.echo(f"{'topic':<48} {'part':>4} {'committed':>10} {'end':>10} {'lag':>8} {'msg/s':>9}")
    for group in groups:
        mine = [row for row in rows if row.group == group]
        typer.echo(f"group {group}" + ("" if mine else ": no committed offsets"))
        for row in mine:
            typer.echo(
                f"{row.topic:<48} {row.partition:>4} {row.committed:>10} {row.end:>10} "
                f"{row.lag:>8} {row.rate:>9.1f}"
            )
    typer.echo(
        f"total lag {sum(r.lag for r in rows)}, "
        f"{sum(r.rate for r in rows):.1f} msg/s over {interval:.0f}s (pid {os.getpid()}, "
        f"{time.strftime('%H:%M:%S')})"
    )
