"""``hotline stack``: start, stop and inspect the embedded local stack."""

from __future__ import annotations

import subprocess
import time
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from hotline.infra.base import ServiceStatus, answers
from hotline.infra.provision import provision
from hotline.infra.stack import LocalStack
from hotline.settings import Settings

app = typer.Typer(
    name="stack",
    help="The embedded local stack: a real Kafka broker (KRaft) and a real ClickHouse server "
    "(chdb-core), as child processes with data and logs under HOTLINE_STACK__HOME "
    "(default .hotline/).",
    no_args_is_help=True,
)
console = Console()


def _stack(ctx: typer.Context) -> LocalStack:
    settings: Settings = ctx.obj
    return LocalStack.from_settings(settings)


def _print_status(statuses: list[ServiceStatus]) -> None:
    table = Table("service", "state", "pid", "version", "endpoints")
    for status in statuses:
        state = "[green]running[/]" if status.running else "[red]stopped[/]"
        endpoints = "  ".join(f"{k}={v}" for k, v in status.endpoints.items())
        table.add_row(status.name, state, str(status.pid or "-"), status.version or "-", endpoints)
    console.print(table)


@app.command()
def up(
    ctx: typer.Context,
    init_: Annotated[
        bool, typer.Option("--init/--no-init", help="also create topics and apply migrations")
    ] = True,
) -> None:
    """Start Kafka and ClickHouse (what already runs is left alone) and wait until both answer.

    Then provision topics and the ClickHouse schema, as `hotline stack init` does. The first run resolves the Kafka jars from Maven Central, which takes a minute.
    """  # noqa: E501 -- one line per paragraph, as --help wraps it
    stack = _stack(ctx)
    started = time.monotonic()
    with console.status("starting Kafka and ClickHouse …"):
        statuses = stack.up()
    console.print(f"stack up in {time.monotonic() - started:.1f} s")
    _print_status(statuses)
    if init_:
        init(ctx)


@app.command()
def init(ctx: typer.Context) -> None:
    """Create the missing Kafka topics and apply pending ClickHouse migrations (idempotent).

    Uses the Kafka and ClickHouse that the settings name, embedded or not.
    """
    result = provision(ctx.obj)
    console.print(
        f"topics: {len(result.topics.created)} created, {len(result.topics.existing)} already "
        f"there; migrations applied: {', '.join(result.migrations) or 'none pending'}"
    )


@app.command()
def down(ctx: typer.Context) -> None:
    """Stop both services cleanly; their data stays for the next `up`."""
    _stack(ctx).down()
    console.print("stack stopped")


@app.command()
def status(ctx: typer.Context) -> None:
    """Show each service: running or not, pid, version, where it listens.

    It looks at the stack home of the settings (HOTLINE_STACK__HOME, default .hotline/ under the current directory); a service not started from there whose port answers is said so.
    """  # noqa: E501 -- one line per paragraph, as --help wraps it
    stack = _stack(ctx)
    statuses = stack.status()
    console.print(f"stack home: {stack.home}", highlight=False)
    _print_status(statuses)
    ports = stack.ports()
    for status in statuses:
        main = ports[status.name][0]
        if not status.running and answers(main.number):
            console.print(
                f"{status.name}: not started from {stack.home}, but something answers on port "
                f"{main.number}",
                highlight=False,
            )
    if not all(s.running for s in statuses):
        raise typer.Exit(3)


@app.command()
def logs(
    ctx: typer.Context,
    service: Annotated[str, typer.Argument(help="kafka or clickhouse")],
    lines: Annotated[int, typer.Option("--lines", "-n", min=0, help="how many last lines")] = 50,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="keep printing new lines")] = False,
) -> None:
    """Print the last lines of a service's log (and follow it with -f)."""
    files = _stack(ctx).log_files()
    if service not in files:
        raise typer.BadParameter(f"unknown service {service!r}; choose from {sorted(files)}")
    path = files[service]
    if not path.exists():
        console.print(f"{path} does not exist yet: {service} has not run here")
        raise typer.Exit(1)
    command = ["tail", f"-n{lines}", *(["-F"] if follow else []), str(path)]
    raise typer.Exit(subprocess.call(command))
