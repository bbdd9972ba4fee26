"""Committed offsets and group metadata survive kill -9 of the server (files backend)."""

from __future__ import annotations

import time

from kafka import KafkaAdminClient

from tests.compat.group_harness import GroupMember, create_topic, produce, received, wait_for
from tests.compat.kafka_helpers import topic_name

PARTITIONS = 3


def committed(bootstrap: str, group: str) -> dict[int, tuple[int, str]]:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        return {tp.partition: (om.offset, om.metadata) for tp, om in admin.list_group_offsets({group: None})[group].items()}
    finally:
        admin.close()


def test_committed_offsets_survive_kill9_and_consumers_resume(durable_server):
    bootstrap = durable_server.kafka_bootstrap
    topic, group, deleted = topic_name("dur"), topic_name("dur-group"), topic_name("dur-deleted")
    create_topic(bootstrap, topic, PARTITIONS)
    produce(bootstrap, topic, PARTITIONS, 30, "old")
    first = GroupMember("confluent", bootstrap, topic, group)
    try:
        wait_for(lambda: len(first.records) >= 30 and len(first.of("committed")) >= 1, 30, "the first records", [first])
        time.sleep(0.3)
        first.stop()
    finally:
        first.kill()
    before = committed(bootstrap, group)
    assert {p: o for p, (o, _) in before.items()} == {0: 10, 1: 10, 2: 10}
    # A second group, deleted before the crash, must stay deleted.
    other = GroupMember("kafka-python", bootstrap, topic, deleted)
    wait_for(lambda: other.of("committed"), 30, "the other group to commit", [other])
    other.stop()
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    assert admin.delete_groups([deleted]) == {deleted: "OK"}
    admin.close()

    durable_server.kill9()
    durable_server.start()

    assert committed(bootstrap, group) == before
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        names = {g["group_id"] for g in admin.list_groups()}
        assert group in names and deleted not in names
    finally:
        admin.close()
    fresh = produce(bootstrap, topic, PARTITIONS, 9, "new")
    second = GroupMember("aiokafka", bootstrap, topic, group)
    try:
        wait_for(lambda: len(second.records) >= 9, 30, "the new records", [second])
        time.sleep(0.5)
        assert sorted(v for *_, v in second.records) == sorted(v for _, v in fresh)
    finally:
        second.kill()


def test_a_live_member_carries_on_across_a_server_crash(durable_server):
    bootstrap = durable_server.kafka_bootstrap
    topic, group = topic_name("dur-live"), topic_name("dur-live-group")
    create_topic(bootstrap, topic, PARTITIONS)
    member = GroupMember("kafka-python", bootstrap, topic, group, session_ms=10_000)
    try:
        wait_for(lambda: member.assignment == frozenset(range(PARTITIONS)), 30, "the assignment", [member])
        sent = produce(bootstrap, topic, PARTITIONS, 15, "before")
        wait_for(lambda: len(member.records) >= 15, 30, "the first records", [member])
        durable_server.kill9()
        durable_server.start()
        # The group comes back Stable with its member and generation: the member's
        # heartbeats and commits keep working once it has reconnected.
        sent += produce(bootstrap, topic, PARTITIONS, 15, "after")
        wait_for(lambda: {v for *_, v in received([member])} >= {v for _, v in sent}, 60, "every record", [member])
        admin = KafkaAdminClient(bootstrap_servers=bootstrap)
        try:
            wait_for(lambda: admin.describe_groups([group])[group]["group_state"] == "Stable", 20, "a stable group")
            assert len(admin.describe_groups([group])[group]["members"]) == 1
        finally:
            admin.close()
        assert not member.errors()
    finally:
        member.kill()
