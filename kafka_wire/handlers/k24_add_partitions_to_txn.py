"""AddPartitionsToTxn (key 24), versions 0–3: a producer names the partitions its transaction will write.

As Kafka's KafkaApis.handleAddPartitionsToTxnRequest and TransactionCoordinator:
- Partitions of unknown topics (or beyond a topic's count) get UNKNOWN_TOPIC_OR_PARTITION
  and the others OPERATION_NOT_ATTEMPTED; the coordinator is then not asked at all.
- Otherwise the coordinator's one answer goes to every partition: NONE (the transaction
  is Ongoing and holds them; an Empty or completed one begins here, starting its
  transaction.timeout.ms), INVALID_PRODUCER_ID_MAPPING (unknown transactional id or
  another producer id), PRODUCER_FENCED (an older epoch), CONCURRENT_TRANSACTIONS (the
  previous transaction is still completing), NOT_COORDINATOR (its state could not be
  written), INVALID_REQUEST (an empty transactional id).
- A transactional Produce to a partition is accepted only once it was added here
  (k00_produce.py).

Version notes: v1 = v0; v2 PRODUCER_FENCED (KIP-588; v0–1 answer INVALID_PRODUCER_EPOCH);
v3 flexible. v4+ (KIP-890: batches of transactions, verify_only) is broker-to-broker and
not served.
"""

from __future__ import annotations

from kio.schema.errors import ErrorCode

from engine.errors import EngineError
from engine.types import TopicPartition
from kafka_wire.admin import response_classes
from kafka_wire.common import NO_THROTTLE
from kafka_wire.registry import ApiKey, handles
from kafka_wire.txn import txn_error_code


@handles(ApiKey.ADD_PARTITIONS_TO_TXN, 0, 3)
def add_partitions_to_txn(ctx, request):
    schema = response_classes(ctx)
    topics = ctx.engine.topics
    requested: list[tuple[str, list[int]]] = [(t.name, list(t.partitions)) for t in request.v3_and_below_topics]
    errors: dict[tuple[str, int], ErrorCode] = {}
    for name, indexes in requested:
        topic = topics.get(name)
        for index in indexes:
            if topic is None or not 0 <= index < len(topic.partitions):
                errors[(name, index)] = ErrorCode.unknown_topic_or_partition
    if errors:
        common = ErrorCode.operation_not_attempted
    else:
        try:
            ctx.engine.txn.add_partitions(
                request.v3_and_below_transactional_id,
                producer_id=request.v3_and_below_producer_id,
                producer_epoch=request.v3_and_below_producer_epoch,
                partitions=[TopicPartition(topic=name, partition=i) for name, indexes in requested for i in indexes],
            )
            common = ErrorCode.none
        except EngineError as exc:
            common = txn_error_code(exc, producer_fenced_supported=ctx.api_version >= 2)
    results = tuple(
        schema.AddPartitionsToTxnTopicResult(name=name, results_by_partition=tuple(
            schema.AddPartitionsToTxnPartitionResult(partition_index=i, partition_error_code=errors.get((name, i), common))
            for i in indexes))
        for name, indexes in requested
    )
    return schema.AddPartitionsToTxnResponse(throttle_time=NO_THROTTLE, results_by_topic_v3_and_below=results)
