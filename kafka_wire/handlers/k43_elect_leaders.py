"""ElectLeaders (key 43), versions 0–2: preferred or unclean leader election (KIP-183, KIP-460).

On one broker every partition is led by its one, preferred, in-sync replica, so no
election ever has work to do. As Kafka's controller (ReplicationControlManager.electLeaders):
- a named partition that exists is ELECTION_NOT_NEEDED, for both election types;
- an unknown topic or partition is UNKNOWN_TOPIC_OR_PARTITION ("No such topic as t",
  "No such partition as t-p");
- `topic_partitions` null means every partition, and then partitions that need no election
  are left out of the answer — here, all of them;
- an election type other than PREFERRED (0) and UNCLEAN (1) (v1+) is INVALID_REQUEST for
  the whole request.
"""

from __future__ import annotations

import enum

from kio.schema.errors import ErrorCode

from kafka_wire.admin import response_classes
from kafka_wire.build import make
from kafka_wire.common import NO_THROTTLE
from kafka_wire.registry import ApiKey, handles


class ElectionType(enum.IntEnum):
    PREFERRED = 0
    UNCLEAN = 1


# Kafka's Errors.ELECTION_NOT_NEEDED default message, which ApiError carries.
NOT_NEEDED = "Leader election not needed for topic partition."


@handles(ApiKey.ELECT_LEADERS, 0, 2)
def elect_leaders(ctx, request):
    schema = response_classes(ctx)
    election_type = getattr(request, "election_type", ElectionType.PREFERRED)
    if election_type not in ElectionType.__members__.values():
        return make(schema.ElectLeadersResponse, throttle_time=NO_THROTTLE, error_code=ErrorCode.invalid_request,
                    replica_election_results=())
    results = []
    if request.topic_partitions is not None:
        registry = ctx.engine.topics
        for requested in request.topic_partitions:
            topic = registry.get(requested.topic)
            partitions = []
            for index in requested.partitions:
                if topic is None:
                    code, message = ErrorCode.unknown_topic_or_partition, f"No such topic as {requested.topic}"
                elif not 0 <= index < len(topic.partitions):
                    code, message = ErrorCode.unknown_topic_or_partition, f"No such partition as {requested.topic}-{index}"
                else:
                    code, message = ErrorCode.election_not_needed, NOT_NEEDED
                partitions.append(schema.PartitionResult(partition_id=index, error_code=code, error_message=message))
            results.append(schema.ReplicaElectionResult(topic=requested.topic, partition_result=tuple(partitions)))
    return make(schema.ElectLeadersResponse, throttle_time=NO_THROTTLE, error_code=ErrorCode.none,
                replica_election_results=tuple(results))
