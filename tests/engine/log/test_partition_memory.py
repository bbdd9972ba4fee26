"""PartitionLog on the memory backend: append, read, offsets, lookups, producer state, retention."""

from __future__ import annotations

import pytest

from engine.clock import FakeClock
from engine.errors import (CorruptRecord, InvalidProducerEpoch, OffsetOutOfRange, OutOfOrderSequence,
                           RecordTooLarge, StorageError, UnsupportedRecordFormat)
from engine.log.partition import PartitionLog
from engine.log.segment import MemoryData
from engine.log.storage import MemoryStorage
from engine.topic_config import TopicConfig
from engine.types import TopicPartition
from tests.engine.log.batches import batch_offsets, build_batch

TP = TopicPartition(topic="t", partition=0)


def new_log(clock=None, **config) -> PartitionLog:
    clock = clock or FakeClock()
    log = PartitionLog(TP, storage=MemoryStorage(), config=TopicConfig(**config), now_ms=clock.now_ms)
    log.open()
    return log


def test_append_assigns_offsets_and_keeps_bytes():
    log = new_log()
    first = build_batch([b"a", b"b", b"c"])
    second = build_batch([b"d"])
    r1 = log.append(first)
    r2 = log.append(second)
    assert (r1.base_offset, r1.last_offset) == (0, 2)
    assert (r2.base_offset, r2.last_offset) == (3, 3)
    assert log.high_watermark == log.last_stable_offset == 4
    data = log.read(0, 1 << 20)
    assert batch_offsets(data) == [(0, 2), (3, 3)]
    # Everything but the base offset is verbatim.
    assert data[8:len(first)] == first[8:]
    assert data[len(first) + 8:] == second[8:]


def test_multiple_batches_in_one_append():
    log = new_log()
    r = log.append(build_batch([b"a", b"b"]) + build_batch([b"c"]))
    assert (r.base_offset, r.last_offset) == (0, 2)
    assert batch_offsets(log.read(0, 1000)) == [(0, 1), (2, 2)]


def test_read_from_inside_a_batch_returns_that_whole_batch():
    log = new_log()
    log.append(build_batch([b"a", b"b", b"c"]))
    log.append(build_batch([b"d", b"e"]))
    assert batch_offsets(log.read(1, 1 << 20)) == [(0, 2), (3, 4)]
    assert batch_offsets(log.read(4, 1 << 20)) == [(3, 4)]


def test_read_max_bytes_whole_batches_at_least_one():
    log = new_log()
    batch = build_batch([b"x" * 100])
    for _ in range(10):
        log.append(batch)
    assert batch_offsets(log.read(0, 1)) == [(0, 0)]  # KIP-74: one whole batch even if larger
    assert len(batch_offsets(log.read(0, 3 * len(batch) + 5))) == 3
    assert len(log.read(0, 3 * len(batch))) == 3 * len(batch)


def test_read_at_hwm_is_empty_and_out_of_range_raises():
    log = new_log()
    log.append(build_batch([b"a"]))
    assert log.read(1, 100) == b""
    with pytest.raises(OffsetOutOfRange):
        log.read(2, 100)
    with pytest.raises(OffsetOutOfRange):
        log.read(-1, 100)


def test_validation_errors():
    log = new_log(max_message_bytes=200)
    good = build_batch([b"a"])
    with pytest.raises(CorruptRecord):
        log.append(good[:-1])
    bad_crc = bytearray(good)
    bad_crc[-1] ^= 0xFF
    with pytest.raises(CorruptRecord):
        log.append(bytes(bad_crc))
    with pytest.raises(UnsupportedRecordFormat):
        log.append(build_batch([b"a"], magic=1))
    with pytest.raises(RecordTooLarge):
        log.append(build_batch([b"x" * 300]))
    with pytest.raises(CorruptRecord):
        log.append(b"")
    # A bad second batch rejects the whole request.
    with pytest.raises(CorruptRecord):
        log.append(good + bytes(bad_crc))
    assert log.high_watermark == 0


def test_offset_for_timestamp_finds_the_record_inside_a_batch():
    log = new_log()
    log.append(build_batch([b"a", b"b", b"c"], timestamps=[1000, 2000, 3000]))
    log.append(build_batch([b"d", b"e"], timestamps=[4000, 5000], compression=4))
    assert log.offset_for_timestamp(0).offset == 0
    found = log.offset_for_timestamp(1500)
    assert (found.offset, found.timestamp) == (1, 2000)
    assert log.offset_for_timestamp(4500).offset == 4
    assert log.offset_for_timestamp(5001) is None
    top = log.max_timestamp_offset()
    assert (top.offset, top.timestamp) == (4, 5000)


@pytest.mark.parametrize("codec", [1, 2, 3, 4])
def test_timestamp_lookup_in_every_codec(codec):
    log = new_log()
    log.append(build_batch([b"v%d" % i for i in range(10)], timestamps=[100 * i for i in range(1, 11)],
                           compression=codec))
    assert log.offset_for_timestamp(550).offset == 5


def test_idempotent_retry_is_answered_with_original_offsets():
    log = new_log()
    log.append(build_batch([b"other"]))
    first = build_batch([b"a", b"b"], producer_id=7, producer_epoch=0, base_sequence=0)
    r1 = log.append(first)
    r2 = log.append(first)
    assert r2.duplicate and (r2.base_offset, r2.last_offset) == (r1.base_offset, r1.last_offset) == (1, 2)
    assert log.high_watermark == 3
    log.append(build_batch([b"c"], producer_id=7, producer_epoch=0, base_sequence=2))
    with pytest.raises(OutOfOrderSequence):
        log.append(build_batch([b"e"], producer_id=7, producer_epoch=0, base_sequence=5))
    # A new epoch must start at sequence 0; then the old epoch is fenced.
    with pytest.raises(OutOfOrderSequence):
        log.append(build_batch([b"g"], producer_id=7, producer_epoch=1, base_sequence=4))
    log.append(build_batch([b"g"], producer_id=7, producer_epoch=1, base_sequence=0))
    with pytest.raises(InvalidProducerEpoch):
        log.append(build_batch([b"h"], producer_id=7, producer_epoch=0, base_sequence=3))


def test_only_the_last_five_batches_are_deduplicated():
    log = new_log()
    batches = [build_batch([b"%d" % i], producer_id=1, producer_epoch=0, base_sequence=i) for i in range(7)]
    for b in batches:
        log.append(b)
    assert log.append(batches[6]).duplicate
    assert log.append(batches[2]).duplicate
    with pytest.raises(OutOfOrderSequence):
        log.append(batches[1])  # fell out of the window: a sequence gap, as Kafka answers


def test_unknown_producer_may_start_at_any_sequence():
    log = new_log()
    r = log.append(build_batch([b"a"], producer_id=3, producer_epoch=0, base_sequence=42))
    assert r.base_offset == 0 and not r.duplicate


def test_segment_roll_and_reads_across_segments():
    log = new_log(segment_bytes=300)
    batch = build_batch([b"x" * 100])
    for _ in range(10):
        log.append(batch)
    assert len(log._segments) > 3
    data = b""
    offset = 0
    while offset < log.high_watermark:
        chunk = log.read(offset, 1 << 20)
        offset = batch_offsets(chunk)[-1][1] + 1
        data += chunk
    assert [b for b, _ in batch_offsets(data)] == list(range(10))


def test_retention_by_time_with_fake_clock():
    clock = FakeClock()
    log = new_log(clock, retention_ms=10_000, segment_bytes=300)
    now = clock.now_ms()
    for i in range(6):
        log.append(build_batch([b"x" * 100], base_timestamp=now))
    assert log.enforce_retention(clock.now_ms()) == 0
    clock.advance(10_001)
    assert log.enforce_retention(clock.now_ms()) > 0
    assert log.log_start_offset == log.high_watermark == 6
    assert log.read(6, 100) == b""
    with pytest.raises(OffsetOutOfRange):
        log.read(0, 100)
    r = log.append(build_batch([b"y"], base_timestamp=clock.now_ms()))
    assert r.base_offset == 6


def test_retention_by_size():
    log = new_log(retention_bytes=700, segment_bytes=300)
    batch = build_batch([b"x" * 100])
    for _ in range(10):
        log.append(batch)
    log.enforce_retention(0)
    assert log.size_bytes <= 700 + len(batch) * 2
    assert log.log_start_offset > 0
    assert batch_offsets(log.read(log.log_start_offset, 1 << 20))[0][0] == log.log_start_offset


def test_delete_records_advances_log_start():
    log = new_log(segment_bytes=300)
    for _ in range(6):
        log.append(build_batch([b"x" * 100, b"y"]))
    assert log.delete_records(5) == 5
    with pytest.raises(OffsetOutOfRange):
        log.read(4, 100)
    # Offset 5 is inside the batch 4..5: that whole batch is served.
    assert batch_offsets(log.read(5, 1 << 20))[0] == (4, 5)
    assert log.delete_records(2) == 5  # never backwards
    with pytest.raises(OffsetOutOfRange):
        log.delete_records(13)
    assert log.delete_records(-1) == 12


def test_watchers_fire_once_on_append():
    log = new_log()
    calls = []
    log.watch(lambda: calls.append(1))
    cb = lambda: calls.append(2)  # noqa: E731
    log.watch(cb)
    log.unwatch(cb)
    log.append(build_batch([b"a"]))
    log.append(build_batch([b"b"]))
    assert calls == [1]


class _FullDisk(MemoryData):
    __slots__ = ()

    def write(self, pieces) -> None:
        raise OSError(28, "No space left on device")


def test_failed_write_changes_nothing():
    log = new_log()
    log.append(build_batch([b"a"], producer_id=5, producer_epoch=0, base_sequence=0))
    data = log._segments[-1].data
    data.__class__ = _FullDisk
    retry_later = build_batch([b"b"], producer_id=5, producer_epoch=0, base_sequence=1)
    with pytest.raises(StorageError):
        log.append(retry_later)
    data.__class__ = MemoryData
    assert log.high_watermark == 1
    # The producer's retry is appended, not mistaken for a duplicate.
    result = log.append(retry_later)
    assert not result.duplicate and result.base_offset == 1
