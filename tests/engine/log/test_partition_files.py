"""PartitionLog on the files backend: segments, indexes, recovery from torn tails, restart state."""

from __future__ import annotations

import os

import pytest

from engine.clock import FakeClock
from engine.log.partition import PartitionLog
from engine.log.storage import FileStorage
from engine.topic_config import TopicConfig
from engine.types import TopicPartition
from tests.engine.log.batches import batch_offsets, build_batch

TP = TopicPartition(topic="t", partition=0)


def open_log(folder, **config) -> PartitionLog:
    log = PartitionLog(TP, storage=FileStorage(folder), config=TopicConfig(**config), now_ms=FakeClock().now_ms)
    log.open()
    return log


def read_everything(log: PartitionLog) -> list[tuple[int, int]]:
    out, offset = [], log.log_start_offset
    while offset < log.high_watermark:
        chunk = log.read(offset, 1 << 20)
        batches = batch_offsets(chunk)
        out.extend(batches)
        offset = batches[-1][1] + 1
    return out


def fill(log: PartitionLog, count: int, size: int = 100) -> None:
    for i in range(count):
        log.append(build_batch([b"%d" % i + b"x" * size, b"second"]))


def test_segment_files_are_named_by_base_offset(tmp_path):
    log = open_log(tmp_path, segment_bytes=1000)
    fill(log, 20)
    log.close()
    logs = sorted(p.name for p in tmp_path.glob("*.log"))
    assert logs[0] == "00000000000000000000.log" and len(logs) > 3
    assert all(len(name) == 24 for name in logs)
    assert (tmp_path / "00000000000000000000.index").exists()
    assert (tmp_path / "00000000000000000000.timeindex").exists()


def test_reopen_after_clean_close_keeps_everything(tmp_path):
    log = open_log(tmp_path, segment_bytes=1000)
    fill(log, 30)
    before = read_everything(log)
    log.close()
    again = open_log(tmp_path, segment_bytes=1000)
    assert again.high_watermark == 60
    assert read_everything(again) == before
    assert again.append(build_batch([b"next"])).base_offset == 60
    again.close()


@pytest.mark.parametrize("tail", [b"\x00" * 7, b"garbage-bytes" * 10, "half-batch", "bad-crc"])
def test_torn_tail_is_truncated_and_never_served(tmp_path, tail):
    log = open_log(tmp_path)
    fill(log, 5)
    log.close()
    path = tmp_path / "00000000000000000000.log"
    good_size = path.stat().st_size
    batch = bytearray(build_batch([b"torn" * 50], base_offset=10))
    if tail == "half-batch":
        tail = bytes(batch[: len(batch) // 2])
    elif tail == "bad-crc":
        batch[-1] ^= 0xFF
        tail = bytes(batch)
    with open(path, "ab") as f:
        f.write(tail)
    again = open_log(tmp_path)
    assert path.stat().st_size == good_size
    assert again.high_watermark == 10
    assert [b for b, _ in read_everything(again)] == [0, 2, 4, 6, 8]
    assert again.append(build_batch([b"after"])).base_offset == 10
    again.close()


def test_torn_tail_without_clean_close(tmp_path):
    """A crash: no close(), so indexes and producer snapshot are stale; recovery still works."""
    log = open_log(tmp_path, segment_bytes=2000)
    fill(log, 40)
    hwm = log.high_watermark
    # Simulate kill -9: drop the object without closing and tear the active segment.
    active = max(tmp_path.glob("*.log"))
    with open(active, "ab") as f:
        f.write(build_batch([b"partial" * 30], base_offset=hwm)[:40])
    again = open_log(tmp_path, segment_bytes=2000)
    assert again.high_watermark == hwm
    assert len(read_everything(again)) == 40
    again.close()


@pytest.mark.parametrize("damage", ["missing", "odd-size", "points-past-end"])
def test_broken_indexes_are_rebuilt(tmp_path, damage):
    log = open_log(tmp_path, segment_bytes=5000)
    for i in range(60):
        log.append(build_batch([b"x" * 300], timestamps=[1000 + i]))
    log.close()
    for index in tmp_path.glob("*.index"):
        if damage == "missing":
            index.unlink()
        elif damage == "odd-size":
            with open(index, "ab") as f:
                f.write(b"\x01\x02\x03")
        else:
            with open(index, "ab") as f:
                f.write((1000).to_bytes(4, "big") + (10**6).to_bytes(4, "big"))
    again = open_log(tmp_path, segment_bytes=5000)
    assert again.high_watermark == 60
    assert [b for b, _ in read_everything(again)] == list(range(60))
    assert batch_offsets(again.read(37, 1))[0] == (37, 37)
    assert again.offset_for_timestamp(1042).offset == 42
    again.close()
    # The rebuilt index is written back and trusted next time.
    assert all(i.stat().st_size % 8 == 0 and i.stat().st_size > 0 for i in tmp_path.glob("*.index"))


def test_sparse_index_lookups_in_a_large_segment(tmp_path):
    log = open_log(tmp_path)
    for i in range(500):
        log.append(build_batch([b"%d" % i + b"y" * 200], timestamps=[10_000 + i * 10]))
    segment = log._segments[-1]
    assert 10 < len(segment._index_offsets) < 500  # sparse: about one entry per 4 KiB
    for offset in (0, 1, 123, 250, 499):
        assert batch_offsets(log.read(offset, 1))[0][0] == offset
    assert log.offset_for_timestamp(10_000 + 333 * 10 - 5).offset == 333
    log.close()


def test_producer_state_survives_restart_with_and_without_snapshot(tmp_path):
    log = open_log(tmp_path)
    first = build_batch([b"a", b"b"], producer_id=9, producer_epoch=0, base_sequence=0)
    log.append(first)
    log.append(build_batch([b"c"], producer_id=9, producer_epoch=0, base_sequence=2))
    log.close()
    again = open_log(tmp_path)
    assert again.append(first).duplicate
    again.close()
    # Without the snapshot the state is rebuilt from the batch headers.
    os.unlink(tmp_path / "producer-state.json")
    third = open_log(tmp_path)
    dup = third.append(first)
    assert dup.duplicate and dup.base_offset == 0
    assert third.append(build_batch([b"d"], producer_id=9, producer_epoch=0, base_sequence=3)).base_offset == 3
    third.close()


def test_retention_deletes_files_and_log_start_persists(tmp_path):
    clock = FakeClock()
    log = PartitionLog(TP, storage=FileStorage(tmp_path), config=TopicConfig(retention_bytes=3000, segment_bytes=1000),
                       now_ms=clock.now_ms)
    log.open()
    fill(log, 40)
    files_before = len(list(tmp_path.glob("*.log")))
    assert log.enforce_retention(clock.now_ms()) > 0
    assert len(list(tmp_path.glob("*.log"))) < files_before
    start = log.log_start_offset
    assert start > 0
    log.delete_records(start + 3)
    log.close()
    again = open_log(tmp_path, retention_bytes=3000, segment_bytes=1000)
    assert again.log_start_offset == start + 3
    assert again.high_watermark == 80
    again.close()
