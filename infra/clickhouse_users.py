"""ClickHouse users as the project defines them, rendered to one ``users.xml``.

The embedded engine has no writable access storage, so SQL ``CREATE USER`` / ``CREATE ROW
POLICY`` fail there; users.xml users, readonly profiles, grants and row filters are enforced by
both the embedded server and ``clickhouse-server`` (compose mounts the same file into
``/etc/clickhouse-server/users.d/``). Users:

- the admin (``settings.clickhouse.user``, usually ``default``): everything;
- ``analyst``: read-only, every province, every table of the project database;
- ``dashboard``: read-only, the same tables (Grafana's user);
- ``qa_writer``: may only insert into ``qa_evaluations`` (the dashboard's evaluation form), so
  the web app holds no credentials that could change or read anything else;
- ``analyst_<province code>``: read-only, only the :data:`FILTERED_TABLES`, each with a row
  filter ``<province column> = '<code>'``. Tables not listed are not granted at all, so a new
  table stays invisible to scoped users until it is listed here with its province column.
  A row filter hides rows, not what the engine knows of them, so scoped users also lose what
  counts every province's rows: the :data:`POSITION_COLUMNS` of each table (revoked), and the
  project database's storage tables in ``system.tables`` (row counts and sizes) and its
  columns in ``system.columns`` (sizes) — the two system tables every user may read
  (:data:`SYSTEM_FILTERS`).

Passwords are written as SHA-256 hashes, never in clear. Every user element carries
``replace="replace"``, so the file works both as the embedded server's whole users.xml and as
an overlay in clickhouse-server's ``users.d/``.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from hotline.errors import ConfigurationError
from hotline.regions import default_registry
from hotline.settings import Settings

LOOPBACK: tuple[str, ...] = ("127.0.0.1", "::1")
QA_WRITER = "qa_writer"
ANYWHERE: tuple[str, ...] = ("::/0",)
# The settings read-only users may still send with a query: the query timeout that Grafana's
# ClickHouse datasource sets on every query (see render_users_xml). It only bounds the user's
# own query (the profile sets no limit of its own); other settings, readonly itself included,
# stay refused as readonly=1 has them.
READONLY_CHANGEABLE: tuple[str, ...] = ("max_execution_time",)

# MergeTree virtual columns that count rows the row filter hides: the position of a row in its
# part (a province whose rows sort after another's starts at that province's row count), and
# the insert blocks of every province. Revoked from scoped users on every table they may read.
POSITION_COLUMNS: tuple[str, ...] = (
    "_part",
    "_part_index",
    "_part_offset",
    "_part_starting_offset",
    "_part_granule_offset",
    "_part_data_version",
    "_block_number",
    "_block_offset",
)
# Rows of the system tables every user may read (no grant needed) that a scoped user does not
# see: ``system.tables`` lists no table of the project database that reports a row count
# (``total_rows``, ``total_bytes``, ``parts``: every province's together; views report NULL and
# stay listed), ``system.columns`` nothing of it (column sizes). ``{db}``: the database.
# DESCRIBE TABLE still shows a table's columns.
SYSTEM_FILTERS: dict[str, str] = {
    "tables": "database != '{db}' OR total_rows IS NULL",
    "columns": "database != '{db}'",
}

# One scoped user per provincial unit of the region registry (incl. the Corps, 660000).
PROVINCE_CODES: tuple[str, ...] = tuple(region.code for region in default_registry().provinces())

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FilteredTable(_Model):
    """A table that scoped users may read, only the rows of their province."""

    name: str
    province_column: str = "province_code"

    @field_validator("name", "province_column")
    @classmethod
    def _identifier(cls, value: str) -> str:
        if not _IDENTIFIER.match(value):
            raise ValueError(f"not a plain identifier: {value!r}")
        return value


# The tables and views per-province users can read (sinks/migrations/0002…0011), each with
# its province column. A new table or view with region-level rows is listed here, or scoped
# users cannot read it at all.
FILTERED_TABLES: tuple[FilteredTable, ...] = tuple(
    FilteredTable(name=name)
    for name in (
        # facts (0002)
        "call_records",
        "tickets",
        "ticket_history",
        "agent_states",
        "alerts",
        "sequence_gaps",
        "dead_letters",
        # snapshots and rollups (0003)
        "metric_minute",
        "metric_hour",
        "metric_day",
        "metric_month",
        # analyst views (0004)
        "metric_counters",
        "metric_rates",
        "center_rates",
        "agent_time",
        "center_occupancy",
        "ticket_rates",
        "ticket_backlog",
        # per-grain analyst views (0009)
        *(f"metric_counters_{grain}" for grain in ("minute", "hour", "day", "month", "year")),
        *(f"metric_rates_{grain}" for grain in ("minute", "hour", "day", "month", "year")),
        # quality monitoring (0005)
        "qa_evaluations",
        "qa_center_coverage",
        "qa_live_unreachable_days",
        # the live queue (0008)
        "queue_now",
        # agent time per minute and occupancy per region and day (0010)
        "agent_minute",
        "region_occupancy",
        # ticket counts per minute and per region, day and category (0011)
        "ticket_minute",
        "region_ticket_rates",
    )
)


class ProvinceUser(_Model):
    """A read-only user scoped to one province by row filters."""

    province_code: str = Field(pattern=r"^\d{2}0000$")
    password: SecretStr = SecretStr("")

    @property
    def name(self) -> str:
        return f"analyst_{self.province_code}"

    @classmethod
    def of(cls, province_code: str) -> ProvinceUser:
        return cls(province_code=province_code)


class UsersConfig(_Model):
    """Everything users.xml is generated from; build it with :meth:`from_settings`."""

    database: str = "hotline"
    admin_user: str = "default"
    admin_password: SecretStr = SecretStr("")
    analyst_password: SecretStr = SecretStr("")
    dashboard_password: SecretStr = SecretStr("")
    qa_writer_password: SecretStr = SecretStr("")
    province_users: tuple[ProvinceUser, ...] = tuple(map(ProvinceUser.of, PROVINCE_CODES))
    filtered_tables: tuple[FilteredTable, ...] = FILTERED_TABLES
    networks: tuple[str, ...] = LOOPBACK

    @field_validator("database", "admin_user")
    @classmethod
    def _identifier(cls, value: str) -> str:
        if not _IDENTIFIER.match(value):
            raise ValueError(f"not a plain identifier: {value!r}")
        return value

    @field_validator("networks")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for network in value:
            ipaddress.ip_network(network, strict=False)
        return value

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: object) -> UsersConfig:
        """Credentials and database from ``settings.clickhouse``; keyword overrides win.

        ``analyst_password`` / ``dashboard_password`` / ``qa_writer_password`` are read from
        ``settings.clickhouse`` when the settings model has them
        (``HOTLINE_CLICKHOUSE__ANALYST_PASSWORD`` …), the province users' passwords from
        ``province_passwords`` (``HOTLINE_CLICKHOUSE__PROVINCE_PASSWORDS``, JSON).
        """
        ch = settings.clickhouse
        values: dict[str, object] = {
            "database": ch.database,
            "admin_user": ch.user,
            "admin_password": ch.password,
        }
        for key in ("analyst_password", "dashboard_password", "qa_writer_password"):
            secret = getattr(ch, key, None)
            if secret is not None:
                values[key] = secret
        if unknown := sorted(set(ch.province_passwords) - set(PROVINCE_CODES)):
            raise ConfigurationError(
                f"HOTLINE_CLICKHOUSE__PROVINCE_PASSWORDS names no province: {', '.join(unknown)}"
            )
        passwords = ch.province_passwords
        values["province_users"] = tuple(
            ProvinceUser(province_code=code, password=passwords.get(code, SecretStr("")))
            for code in PROVINCE_CODES
        )
        values.update(overrides)
        return cls.model_validate(values)

    @property
    def exposed(self) -> bool:
        """Whether users may connect from beyond this machine."""
        return not all(ipaddress.ip_network(n, strict=False).is_loopback for n in self.networks)

    def check_exposure(self) -> None:
        """Refuse empty admin/analyst/dashboard passwords when users are exposed.

        Exposed per-province users without a password are left out of users.xml instead.
        """
        if not self.exposed:
            return
        credentials = [
            (self.admin_user, self.admin_password),
            ("analyst", self.analyst_password),
            ("dashboard", self.dashboard_password),
            (QA_WRITER, self.qa_writer_password),
        ]
        empty = [name for name, secret in credentials if not secret.get_secret_value()]
        if empty:
            raise ConfigurationError(
                f"users.xml would let {', '.join(empty)} in from {', '.join(self.networks)} "
                "without a password: set HOTLINE_CLICKHOUSE__PASSWORD and the other "
                "ClickHouse passwords, or restrict the networks to loopback"
            )

    def scoped_users(self) -> tuple[ProvinceUser, ...]:
        """The per-province users users.xml gets (password-less ones only on loopback)."""
        if not self.exposed:
            return self.province_users
        return tuple(u for u in self.province_users if u.password.get_secret_value())


def render_users_xml(config: UsersConfig) -> str:
    """The users.xml text for ``config`` (a complete file; also valid as a users.d overlay)."""
    config.check_exposure()
    root = ET.Element("clickhouse")
    profiles = ET.SubElement(root, "profiles")
    ET.SubElement(profiles, "default")
    readonly = ET.SubElement(profiles, "readonly")
    # readonly=1 forbids writes, DDL and changing settings; readonly=2 would let clients
    # change any setting (memory and thread limits included). Grafana's ClickHouse datasource
    # does send one with every query: its client (clickhouse-go) sets max_execution_time from
    # the query timeout, which readonly=1 refuses with "Cannot modify 'max_execution_time'
    # setting in readonly mode" (grafana/clickhouse-datasource#325). So the profile stays
    # readonly=1 and only the settings of READONLY_CHANGEABLE are allowed, by constraints
    # (changeable_in_readonly needs access_control_improvements.
    # settings_constraints_replace_previous, true by default in the pinned engine and in
    # clickhouse-server 26.8).
    ET.SubElement(readonly, "readonly").text = "1"
    constraints = ET.SubElement(readonly, "constraints")
    for setting in READONLY_CHANGEABLE:
        ET.SubElement(ET.SubElement(constraints, setting), "changeable_in_readonly")
    quotas = ET.SubElement(root, "quotas")
    ET.SubElement(quotas, "default")

    users = ET.SubElement(root, "users")
    db = config.database
    admin = _user(users, config.admin_user, config.admin_password, config.networks, "default")
    ET.SubElement(admin, "access_management").text = "1"
    everything = [f"GRANT SELECT ON {db}.*"]
    _grants(_user(users, "analyst", config.analyst_password, config.networks), everything)
    _grants(_user(users, "dashboard", config.dashboard_password, config.networks), everything)
    writer = _user(users, QA_WRITER, config.qa_writer_password, config.networks, "default")
    _grants(writer, [f"GRANT INSERT ON {db}.qa_evaluations"])
    for scoped in config.scoped_users():
        user = _user(users, scoped.name, scoped.password, config.networks)
        hidden = ", ".join(POSITION_COLUMNS)
        _grants(
            user,
            [
                query
                for t in config.filtered_tables
                for query in (
                    f"GRANT SELECT ON {db}.{t.name}",
                    f"REVOKE SELECT({hidden}) ON {db}.{t.name}",
                    # SELECT on a whole table implies SHOW COLUMNS (DESCRIBE); on all but
                    # some of its columns no longer does
                    f"GRANT SHOW COLUMNS ON {db}.{t.name}",
                )
            ],
        )
        databases = ET.SubElement(user, "databases")
        if config.filtered_tables:
            tables = ET.SubElement(databases, db)
            for table in config.filtered_tables:
                filter_ = f"{table.province_column} = '{scoped.province_code}'"
                ET.SubElement(ET.SubElement(tables, table.name), "filter").text = filter_
        system = ET.SubElement(databases, "system")
        for name, filter_ in SYSTEM_FILTERS.items():
            ET.SubElement(ET.SubElement(system, name), "filter").text = filter_.format(db=db)
    ET.indent(root)
    return '<?xml version="1.0"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_users_xml(
    config: UsersConfig, path: Path, *, owner: tuple[int, int] | None = None
) -> Path:
    """Write users.xml atomically (mode 0600 from the start: it holds password hashes).

    ``owner`` (uid, gid) hands the file to the account of the server that reads it, when the
    writer is another one: compose writes it as root for clickhouse-server, which runs as the
    image's ``clickhouse`` user. Without it the file belongs to the writer (the embedded
    server runs as the user who writes it).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)  # a leftover would keep its own mode and owner
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(render_users_xml(config))
    tmp.chmod(0o600)  # whatever the umask
    if owner is not None:
        os.chown(tmp, *owner)
    tmp.replace(path)
    return path


def _user(
    users: ET.Element,
    name: str,
    password: SecretStr,
    networks: tuple[str, ...],
    profile: str = "readonly",
) -> ET.Element:
    # replace="replace": as a users.d overlay, drop what the server's own users.xml says
    # about a user of the same name (its default user has a <password> element of its own).
    user = ET.SubElement(users, name, {"replace": "replace"})
    secret = password.get_secret_value()
    if secret:
        digest = hashlib.sha256(secret.encode()).hexdigest()
        ET.SubElement(user, "password_sha256_hex").text = digest
    else:
        ET.SubElement(user, "no_password")
    net = ET.SubElement(user, "networks")
    for network in networks:
        ET.SubElement(net, "ip").text = network
    ET.SubElement(user, "profile").text = profile
    ET.SubElement(user, "quota").text = "default"
    return user


def _grants(user: ET.Element, queries: list[str]) -> None:
    grants = ET.SubElement(user, "grants")
    for query in queries:
        ET.SubElement(grants, "query").text = query
