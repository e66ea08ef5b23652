"""``hotline sql "SELECT …"``: run a query as the read-only analyst user and print or save it.

Formats: ``table`` (rich, to the terminal), ``csv``, ``json`` (an array of objects) and
``parquet`` (needs ``--out``). A long query shows the server's progress (rows read of the
estimated total) on stderr, from clickhouse-driver's progress packets.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from hotline.errors import explained
from hotline.settings import Settings
from hotline.sinks.analyst import ANALYST_USER, password_of
from hotline.sinks.client import connect, sql_head, translated_errors
from hotline.sinks.errors import ClickHouseQueryError, ClickHouseUnavailable


class OutputFormat(StrEnum):
    TABLE = "table"
    CSV = "csv"
    JSON = "json"
    PARQUET = "parquet"


Rows = list[tuple[Any, ...]]


def run_query(
    settings: Settings, sql: str, *, user: str, show_progress: bool
) -> tuple[list[str], Rows]:
    """Column names and rows of ``sql``; progress on stderr while the server reads."""
    ch = settings.clickhouse
    client = connect(ch, user=user, password=password_of(ch, user))
    try:
        with translated_errors(sql_head(sql)):
            result = client.execute_with_progress(sql, with_column_types=True)
            if show_progress:
                _follow(result)
            rows, columns = result.get_result()
    finally:
        client.disconnect()
    return [name for name, _type in columns], rows


def _follow(result: Any) -> None:
    console = Console(stderr=True)
    with Progress(
        TextColumn("reading"),
        BarColumn(),
        TextColumn("{task.completed:,.0f} / {task.total:,.0f} rows"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("query", total=None)
        for read_rows, total_rows in result:
            progress.update(task, completed=read_rows, total=total_rows or None)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def render(columns: list[str], rows: Rows, fmt: OutputFormat) -> str:
    """The text form of a result (table, csv or json)."""
    if fmt is OutputFormat.CSV:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([[_plain(v) for v in row] for row in rows])
        return out.getvalue()
    if fmt is OutputFormat.JSON:
        records = [dict(zip(columns, map(_plain, row), strict=True)) for row in rows]
        return json.dumps(records, ensure_ascii=False, indent=1) + "\n"
    table = Table(*columns, show_lines=False)
    for row in rows:
        table.add_row(*("" if v is None else str(_plain(v)) for v in row))
    buffer = io.StringIO()
    Console(file=buffer, width=200, force_terminal=False).print(table)
    return buffer.getvalue()


def write_parquet(columns: list[str], rows: Rows, out: Path) -> None:
    import pandas as pd

    pd.DataFrame.from_records(rows, columns=columns).to_parquet(out, index=False)


def unwritable_reason(out: Path) -> str | None:
    """Why ``out`` cannot be written, or None if it looks writable; checked before a query runs."""
    parent = out.parent if str(out.parent) else Path(".")
    if out.is_dir():
        return "it is a directory"
    if not parent.exists():
        return f"directory {parent} does not exist"
    if not parent.is_dir():
        return f"{parent} is not a directory"
    if out.exists() and not os.access(out, os.W_OK):
        return "permission denied"
    if not out.exists() and not os.access(parent, os.W_OK | os.X_OK):
        return f"permission denied in {parent}"
    return None


def _fail(message: str) -> typer.Exit:
    """Print ``error: message`` on stderr; the caller raises the returned exit (status 1)."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


def sql_command(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help="the SQL to run; '-' reads it from stdin")],
    fmt: Annotated[OutputFormat, typer.Option("--format", "-f", help="output format")] = (
        OutputFormat.TABLE
    ),
    out: Annotated[Path | None, typer.Option("--out", "-o", help="write here, not stdout")] = None,
    user: Annotated[str, typer.Option(help="ClickHouse user (read-only analyst by default)")] = (
        ANALYST_USER
    ),
    progress: Annotated[bool, typer.Option(help="show the server's progress on stderr")] = True,
) -> None:
    """Query ClickHouse as the read-only analyst; print a table or write CSV/JSON/Parquet."""
    settings = ctx.find_root().obj
    if not isinstance(settings, Settings):
        raise typer.BadParameter("settings were not loaded by the root command")
    if query == "-":
        query = sys.stdin.read()
    if fmt is OutputFormat.PARQUET and out is None:
        raise typer.BadParameter("--format parquet needs --out FILE")
    if out is not None and (reason := unwritable_reason(out)) is not None:
        raise _fail(f"cannot write {out}: {reason}")
    try:
        columns, rows = run_query(
            settings, query, user=user, show_progress=progress and sys.stderr.isatty()
        )
    except (ClickHouseQueryError, ClickHouseUnavailable) as exc:
        raise _fail(explained(exc)) from exc
    try:
        if fmt is OutputFormat.PARQUET:
            assert out is not None
            write_parquet(columns, rows, out)
        else:
            text = render(columns, rows, fmt)
            if out is None:
                sys.stdout.write(text)
            else:
                out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise _fail(f"cannot write {out or 'stdout'}: {exc.strerror or exc}") from exc
    if out is not None:
        typer.echo(f"{len(rows)} rows written to {out}", err=True)
