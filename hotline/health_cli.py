"""``hotline health``: read the status files of the stream worker and the sink."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hotline.status_file import StatusFileError, describe, read_status


def health_command(
    status_files: Annotated[
        list[Path],
        typer.Argument(
            metavar="STATUS_FILE",
            help="the --status-file of `hotline streams worker` or `hotline sink` (with "
            "--workers N: each child's, <stem>-<i>.json)",
            show_default=False,
        ),
    ],
    max_age: Annotated[
        float,
        typer.Option(
            "--max-age",
            min=0.001,
            help="a file written longer ago than this (seconds) means its process is hung or "
            "dead (both write theirs about once a second)",
        ),
    ] = 60.0,
) -> None:
    """Is a stream worker or the sink alive: what its status file says. Prints the counters,
    the file's age and, for a worker, its groups with their watermark, partitions behind and
    centers with no event for 15 min before it, that it is starting or rebalancing, or how
    far it is while it recovers its state. Exit 1
    with one line naming the file when it is missing, unreadable or older than --max-age:
    docker-compose.yml's healthchecks of `streams` and `sink` run this."""
    failed = False
    for path in status_files:
        try:
            status = read_status(path, max_age)
        except StatusFileError as exc:
            typer.echo(f"error: {exc}", err=True)
            failed = True
            continue
        typer.echo("\n".join(describe(status)))
    if failed:
        raise typer.Exit(1)
