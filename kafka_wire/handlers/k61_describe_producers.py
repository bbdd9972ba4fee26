"""DescribeProducers (key 61), version 0: the producers each partition knows (KIP-664, for operators' tools).

Per partition, every producer id the partition's producer state holds (engine/log/
producer_state.py): its epoch, last sequence and last batch timestamp (-1 when it never
sent a sequenced batch, e.g. known only from a marker), the coordinator epoch of its last
marker (-1 if none), and the first offset of its open transaction there (-1 if none) —
what `kafka-transactions.sh describe-producers` shows to find a hanging transaction.
UNKNOWN_TOPIC_OR_PARTITION for an unknown topic or partition.
"""

from __future__ import annotations

from kio.schema.errors import ErrorCode

from kafka_wire.admin import response_classes
from kafka_wire.common import NO_THROTTLE
from kafka_wire.registry import ApiKey, handles


@handles(ApiKey.DESCRIBE_PRODUCERS, 0, 0)
def describe_producers(ctx, request):
    schema = response_classes(ctx)
    topics = []
    for topic_request in request.topics:
        topic = ctx.engine.topics.get(topic_request.name)
        partitions = []
        for index in topic_request.partition_indexes:
            if topic is None or not 0 <= index < len(topic.partitions):
                partitions.append(schema.PartitionResponse(
                    partition_index=index, error_code=ErrorCode.unknown_topic_or_partition,
                    error_message="This server does not host this topic-partition.", active_producers=()))
                continue
            state = topic.partitions[index].producers
            producers = tuple(
                schema.ProducerState(
                    producer_id=pid, producer_epoch=entry.epoch, last_sequence=entry.last_seq,
                    last_timestamp=entry.last_timestamp, coordinator_epoch=entry.coordinator_epoch,
                    current_txn_start_offset=state.ongoing.get(pid, -1))
                for pid, entry in sorted(state.producers.items())
            )
            partitions.append(schema.PartitionResponse(partition_index=index, error_code=ErrorCode.none,
                                                       error_message=None, active_producers=producers))
        topics.append(schema.TopicResponse(name=topic_request.name, partitions=tuple(partitions)))
    return schema.DescribeProducersResponse(throttle_time=NO_THROTTLE, topics=tuple(topics))
