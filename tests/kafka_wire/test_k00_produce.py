"""Produce v3–11 at exact versions: offsets, validation errors as Kafka's, acks=0, idempotent retries."""

from __future__ import annotations

import io
import struct

import pytest
from kio.schema.errors import ErrorCode
from kio.schema.request_header.v2.header import RequestHeader
from kio.serial import entity_writer

from tests.engine.log.batches import build_batch
from tests.kafka_wire.kafka_requests import fetch, metadata, produce
from tests.kafka_wire.rawkafka import RawKafka
from tests.compat.kafka_helpers import topic_name

VERSIONS = range(3, 12)


@pytest.fixture
def kafka(server):
    with RawKafka(server.kafka_bootstrap) as connection:
        yield connection


def make_topic(kafka, version=12) -> str:
    name = topic_name("p")
    kafka.send(metadata(version, [name]))
    return name


def answer(kafka, version, topic, records, **kw):
    (t,) = kafka.send(produce(version, topic, records, **kw)).responses
    (p,) = t.partition_responses
    return p


@pytest.mark.parametrize("version", VERSIONS)
def test_offsets_are_assigned_per_version(kafka, version):
    topic = make_topic(kafka)
    first = answer(kafka, version, topic, build_batch([b"a", b"b"]))
    second = answer(kafka, version, topic, build_batch([b"c"]))
    assert (first.error_code, first.base_offset) == (ErrorCode.none, 0)
    assert (second.error_code, second.base_offset) == (ErrorCode.none, 2)
    assert second.log_append_time is None  # -1 on the wire: CreateTime
    if version >= 5:
        assert second.log_start_offset == 0


def test_corrupt_crc_and_truncated_batch(kafka):
    topic = make_topic(kafka)
    bad = bytearray(build_batch([b"a"]))
    bad[-1] ^= 0x55
    assert answer(kafka, 9, topic, bytes(bad)).error_code == ErrorCode.corrupt_message
    assert answer(kafka, 9, topic, build_batch([b"a"])[:-3]).error_code == ErrorCode.corrupt_message
    # Declared batch length below the fixed header.
    tiny = bytearray(build_batch([b"a"]))
    struct.pack_into(">i", tiny, 8, 20)
    assert answer(kafka, 9, topic, bytes(tiny)).error_code == ErrorCode.corrupt_message
    assert answer(kafka, 3, topic, None).error_code == ErrorCode.corrupt_message
    # Nothing was appended.
    assert answer(kafka, 9, topic, build_batch([b"ok"])).base_offset == 0


def test_old_magic_is_unsupported_for_message_format(kafka):
    topic = make_topic(kafka)
    assert answer(kafka, 7, topic, build_batch([b"a"], magic=1)).error_code == ErrorCode.unsupported_for_message_format


def test_message_too_large_against_topic_max_message_bytes(kafka, server):
    topic = make_topic(kafka)
    big = build_batch([b"x" * (1048588 + 10)])
    assert answer(kafka, 9, topic, big).error_code == ErrorCode.message_too_large


def test_unknown_topic_partition_and_invalid_name(kafka):
    topic = make_topic(kafka)
    assert answer(kafka, 9, topic, build_batch([b"a"]), partition=5).error_code == ErrorCode.unknown_topic_or_partition
    missing = topic_name("never-created")
    assert answer(kafka, 9, missing, build_batch([b"a"])).error_code == ErrorCode.unknown_topic_or_partition
    assert answer(kafka, 9, "bad/name", build_batch([b"a"])).error_code == ErrorCode.invalid_topic_exception
    # Produce never auto-creates (Kafka creates topics only through Metadata).
    (t,) = kafka.send(metadata(12, [missing], allow_auto=False)).topics
    assert t.error_code == ErrorCode.unknown_topic_or_partition


def test_zstd_needs_v7(kafka):
    topic = make_topic(kafka)
    batch = build_batch([b"z" * 100], compression=4)
    assert answer(kafka, 6, topic, batch).error_code == ErrorCode.unsupported_compression_type
    assert answer(kafka, 7, topic, batch).error_code == ErrorCode.none


def test_invalid_acks(kafka):
    topic = make_topic(kafka)
    assert answer(kafka, 9, topic, build_batch([b"a"]), acks=2).error_code == ErrorCode.invalid_required_acks


def test_acks_zero_gets_no_response(kafka):
    topic = make_topic(kafka)
    request = produce(9, topic, build_batch([b"quiet"]), acks=0)
    # Send it without waiting for an answer, then a request that is answered: the next
    # frame on the wire must be that second answer.
    buffer = io.BytesIO()
    entity_writer(RequestHeader)(buffer, RequestHeader(request_api_key=0, request_api_version=9,
                                                       correlation_id=999, client_id="raw"))
    entity_writer(type(request))(buffer, request)
    kafka.sock.sendall(struct.pack(">i", len(buffer.getvalue())) + buffer.getvalue())
    (t,) = kafka.send(fetch(12, [(topic, 0, 0)])).responses  # asserts the correlation id matches
    assert t.partitions[0].high_watermark == 1


def test_idempotent_retry_gets_original_offset_and_gaps_are_refused(kafka):
    topic = make_topic(kafka)
    batch = build_batch([b"a", b"b"], producer_id=4242, producer_epoch=0, base_sequence=0)
    assert answer(kafka, 9, topic, build_batch([b"other"])).base_offset == 0
    assert answer(kafka, 9, topic, batch).base_offset == 1
    retry = answer(kafka, 9, topic, batch)
    assert (retry.error_code, retry.base_offset) == (ErrorCode.none, 1)
    gap = build_batch([b"c"], producer_id=4242, producer_epoch=0, base_sequence=7)
    assert answer(kafka, 9, topic, gap).error_code == ErrorCode.out_of_order_sequence_number
    old = build_batch([b"c"], producer_id=4242, producer_epoch=0, base_sequence=2)
    assert answer(kafka, 9, topic, build_batch([b"n"], producer_id=4242, producer_epoch=1, base_sequence=0)).error_code \
        == ErrorCode.none
    assert answer(kafka, 9, topic, old).error_code == ErrorCode.invalid_producer_epoch
    (t,) = kafka.send(fetch(12, [(topic, 0, 0)])).responses
    assert t.partitions[0].high_watermark == 4
