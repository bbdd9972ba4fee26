"""DeleteRecords (key 21), versions 0–2.

Moves each partition's log start offset (low watermark) up to the given offset; records
below it are no longer served, and whole segments below it are removed. Offset -1 means the
high watermark (delete everything, KIP-107). Per partition: the new low watermark, or
OFFSET_OUT_OF_RANGE for an offset above the high watermark (or below -1), or
UNKNOWN_TOPIC_OR_PARTITION; a failed partition reports low watermark -1, as Kafka does.
An offset at or below the current low watermark changes nothing and reports it.

Version notes: v1 is v0 (KIP-219 throttling), v2 is flexible. The timeout is ignored: the
log start offset has moved when the answer is sent (one replica).
"""

from __future__ import annotations

from kio.schema.errors import ErrorCode

from engine.types import TopicPartition
from kafka_wire.admin import error_of, response_classes
from kafka_wire.common import NO_THROTTLE
from kafka_wire.registry import ApiKey, handles

_INVALID_LOW_WATERMARK = -1


@handles(ApiKey.DELETE_RECORDS, 0, 2)
def delete_records(ctx, request):
    schema = response_classes(ctx)
    topics = []
    for topic in request.topics:
        partitions = []
        for partition in topic.partitions:
            try:
                log = ctx.engine.topics.partition(TopicPartition(topic=topic.name, partition=partition.partition_index))
                low_watermark = log.delete_records(partition.offset)
            except Exception as exc:
                code, _ = error_of(exc)
                partitions.append(schema.DeleteRecordsPartitionResult(
                    partition_index=partition.partition_index, low_watermark=_INVALID_LOW_WATERMARK, error_code=code))
            else:
                partitions.append(schema.DeleteRecordsPartitionResult(
                    partition_index=partition.partition_index, low_watermark=low_watermark,
                    error_code=ErrorCode.none))
        topics.append(schema.DeleteRecordsTopicResult(name=topic.name, partitions=tuple(partitions)))
    return schema.DeleteRecordsResponse(throttle_time=NO_THROTTLE, topics=tuple(topics))
