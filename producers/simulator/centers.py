"""Which centers to simulate, how big they are, what profile and hours they have.

Sizes (agents logged in on a healthy working day) follow the published scale (DOMAIN.md):
Shanghai ~400 agents, Ningbo (a mid-size city) 20, 4,000+ agents nationally over ~320
running centers. Others are a seeded log-normal draw by class: municipality, provincial-level
center (省本级), provincial capital (city code ``xx01xx``), other prefecture city.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import time

from hotline.centers import Center, CenterRegistry, default_centers
from hotline.errors import ConfigurationError
from hotline.producers.simulator.params import (
    AFTERNOON_WINDOWS,
    DEFAULT_PROFILE_MIX,
    MIN_WINDOW_GAP_MINUTES,
    MORNING_WINDOWS,
    Profile,
)
from hotline.regions import MUNICIPALITIES
from hotline.service_hours import ServiceHours, format_service_hours, window_gaps
from hotline.service_hours import parse_service_hours as parse_windows

__all__ = [
    "ServiceHours",
    "SimCenter",
    "check_overrides",
    "derive_seed",
    "format_service_hours",
    "parse_profiles",
    "parse_service_hours",
    "plan_centers",
    "select_centers",
]

#: Published or well-known sizes (agents); everything else is drawn.
KNOWN_AGENTS: dict[str, int] = {"C310000": 400, "C110000": 300, "C500000": 220, "C120000": 150,
                                "C330200": 20}  # fmt: skip
#: (median agents, sigma, min, max) per class.
SIZE_CLASSES: dict[str, tuple[float, float, int, int]] = {
    "municipality": (200.0, 0.3, 80, 400),
    "provincial": (18.0, 0.5, 5, 80),
    "capital": (40.0, 0.5, 12, 160),
    "city": (6.0, 0.6, 3, 40),
}


@dataclass(frozen=True, slots=True)
class SimCenter:
    """One simulated center: identity, size, profile, hours and the regions its calls are about."""

    center_id: str
    name: str
    home: str
    agents: int
    profile: Profile
    windows: tuple[tuple[time, time], ...]
    #: Region codes of its calls and their weights (counties where known).
    regions: tuple[str, ...]
    region_weights: tuple[float, ...]
    seed: int


def derive_seed(seed: int, *parts: str) -> int:
    """A stable 64-bit seed from the run seed and names (independent of ``PYTHONHASHSEED``)."""
    digest = hashlib.sha256(":".join([str(seed), *parts]).encode()).digest()
    return int.from_bytes(digest[:8], "big")


def size_class(center: Center) -> str:
    if center.home in MUNICIPALITIES:
        return "municipality"
    if center.level == "provincial":
        return "provincial"
    if center.home[2:4] == "01":
        return "capital"
    return "city"


def draw_agents(center: Center, rng: random.Random) -> int:
    if center.center_id in KNOWN_AGENTS:
        return KNOWN_AGENTS[center.center_id]
    median, sigma, low, high = SIZE_CLASSES[size_class(center)]
    return max(low, min(high, round(rng.lognormvariate(math.log(median), sigma))))


def _call_regions(
    center: Center, registry: CenterRegistry
) -> tuple[tuple[str, ...], tuple[float, ...]]:
    """The claimed regions and the counties this center is responsible for, with weights."""
    regs = registry.regions
    counties = sorted(
        r.code
        for home in center.regions
        for r in regs.descendants(home)
        if r.level == "county" and registry.center_for_region(r.code).center_id == center.center_id
    )
    own = sorted(center.regions)
    if not counties:
        return tuple(own), tuple(1.0 for _ in own)
    # A share of calls cannot be placed below the claimed region (provincial centers: most).
    own_share = 0.7 if center.level == "provincial" else 0.15
    weights = [own_share / len(own)] * len(own)
    weights += [(1 - own_share) / len(counties)] * len(counties)
    return (*own, *counties), tuple(weights)


def select_centers(registry: CenterRegistry, selectors: Sequence[str] = ()) -> list[Center]:
    """Centers by id (``C320100``) or by province/region code (``32``, ``320000``); all if empty."""
    if not selectors:
        return list(registry)
    chosen: dict[str, Center] = {}
    for raw in selectors:
        item = raw.strip()
        if item in registry:
            chosen[item] = registry.get(item)
            continue
        code = item.ljust(6, "0") if item.isdigit() and len(item) in (2, 4) else item
        if code.isdigit() and code in registry.regions:
            found = [
                c for c in registry if registry.regions.is_within(c.home, code) or c.home == code
            ]
            if found:
                chosen.update((c.center_id, c) for c in found)
                continue
        raise ConfigurationError(f"--centers: {item!r} is neither a center id nor a region code")
    return [chosen[k] for k in sorted(chosen)]


def parse_profiles(items: Iterable[str]) -> dict[str, Profile]:
    """``CENTER=PROFILE`` items (CENTER: an id, a region code or ``*``) → mapping."""
    result: dict[str, Profile] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigurationError(f"--profile {item!r}: expected CENTER=PROFILE")
        try:
            result[key.strip()] = Profile(value.strip())
        except ValueError:
            names = ", ".join(p.value for p in Profile)
            raise ConfigurationError(f"--profile {item!r}: profile is one of {names}") from None
    return result


def parse_service_hours(text: str) -> ServiceHours:
    """``HH:MM-HH:MM[,HH:MM-HH:MM…]`` → windows (:func:`hotline.service_hours.parse_service_hours`),
    at least :data:`~.params.MIN_WINDOW_GAP_MINUTES` apart, also across midnight (the last
    window and the next day's first), unless they touch: touching windows (``00:00-24:00``
    day after day) are one continuous window."""
    windows = parse_windows(text)
    if any(0 < gap < MIN_WINDOW_GAP_MINUTES for gap in window_gaps(windows)):
        raise ConfigurationError(
            f"service hours {text!r}: windows closer than {MIN_WINDOW_GAP_MINUTES} minutes "
            "(agents stay on to drain the queue): join them into one window"
        )
    return windows


def check_overrides(
    registry: CenterRegistry,
    profiles: Mapping[str, Profile] | None = None,
    agents: Mapping[str, int] | None = None,
) -> dict[str, Profile]:
    """``profiles`` with region codes padded (``33`` → ``330000``); unknown keys are errors.

    A profile key is ``*``, a center id or a region code; an agents key is a center id. A key
    that names nothing would otherwise be ignored without a word.
    """
    checked: dict[str, Profile] = {}
    for key, value in (profiles or {}).items():
        code = key.ljust(6, "0") if key.isdigit() and len(key) in (2, 4) else key
        if key != "*" and key not in registry and not (code.isdigit() and code in registry.regions):
            raise ConfigurationError(
                f"--profile {key}={value.value}: {key!r} is neither a center id, a region code "
                "nor '*'"
            )
        checked[code] = value
    for key in agents or {}:
        if key not in registry:
            raise ConfigurationError(f"[agents] {key}: not a center id (e.g. C330200)")
    return checked


def _profile_for(
    center: Center, registry: CenterRegistry, chosen: Mapping[str, Profile], rng: random.Random
) -> Profile:
    profiles, weights = zip(*DEFAULT_PROFILE_MIX.items(), strict=True)
    drawn = rng.choices(profiles, weights)[0]  # always drawn: later draws do not shift
    if center.center_id in chosen:
        return chosen[center.center_id]
    for region in (center.home, *(r.code for r in registry.regions.parents(center.home))):
        if region in chosen:
            return chosen[region]
    return chosen.get("*", drawn)


def plan_centers(
    seed: int,
    selectors: Sequence[str] = (),
    profiles: Mapping[str, Profile] | None = None,
    agents: Mapping[str, int] | None = None,
    registry: CenterRegistry | None = None,
) -> list[SimCenter]:
    """The simulated centers, deterministic for ``seed``; ``agents`` overrides sizes."""
    registry = registry or default_centers()
    profiles = check_overrides(registry, profiles, agents)
    agents = agents or {}
    planned = []
    for center in select_centers(registry, selectors):
        center_seed = derive_seed(seed, center.center_id)
        rng = random.Random(derive_seed(seed, center.center_id, "plan"))
        size = agents.get(center.center_id) or draw_agents(center, rng)
        regions, weights = _call_regions(center, registry)
        planned.append(
            SimCenter(
                center_id=center.center_id,
                name=center.name,
                home=center.home,
                agents=size,
                profile=_profile_for(center, registry, profiles, rng),
                windows=(rng.choice(MORNING_WINDOWS), rng.choice(AFTERNOON_WINDOWS)),
                regions=regions,
                region_weights=weights,
                seed=center_seed,
            )
        )
    return planned
