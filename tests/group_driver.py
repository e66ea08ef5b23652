"""Drive the worker's province groups and the national group without a broker, with crashes
that leave none or a prefix of a step's state writes (the changelog after a kill -9)."""

from __future__ import annotations

import base64
from collections import defaultdict
from collections.abc import Callable, Iterable

from hotline.regions import default_registry
from hotline.schemas import Codec, Event, default_codec
from hotline.streams.config import StreamsConfig
from hotline.streams.groups import NATIONAL_GROUP, GroupOutput, GroupState, Inbound


class Latest:
    """Last version wins per key, as the sink keeps snapshots; the same version twice must
    carry the same counters."""

    def __init__(self, key: Callable[[object], object]) -> None:
        self.key = key
        self.rows: dict[object, object] = {}

    def write(self, snapshots: Iterable[object]) -> None:
        for snap in snapshots:
            key = self.key(snap)
            held = self.rows.get(key)
            if held is not None and snap.version == held.version:  # type: ignore[attr-defined]
                assert snap.counts == held.counts, f"same version, other counts: {snap}"  # type: ignore[attr-defined]
            if held is None or snap.version > held.version:  # type: ignore[attr-defined]
                self.rows[key] = snap


class WriteLog(dict):  # type: ignore[type-arg]
    """A table that records its writes in order (``None``: a delete)."""

    def __init__(self) -> None:
        super().__init__()
        self.log: list[tuple[str, object]] = []

    def __setitem__(self, key: str, value: object) -> None:
        self.log.append((key, value))

    def pop(self, key: str, default: object = None) -> object:
        self.log.append((key, None))
        return default


def inbound(event: Event, offset: int, codec: Codec, partition: int = 0) -> Inbound:
    """The event as the worker hands it to its group: with its bytes as read (base64), from
    source partition ``t:<partition>``."""
    image = base64.b64encode(codec.encode_model(event)).decode()
    return Inbound(event, "t", partition, offset, image=image)


def write(state: GroupState, table: dict, cut: Callable[[int], int] | None = None) -> None:
    """Dump ``state`` into ``table``: every write, or only the first ``cut(number of writes)``
    of them (a crash in the middle of the state write)."""
    log = WriteLog()
    state.dump(log)
    for key, value in log.log[: cut(len(log.log)) if cut else None]:
        if value is None:
            table.pop(key, None)
        else:
            table[key] = value


def _crash_cut(step: int, torn: bool) -> Callable[[int], int]:
    """How many of a crashed step's state writes persisted: none, or (``torn``) a prefix
    whose length varies with the step."""
    return (lambda writes: step * 37 % (writes + 1)) if torn else (lambda writes: 0)


def in_batches(events: Iterable[Event], size: int = 200) -> dict[str, list[list[Event]]]:
    """Each province's events (in the given order) in batches of ``size``."""
    registry = default_registry()
    by_group: dict[str, list[Event]] = defaultdict(list)
    for e in events:
        by_group[registry.province_of(e.envelope.region_code).code].append(e)
    return {g: [v[i : i + size] for i in range(0, len(v), size)] for g, v in by_group.items()}


def drive(
    batches_of: dict[str, list[list[Event]]],
    emit: Callable[[GroupOutput], None],
    crash_every: int | None = None,
    torn: bool = False,
    config: StreamsConfig | None = None,
) -> dict[str, tuple[GroupState, dict]]:
    """Each province's batches in turn through its group (as the group topic interleaves
    them); every output, and the national group's output from its province snapshots, goes
    to ``emit``. With ``crash_every``, every so many steps the group is rebuilt from its table
    (holding none of the step's writes, or a prefix of them when ``torn``) and the batch is
    replayed at once, before any other group's next batch (``crash_every`` at least 2), at
    the same source offsets (a group's offsets run on over its batches); so is
    the national group, every so many of its own steps. At the end every group flushes.
    Returns each group's state and table, the national group's too."""
    if crash_every is not None and crash_every < 2:
        raise ValueError(f"crash_every must be at least 2 (a replay must pass): {crash_every}")
    registry, codec = default_registry(), default_codec()
    config = config or StreamsConfig()
    national = GroupState(NATIONAL_GROUP, config, registry, codec)
    states = {g: GroupState(g, config, registry, codec) for g in batches_of}
    tables: dict[str, dict] = {g: {} for g in [*batches_of, NATIONAL_GROUP]}
    national_steps = 0

    def out(step: GroupOutput) -> None:
        nonlocal national, national_steps
        emit(step)
        children = (step.province_snapshots, step.province_agent_times, step.province_ticket_counts)
        emit(national.process_snapshots(*children))
        national_steps += 1
        if crash_every and national_steps % crash_every == 1:
            write(national, tables[NATIONAL_GROUP], cut=_crash_cut(national_steps, torn))
            national = GroupState.load(
                NATIONAL_GROUP, tables[NATIONAL_GROUP], config, registry, codec
            )
            emit(national.held())
            emit(national.process_snapshots(*children))  # the step's input, delivered again
        write(national, tables[NATIONAL_GROUP])

    done, steps = dict.fromkeys(batches_of, 0), 0
    offsets = dict.fromkeys(batches_of, 0)  # a group's next source offset, as in Kafka
    while any(done[g] < len(b) for g, b in batches_of.items()):
        for g, batches in batches_of.items():
            if done[g] >= len(batches):
                continue
            batch, first = batches[done[g]], offsets[g]
            while True:
                out(states[g].process(inbound(e, first + i, codec) for i, e in enumerate(batch)))
                steps += 1
                if not (crash_every and steps % crash_every == 0):
                    break
                write(states[g], tables[g], cut=_crash_cut(steps, torn))
                states[g] = GroupState.load(g, tables[g], config, registry, codec)
                out(states[g].held())
                # the same batch again at once, as the restarted worker reads it again from
                # the last commit: the other groups wait (a crash stops the whole worker),
                # so a group that crashes often does not fall behind the others in event
                # time (beyond national_lateness its snapshots would be late at the nation)
            write(states[g], tables[g])
            done[g] += 1
            offsets[g] += len(batch)
    for g, state in states.items():
        point = state.flush_point()
        assert point is not None
        out(state.advance(point))
        write(state, tables[g])
    return {g: (s, tables[g]) for g, s in [*states.items(), (NATIONAL_GROUP, national)]}
