"""The stream processors' configuration: thresholds and the time horizons of docs/streams.md.

One frozen model, passed down from the entry point; the pure core reads nothing else. The
worker reads it from the environment (:func:`streams_config_from_env`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from functools import cached_property
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from hotline.centers import default_centers
from hotline.errors import ConfigurationError
from hotline.producers.simulator.facts import REPEAT_WINDOW, Thresholds
from hotline.producers.simulator.ledger import MAX_AGENT_STATE
from hotline.regions import check_provinces
from hotline.schemas import TicketCategory
from hotline.schemas.types import UINT32_MAX
from hotline.service_hours import ServiceHours, parse_service_hours
from hotline.settings import settings_problems, unset_is_empty

__all__ = [
    "AlertsConfig",
    "CenterHours",
    "RateThresholds",
    "StreamsConfig",
    "streams_config_from_env",
]


class RateThresholds(BaseModel):
    """A province's alert thresholds: below these (over ``rate_period``) raises an alert."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    connection: float = Field(0.90, ge=0, le=1, description="connection rate answered/queued")
    service_level: float = Field(
        0.80, ge=0, le=1, description="answered_in_sl / (queued - short_abandoned)"
    )


class CenterHours(BaseModel):
    """A center's human-service hours (China time): when it answers calls."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    hours: str = Field(description="windows HH:MM-HH:MM[,HH:MM-HH:MM…], e.g. 08:30-17:30")
    days: Literal["working", "every"] = Field(
        "working", description="on China's working days (with 调休) or every day"
    )

    @field_validator("hours")
    @classmethod
    def _windows(cls, value: str) -> str:
        try:
            parse_service_hours(value)
        except ConfigurationError as exc:
            raise ValueError(str(exc)) from None
        return value

    @cached_property
    def windows(self) -> ServiceHours:
        return parse_service_hours(self.hours)


class AlertsConfig(BaseModel):
    """Alert rules (docs/streams.md, "Alerts"); durations are event time unless noted."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    settle: timedelta = Field(
        timedelta(minutes=5),
        description="windows end this far behind the watermark (calls still in progress)",
    )
    rate_period: timedelta = Field(timedelta(minutes=15), description="sliding window")
    rate_min_queued: int = Field(20, ge=1, description="fewer queued calls: no rate alert")
    rates: RateThresholds = RateThresholds()
    province_rates: dict[str, RateThresholds] = Field(
        default_factory=dict,
        description="per-province thresholds (province code → rates); unset fields: `rates`",
    )
    rate_margin: float = Field(
        0.03, ge=0, description="close at threshold + margin (at most halfway to 100 %)"
    )
    rate_hold: timedelta = Field(
        timedelta(minutes=10), description="... for this long (hysteresis)"
    )
    unreachable_period: timedelta = Field(
        timedelta(minutes=10), description="queued calls and none answered for this long"
    )
    unreachable_min_queued: int = Field(3, ge=1)
    unreachable_hold: timedelta = Field(timedelta(minutes=10))
    due_warning_working_hours: float = Field(
        4.0, gt=0, description="warn when less working time than this is left"
    )
    due_categories: tuple[TicketCategory, ...] = (TicketCategory.COMPLAINT,)
    dead_letters_per_minute: int = Field(
        50, ge=0, description="more per minute and province (broker time) raises an alert"
    )
    dead_letter_hold: timedelta = Field(timedelta(minutes=5), description="wall-clock time")
    gap_quiet: timedelta = Field(
        timedelta(minutes=30), description="a gap episode ends after this long without gaps"
    )
    service_hours: dict[str, CenterHours] = Field(
        default_factory=dict,
        description="center id, or province code for all its centers → its service hours "
        "(a center's own entry wins); none: no silence alert, and queued calls count any time",
    )
    silent_period: timedelta = Field(
        timedelta(minutes=30),
        description="a center with service hours that sends no call for this long within "
        "them is unreachable",
    )

    _unset_is_empty = field_validator("province_rates", "service_hours", mode="before")(
        unset_is_empty
    )

    @field_validator("service_hours")
    @classmethod
    def _center_or_province_keys(cls, value: dict[str, CenterHours]) -> dict[str, CenterHours]:
        """Each key a center id of the registry or a province code (a typo would never apply)."""
        centers = default_centers()
        provinces = [key for key in value if key not in centers]
        wrong = [key for key in provinces if not key.isdigit()]
        if wrong:
            raise ValueError(
                f"unknown center {wrong[0]} (a center id such as C320100, or a province code)"
            )
        for key in provinces:
            try:
                check_provinces([key])
            except ConfigurationError as exc:
                hint = f"; its center is C{key}" if f"C{key}" in centers else ""
                raise ValueError(f"{exc}{hint}") from None
        return value

    @field_validator("province_rates")
    @classmethod
    def _province_codes_inheriting_rates(
        cls, value: dict[str, RateThresholds], info: ValidationInfo
    ) -> dict[str, RateThresholds]:
        """Each key a province code of the region registry (a city's code, a typo or a name
        would never apply); a field a province does not set is the global ``rates``' one."""
        if not value:
            return value  # (no registry to load)
        try:
            check_provinces(value)
        except ConfigurationError as exc:
            raise ValueError(str(exc)) from None
        rates = info.data.get("rates")  # absent if itself wrong (reported on its own)
        if rates is None:
            return value
        return {
            code: rates.model_copy(update=own.model_dump(exclude_unset=True))
            for code, own in value.items()
        }

    def hours_of(self, province: str, centers: Iterable[str]) -> dict[str, CenterHours]:
        """The service hours of each of ``centers`` (of ``province``) that has some: its own
        entry, else its province's."""
        found = {c: self.service_hours.get(c) or self.service_hours.get(province) for c in centers}
        return {center: hours for center, hours in found.items() if hours is not None}

    def rates_of(self, province: str) -> RateThresholds:
        return self.province_rates.get(province, self.rates)

    def rate_close(self, threshold: float) -> float:
        """The rate at or above which a rate alert may close: ``threshold + rate_margin``, but
        at most halfway from the threshold to 1, so that it stays reachable (a 0.97 target
        closes at 0.985, not at 1.00) and above the threshold (hysteresis) unless that is 1."""
        return min(threshold + self.rate_margin, (threshold + 1) / 2)


class StreamsConfig(BaseModel):
    """Thresholds (DOMAIN.md defaults) and horizons; every duration is event time."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # every call record carries both; the warehouse keeps them as UInt32
    short_abandon_ms: int = Field(
        5_000, ge=0, le=UINT32_MAX, description="abandoned below this is short"
    )
    service_level_ms: int = Field(
        30_000, ge=0, le=UINT32_MAX, description="answered within this is in SL"
    )
    call_horizon: timedelta = Field(
        timedelta(hours=2), description="a call still open this long after offered is closed"
    )
    lateness: timedelta = Field(
        timedelta(minutes=10), description="allowed disorder beyond the call horizon"
    )
    repeat_window: timedelta = Field(REPEAT_WINDOW, description="repeat_7d look-back")
    ticket_retention: timedelta = Field(
        timedelta(days=7),
        description="a resolved or closed ticket is forgotten this long after its last event",
    )
    max_agent_state: timedelta = Field(
        MAX_AGENT_STATE,
        gt=timedelta(0),
        description="one agent state counts at most this long (a lost logout), then logged "
        "out until the agent's next event; the ClickHouse agent_time view's cap",
    )
    alerts: AlertsConfig = AlertsConfig()
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


class _Environment(BaseSettings):
    """``HOTLINE_STREAMS__…`` variables (or ``.env``), nested with ``__``."""

    model_config = SettingsConfigDict(
        env_prefix="HOTLINE_", env_file=".env", env_nested_delimiter="__", extra="ignore"
    )

    streams: StreamsConfig = StreamsConfig()


def streams_config_from_env() -> StreamsConfig:
    """The thresholds and horizons set in the environment, defaults for the rest, e.g.
    ``HOTLINE_STREAMS__SERVICE_LEVEL_MS=20000``, ``HOTLINE_STREAMS__LATENESS=PT30M`` and
    ``HOTLINE_STREAMS__ALERTS__PROVINCE_RATES='{"320000": {"connection": 0.85}}'``. A wrong
    value or an unknown name is a :class:`ConfigurationError` naming the variable."""
    try:
        return _Environment().streams
    except (ValidationError, SettingsError) as exc:
        raise ConfigurationError(f"streams settings: {settings_problems(exc)}") from None
