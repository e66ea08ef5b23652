"""Alert acknowledgements, kept by the dashboard in SQLite (its ClickHouse user is read-only).

One row per alert: who acknowledged it and when (the first acknowledgement stands).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path


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
        """Record the acknowledgement (kept if there is one); returns (user, when)."""
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO acks VALUES (?, ?, ?)",
                (alert_id, user, at.isoformat(timespec="seconds")),
            )
            row = self._db.execute(
                "SELECT user, acked_at FROM acks WHERE alert_id = ?", (alert_id,)
            ).fetchone()
        return row[0], row[1]

    def of(self, alert_ids: Iterable[str]) -> dict[str, tuple[str, str]]:
        ids = list(alert_ids)
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        with self._lock:
            rows = self._db.execute(
                f"SELECT alert_id, user, acked_at FROM acks WHERE alert_id IN ({marks})", ids
            ).fetchall()
        return {alert_id: (user, at) for alert_id, user, at in rows}

    def close(self) -> None:
        self._db.close()
