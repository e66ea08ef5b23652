"""bench/zst_memory.py measures what it says: the listing identifies the ``.zst``, and the
resume reads all of it after its first line, then the current file."""

from __future__ import annotations

import sys
from pathlib import Path

from hotline.producers.queue_log.zstd import ZstdFile

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

from zst_memory import measure, write_logs


def test_the_steps_list_then_read_the_whole_zst(tmp_path) -> None:
    size, packed = write_logs(tmp_path, 2)
    with ZstdFile(tmp_path / "queue_log.1.zst") as rotated:
        content = rotated.read()
    assert len(content) == size >= 2_000_000 > packed
    current = (tmp_path / "queue_log").read_bytes()
    assert current.splitlines()[0] != content.splitlines()[0]  # another file
    peak, _, files = measure(tmp_path, "first-line").split()
    assert files == "1" and float(peak) >= 0
    _, _, lines = measure(tmp_path, "resume").split()
    assert int(lines) == content.count(b"\n") - 1 + current.count(b"\n")
