"""``hotline sink`` (derived topics → ClickHouse) and ``hotline sql`` (analyst queries)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hotline.option_errors import options_checked
from hotline.settings import Settings
from hotline.sinks.sink import Sink, SinkConfig

#: SinkConfig's fields as ``hotline sink`` options, for usage errors.
_OPTIONS = {
    "group_id": "--group",
    "batch_rows": "--batch-rows",
    "max_wait_s": "--max-wait",
    "max_poll_records": "--max-poll-records",
    "progress_every_s": "--progress-every",
}


def _settings(ctx: typer.Context) -> Settings:
    settings = ctx.find_root().obj
    if not isinstance(settings, Settings):
        raise typer.BadParameter("settings were not loaded by the root command")
    return settings


def sink_command(
    ctx: typer.Context,
    group: Annotated[str, typer.Option(help="Kafka consumer group")] = SinkConfig().group_id,
    batch_rows: Annotated[int, typer.Option(help="flush when a table has this many rows")] = (
        SinkConfig().batch_rows
    ),
    max_wait: Annotated[float, typer.Option(help="flush when the oldest row is this old (s)")] = (
        SinkConfig().max_wait_s
    ),
    max_poll_records: Annotated[int, typer.Option(help="records per Kafka poll at most")] = (
        SinkConfig().max_poll_records
    ),
    agent_states: Annotated[
        bool, typer.Option(help="also read the raw agent topics (agent_states, center_occupancy)")
    ] = True,
    progress_every: Annotated[
        float, typer.Option(help="log messages committed and rows written at most this often (s)")
    ] = SinkConfig().progress_every_s,
    status_file: Annotated[
        Path | None,
        typer.Option(
            help="write the counters (messages, committed, rows, dead letters, retries) here as "
            "JSON about once a second, also while ClickHouse is away; read it with hotline health"
        ),
    ] = None,
) -> None:
    """Consume the derived topics into ClickHouse until SIGTERM/SIGINT (flushes, commits)."""
    with options_checked(_OPTIONS):
        config = SinkConfig(
            group_id=group,
            batch_rows=batch_rows,
            max_wait_s=max_wait,
            max_poll_records=max_poll_records,
            agent_states=agent_states,
            progress_every_s=progress_every,
            status_file=status_file,
        )
    sink = Sink(_settings(ctx), config)
    sink.install_signal_handlers()
    stats = sink.run()
    typer.echo(
        f"sink stopped: {stats.messages} messages, {stats.rows} rows in {stats.flushes} "
        f"flushes, {stats.dead_letters} dead letters, {stats.retries} retries"
    )
