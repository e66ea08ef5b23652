"""The ``hotline`` command. Each area adds its own sub-command group here."""

from __future__ import annotations

import logging

import typer

from hotline.dashboards.cli import app as dashboard_app
from hotline.errors import HotlineError
from hotline.infra.cli import app as stack_app
from hotline.producers.gateway.cli import app as serve_app
from hotline.producers.queue_log.cli import app as ingest_app
from hotline.producers.simulator.cli import simulate_command
from hotline.regions_cli import centers_app, regions_app
from hotline.reports.cli import quality_app, report_app
from hotline.settings import load_settings
from hotline.sinks.cli import app as db_app
from hotline.sinks.sink_cli import register as register_sink_commands
from hotline.streams.cli import app as streams_app

# Client libraries that log every connection at INFO; their warnings still show.
_CHATTY_LIBRARIES = ("kafka", "aiokafka", "clickhouse_driver", "faust", "mode")

app = typer.Typer(
    name="hotline",
    help="Analytics federation for the 12333 hotline: local stack, producers, streams, "
    "ClickHouse sink, dashboards and reports.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def _root(
    ctx: typer.Context,
    verbose: bool = typer.Option(False, "--verbose", "-v", help="log at DEBUG level"),
) -> None:
    settings = load_settings()
    logging.basicConfig(
        level=logging.DEBUG if verbose else settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not verbose:
        for chatty in _CHATTY_LIBRARIES:
            logging.getLogger(chatty).setLevel(logging.WARNING)
    ctx.obj = settings


app.add_typer(stack_app, name="stack")
app.add_typer(db_app, name="db")
app.add_typer(regions_app, name="regions")
app.add_typer(centers_app, name="centers")
app.add_typer(ingest_app, name="ingest")
app.add_typer(serve_app, name="serve")
app.add_typer(streams_app, name="streams")
app.add_typer(quality_app, name="quality")
app.add_typer(report_app, name="report")
app.add_typer(dashboard_app, name="dashboard")
app.command("simulate")(simulate_command)
register_sink_commands(app)  # hotline sink, hotline sql


def main() -> None:
    """Entry point of the ``hotline`` console script: hotline's own errors print one line."""
    try:
        app()
    except HotlineError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise SystemExit(1) from exc
