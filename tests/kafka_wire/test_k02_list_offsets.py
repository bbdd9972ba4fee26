"""ListOffsets v1–7 at exact versions: earliest, latest, by timestamp, max timestamp (v7)."""

from __future__ import annotations

import pytest
from kio.schema.errors import ErrorCode

from tests.compat.kafka_helpers import topic_name
from tests.engine.log.batches import build_batch
from tests.kafka_wire.kafka_requests import list_offsets, metadata, produce
from tests.kafka_wire.rawkafka import RawKafka

VERSIONS = range(1, 8)


@pytest.fixture
def kafka(server):
    with RawKafka(server.kafka_bootstrap) as connection:
        yield connection


@pytest.fixture
def topic(kafka):
    name = topic_name("lo")
    kafka.send(metadata(12, [name]))
    kafka.send(produce(9, name, build_batch([b"a", b"b"], timestamps=[1000, 5000])))
    kafka.send(produce(9, name, build_batch([b"c", b"d"], timestamps=[3000, 4000], compression=1)))
    return name


def ask(kafka, version, topic, timestamp, **kw):
    (t,) = kafka.send(list_offsets(version, topic, timestamp, **kw)).topics
    (p,) = t.partitions
    return p


@pytest.mark.parametrize("version", VERSIONS)
def test_earliest_latest_and_by_timestamp(kafka, topic, version):
    assert (ask(kafka, version, topic, -2).offset, ask(kafka, version, topic, -1).offset) == (0, 4)
    by_time = ask(kafka, version, topic, 2000)
    # The first record (in offset order) whose timestamp is >= 2000: offset 1 (5000).
    assert (by_time.error_code, by_time.offset, by_time.timestamp) == (ErrorCode.none, 1, 5000)
    later = ask(kafka, version, topic, 5001)
    assert (later.offset, later.timestamp) == (-1, -1)
    if version >= 4:
        assert by_time.leader_epoch == 0


def test_max_timestamp_v7(kafka, topic):
    p = ask(kafka, 7, topic, -3)
    assert (p.offset, p.timestamp) == (1, 5000)


def test_read_committed_latest_is_the_stable_offset(kafka, topic):
    assert ask(kafka, 2, topic, -1, isolation_level=1).offset == 4


def test_unknown_partition(kafka, topic):
    assert ask(kafka, 5, topic, -1, partition=3).error_code == ErrorCode.unknown_topic_or_partition
