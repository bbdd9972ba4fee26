"""OffsetDelete (key 47), version 0 (KIP-496).

Deletes a group's committed offsets for some partitions. Allowed for an Empty group; for a
live `consumer` group only for topics none of its members subscribes to (the others answer
GROUP_SUBSCRIBED_TO_TOPIC); a live group of another protocol answers NON_EMPTY_GROUP and an
unknown group GROUP_ID_NOT_FOUND, at the top level. A partition of an unknown topic answers
UNKNOWN_TOPIC_OR_PARTITION, as Kafka checks the metadata first.
"""

from __future__ import annotations

from kio.schema.errors import ErrorCode

from engine.errors import EngineError, NotFound
from engine.types import TopicPartition
from kafka_wire.admin import response_classes
from kafka_wire.common import NO_THROTTLE
from kafka_wire.groups import group_error_code, subscribed_topics
from kafka_wire.registry import ApiKey, handles


@handles(ApiKey.OFFSET_DELETE, 0, 0)
def offset_delete(ctx, request):
    schema = response_classes(ctx)
    topics = ctx.engine.topics
    outcome: dict[TopicPartition, Exception | None] = {}
    known = []
    for topic in request.topics:
        found = topics.get(topic.name)
        for p in topic.partitions:
            tp = TopicPartition(topic=topic.name, partition=p.partition_index)
            if found is None or not 0 <= p.partition_index < len(found.partitions):
                outcome[tp] = NotFound(f"unknown topic or partition {tp}")
            else:
                known.append(tp)
    try:
        outcome.update(ctx.engine.groups.delete_offsets(request.group_id, known, subscribed_topics=subscribed_topics))
    except EngineError as exc:
        return schema.OffsetDeleteResponse(error_code=group_error_code(exc), throttle_time=NO_THROTTLE, topics=())
    return schema.OffsetDeleteResponse(
        error_code=ErrorCode.none,
        throttle_time=NO_THROTTLE,
        topics=tuple(
            schema.OffsetDeleteResponseTopic(
                name=topic.name,
                partitions=tuple(
                    schema.OffsetDeleteResponsePartition(
                        partition_index=p.partition_index,
                        error_code=_code(outcome.get(TopicPartition(topic=topic.name, partition=p.partition_index))),
                    )
                    for p in topic.partitions
                ),
            )
            for topic in request.topics
        ),
    )


def _code(error: Exception | None) -> ErrorCode:
    return ErrorCode.none if error is None else group_error_code(error)
