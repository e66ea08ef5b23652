"""The ``hotline`` command. Each area adds its own sub-command group here."""

from __future__ import annotations

import logging

import typer

from hotline.dashboards.cli import app as dashboard_app
from hotline.errors import HotlineError, explained
from hotline.health_cli import health_command
from hotline.infra.cli import app as stack_app
from hotline.producers.gateway.cli import app as serve_app
from hotline.producers.queue_log.cli import app as ingest_app
from hotline.producers.simulator.cli import simulate_command
from hotline.regions_cli import centers_app, regions_app
from hotline.reports.cli import quality_app, report_app
from hotline.settings import load_settings
from hotline.sinks.cli import app as db_app
from hotline.sinks.sink_cli import sink_command
from hotline.sinks.sql_cli import sql_command
from hotline.streams.cli import app as streams_app
from hotline.workdays import load_calendar_file

# Client libraries that log every connection at INFO; their warnings still show.
_CHATTY_LIBRARIES = ("kafka", "aiokafka", "clickhouse_driver", "faust", "mode")


def _not_a_failed_connect(record: logging.LogRecord) -> bool:
    return not str(record.msg).startswith("Failed to connect to")


app = typer.Typer(
    name="hotline",
    help="Analytics federation for the 12333 hotline: local stack, producers, streams, "
    "ClickHouse sink, dashboards and reports.\n\n"
    "Settings come from HOTLINE_… environment variables or a .env file in the current "
    "directory, nested groups with __ (HOTLINE_KAFKA__BOOTSTRAP_SERVERS, "
    "HOTLINE_CLICKHOUSE__PORT, HOTLINE_STACK__HOME …); all of them, with defaults: "
    "hotline/settings.py and README, 'Configuration'.",
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
        # clickhouse-driver logs each refused connection at WARNING with its traceback, then
        # raises; hotline turns that error into one line ("… ClickHouse unreachable: …").
        logging.getLogger("clickhouse_driver.connection").addFilter(_not_a_failed_connect)
    if settings.calendar_file is not None:
        load_calendar_file(settings.calendar_file)
    ctx.obj = settings


# --help groups the commands by what they are for.
_RUN, _FEED, _PROCESS, _USE, _REFERENCE = (
    "Run it",
    "Feed events",
    "Process and store",
    "Look at the results",
    "Reference data",
)
app.add_typer(stack_app, name="stack", rich_help_panel=_RUN)
app.add_typer(db_app, name="db", rich_help_panel=_RUN)
app.command("simulate", rich_help_panel=_FEED)(simulate_command)
app.add_typer(ingest_app, name="ingest", rich_help_panel=_FEED)
app.add_typer(serve_app, name="serve", rich_help_panel=_FEED)
app.add_typer(streams_app, name="streams", rich_help_panel=_PROCESS)
app.command("sink", rich_help_panel=_PROCESS)(sink_command)
app.command(
    "health",
    short_help="Is a stream worker or the sink alive: what its status file says.",
    rich_help_panel=_PROCESS,
)(health_command)
app.add_typer(dashboard_app, name="dashboard", rich_help_panel=_USE)
app.command("sql", rich_help_panel=_USE)(sql_command)
app.add_typer(report_app, name="report", rich_help_panel=_USE)
app.add_typer(quality_app, name="quality", rich_help_panel=_USE)
app.add_typer(regions_app, name="regions", rich_help_panel=_REFERENCE)
app.add_typer(centers_app, name="centers", rich_help_panel=_REFERENCE)


def main() -> None:
    """Entry point of the ``hotline`` console script: hotline's own errors print one line."""
    try:
        app()
    except HotlineError as exc:
        typer.echo(f"error: {explained(exc)}", err=True)
        raise SystemExit(1) from exc
