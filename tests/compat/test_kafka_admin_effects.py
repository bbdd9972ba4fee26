"""Admin changes take effect and persist: configs the log honours change what it does at once,
and topics, partitions, overrides and low watermarks survive kill -9 (files backend).
"""

from __future__ import annotations

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
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


def produce_one(bootstrap: str, topic: str, value: bytes, partition: int = 0):
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "message.send.max.retries": 0,
                         "message.max.bytes": 10_000_000})
    outcome = []
    producer.produce(topic, value=value, partition=partition, on_delivery=lambda err, m: outcome.append((err, m)))
    assert producer.flush(20) == 0
    ((error, message),) = outcome
    return error, message


def set_config(admin: AdminClient, topic: str, name: str, value: str) -> None:
    resource = ConfigResource(ResourceType.TOPIC, topic, incremental_configs=[
        ConfigEntry(name, value, incremental_operation=AlterConfigOpType.SET)])
    admin.incremental_alter_configs([resource])[resource].result(timeout=20)


def test_max_message_bytes_applies_to_the_live_topic(kafka_bootstrap):
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    topic = topic_name("effect-size")
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(timeout=20)
    error, _ = produce_one(kafka_bootstrap, topic, b"x" * 5000)
    assert error is None
    set_config(admin, topic, "max.message.bytes", "1000")
    error, _ = produce_one(kafka_bootstrap, topic, b"x" * 5000)
    assert error is not None and error.code() == KafkaError.MSG_SIZE_TOO_LARGE
    set_config(admin, topic, "max.message.bytes", "1048588")
    error, message = produce_one(kafka_bootstrap, topic, b"x" * 5000)
    assert error is None and message.offset() == 1


def test_admin_state_survives_kill9(durable_server):
    bootstrap = durable_server.kafka_bootstrap
    admin = AdminClient({"bootstrap.servers": bootstrap})
    topic = topic_name("effect-durable")
    admin.create_topics([NewTopic(topic, 1, 1, config={"retention.ms": "3600000"})])[topic].result(timeout=20)
    admin.create_partitions([NewPartitions(topic, 3)])[topic].result(timeout=20)
    set_config(admin, topic, "max.message.bytes", "500000")
    for _ in range(6):
        assert produce_one(bootstrap, topic, b"v", partition=2)[0] is None
    [(_, future)] = admin.delete_records([TopicPartition(topic, 2, 4)]).items()
    assert future.result(timeout=20).low_watermark == 4
    gone = topic_name("effect-gone")
    admin.create_topics([NewTopic(gone, 1, 1)])[gone].result(timeout=20)
    admin.delete_topics([gone])[gone].result(timeout=20)

    durable_server.kill9()
    durable_server.start()

    admin = AdminClient({"bootstrap.servers": bootstrap})
    metadata = admin.list_topics(timeout=10).topics
    assert len(metadata[topic].partitions) == 3 and gone not in metadata
    resource = ConfigResource(ResourceType.TOPIC, topic)
    configs = admin.describe_configs([resource])[resource].result(timeout=20)
    assert {k: e.value for k, e in configs.items() if e.source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value} == {
        "retention.ms": "3600000", "max.message.bytes": "500000"}
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "unused", "enable.auto.commit": False})
    assert consumer.get_watermark_offsets(TopicPartition(topic, 2), timeout=10) == (4, 6)
    consumer.close()
