"""Progress of the state table's recovery, as log lines an operator can follow.

A restarted worker reads its changelog back before it processes anything (memory store; see
docs/streams.md, "Restart"), and Faust starts the app's tasks and timers only after that first
recovery: for a minute or more after a restart the worker said nothing. Now each partition
assignment is noted (:meth:`RecoveryLog.assigned`), Faust's recovery is sampled five times a
second (:meth:`RecoveryLog.see`: a line when one starts, then one every ``every_s``), and the
table's recovery callback gives the last line (:meth:`RecoveryLog.restored`), also after a
recovery too short to be sampled. The messages counted are those left at the first sample
(the first fraction of a second is missed), in Faust's own measure: offsets, which count a
compacted topic's gaps too.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RecoveryLog"]


@dataclass(slots=True)
class RecoveryLog:
    """Turns partition assignments, samples and completed recoveries into log lines."""

    every_s: float = 5.0
    """Seconds between two progress lines of one recovery."""
    _assigned: float | None = None
    _started: float | None = None
    _reported: float = 0.0
    _total: int = 0
    """The most changelog messages seen left to read in this recovery."""

    @property
    def total(self) -> int:
        """The most changelog messages seen left to read in the current recovery (0 before
        its first sample)."""
        return self._total

    def assigned(self, now: float) -> None:
        """Partitions were assigned at ``now`` (monotonic seconds): a recovery follows."""
        self._assigned = now

    def see(self, now: float, recovering: bool, remaining: int) -> str | None:
        """The line to log for this sample (``remaining``: changelog messages still to read),
        if any."""
        if not recovering:
            return None
        if self._started is None:
            self._started = self._reported = now
            self._total = remaining
            known = f": {remaining:,} messages left to read" if remaining else ""
            return f"restoring state from the changelog{known}"
        self._total = max(self._total, remaining)
        if now - self._reported < self.every_s:
            return None
        self._reported = now
        read, took = self._total - remaining, now - self._started
        share = f" ({100 * read / self._total:.0f} %)" if self._total else ""
        left = f", ~{remaining * took / read:.0f} s left" if read else ""
        return (
            f"restoring state: {read:,} of {self._total:,} changelog messages read{share}"
            f" in {took:.0f} s{left}"
        )

    def restored(self, now: float, keys: int) -> str:
        """The line for a completed recovery that left the table with ``keys`` keys (its time
        counted from the assignment)."""
        began = self._started if self._assigned is None else self._assigned
        took = now - began if began is not None else 0.0
        self._assigned = self._started = None
        self._total = 0
        return f"state restored: {keys:,} keys in {took:.1f} s"
