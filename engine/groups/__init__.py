"""Kafka consumer groups (the classic protocol) and committed offsets: engine state (DESIGN.md §2).

`engine.groups` is a GroupCoordinator; its boundary values are in types.py, its errors in
errors.py, its on-disk format in journal.py.
"""

from engine.groups.config import GroupConfig
from engine.groups.coordinator import GroupCoordinator
from engine.groups.types import (
    CommittedOffset,
    FetchedOffset,
    GroupDescription,
    GroupOverview,
    GroupState,
    JoinedMember,
    JoinRequest,
    JoinResult,
    LeaveOutcome,
    LeavingMember,
    MemberDescription,
    OffsetCommitEntry,
    PartitionLag,
    Protocol,
    SyncRequest,
    SyncResult,
)

__all__ = [
    "CommittedOffset", "FetchedOffset", "GroupConfig", "GroupCoordinator", "GroupDescription",
    "GroupOverview", "GroupState", "JoinRequest", "JoinResult", "JoinedMember", "LeaveOutcome",
    "LeavingMember", "MemberDescription", "OffsetCommitEntry", "PartitionLag", "Protocol",
    "SyncRequest", "SyncResult",
]
