"""aiokafka AIOKafkaAdminClient against a real server: the non-flexible admin versions.

aiokafka picks the highest version it knows inside our range: CreateTopics v3, DeleteTopics
v3, DescribeConfigs v2, AlterConfigs v1, CreatePartitions v1, DeleteRecords v2 (its only
flexible one), and describes the cluster through Metadata.
"""

from __future__ import annotations

import time

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewPartitions, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.admin.records_to_delete import RecordsToDelete
from aiokafka.errors import InvalidPartitionsError

from tests.compat.kafka_helpers import topic_name

DYNAMIC_TOPIC_CONFIG, STATIC_BROKER_CONFIG, DEFAULT_CONFIG = 1, 4, 5


@pytest.fixture
async def admin(kafka_bootstrap):
    client = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap, request_timeout_ms=10000)
    await client.start()
    yield client
    await client.close()


async def describe(admin, kind: ConfigResourceType, name: str) -> dict[str, tuple]:
    """name -> (value, read_only, source) of every config the broker lists."""
    (response,) = await admin.describe_configs([ConfigResource(kind, name)])
    ((error_code, _, _, _, configs),) = response.resources
    assert error_code == 0
    return {c[0]: (c[1], c[2], c[3]) for c in configs}


async def overrides(admin, topic: str) -> dict[str, str]:
    configs = await describe(admin, ConfigResourceType.TOPIC, topic)
    return {name: value for name, (value, _, source) in configs.items() if source == DYNAMIC_TOPIC_CONFIG}


async def partition_count(admin, topic: str) -> int:
    (described,) = await admin.describe_topics([topic])
    return len(described["partitions"])


async def test_create_with_configs_and_per_topic_errors(admin):
    topic = topic_name("aka")
    response = await admin.create_topics([
        NewTopic(topic, 3, 1, topic_configs={"retention.ms": "3600000"}),
        NewTopic("bad name", 1, 1),
        NewTopic(topic_name("aka-cfg"), 1, 1, topic_configs={"no.such.config": "1"}),
        NewTopic(topic_name("aka-parts"), 0, 1),
    ])
    assert [(error_code) for _, error_code, _ in response.topic_errors] == [0, 17, 40, 37]
    assert await partition_count(admin, topic) == 3
    (duplicate,) = (await admin.create_topics([NewTopic(topic, 1, 1)])).topic_errors
    assert duplicate[1] == 36  # TOPIC_ALREADY_EXISTS
    validated = topic_name("aka-validate")
    (result,) = (await admin.create_topics([NewTopic(validated, 1, 1)], validate_only=True)).topic_errors
    assert result[1] == 0
    assert validated not in await admin.list_topics()


async def test_describe_configs_topic_and_broker(admin):
    topic = topic_name("aka-describe")
    await admin.create_topics([NewTopic(topic, 1, 1, topic_configs={"segment.bytes": "1048576"})])
    configs = await describe(admin, ConfigResourceType.TOPIC, topic)
    assert configs["segment.bytes"] == ("1048576", False, DYNAMIC_TOPIC_CONFIG)
    assert configs["retention.ms"] == ("604800000", False, DEFAULT_CONFIG)
    assert configs["cleanup.policy"][0] == "delete"
    broker = await describe(admin, ConfigResourceType.BROKER, "1")
    assert broker["num.partitions"] == ("1", True, STATIC_BROKER_CONFIG)
    assert broker["default.replication.factor"][0] == "1"


async def test_alter_configs_replaces_the_set(admin):
    topic = topic_name("aka-alter")
    await admin.create_topics([NewTopic(topic, 1, 1, topic_configs={"retention.ms": "3600000"})])
    (response,) = await admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic,
                                                            configs={"retention.bytes": "5000"})])
    assert [r[0] for r in response.resources] == [0]
    assert await overrides(admin, topic) == {"retention.bytes": "5000"}
    (response,) = await admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic,
                                                            configs={"cleanup.policy": "compact"})])
    assert [r[0] for r in response.resources] == [40]  # INVALID_CONFIG
    assert await overrides(admin, topic) == {"retention.bytes": "5000"}


async def test_create_partitions(admin):
    topic = topic_name("aka-grow")
    await admin.create_topics([NewTopic(topic, 1, 1)])
    await admin.create_partitions({topic: NewPartitions(3)})
    assert await partition_count(admin, topic) == 3
    with pytest.raises(InvalidPartitionsError):
        await admin.create_partitions({topic: NewPartitions(2)})


async def test_delete_records_moves_where_consumers_start(admin, kafka_bootstrap):
    topic = topic_name("aka-records")
    await admin.create_topics([NewTopic(topic, 1, 1)])
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        for i in range(8):
            await producer.send_and_wait(topic, b"record-%d" % i, partition=0)
    finally:
        await producer.stop()
    tp = TopicPartition(topic, 0)
    assert await admin.delete_records({tp: RecordsToDelete(5)}) == {tp: 5}
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap, enable_auto_commit=False,
                                auto_offset_reset="earliest")
    await consumer.start()
    try:
        assert await consumer.beginning_offsets([tp]) == {tp: 5}
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        received = []
        deadline = time.monotonic() + 15
        while len(received) < 3 and time.monotonic() < deadline:
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                received.extend((r.offset, r.value) for r in batch)
    finally:
        await consumer.stop()
    assert received == [(i, b"record-%d" % i) for i in range(5, 8)]


async def test_describe_cluster_and_delete_topics(admin, kafka_bootstrap):
    cluster = await admin.describe_cluster()
    host, port = kafka_bootstrap.rsplit(":", 1)
    assert (host, int(port)) in {(b["host"], b["port"]) for b in cluster["brokers"]}
    topic = topic_name("aka-delete")
    await admin.create_topics([NewTopic(topic, 1, 1)])
    response = await admin.delete_topics([topic, topic_name("aka-missing")])
    assert [code for _, code in response.topic_error_codes] == [0, 3]
    assert topic not in await admin.list_topics()
