"""Ticket lifecycle events (工单): created → assigned/routed → callback made → resolved →
closed, with possible reopen. All are keyed by ``ticket_id``."""

from __future__ import annotations

from hotline.schemas.base import Event
from hotline.schemas.enums import BusinessLine, TicketCategory
from hotline.schemas.types import Bool, Id, UtcMillis


class TicketCreated(Event):
    """A ticket was opened, from a call (``call_id``) or another channel."""

    RECORD_TYPE = "ticket.created"

    ticket_id: Id
    call_id: Id | None = None
    category: TicketCategory
    business_line: BusinessLine
    agent_id: Id | None = None
    due_at: UtcMillis


class TicketAssigned(Event):
    """The ticket was assigned to an agent or routed to a handling agency (工单流转)."""

    RECORD_TYPE = "ticket.assigned"

    ticket_id: Id
    assignee_id: Id
    routed: Bool = False
    """True when routed outside the hotline to the handling agency."""


class TicketCallbackMade(Event):
    """An agent called the caller back; ``reached`` tells whether the caller answered."""

    RECORD_TYPE = "ticket.callback_made"

    ticket_id: Id
    agent_id: Id
    reached: Bool


class TicketResolved(Event):
    """The ticket was answered or settled."""

    RECORD_TYPE = "ticket.resolved"

    ticket_id: Id
    agent_id: Id | None = None


class TicketReopened(Event):
    """A resolved ticket was reopened, possibly with a new due time."""

    RECORD_TYPE = "ticket.reopened"

    ticket_id: Id
    due_at: UtcMillis | None = None


class TicketClosed(Event):
    """The ticket was closed for good."""

    RECORD_TYPE = "ticket.closed"

    ticket_id: Id
