"""Peak memory of the queue_log adapter reading a large zstd-compressed rotation.

Writes a queue_log of ``--mb`` MB (sample calls, fake callers), compressed as logrotate's
``compresscmd zstd`` leaves it (``queue_log.1.zst``) beside a short current ``queue_log``, then
measures two steps, each in a fresh interpreter: ``first-line`` lists the rotated files (which
reads the first line of each, to identify and order them), ``resume`` resumes from a state
saved after the first line of ``queue_log.1`` (so the whole ``.zst`` is read, then the current
file). Each step's peak resident memory is reported above the interpreter's
own before it (hotline imported: ``VmHWM`` reset, less ``VmRSS``), with its time. Linux only.

    .venv/bin/python bench/zst_memory.py [--mb 200] [--dir DIR]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from hotline.producers.queue_log.sample import generate_sample
from hotline.producers.queue_log.source import LogSource, file_id
from hotline.producers.queue_log.state import FilePosition
from hotline.producers.queue_log.zstd import ZstdFile

STEPS = ("first-line", "resume")
#: Calls per generated chunk (about 1.35 MB of log).
_CHUNK_CALLS = 5000
#: The start of the current file: the day after the samples' default start.
_NEXT_DAY = datetime(2025, 3, 4, 8, 30, tzinfo=ZoneInfo("Asia/Shanghai"))


def write_logs(folder: Path, mb: int) -> tuple[int, int]:
    """``queue_log.1.zst`` (``mb`` MB uncompressed) and ``queue_log`` in ``folder``; their
    uncompressed and compressed sizes in bytes."""
    size, seed = 0, 0
    with ZstdFile(folder / "queue_log.1.zst", "w") as out:
        while size < mb * 1_000_000:
            lines, _ = generate_sample(seed=seed, calls=_CHUNK_CALLS)
            data = "".join(line + "\n" for line in lines).encode()
            out.write(data)
            size, seed = size + len(data), seed + 1
    lines, _ = generate_sample(seed=seed, calls=10, start=_NEXT_DAY)  # another first line
    (folder / "queue_log").write_text("".join(line + "\n" for line in lines))
    return size, (folder / "queue_log.1.zst").stat().st_size


def _status_kib(field: str) -> int:
    """``VmRSS`` (resident now) or ``VmHWM`` (its peak) of this process, in KiB."""
    match = re.search(rf"^{field}:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.M)
    assert match, field
    return int(match.group(1))


def measure(folder: Path, step: str) -> str:
    """Run ``step`` on ``folder``'s logs in this interpreter: "peak MiB above the start,
    seconds, lines read" (``first-line``: the number of rotated files identified)."""
    log = folder / "queue_log"
    Path("/proc/self/clear_refs").write_text("5")  # the peak starts again from here
    before, started = _status_kib("VmRSS"), time.perf_counter()
    if step == "first-line":
        lines = len(LogSource(log)._rotated())  # what a restart lists first
    else:
        with ZstdFile(folder / "queue_log.1.zst") as rotated:
            first = rotated.readline()
        start = FilePosition(log.name, file_id(first), offset=len(first), line=1)
        lines = sum(1 for _ in LogSource(log, start).lines())
    seconds = time.perf_counter() - started
    return f"{(_status_kib('VmHWM') - before) / 1024:.1f} {seconds:.2f} {lines}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=200, help="uncompressed MB of queue_log.1")
    parser.add_argument("--dir", type=Path, help="where to write the logs (default: a temp dir)")
    parser.add_argument("--measure", choices=STEPS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(measure(args.dir, args.measure))
        return
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        folder = Path(tmp)
        size, packed = write_logs(folder, args.mb)
        print(f"queue_log.1.zst: {size / 1e6:.0f} MB uncompressed, {packed / 1e6:.1f} MB on disk")
        print(f"{'step':<12} {'peak MiB':>9} {'seconds':>8} {'lines':>9}")
        for step in STEPS:
            out = subprocess.run(
                [sys.executable, __file__, "--measure", step, "--dir", tmp],
                check=True,
                capture_output=True,
                text=True,
            ).stdout.split()
            peak, seconds, lines = out
            print(f"{step:<12} {float(peak):>9.1f} {float(seconds):>8.2f} {int(lines):>9}")


if __name__ == "__main__":
    main()
