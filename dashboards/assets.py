"""ECharts for the dashboards, from the npm registry, never committed and never from a CDN.

``assets/package.json`` and its lock pin the version. :func:`fetch_assets` copies both into a
build folder outside the package (so ``node_modules`` never lands in a wheel), runs ``npm ci``
there and copies ``echarts/dist/echarts.min.js`` to ``static/vendor/`` (git-ignored).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from hotline.errors import ConfigurationError

HERE = Path(__file__).resolve().parent
MANIFEST = HERE / "assets"
VENDOR = HERE / "static" / "vendor"
ECHARTS = VENDOR / "echarts.min.js"
HOW = "run `hotline dashboard assets` (needs Node.js's npm and the npm registry)"


def missing_assets() -> list[str]:
    """Files of the front end that are not there yet."""
    return [] if ECHARTS.exists() else [str(ECHARTS)]


def fetch_assets(build_dir: Path) -> Path:
    """``npm ci`` in ``build_dir`` from the pinned manifest; returns the copied echarts file."""
    npm = shutil.which("npm")
    if npm is None:
        raise ConfigurationError(f"npm not found: install Node.js (20+) to {HOW}")
    build_dir.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "package-lock.json"):
        shutil.copy2(MANIFEST / name, build_dir / name)
    done = subprocess.run(
        [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
        cwd=build_dir,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise ConfigurationError(f"npm ci failed in {build_dir}: {done.stderr.strip()[-500:]}")
    built = build_dir / "node_modules" / "echarts" / "dist" / "echarts.min.js"
    if not built.exists():
        raise ConfigurationError(f"npm ci ran but {built} is missing")
    VENDOR.mkdir(parents=True, exist_ok=True)
    shutil.copy2(built, ECHARTS)
    return ECHARTS
