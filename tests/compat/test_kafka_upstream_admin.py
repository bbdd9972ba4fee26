"""Regressions from kafka-python's own integration suite (test/integration, KAFKA_VERSION=4.0).

Each test drives kafka-python 3 against the real server the way upstream's
test_admin_integration.py / test_consumer_integration.py do, and checks what a one-broker
Kafka 4.0 answers: DescribeTopicPartitions paging (KIP-966), DescribeLogDirs and
AlterReplicaLogDirs on the one log dir, ElectLeaders with nothing to elect, partition
reassignments that complete at once, ACL APIs with no authorizer (SECURITY_DISABLED), and
ListOffsets v8–v9 (EARLIEST_LOCAL, LATEST_TIERED), and kafka-python clients pinned to a
release (upstream pins KAFKA_VERSION) working.
"""

from __future__ import annotations

import time

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition, TopicPartitionReplica
from kafka.admin import ACL, ACLFilter, ACLOperation, ACLPermissionType, NewTopic, ResourcePattern, ResourceType
from kafka.errors import (
    ElectionNotNeededError,
    InvalidReplicationAssignmentError,
    LogDirNotFoundError,
    NoError,
    NoReassignmentInProgressError,
    SecurityDisabledError,
    UnknownTopicOrPartitionError,
)
from kafka.protocol.consumer.offsets import OffsetSpec

from tests.compat.kafka_helpers import topic_name


@pytest.fixture
def admin(kafka_bootstrap):
    client = KafkaAdminClient(bootstrap_servers=kafka_bootstrap, request_timeout_ms=10000)
    yield client
    client.close()


def node_id(admin) -> int:
    (broker,) = admin._manager.cluster.brokers()
    return broker.node_id


def make_topic(admin, prefix: str, partitions: int) -> str:
    topic = topic_name(prefix)
    admin.create_topics([NewTopic(topic, partitions, 1)])
    return topic


def test_describe_topic_partitions_pages_by_partition_limit(admin):
    first = make_topic(admin, "dtp-a", 3)
    second = make_topic(admin, "dtp-b", 2)
    node = node_id(admin)
    whole = admin.describe_topic_partitions([second, first])
    assert [t["name"] for t in whole["topics"]] == sorted([first, second])
    assert whole["next_cursor"] is None
    (described,) = [t for t in whole["topics"] if t["name"] == first]
    assert described["error_code"] == 0
    assert [(p["partition_index"], p["leader_id"], p["replica_nodes"], p["isr_nodes"])
            for p in described["partitions"]] == [(i, node, [node], [node]) for i in range(3)]

    page = admin.describe_topic_partitions([first], response_partition_limit=2)
    assert [p["partition_index"] for p in page["topics"][0]["partitions"]] == [0, 1]
    assert page["next_cursor"] == {"topic_name": first, "partition_index": 2}
    rest = admin.describe_topic_partitions([first], cursor=page["next_cursor"])
    assert [p["partition_index"] for p in rest["topics"][0]["partitions"]] == [2]
    assert rest["next_cursor"] is None

    # The budget ends exactly at a topic's end: the cursor points at the next topic.
    ordered = sorted([first, second])
    sizes = {first: 3, second: 2}
    exact = admin.describe_topic_partitions(ordered, response_partition_limit=sizes[ordered[0]])
    assert [t["name"] for t in exact["topics"]] == [ordered[0]]
    assert exact["next_cursor"] == {"topic_name": ordered[1], "partition_index": 0}


def test_describe_topic_partitions_unknown_topic(admin):
    missing = topic_name("dtp-missing")
    result = admin.describe_topic_partitions([missing])
    (answer,) = result["topics"]
    assert (answer["name"], answer["error_code"], answer["partitions"]) == (missing, 3, [])
    assert missing not in admin.list_topics()  # never auto-created


def test_log_dirs_one_dir_holding_every_partition(admin, kafka_bootstrap):
    topic = make_topic(admin, "logdirs", 2)
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
    producer.send(topic, b"x" * 100, partition=1).get(timeout=10)
    producer.close()
    node = node_id(admin)
    (result,) = admin.describe_log_dirs()
    assert result["broker"] == node
    (log_dir,) = result["log_dirs"]
    assert log_dir["error_code"] == 0
    assert log_dir["total_bytes"] == -1 and log_dir["usable_bytes"] == -1  # --memory: no volume
    (entry,) = [t for t in log_dir["topics"] if t["name"] == topic]
    sizes = {p["partition_index"]: p["partition_size"] for p in entry["partitions"]}
    assert sizes[0] == 0 and sizes[1] > 100
    assert all(p["offset_lag"] == 0 and not p["is_future_key"] for p in entry["partitions"])

    path = log_dir["log_dir"]
    here = TopicPartitionReplica(topic, 0, node)
    assert admin.alter_replica_log_dirs({here: path}) == {here: NoError}
    elsewhere = TopicPartitionReplica(topic, 1, node)
    assert admin.alter_replica_log_dirs({elsewhere: path + "-other"}) == {elsewhere: LogDirNotFoundError}


def test_elect_leaders_never_needed(admin):
    topic = make_topic(admin, "elect", 2)
    response = admin.elect_leaders(0, {topic: [0, 1, 7]}, raise_errors=False)
    (result,) = response.replica_election_results
    assert result.topic == topic
    codes = {p.partition_id: p.error_code for p in result.partition_result}
    assert codes == {0: ElectionNotNeededError.errno, 1: ElectionNotNeededError.errno,
                     7: UnknownTopicOrPartitionError.errno}
    # kafka-python names every partition itself when given none; unclean elections too
    # have nothing to do while the one replica leads.
    unclean = admin.elect_leaders(1, raise_errors=False).replica_election_results
    assert {p.error_code for r in unclean for p in r.partition_result} == {ElectionNotNeededError.errno}


def test_partition_reassignments_complete_at_once(admin):
    topic = make_topic(admin, "reassign", 2)
    node = node_id(admin)
    tp0, tp1 = TopicPartition(topic, 0), TopicPartition(topic, 1)
    assert admin.alter_partition_reassignments({tp0: [node]}) == {tp0: None}
    assert admin.alter_partition_reassignments({tp0: [node + 1], tp1: None}) == {
        tp0: InvalidReplicationAssignmentError, tp1: NoReassignmentInProgressError}
    missing = TopicPartition(topic, 9)
    assert admin.alter_partition_reassignments({missing: [node]}) == {missing: UnknownTopicOrPartitionError}
    assert admin.list_partition_reassignments() == {}
    assert admin.list_partition_reassignments([tp0]) == {}


def test_acl_apis_answer_security_disabled(admin):
    pattern = ResourcePattern(ResourceType.TOPIC, "acl-topic")
    acl = ACL(principal="User:alice", host="*", operation=ACLOperation.READ,
              permission_type=ACLPermissionType.ALLOW, resource_pattern=pattern)
    result = admin.create_acls([acl])
    assert result["succeeded"] == []
    assert result["failed"] == [SecurityDisabledError]
    any_filter = ACLFilter(principal=None, host="*", operation=ACLOperation.ANY,
                           permission_type=ACLPermissionType.ANY, resource_pattern=ResourcePattern(
                               ResourceType.TOPIC, "acl-topic"))
    with pytest.raises(SecurityDisabledError):
        admin.describe_acls(any_filter)
    ((_, _, delete_error),) = admin.delete_acls([any_filter])
    assert delete_error is SecurityDisabledError


def test_list_offsets_earliest_local_and_latest_tiered(admin, kafka_bootstrap):
    topic = make_topic(admin, "tiered", 1)
    tp = TopicPartition(topic, 0)
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
    for i in range(5):
        producer.send(topic, b"%d" % i, partition=0)
    producer.flush()
    producer.close()
    admin.delete_records({tp: 2})
    offsets = admin.list_partition_offsets({tp: OffsetSpec.EARLIEST_LOCAL})
    assert offsets[tp].offset == 2 and offsets[tp].timestamp == -1
    tiered = admin.list_partition_offsets({tp: OffsetSpec.LATEST_TIERED})
    assert (tiered[tp].offset, tiered[tp].leader_epoch) == (-1, None)  # kafka-python: epoch -1 is None


@pytest.mark.parametrize("pinned", [(3, 8), (3, 9), (4, 0)])
def test_clients_pinned_to_a_release_still_work(kafka_bootstrap, pinned):
    # kafka-python trusts its own table for a pinned api_version whenever the broker's
    # ApiVersions look like a newer release (upstream's suite pins KAFKA_VERSION), so
    # what we advertise must never look newer than what we serve.
    topic = topic_name("pinned")
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, api_version=pinned)
    producer.send(topic, b"one").get(timeout=10)
    producer.close()
    consumer = KafkaConsumer(topic, bootstrap_servers=kafka_bootstrap, api_version=pinned,
                             group_id=topic, auto_offset_reset="earliest")
    try:
        values = []
        deadline = time.monotonic() + 10
        while not values and time.monotonic() < deadline:
            values = [m.value for batch in consumer.poll(timeout_ms=500).values() for m in batch]
        assert values == [b"one"]
        consumer.commit()
        assert consumer.committed(TopicPartition(topic, 0)) == 1
    finally:
        consumer.close()


def test_describe_metadata_quorum_one_voter(admin):
    node = node_id(admin)
    result = admin.describe_metadata_quorum()
    (topic,) = result["topics"]
    assert topic["topic_name"] == "__cluster_metadata"
    (partition,) = topic["partitions"]
    assert (partition["partition_index"], partition["error"], partition["leader_id"]) == (0, None, node)
    assert partition["leader_epoch"] >= 0 and partition["high_watermark"] >= 0
    assert [v["replica_id"] for v in partition["current_voters"]] == [node]
    assert partition["observers"] == []
    (voter_node,) = result["nodes"]
    assert voter_node["node_id"] == node and len(voter_node["listeners"]) == 1


def test_describe_quorum_of_another_partition_is_unknown(admin):
    result = admin._manager.run(admin._async_describe_quorum, "__cluster_metadata", 1)
    (partition,) = result["topics"][0]["partitions"]
    assert partition["error"] is not None and "UnknownTopicOrPartition" in partition["error"]
