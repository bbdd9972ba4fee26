"""AddOffsetsToTxn (key 25), versions 0–3: a producer's transaction will commit a group's offsets.

Kafka adds the group's `__consumer_offsets` partition to the transaction; here the group
itself joins it (engine/txn), so that TxnOffsetCommit may stage offsets for it and the
transaction's end makes them visible or drops them. The errors are AddPartitionsToTxn's:
INVALID_PRODUCER_ID_MAPPING, PRODUCER_FENCED, CONCURRENT_TRANSACTIONS, NOT_COORDINATOR,
INVALID_REQUEST for an empty transactional id.

Version notes: v1 = v0; v2 PRODUCER_FENCED (KIP-588; v0–1 answer INVALID_PRODUCER_EPOCH);
v3 flexible. v4 (KIP-890 TRANSACTION_ABORTABLE) is not served.
"""

from __future__ import annotations

from kio.schema.errors import ErrorCode

from engine.errors import EngineError
from kafka_wire.admin import response_classes
from kafka_wire.common import NO_THROTTLE
from kafka_wire.registry import ApiKey, handles
from kafka_wire.txn import txn_error_code


@handles(ApiKey.ADD_OFFSETS_TO_TXN, 0, 3)
def add_offsets_to_txn(ctx, request):
    schema = response_classes(ctx)
    try:
        ctx.engine.txn.add_offsets(request.transactional_id, producer_id=request.producer_id,
                                   producer_epoch=request.producer_epoch, group_id=request.group_id)
        code = ErrorCode.none
    except EngineError as exc:
        code = txn_error_code(exc, producer_fenced_supported=ctx.api_version >= 2)
    return schema.AddOffsetsToTxnResponse(throttle_time=NO_THROTTLE, error_code=code)
