"""The group coordinator: every consumer group and its committed offsets, in one place.

    engine.groups.join_group(JoinRequest) -> Future[JoinResult]     (membership.py)
    engine.groups.sync_group(SyncRequest) -> Future[SyncResult]
    engine.groups.heartbeat(...), leave_group(...)
    engine.groups.commit_offsets(...), fetch_offsets(...), delete_offsets(...)   (committing.py)
    engine.groups.list_groups(), describe_group(), delete_groups()
    engine.groups.lag(group_id=None) -> consumer lag per partition (for metrics)

This module owns the registry of groups, their persistence (journal.py) and the timers
(timers.py); the protocol rules are in the two mixins. One coordinator serves every group
(a single node is the coordinator of all of them).
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Iterable

from engine.errors import NotFound, StorageError
from engine.groups import journal as records
from engine.groups.committing import Committing
from engine.groups.config import GroupConfig
from engine.groups.errors import CoordinatorNotAvailable, GroupNotEmpty, GroupNotFound
from engine.groups.group import Group, Member
from engine.groups.journal import FileJournal, GroupJournal, GroupSnapshot, MemberSnapshot, MemoryJournal
from engine.groups.membership import Membership, fail
from engine.groups.timers import Deadlines
from engine.groups.types import (
    GroupDescription,
    GroupOverview,
    GroupState,
    MemberDescription,
    PartitionLag,
    Protocol,
)
from engine.types import TopicPartition

log = logging.getLogger("mqgateway.groups")

_RETENTION_KEY = ("retention",)


class GroupCoordinator(Membership, Committing):
    def __init__(
        self,
        *,
        clock,
        config: GroupConfig = GroupConfig(),
        journal: GroupJournal | None = None,
        topics: Callable[[], Any] = lambda: None,
    ) -> None:
        self._clock = clock
        self._config = config
        self._journal: GroupJournal = journal or MemoryJournal()
        # engine.topics, looked up when needed (it may be opened after us); None = no
        # topic catalog, so every partition is taken to exist (engine unit tests).
        self._topics = topics
        self._groups: dict[str, Group] = {}
        self._deadlines = Deadlines(clock, self._due)
        self._closed = False

    @classmethod
    def for_engine(cls, engine) -> "GroupCoordinator":
        """Built by Engine.open(): files under <data_dir>/groups, or memory."""
        config = GroupConfig.from_settings(engine.settings)
        directory = engine.subdir("groups")
        journal: GroupJournal = (
            MemoryJournal() if directory is None
            else FileJournal(directory, compact_min_bytes=config.compact_min_bytes, compact_ratio=config.compact_ratio,
                             syncer=getattr(engine, "durability", None))
        )
        coordinator = cls(clock=engine.clock, config=config, journal=journal, topics=lambda: getattr(engine, "topics", None))
        coordinator.open()
        return coordinator

    # -- lifecycle ------------------------------------------------------------------------------
    def open(self) -> None:
        """Recovers groups and offsets from the journal; restored members must heartbeat within their session."""
        state = self._journal.load()
        for snapshot in state.groups.values():
            self._groups[snapshot.group_id] = self._restore(snapshot)
        for group_id, offsets in state.offsets.items():
            if not offsets:
                continue
            group = self._groups.get(group_id) or self._new_group(group_id)
            group.offsets.committed.update(offsets)
        if self._groups:
            log.info("recovered %d consumer groups", len(self._groups))
        self._deadlines.at(self._clock.monotonic() + self._config.offsets_retention_check_interval_ms / 1000.0, _RETENTION_KEY)

    def _restore(self, snapshot: GroupSnapshot) -> Group:
        group = Group(snapshot.group_id, now_ms=snapshot.state_since_ms)
        group.protocol_type = snapshot.protocol_type
        group.generation_id = snapshot.generation_id
        group.stored = snapshot
        if snapshot.state == GroupState.STABLE.value and snapshot.members:
            group.protocol_name = snapshot.protocol_name
            for saved in snapshot.members:
                member = Member(
                    member_id=saved.member_id,
                    group_instance_id=saved.group_instance_id,
                    client_id=saved.client_id,
                    client_host=saved.client_host,
                    session_timeout_ms=saved.session_timeout_ms,
                    rebalance_timeout_ms=saved.rebalance_timeout_ms,
                    protocol_type=snapshot.protocol_type or "",
                    protocols=(Protocol(name=snapshot.protocol_name or "", metadata=saved.metadata),),
                )
                member.assignment = saved.assignment
                group.add(member)
                self._heartbeat(group, member)
            group.leader_id = snapshot.leader_id if snapshot.leader_id in group.members else group.leader_id
            group.state = GroupState.STABLE
        return group

    def release_waiters(self) -> None:
        """Broker shutdown: answer every parked JoinGroup and SyncGroup now.

        They get COORDINATOR_NOT_AVAILABLE, as Kafka answers parked requests when it stops
        coordinating a group (onGroupUnloaded), so clients look for the coordinator again
        rather than wait for a socket that is about to close.
        """
        for group in self._groups.values():
            for member in group.members.values():
                for waiter in (member.join_waiter, member.sync_waiter):
                    fail(waiter, CoordinatorNotAvailable("the broker is shutting down"))

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._deadlines.close()
        self._journal.close()

    def run_due(self) -> None:
        """Runs the timers that are due on the engine clock (tests call it after FakeClock.advance)."""
        self._deadlines.run_due()

    def _due(self, key) -> None:
        kind = key[0]
        if kind == "retention":
            self.expire_offsets()
            self._forget_abandoned()
            self._deadlines.at(
                self._clock.monotonic() + self._config.offsets_retention_check_interval_ms / 1000.0, _RETENTION_KEY
            )
            return
        group = self._groups.get(key[1])
        if group is None:
            return
        if kind == "member":
            self._member_deadline(group, key[2])
        elif kind == "pending":
            self._pending_deadline(group, key[2])
        elif kind == "join" and group.join_token == key[2] and group.is_(GroupState.PREPARING_REBALANCE):
            self._join_deadline(group)

    # -- registry -------------------------------------------------------------------------------
    def _new_group(self, group_id: str) -> Group:
        group = Group(group_id, now_ms=self._clock.now_ms())
        self._groups[group_id] = group
        return group

    def _forget_if_unused(self, group: Group) -> None:
        """A group that was created for a join that failed, and holds nothing, is not kept."""
        if (
            group.is_(GroupState.EMPTY) and not group.members and not group.pending_members
            and not group.offsets and group.stored is None and group.generation_id == 0
        ):
            self._groups.pop(group.group_id, None)

    def _delete_if_abandoned(self, group: Group) -> None:
        """An Empty group without offsets is gone (Kafka's cleanupGroupMetadata)."""
        if group.is_(GroupState.EMPTY) and not group.offsets and not group.pending_members:
            self._delete_group(group)

    def _forget_abandoned(self) -> None:
        for group in list(self._groups.values()):
            self._delete_if_abandoned(group)

    def _delete_group(self, group: Group) -> None:
        if group.stored is not None or group.offsets:
            self._append(records.group_deleted_record(group.group_id))
        group.state = GroupState.DEAD
        self._groups.pop(group.group_id, None)

    def _partition_exists(self, tp: TopicPartition) -> bool:
        topics = self._topics()
        if topics is None:
            return True
        topic = topics.get(tp.topic)
        return topic is not None and 0 <= tp.partition < len(topic.partitions)

    # -- persistence ------------------------------------------------------------------------------
    def _append(self, record: dict) -> None:
        self._journal.append(record)
        if self._journal.should_compact():
            self._journal.compact(self._live_records())

    def _snapshot(self, group: Group, state: GroupState) -> GroupSnapshot:
        stable = state is GroupState.STABLE
        return GroupSnapshot(
            group_id=group.group_id,
            protocol_type=group.protocol_type,
            generation_id=group.generation_id,
            protocol_name=group.protocol_name if stable else None,
            leader_id=group.leader_id if stable else None,
            state=state.value,
            state_since_ms=self._clock.now_ms() if state is not group.state else group.state_since_ms,
            members=tuple(
                MemberSnapshot(
                    member_id=m.member_id,
                    group_instance_id=m.group_instance_id,
                    client_id=m.client_id,
                    client_host=m.client_host,
                    session_timeout_ms=m.session_timeout_ms,
                    rebalance_timeout_ms=m.rebalance_timeout_ms,
                    metadata=m.metadata_for(group.protocol_name),
                    assignment=m.assignment,
                )
                for m in group.members.values()
            ) if stable else (),
        )

    def _store_group(self, group: Group, *, state: GroupState | None = None) -> None:
        """Journals the group as Stable (with members and assignments) or Empty, as Kafka stores it."""
        snapshot = self._snapshot(group, state or group.state)
        self._append(records.group_record(snapshot))
        group.stored = snapshot

    def _store_group_quietly(self, group: Group) -> None:
        try:
            self._store_group(group)
        except StorageError as exc:
            # As Kafka: an Empty generation that is lost only means the previous one comes
            # back after a restart, and its members have long expired by then.
            log.warning("group %s: could not store the empty generation: %s", group.group_id, exc)

    def _live_records(self) -> Iterable[dict]:
        for group in self._groups.values():
            if group.stored is not None:
                yield records.group_record(group.stored)
            if group.offsets.committed:
                yield records.offsets_record(group.group_id, group.offsets.committed.values())

    # -- admin ------------------------------------------------------------------------------------
    def list_groups(self, states: frozenset[GroupState] | None = None) -> tuple[GroupOverview, ...]:
        return tuple(
            GroupOverview(group_id=g.group_id, protocol_type=g.protocol_type or "", state=g.state)
            for g in self._groups.values()
            if not g.is_(GroupState.DEAD) and (not states or g.state in states)
        )

    def describe_group(self, group_id: str) -> GroupDescription:
        """A group's state and members; a group that does not exist is described as Dead (Kafka)."""
        group = self._groups.get(group_id)
        if group is None:
            return GroupDescription(group_id=group_id, state=GroupState.DEAD, protocol_type="", protocol_name="", members=())
        stable = group.is_(GroupState.STABLE)
        return GroupDescription(
            group_id=group_id,
            state=group.state,
            protocol_type=group.protocol_type or "",
            protocol_name=(group.protocol_name or "") if stable else "",
            members=tuple(
                MemberDescription(
                    member_id=m.member_id,
                    group_instance_id=m.group_instance_id,
                    client_id=m.client_id,
                    client_host=m.client_host,
                    # Kafka shows metadata and assignment only once the group is Stable.
                    metadata=m.metadata_for(group.protocol_name) if stable else b"",
                    assignment=m.assignment if stable else b"",
                )
                for m in group.members.values()
            ),
        )

    def delete_groups(self, group_ids: Iterable[str]) -> dict[str, Exception | None]:
        """Deletes Empty groups with their offsets; GroupNotFound / GroupNotEmpty per group otherwise."""
        outcome: dict[str, Exception | None] = {}
        for group_id in group_ids:
            group = self._groups.get(group_id)
            if group is None or group.is_(GroupState.DEAD):
                outcome[group_id] = GroupNotFound(f"group {group_id} does not exist")
            elif not group.is_(GroupState.EMPTY):
                outcome[group_id] = GroupNotEmpty(f"group {group_id} has members")
            else:
                try:
                    self._append(records.group_deleted_record(group_id))
                except StorageError as exc:
                    outcome[group_id] = exc
                    continue
                group.state = GroupState.DEAD
                del self._groups[group_id]
                outcome[group_id] = None
        return outcome

    # -- consumer lag (for metrics) ------------------------------------------------------------
    def lag(self, group_id: str | None = None) -> tuple[PartitionLag, ...]:
        """Committed offset vs. the partition's high watermark, for one group or all.

        Computed from two numbers the engine keeps anyway, so it costs nothing until asked.
        Partitions whose topic is gone are left out.
        """
        topics = self._topics()
        groups = [self._groups[group_id]] if group_id in self._groups else [] if group_id else list(self._groups.values())
        lags = []
        for group in groups:
            for tp, committed in sorted(group.offsets.committed.items()):
                end = self._end_offset(topics, tp)
                if end is not None:
                    lags.append(PartitionLag(group_id=group.group_id, partition=tp, committed_offset=committed.offset, end_offset=end))
        return tuple(lags)

    @staticmethod
    def _end_offset(topics, tp: TopicPartition) -> int | None:
        if topics is None:
            return None
        try:
            return topics.partition(tp).high_watermark
        except (NotFound, LookupError):
            return None

    # -- for tests and metrics -------------------------------------------------------------------
    def group_state(self, group_id: str) -> GroupState | None:
        group = self._groups.get(group_id)
        return None if group is None else group.state
