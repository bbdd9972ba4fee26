"""Metadata (key 3), versions 0–12: the one broker, and topics with their partitions.

Behaviour, as a one-broker Kafka cluster answers:
- brokers: this node (settings.node_id) at the advertised host and port, no rack;
  controller_id is the same node; cluster_id from the settings (v2+).
- every partition is led by this node with leader_epoch 0 (v7+, stable: the leader
  never changes, so clients' KIP-320 epoch checks never fence), replicas = ISR = [node].
- topics: null (v1+) or an empty list at v0 means all topics; an empty list at v1+
  means none. v10+ topics carry their topic_id, and a request may name a topic by id
  (an unknown id answers UNKNOWN_TOPIC_ID).
- a requested topic that does not exist is created when the client allows it
  (allow_auto_topic_creation, v4+; always at v0–3, as Kafka) and the broker does
  (--auto-create-topics), with --default-partitions partitions, then answered like any
  topic. Kafka answers LEADER_NOT_AVAILABLE on that first request while the leader is
  elected; here the partitions exist at once, so clients need no retry. Otherwise the
  answer is UNKNOWN_TOPIC_OR_PARTITION, or INVALID_TOPIC_EXCEPTION for an illegal name.
- authorized operations (v8+) are reported only when asked for; with no ACLs
  everything is allowed (KIP-430 bitfields).
"""

from __future__ import annotations

from kio.schema.errors import ErrorCode

from engine.errors import EngineError
from engine.topics import validate_name
from kafka_wire.build import make, schema
from kafka_wire.common import NO_THROTTLE
from kafka_wire.errors import error_code_for
from kafka_wire.registry import REGISTRY, ApiKey, handles

# KIP-430 AclOperation codes: READ 3, WRITE 4, CREATE 5, DELETE 6, ALTER 7, DESCRIBE 8,
# CLUSTER_ACTION 9, DESCRIBE_CONFIGS 10, ALTER_CONFIGS 11, IDEMPOTENT_WRITE 12.
TOPIC_OPERATIONS = sum(1 << op for op in (3, 4, 5, 6, 7, 8, 10, 11))
CLUSTER_OPERATIONS = sum(1 << op for op in (5, 7, 8, 9, 10, 11, 12))
OPERATIONS_NOT_REQUESTED = -(2**31)


def _requested_names(ctx, request) -> tuple[list[tuple[str | None, object]], bool]:
    """(name or None, topic id) per requested topic, and whether all topics were asked for."""
    topics = request.topics
    if topics is None or (ctx.api_version == 0 and not topics):
        return [], True
    return [(t.name, getattr(t, "topic_id", None)) for t in topics], False


@handles(ApiKey.METADATA, 0, 12)
def metadata(ctx, request):
    version = ctx.api_version
    response_type = REGISTRY[ApiKey.METADATA].response_types[version]
    types = schema(response_type)
    settings = ctx.settings
    registry = ctx.engine.topics
    node = settings.node_id
    allow_auto = getattr(request, "allow_auto_topic_creation", True) and ctx.engine.settings.auto_create_topics
    with_topic_ops = getattr(request, "include_topic_authorized_operations", False)

    def describe(topic):
        partitions = tuple(
            make(types.MetadataResponsePartition, error_code=ErrorCode.none, partition_index=log.tp.partition,
                 leader_id=node, leader_epoch=0, replica_nodes=(node,), isr_nodes=(node,), offline_replicas=())
            for log in topic.partitions)
        return make(types.MetadataResponseTopic, error_code=ErrorCode.none, name=topic.name,
                    topic_id=topic.topic_id, is_internal=False, partitions=partitions,
                    topic_authorized_operations=TOPIC_OPERATIONS if with_topic_ops else OPERATIONS_NOT_REQUESTED)

    def failed(name, error: ErrorCode, topic_id=None):
        return make(types.MetadataResponseTopic, error_code=error, name=name, topic_id=topic_id,
                    is_internal=False, partitions=())

    requested, everything = _requested_names(ctx, request)
    answers = []
    if everything:
        answers = [describe(registry.get(name)) for name in registry.names()]
    for name, topic_id in requested:
        if name is None:
            found = next((t for t in registry if t.topic_id == topic_id), None) if topic_id else None
            answers.append(describe(found) if found else failed(None, ErrorCode.unknown_topic_id, topic_id))
            continue
        topic = registry.get(name)
        if topic is None:
            try:
                validate_name(name)
            except EngineError:
                answers.append(failed(name, ErrorCode.invalid_topic_exception))
                continue
            if not allow_auto:
                answers.append(failed(name, ErrorCode.unknown_topic_or_partition))
                continue
            try:
                topic = registry.auto_create(name)
            except EngineError as exc:
                answers.append(failed(name, error_code_for(exc)))
                continue
        answers.append(describe(topic))
    brokers = (make(types.MetadataResponseBroker, node_id=node, host=settings.advertised_host,
                    port=settings.advertised_port, rack=None),)
    with_cluster_ops = getattr(request, "include_cluster_authorized_operations", False)
    return make(response_type, throttle_time=NO_THROTTLE, brokers=brokers, cluster_id=settings.cluster_id,
                controller_id=node, topics=tuple(answers),
                cluster_authorized_operations=CLUSTER_OPERATIONS if with_cluster_ops else OPERATIONS_NOT_REQUESTED)
