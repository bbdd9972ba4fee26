"""The classic group state machine, driven with a FakeClock (no sockets, no real time)."""

from __future__ import annotations

import pytest

from engine.groups import GroupState, LeavingMember
from engine.groups.errors import (
    FencedInstanceId,
    IllegalGeneration,
    InconsistentGroupProtocol,
    InvalidGroupId,
    InvalidSessionTimeout,
    MemberIdRequired,
    RebalanceInProgress,
    UnknownMember,
)

from tests.engine.groups.helpers import (
    REBALANCE_MS,
    SESSION_MS,
    coordinator,
    first_join,
    join_request,
    settle,
    sync,
)


async def stable_group(groups, n: int, group_id: str = "g"):
    """n members joined at once and synced; returns their JoinResults (leader first)."""
    futures = []
    ids = []
    for _ in range(n):
        with pytest.raises(MemberIdRequired) as required:
            groups.join_group(join_request(group_id))
        ids.append(required.value.member_id)
    for member_id in ids:
        futures.append(groups.join_group(join_request(group_id, member_id)))
    results = [f.result() for f in futures]
    leader = next(r for r in results if r.members)
    syncs = [sync(groups, group_id, r, [(m.member_id, m.member_id.encode()) for m in leader.members] if r.members else ())
             for r in results]
    for s, r in zip(syncs, results):
        assert s.result().assignment == r.member_id.encode()
    assert groups.group_state(group_id) is GroupState.STABLE
    return results


async def test_single_member_joins_and_syncs_at_once():
    groups, _ = coordinator()
    with pytest.raises(MemberIdRequired) as required:
        groups.join_group(join_request())
    member_id = required.value.member_id
    assert member_id.startswith("client-")
    joined = groups.join_group(join_request(member_id=member_id))
    # No timer involved: the only known member has joined, so the rebalance is over.
    assert joined.done()
    result = joined.result()
    assert (result.generation_id, result.leader_id, result.member_id) == (1, member_id, member_id)
    assert [m.member_id for m in result.members] == [member_id]
    assert result.members[0].metadata == b"meta"
    assert result.protocol_name == "range" and result.protocol_type == "consumer"
    assert groups.group_state("g") is GroupState.COMPLETING_REBALANCE
    synced = sync(groups, "g", result, [(member_id, b"assignment")])
    assert synced.result().assignment == b"assignment"
    assert groups.group_state("g") is GroupState.STABLE


async def test_two_concurrent_members_complete_together_and_only_leader_gets_metadata():
    groups, _ = coordinator()
    results = await stable_group(groups, 2)
    leader, follower = results
    assert leader.leader_id == follower.leader_id == leader.member_id
    assert len(leader.members) == 2 and follower.members == ()
    assert leader.generation_id == follower.generation_id == 1


async def test_pending_member_holds_the_rebalance_until_it_rejoins():
    groups, _ = coordinator()
    with pytest.raises(MemberIdRequired) as a:
        groups.join_group(join_request())
    with pytest.raises(MemberIdRequired) as b:
        groups.join_group(join_request())
    fa = groups.join_group(join_request(member_id=a.value.member_id))
    assert not fa.done()  # b was given an id and is expected back
    fb = groups.join_group(join_request(member_id=b.value.member_id))
    assert fa.done() and fb.done()
    assert fa.result().generation_id == 1 and len(fa.result().members) == 2


async def test_pending_member_that_never_returns_expires_at_its_session_timeout():
    groups, clock = coordinator()
    with pytest.raises(MemberIdRequired) as a:
        groups.join_group(join_request())
    with pytest.raises(MemberIdRequired):
        groups.join_group(join_request())
    fa = groups.join_group(join_request(member_id=a.value.member_id))
    clock.advance(SESSION_MS - 1)
    groups.run_due()
    assert not fa.done()
    clock.advance(1)
    groups.run_due()
    assert fa.done() and len(fa.result().members) == 1


async def test_third_member_triggers_rebalance_signalled_by_heartbeat():
    groups, _ = coordinator()
    a, b = await stable_group(groups, 2)
    c = first_join(groups)
    assert not c.done()
    assert groups.group_state("g") is GroupState.PREPARING_REBALANCE
    for member in (a, b):
        with pytest.raises(RebalanceInProgress):
            groups.heartbeat("g", member_id=member.member_id, group_instance_id=None, generation_id=1)
    ra = groups.join_group(join_request(member_id=a.member_id))
    assert not ra.done()
    rb = groups.join_group(join_request(member_id=b.member_id))
    # Everyone known is back: done without waiting for the rebalance timeout.
    assert ra.done() and rb.done() and c.done()
    assert {r.result().generation_id for r in (ra, rb, c)} == {2}
    assert ra.result().leader_id == a.member_id and len(ra.result().members) == 3


async def test_member_that_does_not_rejoin_is_dropped_at_the_rebalance_timeout():
    groups, clock = coordinator()
    a, b = await stable_group(groups, 2)
    c = first_join(groups)
    ra = groups.join_group(join_request(member_id=a.member_id))
    # b keeps heartbeating but never rejoins.
    for _ in range(REBALANCE_MS // 5000):
        clock.advance(5000)
        groups.run_due()
        if ra.done():
            break
        with pytest.raises(RebalanceInProgress):
            groups.heartbeat("g", member_id=b.member_id, group_instance_id=None, generation_id=1)
    assert ra.done() and c.done()
    assert {m.member_id for m in ra.result().members} == {a.member_id, c.result().member_id}
    with pytest.raises(UnknownMember):
        groups.heartbeat("g", member_id=b.member_id, group_instance_id=None, generation_id=1)


async def test_silent_member_expires_at_session_timeout_and_the_group_rebalances():
    groups, clock = coordinator()
    a, b = await stable_group(groups, 2)
    clock.advance(SESSION_MS // 2)
    groups.heartbeat("g", member_id=a.member_id, group_instance_id=None, generation_id=1)
    groups.run_due()
    assert groups.group_state("g") is GroupState.STABLE
    clock.advance(SESSION_MS // 2)  # b's session is over, a's is not
    groups.run_due()
    assert groups.group_state("g") is GroupState.PREPARING_REBALANCE
    with pytest.raises(RebalanceInProgress):
        groups.heartbeat("g", member_id=a.member_id, group_instance_id=None, generation_id=1)
    rejoined = groups.join_group(join_request(member_id=a.member_id))
    assert rejoined.done()
    assert rejoined.result().generation_id == 2
    assert [m.member_id for m in rejoined.result().members] == [a.member_id]


async def test_silent_member_during_a_rebalance_expires_at_its_session_timeout():
    groups, clock = coordinator()
    a, b = await stable_group(groups, 2)
    c = first_join(groups)
    ra = groups.join_group(join_request(member_id=a.member_id))
    clock.advance(SESSION_MS)
    groups.run_due()
    # b was not parked in a JoinGroup and did not heartbeat: gone, long before the rebalance timeout.
    assert ra.done() and c.done()
    assert len(ra.result().members) == 2


async def test_leave_group_rebalances_and_last_leave_empties_the_group():
    groups, _ = coordinator()
    a, b = await stable_group(groups, 2)
    outcome = groups.leave_group("g", (LeavingMember(member_id=b.member_id), LeavingMember(member_id="nobody")))
    assert outcome[0].error is None
    assert isinstance(outcome[1].error, UnknownMember)
    assert groups.group_state("g") is GroupState.PREPARING_REBALANCE
    rejoined = groups.join_group(join_request(member_id=a.member_id))
    assert rejoined.result().generation_id == 2
    assert groups.leave_group("g", (LeavingMember(member_id=a.member_id),))[0].error is None
    assert groups.group_state("g") is GroupState.EMPTY
    assert groups.describe_group("g").members == ()


async def test_leave_of_a_member_parked_in_join_completes_the_rebalance():
    groups, _ = coordinator()
    a, b = await stable_group(groups, 2)
    ra = groups.join_group(join_request(member_id=a.member_id))  # the leader rejoins: rebalance
    assert not ra.done()
    groups.leave_group("g", (LeavingMember(member_id=b.member_id),))
    assert ra.done() and len(ra.result().members) == 1


async def test_leave_unknown_group_reports_unknown_member_per_member():
    groups, _ = coordinator()
    outcome = groups.leave_group("nope", (LeavingMember(member_id="x"),))
    assert isinstance(outcome[0].error, UnknownMember)


async def test_joining_during_completing_rebalance_sends_parked_syncs_back_to_rejoin():
    groups, _ = coordinator()
    a = first_join(groups).result()
    assert groups.group_state("g") is GroupState.COMPLETING_REBALANCE
    # a is slow to sync; a newcomer arrives first.
    b = first_join(groups)
    assert groups.group_state("g") is GroupState.PREPARING_REBALANCE
    with pytest.raises(RebalanceInProgress):
        sync(groups, "g", a)
    ra = groups.join_group(join_request(member_id=a.member_id))
    assert ra.done() and b.done() and ra.result().generation_id == 2


async def test_parked_sync_fails_when_a_rebalance_starts():
    groups, _ = coordinator()
    with pytest.raises(MemberIdRequired) as x:
        groups.join_group(join_request())
    with pytest.raises(MemberIdRequired) as y:
        groups.join_group(join_request())
    fx = groups.join_group(join_request(member_id=x.value.member_id))
    fy = groups.join_group(join_request(member_id=y.value.member_id))
    follower = fy.result() if not fy.result().members else fx.result()
    parked = sync(groups, "g", follower)
    assert not parked.done()
    first_join(groups)  # a third member: the group goes back to PreparingRebalance
    assert parked.done() and isinstance(parked.exception(), RebalanceInProgress)


async def test_follower_sync_waits_for_leader_and_missing_assignment_is_empty():
    groups, _ = coordinator()
    with pytest.raises(MemberIdRequired) as x:
        groups.join_group(join_request())
    with pytest.raises(MemberIdRequired) as y:
        groups.join_group(join_request())
    fx = groups.join_group(join_request(member_id=x.value.member_id))
    fy = groups.join_group(join_request(member_id=y.value.member_id))
    leader, follower = fx.result(), fy.result()
    parked = sync(groups, "g", follower)
    assert not parked.done()
    # Heartbeats while the leader assigns are fine (KAFKA-9752).
    groups.heartbeat("g", member_id=follower.member_id, group_instance_id=None, generation_id=1)
    done = sync(groups, "g", leader, [(leader.member_id, b"L")])
    assert done.result().assignment == b"L"
    assert parked.result().assignment == b""
    # Later SyncGroups in Stable return the stored assignment.
    assert sync(groups, "g", follower).result().assignment == b""


async def test_sync_and_heartbeat_checks():
    groups, _ = coordinator()
    (a,) = await stable_group(groups, 1)
    with pytest.raises(IllegalGeneration):
        groups.heartbeat("g", member_id=a.member_id, group_instance_id=None, generation_id=7)
    with pytest.raises(UnknownMember):
        groups.heartbeat("g", member_id="ghost", group_instance_id=None, generation_id=1)
    with pytest.raises(UnknownMember):
        groups.heartbeat("other", member_id=a.member_id, group_instance_id=None, generation_id=1)
    with pytest.raises(IllegalGeneration):
        sync(groups, "g", type(a)(**{**_fields(a), "generation_id": 0}))
    with pytest.raises(InvalidGroupId):
        groups.heartbeat("", member_id=a.member_id, group_instance_id=None, generation_id=1)
    groups.join_group(join_request(member_id=a.member_id))  # leader rejoin: rebalance
    # (completes at once: the only member is back)
    assert groups.group_state("g") is GroupState.COMPLETING_REBALANCE


def _fields(result):
    return {name: getattr(result, name) for name in result.__dataclass_fields__}


async def test_sync_in_preparing_rebalance_is_rebalance_in_progress():
    groups, _ = coordinator()
    a, b = await stable_group(groups, 2)
    first_join(groups)
    with pytest.raises(RebalanceInProgress):
        sync(groups, "g", b)


async def test_follower_rejoin_without_change_in_stable_returns_current_generation():
    groups, _ = coordinator()
    a, b = await stable_group(groups, 2)
    again = groups.join_group(join_request(member_id=b.member_id))
    assert again.done() and again.result().generation_id == 1 and again.result().members == ()
    assert groups.group_state("g") is GroupState.STABLE
    # Changed metadata does rebalance.
    changed = groups.join_group(join_request(member_id=b.member_id, protocols=(("range", b"other"),)))
    assert not changed.done()
    assert groups.group_state("g") is GroupState.PREPARING_REBALANCE


async def test_join_repeated_in_completing_rebalance_gets_the_same_answer():
    groups, _ = coordinator()
    a = first_join(groups).result()
    again = groups.join_group(join_request(member_id=a.member_id))
    assert again.result() == a


async def test_protocol_selection_picks_one_every_member_supports():
    groups, _ = coordinator()
    with pytest.raises(MemberIdRequired) as x:
        groups.join_group(join_request(protocols=(("cooperative-sticky", b"c"), ("range", b"r"))))
    with pytest.raises(MemberIdRequired) as y:
        groups.join_group(join_request(protocols=(("range", b"r2"),)))
    fx = groups.join_group(join_request(member_id=x.value.member_id, protocols=(("cooperative-sticky", b"c"), ("range", b"r"))))
    fy = groups.join_group(join_request(member_id=y.value.member_id, protocols=(("range", b"r2"),)))
    leader = fx.result()
    assert leader.protocol_name == "range" == fy.result().protocol_name
    # The leader sees each member's metadata for the chosen protocol only.
    assert {m.metadata for m in leader.members} == {b"r", b"r2"}


async def test_protocol_preference_vote():
    groups, _ = coordinator()
    protocols = (("cooperative-sticky", b"c"), ("range", b"r"))
    a, b = [first_join(groups, protocols=protocols) for _ in range(2)]
    assert a.result().protocol_name == "cooperative-sticky"


async def test_inconsistent_protocols_are_refused():
    groups, _ = coordinator()
    (a,) = await stable_group(groups, 1)
    with pytest.raises(InconsistentGroupProtocol):
        groups.join_group(join_request(protocols=(("roundrobin", b""),)))
    with pytest.raises(InconsistentGroupProtocol):
        groups.join_group(join_request(protocol_type="connect"))
    with pytest.raises(InconsistentGroupProtocol):
        groups.join_group(join_request("new", protocols=()))
    assert groups.group_state("new") is None  # a failed join leaves nothing behind


async def test_session_timeout_bounds_and_group_id():
    groups, _ = coordinator()
    with pytest.raises(InvalidSessionTimeout):
        groups.join_group(join_request(session_ms=1000))
    with pytest.raises(InvalidSessionTimeout):
        groups.join_group(join_request(session_ms=3_600_000))
    with pytest.raises(InvalidGroupId):
        groups.join_group(join_request(""))
    with pytest.raises(UnknownMember):
        groups.join_group(join_request("fresh", "made-up-id"))


async def test_old_join_versions_get_a_member_id_at_once():
    groups, _ = coordinator()
    joined = groups.join_group(join_request(require_known=False))
    assert joined.result().generation_id == 1 and joined.result().member_id


async def test_static_member_restart_keeps_assignment_without_rebalance():
    groups, _ = coordinator()
    first = groups.join_group(join_request(instance="i-a")).result()
    assert first.generation_id == 1 and first.member_id.startswith("i-a-")  # no MEMBER_ID_REQUIRED
    fb = groups.join_group(join_request(instance="i-b"))  # a rebalance: a must rejoin
    fa = groups.join_group(join_request(member_id=first.member_id, instance="i-a"))
    a, b = fa.result(), fb.result()
    assert a.generation_id == b.generation_id == 2
    assert sync(groups, "g", b).done() is False
    sync(groups, "g", a, [(a.member_id, b"A"), (b.member_id, b"B")])
    assert groups.group_state("g") is GroupState.STABLE
    # b restarts: it lost its member id but has the same group.instance.id.
    again = groups.join_group(join_request(instance="i-b")).result()
    assert again.member_id != b.member_id
    assert again.generation_id == 2 and again.leader_id == a.member_id and again.members == ()
    assert groups.group_state("g") is GroupState.STABLE  # no rebalance
    synced = groups.sync_group(_sync(again, "i-b"))
    assert synced.result().assignment == b"B"
    # The old incarnation is fenced.
    with pytest.raises(FencedInstanceId):
        groups.heartbeat("g", member_id=b.member_id, group_instance_id="i-b", generation_id=2)
    groups.heartbeat("g", member_id=a.member_id, group_instance_id="i-a", generation_id=2)


def _sync(result, instance):
    from engine.groups import SyncRequest

    return SyncRequest(group_id="g", generation_id=result.generation_id, member_id=result.member_id,
                       group_instance_id=instance, protocol_type="consumer", protocol_name="range", assignments=())


async def test_static_leader_restart_is_not_told_it_leads():
    groups, _ = coordinator()
    a = groups.join_group(join_request(instance="i-a")).result()
    sync(groups, "g", a, [(a.member_id, b"A")])
    again = groups.join_group(join_request(instance="i-a")).result()
    assert again.leader_id == a.member_id != again.member_id
    assert groups.describe_group("g").members[0].member_id == again.member_id


async def test_static_member_expires_at_session_timeout():
    groups, clock = coordinator()
    a = groups.join_group(join_request(instance="i-a")).result()
    sync(groups, "g", a, [(a.member_id, b"A")])
    clock.advance(SESSION_MS)
    groups.run_due()
    assert groups.group_state("g") is GroupState.EMPTY


async def test_sync_protocol_mismatch_is_inconsistent():
    from engine.groups import SyncRequest

    groups, _ = coordinator()
    a = first_join(groups).result()
    with pytest.raises(InconsistentGroupProtocol):
        groups.sync_group(SyncRequest(group_id="g", generation_id=1, member_id=a.member_id, group_instance_id=None,
                                      protocol_type="consumer", protocol_name="roundrobin", assignments=()))


async def test_initial_rebalance_delay_collects_members_then_completes():
    groups, clock = coordinator(initial_rebalance_delay_ms=3000)
    a = first_join(groups)
    clock.advance(2000)
    groups.run_due()
    b = first_join(groups)  # arrives within the delay: it extends once more
    clock.advance(1000)
    groups.run_due()
    assert not a.done()
    clock.advance(3000)
    groups.run_due()
    assert a.done() and b.done() and len(a.result().members) == 2


async def test_new_member_parked_in_a_stuck_rebalance_is_dropped_after_the_join_timeout():
    groups, clock = coordinator(new_member_join_timeout_ms=20_000)
    a, b = await stable_group(groups, 2)
    c = first_join(groups, rebalance_ms=60_000)
    # a and b keep heartbeating but nobody rejoins; the rebalance timeout (60 s) is far.
    for _ in range(4):
        clock.advance(5000)
        for m in (a, b):
            with pytest.raises(RebalanceInProgress):
                groups.heartbeat("g", member_id=m.member_id, group_instance_id=None, generation_id=1)
        groups.run_due()
    assert c.done() and isinstance(c.exception(), UnknownMember)


async def test_timers_fire_on_the_event_loop_with_the_system_clock():
    from engine.clock import SystemClock

    groups, _ = coordinator(SystemClock(), min_session_timeout_ms=50)
    a = first_join(groups, session_ms=60).result()
    sync(groups, "g", a, [(a.member_id, b"x")])
    import asyncio

    await asyncio.sleep(0.15)
    assert groups.group_state("g") is GroupState.EMPTY
    await settle()


async def test_shutdown_answers_parked_requests():
    from engine.groups.errors import CoordinatorNotAvailable

    groups, _ = coordinator()
    a, b = await stable_group(groups, 2)
    parked_join = groups.join_group(join_request(member_id=a.member_id))  # waits for b
    assert not parked_join.done()
    groups.release_waiters()
    assert isinstance(parked_join.exception(), CoordinatorNotAvailable)
