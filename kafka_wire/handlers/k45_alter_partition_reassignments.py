"""AlterPartitionReassignments (key 45), versions 0–1: move partitions to other replicas (KIP-455).

With one broker the only valid target of a partition is [this node], where it already is,
so a valid reassignment completes at once and nothing is ever in progress. As Kafka's
controller (ReplicationControlManager.alterPartitionReassignment):
- unknown topic or partition: UNKNOWN_TOPIC_OR_PARTITION;
- replicas null (cancel): NO_REASSIGNMENT_IN_PROGRESS — there never is one;
- replicas that are empty, repeat a broker or name one that is not registered:
  INVALID_REPLICA_ASSIGNMENT with Kafka's messages (kafka_wire/admin.check_replicas);
- otherwise NONE. v1's allow_replication_factor_change (KIP-860) cannot matter: the only
  valid list has the partition's current replication factor, 1.
"""

from __future__ import annotations

from kio.schema.errors import ErrorCode

from kafka_wire.admin import AdminError, check_replicas, response_classes
from kafka_wire.common import NO_THROTTLE
from kafka_wire.registry import ApiKey, handles


def _reassign(ctx, topic_name: str, topic, index: int, replicas) -> tuple[ErrorCode, str | None]:
    if topic is None:
        return ErrorCode.unknown_topic_or_partition, f"Unable to find a topic named {topic_name}."
    if not 0 <= index < len(topic.partitions):
        return ErrorCode.unknown_topic_or_partition, f"Unable to find partition {topic_name}:{index}."
    if replicas is None:
        return ErrorCode.no_reassignment_in_progress, "No partition reassignment is in progress."
    try:
        check_replicas(replicas, ctx.settings.node_id)
    except AdminError as exc:
        return exc.code, exc.message
    return ErrorCode.none, None


@handles(ApiKey.ALTER_PARTITION_REASSIGNMENTS, 0, 1)
def alter_partition_reassignments(ctx, request):
    schema = response_classes(ctx)
    registry = ctx.engine.topics
    responses = []
    for requested in request.topics:
        topic = registry.get(requested.name)
        partitions = []
        for p in requested.partitions:
            code, message = _reassign(ctx, requested.name, topic, p.partition_index, p.replicas)
            partitions.append(schema.ReassignablePartitionResponse(
                partition_index=p.partition_index, error_code=code, error_message=message))
        responses.append(schema.ReassignableTopicResponse(name=requested.name, partitions=tuple(partitions)))
    return schema.AlterPartitionReassignmentsResponse(
        throttle_time=NO_THROTTLE, error_code=ErrorCode.none, error_message=None, responses=tuple(responses))
