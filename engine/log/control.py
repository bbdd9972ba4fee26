"""Control batches: the COMMIT and ABORT markers that end a transaction in each partition (KIP-98).

A transaction coordinator ends a transaction by appending one marker to every partition
the transaction wrote to. A marker is a RecordBatch v2 (batch.py) like any other, with

    attributes      bit 5 (control) and bit 4 (transactional) set, never compressed
    producerId      the producer whose transaction ends
    producerEpoch   its epoch (a bumped epoch when the coordinator fences the producer)
    baseSequence    -1 (markers take no sequence number)
    recordCount     1

and one record whose key and value are Kafka's ControlRecordType and EndTransactionMarker:

    key   := version:int16 (0)  type:int16 (0 = ABORT, 1 = COMMIT)
    value := version:int16 (0)  coordinatorEpoch:int32

Consumers never hand control records to the application; a read_committed consumer uses
an ABORT marker to stop dropping that producer's records (the aborted-transaction list of
a Fetch tells it where to start dropping).
"""

from __future__ import annotations

import enum
import struct

import crc32c

from engine.log.batch import (
    ATTR_COMPRESSION_MASK,
    ATTR_CONTROL,
    ATTR_TRANSACTIONAL,
    HEADER_SIZE,
    LOG_OVERHEAD,
    MAGIC_V2,
    NO_SEQUENCE,
    BatchHeader,
)
from engine.log.varint import read_varint, write_varint

_HEADER = struct.Struct(">qiibIhiqqqhii")
_KEY = struct.Struct(">hh")  # version, type
_VALUE = struct.Struct(">hi")  # version, coordinatorEpoch
_CONTROL_KEY_VERSION = 0
_MARKER_VALUE_VERSION = 0


class ControlType(enum.IntEnum):
    ABORT = 0
    COMMIT = 1


def marker_batch(*, producer_id: int, producer_epoch: int, control_type: ControlType,
                 coordinator_epoch: int, timestamp_ms: int) -> bytes:
    """One control batch (base offset 0: the log rewrites it on append)."""
    key = _KEY.pack(_CONTROL_KEY_VERSION, int(control_type))
    value = _VALUE.pack(_MARKER_VALUE_VERSION, coordinator_epoch)
    # attributes, timestampDelta 0, offsetDelta 0, key, value, no headers
    body = bytearray(b"\x00\x00\x00")
    write_varint(len(key), body)
    body += key
    write_varint(len(value), body)
    body += value
    body.append(0)
    record = bytearray()
    write_varint(len(body), record)
    record += body
    size = HEADER_SIZE + len(record)
    batch = bytearray(_HEADER.pack(
        0, size - LOG_OVERHEAD, 0, MAGIC_V2, 0, ATTR_CONTROL | ATTR_TRANSACTIONAL, 0,
        timestamp_ms, timestamp_ms, producer_id, producer_epoch, NO_SEQUENCE, 1)) + record
    struct.pack_into(">I", batch, 17, crc32c.crc32c(memoryview(batch)[21:]))
    return bytes(batch)


def control_type(header: BatchHeader, batch) -> ControlType | None:
    """The marker type of a stored control batch (None if the key is not a known control key)."""
    if not header.is_control or header.attributes & ATTR_COMPRESSION_MASK or header.record_count < 1:
        return None
    try:
        pos = HEADER_SIZE
        _length, pos = read_varint(batch, pos)
        pos += 1  # record attributes
        _ts_delta, pos = read_varint(batch, pos)
        _offset_delta, pos = read_varint(batch, pos)
        key_length, pos = read_varint(batch, pos)
        if key_length < _KEY.size:
            return None
        _version, kind = _KEY.unpack_from(batch, pos)
        return ControlType(kind)
    except (IndexError, ValueError, struct.error):
        return None
