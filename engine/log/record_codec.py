"""Building and decoding the records of RecordBatch v2 (KIP-98) for the non-Kafka sides of the engine.

The Kafka paths never decode records (engine/log/batch.py); stream queues do: an AMQP publish
into a stream becomes one uncompressed batch of one record built here, and an AMQP consumer of a
stream (or the Kafka → AMQP forwarder) reads stored batches back as records, whatever codec the
producer used (engine/log/records.py `decompress`: gzip, snappy raw and xerial, lz4 frame, zstd).

Record layout (Kafka's DefaultRecord.writeTo), varints zig-zag encoded:

    length varint, attributes int8 (0), timestampDelta varlong, offsetDelta varint,
    keyLength varint (-1: null), key, valueLength varint (-1: null), value,
    headerCount varint, then per header: keyLength varint, key (UTF-8),
    valueLength varint (-1: null), value

The batch header is the one engine/log/batch.py documents; the CRC-32C covers bytes 21..end.
"""

from __future__ import annotations

import struct

import crc32c

from engine.log import batch as batches
from engine.log.records import decompress
from engine.log.varint import read_varint, write_varint

_HEADER = struct.Struct(">qiibIhiqqqhii")
_CRC_FROM = 21


class Record:
    """One decoded record: its absolute offset, timestamp (ms), key, value and headers (in order).

    A plain slotted class, not a frozen dataclass: one is built per record on the stream and
    forwarding paths (DESIGN.md §6). Treat it as immutable.
    """

    __slots__ = ("offset", "timestamp", "key", "value", "headers")

    def __init__(self, offset: int, timestamp: int, key: bytes | None, value: bytes | None,
                 headers: tuple[tuple[str, bytes | None], ...] = ()) -> None:
        self.offset = offset
        self.timestamp = timestamp
        self.key = key
        self.value = value
        self.headers = headers

    def __repr__(self) -> str:
        return f"Record(offset={self.offset}, key={self.key!r}, value={self.value!r}, headers={self.headers!r})"


def _bytes_field(data: bytes | None, out: bytearray) -> None:
    if data is None:
        write_varint(-1, out)
    else:
        write_varint(len(data), out)
        out += data


def encode_record(offset_delta: int, timestamp_delta: int, key: bytes | None, value: bytes | None,
                  headers: tuple[tuple[str, bytes | None], ...] | list = ()) -> bytes:
    body = bytearray(b"\x00")  # attributes: unused in v2
    write_varint(timestamp_delta, body)
    write_varint(offset_delta, body)
    _bytes_field(key, body)
    _bytes_field(value, body)
    write_varint(len(headers), body)
    for name, hvalue in headers:
        _bytes_field(name.encode(), body)
        _bytes_field(hvalue, body)
    out = bytearray()
    write_varint(len(body), out)
    return bytes(out + body)


def build_batch(records: list[tuple[bytes | None, bytes | None, tuple]], *, timestamp_ms: int) -> bytes:
    """One uncompressed, non-idempotent batch (base offset 0: the log assigns it) of (key, value, headers)."""
    payload = b"".join(encode_record(i, 0, key, value, headers) for i, (key, value, headers) in enumerate(records))
    count = len(records)
    header = bytearray(_HEADER.pack(0, 0, 0, batches.MAGIC_V2, 0, 0, count - 1, timestamp_ms, timestamp_ms,
                                    batches.NO_PRODUCER_ID, -1, batches.NO_SEQUENCE, count))
    whole = header + payload
    struct.pack_into(">i", whole, 8, len(whole) - batches.LOG_OVERHEAD)
    struct.pack_into(">I", whole, 17, crc32c.crc32c(bytes(whole[_CRC_FROM:])))
    return bytes(whole)


def decode_records(header: batches.BatchHeader, raw) -> list[Record]:
    """Every record of one whole stored batch (`raw` starts at the batch), decompressed."""
    codec = header.compression
    body = raw[batches.HEADER_SIZE:header.size] if codec == 0 else decompress(codec, bytes(raw[batches.HEADER_SIZE:header.size]))
    log_append = bool(header.attributes & batches.ATTR_LOG_APPEND_TIME)
    out: list[Record] = []
    pos = 0
    for _ in range(header.record_count):
        length, pos = read_varint(body, pos)
        end = pos + length
        pos += 1
        ts_delta, pos = read_varint(body, pos)
        offset_delta, pos = read_varint(body, pos)
        key, pos = _read_bytes(body, pos)
        value, pos = _read_bytes(body, pos)
        count, pos = read_varint(body, pos)
        headers = []
        for _h in range(count):
            name, pos = _read_bytes(body, pos)
            hvalue, pos = _read_bytes(body, pos)
            headers.append(((name or b"").decode("utf-8", "replace"), hvalue))
        timestamp = header.max_timestamp if log_append else header.base_timestamp + ts_delta
        out.append(Record(header.base_offset + offset_delta, timestamp, key, value, tuple(headers)))
        pos = end
    return out


def _read_bytes(body, pos: int) -> tuple[bytes | None, int]:
    size, pos = read_varint(body, pos)
    if size < 0:
        return None, pos
    return bytes(body[pos:pos + size]), pos + size


def iter_batches(data: bytes):
    """(header, batch bytes) for each whole batch in a log read."""
    pos = 0
    while pos + batches.HEADER_SIZE <= len(data):
        header = batches.header_at(data, pos)
        if pos + header.size > len(data):
            break
        yield header, data[pos:pos + header.size]
        pos += header.size
