"""AlterConfigs (key 33), versions 0–2.

The legacy, non-incremental alter: a TOPIC resource's override set is *replaced* by the
configs given (a key left out returns to its default; a null value counts as left out),
after validation by engine/topic_config.py — INVALID_CONFIG for an unknown key or a value
the log would not honour (compaction, or a non-default value of a key we do not implement).
`validate_only` checks and changes nothing.

BROKER resources (this node's id, or "" for cluster defaults) accept an empty set only: no
broker config can change at run time, so anything else is INVALID_CONFIG ("Cannot update
these configs dynamically"), as Kafka answers for a static key. Other resource types are
INVALID_REQUEST. A resource named twice, or a key given twice in one resource, is
INVALID_REQUEST (Kafka's ConfigAdminManager). Unknown topics are UNKNOWN_TOPIC_OR_PARTITION.

Version notes: v1 is v0 (KIP-219 throttling), v2 is flexible.
"""

from __future__ import annotations

from collections import Counter

from kio.schema.errors import ErrorCode

from engine.topic_config import check_broker_alter, validate
from kafka_wire.admin import (AdminError, ResourceType, alter_config_resources, check_broker_name,
                              response_classes)
from kafka_wire.common import NO_THROTTLE
from kafka_wire.registry import ApiKey, handles


@handles(ApiKey.ALTER_CONFIGS, 0, 2)
def alter_configs(ctx, request):
    responses = alter_config_resources(ctx, request, _alter)
    return response_classes(ctx).AlterConfigsResponse(throttle_time=NO_THROTTLE, responses=responses)


def _alter(ctx, resource, *, validate_only: bool) -> None:
    names = Counter(c.name for c in resource.configs)
    if any(count > 1 for count in names.values()):
        raise AdminError(ErrorCode.invalid_request, "Error due to duplicate config keys")
    if resource.resource_type == ResourceType.TOPIC:
        topics = ctx.engine.topics
        if topics.get(resource.resource_name) is None:
            raise AdminError(ErrorCode.unknown_topic_or_partition,
                             f"The topic '{resource.resource_name}' does not exist.")
        overrides = {c.name: c.value for c in resource.configs if c.value is not None}
        validate(overrides)
        if not validate_only:
            topics.set_configs(resource.resource_name, overrides)
        return
    if resource.resource_type == ResourceType.BROKER:
        check_broker_name(ctx, resource.resource_name)
        check_broker_alter(names)
        return
    raise AdminError(ErrorCode.invalid_request, f"Unsupported resource type: {resource.resource_type}")
