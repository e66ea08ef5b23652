"""Run a script with the ``hotline`` packages of another source tree (e.g. a git worktree of
an earlier commit), for benchmarks that compare two versions side by side:

    python bench/at_tree.py TREE SCRIPT [ARGS...]

The folders come from TREE's ``pyproject.toml`` (``[tool.setuptools] package-dir``), so the
editable install of this checkout is bypassed for ``hotline`` only; every other package is the
virtualenv's.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import runpy
import sys
import tomllib
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType


class TreeFinder(importlib.abc.MetaPathFinder):
    """Finds ``hotline`` and its modules in a source tree's folders only: a module missing
    there is missing, not taken from this checkout."""

    def __init__(self, tree: Path) -> None:
        setuptools = tomllib.loads((tree / "pyproject.toml").read_text())["tool"]["setuptools"]
        self.tree = tree
        self.folders = {name: tree / folder for name, folder in setuptools["package-dir"].items()}

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        folder = self.folders.get(fullname)
        if folder is not None:
            return importlib.util.spec_from_file_location(
                fullname, folder / "__init__.py", submodule_search_locations=[str(folder)]
            )
        if fullname.partition(".")[0] not in self.folders:
            return None  # not hotline
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None:
            raise ModuleNotFoundError(f"No module named {fullname!r} in {self.tree}")
        return spec


def main() -> None:
    if sys.argv[1:2] in (["-h"], ["--help"]):
        print(__doc__)
        return
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    tree, script, *args = sys.argv[1:]
    sys.meta_path.insert(0, TreeFinder(Path(tree).resolve()))
    sys.argv = [script, *args]
    sys.path.insert(0, str(Path(script).resolve().parent))
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
