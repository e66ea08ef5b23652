"""The 12333 center simulator (``hotline simulate``): SimPy model, event sinks, ledger.

Public surface: :func:`simulate` / :func:`simulate_to_dir` with :class:`SimConfig`; the
:class:`EventSink` protocol and :class:`JsonlFileSink`; the ground-truth :class:`Ledger`; the
per-call rules :func:`call_counters`, :class:`CallFacts`, :class:`CallAssembler`,
:class:`Thresholds`. See docs/simulator.md.
"""

from hotline.producers.simulator.facts import (
    COUNTER_NAMES,
    CallAssembler,
    CallFacts,
    RepeatTracker,
    Thresholds,
    call_counters,
    ledger_business_line,
    minute_bucket,
)
from hotline.producers.simulator.ledger import Ledger
from hotline.producers.simulator.params import Profile
from hotline.producers.simulator.runner import SimConfig, Summary, simulate, simulate_to_dir
from hotline.producers.simulator.sinks import EventSink, FanOut, JsonlFileSink, MemorySink

__all__ = [
    "COUNTER_NAMES",
    "CallAssembler",
    "CallFacts",
    "EventSink",
    "FanOut",
    "JsonlFileSink",
    "Ledger",
    "MemorySink",
    "Profile",
    "RepeatTracker",
    "SimConfig",
    "Summary",
    "Thresholds",
    "call_counters",
    "ledger_business_line",
    "minute_bucket",
    "simulate",
    "simulate_to_dir",
]
