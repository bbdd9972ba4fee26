"""Helpers shared by the reliability, fuzz and limits suites: raw frames, process memory, sockets."""

from __future__ import annotations

import io
import socket
import struct
import time

from kio.schema.request_header.v1.header import RequestHeader as RequestHeaderV1
from kio.schema.request_header.v2.header import RequestHeader as RequestHeaderV2
from kio.serial import entity_writer

# ApiVersions v0, correlation id 7, null client id: the smallest request every client sends first.
API_VERSIONS_V0 = b"\x00\x00\x00\x0a\x00\x12\x00\x00\x00\x00\x00\x07\xff\xff"
AMQP_HEADER = b"AMQP\x00\x00\x09\x01"


def rss_bytes(pid: int) -> int:
    """Resident set size of a process (Linux /proc)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def kafka_frame(request, correlation_id: int = 1, client_id: str | None = "fuzz") -> bytes:
    """A size-prefixed request for any kio request object, header version per its flexibility."""
    api_key, version = int(request.__api_key__), int(request.__version__)
    buffer = io.BytesIO()
    if request.__flexible__:
        entity_writer(RequestHeaderV2)(buffer, RequestHeaderV2(
            request_api_key=api_key, request_api_version=version, correlation_id=correlation_id, client_id=client_id))
    else:
        entity_writer(RequestHeaderV1)(buffer, RequestHeaderV1(
            request_api_key=api_key, request_api_version=version, correlation_id=correlation_id, client_id=client_id))
    entity_writer(type(request))(buffer, request)
    payload = buffer.getvalue()
    return struct.pack(">i", len(payload)) + payload


def read_frame(sock: socket.socket) -> bytes:
    (size,) = struct.unpack(">i", read_exactly(sock, 4))
    return read_exactly(sock, size)


def read_exactly(sock: socket.socket, size: int) -> bytes:
    chunks = []
    while size:
        chunk = sock.recv(min(size, 1 << 20))
        if not chunk:
            raise ConnectionError("closed by the broker")
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def closed_within(sock: socket.socket, seconds: float) -> bool:
    """True if the peer closes (FIN or RST) within `seconds`; data received meanwhile is discarded."""
    deadline = time.monotonic() + seconds
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        sock.settimeout(left)
        try:
            if sock.recv(65536) == b"":
                return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False


def connect(port: int, *, source: str | None = None, timeout: float = 5.0) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    if source is not None:
        sock.bind((source, 0))
    sock.connect(("127.0.0.1", port))
    return sock


def api_versions_ok(port: int, *, source: str | None = None) -> bool:
    """One fresh connection answers ApiVersions v0."""
    try:
        with connect(port, source=source) as sock:
            sock.sendall(API_VERSIONS_V0)
            frame = read_frame(sock)
            return frame[:4] == (7).to_bytes(4, "big") and frame[4:6] == b"\0\0"
    except OSError:
        return False
