"""The on-disk spool: order, restart, bounds, crash recovery (no broker needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hotline.errors import Backpressure, ConfigurationError
from hotline.producers.base import OutboundRecord, SpoolCorrupt, SpoolFull
from hotline.producers.spool import MAGIC, Spool, decode_body, encode_record


def rec(i: int, topic: str = "hotline.raw.320000.calls") -> OutboundRecord:
    key = None if i % 7 == 0 else f"C{i}".encode()
    headers = (("event_type", b"call.offered"), ("event_id", f"id-{i}".encode()))
    return OutboundRecord(topic, key, f"value-{i}".encode() * (i % 5 + 1), headers)


def test_encode_decode_round_trip() -> None:
    for i in range(20):
        framed = encode_record(rec(i))
        assert decode_body(framed[8:]) == rec(i)


def test_order_across_segments_and_partial_commits(tmp_path: Path) -> None:
    spool = Spool(tmp_path, segment_bytes=1024)
    for start in range(0, 150, 10):  # a batch stays in one segment; segments roll between
        spool.append(rec(i) for i in range(start, start + 10))
    assert len(spool) == 150
    assert len(list(tmp_path.glob("*.seg"))) > 3  # rolled over
    seen: list[OutboundRecord] = []
    while len(spool):
        records, ends = spool.read(17)
        k = min(10, len(records))  # acknowledge a prefix only, as a drain step may
        seen += records[:k]
        spool.commit(ends[k - 1], k)
    assert seen == [rec(i) for i in range(150)]
    assert not list(tmp_path.glob("*.seg")) and not (tmp_path / "cursor").exists()
    spool.close()


def test_restart_resumes_at_the_cursor(tmp_path: Path) -> None:
    spool = Spool(tmp_path, segment_bytes=2048)
    spool.append(rec(i) for i in range(60))
    _, ends = spool.read(25)
    spool.commit(ends[-1], 25)
    spool.close()

    again = Spool(tmp_path, segment_bytes=2048)
    assert len(again) == 35
    assert again.records() == [rec(i) for i in range(25, 60)]
    again.append([rec(60)])  # appends go behind the old ones
    assert again.records()[-1] == rec(60)
    again.close()


def test_one_process_per_spool(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    with pytest.raises(ConfigurationError, match="in use by another producer"):
        Spool(tmp_path)
    spool.close()
    Spool(tmp_path).close()


def test_full_spool_raises_backpressure_naming_path_and_limit(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=4096, segment_bytes=1024)
    spool.append(rec(i) for i in range(20))
    with pytest.raises(SpoolFull) as caught:
        for i in range(20, 400):
            spool.append([rec(i)])
    assert isinstance(caught.value, Backpressure)
    assert str(tmp_path) in str(caught.value) and "4096" in str(caught.value)
    before = len(spool)
    records, ends = spool.read(before)
    assert records == [rec(i) for i in range(before)]  # nothing half-written
    spool.commit(ends[-1], before)
    spool.append([rec(999)])  # room again once drained
    spool.close()


def _last_segment(directory: Path) -> Path:
    return sorted(directory.glob("*.seg"))[-1]


@pytest.mark.parametrize("cut", [1, 5, 11, 30])
def test_torn_tail_is_cut_with_a_clear_message(tmp_path: Path, cut: int) -> None:
    spool = Spool(tmp_path)
    spool.append(rec(i) for i in range(10))
    spool.close()
    segment = _last_segment(tmp_path)
    data = segment.read_bytes()
    segment.write_bytes(data + encode_record(rec(10))[:cut])  # a crash mid-append

    again = Spool(tmp_path)
    assert again.recovered is not None
    assert "torn tail" in again.recovered and str(segment) in again.recovered
    assert f"offset {len(data)}" in again.recovered
    assert again.records() == [rec(i) for i in range(10)]
    assert segment.stat().st_size == len(data)
    again.append([rec(10)])
    assert again.records()[-1] == rec(10)
    again.close()


def test_flipped_byte_in_the_last_record_counts_as_torn(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.append(rec(i) for i in range(5))
    spool.close()
    segment = _last_segment(tmp_path)
    data = bytearray(segment.read_bytes())
    data[-1] ^= 0xFF
    segment.write_bytes(bytes(data))
    again = Spool(tmp_path)
    assert again.recovered is not None and "CRC mismatch" in again.recovered
    assert again.records() == [rec(i) for i in range(4)]
    again.close()


def test_damage_in_an_older_segment_is_refused(tmp_path: Path) -> None:
    spool = Spool(tmp_path, segment_bytes=512)
    spool.append(rec(i) for i in range(20))
    spool.append(rec(i) for i in range(20, 40))
    spool.close()
    first = sorted(tmp_path.glob("*.seg"))[0]
    data = bytearray(first.read_bytes())
    data[len(MAGIC) + 12] ^= 0xFF
    first.write_bytes(bytes(data))
    with pytest.raises(SpoolCorrupt, match=r"damaged at offset 8: CRC mismatch.*move the spool"):
        Spool(tmp_path, segment_bytes=512)
    # the lock was released: after moving the damaged file aside the spool opens
    first.rename(first.with_suffix(".bad"))
    Spool(tmp_path, segment_bytes=512).close()


def test_segment_without_header_is_refused(tmp_path: Path) -> None:
    spool = Spool(tmp_path, segment_bytes=256)
    spool.append(rec(i) for i in range(10))
    spool.append(rec(i) for i in range(10))
    spool.close()
    first = sorted(tmp_path.glob("*.seg"))[0]
    first.write_bytes(b"garbage!" + first.read_bytes()[8:])
    with pytest.raises(SpoolCorrupt, match="bad header"):
        Spool(tmp_path, segment_bytes=256)
