"""DescribeQuorum (key 55), versions 0–2: the KRaft metadata quorum (KIP-595, KIP-836, KIP-853).

A Kafka 4.0 broker forwards this to the controller quorum; here the one node is broker and
controller at once, like a single-node KRaft cluster in combined mode, so it answers for
itself (KafkaRaftClient.handleDescribeQuorumRequest):
- only `__cluster_metadata` partition 0 exists; any other topic or partition asked about is
  UNKNOWN_TOPIC_OR_PARTITION for that partition, as Kafka's partition-level error response;
- this node leads at epoch 0 and is the only voter, with no observers. mqgateway keeps no
  replicated metadata log, so the high watermark and the voter's log end offset are 0:
  nothing is pending replication, which is what those numbers tell an operator;
- the leader's own fetch and caught-up times are now (v1+), as Kafka reports its leader;
- v2 adds the voter's directory id (none: zero uuid) and `nodes`, each voter's endpoints:
  this node at its advertised address under the PLAINTEXT listener, the only one it has.
"""

from __future__ import annotations

import uuid

from kio.schema.errors import ErrorCode

from kafka_wire.admin import response_classes
from kafka_wire.build import make
from kafka_wire.registry import ApiKey, handles

METADATA_TOPIC = "__cluster_metadata"
LISTENER_NAME = "PLAINTEXT"


@handles(ApiKey.DESCRIBE_QUORUM, 0, 2)
def describe_quorum(ctx, request):
    schema = response_classes(ctx)
    node = ctx.settings.node_id
    now = ctx.engine.clock.now_ms()
    voter = make(schema.ReplicaState, replica_id=node, replica_directory_id=uuid.UUID(int=0), log_end_offset=0,
                 last_fetch_timestamp=now, last_caught_up_timestamp=now)
    topics = []
    for topic in request.topics:
        partitions = []
        for p in topic.partitions:
            if topic.topic_name == METADATA_TOPIC and p.partition_index == 0:
                partitions.append(make(schema.PartitionData, partition_index=0, error_code=ErrorCode.none,
                                       error_message=None, leader_id=node, leader_epoch=0, high_watermark=0,
                                       current_voters=(voter,), observers=()))
            else:
                partitions.append(make(schema.PartitionData, partition_index=p.partition_index,
                                       error_code=ErrorCode.unknown_topic_or_partition, error_message=None,
                                       leader_id=-1, leader_epoch=-1, high_watermark=-1, current_voters=(),
                                       observers=()))
        topics.append(schema.TopicData(topic_name=topic.topic_name, partitions=tuple(partitions)))
    fields: dict = {"error_code": ErrorCode.none, "error_message": None, "topics": tuple(topics)}
    if ctx.api_version >= 2:
        fields["nodes"] = (schema.Node(node_id=node, listeners=(schema.Listener(
            name=LISTENER_NAME, host=ctx.settings.advertised_host, port=ctx.settings.advertised_port),)),)
    return make(schema.DescribeQuorumResponse, **fields)
