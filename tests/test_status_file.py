"""Status files and ``hotline health`` without a process: reading, age, what is shown."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hotline.cli import app
from hotline.status_file import StatusFileError, describe, read_status, write_status

WORKER = {
    "stats": {
        "raw_in": 1200,
        "records_out": 300,
        "snapshots_out": 120,
        "dead_invalid": 3,
        "dead_late": 1,
        "dead_orphan": 0,
        "group_in": 1190,
    },
    "groups": {
        "330000": {
            "calls": 12,
            "watermark": "2026-03-02T09:59:00+00:00",
            "flushed": False,
            "flushed_at": None,
            "behind": ["hotline.raw.330000.calls:1", "hotline.raw.330000.calls:2"],
            "centers": {
                "C330100": "2026-03-02T09:58:41.250000+00:00",
                "C330200": "2026-03-02T09:44:00+00:00",
                "C330300": "2026-03-02T09:44:00.001000+00:00",
            },
        },
        "320000": {
            "calls": 3,
            "watermark": None,
            "behind": ["hotline.raw.320000.calls:0"],
            "unheard": ["hotline.raw.320000.calls:0", "hotline.raw.320000.qa:1"],
        },
        "000000": {"calls": 0, "watermark": None, "behind": []},
    },
    "state_keys": 35,
}


def _file(tmp_path: Path, body: dict, at: float) -> Path:
    path = tmp_path / "status.json"
    path.write_text(json.dumps({"process": "streams worker", "pid": 42, "at": at, **body}))
    return path


def test_a_fresh_worker_file_shows_counters_groups_quiet_centers_and_age(tmp_path: Path) -> None:
    status = read_status(_file(tmp_path, WORKER, at=1000.0), max_age_s=60, now=1002.5)
    assert status.age_s == 2.5
    assert describe(status) == [
        f"{tmp_path / 'status.json'}: streams worker (pid 42), written 2.5 s ago",
        "  raw in 1200, records out 300, dead letters 4 (invalid 3, late 1), snapshots out 120, "
        "state keys 35",
        "  group 000000: watermark none yet, 0 partitions behind, 0 calls open",
        "  group 320000: watermark none yet, 1 partitions behind, 2 holding it with no event yet, "
        "3 calls open",
        "  group 330000: watermark 2026-03-02T09:59:00+00:00, 2 partitions behind, 12 calls open",
        "    no event for 15 min or more before the watermark: C330200 (latest 2026-03-02 09:44 "
        "UTC)",
    ]


RECOVERING = {
    "phase": "recovering",
    "recovery": {"remaining": 8785, "total": 36087},
    "stats": {"raw_in": 0},
    "groups": {},
    "state_keys": 20359,
}


def test_a_recovering_worker_is_alive_and_says_how_far_it_is(tmp_path: Path) -> None:
    status = read_status(_file(tmp_path, RECOVERING, at=1000.0), max_age_s=60, now=1000.5)
    assert describe(status) == [
        f"{tmp_path / 'status.json'}: streams worker (pid 42), written 0.5 s ago",
        "  recovering its state from the changelog: 27,302 of 36,087 messages read (76 %), "
        "8,785 left",
        "  raw in 0, records out 0, dead letters 0, snapshots out 0, state keys 20359",
    ]
    early = {**RECOVERING, "recovery": {"remaining": 0, "total": 0}}
    assert describe(read_status(_file(tmp_path, early, at=1000.0), 60, now=1000.5))[1] == (
        "  recovering its state from the changelog (messages left not known yet)"
    )
    running = {**WORKER, "phase": "running"}
    assert describe(read_status(_file(tmp_path, running, at=1000.0), 60, now=1002.5)) == (
        describe(read_status(_file(tmp_path, WORKER, at=1000.0), 60, now=1002.5))
    )


def test_a_recovering_worker_whose_file_is_stale_is_hung_or_dead(tmp_path: Path) -> None:
    path = _file(tmp_path, RECOVERING, at=1000.0)
    with pytest.raises(StatusFileError) as caught:
        read_status(path, max_age_s=60, now=1061.0)
    assert str(caught.value) == (
        f"{path}: written 61 s ago, more than --max-age 60 s: streams worker (pid 42) is hung "
        "or dead; it was recovering its state from the changelog: 27,302 of 36,087 messages "
        "read (76 %), 8,785 left"
    )


def test_a_starting_worker_says_it_joins_its_group_alive_or_stale(tmp_path: Path) -> None:
    starting = {"phase": "starting", "stats": {}, "groups": {}, "state_keys": 0}
    path = _file(tmp_path, starting, at=1000.0)
    assert describe(read_status(path, max_age_s=60, now=1001.0)) == [
        f"{path}: streams worker (pid 42), written 1.0 s ago",
        "  starting: joining its consumer group, no partitions assigned yet",
        "  raw in 0, records out 0, dead letters 0, snapshots out 0, state keys 0",
    ]
    with pytest.raises(StatusFileError) as caught:
        read_status(path, max_age_s=60, now=1061.0)
    assert str(caught.value).endswith(
        "is hung or dead; it was starting: joining its consumer group, no partitions assigned yet"
    )


def test_a_rebalancing_worker_says_so_alive_or_stale(tmp_path: Path) -> None:
    body = {"phase": "rebalancing", "stats": {"raw_in": 5}, "groups": {}, "state_keys": 9}
    path = _file(tmp_path, body, at=1000.0)
    assert describe(read_status(path, max_age_s=60, now=1001.0))[1] == (
        "  rebalancing: its consumer group hands partitions over, processing paused"
    )
    with pytest.raises(StatusFileError) as caught:
        read_status(path, max_age_s=60, now=1061.0)
    assert str(caught.value).endswith(
        "is hung or dead; it was rebalancing: its consumer group hands partitions over, "
        "processing paused"
    )


def test_a_worker_shows_its_latest_rebalance_while_it_lasts_and_after(tmp_path: Path) -> None:
    """A rebalance may last milliseconds (a quick join): the phase is gone by the next look,
    the line of its latest one stays (UTC, the pause to the end of its recovery)."""
    body = {"phase": "running", "stats": {}, "groups": {}, "state_keys": 1}
    lasting = body | {"last_rebalance": {"at": 1796224478.4176, "paused_s": None}}
    path = _file(tmp_path, lasting, at=1796224479.0)
    assert describe(read_status(path, max_age_s=60, now=1796224479.5))[2] == (
        "  last rebalance 2026-12-02 15:14:38 UTC: in progress"
    )
    done = body | {"last_rebalance": {"at": 1796224478.4176, "paused_s": 1.1016}}
    path = _file(tmp_path, done, at=1796224480.0)
    assert describe(read_status(path, max_age_s=60, now=1796224480.5))[2] == (
        "  last rebalance 2026-12-02 15:14:38 UTC: processing paused 1.1 s"
    )
    path = _file(tmp_path, body | {"last_rebalance": None}, at=1000.0)
    assert not any("rebalance" in line for line in describe(read_status(path, 60, now=1000.5)))


def test_health_exits_0_for_a_recovering_worker_and_prints_its_progress(tmp_path: Path) -> None:
    path = tmp_path / "status.json"
    write_status(path, "streams worker", RECOVERING)
    result = CliRunner().invoke(app, ["health", str(path), "--max-age", "30"])
    assert result.exit_code == 0, result.output
    assert "\n  recovering its state from the changelog: 27,302 of 36,087 messages read " in (
        result.stdout
    )


def test_the_sink_file_shows_its_own_counters(tmp_path: Path) -> None:
    path = tmp_path / "sink.json"
    write_status(path, "sink", {"stats": {"messages": 9, "committed": 8, "rows": 12, "retries": 2}})
    lines = describe(read_status(path, max_age_s=60))
    assert lines[0].startswith(f"{path}: sink (pid ")
    assert lines[1:] == ["  messages 9, committed 8, rows 12, dead letters 0, retries 2"]
    assert not path.with_suffix(".tmp").exists()  # written by a rename


def test_older_than_the_max_age_is_hung_or_dead(tmp_path: Path) -> None:
    path = _file(tmp_path, WORKER, at=1000.0)
    assert read_status(path, max_age_s=60, now=1060.0).age_s == 60  # at the limit: alive
    with pytest.raises(StatusFileError) as caught:
        read_status(path, max_age_s=60, now=1061.0)
    assert str(caught.value) == (
        f"{path}: written 61 s ago, more than --max-age 60 s: streams worker (pid 42) is hung "
        "or dead"
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no status file"),
        ("", "unreadable status file: Expecting value"),
        ('{"at": 1000', "unreadable status file"),
        (b"\xff\xfe", "unreadable status file"),
        ("[1, 2]", "not a status file"),
        ('{"at": "yesterday", "stats": {}}', "not a status file"),
        ('{"at": 1000}', "not a status file"),
    ],
)
def test_missing_or_unreadable_is_one_clear_error(
    tmp_path: Path, content: str | bytes | None, message: str
) -> None:
    path = tmp_path / "status.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    with pytest.raises(StatusFileError, match=rf"^{path}: {message}"):
        read_status(path, max_age_s=60, now=1000.0)


def test_a_folder_is_unreadable(tmp_path: Path) -> None:
    with pytest.raises(StatusFileError, match=rf"^{tmp_path}: unreadable status file: "):
        read_status(tmp_path, max_age_s=60)


def test_health_prints_each_file_and_exits_1_naming_the_bad_one(tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    write_status(good, "sink", {"stats": {}})
    missing = tmp_path / "missing.json"
    result = CliRunner().invoke(app, ["health", str(good), str(missing), "--max-age", "30"])
    assert result.exit_code == 1
    assert result.stdout.startswith(f"{good}: sink (pid ")
    assert result.stderr == f"error: {missing}: " + (
        "no status file (the process has not written one yet, is not running, or writes "
        "elsewhere: its --status-file)\n"
    )
    result = CliRunner().invoke(app, ["health", str(good)])
    assert result.exit_code == 0, result.output
