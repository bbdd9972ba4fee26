"""The partition side of transactions: control batches, last stable offset, aborted-transaction index."""

from __future__ import annotations

import struct

import crc32c
import pytest

from engine.clock import FakeClock
from engine.errors import InvalidProducerEpoch
from engine.log import batch as batches
from engine.log.partition import PartitionLog
from engine.log.storage import FileStorage, MemoryStorage
from engine.topic_config import TopicConfig
from engine.types import TopicPartition
from tests.engine.log.batches import build_batch
from tests.engine.txn.helpers import batches_in, control_key, txn_batch

TP = TopicPartition(topic="t", partition=0)


def new_log(storage=None, **config) -> PartitionLog:
    clock = FakeClock()
    log = PartitionLog(TP, storage=storage or MemoryStorage(), config=TopicConfig(**config), now_ms=clock.now_ms)
    log.open()
    return log


def test_a_marker_is_a_control_batch_in_kafkas_format():
    log = new_log()
    log.append(txn_batch([b"a"], producer_id=7, producer_epoch=3, base_sequence=0))
    offset = log.write_marker(producer_id=7, producer_epoch=3, commit=True, coordinator_epoch=5)
    assert offset == 1
    marker = batches_in(log.read(1, 1 << 20))[0]
    raw = marker["bytes"]
    assert marker["control"] and marker["transactional"] and (marker["producer_id"], marker["epoch"]) == (7, 3)
    (attributes,) = struct.unpack_from(">h", raw, 21)
    assert attributes == 0x30  # control + transactional, no compression
    (base_sequence, count) = struct.unpack_from(">ii", raw, 53)
    assert (base_sequence, count) == (-1, 1)
    assert struct.unpack_from(">I", raw, 17)[0] == crc32c.crc32c(raw[21:])
    assert control_key(raw) == (0, 1)  # version 0, COMMIT
    # value: version 0, coordinator epoch, right after the key and its length byte
    assert raw[65 + 1 + 4] == 12 and struct.unpack_from(">hi", raw, 65 + 1 + 4 + 1) == (0, 5)
    log.append(txn_batch([b"b"], producer_id=7, producer_epoch=3, base_sequence=1))
    log.write_marker(producer_id=7, producer_epoch=3, commit=False)
    assert control_key(batches_in(log.read(3, 1 << 20))[0]["bytes"]) == (0, 0)  # ABORT


def test_last_stable_offset_is_the_first_offset_of_the_oldest_open_transaction():
    log = new_log()
    log.append(build_batch([b"plain"]))
    assert log.last_stable_offset == log.high_watermark == 1
    log.append(txn_batch([b"a1", b"a2"], producer_id=1, producer_epoch=0, base_sequence=0))  # 1-2
    log.append(build_batch([b"plain"]))  # 3
    log.append(txn_batch([b"b1"], producer_id=2, producer_epoch=0, base_sequence=0))  # 4
    log.append(txn_batch([b"a3"], producer_id=1, producer_epoch=0, base_sequence=2))  # 5
    assert log.high_watermark == 6 and log.last_stable_offset == 1
    log.write_marker(producer_id=1, producer_epoch=0, commit=True)  # 6
    assert log.last_stable_offset == 4  # producer 2 still open
    log.write_marker(producer_id=2, producer_epoch=0, commit=False)  # 7
    assert log.last_stable_offset == log.high_watermark == 8


def test_read_committed_stops_before_the_open_transaction():
    log = new_log()
    log.append(build_batch([b"x"]))  # 0
    log.append(txn_batch([b"t"], producer_id=1, producer_epoch=0, base_sequence=0))  # 1
    log.append(build_batch([b"y"]))  # 2
    lso = log.last_stable_offset
    assert lso == 1
    assert [b["base"] for b in batches_in(log.read(0, 1 << 20, max_offset=lso))] == [0]
    assert log.read(1, 1 << 20, max_offset=lso) == b""
    assert log.read(2, 1 << 20, max_offset=lso) == b""  # between the LSO and the high watermark
    assert [b["base"] for b in batches_in(log.read(0, 1 << 20))] == [0, 1, 2]
    log.write_marker(producer_id=1, producer_epoch=0, commit=True)
    assert [b["base"] for b in batches_in(log.read(0, 1 << 20, max_offset=log.last_stable_offset))] == [0, 1, 2, 3]


def test_read_committed_across_segments():
    log = new_log(segment_bytes=200)
    for i in range(4):
        log.append(build_batch([b"v" * 50]))
    log.append(txn_batch([b"t" * 50], producer_id=1, producer_epoch=0, base_sequence=0))  # 4
    for i in range(3):
        log.append(build_batch([b"w" * 50]))
    assert len(log._segments) > 2
    lso = log.last_stable_offset
    assert lso == 4
    seen = []
    offset = 0
    while True:
        data = log.read(offset, 1 << 20, max_offset=lso)
        if not data:
            break
        found = batches_in(data)
        seen += [b["base"] for b in found]
        offset = found[-1]["last"] + 1
    assert seen == [0, 1, 2, 3]


def test_abort_is_indexed_and_listed_for_overlapping_reads():
    log = new_log()
    log.append(txn_batch([b"a"], producer_id=1, producer_epoch=0, base_sequence=0))  # 0
    log.append(txn_batch([b"b"], producer_id=2, producer_epoch=0, base_sequence=0))  # 1
    log.write_marker(producer_id=1, producer_epoch=0, commit=False)  # 2
    log.append(build_batch([b"c"]))  # 3
    log.write_marker(producer_id=2, producer_epoch=0, commit=True)  # 4
    log.append(txn_batch([b"d"], producer_id=1, producer_epoch=0, base_sequence=1))  # 5
    log.write_marker(producer_id=1, producer_epoch=0, commit=False)  # 6
    entries = [(e.producer_id, e.first_offset, e.last_offset) for e in log.aborted]
    assert entries == [(1, 0, 2), (1, 5, 6)]
    # The LSO right after the first abort was 1 (producer 2 still open), after the second 7.
    assert [e.last_stable_offset for e in log.aborted] == [1, 7]
    everything = log.read(0, 1 << 20, max_offset=log.last_stable_offset)
    assert [(a.producer_id, a.first_offset) for a in log.aborted_transactions(0, everything)] == [(1, 0), (1, 5)]
    just_the_start = log.read(0, 1, max_offset=log.last_stable_offset)  # one batch: offset 0
    assert [(a.producer_id, a.first_offset) for a in log.aborted_transactions(0, just_the_start)] == [(1, 0)]
    tail = log.read(3, 1 << 20, max_offset=log.last_stable_offset)
    assert [(a.producer_id, a.first_offset) for a in log.aborted_transactions(3, tail)] == [(1, 5)]
    assert log.aborted_transactions(7, b"") == []


def test_a_bumped_marker_epoch_fences_the_old_producer():
    log = new_log()
    log.append(txn_batch([b"a"], producer_id=1, producer_epoch=4, base_sequence=0))
    log.write_marker(producer_id=1, producer_epoch=5, commit=False)
    with pytest.raises(InvalidProducerEpoch):
        log.append(txn_batch([b"zombie"], producer_id=1, producer_epoch=4, base_sequence=1))
    with pytest.raises(InvalidProducerEpoch):
        log.write_marker(producer_id=1, producer_epoch=4, commit=True)
    # The new epoch starts at sequence 0.
    log.append(txn_batch([b"new"], producer_id=1, producer_epoch=6, base_sequence=0))
    assert log.last_stable_offset == 2


def test_a_marker_for_a_partition_never_written_changes_nothing_but_the_offset():
    log = new_log()
    log.write_marker(producer_id=9, producer_epoch=0, commit=False)
    assert not log.aborted and log.last_stable_offset == log.high_watermark == 1


def test_the_client_may_not_produce_control_batches():
    log = new_log()
    marker = bytearray(txn_batch([b"x"], producer_id=1, producer_epoch=0, base_sequence=0))
    struct.pack_into(">h", marker, 21, 0x30)
    struct.pack_into(">I", marker, 17, crc32c.crc32c(bytes(marker[21:])))
    with pytest.raises(Exception) as info:
        log.append(bytes(marker))
    assert type(info.value).__name__ == "CorruptRecord"


def test_batches_of_one_request_must_agree_on_the_transaction():
    log = new_log()
    mixed = build_batch([b"plain"], producer_id=1, producer_epoch=0, base_sequence=0) + txn_batch(
        [b"t"], producer_id=1, producer_epoch=0, base_sequence=1)
    with pytest.raises(Exception) as info:
        log.append(mixed)
    assert type(info.value).__name__ == "CorruptRecord"
    assert log.high_watermark == 0


def test_files_backend_keeps_open_transactions_and_the_abort_index_across_a_crash(tmp_path):
    folder = tmp_path / "p"
    log = new_log(FileStorage(folder))
    log.append(txn_batch([b"a"], producer_id=1, producer_epoch=0, base_sequence=0))  # 0
    log.write_marker(producer_id=1, producer_epoch=0, commit=False)  # 1
    log.flush()  # a producer snapshot after the abort
    log.append(txn_batch([b"b"], producer_id=2, producer_epoch=0, base_sequence=0))  # 2
    log.append(txn_batch([b"c"], producer_id=1, producer_epoch=0, base_sequence=1))  # 3
    log.write_marker(producer_id=1, producer_epoch=0, commit=False)  # 4: after the snapshot
    assert (folder / f"{0:020d}.txnindex").stat().st_size == 2 * 34
    # kill -9: no close, no flush. A second log over the same folder recovers.
    again = new_log(FileStorage(folder))
    assert again.last_stable_offset == 2  # producer 2's transaction is still open
    assert [(e.producer_id, e.first_offset, e.last_offset) for e in again.aborted] == [(1, 0, 1), (1, 3, 4)]
    again.write_marker(producer_id=2, producer_epoch=0, commit=True)
    assert again.last_stable_offset == again.high_watermark == 6


def test_the_abort_index_is_rebuilt_from_markers_when_its_file_is_lost(tmp_path):
    folder = tmp_path / "p"
    log = new_log(FileStorage(folder))
    log.append(txn_batch([b"a"], producer_id=1, producer_epoch=0, base_sequence=0))
    log.write_marker(producer_id=1, producer_epoch=0, commit=False)
    (folder / f"{0:020d}.txnindex").unlink()
    (folder / "producer-state.json").unlink(missing_ok=True)
    again = new_log(FileStorage(folder))
    assert [(e.producer_id, e.first_offset, e.last_offset) for e in again.aborted] == [(1, 0, 1)]


def test_index_entries_past_a_torn_tail_are_dropped(tmp_path):
    folder = tmp_path / "p"
    log = new_log(FileStorage(folder))
    log.append(txn_batch([b"a"], producer_id=1, producer_epoch=0, base_sequence=0))
    log.write_marker(producer_id=1, producer_epoch=0, commit=False)
    segment = folder / f"{0:020d}.log"
    data = segment.read_bytes()
    segment.write_bytes(data[:-5])  # the marker is torn
    again = new_log(FileStorage(folder))
    assert not again.aborted
    assert again.high_watermark == 1 and again.last_stable_offset == 0  # the transaction is open again


def test_retention_forgets_the_index_entries_of_deleted_segments():
    log = new_log(segment_bytes=150)
    log.append(txn_batch([b"a" * 60], producer_id=1, producer_epoch=0, base_sequence=0))
    log.write_marker(producer_id=1, producer_epoch=0, commit=False)
    for _ in range(4):
        log.append(build_batch([b"v" * 60]))
    assert len(log.aborted) == 1
    log.delete_records(log.high_watermark)
    assert len(log.aborted) == 0


def test_next_offset_after_walks_to_the_last_batch():
    log = new_log()
    log.append(build_batch([b"a", b"b"]))
    log.append(build_batch([b"c", b"d", b"e"]))
    assert batches.next_offset_after(log.read(0, 1 << 20)) == 5
