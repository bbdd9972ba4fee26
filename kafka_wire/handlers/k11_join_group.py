"""JoinGroup (key 11), versions 0–7.

Hands the join to the group coordinator (engine/groups/membership.py) and answers when the
rebalance completes — at once when every known member has rejoined, so a lone consumer's
join takes milliseconds. The leader's answer lists every member with its metadata for the
selected protocol; followers get an empty list.

Version notes: v0 has no rebalance timeout (the session timeout serves as both, as Kafka);
v4+ from a dynamic member (no group.instance.id) gets MEMBER_ID_REQUIRED with a fresh member
id first and must rejoin with it (KIP-394); v5 adds group.instance.id (KIP-345 static
membership: a restarted static member rejoins without a rebalance, and an older instance
with the same id is answered FENCED_INSTANCE_ID); v6 is flexible; v7 answers the protocol
type. v8–9 (join reason, skip_assignment) are not served.
"""

from __future__ import annotations

from kio.schema.errors import ErrorCode

from engine.errors import EngineError
from engine.groups import JoinRequest, JoinResult, Protocol
from engine.groups.errors import MemberIdRequired
from kafka_wire.admin import response_classes
from kafka_wire.build import make
from kafka_wire.common import NO_THROTTLE
from kafka_wire.groups import client_host, group_error_code, millis
from kafka_wire.registry import ApiKey, handles


@handles(ApiKey.JOIN_GROUP, 0, 7)
def join_group(ctx, request):
    session_ms = millis(request.session_timeout)
    instance = getattr(request, "group_instance_id", None)
    join = JoinRequest(
        group_id=request.group_id,
        member_id=request.member_id,
        group_instance_id=instance,
        client_id=ctx.client_id or "",
        client_host=client_host(ctx),
        session_timeout_ms=session_ms,
        rebalance_timeout_ms=millis(request.rebalance_timeout) if ctx.api_version >= 1 else session_ms,
        protocol_type=request.protocol_type,
        protocols=tuple(Protocol(name=p.name, metadata=p.metadata) for p in request.protocols),
        require_known_member_id=ctx.api_version >= 4 and instance is None,
    )
    try:
        future = ctx.engine.groups.join_group(join)
    except MemberIdRequired as required:
        return _error(ctx, ErrorCode.member_id_required, required.member_id)
    except EngineError as exc:
        return _error(ctx, group_error_code(exc), request.member_id)
    return _answer_when_joined(ctx, future, request.member_id)


async def _answer_when_joined(ctx, future, member_id: str):
    try:
        result: JoinResult = await future
    except EngineError as exc:
        return _error(ctx, group_error_code(exc), member_id)
    schema = response_classes(ctx)
    return make(
        schema.JoinGroupResponse,
        throttle_time=NO_THROTTLE,
        error_code=ErrorCode.none,
        generation_id=result.generation_id,
        protocol_type=result.protocol_type,
        protocol_name=result.protocol_name or "",
        leader=result.leader_id,
        member_id=result.member_id,
        members=tuple(
            make(schema.JoinGroupResponseMember, member_id=m.member_id, group_instance_id=m.group_instance_id,
                 metadata=m.metadata)
            for m in result.members
        ),
    )


def _error(ctx, code: ErrorCode, member_id: str):
    schema = response_classes(ctx)
    return make(
        schema.JoinGroupResponse,
        throttle_time=NO_THROTTLE,
        error_code=code,
        generation_id=-1,
        protocol_type=None,
        # Nullable from v7 (Kafka answers null there); an empty string before.
        protocol_name=None if ctx.api_version >= 7 else "",
        leader="",
        member_id=member_id,
        members=(),
    )
