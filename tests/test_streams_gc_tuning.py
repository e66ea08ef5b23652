"""The worker's garbage-collector setting (streams/gc_tuning.py), in a fresh interpreter."""

from __future__ import annotations

import subprocess
import sys


def test_the_youngest_generation_collects_less_often_and_start_up_is_frozen() -> None:
    code = (
        "import gc; from hotline.streams.gc_tuning import collect_less_often, FIRST_GENERATION;"
        "before = gc.get_threshold(); collect_less_often();"
        "after = gc.get_threshold();"
        "assert after == (FIRST_GENERATION, *before[1:]) and FIRST_GENERATION > before[0], after;"
        "assert gc.get_freeze_count() > 1000, gc.get_freeze_count()"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
