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
