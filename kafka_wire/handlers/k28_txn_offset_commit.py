"""TxnOffsetCommit (key 28), versions 0–3: a group's offsets, committed inside a transaction.

The offsets are staged in the group and become its committed offsets only when the
transaction commits (dropped on abort); until then an OffsetFetch with require_stable
answers UNSTABLE_OFFSET_COMMIT for those partitions (KIP-447). They are journaled with
the transaction, so a commit interrupted by a crash still applies them (engine/txn).

Errors per partition: UNKNOWN_TOPIC_OR_PARTITION, OFFSET_METADATA_TOO_LARGE; and for the
whole request (every partition): INVALID_PRODUCER_ID_MAPPING, INVALID_PRODUCER_EPOCH (a
fenced producer: this API has no PRODUCER_FENCED in v0–3), INVALID_TXN_STATE (no open
transaction holds the group: AddOffsetsToTxn comes first), NOT_COORDINATOR; from v3 the
group checks of KIP-447 — UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION, FENCED_INSTANCE_ID —
where the request names a member id or generation (an empty member id and generation -1,
as v0–2 imply, are accepted, as by Kafka's GroupCoordinator.doTxnCommitOffsets).

Version notes: v1 = v0; v2 committed_leader_epoch; v3 flexible, with member id, group
instance id and generation (KIP-447). v4–5 (KIP-890) are not served.
"""

from __future__ import annotations

from kio.schema.errors import ErrorCode

from engine.errors import EngineError
from engine.groups.types import OffsetCommitEntry
from engine.types import TopicPartition
from kafka_wire.admin import response_classes
from kafka_wire.common import NO_THROTTLE
from kafka_wire.groups import group_error_code
from kafka_wire.registry import ApiKey, handles
from kafka_wire.txn import txn_error_code


@handles(ApiKey.TXN_OFFSET_COMMIT, 0, 3)
def txn_offset_commit(ctx, request):
    schema = response_classes(ctx)
    entries = [
        OffsetCommitEntry(partition=TopicPartition(topic=t.name, partition=p.partition_index),
                          offset=p.committed_offset, leader_epoch=getattr(p, "committed_leader_epoch", -1),
                          metadata=p.committed_metadata)
        for t in request.topics for p in t.partitions
    ]
    codes: dict[TopicPartition, ErrorCode] = {}
    try:
        outcome = ctx.engine.txn.txn_offset_commit(
            request.transactional_id, producer_id=request.producer_id, producer_epoch=request.producer_epoch,
            group_id=request.group_id, member_id=getattr(request, "member_id", ""),
            generation_id=getattr(request, "generation_id", -1),
            group_instance_id=getattr(request, "group_instance_id", None), offsets=entries)
    except EngineError as exc:
        code = txn_error_code(exc)
        codes = {e.partition: code for e in entries}
    else:
        codes = {tp: ErrorCode.none if error is None else group_error_code(error) for tp, error in outcome.items()}
    topics = tuple(
        schema.TxnOffsetCommitResponseTopic(name=t.name, partitions=tuple(
            schema.TxnOffsetCommitResponsePartition(
                partition_index=p.partition_index,
                error_code=codes.get(TopicPartition(topic=t.name, partition=p.partition_index), ErrorCode.none))
            for p in t.partitions))
        for t in request.topics
    )
    return schema.TxnOffsetCommitResponse(throttle_time=NO_THROTTLE, topics=topics)
