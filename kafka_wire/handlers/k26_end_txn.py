"""EndTxn (key 26), versions 0–3: commit or abort the producer's transaction.

The transaction goes to PrepareCommit/PrepareAbort (journaled), its COMMIT or ABORT marker
is written into every partition it holds, its staged group offsets become visible or are
dropped, and it ends CompleteCommit/CompleteAbort — all before the answer, so a
read_committed consumer sees a commit as soon as the producer does (engine/txn).

Errors, as Kafka's TransactionCoordinator.handleEndTransaction: NONE also for a retry of
the same decision on a completed transaction (idempotent); CONCURRENT_TRANSACTIONS while
that decision is still completing (a marker could not be written yet); INVALID_TXN_STATE
for the other decision, or when no transaction is open; INVALID_PRODUCER_ID_MAPPING,
PRODUCER_FENCED (an older epoch, e.g. after the coordinator aborted a transaction past its
timeout), NOT_COORDINATOR, INVALID_REQUEST.

Version notes: v1 = v0; v2 PRODUCER_FENCED (KIP-588; v0–1 answer INVALID_PRODUCER_EPOCH);
v3 flexible. v4–5 (KIP-890) are not served.
"""

from __future__ import annotations

from kio.schema.errors import ErrorCode

from engine.errors import EngineError
from engine.txn import TxnResult
from kafka_wire.build import make
from kafka_wire.admin import response_classes
from kafka_wire.common import NO_THROTTLE
from kafka_wire.registry import ApiKey, handles
from kafka_wire.txn import txn_error_code


@handles(ApiKey.END_TXN, 0, 3)
def end_txn(ctx, request):
    schema = response_classes(ctx)
    try:
        ctx.engine.txn.end_txn(request.transactional_id, producer_id=request.producer_id,
                               producer_epoch=request.producer_epoch,
                               result=TxnResult.COMMIT if request.committed else TxnResult.ABORT)
        code = ErrorCode.none
    except EngineError as exc:
        code = txn_error_code(exc, producer_fenced_supported=ctx.api_version >= 2)
    return make(schema.EndTxnResponse, throttle_time=NO_THROTTLE, error_code=code)
