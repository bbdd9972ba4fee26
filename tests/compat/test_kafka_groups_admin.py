"""Group administration through kafka-python's and confluent-kafka's admin clients:
list and describe groups, list / alter / delete group offsets, delete groups, and the
consumer lag a tool derives from committed offsets and end offsets."""

from __future__ import annotations

import pytest
from confluent_kafka import ConsumerGroupState, ConsumerGroupTopicPartitions, TopicPartition as CTopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec
from kafka import KafkaAdminClient, TopicPartition
from kafka.admin import OffsetSpec as PyOffsetSpec
from kafka.errors import NoError
from kafka.structs import OffsetAndMetadata

from tests.compat.group_harness import GroupMember, create_topic, produce, received, wait_for
from tests.compat.kafka_helpers import topic_name

PARTITIONS = 3


@pytest.fixture
def topic(kafka_bootstrap):
    name = topic_name("gadm")
    create_topic(kafka_bootstrap, name, PARTITIONS)
    produce(kafka_bootstrap, name, PARTITIONS, 30)  # 10 per partition
    return name


@pytest.fixture
def live_group(kafka_bootstrap, topic):
    """A group with one member that has read and committed 10 records per partition."""
    group = topic_name("live")
    member = GroupMember("confluent", kafka_bootstrap, topic, group, client_id="admin-subject", session_ms=10_000)
    wait_for(lambda: len(member.records) >= 30 and member.of("committed"), 30, "the member to consume", [member])
    yield group, member
    member.kill()


def test_kafka_python_admin(kafka_bootstrap, topic, live_group):
    group, member = live_group
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        listed = {g["group_id"]: g for g in admin.list_groups()}
        assert listed[group]["protocol_type"] == "consumer" and listed[group]["group_state"] == "Stable"
        assert group in {g["group_id"] for g in admin.list_groups(states_filter=["Stable"])}
        assert group not in {g["group_id"] for g in admin.list_groups(states_filter=["Empty"])}

        described = admin.describe_groups([group])[group]
        assert described["group_state"] == "Stable" and described["protocol_data"] == "range"
        (seen,) = described["members"]
        assert seen["client_id"] == "admin-subject" and seen["client_host"] == "/127.0.0.1"
        assert seen["member_metadata"]["topics"] == [topic]
        assert seen["member_assignment"]["assigned_partitions"] == [{"topic": topic, "partitions": [0, 1, 2]}]

        committed = admin.list_group_offsets({group: None})[group]
        assert {tp.partition: om.offset for tp, om in committed.items()} == {0: 10, 1: 10, 2: 10}
        # Lag, as a monitoring tool computes it: end offset minus committed offset.
        produce(kafka_bootstrap, topic, PARTITIONS, 3, "extra")
        wait_for(lambda: len(member.records) >= 33 and len(member.of("committed")) >= 2, 30, "the extra records")
        ends = admin.list_partition_offsets({TopicPartition(topic, p): PyOffsetSpec.LATEST for p in range(PARTITIONS)})
        committed = admin.list_group_offsets({group: None})[group]
        assert {tp.partition: ends[tp].offset - om.offset for tp, om in committed.items()} == {0: 0, 1: 0, 2: 0}

        # A live group cannot be deleted or have its offsets altered.
        assert admin.delete_groups([group])[group] == "NonEmptyGroupError"
        member.stop()
        wait_for(lambda: admin.describe_groups([group])[group]["group_state"] == "Empty", 10, "the group to empty")
        assert admin.alter_group_offsets(group, {TopicPartition(topic, 0): OffsetAndMetadata(4, "rewound", -1)}) == {
            TopicPartition(topic, 0): NoError}
        after = admin.list_group_offsets({group: [TopicPartition(topic, 0)]})[group][TopicPartition(topic, 0)]
        assert (after.offset, after.metadata) == (4, "rewound")
        admin.delete_group_offsets(group, [TopicPartition(topic, 1)])
        assert TopicPartition(topic, 1) not in admin.list_group_offsets({group: None})[group]
        assert admin.delete_groups([group, "never-was"]) == {group: "OK", "never-was": "GroupIdNotFoundError"}
        assert admin.list_group_offsets({group: None})[group] == {}
        assert group not in {g["group_id"] for g in admin.list_groups()}
    finally:
        admin.close()


def test_confluent_admin(kafka_bootstrap, topic, live_group):
    group, member = live_group
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    listing = admin.list_consumer_groups(states={ConsumerGroupState.STABLE}).result(timeout=20)
    assert group in {g.group_id for g in listing.valid}
    assert not listing.errors

    description = admin.describe_consumer_groups([group])[group].result(timeout=20)
    assert description.state == ConsumerGroupState.STABLE
    assert description.partition_assignor == "range" and not description.is_simple_consumer_group
    (seen,) = description.members
    assert seen.client_id == "admin-subject"
    assert sorted(tp.partition for tp in seen.assignment.topic_partitions) == [0, 1, 2]

    request = [ConsumerGroupTopicPartitions(group)]
    offsets = admin.list_consumer_group_offsets(request)[group].result(timeout=20)
    committed = {tp.partition: tp.offset for tp in offsets.topic_partitions}
    assert committed == {0: 10, 1: 10, 2: 10}
    ends = {tp.partition: info.offset for tp, info in admin.list_offsets(
        {CTopicPartition(topic, p): OffsetSpec.latest() for p in range(PARTITIONS)}).items()
        for info in [info.result(timeout=20)]}
    assert {p: ends[p] - committed[p] for p in committed} == {0: 0, 1: 0, 2: 0}

    member.stop()
    wait_for(lambda: admin.describe_consumer_groups([group])[group].result(timeout=20).state == ConsumerGroupState.EMPTY,
             10, "the group to empty")
    altered = admin.alter_consumer_group_offsets(
        [ConsumerGroupTopicPartitions(group, [CTopicPartition(topic, 2, 1)])])[group].result(timeout=20)
    assert [(tp.partition, tp.offset, tp.error) for tp in altered.topic_partitions] == [(2, 1, None)]
    offsets = admin.list_consumer_group_offsets(request)[group].result(timeout=20)
    assert {tp.partition: tp.offset for tp in offsets.topic_partitions}[2] == 1

    futures = admin.delete_consumer_groups([group])
    assert futures[group].result(timeout=20) is None
    assert group not in {g.group_id for g in admin.list_consumer_groups().result(timeout=20).valid}


def test_a_consumer_resumes_where_an_admin_client_set_the_offsets(kafka_bootstrap, topic):
    group = topic_name("rewound")
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        # An Empty group's offsets, written by a tool with generation -1.
        admin.alter_group_offsets(group, {TopicPartition(topic, p): OffsetAndMetadata(8, "", -1) for p in range(PARTITIONS)})
    finally:
        admin.close()
    member = GroupMember("kafka-python", kafka_bootstrap, topic, group)
    try:
        wait_for(lambda: len(member.records) >= 6, 30, "the records after offset 8", [member])
        assert sorted((p, o) for p, o, _ in received([member])) == [(p, o) for p in range(PARTITIONS) for o in (8, 9)]
    finally:
        member.kill()
