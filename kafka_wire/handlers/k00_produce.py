"""Produce (key 0), versions 3–11: append each partition's record batches to its log.

Behaviour, as Kafka's KafkaApis.handleProduceRequest and ReplicaManager.appendRecords:
- `acks` must be -1, 0 or 1 (else INVALID_REQUIRED_ACKS for every partition). With
  acks=0 the records are appended and no response is sent at all. There is one replica,
  so acks=1 and acks=-1 ("all") are acknowledged alike, once the batch is in the log
  (and on disk in the page cache: it survives kill -9 of the broker).
- Batches are validated (framing, CRC-32C, magic 2 only, record count) and stored
  verbatim with only their base offset and leader epoch rewritten; compression is passed
  through untouched (engine/log/batch.py).
- Per-partition errors: UNKNOWN_TOPIC_OR_PARTITION (produce never auto-creates topics;
  Kafka creates them only through Metadata), INVALID_TOPIC_EXCEPTION for an illegal
  name, CORRUPT_MESSAGE, MESSAGE_TOO_LARGE (a batch above the topic's
  max.message.bytes), UNSUPPORTED_FOR_MESSAGE_FORMAT (magic 0/1),
  UNSUPPORTED_COMPRESSION_TYPE (zstd below v7, KIP-110), OUT_OF_ORDER_SEQUENCE_NUMBER and
  INVALID_PRODUCER_EPOCH. An idempotent retry gets NONE and its original offsets.
- log_append_time is -1 (topics use CreateTime); log_start_offset from v5.
- A transactional batch (attributes bit 4) is appended only for the transactional id's
  current producer id and epoch, into a partition its Ongoing transaction already holds
  (AddPartitionsToTxn first, as Kafka 3.6+ verifies, KIP-890): otherwise
  INVALID_PRODUCER_EPOCH for a fenced epoch, INVALID_TXN_STATE for a partition outside the
  transaction, INVALID_PRODUCER_ID_MAPPING for an unknown id. Only the first batch's
  header is looked at here; the log refuses a request whose batches disagree.

Resource alarms (engine/pressure.py): under the disk alarm every partition is answered
KAFKA_STORAGE_ERROR before anything is written (the code Kafka gives when a log directory
fails; clients retry it), and a write that fails for lack of space raises that alarm.
Under the memory alarm the records are appended (they go to disk, not to the broker's
memory) and the answer carries throttle_time_ms = MEMORY_THROTTLE_MS; the connection is
not read for that long (KIP-219: the broker mutes the channel, new clients also back off).

Version notes: v3 magic 2 only (KIP-98); v5 log_start_offset; v7 zstd (KIP-110); v8
record_errors/error_message (KIP-467, empty here); v9 flexible; v10–11 current_leader
and node_endpoints tagged fields (KIP-951), left at their defaults since the leader never
moves.

Not done: several batches in one partition's records are accepted (Kafka asks for
exactly one per partition at v3+; accepting more is harmless).
"""

from __future__ import annotations

import struct
from datetime import timedelta

from kio.schema.errors import ErrorCode

from engine.errors import EngineError, InvalidName, StorageError
from engine.topics import validate_name
from engine.types import TopicPartition
from kafka_wire.build import make, schema
from kafka_wire.common import NO_THROTTLE
from kafka_wire.errors import error_code_for
from kafka_wire.registry import REGISTRY, ApiKey, handles

_ZSTD = 4
_TRANSACTIONAL = 0x10  # attributes bit 4, in the low byte of the int16 at 21
_PRODUCER = struct.Struct(">qh")  # producerId, producerEpoch at 43
MEMORY_THROTTLE_MS = 1000


def _append(ctx, topic_name: str, index: int, records, transactional_id: str | None) -> tuple[ErrorCode, int, int]:
    """(error, base offset, log start offset) for one partition's records."""
    topics = ctx.engine.topics
    topic = topics.get(topic_name)
    if topic is None:
        try:
            validate_name(topic_name)
        except InvalidName:
            return ErrorCode.invalid_topic_exception, -1, -1
        return ErrorCode.unknown_topic_or_partition, -1, -1
    if not 0 <= index < len(topic.partitions):
        return ErrorCode.unknown_topic_or_partition, -1, -1
    if records is None:
        return ErrorCode.corrupt_message, -1, -1
    if ctx.api_version < 7 and len(records) > 21 and records[16] == 2 and records[22] & 0x07 == _ZSTD:
        return ErrorCode.unsupported_compression_type, -1, -1
    log = topic.partitions[index]
    if ctx.engine.pressure.disk:
        return ErrorCode.kafka_storage_error, -1, log.log_start_offset
    if len(records) > 61 and records[22] & _TRANSACTIONAL:
        producer_id, producer_epoch = _PRODUCER.unpack_from(records, 43)
        try:
            ctx.engine.txn.verify_produce(transactional_id, producer_id=producer_id, producer_epoch=producer_epoch,
                                          partition=log.tp)
        except EngineError as exc:
            return error_code_for(exc), -1, log.log_start_offset
    try:
        result = log.append(records)
    except EngineError as exc:
        if isinstance(exc, StorageError):
            ctx.engine.pressure.write_failed(exc)
        return error_code_for(exc), -1, log.log_start_offset
    return ErrorCode.none, result.base_offset, result.log_start_offset


@handles(ApiKey.PRODUCE, 3, 11)
def produce(ctx, request):
    response_type = REGISTRY[ApiKey.PRODUCE].response_types[ctx.api_version]
    types = schema(response_type)
    acks = request.acks
    topics = []
    for topic_data in request.topic_data:
        partitions = []
        for partition_data in topic_data.partition_data:
            if acks not in (-1, 0, 1):
                error, base, start = ErrorCode.invalid_required_acks, -1, -1
            else:
                error, base, start = _append(ctx, topic_data.name, partition_data.index, partition_data.records,
                                             request.transactional_id)
            partitions.append(make(
                types.PartitionProduceResponse, index=partition_data.index, error_code=error, base_offset=base,
                log_append_time=None, log_start_offset=start, record_errors=(), error_message=None))
        topics.append(types.TopicProduceResponse(name=topic_data.name, partition_responses=tuple(partitions)))
    if acks == 0:
        if any(p.error_code != ErrorCode.none for t in topics for p in t.partition_responses):
            # Kafka closes the connection when an acks=0 produce fails: the only signal
            # such a producer can notice (KafkaApis.handleProduceRequest).
            ctx.session.link.close()
        return None
    throttle = NO_THROTTLE
    if ctx.engine.pressure.memory:
        throttle = timedelta(milliseconds=MEMORY_THROTTLE_MS)
        ctx.session.throttle(MEMORY_THROTTLE_MS / 1000)
    return response_type(responses=tuple(topics), throttle_time=throttle)
