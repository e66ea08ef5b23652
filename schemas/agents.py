"""Agent state events, keyed by ``agent_id``."""

from __future__ import annotations

from typing import Any, ClassVar

from hotline.schemas.base import Event
from hotline.schemas.enums import AgentState, NotReadyReason
from hotline.schemas.types import Id


class AgentStateChanged(Event):
    """An agent entered ``state``; ``reason`` is given exactly when the state is not_ready."""

    RECORD_TYPE = "agent.state"
    PRESENT_IFF: ClassVar[dict[str, tuple[str, tuple[Any, ...]]]] = {
        "reason": ("state", (AgentState.NOT_READY,))
    }

    agent_id: Id
    state: AgentState
    reason: NotReadyReason | None = None
