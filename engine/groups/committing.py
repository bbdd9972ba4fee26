"""Committed offsets: OffsetCommit, OffsetFetch, OffsetDelete, transactional commits, retention.

The checks follow Kafka's GroupCoordinator.handleCommitOffsets / doCommitOffsets:
  - a partition that does not exist, or metadata over offset.metadata.max.bytes, fails
    that partition alone (KafkaApis checks these before the coordinator sees the rest);
  - generation -1 commits to a group that does not exist or is Empty (a consumer using
    `assign()` without group management, or an admin client altering offsets);
  - otherwise the member must be in the group (UNKNOWN_MEMBER_ID) at its generation
    (ILLEGAL_GENERATION); commits are accepted while PreparingRebalance (members commit
    in their revocation callback) but not while CompletingRebalance (REBALANCE_IN_PROGRESS).
A commit is journaled before it is answered (journal.py).
"""

from __future__ import annotations

import logging
from typing import Callable, Iterable, Sequence

from engine.errors import NotFound, StorageError
from engine.groups import journal as records
from engine.groups.errors import (
    CoordinatorNotAvailable,
    FencedInstanceId,
    GroupNotEmpty,
    GroupNotFound,
    GroupSubscribedToTopic,
    IllegalGeneration,
    OffsetMetadataTooLarge,
    RebalanceInProgress,
    UnknownMember,
)
from engine.groups.group import Group
from engine.groups.types import CommittedOffset, FetchedOffset, GroupState, OffsetCommitEntry
from engine.types import TopicPartition

log = logging.getLogger("mqgateway.groups")

# What OffsetDelete needs to know of a live group: the topics its members subscribe to,
# read from their metadata of the selected protocol, or None if that cannot be told.
SubscribedTopics = Callable[[str | None, Sequence[bytes]], "frozenset[str] | None"]


class Committing:
    """Mixin of GroupCoordinator: the offset-facing half."""

    _groups: dict[str, Group]

    def commit_offsets(
        self,
        group_id: str,
        *,
        member_id: str,
        generation_id: int,
        group_instance_id: str | None = None,
        offsets: Sequence[OffsetCommitEntry],
        retention_ms: int = -1,
    ) -> dict[TopicPartition, Exception | None]:
        """Stores offsets; returns each partition's outcome (None = committed)."""
        outcome: dict[TopicPartition, Exception | None] = {}
        accepted: list[OffsetCommitEntry] = []
        for entry in offsets:
            metadata = entry.metadata or ""
            if len(metadata.encode()) > self._config.offset_metadata_max_bytes:
                outcome[entry.partition] = OffsetMetadataTooLarge(f"metadata of {entry.partition} is too large")
            elif not self._partition_exists(entry.partition):
                outcome[entry.partition] = NotFound(f"no partition {entry.partition}")
            else:
                accepted.append(entry)
        if not accepted:
            return outcome
        error = self._commit_error(group_id, member_id, generation_id, group_instance_id)
        if error is None:
            now_ms = self._clock.now_ms()
            committed = [
                CommittedOffset(
                    partition=e.partition,
                    offset=e.offset,
                    leader_epoch=e.leader_epoch,
                    metadata=e.metadata or "",
                    commit_timestamp_ms=now_ms,
                    expire_timestamp_ms=now_ms + retention_ms if retention_ms >= 0 else None,
                )
                for e in accepted
            ]
            group = self._groups.get(group_id) or self._new_group(group_id)
            try:
                self._append(records.offsets_record(group_id, committed))
            except StorageError as exc:
                error = exc
            else:
                group.offsets.put(committed)
        for entry in accepted:
            outcome[entry.partition] = error
        return outcome

    def _commit_error(
        self, group_id: str, member_id: str, generation_id: int, group_instance_id: str | None
    ) -> Exception | None:
        group = self._groups.get(group_id)
        if group is None:
            # Kafka: a group-less commit creates a "simple" group; anything else is from a
            # generation this coordinator does not know.
            return None if generation_id < 0 else IllegalGeneration(f"group {group_id} does not exist")
        if group.is_(GroupState.DEAD):
            return CoordinatorNotAvailable(f"group {group_id} is being deleted")
        if group.is_static_member_fenced(member_id, group_instance_id):
            return FencedInstanceId(f"group.instance.id {group_instance_id} has a newer member id")
        if generation_id < 0 and group.is_(GroupState.EMPTY):
            return None
        member = group.members.get(member_id)
        if member is None:
            return UnknownMember(f"{member_id or '(no member id)'} is not a member of group {group_id}")
        if generation_id != group.generation_id:
            return IllegalGeneration(f"generation {generation_id} is not the group's {group.generation_id}")
        if group.is_(GroupState.COMPLETING_REBALANCE):
            return RebalanceInProgress(f"group {group_id} is rebalancing")
        self._heartbeat(group, member)
        return None

    def fetch_offsets(
        self,
        group_id: str,
        partitions: Sequence[TopicPartition] | None,
        *,
        require_stable: bool = False,
    ) -> tuple[FetchedOffset, ...]:
        """Committed offsets (-1 where none); every committed partition when `partitions` is None."""
        group = self._groups.get(group_id)
        if group is not None and group.is_(GroupState.DEAD):
            group = None
        if partitions is None:
            if group is None:
                return ()
            partitions = sorted(group.offsets.committed)
        fetched = []
        for tp in partitions:
            committed = group.offsets.get(tp) if group is not None else None
            unstable = require_stable and group is not None and group.offsets.is_pending(tp)
            if committed is None or unstable:
                fetched.append(FetchedOffset(partition=tp, offset=-1, leader_epoch=-1, metadata="", unstable=unstable))
            else:
                fetched.append(FetchedOffset(
                    partition=tp, offset=committed.offset, leader_epoch=committed.leader_epoch, metadata=committed.metadata
                ))
        return tuple(fetched)

    def delete_offsets(
        self,
        group_id: str,
        partitions: Sequence[TopicPartition],
        *,
        subscribed_topics: SubscribedTopics,
    ) -> dict[TopicPartition, Exception | None]:
        """OffsetDelete (KIP-496): only offsets of topics the group is not consuming."""
        group = self._groups.get(group_id)
        if group is None or group.is_(GroupState.DEAD):
            raise GroupNotFound(f"group {group_id} does not exist")
        outcome: dict[TopicPartition, Exception | None] = {tp: None for tp in partitions}
        if not group.is_(GroupState.EMPTY):
            topics = subscribed_topics(
                group.protocol_type, [m.metadata_for(group.protocol_name) for m in group.members.values()]
            )
            if topics is None:
                raise GroupNotEmpty(f"group {group_id} has members")
            for tp in partitions:
                if tp.topic in topics:
                    outcome[tp] = GroupSubscribedToTopic(f"group {group_id} consumes {tp.topic}")
        removable = [tp for tp, error in outcome.items() if error is None]
        self._remove_offsets(group, removable)
        return outcome

    def _remove_offsets(self, group: Group, partitions: Iterable[TopicPartition]) -> None:
        present = [tp for tp in partitions if tp in group.offsets.committed]
        if present:
            self._append(records.offsets_deleted_record(group.group_id, present))
            group.offsets.remove(present)
        self._delete_if_abandoned(group)

    # -- transactions (KIP-98 TxnOffsetCommit; used by the transaction coordinator) ---------------
    def check_transactional_offsets(
        self,
        group_id: str,
        *,
        member_id: str,
        generation_id: int,
        group_instance_id: str | None,
        offsets: Sequence[OffsetCommitEntry],
    ) -> dict[TopicPartition, Exception | None]:
        """What staging these offsets would answer per partition (None = acceptable), staging nothing.

        Kafka's GroupCoordinator.doTxnCommitOffsets: unlike OffsetCommit, an unknown member
        id ("" from clients that send no group metadata, TxnOffsetCommit v0-2) and a
        generation of -1 are accepted even while the group is active (KIP-447 checks only
        what the client sent).
        """
        outcome: dict[TopicPartition, Exception | None] = {}
        group = self._groups.get(group_id)
        error: Exception | None = None
        if group is not None:
            if group.is_(GroupState.DEAD):
                error = CoordinatorNotAvailable(f"group {group_id} is being deleted")
            elif group.is_static_member_fenced(member_id, group_instance_id):
                error = FencedInstanceId(f"group.instance.id {group_instance_id} has a newer member id")
            elif member_id and member_id not in group.members:
                error = UnknownMember(f"{member_id} is not a member of group {group_id}")
            elif generation_id >= 0 and generation_id != group.generation_id:
                error = IllegalGeneration(f"generation {generation_id} is not the group's {group.generation_id}")
        for entry in offsets:
            if len((entry.metadata or "").encode()) > self._config.offset_metadata_max_bytes:
                outcome[entry.partition] = OffsetMetadataTooLarge(f"metadata of {entry.partition} is too large")
            elif not self._partition_exists(entry.partition):
                outcome[entry.partition] = NotFound(f"no partition {entry.partition}")
            else:
                outcome[entry.partition] = error
        return outcome

    def stage_transactional_offsets(
        self, group_id: str, *, producer_id: int, offsets: Sequence[OffsetCommitEntry]
    ) -> None:
        """Holds offsets committed inside a transaction until it ends (not journaled until then)."""
        group = self._groups.get(group_id) or self._new_group(group_id)
        now_ms = self._clock.now_ms()
        group.offsets.stage(producer_id, (
            CommittedOffset(partition=e.partition, offset=e.offset, leader_epoch=e.leader_epoch,
                            metadata=e.metadata or "", commit_timestamp_ms=now_ms)
            for e in offsets
        ))

    def complete_transactional_offsets(self, producer_id: int, *, commit: bool) -> None:
        """The transaction of `producer_id` ended: make its offsets visible, or drop them."""
        for group in list(self._groups.values()):
            if producer_id not in group.offsets.pending:
                continue
            applied = group.offsets.complete(producer_id, commit=commit)
            if applied:
                self._append(records.offsets_record(group.group_id, applied))
            self._delete_if_abandoned(group)

    # -- retention and topic deletion ----------------------------------------------------------
    def expire_offsets(self) -> int:
        """KIP-211 retention over every group; returns how many offsets expired."""
        now_ms = self._clock.now_ms()
        removed = 0
        for group in list(self._groups.values()):
            if group.protocol_type is None:
                empty_since = None  # a simple group: each commit ages on its own
            elif group.is_(GroupState.EMPTY):
                empty_since = group.state_since_ms
            else:
                continue  # an active group keeps its offsets
            expired = group.offsets.expired(
                now_ms=now_ms, retention_ms=self._config.offsets_retention_ms, empty_since_ms=empty_since
            )
            removed += len(expired)
            self._remove_offsets(group, expired)
        if removed:
            log.info("expired %d committed offsets", removed)
        return removed

    def topic_deleted(self, topic: str) -> None:
        """Drops every group's offsets of a deleted topic (Kafka's handleDeletedPartitions)."""
        for group in list(self._groups.values()):
            self._remove_offsets(group, [tp for tp in group.offsets.committed if tp.topic == topic])
