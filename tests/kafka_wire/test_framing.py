"""kafka_wire/framing.py: size prefixes, and the declared lengths inside a request checked before kio reads them."""

from __future__ import annotations

import random
import struct

import pytest
from hypothesis import given, settings, strategies as st

from kafka_wire import handlers  # noqa: F401  (fills the registry)
from kafka_wire.framing import FrameReader, FrameTooLarge, MalformedRequest, check_lengths
from kafka_wire.registry import REGISTRY
from kio.schema.request_header.v1.header import RequestHeader as RequestHeaderV1
from kio.schema.request_header.v2.header import RequestHeader as RequestHeaderV2
from tests.fuzz.cases import kafka_corpus, mutate
from tests.kafka_wire.kafka_requests import metadata
from tests.reliability.support import closed_within, connect, kafka_frame


def _split(frame: bytes):
    """(request type, frame without size, body offset) of a size-prefixed request."""
    payload = frame[4:]
    api_key, version = struct.unpack_from(">hh", payload)
    request_type = REGISTRY[api_key].request_types[version]
    header = RequestHeaderV2 if request_type.__flexible__ else RequestHeaderV1
    return request_type, payload, check_lengths(header, payload, 0)


def test_every_request_clients_send_passes_and_is_walked_to_its_end():
    for frame in kafka_corpus():
        request_type, payload, offset = _split(frame)
        assert check_lengths(request_type, payload, offset) == len(payload)


@pytest.mark.parametrize("count", [0x7FFFFFFF, 1 << 20, 3])
def test_an_array_count_beyond_the_bytes_left_is_refused(count):
    # Metadata v1: topics is a legacy array (int32 count) of legacy strings.
    frame = kafka_frame(metadata(1, ["a"]))
    request_type, payload, offset = _split(frame)
    lying = payload[:offset] + struct.pack(">i", count) + payload[offset + 4:]
    with pytest.raises(MalformedRequest):
        check_lengths(request_type, lying, offset)


def test_a_compact_array_count_beyond_the_bytes_left_is_refused():
    frame = kafka_frame(metadata(12, ["a"]))
    request_type, payload, offset = _split(frame)
    # topics: compact array, uvarint count + 1 = 0xFFFFFFFF (5 bytes) instead of 0x02.
    lying = payload[:offset] + b"\xff\xff\xff\xff\x0f" + payload[offset + 1:]
    with pytest.raises(MalformedRequest):
        check_lengths(request_type, lying, offset)


@settings(max_examples=300, derandomize=True, deadline=None)
@given(rnd=st.randoms(use_true_random=False))
def test_mutated_requests_are_walked_or_refused_never_read_past_the_end(rnd: random.Random):
    request_type, payload, offset = _split(rnd.choice(kafka_corpus()))
    mutated = mutate(rnd, payload, keep_prefix=offset)
    try:
        end = check_lengths(request_type, mutated, offset)
    except MalformedRequest:
        return
    assert end <= len(mutated)


def test_frame_sizes_out_of_range_are_refused():
    reader = FrameReader(max_bytes=1024)
    with pytest.raises(FrameTooLarge):
        reader.feed(struct.pack(">i", 1025))
    with pytest.raises(FrameTooLarge):
        FrameReader().feed(struct.pack(">i", -1))
    assert FrameReader().feed(struct.pack(">i", 8) + b"12345678" + b"\0\0") == [b"12345678"]


def test_the_request_that_aborted_the_process_closes_only_its_connection(server):
    """Regression (tests/fuzz): a 0x7fffffff topic count made kio allocate 246 GiB and abort."""
    frame = kafka_frame(metadata(1, ["a"]))
    request_type, payload, offset = _split(frame)
    lying = payload[:offset] + struct.pack(">i", 0x7FFFFFFF) + payload[offset + 4:]
    with connect(server.kafka_port) as sock:
        sock.sendall(struct.pack(">i", len(lying)) + lying)
        assert closed_within(sock, 5)
    assert server.proc.poll() is None
    assert "malformed METADATA v1 request (MalformedRequest)" in server.log()
