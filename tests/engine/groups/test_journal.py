"""Durability of groups and offsets: the journal replays, survives torn writes, compacts."""

from __future__ import annotations

import pytest

from engine.clock import FakeClock
from engine.groups import GroupConfig, GroupCoordinator, GroupState, OffsetCommitEntry
from engine.groups.errors import IllegalGeneration, UnknownMember
from engine.groups.journal import JOURNAL_NAME, MAGIC, FileJournal
from engine.types import TopicPartition

from tests.engine.groups.helpers import SESSION_MS, first_join, sync

T0 = TopicPartition(topic="t", partition=0)


def open_coordinator(path, clock=None, **config):
    config = GroupConfig(**config)
    journal = FileJournal(path, compact_min_bytes=config.compact_min_bytes, compact_ratio=config.compact_ratio)
    groups = GroupCoordinator(clock=clock or FakeClock(), config=config, journal=journal)
    groups.open()
    return groups


def commit(groups, offset, group_id="g", metadata="m", **kwargs):
    kwargs.setdefault("member_id", "")
    kwargs.setdefault("generation_id", -1)
    return groups.commit_offsets(group_id, offsets=[OffsetCommitEntry(partition=T0, offset=offset, metadata=metadata)],
                                 **kwargs)


async def test_offsets_and_groups_survive_a_restart(tmp_path):
    clock = FakeClock()
    groups = open_coordinator(tmp_path, clock)
    commit(groups, 41, metadata="meta ✓")
    joined = first_join(groups, "live").result()
    sync(groups, "live", joined, [(joined.member_id, b"\x00\x01assignment")]).result()
    commit(groups, 7, "live", member_id=joined.member_id, generation_id=1)
    commit(groups, 3, "deleted")
    groups.delete_groups(["deleted"])
    # No close(): as after kill -9, only what was written is there.
    again = open_coordinator(tmp_path, clock)
    fetched = again.fetch_offsets("g", [T0])[0]
    assert (fetched.offset, fetched.metadata) == (41, "meta ✓")
    assert again.fetch_offsets("live", [T0])[0].offset == 7
    assert again.group_state("deleted") is None
    # The stable group comes back with its member, generation and assignment ...
    assert again.group_state("live") is GroupState.STABLE
    described = again.describe_group("live")
    assert [(m.member_id, m.assignment) for m in described.members] == [(joined.member_id, b"\x00\x01assignment")]
    again.heartbeat("live", member_id=joined.member_id, group_instance_id=None, generation_id=1)
    with pytest.raises(IllegalGeneration):
        again.heartbeat("live", member_id=joined.member_id, group_instance_id=None, generation_id=0)
    # ... and a member that does not come back expires at its session timeout.
    clock.advance(SESSION_MS)
    again.run_due()
    assert again.group_state("live") is GroupState.EMPTY
    third = open_coordinator(tmp_path, clock)
    assert third.group_state("live") is GroupState.EMPTY
    with pytest.raises(UnknownMember):
        third.heartbeat("live", member_id=joined.member_id, group_instance_id=None, generation_id=2)


async def test_a_torn_last_record_is_dropped(tmp_path):
    groups = open_coordinator(tmp_path)
    commit(groups, 1)
    commit(groups, 2)
    path = tmp_path / JOURNAL_NAME
    data = path.read_bytes()
    path.write_bytes(data[:-3])  # the second record lost its tail in a crash
    again = open_coordinator(tmp_path)
    assert again.fetch_offsets("g", [T0])[0].offset == 1
    commit(again, 3)  # appends after the cut, not after the garbage
    assert open_coordinator(tmp_path).fetch_offsets("g", [T0])[0].offset == 3


async def test_a_corrupt_record_stops_replay_there(tmp_path):
    groups = open_coordinator(tmp_path)
    commit(groups, 1)
    size = (tmp_path / JOURNAL_NAME).stat().st_size
    commit(groups, 2)
    data = bytearray((tmp_path / JOURNAL_NAME).read_bytes())
    data[size + 10] ^= 0xFF
    (tmp_path / JOURNAL_NAME).write_bytes(bytes(data))
    assert open_coordinator(tmp_path).fetch_offsets("g", [T0])[0].offset == 1


async def test_compaction_keeps_the_state_and_shrinks_the_file(tmp_path):
    groups = open_coordinator(tmp_path, compact_min_bytes=20_000, compact_ratio=2)
    path = tmp_path / JOURNAL_NAME
    largest = 0
    for offset in range(2000):
        commit(groups, offset)
        largest = max(largest, path.stat().st_size)
    assert path.stat().st_size < largest  # it was rewritten at least once
    assert path.read_bytes().startswith(MAGIC)
    assert largest < 60_000
    assert open_coordinator(tmp_path).fetch_offsets("g", [T0])[0].offset == 1999


async def test_a_file_that_is_not_a_journal_is_not_replayed(tmp_path):
    (tmp_path / JOURNAL_NAME).write_bytes(b"garbage that is no journal")
    groups = open_coordinator(tmp_path)
    assert groups.list_groups() == ()
    commit(groups, 5)
    assert open_coordinator(tmp_path).fetch_offsets("g", [T0])[0].offset == 5


async def test_the_engine_opens_groups_under_its_data_dir(tmp_path):
    from engine import Engine

    engine = Engine(data_dir=tmp_path)
    engine.open()
    engine.topics.create("t", partitions=1)
    outcome = engine.groups.commit_offsets("g", member_id="", generation_id=-1, offsets=[
        OffsetCommitEntry(partition=T0, offset=3), OffsetCommitEntry(partition=TopicPartition(topic="t", partition=1), offset=1)])
    assert outcome[T0] is None and outcome[TopicPartition(topic="t", partition=1)] is not None  # no such partition
    engine.close()
    assert (tmp_path / "groups" / JOURNAL_NAME).exists()
    again = Engine(data_dir=tmp_path)
    again.open()
    try:
        assert again.groups.fetch_offsets("g", [T0])[0].offset == 3
        assert [(lag.partition, lag.lag) for lag in again.groups.lag("g")] == [(T0, 0)]
    finally:
        again.close()
