"""Shared helpers of the queue_log tests (no tests here; imported by test_queue_log*.py)."""

from __future__ import annotations

from pathlib import Path

from hotline.privacy import DEMO_CALLER_KEY, CallerHasher
from hotline.producers.queue_log import QueueLogIngestor, QueueLogMapping
from hotline.producers.queue_log.sample import SAMPLE_MAPPING
from hotline.producers.simulator.sinks import EventSink, MemorySink
from hotline.schemas import Event

HASHER = CallerHasher(DEMO_CALLER_KEY)
CENTER = "C320100"
T0 = 1740961800  # 2025-03-03 08:30 China time


def mapping() -> QueueLogMapping:
    import tomllib

    return QueueLogMapping.model_validate(tomllib.loads(SAMPLE_MAPPING))


def write_log(path: Path, rows: list[str]) -> Path:
    path.write_text("".join(r + "\n" for r in rows), encoding="utf-8")
    return path


def ingestor(tmp: Path, log: Path, sink: EventSink | None = None, **kw: object) -> QueueLogIngestor:
    return QueueLogIngestor(
        log,
        mapping(),
        sink if sink is not None else MemorySink(),
        HASHER,
        state_path=tmp / "state.json",
        dead_letter_path=tmp / "dead.jsonl",
        **kw,  # type: ignore[arg-type]
    )


def short(text: str) -> str:
    return text.removeprefix(f"{CENTER}:")


def simple(event: Event) -> tuple[object, ...]:
    """A compact, comparable form of an event."""
    d = event.model_dump()
    kind = event.RECORD_TYPE
    if kind == "agent.state":
        reason = d["reason"].value if d["reason"] else None
        return ("agent", short(d["agent_id"]), d["state"].value, reason)
    call = short(d["call_id"])
    if kind == "call.offered":
        return ("offered", call)
    if kind == "call.ivr_outcome":
        return ("ivr", call, d["outcome"].value)
    if kind == "call.queued":
        return ("queued", call, d["business_line"].value)
    if kind == "call.answered":
        return ("answered", call, short(d["agent_id"]), d["wait_ms"] // 1000)
    if kind == "call.abandoned":
        return ("abandoned", call, d["wait_ms"] // 1000)
    if kind == "call.transferred":
        return ("transferred", call, short(d["agent_id"]), d["target"].value)
    if kind == "call.ended":
        agent = short(d["agent_id"]) if d["agent_id"] else None
        return ("ended", call, agent, d["talk_ms"] // 1000, d["hung_up_by"].value)
    raise AssertionError(kind)


def row(dt: int, callid: str, queue: str, agent: str, event: str, *data: object) -> str:
    return "|".join([str(T0 + dt), callid, queue, agent, event, *(str(x) for x in data)])
