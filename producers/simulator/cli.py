"""``hotline simulate``: run the center simulator and write events and the ledger."""

from __future__ import annotations

import json
import signal
import tomllib
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from hotline.centers import default_centers
from hotline.errors import ConfigurationError
from hotline.infra.topics import ensure_topics, topic_layout
from hotline.producers.base import DeliveryConfig
from hotline.producers.delivery import KafkaEventSink
from hotline.producers.simulator.centers import (
    check_overrides,
    parse_profiles,
    parse_service_hours,
    select_centers,
)
from hotline.producers.simulator.facts import Thresholds
from hotline.producers.simulator.params import Profile
from hotline.producers.simulator.runner import (
    DEFAULT_START,
    EVENTS_FILE,
    LEDGER_FILE,
    SimConfig,
    Summary,
    parse_start,
    simulate_to_dir,
)
from hotline.regions import default_registry
from hotline.settings import Settings
from hotline.workdays import CALENDAR_VERSION, assume_weekdays

__all__ = ["load_config", "simulate_command"]

_PROFILES = ", ".join(p.value for p in Profile)


def load_config(path: Path) -> tuple[dict[str, Profile], dict[str, int]]:
    """A TOML/JSON file with ``[profiles]`` (CENTER = "profile") and ``[agents]`` (CENTER = n).

    CENTER is a center id (``C330200``), a region code (``330000``: its centers) or ``*``.
    """
    try:
        raw = path.read_bytes()
        data = json.loads(raw) if path.suffix == ".json" else tomllib.loads(raw.decode("utf-8"))
        profiles = parse_profiles(f"{k}={v}" for k, v in data.get("profiles", {}).items())
        agents = {str(k): int(v) for k, v in data.get("agents", {}).items()}
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        raise ConfigurationError(f"simulator config {path}: {exc}") from exc
    unknown = set(data) - {"profiles", "agents"}
    if unknown:
        raise ConfigurationError(f"simulator config {path}: unknown tables {sorted(unknown)}")
    return profiles, agents


def _summary_table(summary: Summary, out: Path) -> Table:
    table = Table(title=f"simulated {summary.centers} centers → {out}", show_header=True)
    table.add_column("event type")
    table.add_column("events", justify="right")
    for kind, count in sorted(summary.events_by_type.items()):
        table.add_row(kind, f"{count:,}")
    table.add_section()
    table.add_row("all events", f"{summary.events:,}")
    table.add_row("calls offered", f"{summary.calls:,}")
    span = f"{summary.start:%Y-%m-%d %H:%M} → {summary.end:%Y-%m-%d %H:%M} UTC"
    table.add_row("simulated span", span)
    table.add_row("wall time", f"{summary.wall_seconds:.1f} s")
    table.add_row("events/s", f"{summary.events_per_second:,.0f}")
    return table


#: How far past the simulated span ticket due times may reach (5 working days at most, a
#: reopened ticket's again), for the years ``--unknown-years weekdays`` stands in for.
_LAST_DUE_MARGIN = timedelta(days=30)
_START_FORMAT = "a date YYYY-MM-DD or an ISO datetime YYYY-MM-DDTHH:MM[:SS][+08:00]"


def _start_option(value: str) -> str:
    """Check ``--start`` while the command line is parsed: a usage error, not a traceback."""
    _parse_start_option(value)
    return value


def _parse_start_option(value: str) -> datetime:
    try:
        return parse_start(value)
    except ValueError as exc:
        why = "" if str(exc).startswith("Invalid isoformat") else f" ({exc})"
        raise typer.BadParameter(f"{value!r} is not {_START_FORMAT}{why}") from None


class UnknownYears(StrEnum):
    """What ``hotline simulate`` does in a year whose official calendar is not known."""

    error = "error"
    weekdays = "weekdays"


class Target(StrEnum):
    """Where ``hotline simulate`` sends its events."""

    file = "file"
    kafka = "kafka"


def _kafka_sink(settings: Settings) -> KafkaEventSink:
    """The delivery path into the raw topics of the configured Kafka (topics made if missing)."""
    provinces = [region.code for region in default_registry().provinces()]
    ensure_topics(settings.kafka.bootstrap_servers, topic_layout(settings.kafka, provinces))
    return KafkaEventSink(DeliveryConfig.from_settings(settings), "simulator")


def simulate_command(
    ctx: typer.Context,
    centers: Annotated[
        list[str] | None,
        typer.Option(
            "--centers",
            "-c",
            help="center ids (C330200) or region codes (33, 330000: all their centers); "
            "repeatable or comma-separated; default: all 366 centers (32 provincial, 334 city)",
        ),
    ] = None,
    profile: Annotated[
        list[str] | None,
        typer.Option(
            "--profile",
            "-p",
            metavar="CENTER=PROFILE",
            help=f"profile of a center, a region's centers or '*' (all); repeatable. "
            f"Profiles: {_PROFILES}. Default: a seeded mix, mostly healthy",
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(help="TOML/JSON file with \\[profiles] and \\[agents] tables per center"),
    ] = None,
    start: Annotated[
        str,
        typer.Option(
            help="simulated start: a date (China local midnight) or ISO datetime",
            callback=_start_option,
        ),
    ] = DEFAULT_START.date().isoformat(),
    days: Annotated[float, typer.Option(help="simulated days (ignored with --hours)")] = 1.0,
    hours: Annotated[float | None, typer.Option(help="simulated hours")] = None,
    seed: Annotated[int, typer.Option(help="random seed: same seed, same bytes")] = 12333,
    speed: Annotated[
        float | None,
        typer.Option(
            help="pace: simulated seconds per wall second (1 = real time); "
            "default: as fast as possible"
        ),
    ] = None,
    unknown_years: Annotated[
        UnknownYears,
        typer.Option(
            help="a year whose official calendar is not known (chinesecalendar 1.11.0 ends with "
            "2026; HOTLINE_CALENDAR_FILE adds years): error, or weekdays: take Monday-Friday "
            "as its working days, without holidays, and say so (make demo does)",
        ),
    ] = UnknownYears.error,
    service_hours: Annotated[
        str | None,
        typer.Option(
            metavar="HH:MM-HH:MM[,...]",
            help="human-service hours of every simulated center, China time, every day "
            "(weekends and holidays too) instead of each center's own hours on working days; "
            "00:00-24:00: round the clock, as some big-city centers and the demo (make demo) "
            "do. Call volume stays the centers' own. Default: the centers' own hours",
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help=f"output folder for {EVENTS_FILE} and {LEDGER_FILE} "
            "(default: <stack home>/simulator, HOTLINE_STACK__HOME)"
        ),
    ] = None,
    sl_seconds: Annotated[
        int, typer.Option(help="service-level threshold of the ledger, seconds")
    ] = 30,
    short_abandon_seconds: Annotated[
        int, typer.Option(help="abandons below this wait are short abandons, seconds")
    ] = 5,
    to: Annotated[
        Target,
        typer.Option(
            help="file: OUT/events.jsonl; kafka: the province raw topics of HOTLINE_KAFKA__* "
            "through the durable delivery path (the ledger still goes to OUT)"
        ),
    ] = Target.file,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bar")] = False,
) -> None:
    """Simulate 12333 centers (SimPy): contract events plus the ground-truth ledger.

    Calls arrive as a non-homogeneous Poisson process (weekday and intraday profile), go through the IVR (self-service or a request for a person), queue for staffed agents in human-service hours (each center's own, 08:30-18:00 at the widest, on working days; see --service-hours) and are answered or abandoned; then talk, hold, transfers, after-call work, surveys, tickets on the working-day calendar, agent states and QA.

    Events go to OUT/events.jsonl in time order; OUT/ledger.jsonl holds exact counters per region × minute × business line × channel (docs/simulator.md).
    """  # noqa: E501 -- one line per paragraph, as --help wraps it
    selectors = [item for raw in centers or [] for item in raw.split(",") if item.strip()]
    profiles, agents = load_config(config) if config else ({}, {})
    profiles.update(parse_profiles(profile or []))
    registry = default_centers()
    select_centers(registry, selectors)  # unknown centers fail here, before Kafka is touched
    profiles = check_overrides(registry, profiles, agents)
    if speed is not None and speed <= 0:
        raise typer.BadParameter("--speed must be positive")
    duration = timedelta(hours=hours) if hours is not None else timedelta(days=days)
    if duration <= timedelta(0):
        raise typer.BadParameter("the simulated span must be positive")
    sim = SimConfig(
        seed=seed,
        start=_parse_start_option(start),
        duration=duration,
        centers=selectors,
        profiles=profiles,
        agents=agents,
        thresholds=Thresholds(sl_seconds * 1000, short_abandon_seconds * 1000),
        speed=speed,
        service_hours=parse_service_hours(service_hours) if service_hours is not None else None,
    )
    console = Console(stderr=True)
    if unknown_years is UnknownYears.weekdays:
        last = sim.start + duration + _LAST_DUE_MARGIN
        for year in assume_weekdays(range(sim.start.year, last.year + 1)):
            console.print(
                f"warning: the official calendar of {year} is not known (chinesecalendar "
                f"{CALENDAR_VERSION}, no HOTLINE_CALENDAR_FILE year): this simulation takes "
                "Monday-Friday as its working days, without holidays",
                highlight=False,
            )
    settings = ctx.find_root().obj
    out = out or settings.stack.home / "simulator"
    sink = _kafka_sink(settings) if to is Target.kafka else None
    received: list[signal.Signals] = []

    def _on_sigterm(signum: int, _frame: object) -> None:
        received.append(signal.Signals(signum))
        raise KeyboardInterrupt  # as Ctrl-C: the run's finally closes the sink and the ledger

    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        summary = _run(sim, out, sink, console, quiet)
    except KeyboardInterrupt:
        stopped_by = received[0] if received else signal.SIGINT
        console.print(
            f"stopped ({stopped_by.name}) before the end of the simulated span: the events so "
            f"far are delivered and {out / LEDGER_FILE} counts only them; the same command "
            "emits the same events again (same seed, same ids)",
            highlight=False,
        )
        if sink is not None:
            console.print(sink.delivered(), highlight=False)
        raise typer.Exit(128 + stopped_by) from None
    finally:
        signal.signal(signal.SIGTERM, previous)
    console.print(_summary_table(summary, out))
    if sink is not None:
        console.print(sink.delivered(), highlight=False)


def _run(
    sim: SimConfig, out: Path, sink: KafkaEventSink | None, console: Console, quiet: bool
) -> Summary:
    """The simulation, with a progress bar on ``console`` unless ``quiet``."""
    if quiet:
        return simulate_to_dir(sim, out, sink=sink)
    with Progress(
        TextColumn("simulating"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(), console=console,
    ) as bar:  # fmt: skip
        task = bar.add_task("simulate", total=1.0)
        return simulate_to_dir(sim, out, lambda done: bar.update(task, completed=done), sink=sink)
