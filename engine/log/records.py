"""Record-level reading of a stored batch: only what offset-by-timestamp lookups need.

The log never decodes records on the produce or fetch paths. ListOffsets by timestamp
must answer with the first *record* whose timestamp is >= the target (Kafka's
LogSegment.findOffsetByTimestamp walks the records of the first batch whose
maxTimestamp qualifies), so this module decompresses one batch and reads each record's
timestampDelta and offsetDelta. Record v2 layout (KIP-98), varints zig-zag encoded:

    length varint, attributes int8, timestampDelta varlong, offsetDelta varint,
    keyLength varint, key, valueLength varint, value, headerCount varint, headers…

Compression codes (attributes bits 0-2): 1 gzip, 2 snappy (raw, or xerial-framed as the
Java client writes it), 3 lz4 (frame format), 4 zstd.
"""

from __future__ import annotations

from typing import Iterator

import cramjam

from engine.log.batch import HEADER_SIZE, BatchHeader
from engine.log.varint import read_varint

_XERIAL_MAGIC = b"\x82SNAPPY\x00"


def _xerial_decompress(data: bytes) -> bytes:
    # Header: magic(8) version(4) compatible(4), then blocks of int32 length + raw snappy.
    pos = 16
    out = bytearray()
    while pos + 4 <= len(data):
        size = int.from_bytes(data[pos : pos + 4], "big")
        pos += 4
        out += bytes(cramjam.snappy.decompress_raw(data[pos : pos + size]))
        pos += size
    return bytes(out)


def decompress(codec: int, data: bytes) -> bytes:
    if codec == 0:
        return data
    if codec == 1:
        return bytes(cramjam.gzip.decompress(data))
    if codec == 2:
        if data[:8] == _XERIAL_MAGIC:
            return _xerial_decompress(data)
        return bytes(cramjam.snappy.decompress_raw(data))
    if codec == 3:
        return bytes(cramjam.lz4.decompress(data))
    if codec == 4:
        return bytes(cramjam.zstd.decompress(data))
    raise ValueError(f"unknown compression codec {codec}")


def record_timestamps(header: BatchHeader, batch: bytes) -> Iterator[tuple[int, int]]:
    """(offset, timestamp) of each record of one whole stored batch, in order."""
    body = decompress(header.compression, bytes(batch[HEADER_SIZE:]))
    pos = 0
    for _ in range(header.record_count):
        length, pos = read_varint(body, pos)
        end = pos + length
        pos += 1  # attributes
        ts_delta, pos = read_varint(body, pos)
        offset_delta, pos = read_varint(body, pos)
        yield header.base_offset + offset_delta, header.base_timestamp + ts_delta
        pos = end
