"""``hotline regions …`` and ``hotline centers …``: look up regions and the centers serving them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from hotline.centers import CenterRegistry, build_centers, default_centers, load_centers_config
from hotline.errors import HotlineError, explained
from hotline.regions import Region, RegionRegistry, default_registry

__all__ = ["centers_app", "regions_app"]

regions_app = typer.Typer(
    help="Look up GB/T 2260 regions (provinces, cities, counties) and who serves them.",
    no_args_is_help=True,
)
centers_app = typer.Typer(
    help="List the 12333 centers (provincial-level, city-level, district sub-centers).",
    no_args_is_help=True,
)

_LEVEL_ZH = {"province": "省级", "city": "地市级", "county": "县级"}
_CENTER_LEVEL_ZH = {"provincial": "省本级", "city": "地市", "district": "分中心"}

_MAPPING_HELP = (
    "centers mapping file (TOML or JSON: centralized provinces, sub-centers; "
    "see docs/regions.md); default: one center per province and per prefecture-level city"
)
_Mapping = Annotated[Path | None, typer.Option("--mapping", help=_MAPPING_HELP)]


def _console() -> Console:
    return Console()


def _fail(exc: HotlineError) -> typer.Exit:
    Console(stderr=True).print(f"[red]error:[/red] {explained(exc)}", highlight=False)
    return typer.Exit(code=1)


def _centers(mapping: Path | None) -> CenterRegistry:
    if mapping is None:
        return default_centers()
    return build_centers(default_registry(), load_centers_config(mapping))


def _resolve(registry: RegionRegistry, what: str) -> Region:
    """A region by code, or by a name that matches exactly one region."""
    what = what.strip()
    return registry.get(what) if what.isdigit() else registry.find_one(what)


def _regions_table(regions: tuple[Region, ...], title: str) -> Table:
    table = Table(title=title)
    table.add_column("code")
    table.add_column("name")
    table.add_column("level")
    table.add_column("full name")
    for r in regions:
        table.add_row(r.code, r.name, _LEVEL_ZH[r.level], r.full_name)
    return table


@regions_app.command("show")
def show(
    code: str = typer.Argument(..., help="six-digit GB/T 2260 code (e.g. 320102) or unique name"),
    mapping: _Mapping = None,
) -> None:
    """Show a region: name, level, parent chain, children and the center(s) serving it."""
    registry = default_registry()
    try:
        region = _resolve(registry, code)
        centers = _centers(mapping).centers_for_region(region.code)
    except HotlineError as exc:
        raise _fail(exc) from None
    table = Table(title=f"{region.code} {region.name}", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    table.add_row("code", region.code)
    table.add_row("name", region.name)
    table.add_row("level", f"{region.level} ({_LEVEL_ZH[region.level]})")
    chain = registry.parents(region.code)
    table.add_row("parents", " → ".join(f"{r.code} {r.name}" for r in chain) or "—")
    table.add_row("children", str(len(registry.children(region.code))))
    for i, center in enumerate(centers):
        label = "center" if i == 0 else "above it"
        table.add_row(label, f"{center.center_id} {center.name} ({center.level})")
    _console().print(table)


@regions_app.command("find")
def find(name: str = typer.Argument(..., help="name, e.g. 南京市 or 南京, 鼓楼区, 广西")) -> None:
    """Find regions by exact name or by name without its suffix (市, 省, 自治区 …)."""
    found = default_registry().find(name)
    if not found:
        Console(stderr=True).print(f"no region named {name!r}")
        raise typer.Exit(code=1)
    _console().print(_regions_table(found, f"{len(found)} region(s) named {name!r}"))


@regions_app.command("stats")
def stats(
    mapping: _Mapping = None,
) -> None:
    """Count regions per level and centers per level; name the data source."""
    registry = default_registry()
    try:
        centers = _centers(mapping)
    except HotlineError as exc:
        raise _fail(exc) from None
    table = Table(title="regions and centers")
    table.add_column("what")
    table.add_column("count", justify="right")
    for level, n in registry.counts().items():
        table.add_row(f"regions: {level} ({_LEVEL_ZH[level]})", str(n))
    for level, n in centers.counts().items():
        table.add_row(f"centers: {level} ({_CENTER_LEVEL_ZH[level]})", str(n))
    table.add_row("centers: total", str(len(centers)))
    console = _console()
    console.print(table)
    source = registry.source
    if source is not None:
        excluded = ", ".join(f"{why} {n}" for why, n in source.excluded) or "none"
        console.print(
            f"source: {source.distribution} {source.version} ({source.file}), data as of "
            f"{source.data_as_of or 'unknown'}; left out: {excluded}",
            highlight=False,
        )


@centers_app.command("list")
def list_centers(
    province: str | None = typer.Option(
        None, "--province", "-p", help="only this province (code or unique name, e.g. 320000)"
    ),
    mapping: _Mapping = None,
) -> None:
    """List centers with their level, home region and the regions they claim."""
    registry = default_registry()
    try:
        centers = _centers(mapping)
        if province is None:
            selected = tuple(centers)
        else:
            selected = centers.centers_of_province(_resolve(registry, province).code)
    except HotlineError as exc:
        raise _fail(exc) from None
    table = Table(title=f"{len(selected)} center(s)")
    table.add_column("center id")
    table.add_column("name")
    table.add_column("level")
    table.add_column("home")
    table.add_column("claims")
    for c in selected:
        home = registry.get(c.home)
        claims = ", ".join(sorted(c.regions))
        table.add_row(c.center_id, c.name, _CENTER_LEVEL_ZH[c.level], home.full_name, claims)
    _console().print(table)
