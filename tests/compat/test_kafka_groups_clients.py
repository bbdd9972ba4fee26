"""Consumer groups through each client library: kafka-python, aiokafka, confluent-kafka, kafkajs.

Every test runs real members (separate processes, tests/compat/group_member.py and
kafka_node/member.js) against a real server, and asserts what users see: partitions split
between members, every record consumed once, prompt rebalances, expiry of a crashed member
at its session timeout, static members coming back without a rebalance, and resuming from
committed offsets (manual and auto-commit). Join and rebalance times are printed (-s).
"""

from __future__ import annotations

import subprocess
import time

import pytest

from tests.compat.group_harness import (
    NODE_DIR,
    GroupMember,
    balanced,
    create_topic,
    produce,
    received,
    wait_for,
)
from tests.compat.kafka_helpers import topic_name

CLIENTS = ["kafka-python", "aiokafka", "confluent", "kafkajs"]
PARTITIONS = 6


@pytest.fixture(scope="module", autouse=True)
def kafkajs_installed():
    if not (NODE_DIR / "node_modules" / "kafkajs" / "package.json").exists():
        subprocess.run(["bash", str(NODE_DIR / "install.sh")], check=True, timeout=300)


@pytest.fixture
def topic(kafka_bootstrap):
    name = topic_name("grp")
    create_topic(kafka_bootstrap, name, PARTITIONS)
    return name


def members_of(client, kafka_bootstrap, topic, group, count, **options):
    return [GroupMember(client, kafka_bootstrap, topic, group, **options) for _ in range(count)]


def assert_each_record_once(members, sent):
    got = received(members)
    assert sorted(v for _, _, v in got) == sorted(v for _, v in sent), "records lost or duplicated"
    assert len({(p, o) for p, o, _ in got}) == len(got)


@pytest.mark.parametrize("client", CLIENTS)
def test_members_split_the_partitions_and_a_third_rebalances_promptly(client, kafka_bootstrap, topic):
    group = topic_name(f"g-{client}")
    members = members_of(client, kafka_bootstrap, topic, group, 2, session_ms=10_000)
    try:
        wait_for(lambda: balanced(members, PARTITIONS), 30, "two members to share the topic", members)
        # The member that formed the group; the other one joined a group that had a generation.
        join_s = min(m.join_seconds() for m in members)
        third = GroupMember(client, kafka_bootstrap, topic, group, session_ms=10_000)
        members.append(third)
        wait_for(lambda: balanced(members, PARTITIONS), 30, "three members to share the topic", members)
        # From the newcomer's subscribe() to the last member handed its new partitions.
        rebalance_s = max(m.of("assigned")[-1]["t"] for m in members) - third.first("subscribed")["t"]
        print(f"\n{client}: first join+sync {join_s * 1000:.0f} ms; third member's rebalance {rebalance_s * 1000:.0f} ms "
              f"(heartbeat interval 1000 ms, session timeout 10000 ms)")
        # Existing members learn of the rebalance at their next heartbeat; nothing waits
        # for a timeout.
        assert rebalance_s < 4.0
        assert all(len(m.assignment) == 2 for m in members)

        sent = produce(kafka_bootstrap, topic, PARTITIONS, 120)
        wait_for(lambda: len(received(members)) >= len(sent), 30, "every record", members)
        time.sleep(0.3)
        assert_each_record_once(members, sent)
        for member in members:
            assert {p for p, _, _ in member.records} <= member.assignment
    finally:
        for m in members:
            m.kill()


@pytest.mark.parametrize("client", CLIENTS)
def test_a_leaving_member_hands_its_partitions_over_with_nothing_lost(client, kafka_bootstrap, topic):
    group = topic_name(f"g-{client}")
    members = members_of(client, kafka_bootstrap, topic, group, 2)
    try:
        wait_for(lambda: balanced(members, PARTITIONS), 30, "two members to share the topic", members)
        sent = produce(kafka_bootstrap, topic, PARTITIONS, 60, "before")
        wait_for(lambda: len(received(members)) >= 60, 30, "the first records", members)
        stayer, leaver = members
        left_at = time.time()
        leaver.stop()
        wait_for(lambda: stayer.assignment == frozenset(range(PARTITIONS)), 30,
                 "the remaining member to take every partition", members)
        took_over = stayer.of("assigned")[-1]["t"]
        print(f"\n{client}: partitions reassigned {(took_over - left_at) * 1000:.0f} ms after LeaveGroup")
        sent += produce(kafka_bootstrap, topic, PARTITIONS, 60, "after")
        wait_for(lambda: len(received(members)) >= 120, 30, "every record", members)
        time.sleep(0.3)
        # The leaver committed each batch before it left, so nothing is read twice either.
        assert_each_record_once(members, sent)
    finally:
        for m in members:
            m.kill()


@pytest.mark.parametrize("client", CLIENTS)
def test_a_killed_member_is_replaced_after_its_session_timeout(client, kafka_bootstrap, topic):
    group = topic_name(f"g-{client}")
    members = members_of(client, kafka_bootstrap, topic, group, 2, session_ms=6000, heartbeat_ms=1000)
    try:
        wait_for(lambda: balanced(members, PARTITIONS), 30, "two members to share the topic", members)
        sent = produce(kafka_bootstrap, topic, PARTITIONS, 60, "before")
        wait_for(lambda: len(received(members)) >= 60, 30, "the first records", members)
        survivor, victim = members
        killed_at = time.time()
        victim.kill()  # no LeaveGroup: only the session timeout can tell
        wait_for(lambda: survivor.assignment == frozenset(range(PARTITIONS)), 30,
                 "the survivor to take every partition", members)
        elapsed = survivor.of("assigned")[-1]["t"] - killed_at
        print(f"\n{client}: killed member's partitions moved after {elapsed * 1000:.0f} ms (session timeout 6000 ms)")
        assert 5.0 <= elapsed <= 6.0 + 1.0 + 3.0, [m.describe() for m in members]
        sent += produce(kafka_bootstrap, topic, PARTITIONS, 60, "after")
        wait_for(lambda: {v for _, _, v in received(members)} >= {v for _, v in sent}, 30, "every record", members)
    finally:
        for m in members:
            m.kill()


@pytest.mark.parametrize("client", ["kafka-python", "aiokafka", "confluent"])  # kafkajs has no static membership
def test_a_static_member_restarts_without_a_rebalance(client, kafka_bootstrap, topic):
    group = topic_name(f"g-{client}")
    a = GroupMember(client, kafka_bootstrap, topic, group, instance="pod-a", session_ms=10_000)
    b = GroupMember(client, kafka_bootstrap, topic, group, instance="pod-b", session_ms=10_000)
    members = [a, b]
    try:
        wait_for(lambda: balanced(members, PARTITIONS), 30, "two static members to share the topic", members)
        # Let the start-up rebalances settle before looking for new ones.
        time.sleep(2)
        a_before, b_before = a.assignment, b.assignment
        a_events = len(a.events)
        b.kill()
        restarted = GroupMember(client, kafka_bootstrap, topic, group, instance="pod-b", session_ms=10_000)
        members.append(restarted)
        wait_for(lambda: restarted.assignment is not None, 30, "the restarted member's assignment", members)
        assert restarted.assignment == b_before
        time.sleep(2.5)  # a heartbeat or two of a: a rebalance would show now
        later = a.events[a_events:]
        assert [e for e in later if e["event"] in ("revoked", "assignment")] == [], later
        assert a.assignment == a_before
        sent = produce(kafka_bootstrap, topic, PARTITIONS, 60)
        wait_for(lambda: len(received([a, restarted])) >= 60, 30, "every record", members)
    finally:
        for m in members:
            m.kill()


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("auto_commit", [False, True], ids=["manual-commit", "auto-commit"])
def test_a_restarted_member_resumes_from_the_committed_offset(client, auto_commit, kafka_bootstrap, topic):
    group = topic_name(f"g-{client}")
    first = GroupMember(client, kafka_bootstrap, topic, group, auto_commit=auto_commit)
    try:
        wait_for(lambda: first.assignment == frozenset(range(PARTITIONS)), 30, "the member's assignment", [first])
        join_s = first.join_seconds()
        print(f"\n{client}: a lone member's first join+sync took {join_s * 1000:.0f} ms")
        sent = produce(kafka_bootstrap, topic, PARTITIONS, 30, "old")
        wait_for(lambda: len(first.records) >= 30, 30, "the first records", [first])
        if auto_commit:
            time.sleep(0.6)  # a few auto-commit intervals
        first.stop()  # close() commits (auto-commit) and leaves the group
    finally:
        first.kill()
    fresh = produce(kafka_bootstrap, topic, PARTITIONS, 20, "new")
    second = GroupMember(client, kafka_bootstrap, topic, group, auto_commit=auto_commit)
    try:
        wait_for(lambda: len(second.records) >= 20, 30, "the new records", [second])
        time.sleep(0.5)
        assert sorted(v for _, _, v in second.records) == sorted(v for _, v in fresh), (
            first.of("committed")[-3:], first.of("closed"), second.records[:5], second.describe())
        by_partition = {}
        for p, o, _ in first.records:
            by_partition[p] = max(by_partition.get(p, -1), o)
        for p, o, _ in second.records:
            assert o > by_partition[p]
        assert len(sent) == 30
    finally:
        second.kill()
