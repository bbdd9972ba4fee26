"""FindCoordinator (key 10), versions 0–4.

This node coordinates every group and every transactional id, so the answer is always its
own advertised address (the one Metadata lists). Key types: 0 = group, 1 = transaction;
any other is INVALID_REQUEST, as Kafka's CoordinatorType.forId refuses it.

Version notes: v1 adds key_type, throttle time and error message; v3 is flexible; v4
(KIP-699) batches keys and answers one Coordinator entry per key. v5–6 (KIP-890, share
groups) are not served.
"""

from __future__ import annotations

from kio.schema.errors import ErrorCode

from kafka_wire.admin import response_classes
from kafka_wire.build import make
from kafka_wire.common import NO_THROTTLE
from kafka_wire.registry import ApiKey, handles

_GROUP, _TRANSACTION = 0, 1


@handles(ApiKey.FIND_COORDINATOR, 0, 4)
def find_coordinator(ctx, request):
    schema = response_classes(ctx)
    key_type = getattr(request, "key_type", _GROUP)
    if ctx.api_version >= 4:
        return schema.FindCoordinatorResponse(
            throttle_time=NO_THROTTLE,
            coordinators=tuple(
                schema.Coordinator(key=key, **_answer(ctx, key_type)) for key in request.coordinator_keys
            ),
        )
    return make(schema.FindCoordinatorResponse, throttle_time=NO_THROTTLE, **_answer(ctx, key_type))


def _answer(ctx, key_type: int) -> dict:
    if key_type not in (_GROUP, _TRANSACTION):
        return {"error_code": ErrorCode.invalid_request, "error_message": f"Unknown coordinator type {key_type}",
                "node_id": -1, "host": "", "port": -1}
    settings = ctx.settings
    return {"error_code": ErrorCode.none, "error_message": None, "node_id": settings.node_id,
            "host": settings.advertised_host, "port": settings.advertised_port}
