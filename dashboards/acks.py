"""Alert acknowledgements, kept by the dashboard in SQLite (its ClickHouse user is read-only).

One row per alert: who acknowledged it and when (the first acknowledgement stands). The time is
stored as the instant it is (ISO 8601 with the clock's offset, UTC in the app) and read back as
China time, ``YYYY-MM-DD HH:MM:SS`` like every other time of the dashboard (:func:`china_time`),
so rows of earlier versions, stored the same way, read the same.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from .timerange import CHINA


def china_time(stored: str) -> str:
    """A stored acknowledgement time as China time, ``YYYY-MM-DD HH:MM:SS``. A value with an
    offset is converted; one without is taken as China time already; text that is no ISO time
    at all is returned as stored."""
    try:
        at = datetime.fromisoformat(stored)
    except ValueError:
        return stored
    if at.tzinfo is not None:
        at = at.astimezone(CHINA)
    return at.strftime("%Y-%m-%d %H:%M:%S")


class AckStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        with self._lock:
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS acks ("
                " alert_id TEXT PRIMARY KEY, user TEXT NOT NULL, acked_at TEXT NOT NULL)"
            )

    def ack(self, alert_id: str, user: str, at: datetime) -> tuple[str, str]:
        """Record the acknowledgement (kept if there is one); returns (user, when in China
        time)."""
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO acks VALUES (?, ?, ?)",
                (alert_id, user, at.isoformat(timespec="seconds")),
            )
            row = self._db.execute(
                "SELECT user, acked_at FROM acks WHERE alert_id = ?", (alert_id,)
            ).fetchone()
        return row[0], china_time(row[1])

    def of(self, alert_ids: Iterable[str]) -> dict[str, tuple[str, str]]:
        """alert id → (user, when in China time) of those acknowledged."""
        ids = list(alert_ids)
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        with self._lock:
            rows = self._db.execute(
                f"SELECT alert_id, user, acked_at FROM acks WHERE alert_id IN ({marks})", ids
            ).fetchall()
        return {alert_id: (user, china_time(at)) for alert_id, user, at in rows}

    def close(self) -> None:
        self._db.close()
