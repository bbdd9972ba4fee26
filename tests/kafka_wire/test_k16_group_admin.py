"""ListGroups 0–4, DescribeGroups 0–5, DeleteGroups 0–2 and OffsetDelete 0 over real sockets."""

from __future__ import annotations

import pytest
from kio.schema.errors import ErrorCode

from kafka_wire.build import make
from kafka_wire.groups import GROUP_AUTHORIZED_OPERATIONS, NO_AUTHORIZED_OPERATIONS
from tests.kafka_wire.groupraw import SUBSCRIPTION, joined, schema, sync, unique
from tests.kafka_wire.rawkafka import RawKafka
from tests.kafka_wire.test_k08_offset_commit import commit, fetch
from tests.kafka_wire.test_k19_create_topics import create


@pytest.fixture
def kafka(server):
    with RawKafka(server.kafka_bootstrap, client_id="admin-test") as connection:
        yield connection


@pytest.fixture
def topic(kafka):
    name = unique("ga")
    assert create(kafka, 7, name=name, partitions=2).error_code == ErrorCode.none
    return name


def stable_group(kafka, group):
    member = joined(kafka, 5, group)
    kafka.send(sync(3, group, 1, member.member_id, [(member.member_id, b"ASSIGNED")]))
    return member


def list_groups(kafka, version, states=()):
    m = schema("list_groups", version)
    response = kafka.send(make(m.ListGroupsRequest, states_filter=tuple(states)))
    assert response.error_code == ErrorCode.none
    return {g.group_id: (g.protocol_type, getattr(g, "group_state", None)) for g in response.groups}


@pytest.mark.parametrize("version", range(5))
def test_list_groups(kafka, topic, version):
    live, simple = unique("live"), unique("simple")
    stable_group(kafka, live)
    commit(kafka, 8, simple, {topic: {0: (1, "")}})
    listed = list_groups(kafka, version)
    state = "Stable" if version >= 4 else None
    assert listed[live] == ("consumer", state)
    assert listed[simple] == ("", "Empty" if version >= 4 else None)
    if version >= 4:
        only_stable = list_groups(kafka, version, ["STABLE", "preparingrebalance"])
        assert live in only_stable and simple not in only_stable
        assert list_groups(kafka, version, ["NoSuchState"]) == {}


@pytest.mark.parametrize("version", range(6))
def test_describe_groups(kafka, version):
    group = unique("described")
    member = stable_group(kafka, group)
    m = schema("describe_groups", version)
    response = kafka.send(make(m.DescribeGroupsRequest, groups=(group, "never-existed"), include_authorized_operations=True))
    described, missing = response.groups
    assert (described.error_code, described.group_id, described.group_state) == (ErrorCode.none, group, "Stable")
    assert (described.protocol_type, described.protocol_data) == ("consumer", "range")
    (seen,) = described.members
    assert (seen.member_id, seen.client_id, seen.client_host) == (member.member_id, "admin-test", "/127.0.0.1")
    assert (seen.member_metadata, seen.member_assignment) == (SUBSCRIPTION, b"ASSIGNED")
    if version >= 3:
        assert described.authorized_operations == GROUP_AUTHORIZED_OPERATIONS
    # Kafka describes a group it does not know as Dead, without an error.
    assert (missing.error_code, missing.group_state, missing.members) == (ErrorCode.none, "Dead", ())


def test_describe_without_operations_and_not_stable(kafka):
    group = unique("described")
    joined(kafka, 5, group)  # CompletingRebalance: the leader has not synced
    m = schema("describe_groups", 5)
    (described,) = kafka.send(m.DescribeGroupsRequest(groups=(group,), include_authorized_operations=False)).groups
    assert described.group_state == "CompletingRebalance"
    assert described.authorized_operations == NO_AUTHORIZED_OPERATIONS
    assert described.protocol_data == ""
    assert [(x.member_metadata, x.member_assignment) for x in described.members] == [(b"", b"")]


@pytest.mark.parametrize("version", range(3))
def test_delete_groups(kafka, topic, version):
    live, simple = unique("live"), unique("simple")
    stable_group(kafka, live)
    commit(kafka, 8, simple, {topic: {0: (1, "")}})
    m = schema("delete_groups", version)
    results = kafka.send(m.DeleteGroupsRequest(groups_names=(live, simple, "no-such-group"))).results
    assert {r.group_id: r.error_code for r in results} == {
        live: ErrorCode.non_empty_group, simple: ErrorCode.none, "no-such-group": ErrorCode.group_id_not_found}
    assert fetch(kafka, 6, simple, None)[0] == {}
    assert simple not in list_groups(kafka, 4)


def offset_delete(kafka, group, topics):
    m = schema("offset_delete", 0)
    response = kafka.send(m.OffsetDeleteRequest(group_id=group, topics=tuple(
        m.OffsetDeleteRequestTopic(name=n, partitions=tuple(m.OffsetDeleteRequestPartition(partition_index=p) for p in ps))
        for n, ps in topics.items())))
    return response.error_code, {(t.name, p.partition_index): p.error_code for t in response.topics for p in t.partitions}


def test_offset_delete(kafka, topic):
    other = unique("ga-other")
    create(kafka, 7, name=other, partitions=1)
    assert offset_delete(kafka, unique("none"), {topic: [0]}) == (ErrorCode.group_id_not_found, {})
    # A live consumer group subscribed to topic "t" (SUBSCRIPTION) — may delete the others.
    live = unique("live")
    member = stable_group(kafka, live)
    commit(kafka, 5, live, {other: {0: (3, "")}}, member_id=member.member_id, generation=1)
    assert offset_delete(kafka, live, {other: [0], "t": [0], "missing": [0]}) == (ErrorCode.none, {
        (other, 0): ErrorCode.none, ("t", 0): ErrorCode.unknown_topic_or_partition,
        ("missing", 0): ErrorCode.unknown_topic_or_partition})
    # An empty group: everything goes.
    simple = unique("simple")
    commit(kafka, 8, simple, {topic: {0: (1, ""), 1: (2, "")}})
    assert offset_delete(kafka, simple, {topic: [0]}) == (ErrorCode.none, {(topic, 0): ErrorCode.none})
    assert fetch(kafka, 6, simple, None)[0] == {(topic, 1): (2, "", 4, ErrorCode.none)}


def test_offset_delete_of_a_subscribed_topic(kafka):
    subscribed = "t"  # the topic SUBSCRIPTION names
    create(kafka, 7, name=subscribed, partitions=1)
    live = unique("live")
    member = stable_group(kafka, live)
    commit(kafka, 5, live, {subscribed: {0: (3, "")}}, member_id=member.member_id, generation=1)
    assert offset_delete(kafka, live, {subscribed: [0]}) == (
        ErrorCode.none, {(subscribed, 0): ErrorCode.group_subscribed_to_topic})


def test_offset_delete_of_a_live_group_of_another_protocol(kafka, topic):
    group = unique("connect")
    member = joined(kafka, 5, group, protocol_type="connect")
    kafka.send(sync(3, group, 1, member.member_id, [(member.member_id, b"")]))
    commit(kafka, 5, group, {topic: {0: (3, "")}}, member_id=member.member_id, generation=1)
    assert offset_delete(kafka, group, {topic: [0]}) == (ErrorCode.non_empty_group, {})
