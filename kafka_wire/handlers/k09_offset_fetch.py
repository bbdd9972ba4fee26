"""OffsetFetch (key 9), versions 1–8.

Answers a group's committed offsets: -1 (and metadata "") where nothing is committed or the
group does not exist, as Kafka; every committed partition when topics is null (v2+). With
require_stable (v7+, KIP-447) a partition with a pending transactional commit answers
UNSTABLE_OFFSET_COMMIT, so the consumer retries rather than start from an offset about to
change.

Version notes: v2 adds the top-level error and null topics = all; v5 the leader epoch
(KIP-320); v6 is flexible; v7 require_stable; v8 asks for several groups at once (KIP-709).
v0 is not served (Kafka 4 removed it, KIP-896; kio has no schema); v9+ (KIP-848 member
epochs) is not served.
"""

from __future__ import annotations

from kio.schema.errors import ErrorCode

from engine.errors import EngineError
from engine.types import TopicPartition
from kafka_wire.admin import response_classes
from kafka_wire.build import make
from kafka_wire.common import NO_THROTTLE
from kafka_wire.groups import group_error_code
from kafka_wire.registry import ApiKey, handles


@handles(ApiKey.OFFSET_FETCH, 1, 8)
def offset_fetch(ctx, request):
    schema = response_classes(ctx)
    require_stable = bool(getattr(request, "require_stable", False))
    if ctx.api_version >= 8:
        groups = tuple(
            schema.OffsetFetchResponseGroup(
                group_id=group.group_id,
                **_offsets(ctx, schema, group.group_id, group.topics, require_stable,
                           topic_type=schema.OffsetFetchResponseTopics,
                           partition_type=schema.OffsetFetchResponsePartitions),
            )
            for group in request.groups
        )
        return schema.OffsetFetchResponse(throttle_time=NO_THROTTLE, groups=groups)
    fields = _offsets(ctx, schema, request.group_id, request.topics, require_stable,
                      topic_type=schema.OffsetFetchResponseTopic, partition_type=schema.OffsetFetchResponsePartition)
    return make(schema.OffsetFetchResponse, throttle_time=NO_THROTTLE, **fields)


def _offsets(ctx, schema, group_id: str, topics, require_stable: bool, *, topic_type, partition_type) -> dict:
    wanted = None
    if topics is not None:
        wanted = [TopicPartition(topic=t.name, partition=p) for t in topics for p in t.partition_indexes]
    try:
        fetched = ctx.engine.groups.fetch_offsets(group_id, wanted, require_stable=require_stable)
    except EngineError as exc:
        return {"error_code": group_error_code(exc), "topics": ()}
    by_topic: dict[str, list] = {}
    for f in fetched:
        by_topic.setdefault(f.partition.topic, []).append(
            make(
                partition_type,
                partition_index=f.partition.partition,
                committed_offset=f.offset,
                committed_leader_epoch=f.leader_epoch,
                metadata=f.metadata,
                error_code=ErrorCode.unstable_offset_commit if f.unstable else ErrorCode.none,
            )
        )
    return {
        "error_code": ErrorCode.none,
        "topics": tuple(topic_type(name=name, partitions=tuple(parts)) for name, parts in by_topic.items()),
    }
