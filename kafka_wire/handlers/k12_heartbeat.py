"""Heartbeat (key 12), versions 0–4.

Keeps a member's session alive. REBALANCE_IN_PROGRESS while the group is PreparingRebalance
is how a member learns it must rejoin (the classic protocol has no other push); a member
of another generation gets ILLEGAL_GENERATION, an unknown one UNKNOWN_MEMBER_ID, a fenced
static instance FENCED_INSTANCE_ID. CompletingRebalance answers NONE (KAFKA-9752).

Version notes: v3 adds group.instance.id (KIP-345); v4 is flexible.
"""

from __future__ import annotations

from kio.schema.errors import ErrorCode

from engine.errors import EngineError
from kafka_wire.admin import response_classes
from kafka_wire.build import make
from kafka_wire.common import NO_THROTTLE
from kafka_wire.groups import group_error_code
from kafka_wire.registry import ApiKey, handles


@handles(ApiKey.HEARTBEAT, 0, 4)
def heartbeat(ctx, request):
    try:
        ctx.engine.groups.heartbeat(
            request.group_id,
            member_id=request.member_id,
            group_instance_id=getattr(request, "group_instance_id", None),
            generation_id=request.generation_id,
        )
        code = ErrorCode.none
    except EngineError as exc:
        code = group_error_code(exc)
    return make(response_classes(ctx).HeartbeatResponse, throttle_time=NO_THROTTLE, error_code=code)
