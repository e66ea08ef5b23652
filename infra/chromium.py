"""The browser the dashboards' browser tests and benchmarks drive: Debian's chromium (installed
by ``infra/system-deps.sh``; a Playwright browser download cannot work offline), headless."""

from __future__ import annotations

from pathlib import Path

__all__ = ["CHROMIUM", "HEADLESS_ARGS"]

CHROMIUM = Path("/usr/bin/chromium")
#: Flags for Playwright's ``chromium.launch(executable_path=…, args=…)``: no sandbox (root in
#: CI), no GPU, nothing that reaches the network on its own.
HEADLESS_ARGS: list[str] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
