"""ListOffsets (key 2), versions 1–9: offsets by timestamp, earliest, latest, max timestamp.

Per partition, by the requested timestamp (Kafka's special values, KIP-734 for -3):
- -2 (earliest): the log start offset;
- -1 (latest): the high watermark, or the last stable offset for read_committed
  (isolation_level 1, v2+): below the first open transaction;
- -3 (max timestamp, v7): the offset and timestamp of the record with the largest
  timestamp; -1/-1 on an empty log;
- -4 (earliest local, v8, KIP-405): the log start offset — with no tiered storage the
  local log starts where the log does, as Kafka's UnifiedLog answers;
- -5 (latest tiered, v9, KIP-1005): offset -1 and leader epoch -1 — nothing is ever
  tiered, which is what Kafka answers for a topic without remote storage;
- otherwise: the first record whose timestamp is >= the target, with that record's
  timestamp, or offset -1 / timestamp -1 when every record is older (as Kafka).
For read_committed a timestamp lookup (and -3) only finds offsets below the last stable
offset, as Kafka's Partition.fetchOffsetForTimestamp. The answer for -1 and -2 carries
timestamp -1. leader_epoch (v4+) is 0, the one epoch.
UNKNOWN_TOPIC_OR_PARTITION for unknown topics or partitions. Other negative timestamps
are plain lookups (they find the first record).

Version notes: v0 (old-style offsets arrays) is not served — kio, like Kafka 4.0
(KIP-896), has no v0 schema, and none of our four clients needs it (aiokafka,
librdkafka and kafkajs pick the highest common version). v2 isolation_level; v4
current_leader_epoch (ignored) and leader_epoch; v6 flexible; v7 MAX_TIMESTAMP;
v8 EARLIEST_LOCAL; v9 LATEST_TIERED (Kafka 3.9's newest).
v10 (KIP-1075, Kafka 4.0) is deliberately not served although it only adds timeout_ms:
kafka-python infers the broker's release from it (ListOffsets v10 means 4.0), and a
client pinned to an older api_version, e.g. (3, 9), then trusts its own table for that
release instead of ours and sends what 3.9 serves (Fetch v17, FindCoordinator v6, ...),
which we do not, and its connections are closed. Advertise v10 only once every API is at
Kafka 4.0's versions.
"""

from __future__ import annotations

from kio.schema.errors import ErrorCode

from kafka_wire.build import make, schema
from kafka_wire.common import NO_THROTTLE
from kafka_wire.registry import REGISTRY, ApiKey, handles

LATEST = -1
EARLIEST = -2
MAX_TIMESTAMP = -3
EARLIEST_LOCAL = -4
LATEST_TIERED = -5
READ_COMMITTED = 1


def _lookup(ctx, request, topic, partition_request) -> dict:
    index = partition_request.partition_index
    if topic is None or not 0 <= index < len(topic.partitions):
        return {"error_code": ErrorCode.unknown_topic_or_partition}
    log = topic.partitions[index]
    timestamp = partition_request.timestamp
    committed = getattr(request, "isolation_level", 0) == READ_COMMITTED
    if timestamp == LATEST:
        return {"offset": log.last_stable_offset if committed else log.high_watermark, "timestamp": -1}
    if timestamp == EARLIEST or (timestamp == EARLIEST_LOCAL and ctx.api_version >= 8):
        return {"offset": log.log_start_offset, "timestamp": -1}
    if timestamp == LATEST_TIERED and ctx.api_version >= 9:
        return {"offset": -1, "timestamp": -1, "leader_epoch": -1}
    if timestamp == MAX_TIMESTAMP and ctx.api_version >= 7:
        found = log.max_timestamp_offset()
    else:
        found = log.offset_for_timestamp(timestamp)
    if found is None or (committed and found.offset >= log.last_stable_offset):
        return {"offset": -1, "timestamp": -1}
    return {"offset": found.offset, "timestamp": found.timestamp}


@handles(ApiKey.LIST_OFFSETS, 1, 9)
def list_offsets(ctx, request):
    response_type = REGISTRY[ApiKey.LIST_OFFSETS].response_types[ctx.api_version]
    types = schema(response_type)
    topics = []
    for topic_request in request.topics:
        topic = ctx.engine.topics.get(topic_request.name)
        partitions = []
        for partition_request in topic_request.partitions:
            values = {"error_code": ErrorCode.none, "offset": -1, "timestamp": -1, "leader_epoch": 0}
            values.update(_lookup(ctx, request, topic, partition_request))
            if values["error_code"] != ErrorCode.none:
                values["leader_epoch"] = -1
            partitions.append(make(types.ListOffsetsPartitionResponse,
                                   partition_index=partition_request.partition_index, **values))
        topics.append(types.ListOffsetsTopicResponse(name=topic_request.name, partitions=tuple(partitions)))
    return make(response_type, throttle_time=NO_THROTTLE, topics=tuple(topics))
