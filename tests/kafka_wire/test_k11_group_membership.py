"""JoinGroup 0–7, SyncGroup 0–5, Heartbeat 0–4 and LeaveGroup 0–5 over real sockets.

One member's whole life at every JoinGroup version (with the SyncGroup, Heartbeat and
LeaveGroup versions a client of that era pairs with it), then the cases that need several
connections: a follower's empty assignment, a rebalance seen through Heartbeat, static
membership.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from kio.schema.errors import ErrorCode

from kafka_wire.groups import EMPTY_CONSUMER_ASSIGNMENT
from tests.kafka_wire.groupraw import SUBSCRIPTION, heartbeat, join, joined, leave, sync, unique
from tests.kafka_wire.rawkafka import RawKafka


@pytest.fixture
def kafka(server):
    with RawKafka(server.kafka_bootstrap) as connection:
        yield connection


def connect(server):
    return RawKafka(server.kafka_bootstrap)


@pytest.mark.parametrize("version", range(8))
def test_a_member_joins_syncs_heartbeats_and_leaves(kafka, version):
    sync_v, heartbeat_v, leave_v = min(version, 5), min(version, 4), min(version, 5)
    group = unique(f"life-v{version}")
    first = kafka.send(join(version, group))
    if version >= 4:
        # KIP-394: a dynamic member is handed its id and must come back with it.
        assert first.error_code == ErrorCode.member_id_required
        assert first.member_id.startswith("rawkafka-") and first.generation_id == -1
        started = time.monotonic()
        response = kafka.send(join(version, group, first.member_id))
    else:
        started = time.monotonic()
        response = first
    elapsed = time.monotonic() - started
    assert response.error_code == ErrorCode.none
    assert elapsed < 0.5, f"a lone member's join took {elapsed:.3f}s"
    member_id = response.member_id
    assert (response.generation_id, response.leader, response.protocol_name) == (1, member_id, "range")
    assert [(m.member_id, m.metadata) for m in response.members] == [(member_id, SUBSCRIPTION)]
    if version >= 7:
        assert response.protocol_type == "consumer"

    synced = kafka.send(sync(sync_v, group, 1, member_id, [(member_id, b"\x00\x01my-assignment")],
                             protocol_type="consumer", protocol_name="range"))
    assert (synced.error_code, synced.assignment) == (ErrorCode.none, b"\x00\x01my-assignment")
    if sync_v >= 5:
        assert (synced.protocol_type, synced.protocol_name) == ("consumer", "range")

    assert kafka.send(heartbeat(heartbeat_v, group, 1, member_id)).error_code == ErrorCode.none
    assert kafka.send(heartbeat(heartbeat_v, group, 0, member_id)).error_code == ErrorCode.illegal_generation
    assert kafka.send(heartbeat(heartbeat_v, group, 1, "ghost")).error_code == ErrorCode.unknown_member_id

    left = kafka.send(leave(leave_v, group, (member_id, None)))
    assert left.error_code == ErrorCode.none
    if leave_v >= 3:
        assert [(m.member_id, m.error_code) for m in left.members] == [(member_id, ErrorCode.none)]
    assert kafka.send(heartbeat(heartbeat_v, group, 1, member_id)).error_code == ErrorCode.unknown_member_id


@pytest.mark.parametrize("version", [0, 3, 5])
def test_leave_of_an_unknown_member(kafka, version):
    left = kafka.send(leave(version, unique("leave"), ("nobody", None)))
    if version >= 3:
        assert left.error_code == ErrorCode.none
        assert [m.error_code for m in left.members] == [ErrorCode.unknown_member_id]
    else:
        assert left.error_code == ErrorCode.unknown_member_id


@pytest.mark.parametrize("version", [1, 5, 7])
def test_join_refusals(kafka, version):
    assert kafka.send(join(version, "")).error_code == ErrorCode.invalid_group_id
    refused = kafka.send(join(version, unique("short"), session=timedelta(milliseconds=100)))
    assert refused.error_code == ErrorCode.invalid_session_timeout
    assert kafka.send(join(version, unique("ghost"), "made-up")).error_code == ErrorCode.unknown_member_id
    group = unique("proto")
    assert joined(kafka, version, group).error_code == ErrorCode.none
    other = kafka.send(join(version, group, protocols=(("roundrobin", b""),)))
    assert other.error_code == ErrorCode.inconsistent_group_protocol
    assert kafka.send(join(version, group, protocol_type="connect")).error_code == ErrorCode.inconsistent_group_protocol


@pytest.mark.parametrize(("join_v", "sync_v"), [(4, 3), (5, 3), (7, 5)])
@pytest.mark.parametrize("protocol_type", ["consumer", "connect"])
def test_two_members_and_the_empty_follower_assignment(server, join_v, sync_v, protocol_type):
    group = unique("pair")
    with connect(server) as a, connect(server) as b:
        # Both get their ids first, so the rebalance waits for both (KIP-394 pending members).
        ida = a.send(join(join_v, group, protocol_type=protocol_type)).member_id
        idb = b.send(join(join_v, group, protocol_type=protocol_type)).member_id
        results = {}

        def rejoin(conn, member_id, key):
            results[key] = conn.send(join(join_v, group, member_id, protocol_type=protocol_type))

        threads = [threading.Thread(target=rejoin, args=(a, ida, "a")), threading.Thread(target=rejoin, args=(b, idb, "b"))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        ra, rb = results["a"], results["b"]
        assert ra.error_code == rb.error_code == ErrorCode.none
        assert ra.generation_id == rb.generation_id == 1
        leader, follower = (ra, rb) if ra.members else (rb, ra)
        assert len(leader.members) == 2 and follower.members == ()
        assert leader.leader == follower.leader == leader.member_id
        lconn, fconn = (a, b) if leader is ra else (b, a)

        got = {}
        t = threading.Thread(target=lambda: got.setdefault("f", fconn.send(sync(sync_v, group, 1, follower.member_id))))
        t.start()
        time.sleep(0.1)
        assert "f" not in got  # parked until the leader assigns
        # The leader assigns to itself only.
        mine = lconn.send(sync(sync_v, group, 1, leader.member_id, [(leader.member_id, b"LEADER")]))
        t.join(10)
        assert mine.assignment == b"LEADER"
        expected = EMPTY_CONSUMER_ASSIGNMENT if protocol_type == "consumer" else b""
        assert (got["f"].error_code, got["f"].assignment) == (ErrorCode.none, expected)


def test_a_new_member_makes_heartbeats_answer_rebalance_in_progress(server):
    group = unique("rebalance")
    with connect(server) as a, connect(server) as c:
        first = joined(a, 5, group)
        a.send(sync(3, group, 1, first.member_id, [(first.member_id, b"x")]))
        idc = c.send(join(5, group)).member_id
        results = {}
        t = threading.Thread(target=lambda: results.setdefault("c", c.send(join(5, group, idc))))
        t.start()
        time.sleep(0.1)
        assert a.send(heartbeat(3, group, 1, first.member_id)).error_code == ErrorCode.rebalance_in_progress
        assert a.send(sync(3, group, 1, first.member_id)).error_code == ErrorCode.rebalance_in_progress
        started = time.monotonic()
        again = a.send(join(5, group, first.member_id))
        t.join(10)
        # The rebalance ends as soon as the last known member is back.
        assert time.monotonic() - started < 0.5
        assert again.generation_id == results["c"].generation_id == 2
        assert len(again.members) == 2


@pytest.mark.parametrize("version", [5, 7])
def test_static_member_rejoins_without_rebalance_and_fences_its_old_self(server, version):
    group = unique("static")
    with connect(server) as a:
        first = a.send(join(version, group, instance="pod-0"))
        assert first.error_code == ErrorCode.none and first.member_id.startswith("pod-0-")
        a.send(sync(min(version, 5), group, 1, first.member_id, [(first.member_id, b"mine")], instance="pod-0"))
    with connect(server) as again:
        second = again.send(join(version, group, instance="pod-0"))
        assert second.error_code == ErrorCode.none
        assert second.member_id != first.member_id
        assert (second.generation_id, second.leader, second.members) == (1, first.member_id, ())
        got = again.send(sync(min(version, 5), group, 1, second.member_id, instance="pod-0"))
        assert got.assignment == b"mine"
        stale = again.send(heartbeat(4, group, 1, first.member_id, instance="pod-0"))
        assert stale.error_code == ErrorCode.fenced_instance_id
        assert again.send(heartbeat(4, group, 1, second.member_id, instance="pod-0")).error_code == ErrorCode.none
        left = again.send(leave(5, group, ("", "pod-0")))
        assert [m.error_code for m in left.members] == [ErrorCode.none]


def test_sync_group_v5_protocol_mismatch(kafka):
    group = unique("mismatch")
    member = joined(kafka, 7, group)
    wrong = kafka.send(sync(5, group, 1, member.member_id, protocol_type="consumer", protocol_name="roundrobin"))
    assert wrong.error_code == ErrorCode.inconsistent_group_protocol
    assert kafka.send(sync(5, group, 2, member.member_id)).error_code == ErrorCode.illegal_generation
    assert kafka.send(sync(5, unique("none"), 1, member.member_id)).error_code == ErrorCode.unknown_member_id
