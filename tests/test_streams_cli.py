"""``hotline streams worker --workers N``: what each child process is started with."""

from __future__ import annotations

from pathlib import Path

import pytest

from hotline.streams.cli import child_argv


@pytest.mark.parametrize(
    "argv",
    [
        ["streams", "worker", "--workers", "2", "--replay"],
        ["streams", "worker", "--workers=2", "--replay"],
        ["streams", "worker", "--replay", "--workers", "2", "--datadir", "/data/w"],
        ["streams", "worker", "--datadir=/data/w", "--replay", "--workers=2"],
    ],
)
def test_each_child_is_one_worker_with_its_own_data_dir(argv: list[str]) -> None:
    datadir = Path("/data/w") if any("/data/w" in a for a in argv) else Path(".hotline/streams")
    child = child_argv(argv, 1, datadir, None)
    assert child == [
        "streams",
        "worker",
        "--replay",
        "--workers",
        "1",
        "--datadir",
        f"{datadir}-1",
    ]


def test_each_child_writes_its_own_status_file() -> None:
    argv = ["streams", "worker", "--status-file", "/run/status.json", "--workers", "3"]
    child = child_argv(argv, 2, Path(".hotline/streams"), Path("/run/status.json"))
    assert child[-2:] == ["--status-file", "/run/status-2.json"]
    assert child.count("--status-file") == 1 and "3" not in child
