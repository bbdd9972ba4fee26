"""The classic group protocol: JoinGroup, SyncGroup, Heartbeat, LeaveGroup and member expiry.

Follows Kafka's GroupCoordinator (core/.../coordinator/group/GroupCoordinator.scala) in what
clients can observe — error codes, who leads, what the leader is told, when a rebalance
starts and ends — with one deliberate difference in timing: a rebalance completes the
moment every known member (pending ones too, KIP-394) has rejoined, and the initial
rebalance delay defaults to 0, so a lone consumer's first join and sync take milliseconds.

Waiting is a future per parked request (a member's JoinGroup until the rebalance completes,
its SyncGroup until the leader's assignment arrives); the methods here are synchronous and
resolve those futures. Errors discovered at once are raised; errors discovered later (the
member was removed, fenced, or a new rebalance started) are set on the future.

Liveness (Kafka's DelayedHeartbeat): a member expires `session.timeout.ms` after its last
heartbeat, SyncGroup, commit or answered JoinGroup — whether or not its connection is still
open, exactly as Kafka (a consumer killed without LeaveGroup is found out this way). A parked
JoinGroup or SyncGroup keeps a member alive; a new member parked in a rebalance is dropped
after `new_member_join_timeout_ms`. Pending members (given a member id by MEMBER_ID_REQUIRED
but not yet back) expire after their session timeout.
"""

from __future__ import annotations

import asyncio
import logging

from engine.errors import StorageError
from engine.groups.errors import (
    CoordinatorNotAvailable,
    FencedInstanceId,
    InconsistentGroupProtocol,
    InvalidGroupId,
    InvalidSessionTimeout,
    IllegalGeneration,
    MemberIdRequired,
    RebalanceInProgress,
    UnknownMember,
)
from engine.groups.group import Group, Member
from engine.groups.types import (
    GroupState,
    JoinRequest,
    JoinResult,
    LeaveOutcome,
    LeavingMember,
    SyncRequest,
    SyncResult,
)

log = logging.getLogger("mqgateway.groups")

EMPTY = GroupState.EMPTY
PREPARING = GroupState.PREPARING_REBALANCE
COMPLETING = GroupState.COMPLETING_REBALANCE
STABLE = GroupState.STABLE
DEAD = GroupState.DEAD


def resolve(future: asyncio.Future | None, result) -> None:
    if future is not None and not future.done():
        future.set_result(result)


def fail(future: asyncio.Future | None, error: Exception) -> None:
    if future is not None and not future.done():
        future.set_exception(error)
        # The requester may be gone (connection closed): do not log it as never retrieved.
        future.exception()


class Membership:
    """Mixin of GroupCoordinator: the member-facing half of the classic protocol."""

    # Provided by GroupCoordinator.
    _groups: dict[str, Group]

    # -- JoinGroup ----------------------------------------------------------------------------
    def join_group(self, request: JoinRequest) -> asyncio.Future:
        """Joins (or rejoins) a member; the future resolves with its JoinResult once the rebalance completes."""
        if not request.group_id:
            raise InvalidGroupId("group id must not be empty")
        config = self._config
        if not config.min_session_timeout_ms <= request.session_timeout_ms <= config.max_session_timeout_ms:
            raise InvalidSessionTimeout(
                f"session timeout {request.session_timeout_ms} ms is outside "
                f"[{config.min_session_timeout_ms}, {config.max_session_timeout_ms}]"
            )
        unknown = request.member_id == ""
        group = self._groups.get(request.group_id)
        if group is None:
            if not unknown:
                raise UnknownMember(f"group {request.group_id} does not exist")
            group = self._new_group(request.group_id)
        try:
            if group.is_(DEAD):
                raise CoordinatorNotAvailable(f"group {group.group_id} is being deleted")
            if not group.supports_protocols(request.protocol_type, (p.name for p in request.protocols)):
                raise InconsistentGroupProtocol(
                    f"protocol type {request.protocol_type!r} or protocols do not match group {group.group_id}"
                )
            future = asyncio.get_running_loop().create_future()
            if unknown:
                self._join_unknown_member(group, request, future)
            else:
                self._join_known_member(group, request, future)
        finally:
            self._forget_if_unused(group)
        if group.is_(PREPARING):
            self._try_complete_join(group)
        return future

    def _join_unknown_member(self, group: Group, request: JoinRequest, future: asyncio.Future) -> None:
        new_id = group.generate_member_id(request.client_id, request.group_instance_id)
        instance_id = request.group_instance_id
        if instance_id is not None and instance_id in group.static_members:
            self._rejoin_static_member(group, request, new_id, future)
        elif request.require_known_member_id:
            # KIP-394: park the id; the group waits for this member to come back with it.
            deadline = self._clock.monotonic() + request.session_timeout_ms / 1000.0
            group.pending_members[new_id] = deadline
            self._deadlines.at(deadline, ("pending", group.group_id, new_id))
            raise MemberIdRequired(new_id)
        else:
            self._add_member_and_rebalance(group, request, new_id, future)

    def _rejoin_static_member(self, group: Group, request: JoinRequest, new_id: str, future: asyncio.Future) -> None:
        """KIP-345: a restarted static member takes over its old member's place and assignment."""
        old = group.members[group.static_members[request.group_instance_id]]
        fail(old.join_waiter, FencedInstanceId("a newer instance joined"))
        fail(old.sync_waiter, FencedInstanceId("a newer instance joined"))
        old.join_waiter = old.sync_waiter = None
        current_leader = group.leader_id
        member = group.replace_static_member(request.group_instance_id, new_id)
        self._update_member(member, request)
        self._heartbeat(group, member)
        member.join_waiter = future
        if group.is_(STABLE) and group.select_protocol() == group.protocol_name:
            # No rebalance: the member gets the current generation and fetches its old
            # assignment with SyncGroup. The leader named is the previous leader id, so a
            # returning leader does not mistake itself for the leader and reassign (Kafka).
            member.join_waiter = None
            self._store_group(group)
            resolve(future, JoinResult(
                member_id=new_id,
                generation_id=group.generation_id,
                protocol_type=group.protocol_type,
                protocol_name=group.protocol_name,
                leader_id=current_leader or "",
                members=(),
            ))
        elif not group.is_(PREPARING):
            # CompletingRebalance (the leader may be assigning to the old id) or a changed
            # protocol choice: rebalance rather than hand out an assignment that may be wrong.
            self._maybe_prepare_rebalance(group, f"static member {request.group_instance_id} rejoined")

    def _join_known_member(self, group: Group, request: JoinRequest, future: asyncio.Future) -> None:
        member_id = request.member_id
        if member_id in group.pending_members:
            self._add_member_and_rebalance(group, request, member_id, future)
            return
        if group.is_static_member_fenced(member_id, request.group_instance_id):
            raise FencedInstanceId(f"group.instance.id {request.group_instance_id} has a newer member id")
        member = group.members.get(member_id)
        if member is None or (request.group_instance_id is not None and request.group_instance_id not in group.static_members):
            raise UnknownMember(f"{member_id} is not a member of group {group.group_id}")
        if group.state in (EMPTY, DEAD):
            raise UnknownMember(f"group {group.group_id} is {group.state.value}")
        if group.is_(PREPARING):
            self._update_member_and_rebalance(group, member, request, future)
        elif group.is_(COMPLETING) and member.matches(request.protocols):
            # The member lost our JoinGroup answer and asks again: repeat it.
            resolve(future, self._join_result(group, member))
        elif group.is_(STABLE) and member.member_id != group.leader_id and member.matches(request.protocols):
            # A follower with nothing new: it may SyncGroup for the current generation.
            resolve(future, self._join_result(group, member))
        else:
            # Changed metadata, or the leader rejoining (it may have seen topic metadata
            # change, which the member metadata does not show): rebalance.
            self._update_member_and_rebalance(group, member, request, future)

    def _add_member_and_rebalance(self, group: Group, request: JoinRequest, member_id: str, future: asyncio.Future) -> None:
        member = Member(
            member_id=member_id,
            group_instance_id=request.group_instance_id,
            client_id=request.client_id,
            client_host=request.client_host,
            session_timeout_ms=request.session_timeout_ms,
            rebalance_timeout_ms=request.rebalance_timeout_ms,
            protocol_type=request.protocol_type,
            protocols=request.protocols,
        )
        member.is_new = True
        member.join_waiter = future
        if group.is_(PREPARING) and group.generation_id == 0:
            group.new_member_added = True  # lets the initial rebalance delay extend itself
        group.add(member)
        group.pending_members.pop(member_id, None)
        self._heartbeat(group, member, timeout_ms=self._config.new_member_join_timeout_ms)
        self._maybe_prepare_rebalance(group, f"new member {member_id} joined")

    def _update_member_and_rebalance(self, group: Group, member: Member, request: JoinRequest, future: asyncio.Future) -> None:
        # A JoinGroup sent again while the first is parked (the client timed it out): the
        # first answer would go nowhere, so it is released now and the new one parked.
        fail(member.join_waiter, RebalanceInProgress("superseded by a newer JoinGroup"))
        self._update_member(member, request)
        member.join_waiter = future
        self._maybe_prepare_rebalance(group, f"member {member.member_id} rejoined")

    @staticmethod
    def _update_member(member: Member, request: JoinRequest) -> None:
        member.protocols = request.protocols
        member.session_timeout_ms = request.session_timeout_ms
        member.rebalance_timeout_ms = request.rebalance_timeout_ms
        member.client_id = request.client_id
        member.client_host = request.client_host

    def _join_result(self, group: Group, member: Member) -> JoinResult:
        return JoinResult(
            member_id=member.member_id,
            generation_id=group.generation_id,
            protocol_type=group.protocol_type,
            protocol_name=group.protocol_name,
            leader_id=group.leader_id or "",
            members=group.joined_members() if member.member_id == group.leader_id else (),
        )

    # -- rebalancing ----------------------------------------------------------------------------
    def _maybe_prepare_rebalance(self, group: Group, reason: str) -> None:
        if group.can_rebalance():
            self._prepare_rebalance(group, reason)

    def _prepare_rebalance(self, group: Group, reason: str) -> None:
        if group.is_(COMPLETING):
            self._reset_and_propagate_assignment_error(group, RebalanceInProgress("the group is rebalancing"))
        now = self._clock.monotonic()
        group.join_token += 1
        delay_ms = self._config.initial_rebalance_delay_ms
        if group.is_(EMPTY) and delay_ms > 0:
            # group.initial.rebalance.delay.ms: wait for more of a starting fleet, extended
            # while members keep arriving, up to the rebalance timeout (Kafka's InitialDelayedJoin).
            group.join_initial = True
            group.new_member_added = False
            group.initial_remaining_ms = max(group.rebalance_timeout_ms - delay_ms, 0)
            self._deadlines.at(now + delay_ms / 1000.0, ("join", group.group_id, group.join_token))
        else:
            group.join_initial = False
            self._deadlines.at(now + group.rebalance_timeout_ms / 1000.0, ("join", group.group_id, group.join_token))
        log.debug("group %s: preparing rebalance from generation %d (%s)", group.group_id, group.generation_id, reason)
        group.transition_to(PREPARING, self._clock.now_ms())
        self._try_complete_join(group)

    def _try_complete_join(self, group: Group) -> None:
        if group.is_(PREPARING) and not group.join_initial and group.has_all_members_joined():
            self._complete_join(group)

    def _join_deadline(self, group: Group) -> None:
        if group.join_initial and group.new_member_added and group.initial_remaining_ms > 0:
            delay_ms = min(self._config.initial_rebalance_delay_ms, group.initial_remaining_ms)
            group.initial_remaining_ms = max(group.initial_remaining_ms - delay_ms, 0)
            group.new_member_added = False
            group.join_token += 1
            self._deadlines.at(self._clock.monotonic() + delay_ms / 1000.0, ("join", group.group_id, group.join_token))
            return
        self._complete_join(group)

    def _complete_join(self, group: Group) -> None:
        group.join_token += 1  # the rebalance timer is spent
        group.join_initial = False
        for member in group.not_yet_rejoined():
            # Dynamic members that did not rejoin in time are out; static members stay
            # until their session expires (KIP-345).
            if not member.is_static:
                self._drop_member(group, member)
        if group.is_(DEAD):
            return
        if group.members and not group.elect_joined_leader():
            # Only static members that have not rejoined: give them another rebalance timeout.
            group.join_token += 1
            self._deadlines.at(
                self._clock.monotonic() + group.rebalance_timeout_ms / 1000.0,
                ("join", group.group_id, group.join_token),
            )
            return
        now_ms = self._clock.now_ms()
        group.generation_id += 1
        if not group.members:
            group.protocol_name = None
            group.transition_to(EMPTY, now_ms)
            log.info("group %s is empty at generation %d", group.group_id, group.generation_id)
            self._store_group_quietly(group)
            return
        group.protocol_name = group.select_protocol()
        group.transition_to(COMPLETING, now_ms)
        log.info(
            "group %s generation %d: %d members, protocol %s, leader %s",
            group.group_id, group.generation_id, len(group.members), group.protocol_name, group.leader_id,
        )
        everyone = group.joined_members()
        for member in list(group.members.values()):
            result = JoinResult(
                member_id=member.member_id,
                generation_id=group.generation_id,
                protocol_type=group.protocol_type,
                protocol_name=group.protocol_name,
                leader_id=group.leader_id or "",
                members=everyone if member.member_id == group.leader_id else (),
            )
            waiter, member.join_waiter = member.join_waiter, None
            resolve(waiter, result)
            member.is_new = False
            self._heartbeat(group, member)

    def _reset_and_propagate_assignment_error(self, group: Group, error: Exception) -> None:
        for member in group.members.values():
            member.assignment = b""
            if member.sync_waiter is not None:
                waiter, member.sync_waiter = member.sync_waiter, None
                fail(waiter, error)
                self._heartbeat(group, member)

    # -- SyncGroup ----------------------------------------------------------------------------
    def sync_group(self, request: SyncRequest) -> asyncio.Future:
        """The future resolves with the member's assignment once the leader has sent it."""
        if not request.group_id:
            raise InvalidGroupId("group id must not be empty")
        group = self._groups.get(request.group_id)
        if group is None:
            raise UnknownMember(f"group {request.group_id} does not exist")
        member = self._validate_member(group, request.member_id, request.group_instance_id, request.generation_id)
        if (request.protocol_type is not None and request.protocol_type != group.protocol_type) or (
            request.protocol_name is not None and request.protocol_name != group.protocol_name
        ):
            raise InconsistentGroupProtocol("protocol type or name differs from the group's")
        if group.is_(PREPARING):
            raise RebalanceInProgress(f"group {group.group_id} is rebalancing")
        future = asyncio.get_running_loop().create_future()
        if group.is_(STABLE):
            resolve(future, self._sync_result(group, member))
            self._heartbeat(group, member)
            return future
        # CompletingRebalance: park until the leader's assignment arrives.
        fail(member.sync_waiter, RebalanceInProgress("superseded by a newer SyncGroup"))
        member.sync_waiter = future
        if member.member_id == group.leader_id:
            assignments = dict(request.assignments)
            for each in group.members.values():
                # Members the leader left out get an empty assignment (Kafka does the same).
                each.assignment = assignments.get(each.member_id, b"")
            try:
                self._store_group(group, state=STABLE)
            except StorageError as exc:
                self._reset_and_propagate_assignment_error(group, exc)
                self._maybe_prepare_rebalance(group, "could not store the assignment")
                return future
            group.transition_to(STABLE, self._clock.now_ms())
            for each in group.members.values():
                if each.sync_waiter is not None:
                    waiter, each.sync_waiter = each.sync_waiter, None
                    resolve(waiter, self._sync_result(group, each))
                    self._heartbeat(group, each)
        return future

    @staticmethod
    def _sync_result(group: Group, member: Member) -> SyncResult:
        return SyncResult(protocol_type=group.protocol_type, protocol_name=group.protocol_name, assignment=member.assignment)

    def _validate_member(self, group: Group, member_id: str, group_instance_id: str | None, generation_id: int) -> Member:
        """The checks SyncGroup and Heartbeat share, in Kafka's order."""
        if group.is_(DEAD):
            raise CoordinatorNotAvailable(f"group {group.group_id} is being deleted")
        if group.is_static_member_fenced(member_id, group_instance_id):
            raise FencedInstanceId(f"group.instance.id {group_instance_id} has a newer member id")
        member = group.members.get(member_id)
        if member is None:
            raise UnknownMember(f"{member_id} is not a member of group {group.group_id}")
        if generation_id != group.generation_id:
            raise IllegalGeneration(f"generation {generation_id} is not the group's {group.generation_id}")
        if group.is_(EMPTY):
            raise UnknownMember(f"group {group.group_id} is empty")
        return member

    # -- Heartbeat ------------------------------------------------------------------------------
    def heartbeat(self, group_id: str, *, member_id: str, group_instance_id: str | None, generation_id: int) -> None:
        """Keeps a member alive; raises RebalanceInProgress to tell it to rejoin."""
        if not group_id:
            raise InvalidGroupId("group id must not be empty")
        group = self._groups.get(group_id)
        if group is None:
            raise UnknownMember(f"group {group_id} does not exist")
        member = self._validate_member(group, member_id, group_instance_id, generation_id)
        self._heartbeat(group, member)
        if group.is_(PREPARING):
            raise RebalanceInProgress(f"group {group_id} is rebalancing")
        # CompletingRebalance answers NONE, as Kafka since KAFKA-9752: a member that has its
        # JoinGroup answer may heartbeat while the leader assigns.

    def _heartbeat(self, group: Group, member: Member, *, timeout_ms: int | None = None) -> None:
        member.last_heartbeat = self._clock.monotonic()
        member.timeout_ms = member.session_timeout_ms if timeout_ms is None else timeout_ms
        deadline = member.deadline
        if member.timer_at is None or deadline < member.timer_at:
            member.timer_at = deadline
            self._deadlines.at(deadline, ("member", group.group_id, member.member_id))

    def _member_deadline(self, group: Group, member_id: str) -> None:
        member = group.members.get(member_id)
        if member is None:
            return
        member.timer_at = None
        if member.awaiting_sync or (member.awaiting_join and not member.is_new):
            return  # parked: the answer to that request schedules the next deadline
        now = self._clock.monotonic()
        if now < member.deadline:
            member.timer_at = member.deadline
            self._deadlines.at(member.deadline, ("member", group.group_id, member_id))
            return
        log.info("group %s: member %s expired (no heartbeat for %d ms)", group.group_id, member_id, member.timeout_ms)
        self._remove_member_and_update_group(group, member, "session timeout")

    def _pending_deadline(self, group: Group, member_id: str) -> None:
        deadline = group.pending_members.get(member_id)
        if deadline is None or deadline > self._clock.monotonic():
            return
        del group.pending_members[member_id]
        self._try_complete_join(group)
        self._forget_if_unused(group)

    # -- LeaveGroup ------------------------------------------------------------------------------
    def leave_group(self, group_id: str, members: tuple[LeavingMember, ...]) -> tuple[LeaveOutcome, ...]:
        """Removes members (KIP-345 batch leave); per-member errors, CoordinatorNotAvailable if Dead."""
        if not group_id:
            raise InvalidGroupId("group id must not be empty")
        group = self._groups.get(group_id)
        outcomes = []
        if group is not None and group.is_(DEAD):
            raise CoordinatorNotAvailable(f"group {group_id} is being deleted")
        for leaving in members:
            if group is None:
                error: Exception | None = UnknownMember(f"group {group_id} does not exist")
            else:
                error = self._leave_one(group, leaving)
            outcomes.append(
                LeaveOutcome(member_id=leaving.member_id, group_instance_id=leaving.group_instance_id, error=error)
            )
        if group is not None:
            self._forget_if_unused(group)
        return tuple(outcomes)

    def _leave_one(self, group: Group, leaving: LeavingMember) -> Exception | None:
        member_id, instance_id = leaving.member_id, leaving.group_instance_id
        if member_id and group.is_static_member_fenced(member_id, instance_id):
            return FencedInstanceId(f"group.instance.id {instance_id} has a newer member id")
        if member_id in group.pending_members:
            del group.pending_members[member_id]
            self._try_complete_join(group)
            return None
        if instance_id is not None and instance_id in group.static_members:
            member = group.members[group.static_members[instance_id]]
        else:
            member = group.members.get(member_id)
        if member is None:
            return UnknownMember(f"{member_id or instance_id} is not a member of group {group.group_id}")
        log.info("group %s: member %s left", group.group_id, member.member_id)
        self._remove_member_and_update_group(group, member, "left the group")
        return None

    # -- removal ------------------------------------------------------------------------------
    def _drop_member(self, group: Group, member: Member) -> None:
        # A member parked in a JoinGroup is told to start over (Kafka answers UNKNOWN_MEMBER_ID).
        fail(member.join_waiter, UnknownMember("removed from the group"))
        fail(member.sync_waiter, UnknownMember("removed from the group"))
        member.join_waiter = member.sync_waiter = None
        group.remove(member.member_id)

    def _remove_member_and_update_group(self, group: Group, member: Member, reason: str) -> None:
        self._drop_member(group, member)
        if group.state in (STABLE, COMPLETING):
            self._maybe_prepare_rebalance(group, f"member {member.member_id}: {reason}")
        elif group.is_(PREPARING):
            self._try_complete_join(group)
