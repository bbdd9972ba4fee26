"""confluent-kafka AdminClient (librdkafka 2.x) against a real server: every admin API it drives.

librdkafka caps the admin APIs low (CreateTopics v4, DeleteTopics v4, DescribeConfigs v1,
AlterConfigs v1, CreatePartitions v2, DeleteRecords v2, IncrementalAlterConfigs v1,
DescribeCluster v0), so this is mostly the non-flexible path. Its DescribeConfigs result
lists every config, defaults included: librdkafka-based tools (Materialize among them)
read-modify-write these and look up num.partitions on the broker.
"""

from __future__ import annotations

import time

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ConfigSource,
    NewPartitions,
    NewTopic,
    ResourceType,
)

from tests.compat.kafka_helpers import topic_name


@pytest.fixture(scope="module")
def admin(kafka_bootstrap):
    return AdminClient({"bootstrap.servers": kafka_bootstrap})


def error_of(future) -> KafkaError:
    with pytest.raises(KafkaException) as info:
        future.result(timeout=20)
    return info.value.args[0]


def describe(admin, kind: ResourceType, name: str) -> dict[str, ConfigEntry]:
    resource = ConfigResource(kind, name)
    return admin.describe_configs([resource])[resource].result(timeout=20)


def overrides(admin, topic: str) -> dict[str, str]:
    return {k: e.value for k, e in describe(admin, ResourceType.TOPIC, topic).items()
            if e.source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value}


def partition_count(admin, topic: str) -> int:
    return len(admin.list_topics(topic, timeout=10).topics[topic].partitions)


def test_create_with_configs_and_per_topic_errors(admin):
    good, bad_name, bad_rf, bad_config = (topic_name("cfa"), "bad name", topic_name("cfa-rf"), topic_name("cfa-cfg"))
    futures = admin.create_topics([
        NewTopic(good, 3, 1, config={"retention.ms": "3600000"}),
        NewTopic(bad_name, 1, 1),
        NewTopic(bad_rf, 1, 3),
        NewTopic(bad_config, 1, 1, config={"cleanup.policy": "compact"}),
    ])
    assert futures[good].result(timeout=20) is None
    assert error_of(futures[bad_name]).code() == KafkaError.TOPIC_EXCEPTION
    assert error_of(futures[bad_rf]).code() == KafkaError.INVALID_REPLICATION_FACTOR
    refused = error_of(futures[bad_config])
    assert refused.code() == KafkaError.INVALID_CONFIG and "compact" in refused.str()
    assert partition_count(admin, good) == 3
    assert error_of(admin.create_topics([NewTopic(good, 1, 1)])[good]).code() == KafkaError.TOPIC_ALREADY_EXISTS
    topics = admin.list_topics(timeout=10).topics
    assert bad_rf not in topics and bad_config not in topics


def test_validate_only(admin):
    topic = topic_name("cfa-validate")
    assert admin.create_topics([NewTopic(topic, 2, 1)], validate_only=True)[topic].result(timeout=20) is None
    assert topic not in admin.list_topics(timeout=10).topics


def test_describe_returns_defaults_for_topics_and_the_broker(admin):
    topic = topic_name("cfa-describe")
    admin.create_topics([NewTopic(topic, 1, 1, config={"retention.bytes": "1048576"})])[topic].result(timeout=20)
    configs = describe(admin, ResourceType.TOPIC, topic)
    assert configs["retention.bytes"].value == "1048576"
    assert configs["retention.bytes"].source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value
    assert not configs["retention.bytes"].is_default
    assert configs["retention.ms"].value == "604800000" and configs["retention.ms"].is_default
    assert configs["cleanup.policy"].value == "delete"
    assert configs["max.message.bytes"].value == "1048588"
    broker = describe(admin, ResourceType.BROKER, "1")
    assert broker["num.partitions"].value == "1"
    assert broker["default.replication.factor"].value == "1"
    assert broker["min.insync.replicas"].value == "1"
    assert broker["message.max.bytes"].value == "1048588"
    assert broker["num.partitions"].is_read_only


def test_alter_and_incremental_alter(admin):
    topic = topic_name("cfa-alter")
    admin.create_topics([NewTopic(topic, 1, 1, config={"retention.ms": "3600000"})])[topic].result(timeout=20)
    # Legacy AlterConfigs replaces the whole set: retention.ms goes back to its default.
    resource = ConfigResource(ResourceType.TOPIC, topic, set_config={"retention.bytes": "5000"})
    with pytest.warns(DeprecationWarning):
        futures = admin.alter_configs([resource])
    futures[resource].result(timeout=20)
    assert overrides(admin, topic) == {"retention.bytes": "5000"}
    resource = ConfigResource(ResourceType.TOPIC, topic, incremental_configs=[
        ConfigEntry("segment.bytes", "1048576", incremental_operation=AlterConfigOpType.SET),
        ConfigEntry("retention.bytes", None, incremental_operation=AlterConfigOpType.DELETE)])
    admin.incremental_alter_configs([resource])[resource].result(timeout=20)
    assert overrides(admin, topic) == {"segment.bytes": "1048576"}
    resource = ConfigResource(ResourceType.TOPIC, topic, incremental_configs=[
        ConfigEntry("cleanup.policy", "compact", incremental_operation=AlterConfigOpType.APPEND)])
    assert error_of(admin.incremental_alter_configs([resource])[resource]).code() == KafkaError.INVALID_CONFIG
    assert overrides(admin, topic) == {"segment.bytes": "1048576"}


def test_create_partitions(admin):
    topic = topic_name("cfa-grow")
    admin.create_topics([NewTopic(topic, 2, 1)])[topic].result(timeout=20)
    admin.create_partitions([NewPartitions(topic, 5)], validate_only=True)[topic].result(timeout=20)
    assert partition_count(admin, topic) == 2
    admin.create_partitions([NewPartitions(topic, 5)])[topic].result(timeout=20)
    assert partition_count(admin, topic) == 5
    assert error_of(admin.create_partitions([NewPartitions(topic, 3)])[topic]).code() == KafkaError.INVALID_PARTITIONS


def test_delete_records_moves_where_consumers_start(admin, kafka_bootstrap):
    topic = topic_name("cfa-records")
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(timeout=20)
    producer = Producer({"bootstrap.servers": kafka_bootstrap, "linger.ms": 0})
    for i in range(10):
        producer.produce(topic, value=b"record-%d" % i, partition=0)
        producer.poll(0)
    assert producer.flush(20) == 0
    [(_, future)] = admin.delete_records([TopicPartition(topic, 0, 7)]).items()
    assert future.result(timeout=20).low_watermark == 7
    consumer = Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": "unused-no-commits",
                         "enable.auto.commit": False})
    assert consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10) == (7, 10)
    consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    received = []
    deadline = time.monotonic() + 20
    while len(received) < 3 and time.monotonic() < deadline:
        for message in consumer.consume(num_messages=100, timeout=0.5):
            assert message.error() is None, message.error()
            received.append((message.offset(), message.value()))
    consumer.close()
    assert received == [(i, b"record-%d" % i) for i in range(7, 10)]


def test_describe_cluster(admin, kafka_bootstrap):
    cluster = admin.describe_cluster(include_authorized_operations=True).result(timeout=20)
    host, port = kafka_bootstrap.rsplit(":", 1)
    assert cluster.cluster_id
    assert (host, int(port)) in {(node.host, node.port) for node in cluster.nodes}
    assert cluster.controller.id in {node.id for node in cluster.nodes}
    assert cluster.authorized_operations


def test_delete_topics(admin):
    topic = topic_name("cfa-delete")
    admin.create_topics([NewTopic(topic, 2, 1)])[topic].result(timeout=20)
    admin.delete_topics([topic])[topic].result(timeout=20)
    assert topic not in admin.list_topics(timeout=10).topics
    assert error_of(admin.delete_topics([topic])[topic]).code() == KafkaError.UNKNOWN_TOPIC_OR_PART
