"""kafka-python 3 KafkaAdminClient against a real server: every admin API it drives.

kafka-python 3 negotiates the newest versions we serve (CreateTopics v7, DeleteTopics v6,
DescribeConfigs v4, IncrementalAlterConfigs v1, CreatePartitions v3, DeleteRecords v2,
DescribeCluster v2), so this is the flexible path of every admin handler.
"""

from __future__ import annotations

import time

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, NewPartitions, NewTopic
from kafka.errors import InvalidReplicationFactorError, InvalidTopicError, TopicAlreadyExistsError

from tests.compat.kafka_helpers import topic_name


@pytest.fixture
def admin(kafka_bootstrap):
    client = KafkaAdminClient(bootstrap_servers=kafka_bootstrap, request_timeout_ms=10000)
    yield client
    client.close()


def topic_configs(admin, topic: str, config_filter: str = "modified") -> dict[str, dict]:
    return admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)],
                                  config_filter=config_filter)["topic"][topic]


def test_create_with_configs_duplicate_and_invalid(admin):
    topic = topic_name("kpa")
    result = admin.create_topics([NewTopic(topic, 3, 1, topic_configs={"retention.ms": "3600000",
                                                                       "max.message.bytes": "2000000"})])
    (created,) = result["topics"]
    assert (created["error_code"], created["num_partitions"], created["replication_factor"]) == (0, 3, 1)
    assert created["configs"]["retention.ms"] == {"value": "3600000", "read_only": False,
                                                 "config_source": "DYNAMIC_TOPIC_CONFIG", "is_sensitive": False}
    assert created["configs"]["segment.bytes"]["config_source"] == "DEFAULT_CONFIG"
    assert {t["name"]: len(t["partitions"]) for t in admin.describe_topics([topic])} == {topic: 3}
    with pytest.raises(TopicAlreadyExistsError):
        admin.create_topics([NewTopic(topic, 1, 1)])
    with pytest.raises(InvalidTopicError):
        admin.create_topics([NewTopic("no spaces allowed", 1, 1)])
    with pytest.raises(InvalidReplicationFactorError):
        admin.create_topics([NewTopic(topic_name("kpa-rf"), 1, 3)])


def test_validate_only_creates_nothing(admin):
    topic = topic_name("kpa-validate")
    admin.create_topics([NewTopic(topic, 2, 1)], validate_only=True)
    assert topic not in admin.list_topics()


def test_refused_configs_report_invalid_config(admin):
    topic = topic_name("kpa-compact")
    result = admin.create_topics([NewTopic(topic, 1, 1, topic_configs={"cleanup.policy": "compact"})],
                                 raise_errors=False)
    assert result["topics"][0]["error_code"] == 40  # INVALID_CONFIG
    assert topic not in admin.list_topics()


def test_describe_topic_and_broker_configs(admin):
    topic = topic_name("kpa-describe")
    admin.create_topics([NewTopic(topic, 1, 1, topic_configs={"retention.bytes": "1048576"})])
    assert set(topic_configs(admin, topic)) == {"retention.bytes"}
    everything = topic_configs(admin, topic, "all")
    assert everything["retention.ms"]["value"] == "604800000"
    assert everything["cleanup.policy"]["config_source"] == "DEFAULT_CONFIG"
    assert everything["retention.bytes"]["config_type"] == "LONG"
    broker = admin.describe_configs([ConfigResource(ConfigResourceType.BROKER, "1")],
                                    config_filter="all")["broker"]["1"]
    assert broker["num.partitions"]["value"] == "1"
    assert broker["num.partitions"]["config_source"] == "STATIC_BROKER_CONFIG"
    assert broker["default.replication.factor"]["value"] == "1"
    assert broker["auto.create.topics.enable"]["value"] == "true"


def test_alter_configs_incremental_and_legacy(admin):
    topic = topic_name("kpa-alter")
    admin.create_topics([NewTopic(topic, 1, 1, topic_configs={"retention.ms": "3600000"})])
    resource = ConfigResource(ConfigResourceType.TOPIC, topic, configs={"retention.bytes": "5000"})
    assert admin.alter_configs([resource]) == {"topic": {topic: "OK"}}  # IncrementalAlterConfigs
    assert {k: v["value"] for k, v in topic_configs(admin, topic).items()} == {
        "retention.ms": "3600000", "retention.bytes": "5000"}
    # The legacy API replaces the set; kafka-python re-sends the modified keys it read first.
    resource = ConfigResource(ConfigResourceType.TOPIC, topic, configs={"segment.bytes": "1048576"})
    assert admin.alter_configs([resource], incremental=False) == {"topic": {topic: "OK"}}
    assert {k: v["value"] for k, v in topic_configs(admin, topic).items()} == {
        "retention.ms": "3600000", "retention.bytes": "5000", "segment.bytes": "1048576"}
    admin.reset_configs([ConfigResource(ConfigResourceType.TOPIC, topic, configs=["retention.ms"])])
    assert set(topic_configs(admin, topic)) == {"retention.bytes", "segment.bytes"}
    refused = admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic,
                                                  configs={"cleanup.policy": "compact"})])
    assert "InvalidConfig" in refused["topic"][topic]
    assert "cleanup.policy" not in topic_configs(admin, topic)


def test_create_partitions_then_produce_to_the_new_ones(admin, kafka_bootstrap):
    topic = topic_name("kpa-grow")
    admin.create_topics([NewTopic(topic, 1, 1)])
    admin.create_partitions({topic: NewPartitions(4)}, validate_only=True)
    assert len(admin.describe_topics([topic])[0]["partitions"]) == 1
    admin.create_partitions({topic: NewPartitions(4)})
    assert len(admin.describe_topics([topic])[0]["partitions"]) == 4
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
    assert producer.send(topic, b"on the new partition", partition=3).get(timeout=10).offset == 0
    producer.close()


def test_delete_records_moves_where_consumers_start(admin, kafka_bootstrap):
    topic = topic_name("kpa-records")
    admin.create_topics([NewTopic(topic, 1, 1)])
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
    for i in range(10):
        producer.send(topic, b"record-%d" % i, partition=0)
    producer.flush(10)
    producer.close()
    tp = TopicPartition(topic, 0)
    result = admin.delete_records({tp: 6})
    assert result[tp]["low_watermark"] == 6
    consumer = KafkaConsumer(bootstrap_servers=kafka_bootstrap, enable_auto_commit=False, group_id=None)
    assert consumer.beginning_offsets([tp]) == {tp: 6}
    consumer.assign([tp])
    consumer.seek_to_beginning(tp)
    records = []
    deadline = time.monotonic() + 15
    while len(records) < 4 and time.monotonic() < deadline:
        for batch in consumer.poll(timeout_ms=500).values():
            records.extend(batch)
    consumer.close()
    # Whole batches are served, so the first batch starting at or before 6 may come back;
    # the client drops records below the position it asked for.
    assert [r.value for r in records] == [b"record-%d" % i for i in range(6, 10)]


def test_describe_cluster(admin, kafka_bootstrap):
    cluster = admin.describe_cluster()
    host, port = kafka_bootstrap.rsplit(":", 1)
    assert cluster["cluster_id"]
    assert (host, int(port)) in {(b["host"], b["port"]) for b in cluster["brokers"]}
    assert cluster["controller_id"] in {b["broker_id"] for b in cluster["brokers"]}
    assert "DESCRIBE_CONFIGS" in cluster["authorized_operations"]


def test_delete_topics(admin):
    topic = topic_name("kpa-delete")
    admin.create_topics([NewTopic(topic, 2, 1)])
    assert topic in admin.list_topics()
    result = admin.delete_topics([topic])
    assert [t["error_code"] for t in result["topics"]] == [0]
    assert topic not in admin.list_topics()
