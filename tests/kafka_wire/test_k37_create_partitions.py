"""CreatePartitions v0–3 over a real socket."""

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


@pytest.fixture
def topic(kafka):
    name = f"cp-{uuid.uuid4().hex[:8]}"
    assert create(kafka, name=name, partitions=2).error_code == ErrorCode.none
    return name


def grow(kafka, version: int, *topics: tuple, validate_only: bool = False) -> list[tuple[ErrorCode, str | None]]:
    m = importlib.import_module(f"kio.schema.create_partitions.v{version}.request")
    response = kafka.send(m.CreatePartitionsRequest(
        topics=tuple(m.CreatePartitionsTopic(
            name=name, count=count,
            assignments=None if assignments is None else tuple(
                m.CreatePartitionsAssignment(broker_ids=tuple(ids)) for ids in assignments))
            for name, count, assignments in topics),
        timeout=FIVE_SECONDS, validate_only=validate_only))
    assert [r.name for r in response.results] == [t[0] for t in topics]
    return [(r.error_code, r.error_message) for r in response.results]


@pytest.mark.parametrize("version", [0, 1, 2, 3])
def test_grows_the_topic(kafka, topic, version):
    assert grow(kafka, version, (topic, 5, None)) == [(ErrorCode.none, None)]
    # The new partitions exist: they take appends, and the count is now 5.
    assert kafka.produce(topic, 4, [b"x"]) == 0
    assert grow(kafka, version, (topic, 5, None)) == [(ErrorCode.invalid_partitions, "Topic already has 5 partitions.")]


def test_shrinking_is_refused(kafka, topic):
    [(code, message)] = grow(kafka, 1, (topic, 1, None))
    assert code == ErrorCode.invalid_partitions
    assert message == "Topic currently has 2 partitions, which is higher than the requested 1."


def test_validate_only_changes_nothing(kafka, topic):
    assert grow(kafka, 2, (topic, 4, None), validate_only=True) == [(ErrorCode.none, None)]
    assert grow(kafka, 2, (topic, 3, None)) == [(ErrorCode.none, None)]  # still 2 before this


def test_unknown_topic_and_duplicates(kafka, topic):
    results = grow(kafka, 3, ("no-such-topic", 3, None), (topic, 3, None), (topic, 4, None))
    assert results[0][0] == ErrorCode.unknown_topic_or_partition
    assert [r[0] for r in results[1:]] == [ErrorCode.invalid_request, ErrorCode.invalid_request]


def test_assignments_must_name_this_node_once_per_new_partition(kafka, topic):
    assert grow(kafka, 1, (topic, 4, [[1]]))[0][0] == ErrorCode.invalid_replica_assignment  # one list for two
    assert grow(kafka, 1, (topic, 3, [[2]]))[0][0] == ErrorCode.invalid_replica_assignment
    assert grow(kafka, 1, (topic, 3, [[1, 1]]))[0][0] == ErrorCode.invalid_replica_assignment
    assert grow(kafka, 1, (topic, 4, [[1], [1]])) == [(ErrorCode.none, None)]


def test_absurd_counts_are_refused_not_attempted(kafka, topic):
    assert grow(kafka, 3, (topic, 2**31 - 1, None))[0][0] == ErrorCode.invalid_partitions
    assert grow(kafka, 3, (topic, -(2**31), None))[0][0] == ErrorCode.invalid_partitions
    assert grow(kafka, 3, (topic, 3, None)) == [(ErrorCode.none, None)]
