"""What a group gives up on: a :class:`Rejected` event (late, orphan or invalid), which the
worker dead-letters with its reason, and the rules shared by calls and tickets that reject one:
an id held for another center (:func:`id_collision`), and the :class:`Tombstone` that holds an
evicted call's or ticket's id for another retention."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from hotline.schemas import Event

__all__ = ["Rejected", "Tombstone", "id_collision"]


@dataclass(frozen=True, slots=True)
class Rejected:
    """An event a group gave up on (a call, ticket or agent event); the shell dead-letters it
    with ``reason``."""

    event: Event
    reason: str
    """``late``, ``orphan`` or ``invalid``."""
    detail: str
    check: str | None = None
    """The rule an ``invalid`` event broke (``id_collision``, ``end_before_created``): the
    worker counts it under this name, and its dead letter's ``error_type`` is the CamelCase
    form (``IdCollision``); None: ``<Reason>Event``."""


def id_collision(event: Event, key: str, held_center: str, held: str = "") -> Rejected | None:
    """``event`` rejected as ``invalid`` if its ``key`` (``call_id``, ``ticket_id``) is held
    for another center: two centers minted the same id (docs/events.md, "Identifiers").
    ``held``: how the id is held, when not by a held call or ticket (a tombstone)."""
    center = event.envelope.center_id
    if center == held_center:
        return None
    detail = (
        f"{key} {getattr(event, key)} is already held for center {held_center}{held}, not "
        f"{center}: two centers minted the same id (ids must be unique across the network)"
    )
    return Rejected(event, "invalid", detail, "id_collision")


class Tombstone(NamedTuple):
    """What is kept of an evicted call or ticket for another retention: when it was
    evicted, and the center that held the id (None: a tombstone written by an earlier version,
    whose table image had no center)."""

    at: datetime
    center: str | None

    def reject(self, event: Event, key: str, late: str) -> Rejected:
        """An event under the id: another center's is an :func:`id_collision`, the same
        center's (or any, when the center is not known) is ``late`` (``late``: the detail)."""
        if self.center is None:
            unknown = "its tombstone, from an earlier version, names no center: no collision check"
            return Rejected(event, "late", f"{late} ({unknown})")
        closed = key.removesuffix("_id")
        held = f" (by the tombstone of its {closed}, evicted at {self.at.isoformat()})"
        return id_collision(event, key, self.center, held) or Rejected(event, "late", late)
