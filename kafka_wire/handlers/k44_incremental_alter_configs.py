"""IncrementalAlterConfigs (key 44), versions 0–1.

KIP-339: changes a TOPIC resource's overrides key by key — SET, DELETE (back to the
default), APPEND and SUBTRACT (LIST keys only, starting from the current value or the
default, as Kafka's KRaft controller does) — and validates the resulting set with
engine/topic_config.py: INVALID_CONFIG for an unknown key, a null value to SET, APPEND or
SUBTRACT on a non-list key, or a value the log would not honour. An unknown operation is
INVALID_REQUEST, as is a key given twice in one resource or a resource named twice.
`validate_only` checks and changes nothing. Unknown topics are UNKNOWN_TOPIC_OR_PARTITION.

BROKER resources (this node's id, or "" for cluster defaults): nothing is set dynamically,
so DELETE is a no-op and any other operation is INVALID_CONFIG ("Cannot update these configs
dynamically"). Other resource types are INVALID_REQUEST.

Version notes: v1 is flexible.
"""

from __future__ import annotations

from collections import Counter

from kio.schema.errors import ErrorCode

from engine.topic_config import AlterConfig, AlterOp, apply_incremental, check_broker_alter
from kafka_wire.admin import (AdminError, ResourceType, alter_config_resources, check_broker_name,
                              response_classes)
from kafka_wire.common import NO_THROTTLE
from kafka_wire.registry import ApiKey, handles


@handles(ApiKey.INCREMENTAL_ALTER_CONFIGS, 0, 1)
def incremental_alter_configs(ctx, request):
    responses = alter_config_resources(ctx, request, _alter)
    return response_classes(ctx).IncrementalAlterConfigsResponse(throttle_time=NO_THROTTLE, responses=responses)


def _changes(resource) -> list[AlterConfig]:
    names = Counter(c.name for c in resource.configs)
    if any(count > 1 for count in names.values()):
        raise AdminError(ErrorCode.invalid_request, "Error due to duplicate config keys")
    changes = []
    for config in resource.configs:
        try:
            op = AlterOp(config.config_operation)
        except ValueError:
            raise AdminError(ErrorCode.invalid_request,
                             f"Unknown alter config operation {config.config_operation} for {config.name}") from None
        changes.append(AlterConfig(name=config.name, op=op, value=config.value))
    return changes


def _alter(ctx, resource, *, validate_only: bool) -> None:
    changes = _changes(resource)
    if resource.resource_type == ResourceType.TOPIC:
        topics = ctx.engine.topics
        topic = topics.get(resource.resource_name)
        if topic is None:
            raise AdminError(ErrorCode.unknown_topic_or_partition,
                             f"The topic '{resource.resource_name}' does not exist.")
        overrides = apply_incremental(topic.overrides, changes)
        if not validate_only:
            topics.set_configs(resource.resource_name, overrides)
        return
    if resource.resource_type == ResourceType.BROKER:
        check_broker_name(ctx, resource.resource_name)
        check_broker_alter(c.name for c in changes if c.op is not AlterOp.DELETE)
        return
    raise AdminError(ErrorCode.invalid_request, f"Unsupported resource type: {resource.resource_type}")
