"""DescribeTopicPartitions (key 75), version 0: topics and their partitions, paged (KIP-966).

What Kafka 3.8+ brokers answer (DescribeTopicPartitionsRequestHandler and
KRaftMetadataCache.describeTopicResponse), for this one-broker cluster:
- no topics named means every topic; the answer lists topics sorted by name;
- a cursor (topic, partition) starts the page there: earlier topics are skipped, the
  cursor's topic starts at its partition. A cursor naming a topic that is not in the
  requested list is INVALID_REQUEST for every requested topic;
- response_partition_limit caps the partitions in one answer (Kafka also caps it at
  max.request.partition.size.limit, 2000). When a topic does not fit, next_cursor
  points at its first partition left out; when the budget runs out exactly at a topic's
  end and more topics follow, next_cursor points at the next topic's partition 0;
- a named topic that does not exist is UNKNOWN_TOPIC_OR_PARTITION with no partitions
  (never auto-created) and uses no budget;
- each partition is led by this node at leader epoch 0, replicas = ISR = [node], empty
  eligible-leader lists (KIP-966 ELR is off);
- topic_authorized_operations is always filled; with no authorizer, everything.
"""

from __future__ import annotations

from kio.schema.errors import ErrorCode

from kafka_wire.admin import response_classes
from kafka_wire.common import NO_THROTTLE
from kafka_wire.handlers.k03_metadata import TOPIC_OPERATIONS
from kafka_wire.registry import ApiKey, handles

# Kafka's max.request.partition.size.limit default.
MAX_PARTITIONS_PER_RESPONSE = 2000


@handles(ApiKey.DESCRIBE_TOPIC_PARTITIONS, 0, 0)
def describe_topic_partitions(ctx, request):
    schema = response_classes(ctx)
    registry = ctx.engine.topics
    node = ctx.settings.node_id
    names = sorted({t.name for t in request.topics}) if request.topics else sorted(registry.names())
    cursor = request.cursor

    def unknown(name, code):
        return schema.DescribeTopicPartitionsResponseTopic(
            error_code=code, name=name, topic_id=None, is_internal=False, partitions=(),
            topic_authorized_operations=TOPIC_OPERATIONS)

    if cursor is not None and request.topics and cursor.topic_name not in names:
        return schema.DescribeTopicPartitionsResponse(
            throttle_time=NO_THROTTLE, topics=tuple(unknown(n, ErrorCode.invalid_request) for n in names),
            next_cursor=None)
    start_partition = 0
    if cursor is not None:
        names = [n for n in names if n >= cursor.topic_name]
        start_partition = max(cursor.partition_index, 0)
    budget = min(max(request.response_partition_limit, 0), MAX_PARTITIONS_PER_RESPONSE)
    answers = []
    next_cursor = None
    for name in names:
        topic = registry.get(name)
        if topic is None:
            answers.append(unknown(name, ErrorCode.unknown_topic_or_partition))
            continue
        first = start_partition if cursor is not None and name == cursor.topic_name else 0
        if budget == 0:
            next_cursor = schema.Cursor(topic_name=name, partition_index=first)
            break
        logs = topic.partitions[first:first + budget]
        budget -= len(logs)
        answers.append(schema.DescribeTopicPartitionsResponseTopic(
            error_code=ErrorCode.none, name=name, topic_id=topic.topic_id, is_internal=False,
            partitions=tuple(
                schema.DescribeTopicPartitionsResponsePartition(
                    error_code=ErrorCode.none, partition_index=log.tp.partition, leader_id=node, leader_epoch=0,
                    replica_nodes=(node,), isr_nodes=(node,), eligible_leader_replicas=(), last_known_elr=(),
                    offline_replicas=())
                for log in logs),
            topic_authorized_operations=TOPIC_OPERATIONS))
        if first + len(logs) < len(topic.partitions):
            next_cursor = schema.Cursor(topic_name=name, partition_index=first + len(logs))
            break
    return schema.DescribeTopicPartitionsResponse(throttle_time=NO_THROTTLE, topics=tuple(answers),
                                                  next_cursor=next_cursor)
