"""Where simulated events go: the :class:`EventSink` protocol and the file/memory sinks.

Lifecycle: the simulator calls ``emit(event)`` once per event, in global time order, then
``close()`` exactly once (also after an error). ``emit`` may block (a Kafka sink waiting for
acks or spooling); it raises :class:`~hotline.errors.RetryableError` /
:class:`~hotline.errors.Backpressure` for the caller to handle. A Kafka delivery sink
(``hotline.producers.delivery``) implements the same two methods and plugs in unchanged.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO, Protocol, runtime_checkable

from hotline.schemas import Event

__all__ = ["EventSink", "FanOut", "JsonlFileSink", "MemorySink", "event_line"]


@runtime_checkable
class EventSink(Protocol):
    """Receives events one at a time; ``close`` flushes and releases resources."""

    def emit(self, event: Event) -> None: ...

    def close(self) -> None: ...


def event_line(event: Event) -> str:
    """One canonical JSON line: sorted keys, no spaces, UTF-8 text, times in ISO UTC ms."""
    return json.dumps(
        event.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )


class JsonlFileSink:
    """Writes one :func:`event_line` per event; byte-identical for the same event stream."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[str] | None = self.path.open("w", encoding="utf-8", newline="\n")

    def emit(self, event: Event) -> None:
        if self._file is None:
            raise ValueError(f"{self.path} is closed")
        self._file.write(event_line(event))
        self._file.write("\n")

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class MemorySink:
    """Keeps events in a list (tests, and in-process consumers)."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.closed = False

    def emit(self, event: Event) -> None:
        self.events.append(event)

    def close(self) -> None:
        self.closed = True


class FanOut:
    """Emits every event to each sink in turn; closes them all, even if one fails."""

    def __init__(self, *sinks: EventSink) -> None:
        self.sinks = sinks

    def emit(self, event: Event) -> None:
        for sink in self.sinks:
            sink.emit(event)

    def close(self) -> None:
        errors: list[BaseException] = []
        for sink in self.sinks:
            try:
                sink.close()
            except Exception as exc:  # close the others, then re-raise the first
                errors.append(exc)
        if errors:
            raise errors[0]
