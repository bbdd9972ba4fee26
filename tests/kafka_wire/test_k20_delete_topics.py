"""DeleteTopics v1–6 over a real socket: by name, by topic id (v6), unknown and duplicate entries."""

from __future__ import annotations

import importlib
import uuid
from datetime import timedelta

import pytest
from kio.schema.errors import ErrorCode

from tests.kafka_wire.rawkafka import RawKafka
from tests.kafka_wire.test_k19_create_topics import create

FIVE_SECONDS = timedelta(seconds=5)


@pytest.fixture
def kafka(server):
    with RawKafka(server.kafka_bootstrap) as connection:
        yield connection


def new_topic(kafka) -> tuple[str, uuid.UUID]:
    name = f"dt-{uuid.uuid4().hex[:8]}"
    result = create(kafka, 7, name=name, partitions=2)
    assert result.error_code == ErrorCode.none
    return name, result.topic_id


def delete_by_name(kafka, version: int, *names: str):
    m = importlib.import_module(f"kio.schema.delete_topics.v{version}.request")
    if version >= 6:
        request = m.DeleteTopicsRequest(topics=tuple(m.DeleteTopicState(name=n, topic_id=None) for n in names),
                                        timeout=FIVE_SECONDS)
    else:
        request = m.DeleteTopicsRequest(topic_names=names, timeout=FIVE_SECONDS)
    return kafka.send(request).responses


@pytest.mark.parametrize("version", range(1, 7))
def test_delete_by_name(kafka, version):
    name, topic_id = new_topic(kafka)
    kafka.produce(name, 1, [b"gone soon"])
    (result,) = delete_by_name(kafka, version, name)
    assert (result.name, result.error_code) == (name, ErrorCode.none)
    if version >= 6:
        assert result.topic_id == topic_id
    (again,) = delete_by_name(kafka, version, name)
    assert again.error_code == ErrorCode.unknown_topic_or_partition
    if version >= 5:
        assert again.error_message
    # The name is free again, and the new topic starts empty.
    new_result = create(kafka, 7, name=name, partitions=2)
    assert new_result.error_code == ErrorCode.none and new_result.topic_id != topic_id
    assert kafka.produce(name, 1, [b"fresh"]) == 0


def test_delete_by_topic_id(kafka):
    from kio.schema.delete_topics.v6 import request as m

    name, topic_id = new_topic(kafka)
    (result,) = kafka.send(m.DeleteTopicsRequest(topics=(m.DeleteTopicState(name=None, topic_id=topic_id),),
                                                 timeout=FIVE_SECONDS)).responses
    assert (result.name, result.topic_id, result.error_code) == (name, topic_id, ErrorCode.none)
    (again,) = kafka.send(m.DeleteTopicsRequest(topics=(m.DeleteTopicState(name=None, topic_id=topic_id),),
                                                timeout=FIVE_SECONDS)).responses
    assert (again.name, again.error_code) == (None, ErrorCode.unknown_topic_id)


def test_name_and_id_together_and_duplicates(kafka):
    from kio.schema.delete_topics.v6 import request as m

    name, topic_id = new_topic(kafka)
    other, other_id = new_topic(kafka)
    results = kafka.send(m.DeleteTopicsRequest(topics=(
        m.DeleteTopicState(name=name, topic_id=topic_id),
        m.DeleteTopicState(name=None, topic_id=other_id),
        m.DeleteTopicState(name=None, topic_id=other_id),
    ), timeout=FIVE_SECONDS)).responses
    assert [r.error_code for r in results] == [ErrorCode.invalid_request] * 3
    # Nothing was deleted.
    assert [r.error_code for r in delete_by_name(kafka, 4, name, other)] == [ErrorCode.none, ErrorCode.none]


def test_mixed_known_and_unknown(kafka):
    name, _ = new_topic(kafka)
    results = delete_by_name(kafka, 3, "no-such-topic", name)
    assert [(r.name, r.error_code) for r in results] == [
        ("no-such-topic", ErrorCode.unknown_topic_or_partition), (name, ErrorCode.none)]
