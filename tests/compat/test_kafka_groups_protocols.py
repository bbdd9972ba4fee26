"""The broker passes assignment protocols through: incremental cooperative rebalancing
(cooperative-sticky in librdkafka and kafka-python) and groups mixing client libraries."""

from __future__ import annotations

import time

import pytest

from tests.compat.group_harness import GroupMember, balanced, create_topic, produce, received, wait_for
from tests.compat.kafka_helpers import topic_name

PARTITIONS = 6


@pytest.fixture
def topic(kafka_bootstrap):
    name = topic_name("proto")
    create_topic(kafka_bootstrap, name, PARTITIONS)
    return name


@pytest.mark.parametrize("client", ["confluent", "kafka-python"])
def test_cooperative_sticky_moves_only_what_it_must(client, kafka_bootstrap, topic):
    group = topic_name(f"coop-{client}")
    options = {"assignor": "cooperative-sticky", "session_ms": 10_000}
    members = [GroupMember(client, kafka_bootstrap, topic, group, **options) for _ in range(2)]
    try:
        wait_for(lambda: balanced(members, PARTITIONS), 30, "two cooperative members to share the topic", members)
        time.sleep(1.5)  # let start-up rebalances finish
        before = {id(m): m.assignment for m in members}
        revoked_before = {id(m): len(m.of("revoked")) for m in members}
        third = GroupMember(client, kafka_bootstrap, topic, group, **options)
        members.append(third)
        wait_for(lambda: balanced(members, PARTITIONS) and all(len(m.assignment) == 2 for m in members), 30,
                 "three cooperative members to share the topic", members)
        from kafka import KafkaAdminClient

        admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
        try:
            # The protocol shows once the group is Stable (a cooperative rebalance takes two rounds).
            wait_for(lambda: admin.describe_groups([group])[group]["group_state"] == "Stable", 20, "a stable group")
            assert admin.describe_groups([group])[group]["protocol_data"] == "cooperative-sticky"
        finally:
            admin.close()
        moved = 0
        for member in members[:2]:
            kept = member.assignment
            # Sticky: an existing member keeps a subset of what it had ...
            assert kept <= before[id(member)]
            # ... and, cooperative: it gave up only the partitions that moved, never all of them.
            revoked = {p for e in member.of("revoked")[revoked_before[id(member)]:] for p in e["partitions"]}
            assert revoked == before[id(member)] - kept
            moved += len(revoked)
        assert moved == 2  # exactly the newcomer's share changed hands
        sent = produce(kafka_bootstrap, topic, PARTITIONS, 60)
        wait_for(lambda: len(received(members)) >= 60, 30, "every record", members)
        time.sleep(0.3)
        got = received(members)
        assert sorted(v for *_, v in got) == sorted(v for _, v in sent)
    finally:
        for m in members:
            m.kill()


def test_members_of_different_client_libraries_share_one_group(kafka_bootstrap, topic):
    group = topic_name("mixed")
    # The clients' one common assignor is Kafka's "roundrobin" (kafkajs names its own
    # "RoundRobinAssigner", so it cannot join a group of Java-protocol clients).
    members = [GroupMember(client, kafka_bootstrap, topic, group, assignor="roundrobin", session_ms=10_000)
               for client in ("kafka-python", "confluent", "aiokafka")]
    try:
        wait_for(lambda: balanced(members, PARTITIONS) and all(len(m.assignment) == 2 for m in members), 30,
                 "three libraries to share the topic", members)
        sent = produce(kafka_bootstrap, topic, PARTITIONS, 90)
        wait_for(lambda: len(received(members)) >= 90, 30, "every record", members)
        time.sleep(0.3)
        got = received(members)
        assert sorted(v for *_, v in got) == sorted(v for _, v in sent)
        assert len({(p, o) for p, o, _ in got}) == len(got)
        # One leaves; the other two libraries take over its partitions.
        members[1].stop()
        wait_for(lambda: balanced(members[::2], PARTITIONS), 30, "the two others to take over", members)
    finally:
        for m in members:
            m.kill()
