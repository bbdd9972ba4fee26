"""DescribeTransactions (key 65), version 0: the state of named transactional ids (KIP-664).

Per id: its state (Kafka's names: Empty, Ongoing, PrepareCommit, PrepareAbort,
CompleteCommit, CompleteAbort), producer id and epoch, transaction.timeout.ms, when its
last transaction began (-1 after InitProducerId), and its partitions — while Prepare*,
only those still waiting for their marker, as Kafka shows them. TRANSACTIONAL_ID_NOT_FOUND
for an unknown id, INVALID_REQUEST for an empty one. Groups added by AddOffsetsToTxn are
not listed: Kafka shows them as `__consumer_offsets` partitions, a topic we do not have.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from kio.schema.errors import ErrorCode

from engine.errors import EngineError
from kafka_wire.admin import response_classes
from kafka_wire.common import NO_THROTTLE
from kafka_wire.registry import ApiKey, handles
from kafka_wire.txn import txn_error_code

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _time(ms: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=ms)


@handles(ApiKey.DESCRIBE_TRANSACTIONS, 0, 0)
def describe_transactions(ctx, request):
    schema = response_classes(ctx)
    states = []
    for tid in request.transactional_ids:
        try:
            found = ctx.engine.txn.describe(tid)
        except EngineError as exc:
            # The other fields at the schema's defaults (0 and ""), as Kafka leaves them.
            states.append(schema.TransactionState(
                error_code=txn_error_code(exc), transactional_id=tid, transaction_state="",
                transaction_timeout=timedelta(0), transaction_start_time=_time(0), producer_id=0,
                producer_epoch=0, topics=()))
            continue
        by_topic: dict[str, list[int]] = {}
        for tp in found.partitions:
            by_topic.setdefault(tp.topic, []).append(tp.partition)
        states.append(schema.TransactionState(
            error_code=ErrorCode.none, transactional_id=tid, transaction_state=found.state.value,
            transaction_timeout=timedelta(milliseconds=found.timeout_ms),
            transaction_start_time=_time(found.start_time_ms), producer_id=found.producer_id,
            producer_epoch=found.producer_epoch,
            topics=tuple(schema.TopicData(topic=t, partitions=tuple(ps)) for t, ps in by_topic.items())))
    return schema.DescribeTransactionsResponse(throttle_time=NO_THROTTLE, transaction_states=tuple(states))
