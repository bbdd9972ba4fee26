"""Fetch (key 1), versions 4–12: whole stored batches from each requested offset, with long-poll.

Behaviour, as Kafka's ReplicaManager.fetchMessages for a consumer:
- Each partition answers the stored batches from the one *containing* the fetch offset
  (a consumer skips the records before its offset itself; skipping the batch instead
  hangs consumers near the end of a partition — reference/kafka-clients.md), whole
  batches only, up to partition_max_bytes; the response stops growing at max_bytes.
  The first partition with data always gets at least one batch, even above both limits
  (KIP-74), so a consumer can never get stuck behind a large batch.
- An empty partition's `records` are empty bytes, never null: librdkafka (kcat,
  confluent-kafka) fails on a null record set ("invalid MessageSetSize -1").
- If fewer than min_bytes are available and no partition has an error, the response
  waits up to max_wait for appends to any of the partitions (engine callbacks; no
  polling), then answers with what there is.
- Per partition: high_watermark, last_stable_offset (the first offset of the oldest open
  transaction, else the high watermark), log_start_offset, OFFSET_OUT_OF_RANGE below the
  log start or above the high watermark, UNKNOWN_TOPIC_OR_PARTITION for an unknown topic
  or partition.
- isolation_level 1 (read_committed; librdkafka and kafkajs by default) returns only
  batches below the last stable offset (nothing, not an error, from an offset between it
  and the high watermark) and lists, as aborted_transactions, the aborted transactions
  (producer id, first offset) overlapping the returned batches, from the partition's
  aborted-transaction index: the consumer drops those producers' records from there up to
  their ABORT marker. read_uncommitted (0) reads up to the high watermark and gets a null
  list, as from Kafka. With no transaction open the two levels read the same bytes.

Version notes: v4 isolation_level, LSO, aborted transactions (KIP-98); v5 log_start_offset
(KIP-107); v7 fetch sessions (KIP-227): we never create one and always answer
session_id 0, which every client treats as "full fetches only"; v9
current_leader_epoch (ignored: epoch 0 never changes); v11 rack_id/preferred replica
(-1); v12 flexible. v13+ (topic ids) is not served: librdkafka falls back to 12.
"""

from __future__ import annotations

import asyncio

from kio.schema.errors import ErrorCode

from engine.errors import EngineError
from kafka_wire.build import make, schema
from kafka_wire.common import NO_THROTTLE
from kafka_wire.errors import error_code_for
from kafka_wire.registry import REGISTRY, ApiKey, handles


READ_COMMITTED = 1


class _Read:
    __slots__ = ("topic", "partition", "error", "log", "records", "aborted")

    def __init__(self, topic: str, partition: int) -> None:
        self.topic = topic
        self.partition = partition
        self.error = ErrorCode.none
        self.log = None
        self.records = b""
        self.aborted = None  # read_committed: the aborted transactions overlapping `records`


def _read_all(ctx, request) -> tuple[list[_Read], int, bool]:
    """Reads every requested partition once: (reads, bytes read, any error)."""
    topics = ctx.engine.topics
    remaining = request.max_bytes if ctx.api_version >= 3 else 2**31 - 1
    reads: list[_Read] = []
    total = 0
    errors = False
    committed = request.isolation_level == READ_COMMITTED
    for fetch_topic in request.topics:
        topic = topics.get(fetch_topic.topic)
        for fetch_partition in fetch_topic.partitions:
            read = _Read(fetch_topic.topic, fetch_partition.partition)
            reads.append(read)
            if topic is None or not 0 <= fetch_partition.partition < len(topic.partitions):
                read.error = ErrorCode.unknown_topic_or_partition
                errors = True
                continue
            log = topic.partitions[fetch_partition.partition]
            read.log = log
            if committed:
                read.aborted = ()
            limit = min(fetch_partition.partition_max_bytes, remaining)
            if limit <= 0 and total:
                continue
            offset = fetch_partition.fetch_offset
            try:
                records = log.read(offset, max(limit, 0), min_one=total == 0,
                                   max_offset=log.last_stable_offset if committed else None)
            except EngineError as exc:
                read.error = error_code_for(exc)
                errors = True
                continue
            read.records = records
            if committed:
                read.aborted = log.aborted_transactions(offset, records) if log.aborted else ()
            total += len(records)
            remaining -= len(records)
    return reads, total, errors


async def _long_poll(ctx, request, deadline: float, logs: list):
    loop = asyncio.get_running_loop()
    while True:
        timeout = deadline - loop.time()
        if timeout <= 0:
            break
        woken = loop.create_future()

        def wake() -> None:
            if not woken.done():
                woken.set_result(None)

        for log in logs:
            log.watch(wake)
        try:
            await asyncio.wait((woken,), timeout=timeout)
        finally:
            for log in logs:
                log.unwatch(wake)
        reads, total, errors = _read_all(ctx, request)
        if total >= request.min_bytes or errors:
            return _response(ctx, reads)
    return _response(ctx, _read_all(ctx, request)[0])


def _response(ctx, reads: list[_Read]):
    response_type = REGISTRY[ApiKey.FETCH].response_types[ctx.api_version]
    types = schema(response_type)
    by_topic: dict[str, list] = {}
    order: list[str] = []
    for read in reads:
        log = read.log
        if log is None:
            hwm = lso = start = -1
        else:
            hwm, lso, start = log.high_watermark, log.last_stable_offset, log.log_start_offset
        aborted = read.aborted
        if aborted:
            aborted = tuple(types.AbortedTransaction(producer_id=a.producer_id, first_offset=a.first_offset)
                            for a in aborted)
        partition = make(
            types.PartitionData, partition_index=read.partition, error_code=read.error, high_watermark=hwm,
            last_stable_offset=lso, log_start_offset=start, aborted_transactions=aborted, records=read.records)
        if read.topic not in by_topic:
            by_topic[read.topic] = []
            order.append(read.topic)
        by_topic[read.topic].append(partition)
    responses = tuple(types.FetchableTopicResponse(topic=name, partitions=tuple(by_topic[name])) for name in order)
    return make(response_type, throttle_time=NO_THROTTLE, error_code=ErrorCode.none, session_id=0,
                responses=responses)


@handles(ApiKey.FETCH, 4, 12)
def fetch(ctx, request):
    reads, total, errors = _read_all(ctx, request)
    wait_ms = request.max_wait.total_seconds() * 1000
    if total >= request.min_bytes or errors or wait_ms <= 0 or not reads:
        return _response(ctx, reads)
    deadline = asyncio.get_running_loop().time() + wait_ms / 1000
    logs = list({id(r.log): r.log for r in reads if r.log is not None}.values())
    return _long_poll(ctx, request, deadline, logs)
