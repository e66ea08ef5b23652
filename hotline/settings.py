"""Configuration: one frozen pydantic-settings model, read from ``HOTLINE_*`` and ``.env``.

Nested groups use ``__`` in variable names, e.g. ``HOTLINE_KAFKA__BOOTSTRAP_SERVERS``.
Build it once in an entry point (:func:`load_settings`) and pass it down; nothing reads the
environment elsewhere.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from hotline.errors import ConfigurationError


def unset_is_empty(value: object) -> object:
    """A map setting's raw value, ``{}`` for ``""``: compose passes an unset variable as ""
    (``${NAME:-}``; a default of ``{}`` there is cut wrong by docker-compose 1.x)."""
    return {} if value == "" else value


class _Group(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class KafkaSettings(_Group):
    """Where the Kafka cluster is and how topics are laid out."""

    bootstrap_servers: str = "127.0.0.1:9092"
    topic_prefix: str = Field("hotline", description="prefix of every topic name")
    raw_partitions: int = Field(3, ge=1, description="partitions of each province's raw topics")
    shared_partitions: int = Field(6, ge=1, description="partitions of the shared derived topics")
    raw_retention_hours: int = Field(7 * 24, ge=1)
    derived_retention_hours: int = Field(30 * 24, ge=1)


class ClickHouseSettings(_Group):
    """How to reach ClickHouse over the native protocol."""

    host: str = "127.0.0.1"
    port: int = 9000
    http_port: int = 8123
    user: str = "default"
    password: SecretStr = SecretStr("")
    database: str = "hotline"
    analyst_password: SecretStr = Field(
        SecretStr(""), description="password of the read-only `analyst` user"
    )
    dashboard_password: SecretStr = Field(
        SecretStr(""), description="password of the read-only `dashboard` user"
    )
    qa_writer_password: SecretStr = Field(
        SecretStr(""),
        description="password of `qa_writer`, who may only insert quality evaluations "
        "(the dashboard's evaluation form)",
    )
    province_passwords: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="passwords of the per-province `analyst_<code>` users, as JSON "
        '(`{"320000": "…"}`); on a server, users.xml has only the province users given one',
    )

    _unset_is_empty = field_validator("province_passwords", mode="before")(unset_is_empty)


class StackSettings(_Group):
    """The embedded local stack: where it keeps data and logs.

    It listens where the clients look: Kafka on the port of ``kafka.bootstrap_servers``
    (which must then be one ``127.0.0.1:PORT``), ClickHouse on ``clickhouse.port`` and
    ``clickhouse.http_port``.
    """

    home: Path = Path(".hotline")
    kafka_controller_port: int = 9093
    kafka_heap: str = "512m"
    startup_timeout_s: float = 90.0


class PrivacySettings(_Group):
    """The deployment key that turns caller phone numbers into pseudonymous ids."""

    caller_key: SecretStr | None = Field(
        None, description="HMAC key for caller ids; required unless demo mode is on"
    )


class Settings(BaseSettings):
    """All of hotline's settings."""

    model_config = SettingsConfigDict(
        env_prefix="HOTLINE_",
        env_file=".env",
        env_nested_delimiter="__",
        frozen=True,
        extra="ignore",
    )

    demo: bool = Field(False, description="demo mode: allows the built-in demo caller key")
    log_level: str = Field("INFO", description="DEBUG, INFO, WARNING, ERROR or CRITICAL")
    calendar_file: Path | None = Field(
        None,
        description="TOML file with China's official holiday arrangement for years the pinned "
        "chinesecalendar does not cover yet (docs/regions.md, 'Working days')",
    )
    kafka: KafkaSettings = KafkaSettings()
    clickhouse: ClickHouseSettings = ClickHouseSettings()
    stack: StackSettings = StackSettings()
    privacy: PrivacySettings = PrivacySettings()

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        if not isinstance(logging.getLevelName(value.upper()), int):
            raise ValueError(f"unknown level {value!r}: DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return value.upper()


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment and ``.env``; keyword overrides win.

    A value that does not parse is a :class:`ConfigurationError` naming its variable.
    """
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except (ValidationError, SettingsError) as exc:
        raise ConfigurationError(f"settings: {settings_problems(exc)}") from None


def settings_problems(exc: ValidationError | SettingsError) -> str:
    """What is wrong with ``HOTLINE_…`` variables, by variable name; never their values
    (they may be secrets). A nested group whose JSON does not parse is named by its prefix."""
    where = "(in the environment or .env)"
    if isinstance(exc, SettingsError):
        field = re.search(r'field "(\w+)"', str(exc))
        group = f"HOTLINE_{field.group(1).upper()}__…" if field else "a HOTLINE_… variable"
        return f"{group}: a value that takes JSON is not valid JSON ({exc.__cause__}) {where}"
    problems = "; ".join(
        "HOTLINE_" + "__".join(str(part) for part in error["loc"]).upper() + ": " + error["msg"]
        for error in exc.errors()
    )
    return f"{problems} {where}"
