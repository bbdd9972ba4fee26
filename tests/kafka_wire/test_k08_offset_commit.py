"""OffsetCommit 2–8 and OffsetFetch 1–8 over real sockets: round trips, checks, multi-group fetch."""

from __future__ import annotations

from datetime import timedelta

import pytest
from kio.schema.errors import ErrorCode

from kafka_wire.build import make
from tests.kafka_wire.groupraw import joined, schema, sync, unique
from tests.kafka_wire.rawkafka import RawKafka
from tests.kafka_wire.test_k19_create_topics import create


@pytest.fixture
def kafka(server):
    with RawKafka(server.kafka_bootstrap) as connection:
        yield connection


@pytest.fixture
def topic(kafka):
    name = unique("oc")
    assert create(kafka, 7, name=name, partitions=3).error_code == ErrorCode.none
    return name


def commit(kafka, version, group, offsets, *, member_id="", generation=-1, retention=timedelta(milliseconds=-1)):
    """offsets: {topic: {partition: (offset, metadata)}}."""
    m = schema("offset_commit", version)
    request = make(
        m.OffsetCommitRequest,
        group_id=group, generation_id_or_member_epoch=generation, member_id=member_id, group_instance_id=None,
        retention_time=retention,
        topics=tuple(
            m.OffsetCommitRequestTopic(name=name, partitions=tuple(
                make(m.OffsetCommitRequestPartition, partition_index=p, committed_offset=o, committed_leader_epoch=4,
                     committed_metadata=md)
                for p, (o, md) in parts.items()))
            for name, parts in offsets.items()
        ),
    )
    return {(t.name, p.partition_index): p.error_code for t in kafka.send(request).topics for p in t.partitions}


def fetch(kafka, version, group, topics):
    """topics: {topic: [partitions]} or None; returns ({(topic, partition): (offset, metadata, epoch, error)}, top error)."""
    m = schema("offset_fetch", version)
    wanted = None if topics is None else tuple(
        m.OffsetFetchRequestTopic(name=n, partition_indexes=tuple(ps)) for n, ps in topics.items())
    response = kafka.send(make(m.OffsetFetchRequest, group_id=group, topics=wanted, require_stable=True))
    return _table(response.topics), getattr(response, "error_code", ErrorCode.none)


def _table(topics):
    return {
        (t.name, p.partition_index): (p.committed_offset, p.metadata, getattr(p, "committed_leader_epoch", -1), p.error_code)
        for t in topics for p in t.partitions
    }


@pytest.mark.parametrize("version", range(2, 9))
def test_group_less_commit_round_trips_at_every_version(kafka, topic, version):
    group = unique(f"simple-v{version}")
    outcome = commit(kafka, version, group, {topic: {0: (10, f"meta-{version}"), 2: (30, None)}})
    assert outcome == {(topic, 0): ErrorCode.none, (topic, 2): ErrorCode.none}
    for fetch_v in range(1, 8):
        table, error = fetch(kafka, fetch_v, group, {topic: [0, 1, 2]})
        epoch = 4 if version >= 6 and fetch_v >= 5 else -1
        assert table == {
            (topic, 0): (10, f"meta-{version}", epoch, ErrorCode.none),
            (topic, 1): (-1, "", -1, ErrorCode.none),
            (topic, 2): (30, "", epoch, ErrorCode.none),
        }, f"OffsetFetch v{fetch_v}"
        assert error == ErrorCode.none
    # v2+: null topics = every committed partition.
    table, _ = fetch(kafka, 6, group, None)
    assert set(table) == {(topic, 0), (topic, 2)}


def test_v8_fetches_several_groups(kafka, topic):
    g1, g2, g3 = unique("multi"), unique("multi"), unique("multi")
    commit(kafka, 8, g1, {topic: {0: (1, "a")}})
    commit(kafka, 8, g2, {topic: {1: (2, "b")}})
    m = schema("offset_fetch", 8)
    response = kafka.send(m.OffsetFetchRequest(require_stable=False, groups=(
        m.OffsetFetchRequestGroup(group_id=g1, topics=None),
        m.OffsetFetchRequestGroup(group_id=g2, topics=(m.OffsetFetchRequestTopics(name=topic, partition_indexes=(1, 2)),)),
        m.OffsetFetchRequestGroup(group_id=g3, topics=None),
    )))
    by_group = {g.group_id: (_table(g.topics), g.error_code) for g in response.groups}
    assert by_group[g1] == ({(topic, 0): (1, "a", 4, ErrorCode.none)}, ErrorCode.none)
    assert by_group[g2][0] == {(topic, 1): (2, "b", 4, ErrorCode.none), (topic, 2): (-1, "", -1, ErrorCode.none)}
    assert by_group[g3] == ({}, ErrorCode.none)


def test_commit_checks(kafka, topic):
    group = unique("checks")
    # A generation for a group nobody coordinates.
    assert commit(kafka, 8, group, {topic: {0: (1, "")}}, member_id="m", generation=3) == {
        (topic, 0): ErrorCode.illegal_generation}
    # Unknown partitions and oversized metadata fail alone.
    outcome = commit(kafka, 8, group, {topic: {0: (1, ""), 9: (1, ""), 1: (1, "x" * 5000)}, "no-such-topic": {0: (1, "")}})
    assert outcome == {
        (topic, 0): ErrorCode.none, (topic, 9): ErrorCode.unknown_topic_or_partition,
        (topic, 1): ErrorCode.offset_metadata_too_large, ("no-such-topic", 0): ErrorCode.unknown_topic_or_partition,
    }
    # A member of a real group must be named, at its generation.
    live = unique("live")
    member = joined(kafka, 5, live)
    kafka.send(sync(3, live, 1, member.member_id, [(member.member_id, b"")]))
    assert commit(kafka, 5, live, {topic: {0: (7, "")}}, member_id=member.member_id, generation=1) == {
        (topic, 0): ErrorCode.none}
    assert commit(kafka, 5, live, {topic: {0: (7, "")}}, member_id=member.member_id, generation=2) == {
        (topic, 0): ErrorCode.illegal_generation}
    assert commit(kafka, 5, live, {topic: {0: (7, "")}}, member_id="other", generation=1) == {
        (topic, 0): ErrorCode.unknown_member_id}
    assert commit(kafka, 5, live, {topic: {0: (7, "")}}) == {(topic, 0): ErrorCode.unknown_member_id}


def test_explicit_retention_time_is_accepted(kafka, topic):
    group = unique("retention")
    assert commit(kafka, 2, group, {topic: {0: (5, "")}}, retention=timedelta(hours=1)) == {(topic, 0): ErrorCode.none}
    assert fetch(kafka, 2, group, {topic: [0]})[0][(topic, 0)][0] == 5
