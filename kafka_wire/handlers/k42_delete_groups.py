"""DeleteGroups (key 42), versions 0–2.

Deletes Empty groups together with their committed offsets (KIP-229): NON_EMPTY_GROUP for
a group with members, GROUP_ID_NOT_FOUND for one that does not exist. The deletion is
journaled, so it survives a restart.

Version notes: v2 is flexible.
"""

from __future__ import annotations

from kio.schema.errors import ErrorCode

from kafka_wire.admin import response_classes
from kafka_wire.common import NO_THROTTLE
from kafka_wire.groups import group_error_code
from kafka_wire.registry import ApiKey, handles


@handles(ApiKey.DELETE_GROUPS, 0, 2)
def delete_groups(ctx, request):
    schema = response_classes(ctx)
    outcome = ctx.engine.groups.delete_groups(request.groups_names)
    return schema.DeleteGroupsResponse(
        throttle_time=NO_THROTTLE,
        results=tuple(
            schema.DeletableGroupResult(
                group_id=group_id,
                error_code=ErrorCode.none if outcome[group_id] is None else group_error_code(outcome[group_id]),
            )
            for group_id in dict.fromkeys(request.groups_names)
        ),
    )
