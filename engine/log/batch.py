"""RecordBatch v2: the log's storage format, validated and re-offset without decoding records.

A produce request carries, per partition, a run of record batches exactly as the log
stores them (Kafka's "magic 2" format, KIP-98). The fixed 61-byte header, big-endian:

    offset  size  field
         0     8  baseOffset            rewritten by the log on append
         8     4  batchLength           bytes after this field (total size = batchLength + 12)
        12     4  partitionLeaderEpoch  rewritten by the log on append (always 0 here)
        16     1  magic                 must be 2
        17     4  crc                   CRC-32C (Castagnoli) of bytes 21..end
        21     2  attributes            bits 0-2 compression, 3 timestamp type,
                                        4 transactional, 5 control, 6 delete horizon
        23     4  lastOffsetDelta
        27     8  baseTimestamp
        35     8  maxTimestamp
        43     8  producerId            -1: not idempotent
        51     2  producerEpoch
        53     4  baseSequence          -1: no sequence
        57     4  recordCount
        61     …  records (compressed as a whole when attributes say so)

The CRC deliberately excludes baseOffset and partitionLeaderEpoch so a broker can
rewrite them without recomputing it; everything else is kept verbatim, compression
included (DESIGN.md §2, §6). Records themselves are only decoded by `records.py`, and
only for timestamp lookups.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import crc32c

from engine.errors import CorruptRecord, UnsupportedRecordFormat

HEADER_SIZE = 61
LOG_OVERHEAD = 12  # baseOffset + batchLength: the part not counted by batchLength
MAGIC_V2 = 2

# baseOffset, batchLength, partitionLeaderEpoch, magic, crc, attributes, lastOffsetDelta,
# baseTimestamp, maxTimestamp, producerId, producerEpoch, baseSequence, recordCount
_HEADER = struct.Struct(">qiibIhiqqqhii")
_LENGTH = struct.Struct(">qi")  # baseOffset, batchLength
_OFFSET_EPOCH = struct.Struct(">qi")  # baseOffset, partitionLeaderEpoch (at 0 and 12: written separately)
_Q = struct.Struct(">q")
_I = struct.Struct(">i")

ATTR_COMPRESSION_MASK = 0x07
ATTR_LOG_APPEND_TIME = 0x08
ATTR_TRANSACTIONAL = 0x10
ATTR_CONTROL = 0x20

NO_PRODUCER_ID = -1
NO_SEQUENCE = -1


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchHeader:
    """The fields of a batch header the log acts on (position: where it starts in its buffer)."""

    position: int
    size: int  # whole batch, header included
    base_offset: int
    last_offset_delta: int
    attributes: int
    base_timestamp: int
    max_timestamp: int
    producer_id: int
    producer_epoch: int
    base_sequence: int
    record_count: int

    @property
    def last_offset(self) -> int:
        return self.base_offset + self.last_offset_delta

    @property
    def next_offset(self) -> int:
        return self.base_offset + self.last_offset_delta + 1

    @property
    def last_sequence(self) -> int:
        if self.base_sequence == NO_SEQUENCE:
            return NO_SEQUENCE
        # Sequences wrap at 2**31 - 1 (Kafka's DefaultRecordBatch.incrementSequence).
        return (self.base_sequence + self.last_offset_delta) % 2**31

    @property
    def compression(self) -> int:
        return self.attributes & ATTR_COMPRESSION_MASK

    @property
    def is_transactional(self) -> bool:
        return bool(self.attributes & ATTR_TRANSACTIONAL)

    @property
    def is_control(self) -> bool:
        return bool(self.attributes & ATTR_CONTROL)

    @property
    def is_idempotent(self) -> bool:
        return self.producer_id >= 0


def header_at(buffer, position: int) -> BatchHeader:
    """Reads a header without checking the CRC (for batches the log wrote itself)."""
    (base_offset, length, _epoch, _magic, _crc, attributes, last_delta, base_ts, max_ts,
     producer_id, producer_epoch, base_seq, count) = _HEADER.unpack_from(buffer, position)
    return BatchHeader(
        position=position,
        size=length + LOG_OVERHEAD,
        base_offset=base_offset,
        last_offset_delta=last_delta,
        attributes=attributes,
        base_timestamp=base_ts,
        max_timestamp=max_ts,
        producer_id=producer_id,
        producer_epoch=producer_epoch,
        base_sequence=base_seq,
        record_count=count,
    )


def batch_size_at(buffer, position: int) -> int:
    """The total size of the batch at `position` (needs 12 bytes there)."""
    return _I.unpack_from(buffer, position + 8)[0] + LOG_OVERHEAD


def validate(buffer: bytes | bytearray | memoryview) -> list[BatchHeader]:
    """Splits a produce request's records into batches, checking each as Kafka's LogValidator does.

    Raises CorruptRecord for framing, size or CRC errors (CORRUPT_MESSAGE on the wire)
    and UnsupportedRecordFormat for magic 0/1 (only v2 is stored).
    """
    view = memoryview(buffer)
    end = len(view)
    if end == 0:
        raise CorruptRecord("produce request has no record batch for a partition")
    headers: list[BatchHeader] = []
    position = 0
    while position < end:
        if end - position < 17:
            raise CorruptRecord("truncated record batch header")
        length = _I.unpack_from(view, position + 8)[0]
        magic = view[position + 16]
        if magic != MAGIC_V2:
            raise UnsupportedRecordFormat(f"record batch magic {magic}; only magic 2 is supported")
        size = length + LOG_OVERHEAD
        if size < HEADER_SIZE:
            raise CorruptRecord(f"record batch size {size} is below the minimum {HEADER_SIZE}")
        if position + size > end:
            raise CorruptRecord("record batch extends beyond the request")
        header = header_at(view, position)
        stored_crc = _HEADER.unpack_from(view, position)[4]
        if crc32c.crc32c(view[position + 21 : position + size]) != stored_crc:
            raise CorruptRecord("record batch CRC mismatch")
        if header.last_offset_delta < 0 or header.record_count < 0:
            raise CorruptRecord("negative record count or offset delta")
        if header.record_count == 0:
            # Kafka: "Record batch must contain at least one record" (InvalidRecordException
            # → CORRUPT_MESSAGE for a client produce).
            raise CorruptRecord("record batch has no records")
        if header.is_control:
            raise CorruptRecord("clients may not produce control batches")
        headers.append(header)
        position += size
    return headers


def next_offset_after(buffer) -> int:
    """The offset after the last of the whole stored batches in `buffer` (a non-empty read)."""
    view = memoryview(buffer)
    end = len(view)
    position = 0
    last = position
    while end - position >= HEADER_SIZE:
        last = position
        position += _I.unpack_from(view, position + 8)[0] + LOG_OVERHEAD
    base_offset = _Q.unpack_from(view, last)[0]
    return base_offset + _I.unpack_from(view, last + 23)[0] + 1


def rewrite_offsets(target: bytearray, position: int, base_offset: int, leader_epoch: int = 0) -> None:
    """Sets baseOffset and partitionLeaderEpoch in place; the CRC does not cover them."""
    _Q.pack_into(target, position, base_offset)
    _I.pack_into(target, position + 12, leader_epoch)


def scan(buffer, start: int = 0, *, check_crc: bool = True) -> tuple[list[BatchHeader], int]:
    """Walks the whole, valid batches of a stored buffer (recovery).

    Returns the headers and the position where the valid prefix ends; anything after it
    is a torn or corrupt tail.
    """
    view = memoryview(buffer)
    end = len(view)
    headers: list[BatchHeader] = []
    position = start
    while end - position >= HEADER_SIZE:
        length = _I.unpack_from(view, position + 8)[0]
        size = length + LOG_OVERHEAD
        if size < HEADER_SIZE or position + size > end or view[position + 16] != MAGIC_V2:
            break
        if check_crc:
            stored_crc = _HEADER.unpack_from(view, position)[4]
            if crc32c.crc32c(view[position + 21 : position + size]) != stored_crc:
                break
        header = header_at(view, position)
        if headers and header.base_offset < headers[-1].next_offset:
            break
        headers.append(header)
        position += size
    return headers, position
