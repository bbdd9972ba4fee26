"""InitProducerId (key 22), versions 0–4: a producer id and epoch, for idempotent and transactional producers.

kafka-python 3 sends this for every producer (enable_idempotence defaults to true,
KIP-679); librdkafka and kafkajs when idempotence or transactions are on.

- No transactional id: a fresh producer id with epoch 0, whatever producer id and epoch
  the request names (Kafka ignores them here too). Ids never repeat across restarts.
- A transactional id (engine/txn): the id keeps its producer id and each call bumps the
  epoch, fencing every older instance; an open transaction of the old instance is aborted
  first. transaction_timeout must be in (0, 15 min] (INVALID_TRANSACTION_TIMEOUT,
  Kafka's transaction.max.timeout.ms); an empty id is INVALID_REQUEST.
- v3+ producer_id/epoch (KIP-360): a producer recovering from an error names its current
  id and epoch to get the next epoch without being fenced; a stale pair is PRODUCER_FENCED.
  Only one of the two given is INVALID_REQUEST. CONCURRENT_TRANSACTIONS while the id's
  transaction is still completing.
- On error the answer carries producer id -1 and epoch -1.

Version notes: v1 = v0 (throttling semantics); v2 flexible; v3 producer_id/epoch for
epoch bumps (KIP-360); v4 PRODUCER_FENCED, which v0–3 answer as INVALID_PRODUCER_EPOCH
(KIP-588). v5+ (KIP-890 part 2, KIP-939) are not served.
"""

from __future__ import annotations

from datetime import timedelta

from kio.schema.errors import ErrorCode

from engine.errors import EngineError
from kafka_wire.build import make
from kafka_wire.common import NO_THROTTLE
from kafka_wire.registry import REGISTRY, ApiKey, handles
from kafka_wire.txn import txn_error_code


@handles(ApiKey.INIT_PRODUCER_ID, 0, 4)
def init_producer_id(ctx, request):
    response_type = REGISTRY[ApiKey.INIT_PRODUCER_ID].response_types[ctx.api_version]
    try:
        result = ctx.engine.txn.init_producer_id(
            request.transactional_id,
            timeout_ms=request.transaction_timeout // timedelta(milliseconds=1),
            producer_id=getattr(request, "producer_id", -1),
            producer_epoch=getattr(request, "producer_epoch", -1),
        )
    except EngineError as exc:
        code = txn_error_code(exc, producer_fenced_supported=ctx.api_version >= 4)
        return make(response_type, throttle_time=NO_THROTTLE, error_code=code, producer_id=-1, producer_epoch=-1)
    return make(response_type, throttle_time=NO_THROTTLE, error_code=ErrorCode.none,
                producer_id=result.producer_id, producer_epoch=result.producer_epoch)
