"""Running a simulation: build the centers, drive one SimPy environment, feed the sinks.

:func:`simulate` is the library entry point (the CLI is a thin shell around it). Every event
goes to the given sink and to the :class:`~.ledger.Ledger`, in global time order.
"""

from __future__ import annotations

import time as wallclock
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import simpy
import simpy.rt

from hotline.producers.simulator.centers import (
    ServiceHours,
    SimCenter,
    format_service_hours,
    plan_centers,
)
from hotline.producers.simulator.facts import DEFAULT_THRESHOLDS, Thresholds
from hotline.producers.simulator.ledger import Ledger, iso
from hotline.producers.simulator.model import CenterModel, Clock
from hotline.producers.simulator.params import Profile
from hotline.producers.simulator.sinks import EventSink, FanOut, JsonlFileSink
from hotline.schemas import Event
from hotline.workdays import CHINA_TZ

__all__ = [
    "DEFAULT_START",
    "EVENTS_FILE",
    "LEDGER_FILE",
    "SimConfig",
    "Summary",
    "simulate",
    "simulate_to_dir",
]

#: Monday 3 March 2025, 00:00 China time: a fixed default so runs are reproducible.
DEFAULT_START = datetime(2025, 3, 3, tzinfo=CHINA_TZ)
EVENTS_FILE = "events.jsonl"
LEDGER_FILE = "ledger.jsonl"
#: Simulated time between progress updates (and between real-time pacing checks).
STEP = timedelta(minutes=10)


@dataclass(frozen=True)
class SimConfig:
    """What to simulate."""

    seed: int = 12333
    start: datetime = DEFAULT_START
    duration: timedelta = timedelta(days=1)
    centers: Sequence[str] = ()
    profiles: Mapping[str, Profile] = field(default_factory=dict)
    agents: Mapping[str, int] = field(default_factory=dict)
    thresholds: Thresholds = DEFAULT_THRESHOLDS
    #: None: as fast as possible; otherwise simulated seconds per wall-clock second.
    speed: float | None = None
    #: None: each center's own hours on working days; otherwise these windows (minutes of the
    #: China-local day, ``centers.parse_service_hours``) for every center, every day.
    service_hours: ServiceHours | None = None

    @property
    def end(self) -> datetime:
        return self.start + self.duration


@dataclass
class Summary:
    """What a run produced."""

    events_by_type: Counter[str]
    calls: int
    centers: int
    start: datetime
    end: datetime
    wall_seconds: float

    @property
    def events(self) -> int:
        return sum(self.events_by_type.values())

    @property
    def events_per_second(self) -> float:
        return self.events / self.wall_seconds if self.wall_seconds > 0 else 0.0


Progress = Callable[[float], None]


def simulate(
    config: SimConfig,
    sink: EventSink,
    ledger: Ledger | None = None,
    progress: Progress | None = None,
    centers: list[SimCenter] | None = None,
) -> Summary:
    """Run ``config``; emit every event to ``sink`` (and ``ledger``); close both at the end.

    ``progress`` is called with the simulated fraction done (0..1) every ten simulated minutes.
    """
    centers = (
        centers
        if centers is not None
        else plan_centers(config.seed, config.centers, config.profiles, config.agents)
    )
    start = config.start.astimezone(UTC)
    clock = Clock(start)
    end_ms = clock.ms(config.end.astimezone(UTC))
    env: simpy.Environment
    if config.speed:
        env = simpy.rt.RealtimeEnvironment(factor=0.001 / config.speed, strict=False)
    else:
        env = simpy.Environment()
    counts: Counter[str] = Counter()
    out = FanOut(sink, ledger) if ledger is not None else sink

    def emit(event: Event) -> None:
        counts[event.RECORD_TYPE] += 1
        out.emit(event)

    begun = wallclock.perf_counter()
    try:
        for spec in centers:
            CenterModel(env, spec, clock, end_ms, emit, service_hours=config.service_hours).start()
        step = int(STEP / timedelta(milliseconds=1))
        until = 0
        while until < end_ms:
            until = min(end_ms, until + step)
            env.run(until=until)
            if progress is not None:
                progress(until / end_ms)
    finally:
        out.close()
    return Summary(
        events_by_type=counts,
        calls=counts["call.offered"],
        centers=len(centers),
        start=start,
        end=config.end.astimezone(UTC),
        wall_seconds=wallclock.perf_counter() - begun,
    )


def simulate_to_dir(
    config: SimConfig,
    out_dir: str | Path,
    progress: Progress | None = None,
    sink: EventSink | None = None,
) -> Summary:
    """Run ``config`` writing ``ledger.jsonl`` into ``out_dir``, and the events to ``sink``.

    Without ``sink`` the events go to ``out_dir/events.jsonl``.
    """
    out_dir = Path(out_dir)
    centers = plan_centers(config.seed, config.centers, config.profiles, config.agents)
    meta = {
        "seed": config.seed,
        "start": iso(config.start.astimezone(UTC)),
        "centers": [
            {"center_id": c.center_id, "profile": c.profile.value, "agents": c.agents,
             "windows": [f"{s:%H:%M}-{e:%H:%M}" for s, e in c.windows]}
            for c in centers
        ],
    }  # fmt: skip
    if config.service_hours is not None:
        meta["service_hours"] = format_service_hours(config.service_hours)
    ledger = Ledger(config.end.astimezone(UTC), out_dir / LEDGER_FILE, config.thresholds, meta)
    if sink is None:
        sink = JsonlFileSink(out_dir / EVENTS_FILE)
    return simulate(config, sink, ledger, progress, centers)


def parse_start(text: str) -> datetime:
    """A date (China local midnight) or an ISO datetime (China local time if naive)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = datetime.combine(date.fromisoformat(text), datetime.min.time())
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=CHINA_TZ)
