"""The dashboard's own settings: where its files live, how long a login lasts and how many
failed logins it takes before ``POST /api/login`` answers 429.

Built from :class:`hotline.settings.Settings` (:meth:`DashboardConfig.from_settings`): the
users file and the acknowledgements database live under ``<stack.home>/dashboard/``.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from hotline.settings import Settings

DASHBOARD_USER = "dashboard"  # the read-only ClickHouse user (infra/clickhouse_users.py)


class DashboardConfig(BaseModel):
    """Where the dashboard keeps its users and acknowledgements; session lifetime; login
    throttling (:mod:`.throttle`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    home: Path = Field(description="folder of users.json and acks.sqlite")
    session_ttl_s: int = Field(8 * 3600, ge=60, description="a login expires after this")
    secure_cookies: bool = Field(False, description="mark the session cookie Secure (HTTPS)")
    live_minutes: int = Field(60, ge=5, le=24 * 60, description="window of the live view")
    query_timeout_s: int = Field(
        30, ge=1, le=50, description="ClickHouse stops a dashboard query after this (503)"
    )
    login_failures_per_user: int = Field(
        5, ge=1, description="failed logins of one user name within the window before 429"
    )
    login_failures_per_client: int = Field(
        20, ge=1, description="failed logins from one client address within the window before 429"
    )
    login_window_s: int = Field(
        300, ge=1, le=24 * 3600, description="sliding window of the failed-login counts"
    )

    @property
    def users_file(self) -> Path:
        return self.home / "users.json"

    @property
    def acks_file(self) -> Path:
        return self.home / "acks.sqlite"

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: object) -> DashboardConfig:
        values: dict[str, object] = {"home": settings.stack.home / "dashboard"}
        values.update(overrides)
        return cls.model_validate(values)
