"""A JSON-lines sink that appends and can flush (so a resumed run continues the same file)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO

from hotline.producers.simulator.sinks import event_line
from hotline.schemas import Event

__all__ = ["JsonlAppendSink"]


class JsonlAppendSink:
    """Appends one canonical JSON line per event; ``flush`` fsyncs (an acknowledgement)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[str] | None = self.path.open("a", encoding="utf-8", newline="\n")

    def emit(self, event: Event) -> None:
        if self._file is None:
            raise ValueError(f"{self.path} is closed")
        self._file.write(event_line(event) + "\n")

    def flush(self) -> None:
        if self._file is not None:
            self._file.flush()
            os.fsync(self._file.fileno())

    def close(self) -> None:
        if self._file is not None:
            self.flush()
            self._file.close()
            self._file = None
