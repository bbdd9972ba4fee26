"""DeleteRecords v0–2 over a real socket: low watermarks, -1, out-of-range offsets, unknown partitions."""

from __future__ import annotations

import importlib
import uuid
from datetime import timedelta

import pytest
from kio.schema.errors import ErrorCode

from tests.kafka_wire.rawkafka import RawKafka
from tests.kafka_wire.test_k19_create_topics import create

FIVE_SECONDS = timedelta(seconds=5)


@pytest.fixture
def kafka(server):
    with RawKafka(server.kafka_bootstrap) as connection:
        yield connection


@pytest.fixture
def topic(kafka):
    name = f"dr-{uuid.uuid4().hex[:8]}"
    assert create(kafka, name=name, partitions=2).error_code == ErrorCode.none
    kafka.produce(name, 0, [b"a", b"b", b"c"])
    kafka.produce(name, 0, [b"d", b"e"])  # partition 0 holds offsets 0..4
    return name


def delete(kafka, version: int, topic: str, offsets: dict[int, int]) -> dict[int, tuple[int, int]]:
    m = importlib.import_module(f"kio.schema.delete_records.v{version}.request")
    response = kafka.send(m.DeleteRecordsRequest(topics=(m.DeleteRecordsTopic(name=topic, partitions=tuple(
        m.DeleteRecordsPartition(partition_index=p, offset=o) for p, o in offsets.items())),), timeout=FIVE_SECONDS))
    (result,) = response.topics
    assert result.name == topic
    return {p.partition_index: (p.error_code, p.low_watermark) for p in result.partitions}


@pytest.mark.parametrize("version", [0, 1, 2])
def test_moves_the_low_watermark(kafka, topic, version):
    assert delete(kafka, version, topic, {0: 2}) == {0: (ErrorCode.none, 2)}
    # Offsets at or below the low watermark change nothing and report it.
    assert delete(kafka, version, topic, {0: 1}) == {0: (ErrorCode.none, 2)}
    assert delete(kafka, version, topic, {0: 4}) == {0: (ErrorCode.none, 4)}


def test_minus_one_means_the_high_watermark(kafka, topic):
    assert delete(kafka, 2, topic, {0: -1, 1: -1}) == {0: (ErrorCode.none, 5), 1: (ErrorCode.none, 0)}
    # The log keeps its offsets: the next append continues at the high watermark.
    assert kafka.produce(topic, 0, [b"f"]) == 5


def test_offsets_beyond_the_high_watermark(kafka, topic):
    assert delete(kafka, 1, topic, {0: 6, 1: 1}) == {
        0: (ErrorCode.offset_out_of_range, -1), 1: (ErrorCode.offset_out_of_range, -1)}
    assert delete(kafka, 1, topic, {0: -2}) == {0: (ErrorCode.offset_out_of_range, -1)}
    assert delete(kafka, 1, topic, {0: 5}) == {0: (ErrorCode.none, 5)}  # exactly the high watermark


def test_unknown_topic_and_partition(kafka, topic):
    assert delete(kafka, 2, topic, {7: 0}) == {7: (ErrorCode.unknown_topic_or_partition, -1)}
    assert delete(kafka, 2, "no-such-topic", {0: 0}) == {0: (ErrorCode.unknown_topic_or_partition, -1)}
