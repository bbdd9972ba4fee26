"""SyncGroup (key 14), versions 0–5.

The leader sends every member's assignment; each member's SyncGroup is answered with its
own once the leader's has arrived (engine/groups/membership.py). Assignments are passed
through as the leader wrote them, except that a member of a `consumer` group that was given
nothing receives a valid empty ConsumerMemberAssignment instead of zero bytes
(kafka_wire/groups.py explains why).

Version notes: v3 adds group.instance.id (KIP-345); v4 is flexible; v5 carries the protocol
type and name both ways (KIP-559): checked against the group's when sent
(INCONSISTENT_GROUP_PROTOCOL) and echoed in the answer.
"""

from __future__ import annotations

from kio.schema.errors import ErrorCode

from engine.errors import EngineError
from engine.groups import SyncRequest, SyncResult
from kafka_wire.admin import response_classes
from kafka_wire.build import make
from kafka_wire.common import NO_THROTTLE
from kafka_wire.groups import group_error_code, member_assignment
from kafka_wire.registry import ApiKey, handles


@handles(ApiKey.SYNC_GROUP, 0, 5)
def sync_group(ctx, request):
    sync = SyncRequest(
        group_id=request.group_id,
        generation_id=request.generation_id,
        member_id=request.member_id,
        group_instance_id=getattr(request, "group_instance_id", None),
        protocol_type=getattr(request, "protocol_type", None),
        protocol_name=getattr(request, "protocol_name", None),
        assignments=tuple((a.member_id, a.assignment) for a in request.assignments),
    )
    try:
        future = ctx.engine.groups.sync_group(sync)
    except EngineError as exc:
        return _response(ctx, group_error_code(exc))
    return _answer_when_assigned(ctx, future)


async def _answer_when_assigned(ctx, future):
    try:
        result: SyncResult = await future
    except EngineError as exc:
        return _response(ctx, group_error_code(exc))
    return _response(
        ctx,
        ErrorCode.none,
        protocol_type=result.protocol_type,
        protocol_name=result.protocol_name,
        assignment=member_assignment(result.protocol_type, result.assignment),
    )


def _response(ctx, code: ErrorCode, *, protocol_type=None, protocol_name=None, assignment: bytes = b""):
    return make(
        response_classes(ctx).SyncGroupResponse,
        throttle_time=NO_THROTTLE,
        error_code=code,
        protocol_type=protocol_type,
        protocol_name=protocol_name,
        assignment=assignment,
    )
