"""The Faust worker's configuration: one frozen model built by the CLI (or a test)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from hotline.schemas.types import MAX_FUTURE_S
from hotline.settings import KafkaSettings
from hotline.streams.config import StreamsConfig

__all__ = ["WorkerConfig"]


class WorkerConfig(BaseModel):
    """Where the worker reads and writes, how it batches and how its watermark moves."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    app_id: str = "hotline-streams"
    kafka: KafkaSettings = KafkaSettings()
    provinces: tuple[str, ...] = Field((), description="provinces served; empty: every one")
    partitions: int = Field(6, ge=1, description="partitions of the internal group topic")
    batch_size: int = Field(
        2000,
        ge=1,
        description="ingest: raw events per batch; they go to the group topic as one message "
        "per group (at most ~256 KB each)",
    )
    batch_within_s: float = Field(
        0.1, gt=0, description="ingest: seconds a batch waits to fill (latency at low rates)"
    )
    group_batch: int = Field(
        8,
        ge=1,
        description="groups: group-topic messages per batch (each a bundle of up to "
        "batch_size events); one state write per changed key and group per batch",
    )
    group_within_s: float = Field(
        0.05, gt=0, description="groups: seconds a batch waits to fill (latency at low rates)"
    )
    tick_s: float = Field(1.0, gt=0, description="period of the watermark timer")
    wall_clock_skew_s: float | None = Field(
        600.0, description="live mode: watermark >= wall clock - skew; None: off (replays)"
    )
    idle_flush_s: float | None = Field(
        None, description="replay mode: a group idle this long is closed (watermark -> end)"
    )
    source_idle_s: float = Field(
        60.0,
        gt=0,
        description="a source partition with unread input that sent nothing this long no "
        "longer holds its group's watermark back",
    )
    stall_s: float | None = Field(
        120.0,
        gt=0,
        description="exit (70) when the groups stage processed nothing this long while its "
        "input waited (a stalled Faust consumer; a restart resumes exactly); None: never",
    )
    max_future_s: float = Field(MAX_FUTURE_S, description="events further ahead are invalid")
    web_port: int | None = Field(None, description="Faust's web server port; None: off")
    web_host: str = Field(
        "127.0.0.1",
        description="the address Faust's web server binds (its views answer from the state table: "
        "keep it off the network)",
    )
    datadir: Path = Field(
        Path(".hotline/streams"),
        description="Faust's data folder (tables' local store); `hotline streams worker` gives "
        "<stack home>/streams unless --datadir says otherwise",
    )
    status_file: Path | None = Field(None, description="JSON status rewritten every tick")
    streams: StreamsConfig = StreamsConfig()
