"""DescribeGroups (key 15), versions 0–5.

Each group's state, protocol and members. As Kafka: a group that does not exist is
described as Dead with no error; member metadata and assignments (and the protocol name)
are shown only while the group is Stable.

Version notes: v1 adds throttle time; v3 authorized operations (KIP-430: with no authorizer,
the group operations READ, DELETE and DESCRIBE when asked, else INT32_MIN); v4 members'
group.instance.id; v5 is flexible. v6 (GROUP_ID_NOT_FOUND for unknown groups) is not served.
"""

from __future__ import annotations

from kio.schema.errors import ErrorCode

from kafka_wire.admin import response_classes
from kafka_wire.build import make
from kafka_wire.common import NO_THROTTLE
from kafka_wire.groups import GROUP_AUTHORIZED_OPERATIONS, NO_AUTHORIZED_OPERATIONS
from kafka_wire.registry import ApiKey, handles


@handles(ApiKey.DESCRIBE_GROUPS, 0, 5)
def describe_groups(ctx, request):
    schema = response_classes(ctx)
    operations = GROUP_AUTHORIZED_OPERATIONS if getattr(request, "include_authorized_operations", False) \
        else NO_AUTHORIZED_OPERATIONS
    described = []
    for group_id in request.groups:
        group = ctx.engine.groups.describe_group(group_id)
        described.append(make(
            schema.DescribedGroup,
            error_code=ErrorCode.none,
            group_id=group.group_id,
            group_state=group.state.value,
            protocol_type=group.protocol_type,
            protocol_data=group.protocol_name,
            members=tuple(
                make(
                    schema.DescribedGroupMember,
                    member_id=m.member_id,
                    group_instance_id=m.group_instance_id,
                    client_id=m.client_id,
                    client_host=m.client_host,
                    member_metadata=m.metadata,
                    member_assignment=m.assignment,
                )
                for m in group.members
            ),
            authorized_operations=operations,
        ))
    return make(schema.DescribeGroupsResponse, throttle_time=NO_THROTTLE, groups=tuple(described))
