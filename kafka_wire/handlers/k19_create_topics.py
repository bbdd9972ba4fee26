"""CreateTopics (key 19), versions 2–7.

Each topic is answered on its own, in the order of the request, with Kafka's codes:
- TOPIC_ALREADY_EXISTS; INVALID_TOPIC_EXCEPTION for an illegal name or one colliding with an
  existing topic on '.' versus '_' (engine/topics.py);
- INVALID_REQUEST for a name given twice in one request (every copy fails, as Kafka does);
- INVALID_PARTITIONS for a count of 0 or below -1 (-1 means num.partitions, KIP-464);
- INVALID_REPLICATION_FACTOR unless the factor is -1 or 1: this is a single node;
- INVALID_CONFIG for an unknown key, a null value, or a value the log would not honour
  (engine/topic_config.py).
Manual replica assignments are served when they can be honoured on one node: partitions
numbered 0..n-1, each with exactly this node as its replica (INVALID_REPLICA_ASSIGNMENT
otherwise); giving them together with a partition count or replication factor is
INVALID_REQUEST, as in Kafka.

`validate_only` runs every check and creates nothing. The checks run in Kafka's order: the
name and existence first, then partitions and replication, then configs.

Version notes: v5+ (KIP-525) echo the partition count, the replication factor and every
config with its source; v7 returns the topic id (KIP-516). The timeout is ignored: creation
is complete when the answer is sent. v0–1 are not served (Kafka 4 removed them, KIP-896,
and kio has no schema for them; every client we target starts at v2 or picks the highest
common version).
"""

from __future__ import annotations

import uuid
from collections import Counter

from kio.schema.errors import ErrorCode

from engine.topic_config import describe_topic
from engine.topics import InvalidPartitions
from kafka_wire.admin import AdminError, broker_static, check_replicas, error_of, response_classes
from kafka_wire.common import NO_THROTTLE
from kafka_wire.registry import ApiKey, handles

_ZERO_UUID = uuid.UUID(int=0)


@handles(ApiKey.CREATE_TOPICS, 2, 7)
def create_topics(ctx, request):
    schema = response_classes(ctx)
    counts = Counter(topic.name for topic in request.topics)
    duplicates = sorted(name for name, count in counts.items() if count > 1)
    results = []
    for topic in request.topics:
        try:
            if topic.name in duplicates:
                raise AdminError(ErrorCode.invalid_request,
                                 f"Create topics request from client `{ctx.client_id}` contains multiple entries "
                                 f"for the following topics: {', '.join(duplicates)}")
            created, partitions = _create(ctx, topic, validate_only=request.validate_only)
        except Exception as exc:
            code, message = error_of(exc, {InvalidPartitions: ErrorCode.invalid_partitions})
            results.append(_result(ctx, schema, name=topic.name, code=code, message=message))
        else:
            results.append(_result(ctx, schema, name=topic.name, created=created, partitions=partitions))
    return schema.CreateTopicsResponse(throttle_time=NO_THROTTLE, topics=tuple(results))


def _create(ctx, topic, *, validate_only: bool):
    topics = ctx.engine.topics
    # Name, collision and existence first (Kafka's order), with nothing created.
    topics.create(topic.name, partitions=1, validate_only=True)
    partitions = _partition_count(ctx, topic)
    configs = {}
    for config in topic.configs:
        if config.value is None:
            raise AdminError(ErrorCode.invalid_config, f"Null value not supported for topic configs: {config.name}")
        configs[config.name] = config.value
    # A validate_only create holds no partition logs, so the count travels beside it.
    return topics.create(topic.name, partitions=partitions, configs=configs, validate_only=validate_only), partitions


def _partition_count(ctx, topic) -> int:
    node_id = ctx.settings.node_id
    if topic.assignments:
        if topic.num_partitions != -1 or topic.replication_factor != -1:
            raise AdminError(ErrorCode.invalid_request,
                             "Both numPartitions or replicationFactor and replicasAssignments were set. "
                             "Both cannot be used at the same time.")
        indexes = sorted(a.partition_index for a in topic.assignments)
        if indexes != list(range(len(indexes))):
            raise AdminError(ErrorCode.invalid_replica_assignment,
                             "Partitions should be a consecutive 0-based integer sequence")
        for assignment in topic.assignments:
            check_replicas(assignment.broker_ids, node_id)
        return len(indexes)
    if topic.replication_factor == 0 or topic.replication_factor < -1:
        raise AdminError(ErrorCode.invalid_replication_factor,
                         "Replication factor must be larger than 0, or -1 to use the default value.")
    if topic.replication_factor > 1:
        raise AdminError(ErrorCode.invalid_replication_factor,
                         f"Unable to replicate the partition {topic.replication_factor} time(s): The target "
                         f"replication factor of {topic.replication_factor} cannot be reached because only "
                         "1 broker(s) are registered.")
    if topic.num_partitions == -1:
        return ctx.engine.settings.default_partitions
    if topic.num_partitions <= 0:
        raise AdminError(ErrorCode.invalid_partitions, "Number of partitions was set to an invalid non-positive value.")
    return topic.num_partitions


def _result(ctx, schema, *, name: str, created=None, partitions: int = -1, code: ErrorCode = ErrorCode.none,
            message: str | None = None):
    version = ctx.api_version
    fields: dict = {"name": name, "error_code": code, "error_message": message}
    if version >= 5:
        if created is None:
            fields.update(num_partitions=-1, replication_factor=-1, configs=())
        else:
            entries = describe_topic(created.overrides, broker_static=broker_static(ctx))
            fields.update(
                num_partitions=partitions,
                replication_factor=1,
                configs=tuple(
                    schema.CreatableTopicConfigs(name=e.name, value=e.value, read_only=e.read_only,
                                                 config_source=int(e.source), is_sensitive=e.sensitive)
                    for e in entries),
            )
    if version >= 7:
        fields["topic_id"] = created.topic_id if created is not None else _ZERO_UUID
    return schema.CreatableTopicResult(**fields)

