"""Errors of the queue_log adapter.

::

    HotlineError
    └── InvalidInput
        ├── MalformedLine      a line that is not ``time|callid|queue|agent|event|data…``
        └── Uninterpretable    a well-formed line the adapter cannot turn into events
                               (unknown event name, CONNECT for an unknown call, …)

Both are reported with their line number and go to the dead-letter file; neither stops a run.
Messages never carry a caller number (only :func:`~hotline.privacy.mask_phone` masks).
"""

from __future__ import annotations

from hotline.errors import InvalidInput

__all__ = ["MalformedLine", "Uninterpretable"]


class MalformedLine(InvalidInput):
    """The line cannot be parsed; ``reason`` is a short, number-free explanation."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class Uninterpretable(InvalidInput):
    """A parsed line that yields no meaningful events; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)
