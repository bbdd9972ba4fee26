"""Committed offsets: commit checks, fetch, retention, deletion, transactions, lag."""

from __future__ import annotations

import pytest

from engine.errors import NotFound
from engine.groups import GroupState, LeavingMember, OffsetCommitEntry
from engine.groups.errors import (
    GroupNotEmpty,
    GroupNotFound,
    GroupSubscribedToTopic,
    IllegalGeneration,
    OffsetMetadataTooLarge,
    RebalanceInProgress,
    UnknownMember,
)
from engine.types import TopicPartition

from tests.engine.groups.helpers import coordinator, first_join, join_request, sync

T0 = TopicPartition(topic="t", partition=0)
T1 = TopicPartition(topic="t", partition=1)
DAY_MS = 24 * 3600 * 1000


def entry(tp=T0, offset=5, metadata: str | None = "m", epoch=-1):
    return OffsetCommitEntry(partition=tp, offset=offset, leader_epoch=epoch, metadata=metadata)


def commit(groups, group_id="g", *, member_id="", generation_id=-1, entries=None, **kwargs):
    return groups.commit_offsets(group_id, member_id=member_id, generation_id=generation_id,
                                 offsets=entries or [entry()], **kwargs)


async def stable_member(groups, group_id="g"):
    joined = first_join(groups, group_id).result()
    sync(groups, group_id, joined, [(joined.member_id, b"x")]).result()
    return joined


async def test_group_less_commit_creates_a_simple_group_and_round_trips():
    groups, _ = coordinator()
    outcome = commit(groups, entries=[entry(T0, 5, "meta-data", 3), entry(T1, 9, None)])
    assert outcome == {T0: None, T1: None}
    fetched = {f.partition: f for f in groups.fetch_offsets("g", [T0, T1, TopicPartition(topic="u", partition=0)])}
    assert (fetched[T0].offset, fetched[T0].metadata, fetched[T0].leader_epoch) == (5, "meta-data", 3)
    assert (fetched[T1].offset, fetched[T1].metadata) == (9, "")
    assert fetched[TopicPartition(topic="u", partition=0)].offset == -1
    assert [f.partition for f in groups.fetch_offsets("g", None)] == [T0, T1]
    assert groups.list_groups()[0].protocol_type == ""
    assert groups.fetch_offsets("nobody", None) == ()


async def test_commit_with_a_generation_to_an_unknown_group_is_illegal_generation():
    groups, _ = coordinator()
    assert isinstance(commit(groups, member_id="m", generation_id=3)[T0], IllegalGeneration)
    assert groups.group_state("g") is None


async def test_member_commit_checks():
    groups, _ = coordinator()
    member = await stable_member(groups)
    assert commit(groups, member_id=member.member_id, generation_id=1) == {T0: None}
    assert isinstance(commit(groups, member_id="ghost", generation_id=1)[T0], UnknownMember)
    assert isinstance(commit(groups, member_id=member.member_id, generation_id=2)[T0], IllegalGeneration)
    # A group-less commit to a group with members is refused (Kafka: UNKNOWN_MEMBER_ID).
    assert isinstance(commit(groups)[T0], UnknownMember)
    # While PreparingRebalance a member of the current generation may still commit...
    first_join(groups)
    assert groups.group_state("g") is GroupState.PREPARING_REBALANCE
    assert commit(groups, member_id=member.member_id, generation_id=1, entries=[entry(offset=7)]) == {T0: None}
    # ...but not while CompletingRebalance.
    rejoined = groups.join_group(join_request(member_id=member.member_id)).result()
    assert groups.group_state("g") is GroupState.COMPLETING_REBALANCE
    assert isinstance(commit(groups, member_id=member.member_id, generation_id=rejoined.generation_id)[T0],
                      RebalanceInProgress)
    assert groups.fetch_offsets("g", [T0])[0].offset == 7


async def test_partition_errors_are_per_partition():
    groups, _ = coordinator(offset_metadata_max_bytes=4)
    outcome = commit(groups, entries=[entry(T0, metadata="toolong"), entry(T1, metadata="ok")])
    assert isinstance(outcome[T0], OffsetMetadataTooLarge) and outcome[T1] is None


async def test_unknown_partitions_are_refused_when_topics_are_known():
    from engine.clock import FakeClock
    from engine.groups import GroupCoordinator

    class Topics:
        def get(self, name):
            return type("Topic", (), {"partitions": [object()]})() if name == "t" else None

        def partition(self, tp):
            raise NotFound(str(tp))

    groups = GroupCoordinator(clock=FakeClock(), topics=Topics)
    groups.open()
    outcome = commit(groups, entries=[entry(T0), entry(T1), entry(TopicPartition(topic="x", partition=0))])
    assert outcome[T0] is None
    assert isinstance(outcome[T1], NotFound) and isinstance(outcome[TopicPartition(topic="x", partition=0)], NotFound)


async def test_pending_transactional_offsets_are_unstable_until_committed():
    groups, _ = coordinator()
    commit(groups, entries=[entry(T0, 1)])
    groups.stage_transactional_offsets("g", producer_id=7, offsets=[entry(T0, 10)])
    assert groups.fetch_offsets("g", [T0])[0].offset == 1
    stable = groups.fetch_offsets("g", [T0], require_stable=True)[0]
    assert stable.unstable and stable.offset == -1
    groups.complete_transactional_offsets(7, commit=True)
    assert groups.fetch_offsets("g", [T0], require_stable=True)[0].offset == 10
    groups.stage_transactional_offsets("g", producer_id=8, offsets=[entry(T0, 20)])
    groups.complete_transactional_offsets(8, commit=False)
    assert groups.fetch_offsets("g", [T0])[0].offset == 10


async def test_simple_group_commits_expire_after_retention():
    groups, clock = coordinator(offsets_retention_ms=DAY_MS)
    commit(groups, entries=[entry(T0)])
    clock.advance(DAY_MS // 2)
    commit(groups, entries=[entry(T1)])
    clock.advance(DAY_MS // 2)
    assert groups.expire_offsets() == 1
    assert [f.partition for f in groups.fetch_offsets("g", None)] == [T1]
    clock.advance(DAY_MS)
    groups.run_due()  # the periodic retention check, and the now offset-less group goes away
    assert groups.fetch_offsets("g", None) == ()
    assert groups.group_state("g") is None


async def test_active_group_keeps_offsets_and_empty_group_loses_them_a_retention_after_emptying():
    groups, clock = coordinator(offsets_retention_ms=DAY_MS)
    member = await stable_member(groups)
    commit(groups, member_id=member.member_id, generation_id=1)
    for _ in range(3):
        clock.advance(DAY_MS)
        groups.heartbeat("g", member_id=member.member_id, group_instance_id=None, generation_id=1)
    assert groups.expire_offsets() == 0
    groups.leave_group("g", (LeavingMember(member_id=member.member_id),))
    assert groups.group_state("g") is GroupState.EMPTY
    clock.advance(DAY_MS - 1)
    assert groups.expire_offsets() == 0
    clock.advance(1)
    assert groups.expire_offsets() == 1


async def test_explicit_retention_time_of_old_commit_versions():
    groups, clock = coordinator()
    commit(groups, retention_ms=1000)
    clock.advance(1000)
    assert groups.expire_offsets() == 1


async def test_delete_offsets():
    groups, _ = coordinator()
    with pytest.raises(GroupNotFound):
        groups.delete_offsets("g", [T0], subscribed_topics=lambda *_: frozenset())
    commit(groups, entries=[entry(T0), entry(T1)])
    assert groups.delete_offsets("g", [T0], subscribed_topics=lambda *_: frozenset()) == {T0: None}
    assert [f.partition for f in groups.fetch_offsets("g", None)] == [T1]
    groups.delete_offsets("g", [T1], subscribed_topics=lambda *_: frozenset())
    assert groups.group_state("g") is None  # Empty and no offsets: gone, as in Kafka


async def test_delete_offsets_of_an_active_group():
    groups, _ = coordinator()
    member = await stable_member(groups)
    u0 = TopicPartition(topic="u", partition=0)
    commit(groups, member_id=member.member_id, generation_id=1, entries=[entry(T0), entry(u0)])
    seen = []

    def subscribed(protocol_type, metadata):
        seen.append((protocol_type, list(metadata)))
        return frozenset({"t"})

    outcome = groups.delete_offsets("g", [T0, u0], subscribed_topics=subscribed)
    assert isinstance(outcome[T0], GroupSubscribedToTopic) and outcome[u0] is None
    assert seen == [("consumer", [b"meta"])]
    with pytest.raises(GroupNotEmpty):
        groups.delete_offsets("g", [T0], subscribed_topics=lambda *_: None)


async def test_delete_groups_list_and_describe():
    groups, _ = coordinator()
    member = await stable_member(groups, "active")
    commit(groups, "simple")
    assert {(o.group_id, o.state) for o in groups.list_groups()} == {
        ("active", GroupState.STABLE), ("simple", GroupState.EMPTY)}
    assert [o.group_id for o in groups.list_groups(frozenset({GroupState.STABLE}))] == ["active"]
    described = groups.describe_group("active")
    assert described.protocol_name == "range" and described.members[0].assignment == b"x"
    assert described.members[0].metadata == b"meta" and described.members[0].client_host == "/127.0.0.1"
    assert groups.describe_group("missing").state is GroupState.DEAD
    outcome = groups.delete_groups(["active", "simple", "missing"])
    assert isinstance(outcome["active"], GroupNotEmpty)
    assert outcome["simple"] is None
    assert isinstance(outcome["missing"], GroupNotFound)
    assert groups.fetch_offsets("simple", None) == ()
    assert member.member_id


async def test_lag_is_committed_offset_against_high_watermark():
    from engine.clock import FakeClock
    from engine.groups import GroupCoordinator

    class Log:
        high_watermark = 12

    class Topics:
        def get(self, name):
            return type("Topic", (), {"partitions": [Log(), Log()]})()

        def partition(self, tp):
            return Log()

    groups = GroupCoordinator(clock=FakeClock(), topics=Topics)
    groups.open()
    commit(groups, entries=[entry(T0, 5), entry(T1, 12)])
    lags = groups.lag("g")
    assert [(lag.partition, lag.committed_offset, lag.end_offset, lag.lag) for lag in lags] == [
        (T0, 5, 12, 7), (T1, 12, 12, 0)]
    assert groups.lag() == lags and groups.lag("other") == ()


async def test_topic_deletion_drops_its_offsets():
    groups, _ = coordinator()
    commit(groups, entries=[entry(T0), entry(TopicPartition(topic="u", partition=0))])
    groups.topic_deleted("t")
    assert [f.partition.topic for f in groups.fetch_offsets("g", None)] == ["u"]
