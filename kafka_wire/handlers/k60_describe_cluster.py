"""DescribeCluster (key 60), versions 0–2.

KIP-700: the cluster id, the controller (this node: there is one) and the brokers — this
node at its advertised address, no rack, never fenced. With no authorizer every client may
do everything, so `include_cluster_authorized_operations` gets every operation Kafka supports
on the CLUSTER resource (as Kafka's AuthHelper answers without an authorizer).

KIP-919 (v1+): asking a broker listener for the controllers (endpoint type 2) is
MISMATCHED_ENDPOINT_TYPE, any other unknown type UNSUPPORTED_ENDPOINT_TYPE — INVALID_REQUEST
for both at v0 — with an empty cluster id and no brokers, as Kafka answers.
v2 (KIP-1073) adds `include_fenced_brokers`; nothing here is ever fenced.
"""

from __future__ import annotations

import enum

from kio.schema.errors import ErrorCode

from kafka_wire.admin import response_classes
from kafka_wire.common import NO_THROTTLE
from kafka_wire.registry import ApiKey, handles


class EndpointType(enum.IntEnum):
    BROKER = 1
    CONTROLLER = 2


class AclOperation(enum.IntEnum):
    CREATE = 5
    ALTER = 7
    DESCRIBE = 8
    CLUSTER_ACTION = 9
    DESCRIBE_CONFIGS = 10
    ALTER_CONFIGS = 11
    IDEMPOTENT_WRITE = 12


# Kafka's AclEntry.supportedOperations(CLUSTER), as a bit field indexed by operation code.
_CLUSTER_OPERATIONS = sum(1 << op for op in AclOperation)
_OPERATIONS_NOT_REQUESTED = -(2**31)  # the schema default


@handles(ApiKey.DESCRIBE_CLUSTER, 0, 2)
def describe_cluster(ctx, request):
    schema = response_classes(ctx)
    settings = ctx.settings
    endpoint_type = getattr(request, "endpoint_type", EndpointType.BROKER)
    fields: dict = {"throttle_time": NO_THROTTLE}
    if endpoint_type != EndpointType.BROKER:
        if endpoint_type == EndpointType.CONTROLLER:
            code = ErrorCode.mismatched_endpoint_type
            message = "The request was sent to an endpoint of type BROKER, but we wanted an endpoint of type CONTROLLER"
        else:
            code, message = ErrorCode.unsupported_endpoint_type, f"Unsupported endpoint type {endpoint_type}"
        return schema.DescribeClusterResponse(
            **fields, error_code=ErrorCode.invalid_request if ctx.api_version == 0 else code,
            error_message=message, cluster_id="", brokers=())
    broker: dict = {"broker_id": settings.node_id, "host": settings.advertised_host, "port": settings.advertised_port,
                    "rack": None}
    if ctx.api_version >= 2:
        broker["is_fenced"] = False
    if ctx.api_version >= 1:
        fields["endpoint_type"] = int(EndpointType.BROKER)
    return schema.DescribeClusterResponse(
        **fields,
        error_code=ErrorCode.none,
        error_message=None,
        cluster_id=settings.cluster_id,
        controller_id=settings.node_id,
        brokers=(schema.DescribeClusterBroker(**broker),),
        cluster_authorized_operations=(
            _CLUSTER_OPERATIONS if request.include_cluster_authorized_operations else _OPERATIONS_NOT_REQUESTED),
    )
