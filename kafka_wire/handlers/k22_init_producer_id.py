"""InitProducerId (key 22), versions 0–4: a producer id and epoch for idempotent producers.

kafka-python 3 sends this for every producer (enable_idempotence defaults to true,
KIP-679); librdkafka and kafkajs when idempotence is on. Without a transactional id,
Kafka always hands out a fresh producer id with epoch 0, ignoring any producer id and
epoch in the request (v3+, KIP-360) — so do we. Ids come from engine/producers.py and
never repeat across restarts.

Transactional ids (issue 6): until transactions exist, a request with a transactional
id is answered exactly like one without (a fresh id, epoch 0), so clients can finish
their initialisation; transactional produce then depends on the issue-6 APIs.

Version notes: v1 = v0 (throttling semantics); v2 flexible; v3 producer_id/epoch for
epoch bumps (KIP-360); v4 = v3 (PRODUCER_FENCED semantics, KIP-588).
"""

from __future__ import annotations

from kio.schema.errors import ErrorCode

from kafka_wire.build import make
from kafka_wire.common import NO_THROTTLE
from kafka_wire.registry import REGISTRY, ApiKey, handles


@handles(ApiKey.INIT_PRODUCER_ID, 0, 4)
def init_producer_id(ctx, request):
    response_type = REGISTRY[ApiKey.INIT_PRODUCER_ID].response_types[ctx.api_version]
    allocated = ctx.engine.topics.producer_ids.init_producer_id()
    return make(response_type, throttle_time=NO_THROTTLE, error_code=ErrorCode.none,
                producer_id=allocated.producer_id, producer_epoch=allocated.producer_epoch)
