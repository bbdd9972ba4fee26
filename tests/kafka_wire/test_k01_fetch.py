"""Fetch v4–12 at exact versions: empty records are empty (never null), whole batches, limits, long-poll."""

from __future__ import annotations

import io
import threading
import time
from types import SimpleNamespace

import pytest
from kio.schema.errors import ErrorCode
from kio.serial import entity_writer

from kafka_wire.handlers.k01_fetch import _Read, _response

from tests.compat.kafka_helpers import topic_name
from tests.engine.log.batches import batch_offsets, build_batch
from tests.kafka_wire.kafka_requests import fetch, metadata, produce
from tests.kafka_wire.rawkafka import RawKafka

VERSIONS = range(4, 13)


@pytest.fixture
def kafka(server):
    with RawKafka(server.kafka_bootstrap) as connection:
        yield connection


def topic_with(kafka, *batches: bytes) -> str:
    name = topic_name("f")
    kafka.send(metadata(12, [name]))
    for b in batches:
        (t,) = kafka.send(produce(9, name, b)).responses
        assert t.partition_responses[0].error_code == ErrorCode.none
    return name


def one(kafka, version, topic, offset, **kw):
    (t,) = kafka.send(fetch(version, [(topic, 0, offset)], **kw)).responses
    (p,) = t.partitions
    return p


@pytest.mark.parametrize("version", VERSIONS)
def test_empty_fetch_records_are_empty_bytes_not_null(kafka, version):
    topic = topic_with(kafka)
    p = one(kafka, version, topic, 0)
    assert p.error_code == ErrorCode.none
    assert p.records == b"" and p.records is not None
    assert p.high_watermark == 0 and p.last_stable_offset == 0
    # read_uncommitted: a null aborted-transaction list, as Kafka sends (engine/txn, issue 6).
    assert p.aborted_transactions is None
    p = one(kafka, version, topic, 0, isolation_level=1)
    assert p.records == b"" and p.aborted_transactions == ()


@pytest.mark.parametrize("version", VERSIONS)
def test_offset_inside_a_batch_returns_that_whole_batch(kafka, version):
    first = build_batch([b"a", b"b", b"c"])
    topic = topic_with(kafka, first, build_batch([b"d"]))
    p = one(kafka, version, topic, 1)
    assert batch_offsets(p.records) == [(0, 2), (3, 3)]
    assert p.records[8:len(first)] == first[8:]  # stored verbatim but for the base offset
    assert p.high_watermark == 4 and p.last_stable_offset == 4
    if version >= 5:
        assert p.log_start_offset == 0


def test_offset_out_of_range(kafka):
    topic = topic_with(kafka, build_batch([b"a"]))
    assert one(kafka, 12, topic, 5).error_code == ErrorCode.offset_out_of_range
    assert one(kafka, 4, topic, -3).error_code == ErrorCode.offset_out_of_range
    assert one(kafka, 12, topic, 1).records == b""  # at the high watermark: empty, no error


def test_unknown_topic(kafka):
    p = one(kafka, 12, topic_name("missing"), 0)
    assert p.error_code == ErrorCode.unknown_topic_or_partition and p.records == b""


def test_partition_max_bytes_whole_batches_and_at_least_one(kafka):
    batch = build_batch([b"x" * 500])
    topic = topic_with(kafka, *[batch] * 5)
    assert len(batch_offsets(one(kafka, 12, topic, 0, partition_max_bytes=10).records)) == 1
    assert len(batch_offsets(one(kafka, 12, topic, 0, partition_max_bytes=2 * len(batch) + 1).records)) == 2


def test_response_max_bytes_across_partitions(kafka):
    batch = build_batch([b"y" * 500])
    a = topic_with(kafka, batch, batch)
    b = topic_with(kafka, batch, batch)
    response = kafka.send(fetch(12, [(a, 0, 0), (b, 0, 0)], max_bytes=len(batch) + 10))
    first, second = (t.partitions[0] for t in response.responses)
    assert len(batch_offsets(first.records)) == 1
    assert second.records == b"" and second.error_code == ErrorCode.none


def test_long_poll_waits_for_max_wait_when_nothing_arrives(kafka):
    topic = topic_with(kafka)
    started = time.monotonic()
    p = one(kafka, 12, topic, 0, max_wait_ms=600, min_bytes=1)
    elapsed = time.monotonic() - started
    assert p.records == b"" and 0.5 < elapsed < 3


def test_long_poll_is_woken_by_an_append(kafka, server):
    topic = topic_with(kafka)

    def produce_later() -> None:
        time.sleep(0.3)
        with RawKafka(server.kafka_bootstrap) as other:
            other.send(produce(9, topic, build_batch([b"wake"])))

    thread = threading.Thread(target=produce_later)
    thread.start()
    started = time.monotonic()
    p = one(kafka, 12, topic, 0, max_wait_ms=10_000, min_bytes=1)
    elapsed = time.monotonic() - started
    thread.join()
    assert batch_offsets(p.records) == [(0, 0)]
    assert 0.2 < elapsed < 5


def test_isolation_levels_both_read_up_to_the_stable_offset(kafka):
    topic = topic_with(kafka, build_batch([b"a"]))
    committed = one(kafka, 11, topic, 0, isolation_level=1)
    assert batch_offsets(committed.records) == [(0, 0)] and committed.last_stable_offset == 1


@pytest.mark.parametrize("version, tail", [(4, b"\x00\x00\x00\x00"), (11, b"\x00\x00\x00\x00"),
                                           (12, b"\x01\x00\x00\x00")])
def test_empty_records_encode_as_zero_length_not_null(version, tail):
    """The bytes themselves: int32 0 (not -1) before v12, compact length 1 (not 0) from v12."""
    read = _Read("t", 0)
    response = _response(SimpleNamespace(api_version=version), [read])
    buffer = io.BytesIO()
    entity_writer(type(response))(buffer, response)
    assert buffer.getvalue().endswith(tail)
