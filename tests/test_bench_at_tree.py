"""bench/at_tree.py: a script run through it imports ``hotline`` from another source tree
(bench/worker_steps.py --against REV compares two commits with it)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_a_script_imports_hotline_from_the_given_tree(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "hotline").mkdir(parents=True)
    (tree / "streams").mkdir()
    folders = '{ "hotline" = "hotline", "hotline.streams" = "streams" }'
    (tree / "pyproject.toml").write_text(f"[tool.setuptools]\npackage-dir = {folders}\n")
    (tree / "hotline" / "__init__.py").write_text("")
    (tree / "streams" / "__init__.py").write_text("")
    (tree / "streams" / "calls.py").write_text("WHO = 'the other tree'\n")
    script = tmp_path / "script.py"
    script.write_text(
        "import hotline.streams.calls as calls, hotline.regions\nprint(calls.WHO, calls.__file__)\n"
    )
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "at_tree.py"), str(tree), str(script)],
        capture_output=True,
        text=True,
    )
    # hotline.regions is not in that tree: the tree replaces the package, it does not mix
    assert "No module named 'hotline.regions' in" in done.stderr
    script.write_text("import hotline.streams.calls as calls\nprint(calls.WHO, calls.__file__)\n")
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "at_tree.py"), str(tree), str(script)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.split() == ["the", "other", "tree", str(tree / "streams" / "calls.py")]
    mine = subprocess.run(  # without it, this checkout's package
        [sys.executable, str(script)], capture_output=True, text=True
    )
    assert "has no attribute 'WHO'" in mine.stderr


def test_worker_steps_runs_the_other_side_under_the_given_interpreter(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    python = tmp_path / "python"
    python.write_text(f'#!/bin/sh\necho "$@" >> {marker}\nexec {sys.executable} "$@"\n')
    python.chmod(0o755)
    argv = [sys.executable, str(ROOT / "bench" / "worker_steps.py"), "--events", "400"]
    done = subprocess.run(
        [*argv, "--rounds", "1", "--python", str(python)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "--child" in marker.read_text()  # one child ran under the given interpreter
    assert f"round 1: ratio {python} / this interpreter:" in done.stdout
