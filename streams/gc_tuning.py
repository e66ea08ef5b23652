"""Python's cyclic garbage collector, tuned for a long-running stream worker.

With CPython's default thresholds (700, 10, 10) the collector runs every 700 net allocations
and, as often as every 70,000 (once enough objects have survived), scans the old generation —
which in a worker holds every call state, decoded event and table value. With a youngest-
generation threshold of 10,000 the worker's two steps run 1.17–1.26× as fast in-process
(``bench/worker_steps.py``, docs/streams-measured.md); objects built at start-up (modules,
the Faust app) are frozen out of every later scan.
"""

from __future__ import annotations

import gc

__all__ = ["FIRST_GENERATION", "collect_less_often"]

FIRST_GENERATION = 10_000
"""Net allocations between two collections of the youngest generation (CPython: 700)."""


def collect_less_often(first_generation: int = FIRST_GENERATION) -> None:
    """Raise the youngest generation's threshold (the older ones keep CPython's) and freeze
    the objects that exist now, the process's start-up, out of later collections."""
    _, second, third = gc.get_threshold()
    gc.set_threshold(first_generation, second, third)
    gc.freeze()
