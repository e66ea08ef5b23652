"""Status files: a long-running process (``hotline streams worker``, ``hotline sink``) writes
its counters as JSON about once a second; ``hotline health`` reads one and says, by its age,
whether the process is alive (docs/stack.md, docs/streams.md "Status file and health").

Every file holds ``process`` (who wrote it), ``pid``, ``at`` (when, seconds since the epoch)
and ``stats`` (counters since the process started); the stream worker adds its ``phase``
(``starting`` until its first partition assignment, ``running``, ``rebalancing``, or
``recovering`` with ``recovery``: changelog messages ``remaining`` of ``total`` while it
restores its state table), its latest rebalance (``last_rebalance``), its groups (each with
the latest event time of each center, ``centers``) and the size of its state table.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hotline.errors import HotlineError

__all__ = ["Status", "StatusFileError", "describe", "read_status", "write_status"]

#: The counters ``hotline health`` shows of each process, by their label (``dead_*`` of the
#: worker are summed into one "dead letters" with the reasons beside it).
SHOWN = {
    "streams worker": {
        "raw in": "raw_in",
        "records out": "records_out",
        "snapshots out": "snapshots_out",
    },
    "sink": {
        "messages": "messages",
        "committed": "committed",
        "rows": "rows",
        "dead letters": "dead_letters",
        "retries": "retries",
    },
}


#: A center whose latest event is this far behind its group's watermark (event time) is
#: listed as quiet: its input may have stopped (a producer down, a link cut).
QUIET_AFTER = timedelta(minutes=15)


class StatusFileError(HotlineError):
    """A status file that says its process is not alive: missing, unreadable or too old."""


def write_status(path: Path, process: str, body: dict[str, Any]) -> None:
    """Write ``body`` with ``process``, this ``pid`` and ``at`` (now) to ``path`` as JSON; by a
    rename, so that a reader never sees half a file."""
    status = {"process": process, "pid": os.getpid(), "at": time.time(), **body}
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps(status))
    partial.replace(path)


@dataclass(frozen=True, slots=True)
class Status:
    """A status file as read, and how old it was then."""

    path: Path
    body: dict[str, Any]
    age_s: float


def read_status(path: Path, max_age_s: float, now: float | None = None) -> Status:
    """The status file at ``path``; :class:`StatusFileError` (one line, naming the file) when it
    is missing, is no status file, or was written more than ``max_age_s`` before ``now``."""
    try:
        body = json.loads(path.read_text())
    except FileNotFoundError:
        raise StatusFileError(
            f"{path}: no status file (the process has not written one yet, is not running, "
            "or writes elsewhere: its --status-file)"
        ) from None
    except (OSError, ValueError) as exc:  # a folder, no permission, not JSON, not UTF-8
        raise StatusFileError(f"{path}: unreadable status file: {exc}") from exc
    at = body.get("at") if isinstance(body, dict) else None
    if not isinstance(at, int | float) or not isinstance(body.get("stats"), dict):
        raise StatusFileError(f"{path}: not a status file (no 'at' time and 'stats' counters)")
    age = (time.time() if now is None else now) - at
    if age > max_age_s:
        phase = _phase(body)
        raise StatusFileError(
            f"{path}: written {age:.0f} s ago, more than --max-age {max_age_s:g} s: "
            f"{body.get('process', 'the process')} (pid {body.get('pid', '?')}) is hung or dead"
            + (f"; it was {phase}" if phase else "")
        )
    return Status(path, body, age)


def _phase(body: dict[str, Any]) -> str | None:
    """What a worker in phase ``starting`` or ``rebalancing`` does, how far one in phase
    ``recovering`` is (None in any other phase)."""
    if body.get("phase") == "starting":
        return "starting: joining its consumer group, no partitions assigned yet"
    if body.get("phase") == "rebalancing":
        return "rebalancing: its consumer group hands partitions over, processing paused"
    if body.get("phase") != "recovering":
        return None
    recovery = body.get("recovery")
    recovery = recovery if isinstance(recovery, dict) else {}
    left, total = recovery.get("remaining", 0), recovery.get("total", 0)
    if not total:
        return "recovering its state from the changelog (messages left not known yet)"
    read = total - left
    return (
        f"recovering its state from the changelog: {read:,} of {total:,} messages read "
        f"({100 * read / total:.0f} %), {left:,} left"
    )


def _rebalance(rebalance: dict[str, Any]) -> str:
    """A worker's latest rebalance: when it began (UTC) and how long processing paused."""
    began = datetime.fromtimestamp(rebalance.get("at", 0), UTC).strftime("%Y-%m-%d %H:%M:%S")
    paused = rebalance.get("paused_s")
    return f"  last rebalance {began} UTC: " + (
        "in progress" if paused is None else f"processing paused {paused:.1f} s"
    )


def _quiet(state: dict[str, Any]) -> str | None:
    """A group's centers whose latest event is :data:`QUIET_AFTER` or more behind its
    watermark, as a line (None: none, or no watermark yet)."""
    watermark, centers = state.get("watermark"), state.get("centers") or {}
    if not watermark:
        return None
    at = datetime.fromisoformat(watermark)
    quiet = [
        f"{center} (latest {last:%Y-%m-%d %H:%M} UTC)"
        for center, seen in sorted(centers.items())
        if at - (last := datetime.fromisoformat(seen)) >= QUIET_AFTER
    ]
    if not quiet:
        return None
    minutes = QUIET_AFTER // timedelta(minutes=1)
    return f"    no event for {minutes} min or more before the watermark: " + ", ".join(quiet)


def describe(status: Status) -> list[str]:
    """``status`` as lines for an operator: who wrote it and when, a start or how far a
    recovery is, the counters that matter, the latest rebalance, and each group's watermark,
    partitions behind, partitions holding it with no event yet and centers quiet for
    :data:`QUIET_AFTER` before it (the stream worker's)."""
    body = status.body
    process = str(body.get("process", "unknown process"))
    stats = body["stats"]
    lines = [
        f"{status.path}: {process} (pid {body.get('pid', '?')}), written {status.age_s:.1f} s ago"
    ]
    if (phase := _phase(body)) is not None:
        lines.append(f"  {phase}")
    counts = [f"{label} {stats.get(key, 0)}" for label, key in SHOWN.get(process, {}).items()]
    if process == "streams worker":
        dead = {k[5:]: n for k, n in stats.items() if k.startswith("dead_") and n}
        reasons = ", ".join(f"{reason} {n}" for reason, n in sorted(dead.items()))
        counts.insert(2, f"dead letters {sum(dead.values())}" + (f" ({reasons})" if dead else ""))
        counts.append(f"state keys {body.get('state_keys', 0)}")
    lines.append("  " + ", ".join(counts))
    if isinstance(rebalance := body.get("last_rebalance"), dict):
        lines.append(_rebalance(rebalance))
    for group, state in sorted(body.get("groups", {}).items()):
        behind, unheard = state.get("behind", []), state.get("unheard", [])
        waiting = f", {len(unheard)} holding it with no event yet" if unheard else ""
        lines.append(
            f"  group {group}: watermark {state.get('watermark') or 'none yet'}, "
            f"{len(behind)} partitions behind{waiting}, {state.get('calls', 0)} calls open"
        )
        if (quiet := _quiet(state)) is not None:
            lines.append(quiet)
    return lines
