"""CreatePartitions (key 37), versions 0–3.

Raises a topic's partition count to `count`; new partitions start empty. Per topic:
UNKNOWN_TOPIC_OR_PARTITION for an unknown topic, INVALID_PARTITIONS when the count does not
grow (Kafka's messages for "already has" and "higher than"), INVALID_REPLICA_ASSIGNMENT when
manual assignments are given but are not one list per new partition holding exactly this
node, INVALID_REQUEST for a topic named twice in one request. `validate_only` checks and
changes nothing. The timeout is ignored: the partitions exist when the answer is sent.

Version notes: v1 is v0 with the throttle behaviour of KIP-219, v2 is flexible, v3 adds
nothing on the wire (KIP-599 quota errors, which we never raise).
"""

from __future__ import annotations

from collections import Counter

from kio.schema.errors import ErrorCode

from engine.topics import InvalidPartitions
from kafka_wire.admin import AdminError, check_replicas, error_of, response_classes
from kafka_wire.common import NO_THROTTLE
from kafka_wire.registry import ApiKey, handles


@handles(ApiKey.CREATE_PARTITIONS, 0, 3)
def create_partitions(ctx, request):
    schema = response_classes(ctx)
    counts = Counter(topic.name for topic in request.topics)
    results = []
    for topic in request.topics:
        try:
            if counts[topic.name] > 1:
                raise AdminError(ErrorCode.invalid_request, "Duplicate topic in request.")
            _grow(ctx, topic, validate_only=request.validate_only)
        except Exception as exc:
            code, message = error_of(exc, {InvalidPartitions: ErrorCode.invalid_partitions})
            results.append(schema.CreatePartitionsTopicResult(name=topic.name, error_code=code, error_message=message))
        else:
            results.append(schema.CreatePartitionsTopicResult(name=topic.name, error_code=ErrorCode.none,
                                                              error_message=None))
    return schema.CreatePartitionsResponse(throttle_time=NO_THROTTLE, results=tuple(results))


def _grow(ctx, topic, *, validate_only: bool) -> None:
    existing = ctx.engine.topics.get(topic.name)
    if existing is None:
        raise AdminError(ErrorCode.unknown_topic_or_partition, f"The topic '{topic.name}' does not exist.")
    current = len(existing.partitions)
    if topic.count == current:
        raise AdminError(ErrorCode.invalid_partitions, f"Topic already has {current} partitions.")
    if topic.count < current:
        raise AdminError(ErrorCode.invalid_partitions,
                         f"Topic currently has {current} partitions, which is higher than the requested "
                         f"{topic.count}.")
    if topic.assignments is not None:
        added = topic.count - current
        if len(topic.assignments) != added:
            raise AdminError(ErrorCode.invalid_replica_assignment,
                             f"Attempted to add {added} additional partition(s), but only "
                             f"{len(topic.assignments)} assignment(s) were specified.")
        for assignment in topic.assignments:
            check_replicas(assignment.broker_ids, ctx.settings.node_id)
    ctx.engine.topics.create_partitions(topic.name, total=topic.count, validate_only=validate_only)
