"""Hostile inputs for both listeners, generated from a `random.Random`.

The same generators serve the Hypothesis tests (which hand in `st.randoms()`, so a failure
shrinks to a small case) and `long_run.py` (a seeded Random, for hours). Each case says what
the broker must do with it:

    MUST_REFUSE  the offending connection is closed (Kafka), or gets connection.close / is
                 closed (AMQP): an unknown API key, an unserved version, an impossible
                 size, a frame on a channel never opened, a method before the handshake.
    ANY          any protocol-conforming outcome (an answer, an error, a close, a parked
                 long poll): mutated valid requests may well still be valid.

Kafka corpus: real requests built with kio at versions clients send (ApiVersions, Metadata,
Produce with a RecordBatch, Fetch, ListOffsets, FindCoordinator, JoinGroup, OffsetCommit,
CreateTopics, InitProducerId), then flipped, inserted, deleted, truncated, or with int16/
int32 fields overwritten by boundary values. AMQP: bad protocol headers, methods before the
handshake, bad field tables, bad UTF-8 in short strings, huge declared frame and string
lengths, frames on unopened channels, random frames, mutated valid methods (pamqp-encoded).
"""

from __future__ import annotations

import enum
import random
import struct
from dataclasses import dataclass
from datetime import timedelta
from functools import cache

from kafka_wire.build import make
from kafka_wire import handlers as _handlers  # noqa: F401  (fills the registry)
from kafka_wire.registry import REGISTRY
from tests.kafka_wire.groupraw import SUBSCRIPTION, schema
from tests.kafka_wire.kafka_requests import fetch, list_offsets, metadata, produce
from tests.kafka_wire.rawkafka import record_batch
from tests.reliability.support import AMQP_HEADER, kafka_frame

FUZZ_TOPIC = "fuzz-topic"


class Expect(enum.Enum):
    MUST_REFUSE = "must-refuse"
    ANY = "any"


@dataclass(frozen=True, slots=True, kw_only=True)
class Case:
    kind: str
    data: bytes
    expect: Expect
    # Half-close after sending instead of probing the connection: a truncated frame, or a
    # size that lies, would swallow the probe, and the broker rightly waits for the rest.
    half_close: bool = False
    # AMQP: sent on a fresh socket rather than after the handshake.
    fresh: bool = False


# -- mutation -----------------------------------------------------------------------------------
BOUNDARY_16 = (0, 1, 0x7FFF, 0x8000, 0xFFFF)
BOUNDARY_32 = (0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0x00100000)


def mutate(rnd: random.Random, data: bytes, *, keep_prefix: int = 0) -> bytes:
    """One to four byte-level mutations after the first `keep_prefix` bytes."""
    out = bytearray(data)
    for _ in range(rnd.randint(1, 4)):
        if len(out) <= keep_prefix:
            out += bytes([rnd.randrange(256)])
            continue
        pos = rnd.randrange(keep_prefix, len(out))
        op = rnd.randrange(6)
        if op == 0:  # flip
            out[pos] ^= rnd.randrange(1, 256)
        elif op == 1:  # insert
            out[pos:pos] = rnd.randbytes(rnd.randint(1, 16))
        elif op == 2:  # delete
            del out[pos:pos + rnd.randint(1, 16)]
        elif op == 3:  # truncate
            del out[pos:]
        elif op == 4 and pos + 2 <= len(out):  # an int16 field at a boundary
            out[pos:pos + 2] = struct.pack(">H", rnd.choice(BOUNDARY_16))
        elif pos + 4 <= len(out):  # an int32 field (a length, a count) at a boundary
            out[pos:pos + 4] = struct.pack(">I", rnd.choice(BOUNDARY_32))
    return bytes(out)


# -- Kafka --------------------------------------------------------------------------------------
@cache
def kafka_corpus() -> tuple[bytes, ...]:
    """Size-prefixed valid requests, as clients send them."""
    requests = [
        make(schema("api_versions", 3).ApiVersionsRequest, client_software_name="fuzz", client_software_version="1"),
        metadata(1, [FUZZ_TOPIC]),
        metadata(12, [FUZZ_TOPIC]),
        produce(3, FUZZ_TOPIC, record_batch([b"a", b"bb"])),
        produce(9, FUZZ_TOPIC, record_batch([b"fuzz" * 10])),
        fetch(4, [(FUZZ_TOPIC, 0, 0)], max_wait_ms=100),
        fetch(12, [(FUZZ_TOPIC, 0, 0)], max_wait_ms=100),
        list_offsets(1, FUZZ_TOPIC, -1),
        list_offsets(7, FUZZ_TOPIC, -2),
        make(schema("find_coordinator", 3).FindCoordinatorRequest, key="fuzz-group", key_type=0),
    ]
    m = schema("join_group", 5)
    requests.append(make(m.JoinGroupRequest, group_id="fuzz-group", session_timeout=timedelta(seconds=10),
                         rebalance_timeout=timedelta(seconds=1), member_id="", group_instance_id=None,
                         protocol_type="consumer",
                         protocols=(m.JoinGroupRequestProtocol(name="range", metadata=SUBSCRIPTION),)))
    m = schema("offset_commit", 8)
    requests.append(make(
        m.OffsetCommitRequest, group_id="fuzz-group", generation_id_or_member_epoch=-1, member_id="",
        group_instance_id=None, topics=(m.OffsetCommitRequestTopic(name=FUZZ_TOPIC, partitions=(
            make(m.OffsetCommitRequestPartition, partition_index=0, committed_offset=1, committed_leader_epoch=-1,
                 committed_metadata=""),)),)))
    m = schema("create_topics", 7)
    requests.append(m.CreateTopicsRequest(topics=(m.CreatableTopic(
        name="fuzz-created", num_partitions=2, replication_factor=-1, assignments=(), configs=()),),
        timeout=timedelta(seconds=5), validate_only=False))
    m = schema("init_producer_id", 4)
    requests.append(make(m.InitProducerIdRequest, transactional_id=None, transaction_timeout=timedelta(seconds=60),
                         producer_id=-1, producer_epoch=-1))
    return tuple(kafka_frame(r, correlation_id=1000 + i) for i, r in enumerate(requests))


def _with_size(payload: bytes) -> bytes:
    return struct.pack(">i", len(payload)) + payload


def _unknown_api_key(rnd: random.Random) -> int:
    while True:
        key = rnd.choice((rnd.randint(-32768, -1), rnd.randint(0, 100), rnd.randint(1000, 32767)))
        if key not in REGISTRY:
            return key


def kafka_case(rnd: random.Random) -> Case:
    kind = rnd.choice(("garbage", "bad_size", "unknown_api", "bad_version", "bad_api_versions",
                       "truncated", "mutated", "mutated", "mutated", "pipelined"))
    if kind == "garbage":
        return Case(kind=kind, data=rnd.randbytes(rnd.randint(0, 64)), expect=Expect.ANY, half_close=True)
    if kind == "bad_size":
        size = rnd.choice((-1, -(2**31), 0, rnd.randint(1, 7), 100 * 1024 * 1024 + 1, 2**31 - 1))
        return Case(kind=kind, data=struct.pack(">i", size) + rnd.randbytes(rnd.randint(0, 32)),
                    expect=Expect.MUST_REFUSE)
    if kind == "unknown_api":
        header = struct.pack(">hhih", _unknown_api_key(rnd), rnd.randint(0, 20), rnd.randint(0, 2**31 - 1), -1)
        return Case(kind=kind, data=_with_size(header + rnd.randbytes(rnd.randint(0, 64))), expect=Expect.MUST_REFUSE)
    if kind == "bad_version":
        key = rnd.choice(sorted(k for k in REGISTRY if k != 18))
        entry = REGISTRY[key]
        version = rnd.choice((rnd.randint(-32768, entry.min_version - 1) if entry.min_version > -32768 else -1,
                              rnd.randint(entry.max_version + 1, 32767)))
        header = struct.pack(">hhih", key, version, 5, -1)
        return Case(kind=kind, data=_with_size(header + rnd.randbytes(rnd.randint(0, 32))), expect=Expect.MUST_REFUSE)
    if kind == "bad_api_versions":
        # KIP-511: an unknown ApiVersions version gets the v0-shaped UNSUPPORTED_VERSION answer.
        header = struct.pack(">hhih", 18, rnd.randint(REGISTRY[18].max_version + 1, 32767), 77, -1)
        return Case(kind=kind, data=_with_size(header + rnd.randbytes(rnd.randint(0, 16))), expect=Expect.ANY)
    valid = rnd.choice(kafka_corpus())
    if kind == "truncated":
        return Case(kind=kind, data=valid[: rnd.randint(1, len(valid) - 1)], expect=Expect.ANY, half_close=True)
    if kind == "pipelined":
        # Several valid requests, one of them mutated, in one write.
        frames = [rnd.choice(kafka_corpus()) for _ in range(rnd.randint(2, 5))]
        i = rnd.randrange(len(frames))
        frames[i] = _with_size(mutate(rnd, frames[i][4:], keep_prefix=0))
        return Case(kind=kind, data=b"".join(frames), expect=Expect.ANY)
    body = mutate(rnd, valid[4:], keep_prefix=0)
    # Usually a consistent size prefix (so the body is what is fuzzed), sometimes a wrong one.
    consistent = rnd.random() < 0.8
    data = _with_size(body) if consistent else valid[:4] + body
    # A size that lies would swallow the probe behind it: half-close instead.
    return Case(kind=kind, data=data, expect=Expect.ANY, half_close=not consistent)


# -- AMQP ---------------------------------------------------------------------------------------
FRAME_END = b"\xce"


def amqp_frame(frame_type: int, channel: int, payload: bytes, *, size: int | None = None) -> bytes:
    return struct.pack(">BHI", frame_type, channel, len(payload) if size is None else size) + payload + FRAME_END


def _shortstr(raw: bytes) -> bytes:
    return bytes([len(raw)]) + raw


def _method(class_id: int, method_id: int, args: bytes) -> bytes:
    return struct.pack(">HH", class_id, method_id) + args


def queue_declare(queue: bytes, arguments: bytes = b"\0\0\0\0", bits: int = 0) -> bytes:
    return _method(50, 10, b"\0\0" + _shortstr(queue) + bytes([bits]) + arguments)


def basic_publish(exchange: bytes, routing_key: bytes) -> bytes:
    return _method(60, 40, b"\0\0" + _shortstr(exchange) + _shortstr(routing_key) + b"\0")


def content_header(body_size: int, properties: bytes = b"\0\0") -> bytes:
    return struct.pack(">HHQ", 60, 0, body_size) + properties


VALID_AMQP_METHODS = (
    queue_declare(b"fuzz-q"),
    queue_declare(b"", bits=0b1000),
    _method(40, 10, b"\0\0" + _shortstr(b"fuzz-x") + _shortstr(b"direct") + b"\0" + b"\0\0\0\0"),  # exchange.declare
    _method(50, 20, b"\0\0" + _shortstr(b"fuzz-q") + _shortstr(b"amq.direct") + _shortstr(b"k") + b"\0"
            + b"\0\0\0\0"),  # queue.bind
    _method(60, 10, struct.pack(">IHB", 0, 10, 0)),  # basic.qos
    _method(60, 70, b"\0\0" + _shortstr(b"fuzz-q") + b"\1"),  # basic.get no-ack
    _method(85, 10, b"\0"),  # confirm.select
    _method(60, 20, b"\0\0" + _shortstr(b"fuzz-q") + _shortstr(b"") + b"\0" + b"\0\0\0\0"),  # basic.consume
)


def _field_table(rnd: random.Random) -> bytes:
    """A field table that is broken somehow: bad type octet, lengths that lie, bad UTF-8 keys."""
    entries = []
    for _ in range(rnd.randint(0, 4)):
        key = rnd.choice((b"x-max-length", b"x-message-ttl", b"k", b"\xff\xfe", rnd.randbytes(rnd.randint(0, 8))))
        kind = rnd.choice(b"tbBsuIiLlfdDTFVSxAZ?" + bytes([rnd.randrange(256)]))
        if kind in b"SxF":  # long string / bytes / table: a length that may lie
            value = struct.pack(">I", rnd.choice((0, 3, 0x7FFFFFFF, 0xFFFFFFFF))) + rnd.randbytes(rnd.randint(0, 8))
        elif kind == ord("A"):
            value = struct.pack(">I", rnd.choice((0, 5, 0xFFFFFFF0))) + rnd.randbytes(rnd.randint(0, 8))
        else:
            value = rnd.randbytes(rnd.randint(0, 9))
        entries.append(_shortstr(key) + bytes([kind]) + value)
    body = b"".join(entries)
    declared = len(body) if rnd.random() < 0.6 else rnd.choice((len(body) + 5, 0xFFFFFFFF, max(0, len(body) - 3)))
    return struct.pack(">I", declared) + body


def amqp_case(rnd: random.Random) -> Case:
    """A case sent after a complete handshake with channel 1 open, unless raw_start."""
    kind = rnd.choice(("bad_header", "before_handshake", "bad_table", "bad_table", "bad_utf8", "huge_length",
                       "huge_string", "unopened_channel", "content_without_method", "random_frame",
                       "mutated", "mutated"))
    if kind == "bad_header":
        header = bytearray(AMQP_HEADER)
        while bytes(header) == AMQP_HEADER:
            header = bytearray(mutate(rnd, AMQP_HEADER))[:8].ljust(8, b"\0")
        return Case(kind=kind, data=bytes(header), expect=Expect.MUST_REFUSE, fresh=True, half_close=False)
    if kind == "before_handshake":
        method = rnd.choice(VALID_AMQP_METHODS)
        channel = rnd.choice((0, 1))
        prefix = AMQP_HEADER if rnd.random() < 0.7 else b""
        return Case(kind=kind, data=prefix + amqp_frame(1, channel, method), expect=Expect.MUST_REFUSE, fresh=True, half_close=False)
    if kind == "bad_table":
        table = _field_table(rnd)
        if rnd.random() < 0.5:
            payload = queue_declare(b"fuzz-table", arguments=table)
            return Case(kind=kind, data=amqp_frame(1, 1, payload), expect=Expect.ANY)
        props = struct.pack(">H", 0x2000) + table  # property flags: headers only
        data = amqp_frame(1, 1, basic_publish(b"", b"fuzz-q")) + amqp_frame(2, 1, content_header(3, props)) \
            + amqp_frame(3, 1, b"abc")
        return Case(kind=kind, data=data, expect=Expect.ANY)
    if kind == "bad_utf8":
        name = rnd.choice((b"\xff\xfe", b"q\xc3", b"\xed\xa0\x80", b"\xc0\xaf")) + rnd.randbytes(rnd.randint(0, 4))
        payload = rnd.choice((queue_declare(name), basic_publish(name, b"k"), basic_publish(b"", name)))
        return Case(kind=kind, data=amqp_frame(1, 1, payload), expect=Expect.ANY)
    if kind == "huge_length":
        # A frame declaring more than frame_max: connection.close 501 FRAME_ERROR, never a buffer that size.
        size = rnd.choice((0xFFFFFFFF, 0x7FFFFFFF, 131072 + 1, 50 * 1024 * 1024))
        frame_type = rnd.choice((1, 2, 3))
        return Case(kind=kind, data=struct.pack(">BHI", frame_type, 1, size) + rnd.randbytes(rnd.randint(0, 64)),
                    expect=Expect.MUST_REFUSE)
    if kind == "huge_string":
        # A long string inside a method declaring far more bytes than the frame holds.
        args = b"\0\0" + _shortstr(b"q") + b"\0" + struct.pack(">I", rnd.choice((0xFFFFFFFF, 0x7FFFFFFF, 1 << 20)))
        return Case(kind=kind, data=amqp_frame(1, 1, _method(50, 10, args)), expect=Expect.ANY)
    if kind == "unopened_channel":
        channel = rnd.randint(2, 2047)
        frame_type = rnd.choice((1, 1, 2, 3))
        payload = {1: rnd.choice(VALID_AMQP_METHODS), 2: content_header(3), 3: b"abc"}[frame_type]
        return Case(kind=kind, data=amqp_frame(frame_type, channel, payload), expect=Expect.MUST_REFUSE)
    if kind == "content_without_method":
        frame_type = rnd.choice((2, 3))
        payload = content_header(rnd.randint(0, 100)) if frame_type == 2 else rnd.randbytes(rnd.randint(0, 30))
        return Case(kind=kind, data=amqp_frame(frame_type, 1, payload), expect=Expect.MUST_REFUSE)
    if kind == "random_frame":
        frame_type = rnd.choice((0, 1, 2, 3, 4, 8, 9, rnd.randrange(256)))
        payload = rnd.randbytes(rnd.randint(0, 40))
        end = FRAME_END if rnd.random() < 0.8 else bytes([rnd.randrange(256)])
        return Case(kind=kind, data=struct.pack(">BHI", frame_type, rnd.choice((0, 1, 2)), len(payload)) + payload + end,
                    expect=Expect.ANY)
    method = rnd.choice(VALID_AMQP_METHODS)
    frame = amqp_frame(1, 1, method)
    mutated = mutate(rnd, frame, keep_prefix=0)
    return Case(kind=kind, data=mutated, expect=Expect.ANY, half_close=not _whole_frames(mutated))


def _whole_frames(data: bytes) -> bool:
    """True if `data` is a sequence of complete frames (by their declared sizes)."""
    pos = 0
    while pos < len(data):
        if len(data) - pos < 7:
            return False
        (size,) = struct.unpack_from(">I", data, pos + 3)
        pos += 8 + size
    return pos == len(data)
