"""Builds RecordBatch v2 bytes for tests, independently of the code under test (KIP-98 layout)."""

from __future__ import annotations

import struct

import cramjam
import crc32c


def _varint(value: int) -> bytes:
    raw = (value << 1) ^ (value >> 63)
    out = bytearray()
    while True:
        byte = raw & 0x7F
        raw >>= 7
        if raw:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _bytes(value: bytes | None) -> bytes:
    if value is None:
        return _varint(-1)
    return _varint(len(value)) + value


def encode_record(offset_delta: int, timestamp_delta: int, key: bytes | None, value: bytes | None,
                  headers: list[tuple[str, bytes]] = ()) -> bytes:
    body = b"\0" + _varint(timestamp_delta) + _varint(offset_delta) + _bytes(key) + _bytes(value)
    body += _varint(len(headers))
    for name, data in headers:
        body += _bytes(name.encode()) + _bytes(data)
    return _varint(len(body)) + body


CODECS = {0: lambda b: b, 1: lambda b: bytes(cramjam.gzip.compress(b)),
          2: lambda b: bytes(cramjam.snappy.compress_raw(b)), 3: lambda b: bytes(cramjam.lz4.compress(b)),
          4: lambda b: bytes(cramjam.zstd.compress(b))}


def build_batch(values: list[bytes], *, base_timestamp: int = 1_700_000_000_000, timestamps: list[int] | None = None,
                producer_id: int = -1, producer_epoch: int = -1, base_sequence: int = -1,
                compression: int = 0, base_offset: int = 0, keys: list[bytes | None] | None = None,
                magic: int = 2) -> bytes:
    timestamps = timestamps or [base_timestamp + i for i in range(len(values))]
    keys = keys or [None] * len(values)
    records = b"".join(encode_record(i, timestamps[i] - timestamps[0], keys[i], v) for i, v in enumerate(values))
    records = CODECS[compression](records)
    after_crc = struct.pack(">hiqqqhii", compression, len(values) - 1, timestamps[0], max(timestamps),
                            producer_id, producer_epoch, base_sequence, len(values)) + records
    crc = crc32c.crc32c(after_crc)
    body = struct.pack(">ibI", 0, magic, crc) + after_crc
    return struct.pack(">qi", base_offset, len(body)) + body


def batch_offsets(data: bytes) -> list[tuple[int, int]]:
    """(base offset, last offset) of each batch in stored bytes."""
    out = []
    pos = 0
    while pos < len(data):
        base, length = struct.unpack_from(">qi", data, pos)
        (delta,) = struct.unpack_from(">i", data, pos + 23)
        out.append((base, base + delta))
        pos += length + 12
    return out
