"""``hotline quality`` (campaigns, evaluators' CSV files) and ``hotline report quality``."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer

from hotline.centers import default_centers
from hotline.errors import HotlineError
from hotline.producers.simulator.centers import parse_profiles
from hotline.reports.campaign import run_campaign
from hotline.reports.csv_import import HEADER, parse_csv
from hotline.reports.errors import QualityError
from hotline.reports.render import FORMATS, write_report
from hotline.reports.report import quality_figures
from hotline.reports.store import insert_evaluations
from hotline.settings import Settings
from hotline.sinks.client import connect

quality_app = typer.Typer(
    name="quality",
    help="Quality monitoring (神秘顾客): simulated campaigns and evaluators' CSV files.",
    no_args_is_help=True,
)
report_app = typer.Typer(
    name="report", help="Reports rendered from ClickHouse.", no_args_is_help=True
)


def _settings(ctx: typer.Context) -> Settings:
    settings = ctx.find_root().obj
    if not isinstance(settings, Settings):
        raise typer.BadParameter("settings were not loaded by the root command")
    return settings


def _province(value: str | None) -> str | None:
    """A province given as its code (320000) or its name (江苏, 江苏省)."""
    if value is None:
        return None
    regions = default_centers().regions
    try:
        code = value if value.isdigit() else regions.find_one(value).code
        return regions.province_of(code).code
    except HotlineError as exc:
        raise typer.BadParameter(f"--province {value!r}: {exc}") from exc


@quality_app.command("campaign")
def campaign_command(
    ctx: typer.Context,
    year: Annotated[int, typer.Option(help="campaign year")],
    seed: Annotated[
        int, typer.Option(help="same seed, same campaign (and profiles as simulate)")
    ] = 1,
    centers: Annotated[
        list[str] | None,
        typer.Option("--centers", help="center ids or region codes, comma-separated"),
    ] = None,
    profile: Annotated[
        list[str] | None, typer.Option("--profile", help="CENTER_OR_REGION=PROFILE, repeatable")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="write JSON lines here instead of inserting into ClickHouse")
    ] = None,
    version: Annotated[int, typer.Option(help="row version (a higher one replaces)")] = 1,
) -> None:
    """Dial every selected center once in June of YEAR, as the national mystery shopper."""
    selectors = [item for raw in centers or [] for item in raw.split(",") if item.strip()]
    rows = run_campaign(
        year, seed, selectors=selectors, profiles=parse_profiles(profile or []), version=version
    )
    if out is not None:
        with out.open("w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row.to_json(), ensure_ascii=False) + "\n")
        typer.echo(f"{len(rows)} evaluations written to {out}")
        return
    settings = _settings(ctx)
    client = connect(settings.clickhouse)
    try:
        written = insert_evaluations(client, settings.clickhouse.database, rows)
    finally:
        client.disconnect()
    typer.echo(
        f"{written} evaluations of {year} stored in {settings.clickhouse.database}.qa_evaluations"
    )


@quality_app.command("csv-header")
def csv_header_command() -> None:
    """Print the header line of the evaluators' CSV format (docs/quality.md)."""
    typer.echo(",".join(HEADER))


@quality_app.command("import")
def import_command(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="evaluators' CSV file (UTF-8)", exists=True)],
    dry_run: Annotated[bool, typer.Option(help="check only, store nothing")] = False,
) -> None:
    """Import evaluations from a CSV file: refused rows are named by row number, good rows stored.

    Exit code 1 when a row was refused.
    """
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise QualityError(f"{file}: {exc}") from exc
    result = parse_csv(text, default_centers(), default_version=int(time.time() * 1000))
    for error in result.errors:
        typer.echo(f"{file}: {error}", err=True)
    if result.rows and not dry_run:
        settings = _settings(ctx)
        client = connect(settings.clickhouse)
        try:
            insert_evaluations(client, settings.clickhouse.database, result.rows)
        finally:
            client.disconnect()
    verb = "checked" if dry_run else "stored"
    typer.echo(f"{len(result.rows)} row(s) {verb}, {len(result.errors)} refused")
    if result.errors:
        raise typer.Exit(1)


@report_app.command("quality")
def report_quality_command(
    ctx: typer.Context,
    year: Annotated[int, typer.Option(help="campaign year")],
    province: Annotated[
        str | None, typer.Option(help="one province (code or name): the report of its cities")
    ] = None,
    out: Annotated[Path, typer.Option(help="output folder")] = Path("reports-out"),
    fmt: Annotated[
        list[str] | None, typer.Option("--format", help="html and/or pdf (default both)")
    ] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="also write the figures as JSON here")
    ] = None,
) -> None:
    """The yearly quality report (Chinese), every number recomputed from ClickHouse.

    A year (or province) without any mystery-shopper evaluation is an error, not a report.
    """
    formats = fmt or list(FORMATS)
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise typer.BadParameter(f"--format {', '.join(unknown)}: choose html or pdf")
    code = _province(province)
    settings = _settings(ctx)
    client = connect(settings.clickhouse)
    try:
        figures = quality_figures(
            client, settings.clickhouse.database, year, code, require_evaluations=True
        )
    finally:
        client.disconnect()
    for path in write_report(figures, out, formats):
        typer.echo(f"wrote {path}")
    if json_out is not None:
        json_out.write_text(json.dumps(figures, ensure_ascii=False, indent=1), encoding="utf-8")
        typer.echo(f"wrote {json_out}")
