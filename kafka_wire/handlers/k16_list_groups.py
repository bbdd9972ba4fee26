"""ListGroups (key 16), versions 0–4.

Every group this node coordinates — consumer groups and the group-less ("simple") groups
created by generation -1 commits, whose protocol type is "" — except Dead ones.

Version notes: v3 is flexible; v4 (KIP-518) filters by state names, case-insensitively, and
answers each group's state. v5 (KIP-848 group types) is not served.
"""

from __future__ import annotations

from kio.schema.errors import ErrorCode

from engine.groups import GroupState
from kafka_wire.admin import response_classes
from kafka_wire.build import make
from kafka_wire.common import NO_THROTTLE
from kafka_wire.registry import ApiKey, handles


@handles(ApiKey.LIST_GROUPS, 0, 4)
def list_groups(ctx, request):
    schema = response_classes(ctx)
    names = getattr(request, "states_filter", ())
    groups = ctx.engine.groups.list_groups()
    if names:
        wanted = {GroupState.parse(name) for name in names}
        groups = tuple(g for g in groups if g.state in wanted)
    return make(
        schema.ListGroupsResponse,
        throttle_time=NO_THROTTLE,
        error_code=ErrorCode.none,
        groups=tuple(
            make(schema.ListedGroup, group_id=g.group_id, protocol_type=g.protocol_type, group_state=g.state.value)
            for g in groups
        ),
    )
