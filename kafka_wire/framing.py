"""Kafka's framing: every request and response is a big-endian int32 size, then that many bytes.

A request then starts with its header (api_key int16, api_version int16, correlation_id
int32, client_id nullable string, and tagged fields in header v2 — used by every flexible
request version). The header version follows the body's flexibility, except that
ApiVersions always answers with response header v0 (KIP-511: the client cannot know yet
whether the broker parses flexible headers).
"""

from __future__ import annotations

import struct

# Kafka's socket.request.max.bytes default: a larger declared size closes the connection.
MAX_REQUEST_BYTES = 100 * 1024 * 1024

_SIZE = struct.Struct(">i")
_PEEK = struct.Struct(">hhi")  # api_key, api_version, correlation_id


class FrameTooLarge(Exception):
    pass


class FrameReader:
    """Splits a byte stream into request frames (without their size prefix)."""

    __slots__ = ("_buffer", "max_bytes")

    def __init__(self, max_bytes: int = MAX_REQUEST_BYTES) -> None:
        self._buffer = bytearray()
        self.max_bytes = max_bytes

    def feed(self, data: bytes) -> list[bytes]:
        buffer = self._buffer
        buffer += data
        frames: list[bytes] = []
        pos = 0
        end = len(buffer)
        with memoryview(buffer) as view:  # one copy per frame, not two
            while end - pos >= 4:
                (size,) = _SIZE.unpack_from(buffer, pos)
                if size < 8 or size > self.max_bytes:
                    raise FrameTooLarge(f"declared request size {size}")
                if end - pos - 4 < size:
                    break
                frames.append(bytes(view[pos + 4 : pos + 4 + size]))
                pos += 4 + size
        if pos:
            del buffer[:pos]
        return frames


def peek_header(frame: bytes) -> tuple[int, int, int]:
    """api_key, api_version and correlation_id: the fixed start of every request header."""
    return _PEEK.unpack_from(frame, 0)


def size_prefixed(payload: bytes) -> bytes:
    return _SIZE.pack(len(payload)) + payload


# -- declared lengths inside a request ----------------------------------------------------------
#
# kio's native reader sizes each array from its declared count before reading an element
# (Vec::with_capacity), so one mutated count — 0x7fffffff topics in a 40-byte request —
# asks the allocator for hundreds of GiB and aborts the whole process (found by
# tests/fuzz). Kafka's own generated readers refuse such a request first: "Tried to
# allocate a collection of size N, but there are only M bytes remaining." `check_lengths`
# does the same walk before kio sees the bytes: every array count, string, bytes and
# tagged-field length must fit in what is left of the frame, recursively, so whatever kio
# then allocates is bounded by the request's real size (itself bounded by
# socket.request.max.bytes). It only reads lengths and skips values; kio still parses.
#
# Encodings (Kafka protocol guide; KIP-482 for the flexible, "compact" forms):
#   legacy string  int16 length (-1 = null)     compact string/bytes  uvarint length+1 (0 = null)
#   legacy bytes   int32 length (-1 = null)     compact array         uvarint count+1 (0 = null)
#   legacy array   int32 count (-1 = null)      tagged fields         uvarint n, n × (uvarint tag,
#   nullable struct  int8 marker (-1 / 1)                              uvarint size, size bytes)
# RequestHeader.client_id is a legacy string even in header v2 (Kafka special-cases it).


class MalformedRequest(Exception):
    """A length inside the request points past its end."""


_FIXED = {"int8": 1, "bool": 1, "uint8": 1, "int16": 2, "uint16": 2, "int32": 4, "uint32": 4,
          "timedelta_i32": 4, "float64": 8, "int64": 8, "uint64": 8, "timedelta_i64": 8,
          "datetime_i64": 8, "uuid": 16, "error_code": 2}
_I16 = struct.Struct(">h")
_I32 = struct.Struct(">i")


def check_lengths(entity_type: type, frame: bytes, offset: int) -> int:
    """Walks `entity_type` in `frame` from `offset`; returns the end offset or raises MalformedRequest."""
    try:
        return _walk_entity(_plan(entity_type), frame, offset, len(frame))
    except (struct.error, IndexError):
        raise MalformedRequest("truncated") from None


def _uvarint(data: bytes, pos: int, end: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= end:
            raise MalformedRequest("truncated varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
        if shift > 28:
            raise MalformedRequest("varint too long")


# A plan is (flexible, inline ops, {tag: op}); an op is (kind, arg):
#   ("fixed", n) ("str16", None) ("bytes32", None) ("compact", None)
#   ("array", (flexible, element op)) ("entity", plan) ("nullable", plan)
_PLANS: dict[type, tuple] = {}


def _plan(entity_type: type) -> tuple:
    plan = _PLANS.get(entity_type)
    if plan is not None:
        return plan
    from kio.serial._introspect import (
        EntityField, EntityTupleField, PrimitiveTupleField, classify_field, get_field_tag, is_optional,
    )
    import dataclasses

    flexible = bool(entity_type.__flexible__)
    header = entity_type.__name__ == "RequestHeader"
    inline: list = []
    tagged: dict = {}
    for f in dataclasses.fields(entity_type):
        tag = get_field_tag(f)
        kind = classify_field(f)
        if isinstance(kind, (EntityField, EntityTupleField)):
            inner = ("entity", _plan(kind.type_))
            if isinstance(kind, EntityField) and tag is None and is_optional(f):
                inner = ("nullable", inner[1])
        else:
            kafka_type = f.metadata["kafka_type"]
            if header and f.name == "client_id":
                inner = ("str16", None)
            elif kafka_type in _FIXED:
                inner = ("fixed", _FIXED[kafka_type])
            elif flexible:
                inner = ("compact", None)
            elif kafka_type == "string":
                inner = ("str16", None)
            else:  # bytes, records
                inner = ("bytes32", None)
        op = ("array", (flexible, inner)) if isinstance(kind, (EntityTupleField, PrimitiveTupleField)) else inner
        if tag is not None:
            tagged[int(tag)] = op
        else:
            inline.append(op)
    plan = (flexible, tuple(inline), tagged)
    _PLANS[entity_type] = plan
    return plan


def _walk_entity(plan: tuple, data: bytes, pos: int, end: int) -> int:
    flexible, inline, tagged = plan
    for op in inline:
        pos = _walk(op, data, pos, end)
    if flexible:
        count, pos = _uvarint(data, pos, end)
        if count > end - pos:
            raise MalformedRequest(f"{count} tagged fields in {end - pos} bytes")
        for _ in range(count):
            tag, pos = _uvarint(data, pos, end)
            size, pos = _uvarint(data, pos, end)
            if size > end - pos:
                raise MalformedRequest(f"tagged field of {size} bytes in {end - pos}")
            op = tagged.get(tag)
            if op is not None:
                _walk(op, data, pos, pos + size)
            pos += size
    return pos


def _walk(op: tuple, data: bytes, pos: int, end: int) -> int:
    kind, arg = op
    if kind == "fixed":
        pos += arg
        if pos > end:
            raise MalformedRequest("truncated")
        return pos
    if kind == "compact":
        length, pos = _uvarint(data, pos, end)
        length -= 1
    elif kind == "str16":
        if pos + 2 > end:
            raise MalformedRequest("truncated")
        (length,) = _I16.unpack_from(data, pos)
        pos += 2
    elif kind == "bytes32":
        if pos + 4 > end:
            raise MalformedRequest("truncated")
        (length,) = _I32.unpack_from(data, pos)
        pos += 4
    elif kind == "entity":
        return _walk_entity(arg, data, pos, end)
    elif kind == "nullable":
        if pos >= end:
            raise MalformedRequest("truncated")
        marker = data[pos]
        pos += 1
        return pos if marker == 0xFF else _walk_entity(arg, data, pos, end)
    else:  # array
        flexible, element = arg
        if flexible:
            count, pos = _uvarint(data, pos, end)
            count -= 1
        else:
            if pos + 4 > end:
                raise MalformedRequest("truncated")
            (count,) = _I32.unpack_from(data, pos)
            pos += 4
        if count <= 0:
            return pos  # empty or null
        # Every element takes at least one byte: a count beyond the bytes left is a lie.
        if count > end - pos:
            raise MalformedRequest(f"array of {count} elements in {end - pos} bytes")
        if element[0] == "fixed":
            pos += count * element[1]
            if pos > end:
                raise MalformedRequest(f"array of {count} elements past the end")
            return pos
        for _ in range(count):
            pos = _walk(element, data, pos, end)
        return pos
    if length < 0:
        return pos  # null
    pos += length
    if pos > end:
        raise MalformedRequest(f"length {length} past the end")
    return pos
