"""DescribeConfigs (key 32), versions 1–4.

Answers for TOPIC and BROKER resources with *every* config and its value, default ones
included (admin tools read-modify-write the whole set; librdkafka and Materialize look for
num.partitions and default.replication.factor, and broke on a broker that left defaults
out — reference/kafka-clients.md). The catalog, sources and synonyms come from
engine/topic_config.py. `configuration_keys` null or empty means every key; names we do not
know are left out, as Kafka does.

- TOPIC: INVALID_TOPIC_EXCEPTION for an illegal name, UNKNOWN_TOPIC_OR_PARTITION for a
  topic that does not exist.
- BROKER: the name is this node's id; "" (the cluster-wide dynamic defaults) answers an
  empty list, since nothing is set dynamically; any other name is INVALID_REQUEST, as Kafka.
- Other resource types (BROKER_LOGGER, CLIENT_METRICS, GROUP) are INVALID_REQUEST: they are
  not built.

Version notes: v1 adds synonyms and sources (KIP-226; synonyms only when
`include_synonyms`), v3 adds config types and documentation (KIP-569; documentation only
when `include_documentation`), v4 is flexible. v0 is not served (Kafka 4 removed it,
KIP-896; kio has no schema for it).
"""

from __future__ import annotations

from kio.schema.errors import ErrorCode

from engine.topic_config import ConfigEntry, describe_broker, describe_topic
from engine.topics import validate_name
from kafka_wire.admin import AdminError, ResourceType, broker_static, check_broker_name, error_of, response_classes
from kafka_wire.common import NO_THROTTLE
from kafka_wire.registry import ApiKey, handles


@handles(ApiKey.DESCRIBE_CONFIGS, 1, 4)
def describe_configs(ctx, request):
    schema = response_classes(ctx)
    include_documentation = getattr(request, "include_documentation", False)
    results = []
    for resource in request.resources:
        try:
            entries = _describe(ctx, resource)
        except Exception as exc:
            code, message = error_of(exc)
            configs = ()
        else:
            code, message = ErrorCode.none, None
            configs = tuple(_entry(ctx, schema, e, synonyms=request.include_synonyms,
                                   documentation=include_documentation) for e in entries)
        results.append(schema.DescribeConfigsResult(error_code=code, error_message=message,
                                                    resource_type=resource.resource_type,
                                                    resource_name=resource.resource_name, configs=configs))
    return schema.DescribeConfigsResponse(throttle_time=NO_THROTTLE, results=tuple(results))


def _describe(ctx, resource) -> tuple[ConfigEntry, ...]:
    keys = resource.configuration_keys or None
    if resource.resource_type == ResourceType.TOPIC:
        validate_name(resource.resource_name)  # INVALID_TOPIC_EXCEPTION first, as Kafka's Topic.validate
        topic = ctx.engine.topics.get(resource.resource_name)
        if topic is None:
            raise AdminError(ErrorCode.unknown_topic_or_partition,
                             f"The topic '{resource.resource_name}' does not exist.")
        return describe_topic(topic.overrides, broker_static=broker_static(ctx), keys=keys)
    if resource.resource_type == ResourceType.BROKER:
        check_broker_name(ctx, resource.resource_name)
        if resource.resource_name == "":
            return ()
        return describe_broker(broker_static(ctx), keys=keys)
    raise AdminError(ErrorCode.invalid_request, f"Unsupported resource type: {resource.resource_type}")


def _entry(ctx, schema, entry: ConfigEntry, *, synonyms: bool, documentation: bool):
    fields: dict = {
        "name": entry.name,
        "value": None if entry.sensitive else entry.value,
        "read_only": entry.read_only,
        "config_source": int(entry.source),
        "is_sensitive": entry.sensitive,
        "synonyms": tuple(
            schema.DescribeConfigsSynonym(name=s.name, value=None if entry.sensitive else s.value,
                                          source=int(s.source))
            for s in entry.synonyms) if synonyms else (),
    }
    if ctx.api_version >= 3:
        fields["config_type"] = int(entry.type)
        fields["documentation"] = entry.doc if documentation else None
    return schema.DescribeConfigsResourceResult(**fields)
