"""``hotline db``: ClickHouse migrations and the users.xml both servers share."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from hotline.errors import HotlineError, explained
from hotline.infra.clickhouse_users import ANYWHERE, UsersConfig, write_users_xml
from hotline.settings import Settings
from hotline.sinks import migrate as migrations
from hotline.sinks.client import connect
from hotline.sinks.dead_letter_redaction import Redaction, redact_stored

app = typer.Typer(name="db", help="ClickHouse schema migrations and users.", no_args_is_help=True)
_PROGRESS_EVERY_S = 5.0


def _settings(ctx: typer.Context) -> Settings:
    settings = ctx.find_root().obj
    if not isinstance(settings, Settings):
        raise typer.BadParameter("settings were not loaded by the root command")
    return settings


@app.command("migrate")
def migrate_command(ctx: typer.Context) -> None:
    """Apply the pending migrations to settings.clickhouse.database."""
    settings = _settings(ctx)
    database = settings.clickhouse.database
    client = connect(settings.clickhouse, database="default")
    try:
        applied = migrations.migrate(client, database)
    except HotlineError as exc:
        typer.echo(f"error: {explained(exc)}", err=True)
        raise typer.Exit(1) from exc
    finally:
        client.disconnect()
    for migration in applied:
        typer.echo(f"applied {migration.filename}")
    typer.echo(f"{database}: {len(applied)} migration(s) applied, schema up to date")


@app.command("status")
def status_command(ctx: typer.Context) -> None:
    """List the migrations and when each was applied (read-only: creates nothing).

    Exit code 3 when the database does not exist yet.
    """
    settings = _settings(ctx)
    database = settings.clickhouse.database
    client = connect(settings.clickhouse, database="default")
    try:
        exists = migrations.database_exists(client, database)
        rows = migrations.status(client, database)
    except HotlineError as exc:
        typer.echo(f"error: {explained(exc)}", err=True)
        raise typer.Exit(1) from exc
    finally:
        client.disconnect()
    for row in rows:
        when = row.applied_at.isoformat(timespec="seconds") if row.applied_at else "pending"
        typer.echo(f"{row.version:04d}  {row.name:<40}  {when}")
    if not exists:
        typer.echo(f"database {database} does not exist yet: run hotline db migrate")
        raise typer.Exit(3)


@app.command(
    "redact-dead-letters",
    short_help="Mask phone numbers in dead letters stored before today's masking rules.",
)
def redact_dead_letters_command(
    ctx: typer.Context,
    page: Annotated[
        int, typer.Option("--page", min=1, help="rows read and rewritten per query")
    ] = 1000,
) -> None:
    """Mask phone numbers in the dead letters stored before today's masking rules: the worker
    and the sink mask a possible phone number in a dead letter's original bytes and error text
    before they write it (docs/privacy.md, "Dead letters"), but rows stored before a rule
    existed keep it in clear. This reads every row of dead_letters, rewrites those the rules
    mask today (the original masked in place, the detail saying so) and merges the table so
    that no copy in clear is left. Re-runnable; prints its progress."""
    settings = _settings(ctx)
    database = settings.clickhouse.database
    client = connect(settings.clickhouse, database="default")
    said = [time.monotonic()]

    def progress(done: Redaction) -> None:
        if time.monotonic() - said[0] >= _PROGRESS_EVERY_S:
            said[0] = time.monotonic()
            typer.echo(f"read {done.read:,} dead letters, masked {done.masked:,} …")

    try:
        if not migrations.database_exists(client, database):
            typer.echo(
                f"error: database {database} does not exist: run hotline db migrate", err=True
            )
            raise typer.Exit(1)
        done = redact_stored(client, database, page, progress)
    except HotlineError as exc:
        typer.echo(f"error: {explained(exc)}", err=True)
        raise typer.Exit(1) from exc
    finally:
        client.disconnect()
    typer.echo(
        f"{database}.dead_letters: read {done.read:,} dead letters, masked {done.masked:,}"
        + (" (table merged: no copy in clear left)" if done.masked else "")
    )


@app.command("users-xml")
def users_xml_command(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", help="where to write users.xml")],
    network: Annotated[
        list[str] | None,
        typer.Option("--network", help="networks users may connect from (repeatable)"),
    ] = None,
    owner: Annotated[
        str | None,
        typer.Option(
            "--owner",
            metavar="UID:GID",
            help="give the file (mode 0600) to the account clickhouse-server runs as, e.g. "
            "101:101 in the clickhouse/clickhouse-server image (default: the writer's)",
        ),
    ] = None,
) -> None:
    """Write the users.xml of clickhouse-server (compose mounts it into users.d/)."""
    ids = _owner(owner) if owner is not None else None
    config = UsersConfig.from_settings(_settings(ctx), networks=tuple(network or ANYWHERE))
    try:
        config.check_exposure()
    except HotlineError as exc:
        typer.echo(f"error: {explained(exc)}", err=True)
        raise typer.Exit(1) from exc
    write_users_xml(config, out, owner=ids)
    typer.echo(f"wrote {out}")


def _owner(value: str) -> tuple[int, int]:
    uid, sep, gid = value.partition(":")
    if not (sep and uid.isdigit() and gid.isdigit()):
        raise typer.BadParameter(
            f"{value!r}: give numeric UID:GID, e.g. 101:101", param_hint="--owner"
        )
    return int(uid), int(gid)
