"""``hotline ingest …``: feed center logs into hotline (``queue-log``, ``queue-log-sample``)."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from hotline.errors import ConfigurationError
from hotline.privacy import CallerHasher
from hotline.producers.base import DeliveryConfig
from hotline.producers.delivery import KafkaEventSink
from hotline.producers.queue_log.ingest import (
    IngestSummary,
    QueueLogIngestor,
    default_paths,
    producer_id_for,
)
from hotline.producers.queue_log.mapping import load_mapping
from hotline.producers.queue_log.sample import SAMPLE_MAPPING, write_sample
from hotline.producers.queue_log.sinks import JsonlAppendSink
from hotline.producers.simulator.sinks import EventSink
from hotline.settings import Settings, load_settings

__all__ = ["app"]

app = typer.Typer(
    help="Feed center logs into hotline (Asterisk queue_log, sample generator).",
    no_args_is_help=True,
)

#: Bad lines listed per reason in the summary (all are in the dead-letter file).
SHOW_LINES = 10


def _settings(ctx: typer.Context) -> Settings:
    return ctx.obj if isinstance(ctx.obj, Settings) else load_settings()


def _kafka_sink(settings: Settings, producer_id: str) -> KafkaEventSink:
    return KafkaEventSink(DeliveryConfig.from_settings(settings), producer_id)


def summary_table(summary: IngestSummary, stopped_by: str | None = None) -> Table:
    """The closing summary of a run; ``stopped_by`` names the signal that ended it early."""
    table = Table(title=f"queue_log → {summary.producer_id}", show_header=False)
    table.add_column("what")
    table.add_column("value", overflow="fold")
    if summary.resumed_after_line:
        table.add_row("resumed after line", f"{summary.resumed_after_line:,}")
    table.add_row("lines read", f"{summary.lines:,}")
    table.add_row("events", f"{summary.events:,}")
    for kind, count in sorted(summary.events_by_type.items()):
        table.add_row(f"  {kind}", f"{count:,}")
    table.add_row("bad lines", f"{len(summary.bad):,}")
    for reason, count in summary.bad_by_reason.most_common():
        lines = [str(b.line) for b in summary.bad if b.reason == reason][:SHOW_LINES]
        more = " …" if count > SHOW_LINES else ""
        table.add_row(f"  {reason}", f"{count:,} (lines {', '.join(lines)}{more})")
    for warning, count in summary.warnings.most_common():
        table.add_row(f"warning: {warning}", f"{count:,}")
    for note in summary.notes:
        table.add_row("note", note)
    if stopped_by is not None:
        unread = f"{summary.pending_bytes:,} bytes not read yet; " if summary.pending_bytes else ""
        table.add_row(f"stopped ({stopped_by})", f"{unread}the same command goes on from here")
    elif summary.pending_bytes:
        table.add_row("unfinished last line", f"{summary.pending_bytes} bytes, left for next run")
    table.add_row("wall time", f"{summary.wall_seconds:.2f} s")
    table.add_row("events/s", f"{summary.events_per_second:,.0f}")
    return table


@app.command("queue-log")
def queue_log_command(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="the Asterisk queue_log file")],
    mapping: Annotated[
        Path,
        typer.Option(
            "--mapping",
            "-m",
            help="TOML: queues → business lines, center, region, timezone, "
            "PAUSE reasons (docs/queue_log.md)",
        ),
    ],
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="keep reading as the file grows (tail -F)")
    ] = False,
    out: Annotated[
        Path | None,
        typer.Option(help="append events as JSON lines here (default under the stack home)"),
    ] = None,
    kafka: Annotated[
        bool, typer.Option("--kafka", help="deliver to Kafka (acks=all, spool on outage)")
    ] = False,
    state: Annotated[
        Path | None, typer.Option(help="resume state file (default <stack home>/queue_log/…)")
    ] = None,
    dead_letter: Annotated[
        Path | None,
        typer.Option(
            help="dead-letter file for bad lines, masked (default <stack home>/queue_log/…)"
        ),
    ] = None,
    producer_id: Annotated[
        str | None, typer.Option(help="producer id (default ql.<center>.<file name>)")
    ] = None,
    checkpoint_lines: Annotated[
        int, typer.Option(help="flush the sink and save the position every N lines")
    ] = 1000,
    poll: Annotated[float, typer.Option(help="seconds between checks when following")] = 0.2,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bar")] = False,
) -> None:
    """Replay or follow an Asterisk queue_log into hotline's call and agent-state events.

    Caller numbers are hashed before anything is emitted or logged. Bad lines are counted, listed in the summary with their line numbers and written (masked) to the dead-letter file; they never stop the run. A restart continues after the last delivered line (same event ids on replay), first reading what is left of the log's rotated files (queue_log.2, queue_log-20250303, … and their compressed copies .gz, .bz2, .xz, .zst), oldest first.

    Ctrl-C or SIGTERM stops cleanly after the current line: what was read is delivered and its position saved, so the same command goes on from there. A replay (no --follow) stopped early exits 130 (Ctrl-C) or 143 (SIGTERM); --follow exits 0.
    """  # noqa: E501 -- one line per paragraph, as --help wraps it
    settings = _settings(ctx)
    if out is not None and kafka:
        raise typer.BadParameter("choose --out or --kafka, not both")
    the_mapping = load_mapping(mapping)
    hasher = CallerHasher.from_settings(settings)
    pid = producer_id or the_mapping.producer_id or producer_id_for(the_mapping.center, file)
    state_default, dead_default = default_paths(settings.stack.home, pid)
    sink: EventSink
    delivery: KafkaEventSink | None = None
    if kafka:
        sink = delivery = _kafka_sink(settings, pid)
        target = "Kafka"
    else:
        out = out or settings.stack.home / "queue_log" / f"{pid}.events.jsonl"
        sink = JsonlAppendSink(out)
        target = str(out)
    console = Console(stderr=True)
    stopped_by: signal.Signals | None = None

    def _stop() -> bool:
        return stopped_by is not None

    def _on_signal(signum: int, frame: object) -> None:
        nonlocal stopped_by
        if stopped_by is not None:
            raise KeyboardInterrupt
        stopped_by = signal.Signals(signum)
        console.print(f"{stopped_by.name}: stopping after the current line (again to abort)")

    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with Progress(
            TextColumn(f"{file.name} → {target}"), BarColumn(), DownloadColumn(),
            TimeElapsedColumn(), console=console, disable=quiet,
        ) as bar:  # fmt: skip
            task = bar.add_task("read", total=None)
            ingestor = QueueLogIngestor(
                file, the_mapping, sink, hasher,
                state_path=state or state_default,
                dead_letter_path=dead_letter or dead_default,
                producer_id=pid,
                checkpoint_lines=checkpoint_lines,
                poll_interval=poll,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )  # fmt: skip
            summary = ingestor.run(follow=follow, stop=_stop)
    except FileNotFoundError as exc:
        raise ConfigurationError(
            f"{exc.filename}: no such file; check the path, or --follow waits for it"
        ) from None
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    console.print(summary_table(summary, stopped_by.name if stopped_by else None))
    console.print(f"events: {target}; state: {ingestor.state_path}", highlight=False)
    if delivery is not None:
        console.print(delivery.delivered(), highlight=False)
    if summary.bad:
        console.print(f"dead letters: {ingestor.dead_letter_path}", highlight=False)
    if stopped_by is not None and not follow:  # a replay cut short is not done
        raise typer.Exit(128 + stopped_by)


@app.command("queue-log-sample")
def queue_log_sample_command(
    out: Annotated[Path, typer.Argument(help="where to write the sample queue_log")],
    calls: Annotated[int, typer.Option(min=15, help="number of calls")] = 200,
    seed: Annotated[int, typer.Option(help="random seed: same seed, same bytes")] = 12333,
    mapping_out: Annotated[
        Path | None, typer.Option(help="write the matching mapping file (default OUT.toml)")
    ] = None,
) -> None:
    """Write a realistic synthetic queue_log covering every event type, and its mapping.

    Caller numbers are obviously synthetic (170-0000-xxxx mobiles, 025-5550-xxxx landlines).
    """
    stats = write_sample(out, seed=seed, calls=calls)
    mapping_path = mapping_out or out.with_name(out.name + ".toml")
    mapping_path.write_text(SAMPLE_MAPPING, encoding="utf-8")
    typer.echo(f"wrote {out} ({stats.lines} lines, {stats.calls} calls) and {mapping_path}")
    typer.echo(f"next: hotline ingest queue-log {out} --mapping {mapping_path}")
