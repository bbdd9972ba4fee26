"""Building group requests of any version for the raw-socket handler tests."""

from __future__ import annotations

import importlib
import uuid
from datetime import timedelta

from kafka_wire.build import make

SESSION = timedelta(seconds=10)
REBALANCE = timedelta(seconds=30)
# ConsumerProtocolSubscription v0: topics ["t"], null user data.
SUBSCRIPTION = b"\x00\x00" + b"\x00\x00\x00\x01" + b"\x00\x01t" + b"\xff\xff\xff\xff"


def schema(api: str, version: int):
    return importlib.import_module(f"kio.schema.{api}.v{version}.request")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def join(version: int, group_id: str, member_id: str = "", *, instance: str | None = None,
         protocol_type: str = "consumer", protocols=(("range", SUBSCRIPTION),), session: timedelta = SESSION):
    m = schema("join_group", version)
    return make(
        m.JoinGroupRequest,
        group_id=group_id, session_timeout=session, rebalance_timeout=REBALANCE, member_id=member_id,
        group_instance_id=instance, protocol_type=protocol_type,
        protocols=tuple(m.JoinGroupRequestProtocol(name=n, metadata=md) for n, md in protocols),
    )


def sync(version: int, group_id: str, generation: int, member_id: str, assignments=(), *, instance=None,
         protocol_type=None, protocol_name=None):
    m = schema("sync_group", version)
    return make(
        m.SyncGroupRequest,
        group_id=group_id, generation_id=generation, member_id=member_id, group_instance_id=instance,
        protocol_type=protocol_type, protocol_name=protocol_name,
        assignments=tuple(m.SyncGroupRequestAssignment(member_id=k, assignment=v) for k, v in assignments),
    )


def heartbeat(version: int, group_id: str, generation: int, member_id: str, *, instance=None):
    m = schema("heartbeat", version)
    return make(m.HeartbeatRequest, group_id=group_id, generation_id=generation, member_id=member_id,
                group_instance_id=instance)


def leave(version: int, group_id: str, *members: tuple[str, str | None]):
    m = schema("leave_group", version)
    if version >= 3:
        return m.LeaveGroupRequest(group_id=group_id, members=tuple(
            make(m.MemberIdentity, member_id=mid, group_instance_id=iid, reason=None) for mid, iid in members))
    (member,) = members
    return m.LeaveGroupRequest(group_id=group_id, member_id=member[0])


def joined(kafka, version: int, group_id: str, **kwargs):
    """JoinGroup with the KIP-394 two-step when the version calls for it; the final response."""
    response = kafka.send(join(version, group_id, **kwargs))
    if response.error_code == 79:  # MEMBER_ID_REQUIRED
        response = kafka.send(join(version, group_id, response.member_id, **kwargs))
    return response
