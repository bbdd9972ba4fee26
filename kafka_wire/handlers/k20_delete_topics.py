"""DeleteTopics (key 20), versions 1–6.

Deletes each named topic with its partitions and their data, answering per topic:
UNKNOWN_TOPIC_OR_PARTITION for an unknown name, UNKNOWN_TOPIC_ID for an unknown id (v6),
INVALID_REQUEST for a topic named twice in one request or given by both name and id (as
Kafka's controller answers). The timeout is ignored: deletion is complete when the answer is
sent, so a client's following Metadata no longer lists the topic.

Version notes: v5 adds error messages (KIP-599); v6 names topics by name or topic id
(KIP-516) and answers with both. v0 is not served (Kafka 4 removed it, KIP-896; kio has no
schema for it).
"""

from __future__ import annotations

import uuid
from collections import Counter

from kio.schema.errors import ErrorCode

from kafka_wire.admin import AdminError, error_of, response_classes
from kafka_wire.common import NO_THROTTLE
from kafka_wire.registry import ApiKey, handles

_ZERO_UUID = uuid.UUID(int=0)


@handles(ApiKey.DELETE_TOPICS, 1, 6)
def delete_topics(ctx, request):
    schema = response_classes(ctx)
    if ctx.api_version >= 6:
        wanted = [(t.name, t.topic_id if t.topic_id is not None else _ZERO_UUID) for t in request.topics]
    else:
        wanted = [(name, _ZERO_UUID) for name in request.topic_names]
    name_counts = Counter(name for name, _ in wanted if name is not None)
    id_counts = Counter(topic_id for name, topic_id in wanted if name is None)
    results = []
    for name, topic_id in wanted:
        found_name, found_id = name, topic_id
        try:
            if name is not None and topic_id != _ZERO_UUID:
                raise AdminError(ErrorCode.invalid_request, "You may not specify both topic name and topic id.")
            if name is not None and name_counts[name] > 1:
                raise AdminError(ErrorCode.invalid_request, "Duplicate topic name.")
            if name is None and id_counts[topic_id] > 1:
                raise AdminError(ErrorCode.invalid_request, "Duplicate topic id.")
            topic = _find(ctx, name, topic_id)
            found_name, found_id = topic.name, topic.topic_id
            ctx.engine.topics.delete(topic.name)
        except Exception as exc:
            code, message = error_of(exc)
            results.append(_result(ctx, schema, name=found_name, topic_id=found_id, code=code, message=message))
        else:
            results.append(_result(ctx, schema, name=found_name, topic_id=found_id))
    return schema.DeleteTopicsResponse(throttle_time=NO_THROTTLE, responses=tuple(results))


def _find(ctx, name: str | None, topic_id: uuid.UUID):
    topics = ctx.engine.topics
    if name is not None:
        topic = topics.get(name)
        if topic is None:
            raise AdminError(ErrorCode.unknown_topic_or_partition, "This server does not host this topic-partition.")
        return topic
    for candidate in topics.names():
        topic = topics.get(candidate)
        if topic is not None and topic.topic_id == topic_id:
            return topic
    raise AdminError(ErrorCode.unknown_topic_id, "This server does not host this topic ID.")


def _result(ctx, schema, *, name, topic_id, code: ErrorCode = ErrorCode.none, message: str | None = None):
    fields: dict = {"name": name, "error_code": code}
    if ctx.api_version >= 5:
        fields["error_message"] = message
    if ctx.api_version >= 6:
        fields["topic_id"] = topic_id
    return schema.DeletableTopicResult(**fields)
