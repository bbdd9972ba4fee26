"""Metadata v0–12 at exact versions: the one broker, auto-creation, null = all topics, errors, topic ids."""

from __future__ import annotations

import pytest
from kio.schema.errors import ErrorCode

from tests.compat.kafka_helpers import topic_name
from tests.kafka_wire.kafka_requests import metadata
from tests.kafka_wire.rawkafka import RawKafka

VERSIONS = range(0, 13)


@pytest.fixture
def kafka(server):
    with RawKafka(server.kafka_bootstrap) as connection:
        yield connection


@pytest.mark.parametrize("version", VERSIONS)
def test_auto_create_and_describe(kafka, server, version):
    name = topic_name("md")
    response = kafka.send(metadata(version, [name]))
    (broker,) = response.brokers
    assert (broker.node_id, broker.host, broker.port) == (1, "127.0.0.1", server.kafka_port)
    if version >= 1:
        assert response.controller_id == 1
    if version >= 2:
        assert response.cluster_id == "mqgateway-cluster-0001"
    (topic,) = response.topics
    assert (topic.error_code, topic.name) == (ErrorCode.none, name)
    (partition,) = topic.partitions
    assert (partition.error_code, partition.partition_index, partition.leader_id) == (ErrorCode.none, 0, 1)
    assert partition.replica_nodes == (1,) and partition.isr_nodes == (1,)
    if version >= 7:
        assert partition.leader_epoch == 0
    if version >= 10:
        # The topic id is stable: asked again, same id.
        (again,) = kafka.send(metadata(version, [name])).topics
        assert topic.topic_id is not None and again.topic_id == topic.topic_id


def test_no_auto_create_when_not_allowed(kafka):
    name = topic_name("md-no")
    (topic,) = kafka.send(metadata(12, [name], allow_auto=False)).topics
    assert topic.error_code == ErrorCode.unknown_topic_or_partition and topic.partitions == ()
    names = [t.name for t in kafka.send(metadata(12, None)).topics]
    assert name not in names


@pytest.mark.parametrize("version", [0, 1, 4, 9, 12])
def test_invalid_topic_name(kafka, version):
    (topic,) = kafka.send(metadata(version, ["bad name!"])).topics
    assert topic.error_code == ErrorCode.invalid_topic_exception


def test_all_topics_null_v1_plus_empty_v0_and_empty_means_none(kafka):
    name = topic_name("md-all")
    kafka.send(metadata(12, [name]))
    assert name in [t.name for t in kafka.send(metadata(12, None)).topics]
    assert name in [t.name for t in kafka.send(metadata(0, [])).topics]
    assert kafka.send(metadata(4, [])).topics == ()
