"""The log lines of the state table's recovery (pure: assignments and samples in, lines out)."""

from __future__ import annotations

from hotline.streams.recovery_log import RecoveryLog


def _lines(log: RecoveryLog, samples: list[tuple[float, bool, int]]) -> list[str]:
    return [line for s in samples if (line := log.see(*s)) is not None]


def test_a_recovery_logs_its_start_its_progress_every_interval_and_its_end() -> None:
    log = RecoveryLog(every_s=5.0)
    log.assigned(99.0)
    samples = [(100.0, False, 0), (101.0, True, 40_000)]
    samples += [(101.0 + t, True, 40_000 - 4_000 * t) for t in range(1, 10)]
    assert _lines(log, samples) == [
        "restoring state from the changelog: 40,000 messages left to read",
        "restoring state: 20,000 of 40,000 changelog messages read (50 %) in 5 s, ~5 s left",
    ]
    assert log.restored(111.0, 3_456) == "state restored: 3,456 keys in 12.0 s"


def test_the_total_is_the_most_seen_left_when_the_first_look_came_before_faust_knew() -> None:
    """Faust marks its recovery started before it has asked for the changelog's end offsets."""
    log = RecoveryLog(every_s=2.0)
    log.assigned(0.0)
    lines = _lines(log, [(0.0, True, 0), (1.0, True, 900), (2.0, True, 600)])
    assert lines == [
        "restoring state from the changelog",
        "restoring state: 300 of 900 changelog messages read (33 %) in 2 s, ~4 s left",
    ]
    assert log.total == 900  # the status file's recovery total
    assert log.restored(3.0, 12) == "state restored: 12 keys in 3.0 s"
    assert log.total == 0


def test_a_recovery_too_short_to_be_sampled_still_gets_its_last_line() -> None:
    log = RecoveryLog()
    log.assigned(10.0)
    assert _lines(log, [(10.0, False, 0)]) == []
    assert log.restored(10.4, 2_000) == "state restored: 2,000 keys in 0.4 s"


def test_each_recovery_starts_afresh() -> None:
    log = RecoveryLog()
    log.assigned(0.0)
    assert _lines(log, [(1.0, True, 500)]) == [
        "restoring state from the changelog: 500 messages left to read"
    ]
    log.restored(2.0, 40)
    log.assigned(20.0)
    assert _lines(log, [(21.0, True, 50)]) == [
        "restoring state from the changelog: 50 messages left to read"
    ]
    assert _lines(log, [(26.5, True, 10)]) == [
        "restoring state: 40 of 50 changelog messages read (80 %) in 6 s, ~1 s left"
    ]
    assert log.restored(27.0, 45) == "state restored: 45 keys in 7.0 s"
    log.assigned(30.0)
    assert log.restored(30.5, 45) == "state restored: 45 keys in 0.5 s"


def test_no_progress_yet_gives_no_estimate() -> None:
    log = RecoveryLog(every_s=1.0)
    lines = _lines(log, [(0.0, True, 10), (1.0, True, 10)])
    assert lines[-1] == "restoring state: 0 of 10 changelog messages read (0 %) in 1 s"


def test_nothing_is_logged_while_no_recovery_runs() -> None:
    assert _lines(RecoveryLog(), [(float(t), False, 0) for t in range(10)]) == []
