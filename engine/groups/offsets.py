"""The committed offsets of one group, and transactional commits not yet decided.

Retention follows KIP-211 (Kafka 2.1+): a group's offsets expire once the group has been
Empty for `offsets.retention.ms`, a group-less ("simple", generation -1) commit expires that
long after it was made, and a commit that carried an explicit retention time (OffsetCommit
v2-4) expires at its own timestamp. Offsets of an active group never expire.

Transactional commits (TxnOffsetCommit) are held per producer id until the transaction
ends (`complete_transaction`); while one is pending, a `require_stable` OffsetFetch of that
partition answers UNSTABLE_OFFSET_COMMIT (KIP-447).
"""

from __future__ import annotations

from typing import Iterable

from engine.groups.types import CommittedOffset
from engine.types import TopicPartition


class OffsetBook:
    __slots__ = ("committed", "pending")

    def __init__(self) -> None:
        self.committed: dict[TopicPartition, CommittedOffset] = {}
        self.pending: dict[int, dict[TopicPartition, CommittedOffset]] = {}

    def __bool__(self) -> bool:
        return bool(self.committed) or bool(self.pending)

    def put(self, offsets: Iterable[CommittedOffset]) -> None:
        for offset in offsets:
            self.committed[offset.partition] = offset

    def get(self, partition: TopicPartition) -> CommittedOffset | None:
        return self.committed.get(partition)

    def remove(self, partitions: Iterable[TopicPartition]) -> list[TopicPartition]:
        return [tp for tp in partitions if self.committed.pop(tp, None) is not None]

    def is_pending(self, partition: TopicPartition) -> bool:
        return any(partition in staged for staged in self.pending.values())

    def stage(self, producer_id: int, offsets: Iterable[CommittedOffset]) -> None:
        staged = self.pending.setdefault(producer_id, {})
        for offset in offsets:
            staged[offset.partition] = offset

    def complete(self, producer_id: int, *, commit: bool) -> list[CommittedOffset]:
        staged = self.pending.pop(producer_id, {})
        if not commit:
            return []
        applied = list(staged.values())
        self.put(applied)
        return applied

    def expired(self, *, now_ms: int, retention_ms: int, empty_since_ms: int | None) -> list[TopicPartition]:
        """Partitions whose offsets are past retention.

        `empty_since_ms` is when the group became Empty, for a group that uses the group
        protocol and is Empty now; None for a group-less (simple) group, whose commits age
        individually. Callers do not ask for an active group (its offsets never expire).
        """
        expired = []
        for tp, offset in self.committed.items():
            if self.is_pending(tp):
                continue
            if offset.expire_timestamp_ms is not None:
                due = now_ms >= offset.expire_timestamp_ms
            else:
                # Kafka bases an Empty group on when it became Empty; a later simple commit to
                # it (generation -1) still gets its full retention here.
                base = offset.commit_timestamp_ms
                if empty_since_ms is not None:
                    base = max(base, empty_since_ms)
                due = now_ms - base >= retention_ms
            if due:
                expired.append(tp)
        return expired
