"""The ClickHouse server process: ``python -m hotline.infra.clickhouse_child --home DIR``.

This rests on a private entry point of the pinned ``chdb-core`` wheel (tests pin it down):

1. never import the ``chdb`` package (its ``__init__`` starts an in-process engine that can
   never listen); locate it with ``find_spec`` and load ``chdb/_chdb.abi3.so`` directly, with
   ``RTLD_DEEPBIND`` as ``chdb/__init__.py`` does, then import that file as module ``_chdb``;
2. make ``DIR`` (holding ``config.xml``: ports, ``users_config``, logger) the working
   directory, which is where the engine looks for its configuration;
3. run ``SYSTEM START LISTEN TCP; SYSTEM START LISTEN HTTP;`` followed by a statement that
   reads stdin to its end. While it blocks, the engine serves both protocols.

Stdin is a pipe whose write end this process holds itself, so no other process can end the
server by exiting. SIGTERM/SIGINT are blocked in every thread and taken by a watcher thread
with ``sigwait``: it closes the write end, the blocking statement ends, the query returns and
the process exits 0. A SIGKILL is safe too (written parts are on disk).
"""

from __future__ import annotations

import argparse
import ctypes
import importlib.util
import os
import signal
import sys
import threading
from pathlib import Path
from types import ModuleType

SERVE_SQL = (
    "SYSTEM START LISTEN TCP; SYSTEM START LISTEN HTTP; "
    "SELECT count() FROM file('/dev/stdin', 'LineAsString')"
)
EXTENSION = "_chdb.abi3.so"


def load_engine() -> ModuleType:
    """Load chdb's extension module without importing the ``chdb`` package."""
    spec = importlib.util.find_spec("chdb")
    if spec is None or spec.origin is None:
        raise RuntimeError("the chdb-core package is not installed in this Python")
    package_dir = Path(spec.origin).parent
    extension = package_dir / EXTENSION
    if not extension.is_file():
        raise RuntimeError(f"{extension} is missing: chdb-core changed its layout")
    cwd = Path.cwd()
    os.chdir(package_dir)  # as chdb/__init__.py does while it loads the extension
    try:
        flags = sys.getdlopenflags() | os.RTLD_DEEPBIND | os.RTLD_GLOBAL
        ctypes.CDLL(str(extension), mode=flags)
        module_spec = importlib.util.spec_from_file_location("_chdb", extension)
        if module_spec is None or module_spec.loader is None:
            raise RuntimeError(f"cannot import {extension} as a module")
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
    finally:
        os.chdir(cwd)
    if not callable(getattr(module, "query", None)):
        raise RuntimeError(f"{extension} has no query(): chdb-core changed its private API")
    return module


def _hold_stdin_open() -> int:
    """Make stdin a pipe that only this process can close; return the write end."""
    read_end, write_end = os.pipe()
    os.dup2(read_end, 0)
    os.close(read_end)
    return write_end


def _close_on_signal(write_end: int) -> threading.Event:
    signals = {signal.SIGTERM, signal.SIGINT}
    # Blocked before the engine starts its threads, so they inherit the mask and only the
    # watcher receives the signal.
    signal.pthread_sigmask(signal.SIG_BLOCK, signals)

    def watch() -> None:
        received = signal.sigwait(signals)
        print(f"clickhouse child: {signal.Signals(received).name}, stopping", flush=True)
        stopping.set()
        os.close(write_end)

    stopping = threading.Event()
    threading.Thread(target=watch, name="stop-watcher", daemon=True).start()
    return stopping


def serve(home: Path) -> int:
    """Serve until SIGTERM/SIGINT; return the exit code."""
    if not (home / "config.xml").is_file():
        print(f"clickhouse child: {home / 'config.xml'} is missing", file=sys.stderr)
        return 2
    if "chdb" in sys.modules:
        print("clickhouse child: the chdb package is imported; cannot serve", file=sys.stderr)
        return 2
    stopping = _close_on_signal(_hold_stdin_open())
    engine = load_engine()
    os.chdir(home)
    print(f"clickhouse child: pid {os.getpid()} serving from {home}", flush=True)
    result = engine.query(SERVE_SQL, "TSV", path=str(home / "data"))
    if result.has_error():
        print(f"clickhouse child: {result.error_message()}", file=sys.stderr, flush=True)
        return 1
    if not stopping.is_set():
        # A failed START LISTEN (port taken) is printed by the engine and ends the query early.
        print("clickhouse child: the serving query ended unasked; see above", flush=True)
        return 1
    print("clickhouse child: stopped", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hotline.infra.clickhouse_child")
    parser.add_argument("--home", type=Path, required=True, help="folder with config.xml")
    args = parser.parse_args(argv)
    return serve(args.home.resolve())


if __name__ == "__main__":
    sys.exit(main())
