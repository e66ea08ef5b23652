"""The stream processors' configuration: thresholds and the time horizons of docs/streams.md.

One frozen model, passed down from the entry point; the pure core reads nothing else.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field

from hotline.producers.simulator.facts import REPEAT_WINDOW, Thresholds

__all__ = ["StreamsConfig"]


class StreamsConfig(BaseModel):
    """Thresholds (DOMAIN.md defaults) and horizons; every duration is event time."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    short_abandon_ms: int = Field(5_000, ge=0, description="abandoned below this is short")
    service_level_ms: int = Field(30_000, ge=0, description="answered within this is in SL")
    survey_window: timedelta = Field(
        timedelta(minutes=10), description="how long after call.ended a survey is waited for"
    )
    call_horizon: timedelta = Field(
        timedelta(hours=2), description="a call still open this long after offered is closed"
    )
    lateness: timedelta = Field(
        timedelta(minutes=10), description="allowed disorder beyond the call horizon"
    )
    repeat_window: timedelta = Field(REPEAT_WINDOW, description="repeat_7d look-back")
    national_lateness: timedelta = Field(
        timedelta(days=1),
        description="the national roll-up's lateness: provinces may lag each other by hours",
    )

    @property
    def thresholds(self) -> Thresholds:
        """The thresholds in the simulator's (the ledger's) form."""
        return Thresholds(
            service_level_ms=self.service_level_ms, short_abandon_ms=self.short_abandon_ms
        )

    @property
    def retention(self) -> timedelta:
        """How long after its offered minute a call (and its bucket) can still change."""
        return self.call_horizon + self.lateness
