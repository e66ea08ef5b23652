"""The centers registry: which 12333 center handles calls about which region.

A *center* handles calls; a call *belongs* to a region (DOMAIN.md). A center claims one or
more regions, each with everything below it. The center responsible for a region is the one
with the **nearest claim**: walk from the region up its parent chain (county → city →
province) and take the first claimed code. So a district sub-center that claims 320102 wins
over Nanjing's city center (320100), which wins over Jiangsu's provincial center (320000).
One region code may be claimed by one center only.

The default national registry (:func:`default_centers`) has, per provincial unit, its
provincial-level center (省本级, id ``C`` + province code, claiming the province) and one
city-level center per prefecture-level city (id ``C`` + city code, claiming the city). A
municipality has only its provincial-level center (it is the city's center). County-level
units directly under a province (仙桃, 济源, 海南's 4690xx) and the Corps' cities fall to the
provincial center, by the nearest-claim rule.

A mapping file (TOML or JSON, :func:`load_centers_config`) changes that: a province can be
centralized (省级大集中: one center serving all its cities and counties, no city centers),
generated centers can be removed, and extra centers (district sub-centers, a center of its
own for a county-level city) can be added. The format is documented in ``docs/regions.md``.
"""

from __future__ import annotations

import functools
import json
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hotline.errors import ConfigurationError, InvalidInput
from hotline.regions import MUNICIPALITIES, RegionRegistry, default_registry

__all__ = [
    "CENTER_LEVELS",
    "Center",
    "CenterLevel",
    "CenterRegistry",
    "CenterSpec",
    "CentersConfig",
    "ProvinceMode",
    "UnknownCenter",
    "build_centers",
    "center_id_for",
    "default_centers",
    "load_centers_config",
]

CenterLevel = Literal["provincial", "city", "district"]
CENTER_LEVELS: tuple[CenterLevel, ...] = ("provincial", "city", "district")


class UnknownCenter(InvalidInput):
    """A center id that the registry does not know."""

    def __init__(self, center_id: str) -> None:
        self.center_id = center_id
        super().__init__(f"unknown center {center_id!r}")


@dataclass(frozen=True, slots=True)
class Center:
    """One 12333 center.

    ``home`` is the region the center belongs to (its province for a provincial-level
    center); ``regions`` are the region codes it claims, each with everything below it
    (see the module docstring for how claims resolve).
    """

    center_id: str
    name: str
    level: CenterLevel
    home: str
    regions: frozenset[str]


# -- the mapping file -----------------------------------------------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ProvinceMode(_Model):
    """How one province's centers are organised."""

    mode: Literal["per_city", "centralized"] = "per_city"
    name: str | None = Field(None, description="name of the provincial-level center")


class CenterSpec(_Model):
    """An extra center; ``id`` defaults to ``C`` + home, ``regions`` to ``[home]``."""

    id: str | None = None
    name: str
    level: CenterLevel
    home: str
    regions: tuple[str, ...] | None = None


class CentersConfig(_Model):
    """The mapping file: province modes, centers to remove, extra centers."""

    provinces: dict[str, ProvinceMode] = {}
    remove: tuple[str, ...] = ()
    centers: tuple[CenterSpec, ...] = ()


def load_centers_config(path: str | Path) -> CentersConfig:
    """Read a mapping file (``.toml`` or ``.json``); :class:`ConfigurationError` if it is wrong."""
    path = Path(path)
    try:
        raw = path.read_bytes()
        data = json.loads(raw) if path.suffix == ".json" else tomllib.loads(raw.decode("utf-8"))
        return CentersConfig.model_validate(data)
    except (OSError, ValueError, ValidationError) as exc:
        # tomllib/json decode errors are ValueErrors; so is pydantic's ValidationError.
        raise ConfigurationError(f"centers mapping {path}: {exc}") from exc


# -- the registry ---------------------------------------------------------------------------


class CenterRegistry:
    """An immutable set of centers over a region registry, with claim resolution."""

    def __init__(self, centers: Iterable[Center], regions: RegionRegistry) -> None:
        self.regions = regions
        self._by_id: dict[str, Center] = {}
        self._claims: dict[str, str] = {}
        for center in centers:
            if center.center_id in self._by_id:
                raise ConfigurationError(f"center id {center.center_id} appears twice")
            self._check(center)
            for code in center.regions:
                if code in self._claims:
                    raise ConfigurationError(
                        f"region {code} is claimed by both {self._claims[code]} and "
                        f"{center.center_id}"
                    )
                self._claims[code] = center.center_id
            self._by_id[center.center_id] = center

    def _check(self, center: Center) -> None:
        regs = self.regions
        if center.home not in regs:
            raise ConfigurationError(f"center {center.center_id}: unknown home {center.home}")
        home = regs.get(center.home)
        wanted = {"provincial": ("province",), "city": ("city", "county"), "district": ("county",)}
        if home.level not in wanted[center.level]:
            raise ConfigurationError(
                f"center {center.center_id}: a {center.level} center cannot have a "
                f"{home.level} ({home.code} {home.name}) as home"
            )
        if not center.regions:
            raise ConfigurationError(f"center {center.center_id} claims no region")
        province = regs.province_of(home.code).code
        for code in center.regions:
            if code not in regs:
                raise ConfigurationError(f"center {center.center_id}: unknown region {code}")
            if regs.province_of(code).code != province:
                raise ConfigurationError(
                    f"center {center.center_id}: region {code} is outside its province {province}"
                )

    def get(self, center_id: str) -> Center:
        """The center with this id; :class:`UnknownCenter` if there is none."""
        try:
            return self._by_id[center_id.strip()]
        except KeyError:
            raise UnknownCenter(center_id) from None

    def centers_for_region(self, code: str | int) -> tuple[Center, ...]:
        """Every center whose claims contain ``code``, the responsible (nearest) one first.

        Raises :class:`~hotline.regions.UnknownRegion` for an unknown code.
        """
        region = self.regions.get(code)
        chain = (region, *self.regions.parents(region.code))
        return tuple(self._by_id[self._claims[r.code]] for r in chain if r.code in self._claims)

    def center_for_region(self, code: str | int) -> Center:
        """The center responsible for calls about ``code`` (the nearest claim)."""
        found = self.centers_for_region(code)
        if not found:
            raise ConfigurationError(f"no center claims region {code} or any region above it")
        return found[0]

    def serves(self, center_id: str, region_code: str | int) -> bool:
        """True if ``center_id`` is the center responsible for ``region_code``."""
        center = self.get(center_id)
        return self.center_for_region(region_code).center_id == center.center_id

    def centers_of_province(self, code: str | int) -> tuple[Center, ...]:
        """The centers whose home lies in the province of ``code``: provincial first."""
        province = self.regions.province_of(code).code
        found = [c for c in self if self.regions.province_of(c.home).code == province]
        return tuple(sorted(found, key=lambda c: (CENTER_LEVELS.index(c.level), c.center_id)))

    def counts(self) -> dict[CenterLevel, int]:
        """Number of centers per level."""
        return {lv: sum(1 for c in self if c.level == lv) for lv in CENTER_LEVELS}

    def __iter__(self) -> Iterator[Center]:
        return iter(sorted(self._by_id.values(), key=lambda c: c.center_id))

    def __len__(self) -> int:
        return len(self._by_id)

    def __contains__(self, center_id: object) -> bool:
        return isinstance(center_id, str) and center_id in self._by_id


def center_id_for(code: str) -> str:
    """The stable id of the center whose home is ``code``: ``C`` + the region code."""
    return f"C{code}"


def build_centers(
    regions: RegionRegistry | None = None, config: CentersConfig | None = None
) -> CenterRegistry:
    """The national registry: the defaults of the module docstring, changed by ``config``."""
    regions = regions or default_registry()
    config = config or CentersConfig()
    modes: Mapping[str, ProvinceMode] = config.provinces
    for code in modes:
        if code not in regions or regions.get(code).level != "province":
            raise ConfigurationError(f"centers mapping: {code} is not a provincial unit")
    centers: list[Center] = []
    for province in regions.provinces():
        mode = modes.get(province.code, ProvinceMode())
        if mode.name:
            name = mode.name
        elif province.code in MUNICIPALITIES:
            name = f"{province.name}12333"
        elif mode.mode == "centralized":
            name = f"{province.name}12333（省级大集中）"
        else:
            name = f"{province.name}12333（省本级）"
        centers.append(
            Center(
                center_id_for(province.code),
                name,
                "provincial",
                province.code,
                frozenset({province.code}),
            )
        )
        if mode.mode == "centralized" or province.code in MUNICIPALITIES:
            continue
        for city in regions.children(province.code):
            if city.level == "city":
                centers.append(
                    Center(
                        center_id_for(city.code),
                        f"{city.name}12333",
                        "city",
                        city.code,
                        frozenset({city.code}),
                    )
                )
    removed = set(config.remove)
    unknown = removed - {c.center_id for c in centers}
    if unknown:
        raise ConfigurationError(f"centers mapping: cannot remove unknown {sorted(unknown)}")
    centers = [c for c in centers if c.center_id not in removed]
    for spec in config.centers:
        centers.append(
            Center(
                spec.id or center_id_for(spec.home),
                spec.name,
                spec.level,
                spec.home,
                frozenset(spec.regions if spec.regions is not None else (spec.home,)),
            )
        )
    return CenterRegistry(centers, regions)


@functools.cache
def default_centers() -> CenterRegistry:
    """The default national registry over :func:`~hotline.regions.default_registry`."""
    return build_centers()
