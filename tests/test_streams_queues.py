"""The live queue (streams/queues.py): calls waiting per center from open call states, and
when a center's snapshot is sent. Pure: hand-made call events through CallAssembly."""

from __future__ import annotations

from datetime import timedelta

from test_streams_calls import T0, answered_call, ev

from hotline.schemas import CallAbandoned
from hotline.streams.calls import CallAssembly
from hotline.streams.queues import QueueBoard

CENTERS = [("C320100", "320100"), ("C320200", "320200")]


def _ms(seconds: float) -> int:
    return int((T0 + timedelta(seconds=seconds)).timestamp() * 1000)


def _feed(assembly: CallAssembly, board: QueueBoard, events) -> None:
    for event in events:
        assembly.add(event)
        board.see(event.call_id, assembly.states.get(event.call_id))


def test_queued_calls_wait_until_answered_or_abandoned() -> None:
    assembly, board = CallAssembly(), QueueBoard()
    k1, k2 = answered_call("K1"), answered_call("K2", at=10)
    _feed(assembly, board, k1[:3] + k2[:3])  # both queued (at 30 s and 40 s)
    (c1, c2) = board.snapshots(CENTERS, _ms(50), assembly.states)
    assert (c1.center_id, c1.waiting, c1.longest_wait_ms) == ("C320100", 2, 20_000)
    assert (c2.center_id, c2.waiting, c2.longest_wait_ms) == ("C320200", 0, 0)
    _feed(assembly, board, [k1[3]])  # K1 answered
    (c1,) = board.snapshots(CENTERS, _ms(55), assembly.states)  # C320200 unchanged: not sent
    assert (c1.waiting, c1.longest_wait_ms) == (1, 15_000)
    _feed(assembly, board, [ev(CallAbandoned, 60, "K2", wait_ms=20_000)])
    (c1,) = board.snapshots(CENTERS, _ms(61), assembly.states)
    assert (c1.waiting, c1.longest_wait_ms) == (0, 0)
    assert board.snapshots(CENTERS, _ms(62), assembly.states) == []  # nothing new


def test_unchanged_queues_are_sent_again_each_heartbeat_and_never_at_the_same_time() -> None:
    assembly, board = CallAssembly(), QueueBoard(heartbeat_ms=60_000)
    assert len(board.snapshots(CENTERS, _ms(0), assembly.states)) == 2  # first: every center
    assert board.snapshots(CENTERS, _ms(0), assembly.states) == []
    assert board.snapshots(CENTERS, _ms(59), assembly.states) == []
    assert len(board.snapshots(CENTERS, _ms(60), assembly.states)) == 2
    _feed(assembly, board, answered_call("K1")[:3])
    assert board.snapshots(CENTERS, _ms(60), assembly.states) == []  # as_of did not move


def test_an_evicted_call_stops_waiting() -> None:
    assembly, board = CallAssembly(), QueueBoard()
    _feed(assembly, board, answered_call("K1")[:3])
    (c1, _) = board.snapshots(CENTERS, _ms(31), assembly.states)
    assert c1.waiting == 1
    assembly.close()  # every open call closed by timeout and evicted
    (c1,) = board.snapshots(CENTERS, _ms(40), assembly.states)
    assert c1.waiting == 0
