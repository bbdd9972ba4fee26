"""One consumer group's membership: members, generation, leader, selected protocol, state.

This is the data of Kafka's classic group (GroupMetadata/MemberMetadata); the transitions
that act on it, with their timers and waiters, live in coordinator.py. State changes go
through `transition_to`, which refuses the moves the classic protocol does not make:

    Empty ──join──> PreparingRebalance ──all joined / timeout──> CompletingRebalance
      ^                 ^      |                                     |  leader's SyncGroup
      |                 |      └──no members left──> Empty           v
      |                 └──────────── join / leave / expiry ──────── Stable
    any ──delete / offsets expired──> Dead
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Iterable

from engine.groups.offsets import OffsetBook
from engine.groups.types import GroupState, JoinedMember, Protocol

_VALID_PREVIOUS = {
    GroupState.EMPTY: {GroupState.PREPARING_REBALANCE},
    GroupState.PREPARING_REBALANCE: {GroupState.EMPTY, GroupState.STABLE, GroupState.COMPLETING_REBALANCE},
    GroupState.COMPLETING_REBALANCE: {GroupState.PREPARING_REBALANCE},
    GroupState.STABLE: {GroupState.COMPLETING_REBALANCE},
    GroupState.DEAD: set(GroupState),
}


class Member:
    __slots__ = (
        "member_id", "group_instance_id", "client_id", "client_host",
        "session_timeout_ms", "rebalance_timeout_ms", "protocol_type", "protocols",
        "assignment", "join_waiter", "sync_waiter", "last_heartbeat", "timeout_ms",
        "timer_at", "is_new",
    )

    def __init__(
        self,
        *,
        member_id: str,
        group_instance_id: str | None,
        client_id: str,
        client_host: str,
        session_timeout_ms: int,
        rebalance_timeout_ms: int,
        protocol_type: str,
        protocols: tuple[Protocol, ...],
    ) -> None:
        self.member_id = member_id
        self.group_instance_id = group_instance_id
        self.client_id = client_id
        self.client_host = client_host
        self.session_timeout_ms = session_timeout_ms
        self.rebalance_timeout_ms = rebalance_timeout_ms
        self.protocol_type = protocol_type
        self.protocols = protocols
        self.assignment = b""
        self.join_waiter: asyncio.Future | None = None
        self.sync_waiter: asyncio.Future | None = None
        # Liveness: expired when monotonic() passes last_heartbeat + timeout_ms/1000.
        self.last_heartbeat = 0.0
        self.timeout_ms = session_timeout_ms
        self.timer_at: float | None = None  # earliest deadline queued for this member
        self.is_new = False

    @property
    def is_static(self) -> bool:
        return self.group_instance_id is not None

    @property
    def awaiting_join(self) -> bool:
        return self.join_waiter is not None

    @property
    def awaiting_sync(self) -> bool:
        return self.sync_waiter is not None

    @property
    def deadline(self) -> float:
        return self.last_heartbeat + self.timeout_ms / 1000.0

    def keeps_alive(self, now: float) -> bool:
        """Kafka's MemberMetadata.shouldKeepAlive: a parked JoinGroup or SyncGroup counts as a heartbeat."""
        if self.awaiting_join:
            return not self.is_new or now < self.deadline
        if self.awaiting_sync:
            return True
        return now < self.deadline

    def matches(self, protocols: tuple[Protocol, ...]) -> bool:
        return self.protocols == protocols

    def metadata_for(self, protocol_name: str | None) -> bytes:
        for protocol in self.protocols:
            if protocol.name == protocol_name:
                return protocol.metadata
        return b""


class Group:
    def __init__(self, group_id: str, *, now_ms: int) -> None:
        self.group_id = group_id
        self.state = GroupState.EMPTY
        self.state_since_ms = now_ms
        self.generation_id = 0
        self.protocol_type: str | None = None
        self.protocol_name: str | None = None
        self.leader_id: str | None = None
        self.members: dict[str, Member] = {}  # in join order: the first one leads
        self.pending_members: dict[str, float] = {}  # member id -> expiry (monotonic)
        self.static_members: dict[str, str] = {}  # group.instance.id -> member id
        self.offsets = OffsetBook()
        self.stored = None  # the last GroupSnapshot journaled (what a restart would recover)
        # The rebalance timer: a token bumped whenever it is re-armed or cancelled, so a stale
        # timer entry is recognised; `initial` while the initial rebalance delay runs.
        self.join_token = 0
        self.join_initial = False
        self.initial_remaining_ms = 0
        self.new_member_added = False

    # -- state ----------------------------------------------------------------------------
    def is_(self, state: GroupState) -> bool:
        return self.state is state

    def transition_to(self, state: GroupState, now_ms: int) -> None:
        if self.state not in _VALID_PREVIOUS[state]:
            raise AssertionError(f"group {self.group_id}: illegal transition {self.state.value} -> {state.value}")
        self.state = state
        self.state_since_ms = now_ms

    def can_rebalance(self) -> bool:
        return self.state in _VALID_PREVIOUS[GroupState.PREPARING_REBALANCE]

    # -- membership -------------------------------------------------------------------------
    def generate_member_id(self, client_id: str, group_instance_id: str | None) -> str:
        return f"{group_instance_id or client_id}-{uuid.uuid4()}"

    def add(self, member: Member) -> None:
        if not self.members:
            self.protocol_type = member.protocol_type
        self.members[member.member_id] = member
        if self.leader_id is None:
            self.leader_id = member.member_id
        if member.group_instance_id is not None:
            self.static_members[member.group_instance_id] = member.member_id

    def remove(self, member_id: str) -> Member | None:
        member = self.members.pop(member_id, None)
        if member is None:
            return None
        if member.group_instance_id is not None and self.static_members.get(member.group_instance_id) == member_id:
            del self.static_members[member.group_instance_id]
        if self.leader_id == member_id:
            self.leader_id = next(iter(self.members), None)
        return member

    def replace_static_member(self, group_instance_id: str, new_member_id: str) -> Member:
        """KIP-345: a static member rejoining without its member id takes over its old slot."""
        old_id = self.static_members[group_instance_id]
        member = self.members.pop(old_id)
        member.member_id = new_member_id
        member.timer_at = None  # queued deadlines name the old id; the caller schedules anew
        self.members[new_member_id] = member
        self.static_members[group_instance_id] = new_member_id
        if self.leader_id == old_id:
            self.leader_id = new_member_id
        return member

    def is_static_member_fenced(self, member_id: str, group_instance_id: str | None) -> bool:
        if group_instance_id is None:
            return False
        current = self.static_members.get(group_instance_id)
        return current is not None and current != member_id

    def has_all_members_joined(self) -> bool:
        return not self.pending_members and all(m.awaiting_join for m in self.members.values())

    def not_yet_rejoined(self) -> list[Member]:
        return [m for m in self.members.values() if not m.awaiting_join]

    def elect_joined_leader(self) -> bool:
        """Keeps the leader if it rejoined, else picks one that did; False if nobody rejoined."""
        leader = self.members.get(self.leader_id) if self.leader_id is not None else None
        if leader is not None and leader.awaiting_join:
            return True
        for member in self.members.values():
            if member.awaiting_join:
                self.leader_id = member.member_id
                return True
        return False

    @property
    def rebalance_timeout_ms(self) -> int:
        return max((m.rebalance_timeout_ms for m in self.members.values()), default=0)

    # -- protocols ----------------------------------------------------------------------------
    def supports_protocols(self, protocol_type: str, names: Iterable[str]) -> bool:
        """Kafka's GroupMetadata.supportsProtocols: a newcomer must share a protocol with everyone."""
        names = list(names)
        if not self.members:
            return bool(protocol_type) and bool(names)
        if protocol_type != self.protocol_type:
            return False
        common = self._common_protocols()
        return any(name in common for name in names)

    def _common_protocols(self) -> set[str]:
        members = iter(self.members.values())
        common = {p.name for p in next(members).protocols}
        for member in members:
            common &= {p.name for p in member.protocols}
        return common

    def select_protocol(self) -> str | None:
        """Each member votes for the first protocol it lists that every member supports."""
        if not self.members:
            return None
        common = self._common_protocols()
        if not common:
            return None
        votes: dict[str, int] = {}
        for member in self.members.values():
            choice = next(p.name for p in member.protocols if p.name in common)
            votes[choice] = votes.get(choice, 0) + 1
        # Ties go to the protocol named first (dict order = first voter's choice first).
        return max(votes, key=lambda name: votes[name])

    def joined_members(self) -> tuple[JoinedMember, ...]:
        return tuple(
            JoinedMember(
                member_id=m.member_id,
                group_instance_id=m.group_instance_id,
                metadata=m.metadata_for(self.protocol_name),
            )
            for m in self.members.values()
        )
