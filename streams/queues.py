"""Calls waiting per center now, from a province's open call states (the live queue).

A call waits from its ``call.queued`` until it is answered, abandoned or ended (or evicted).
:class:`QueueBoard` keeps the waiting calls up to date as their events arrive and turns them
into :class:`~hotline.schemas.QueueSnapshot` records: per center the number waiting and the
longest wait as of the latest event time seen. A center's snapshot is sent when it changed, or
every ``heartbeat_ms`` unchanged, and every center once after a (re)load, so an emptied queue
is never left showing calls.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from hotline.schemas import QueueSnapshot
from hotline.streams.calls import CallState

__all__ = ["HEARTBEAT_MS", "QueueBoard", "waiting_since"]

HEARTBEAT_MS = 60_000
_ENDS = ("call.answered", "call.abandoned", "call.ended")


def waiting_since(state: CallState) -> tuple[str, int] | None:
    """(center id, queued at in ms) of a call waiting for an agent; None otherwise."""
    queued = state.latest("call.queued")
    if queued is None or any(state.latest(kind) is not None for kind in _ENDS):
        return None
    env = queued.envelope
    return env.center_id, int(env.occurred_at.timestamp() * 1000)


class QueueBoard:
    """The waiting calls of one province and what was last sent per center."""

    def __init__(self, heartbeat_ms: int = HEARTBEAT_MS) -> None:
        self.heartbeat_ms = heartbeat_ms
        self.waiting: dict[str, tuple[str, int]] = {}
        """Call id → (center id, queued at ms)."""
        self.sent: dict[str, tuple[int, int, int]] = {}
        """Center id → (waiting, longest wait ms, as of ms) last sent."""

    def see(self, call_id: str, state: CallState | None) -> None:
        """A call changed (``state`` None: it is gone)."""
        found = waiting_since(state) if state is not None else None
        if found is None:
            self.waiting.pop(call_id, None)
        else:
            self.waiting[call_id] = found

    def snapshots(
        self,
        centers: Iterable[tuple[str, str]],
        as_of_ms: int,
        alive: Mapping[str, CallState],
    ) -> list[QueueSnapshot]:
        """The snapshots due at ``as_of_ms`` for ``centers`` (``(center id, home region)``);
        calls no longer in ``alive`` (evicted) stop waiting."""
        for call_id in [c for c in self.waiting if c not in alive]:
            del self.waiting[call_id]
        count: dict[str, int] = {}
        first: dict[str, int] = {}
        for center_id, queued_ms in self.waiting.values():
            count[center_id] = count.get(center_id, 0) + 1
            first[center_id] = min(first.get(center_id, queued_ms), queued_ms)
        out = []
        for center_id, home in centers:
            waiting = count.get(center_id, 0)
            longest = max(0, as_of_ms - first[center_id]) if waiting else 0
            last = self.sent.get(center_id)
            if (
                last is not None
                and last[:2] == (waiting, longest)
                and as_of_ms - last[2] < self.heartbeat_ms
            ):
                continue
            if last is not None and as_of_ms <= last[2]:
                continue  # event time has not moved: nothing new to say
            self.sent[center_id] = (waiting, longest, as_of_ms)
            out.append(
                QueueSnapshot(
                    center_id=center_id,
                    region_code=home,
                    as_of=datetime.fromtimestamp(as_of_ms / 1000, UTC),
                    waiting=waiting,
                    longest_wait_ms=longest,
                )
            )
        return out
