"""RecordBatch v2 header validation: Hypothesis round-trips and arbitrary damage."""

from __future__ import annotations

import struct

import crc32c
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import CorruptRecord, UnsupportedRecordFormat
from engine.log.batch import scan, validate
from engine.log.records import record_timestamps
from tests.engine.log.batches import build_batch

values = st.lists(st.binary(max_size=64), min_size=1, max_size=20)


@settings(max_examples=60, deadline=None)
@given(batches=st.lists(st.tuples(values, st.integers(0, 4), st.integers(0, 2**40)), min_size=1, max_size=4))
def test_validate_round_trips_what_a_producer_builds(batches):
    data = b""
    for vals, codec, ts in batches:
        data += build_batch(vals, compression=codec, timestamps=[ts + i for i in range(len(vals))],
                            producer_id=7, producer_epoch=1, base_sequence=3)
    headers = validate(data)
    assert [h.record_count for h in headers] == [len(v) for v, _, _ in batches]
    assert [h.compression for h in headers] == [c for _, c, _ in batches]
    assert sum(h.size for h in headers) == len(data)
    for header, (vals, _, ts) in zip(headers, batches):
        assert header.max_timestamp == ts + len(vals) - 1
        assert header.last_sequence == 3 + len(vals) - 1
        stamps = list(record_timestamps(header, data[header.position: header.position + header.size]))
        assert stamps == [(i, ts + i) for i in range(len(vals))]


@settings(max_examples=200, deadline=None)
@given(vals=values, position=st.integers(0, 10_000), byte=st.integers(0, 255))
def test_any_single_byte_damage_is_refused_or_harmless(vals, position, byte):
    data = bytearray(build_batch(vals))
    position %= len(data)
    original = data[position]
    data[position] = byte
    try:
        validate(bytes(data))
    except (CorruptRecord, UnsupportedRecordFormat):
        return
    # Accepted only if the byte is outside the CRC — baseOffset or leader epoch, which
    # the log rewrites on append — or was not changed at all.
    assert position < 8 or 12 <= position < 16 or byte == original


@settings(max_examples=100, deadline=None)
@given(data=st.binary(max_size=200))
def test_random_bytes_never_raise_anything_else(data):
    with pytest.raises((CorruptRecord, UnsupportedRecordFormat)):
        validate(data)


def test_scan_stops_at_a_torn_tail():
    whole = build_batch([b"a"]) + build_batch([b"b"], base_offset=1)
    headers, end = scan(whole + build_batch([b"c"], base_offset=2)[:30])
    assert [h.base_offset for h in headers] == [0, 1] and end == len(whole)
    # Offsets going backwards mean the rest is not this log's.
    headers, end = scan(whole + build_batch([b"c"], base_offset=0))
    assert end == len(whole)


def test_zero_record_batch_is_corrupt():
    batch = bytearray(build_batch([b"a"]))
    struct.pack_into(">i", batch, 57, 0)
    struct.pack_into(">I", batch, 17, crc32c.crc32c(bytes(batch[21:])))
    with pytest.raises(CorruptRecord):
        validate(bytes(batch))
