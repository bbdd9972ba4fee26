"""ListPartitionReassignments (key 46), version 0: reassignments in progress (KIP-455).

A reassignment on this one broker completes the moment it is accepted
(k45_alter_partition_reassignments.py), so none is ever in progress: the answer lists no
topics, whether every partition (topics null) or named ones were asked about — Kafka too
leaves out partitions, known or not, that are not being reassigned.
"""

from __future__ import annotations

from kio.schema.errors import ErrorCode

from kafka_wire.admin import response_classes
from kafka_wire.common import NO_THROTTLE
from kafka_wire.registry import ApiKey, handles


@handles(ApiKey.LIST_PARTITION_REASSIGNMENTS, 0, 0)
def list_partition_reassignments(ctx, request):
    schema = response_classes(ctx)
    return schema.ListPartitionReassignmentsResponse(
        throttle_time=NO_THROTTLE, error_code=ErrorCode.none, error_message=None, topics=())
