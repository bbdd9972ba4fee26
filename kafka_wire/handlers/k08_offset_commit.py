"""OffsetCommit (key 8), versions 2–8.

Stores a group's positions, answering per partition (engine/groups/committing.py has the
rules): UNKNOWN_TOPIC_OR_PARTITION and OFFSET_METADATA_TOO_LARGE for that partition alone;
otherwise the group checks — generation -1 for group-less commits, UNKNOWN_MEMBER_ID,
ILLEGAL_GENERATION, REBALANCE_IN_PROGRESS while CompletingRebalance, FENCED_INSTANCE_ID —
apply to every partition of the request. Metadata strings round-trip (null is stored as "",
as Kafka). A commit is journaled before it is answered.

Version notes: v2–4 carry a retention time (-1 = the broker's offsets.retention.minutes;
otherwise that commit expires on its own clock, pre-KIP-211); v6 adds the leader epoch
(KIP-320); v7 group.instance.id (KIP-345); v8 is flexible. v0–1 are not served (Kafka 4
removed them, KIP-896; kio has no schema); v9+ (KIP-848 member epochs) is not served.
"""

from __future__ import annotations

from datetime import timedelta

from kio.schema.errors import ErrorCode

from engine.groups import OffsetCommitEntry
from engine.types import TopicPartition
from kafka_wire.admin import response_classes
from kafka_wire.build import make
from kafka_wire.common import NO_THROTTLE
from kafka_wire.groups import group_error_code, millis
from kafka_wire.registry import ApiKey, handles


@handles(ApiKey.OFFSET_COMMIT, 2, 8)
def offset_commit(ctx, request):
    schema = response_classes(ctx)
    entries = [
        OffsetCommitEntry(
            partition=TopicPartition(topic=topic.name, partition=p.partition_index),
            offset=p.committed_offset,
            leader_epoch=getattr(p, "committed_leader_epoch", -1),
            metadata=p.committed_metadata,
        )
        for topic in request.topics
        for p in topic.partitions
    ]
    retention = getattr(request, "retention_time", None)
    outcome = ctx.engine.groups.commit_offsets(
        request.group_id,
        member_id=request.member_id,
        generation_id=request.generation_id_or_member_epoch,
        group_instance_id=getattr(request, "group_instance_id", None),
        offsets=entries,
        retention_ms=-1 if retention is None or retention < timedelta(0) else millis(retention),
    )
    topics = []
    for topic in request.topics:
        partitions = []
        for p in topic.partitions:
            error = outcome.get(TopicPartition(topic=topic.name, partition=p.partition_index))
            code = ErrorCode.none if error is None else group_error_code(error)
            partitions.append(schema.OffsetCommitResponsePartition(partition_index=p.partition_index, error_code=code))
        topics.append(schema.OffsetCommitResponseTopic(name=topic.name, partitions=tuple(partitions)))
    return make(schema.OffsetCommitResponse, throttle_time=NO_THROTTLE, topics=tuple(topics))
