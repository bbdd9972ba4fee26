"""Connection-level edges: ApiVersions' v0-shaped error, and broken frames close only their connection."""

from __future__ import annotations

import socket
import struct

import pytest
from kio.schema.api_versions.v0.response import ApiVersionsResponse
from kio.schema.errors import ErrorCode
from kio.schema.response_header.v0.header import ResponseHeader
from kio.serial import entity_reader

from tests.compat.kafka_helpers import topic_name
from tests.engine.log.batches import build_batch
from tests.kafka_wire.kafka_requests import fetch, metadata, produce
from tests.kafka_wire.rawkafka import RawKafka


def raw_request(api_key: int, version: int, body: bytes, correlation_id: int = 7) -> bytes:
    header = struct.pack(">hhih", api_key, version, correlation_id, 3) + b"raw"
    return struct.pack(">i", len(header) + len(body)) + header + body


def read_frame(sock: socket.socket) -> bytes:
    def exactly(n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError("closed")
            data += chunk
        return data

    (size,) = struct.unpack(">i", exactly(4))
    return exactly(size)


def closed_by_peer(sock: socket.socket) -> bool:
    sock.settimeout(5)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def connect(server) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.kafka_port), timeout=5)


def test_api_versions_above_max_gets_v0_error_with_full_table(server):
    with connect(server) as sock:
        sock.sendall(raw_request(18, 99, b""))
        frame = read_frame(sock)
    header, used = entity_reader(ResponseHeader)(frame, 0)
    body, _ = entity_reader(ApiVersionsResponse)(frame, used)
    assert header.correlation_id == 7
    assert body.error_code == ErrorCode.unsupported_version
    table = {k.api_key: (k.min_version, k.max_version) for k in body.api_keys}
    assert table[18] == (0, 4) and table[0] == (3, 11) and table[1] == (4, 12) and table[3] == (0, 12)
    assert table[2] == (1, 9) and table[22] == (0, 4)


@pytest.mark.parametrize("garbage", [
    struct.pack(">i", -5),  # negative size
    struct.pack(">i", 200 * 1024 * 1024),  # absurd size
    raw_request(0, 9, b"\xff\xff\xff"),  # produce body kio cannot parse
    raw_request(1, 3, b""),  # Fetch below the served range
    raw_request(999, 0, b""),  # unknown api key
])
def test_broken_frame_closes_only_that_connection(server, garbage):
    name = topic_name("conn")
    with RawKafka(server.kafka_bootstrap) as healthy:
        healthy.send(metadata(12, [name]))
        with connect(server) as bad:
            bad.sendall(garbage)
            assert closed_by_peer(bad)
        # The other connection carries on.
        (t,) = healthy.send(produce(9, name, build_batch([b"still here"]))).responses
        assert t.partition_responses[0].error_code == ErrorCode.none
        (f,) = healthy.send(fetch(12, [(name, 0, 0)])).responses
        assert f.partitions[0].high_watermark == 1
