"""Versioned ClickHouse migrations: ``sinks/migrations/NNNN_name.sql``, applied in order, once.

Rules:

- A file is ``<4-digit version>_<lower_snake_name>.sql``; versions are unique.
- Statements are separated by ``;`` (semicolons inside quotes, backticks and comments do not
  split). ``{database}`` in a file is replaced by the target database, so the same files serve
  any database name.
- Each applied file is recorded in ``<database>.schema_migrations`` (version, name, checksum,
  applied_at); the runner creates the database and that table itself.
- The checksum is SHA-256 of the file text (line endings normalised). An applied file whose
  checksum changed is an error naming the file: write a new migration instead.
- ClickHouse DDL is not transactional. A file that fails halfway is not recorded, and the next
  run starts it again from its first statement, so write every statement to be re-runnable
  (``IF NOT EXISTS`` / ``IF EXISTS``).
- Runs are not locked against each other: run one migrator at a time (the stack's init step).
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from importlib.resources.abc import Traversable
from typing import NamedTuple

from clickhouse_driver import Client

from hotline.sinks.client import execute, translated_errors
from hotline.sinks.errors import ClickHouseQueryError, MigrationError

log = logging.getLogger(__name__)

MIGRATIONS_TABLE = "schema_migrations"
_FILE_NAME = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+)\.sql$")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Migration:
    """One migration file."""

    version: int
    name: str
    filename: str
    sql: str
    checksum: str

    def statements(self, database: str) -> list[str]:
        return split_statements(self.sql.replace("{database}", database))


class MigrationStatus(NamedTuple):
    version: int
    name: str
    applied_at: datetime | None


def default_migrations() -> Traversable:
    """The migrations shipped with the package."""
    return resources.files("hotline.sinks") / "migrations"


def load_migrations(source: Traversable | None = None) -> list[Migration]:
    """Read and check every ``.sql`` file of ``source``, ordered by version."""
    folder = source if source is not None else default_migrations()
    found: dict[int, Migration] = {}
    for entry in folder.iterdir():
        if not entry.name.endswith(".sql"):
            continue
        match = _FILE_NAME.match(entry.name)
        if match is None:
            raise MigrationError(
                f"migration file {entry.name!r} is not named NNNN_lower_snake_name.sql"
            )
        text = entry.read_text(encoding="utf-8").replace("\r\n", "\n")
        version = int(match["version"])
        if version in found:
            raise MigrationError(
                f"migrations {found[version].filename} and {entry.name} share version {version}"
            )
        checksum = hashlib.sha256(text.encode("utf-8")).hexdigest()
        found[version] = Migration(version, match["name"], entry.name, text, checksum)
    return [found[v] for v in sorted(found)]


def migrate(client: Client, database: str, source: Traversable | None = None) -> list[Migration]:
    """Apply the migrations not applied yet, in order; return those applied now."""
    migrations = load_migrations(source)
    _ensure_table(client, database)
    applied = _applied(client, database)
    _check_unchanged(migrations, applied)
    known = {m.version for m in migrations}
    for version in sorted(set(applied) - known):
        log.warning("%s has migration %04d, unknown to this code", database, version)
    done: list[Migration] = []
    for migration in migrations:
        if migration.version in applied:
            continue
        _apply(client, database, migration)
        done.append(migration)
    return done


def status(
    client: Client, database: str, source: Traversable | None = None
) -> list[MigrationStatus]:
    """Every known migration with the time it was applied (None: pending), by version.

    Read-only: a missing database or migrations table means every migration is pending.
    """
    migrations = load_migrations(source)
    _check_name(database)
    applied = _applied(client, database) if _has_table(client, database) else {}
    _check_unchanged(migrations, applied)
    rows = {m.version: MigrationStatus(m.version, m.name, None) for m in migrations}
    for version, (name, _checksum, applied_at) in applied.items():
        rows[version] = MigrationStatus(version, name, applied_at)
    return [rows[v] for v in sorted(rows)]


def split_statements(sql: str) -> list[str]:
    """Split on ``;`` outside quotes, backticks and comments; drop empty statements."""
    statements: list[str] = []
    current: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        char = sql[i]
        if char in "'\"`":
            end = _closing_quote(sql, i)
            current.append(sql[i:end])
            i = end
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end == -1 else end
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            if end == -1:
                raise MigrationError("unterminated /* comment")
            i = end + 2
        elif char == ";":
            statements.append("".join(current))
            current = []
            i += 1
        else:
            current.append(char)
            i += 1
    statements.append("".join(current))
    return [s.strip() for s in statements if s.strip()]


def _closing_quote(sql: str, start: int) -> int:
    quote = sql[start]
    i = start + 1
    while i < len(sql):
        if sql[i] == "\\":
            i += 2
        elif sql[i] == quote:
            if sql.startswith(quote * 2, i):  # doubled quote inside the literal
                i += 2
            else:
                return i + 1
        else:
            i += 1
    raise MigrationError(f"unterminated {quote} quote")


def database_exists(client: Client, database: str) -> bool:
    """Whether ``database`` exists (a read-only look at system.databases)."""
    with translated_errors(f"looking up database {database}"):
        rows = client.execute(
            "SELECT count() FROM system.databases WHERE name = %(d)s", {"d": database}
        )
    return bool(rows[0][0])


def _has_table(client: Client, database: str) -> bool:
    rows = execute(
        client,
        "SELECT count() FROM system.tables WHERE database = %(d)s AND name = %(t)s",
        {"d": database, "t": MIGRATIONS_TABLE},
    )
    return bool(rows[0][0])


def _check_name(database: str) -> None:
    if not _IDENTIFIER.match(database):
        raise MigrationError(f"not a plain database name: {database!r}")


def _ensure_table(client: Client, database: str) -> None:
    _check_name(database)
    execute(client, f"CREATE DATABASE IF NOT EXISTS {database}")
    execute(
        client,
        f"""
        CREATE TABLE IF NOT EXISTS {database}.{MIGRATIONS_TABLE}
        (
            version UInt32,
            name String,
            checksum FixedString(64),
            applied_at DateTime64(3, 'UTC') DEFAULT now64(3)
        )
        ENGINE = MergeTree
        ORDER BY version
        """,
    )


def _applied(client: Client, database: str) -> dict[int, tuple[str, str, datetime]]:
    rows = execute(
        client,
        f"SELECT version, name, checksum, applied_at FROM {database}.{MIGRATIONS_TABLE} "
        "ORDER BY version, applied_at",
    )
    return {int(v): (name, checksum, applied_at) for v, name, checksum, applied_at in rows}


def _check_unchanged(
    migrations: list[Migration], applied: dict[int, tuple[str, str, datetime]]
) -> None:
    for migration in migrations:
        record = applied.get(migration.version)
        if record is not None and record[1] != migration.checksum:
            raise MigrationError(
                f"migration {migration.filename} changed after it was applied on {record[2]} "
                f"(checksum {record[1][:12]}… in the database, {migration.checksum[:12]}… on "
                "disk); restore the file and put the change in a new migration"
            )


def _apply(client: Client, database: str, migration: Migration) -> None:
    statements = migration.statements(database)
    log.info("applying migration %s (%d statements)", migration.filename, len(statements))
    for number, statement in enumerate(statements, 1):
        try:
            execute(client, statement)
        except ClickHouseQueryError as exc:  # unavailability stays retryable
            raise MigrationError(
                f"migration {migration.filename}, statement {number} of {len(statements)} "
                f"failed: {exc}"
            ) from exc
    execute(
        client,
        f"INSERT INTO {database}.{MIGRATIONS_TABLE} (version, name, checksum) VALUES",
        [(migration.version, migration.name, migration.checksum)],
    )
