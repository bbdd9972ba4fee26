"""Zig-zag varints of the record v2 format (KIP-98; Kafka's ByteUtils.writeVarint/readVarint).

Every length, delta and count inside a v2 record is a signed value zig-zag encoded
(0, -1, 1, -2 … become 0, 1, 2, 3 …) into base-128 groups, low bits first, the high bit
of each byte meaning "more follows".
"""

from __future__ import annotations


def write_varint(value: int, out: bytearray) -> None:
    if -64 <= value < 64:  # one byte: most lengths and deltas of small records
        out.append((value << 1) if value >= 0 else ((-value << 1) - 1))
        return
    raw = (value << 1) ^ (value >> 63)
    while raw & ~0x7F:
        out.append((raw & 0x7F) | 0x80)
        raw >>= 7
    out.append(raw)


def read_varint(buf, pos: int) -> tuple[int, int]:
    """(value, position after it) of the varint at `pos`."""
    shift = 0
    raw = 0
    while True:
        byte = buf[pos]
        pos += 1
        raw |= (byte & 0x7F) << shift
        if not byte & 0x80:
            break
        shift += 7
    return (raw >> 1) ^ -(raw & 1), pos
