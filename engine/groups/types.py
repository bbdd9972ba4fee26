"""Values crossing the seam between the Kafka group handlers and the coordinator.

Frozen, slotted, keyword-only (DESIGN.md §3). Member metadata and assignments are opaque
bytes: the coordinator passes protocols through (that is what lets cooperative-sticky and
any custom assignor work), and only the wire layer knows the consumer protocol's layout.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from engine.types import TopicPartition


class GroupState(enum.Enum):
    """The classic protocol's states; the values are Kafka's own names (DescribeGroups, ListGroups)."""

    EMPTY = "Empty"
    PREPARING_REBALANCE = "PreparingRebalance"
    COMPLETING_REBALANCE = "CompletingRebalance"
    STABLE = "Stable"
    DEAD = "Dead"

    @classmethod
    def parse(cls, name: str) -> "GroupState | None":
        """A state from its name, case-insensitively (ListGroups v4 states filter), else None."""
        wanted = name.lower()
        for state in cls:
            if state.value.lower() == wanted:
                return state
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class Protocol:
    name: str
    metadata: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class JoinRequest:
    group_id: str
    member_id: str  # "" for a member without one yet
    group_instance_id: str | None
    client_id: str
    client_host: str
    session_timeout_ms: int
    rebalance_timeout_ms: int
    protocol_type: str
    protocols: tuple[Protocol, ...]
    # JoinGroup v4+ from a dynamic member: hand out a member id first (KIP-394).
    require_known_member_id: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class JoinedMember:
    """One entry of the member list only the leader receives."""

    member_id: str
    group_instance_id: str | None
    metadata: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class JoinResult:
    member_id: str
    generation_id: int
    protocol_type: str | None
    protocol_name: str | None
    leader_id: str
    members: tuple[JoinedMember, ...]  # empty for followers


@dataclass(frozen=True, slots=True, kw_only=True)
class SyncRequest:
    group_id: str
    generation_id: int
    member_id: str
    group_instance_id: str | None
    protocol_type: str | None  # SyncGroup v5+, checked when given
    protocol_name: str | None
    assignments: tuple[tuple[str, bytes], ...]  # (member id, assignment) from the leader


@dataclass(frozen=True, slots=True, kw_only=True)
class SyncResult:
    protocol_type: str | None
    protocol_name: str | None
    assignment: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class LeavingMember:
    member_id: str
    group_instance_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class LeaveOutcome:
    member_id: str
    group_instance_id: str | None
    error: Exception | None


@dataclass(frozen=True, slots=True, kw_only=True)
class OffsetCommitEntry:
    partition: TopicPartition
    offset: int
    leader_epoch: int = -1
    metadata: str | None = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class CommittedOffset:
    partition: TopicPartition
    offset: int
    leader_epoch: int
    metadata: str
    commit_timestamp_ms: int
    # Set only by OffsetCommit v2-4 with an explicit retention time (pre-KIP-211 semantics).
    expire_timestamp_ms: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FetchedOffset:
    partition: TopicPartition
    offset: int  # -1: nothing committed
    leader_epoch: int
    metadata: str
    # A transactional commit for this partition is pending (KIP-447 require_stable).
    unstable: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class MemberDescription:
    member_id: str
    group_instance_id: str | None
    client_id: str
    client_host: str
    metadata: bytes  # of the selected protocol; empty unless the group is Stable (as Kafka)
    assignment: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupDescription:
    group_id: str
    state: GroupState
    protocol_type: str
    protocol_name: str
    members: tuple[MemberDescription, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupOverview:
    group_id: str
    protocol_type: str
    state: GroupState


@dataclass(frozen=True, slots=True, kw_only=True)
class PartitionLag:
    """Consumer lag of one partition: how far the committed offset is behind the log end."""

    group_id: str
    partition: TopicPartition
    committed_offset: int
    end_offset: int

    @property
    def lag(self) -> int:
        return max(self.end_offset - self.committed_offset, 0)
