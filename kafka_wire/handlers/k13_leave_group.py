"""LeaveGroup (key 13), versions 0–5.

Removes members at once (no waiting for their session to expire) and rebalances the rest.
v3+ leaves several members in one request (KIP-345, used by admin tools to remove static
members), answering per member; v0–2 leave the one member and answer with its error.

Version notes: v3 batches members with group.instance.id; v4 is flexible; v5 adds a reason
(logged by Kafka; ignored here).
"""

from __future__ import annotations

from kio.schema.errors import ErrorCode

from engine.errors import EngineError
from engine.groups import LeavingMember
from kafka_wire.admin import response_classes
from kafka_wire.common import NO_THROTTLE
from kafka_wire.groups import group_error_code
from kafka_wire.registry import ApiKey, handles


@handles(ApiKey.LEAVE_GROUP, 0, 5)
def leave_group(ctx, request):
    schema = response_classes(ctx)
    batched = ctx.api_version >= 3
    if batched:
        leaving = tuple(LeavingMember(member_id=m.member_id, group_instance_id=m.group_instance_id) for m in request.members)
    else:
        leaving = (LeavingMember(member_id=request.member_id),)
    try:
        outcomes = ctx.engine.groups.leave_group(request.group_id, leaving)
    except EngineError as exc:
        return _response(ctx, schema, group_error_code(exc), ())
    codes = [ErrorCode.none if o.error is None else group_error_code(o.error) for o in outcomes]
    if not batched:
        # Kafka's LeaveGroupResponse below v3: the first member error is the error.
        return _response(ctx, schema, next((c for c in codes if c != ErrorCode.none), ErrorCode.none), ())
    members = tuple(
        schema.MemberResponse(member_id=o.member_id, group_instance_id=o.group_instance_id, error_code=code)
        for o, code in zip(outcomes, codes)
    )
    return _response(ctx, schema, ErrorCode.none, members)


def _response(ctx, schema, code: ErrorCode, members: tuple):
    fields: dict = {"error_code": code}
    if ctx.api_version >= 1:
        fields["throttle_time"] = NO_THROTTLE
    if ctx.api_version >= 3:
        fields["members"] = members
    return schema.LeaveGroupResponse(**fields)
