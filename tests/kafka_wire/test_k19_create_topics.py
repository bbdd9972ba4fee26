"""CreateTopics v2–7 over a real socket against `mqgateway serve`, at exact versions."""

from __future__ import annotations

import importlib
import uuid

import pytest
from kio.schema.errors import ErrorCode

from tests.kafka_wire.rawkafka import RawKafka

VERSIONS = range(2, 8)


@pytest.fixture
def kafka(server):
    with RawKafka(server.kafka_bootstrap) as connection:
        yield connection


def _request(version: int, *topics: dict, validate_only: bool = False):
    m = importlib.import_module(f"kio.schema.create_topics.v{version}.request")
    return m.CreateTopicsRequest(
        topics=tuple(
            m.CreatableTopic(
                name=t["name"],
                num_partitions=t.get("partitions", 1),
                replication_factor=t.get("replication", -1),
                assignments=tuple(m.CreatableReplicaAssignment(partition_index=p, broker_ids=tuple(b))
                                  for p, b in t.get("assignments", {}).items()),
                configs=tuple(m.CreatableTopicConfig(name=k, value=v) for k, v in t.get("configs", {}).items()),
            )
            for t in topics),
        validate_only=validate_only,
    )


def create(kafka, version=7, validate_only=False, **topic):
    (result,) = kafka.send(_request(version, topic, validate_only=validate_only)).topics
    return result


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.mark.parametrize("version", VERSIONS)
def test_create_then_duplicate_at_every_version(kafka, version):
    name = _name(f"ct-v{version}")
    result = create(kafka, version, name=name, partitions=3)
    assert (result.name, result.error_code, result.error_message) == (name, ErrorCode.none, None)
    if version >= 5:
        assert (result.num_partitions, result.replication_factor) == (3, 1)
    if version >= 7:
        assert result.topic_id not in (None, uuid.UUID(int=0))
    again = create(kafka, version, name=name, partitions=3)
    assert again.error_code == ErrorCode.topic_already_exists
    assert again.error_message == f"Topic '{name}' already exists."


def test_v5_plus_echo_every_config_with_its_source(kafka):
    name = _name("ct-configs")
    result = create(kafka, 7, name=name, partitions=2,
                    configs={"retention.ms": "60000", "max.message.bytes": "2000000"})
    configs = {c.name: c for c in result.configs}
    assert configs["retention.ms"].value == "60000" and configs["retention.ms"].config_source == 1  # DYNAMIC_TOPIC
    assert configs["max.message.bytes"].value == "2000000"
    assert configs["segment.bytes"].value == "1073741824" and configs["segment.bytes"].config_source == 5  # DEFAULT
    assert "cleanup.policy" in configs and "min.insync.replicas" in configs
    assert not any(c.read_only or c.is_sensitive for c in configs.values())


def test_default_partitions_and_replication(kafka):
    result = create(kafka, 7, name=_name("ct-defaults"), partitions=-1, replication=-1)
    assert result.error_code == ErrorCode.none
    assert result.num_partitions == 1  # the server's --default-partitions


def test_validate_only_creates_nothing(kafka):
    name = _name("ct-validate")
    result = create(kafka, 7, validate_only=True, name=name, partitions=4, configs={"retention.ms": "1000"})
    assert (result.error_code, result.num_partitions) == (ErrorCode.none, 4)
    assert {c.name: c.value for c in result.configs}["retention.ms"] == "1000"
    # Still creatable: nothing was made.
    assert create(kafka, 7, name=name, partitions=4).error_code == ErrorCode.none
    # validate_only reports an existing topic too.
    assert create(kafka, 7, validate_only=True, name=name).error_code == ErrorCode.topic_already_exists


@pytest.mark.parametrize("partitions", [0, -2])
def test_invalid_partition_counts(kafka, partitions):
    result = create(kafka, 4, name=_name("ct-parts"), partitions=partitions)
    assert result.error_code == ErrorCode.invalid_partitions


@pytest.mark.parametrize("replication", [0, -2, 2, 3])
def test_replication_factor_must_be_one_on_one_node(kafka, replication):
    result = create(kafka, 5, name=_name("ct-rf"), replication=replication)
    assert result.error_code == ErrorCode.invalid_replication_factor
    assert result.error_message


def test_explicit_replication_factor_one(kafka):
    assert create(kafka, 3, name=_name("ct-rf1"), replication=1).error_code == ErrorCode.none


@pytest.mark.parametrize("name", ["", ".", "..", "has space", "x" * 250, "bad/slash", "ünïcode"])
def test_invalid_names(kafka, name):
    result = create(kafka, 7, name=name)
    assert result.error_code == ErrorCode.invalid_topic_exception
    assert result.error_message


def test_names_colliding_on_dot_and_underscore(kafka):
    base = _name("ct")
    assert create(kafka, name=f"{base}.x").error_code == ErrorCode.none
    assert create(kafka, name=f"{base}_x").error_code == ErrorCode.invalid_topic_exception


@pytest.mark.parametrize("configs", [
    {"cleanup.policy": "compact"},
    {"cleanup.policy": "compact,delete"},
    {"no.such.config": "1"},
    {"retention.ms": None},
    {"retention.ms": "yesterday"},
    {"compression.type": "gzip"},  # listed, but only its default is what the log does
    {"min.insync.replicas": "2"},
])
def test_configs_the_log_would_not_honour_are_refused(kafka, configs):
    name = _name("ct-badcfg")
    result = create(kafka, 7, name=name, configs=configs)
    assert result.error_code == ErrorCode.invalid_config
    assert result.error_message
    assert result.configs == () and result.topic_id in (None, uuid.UUID(int=0))  # kio reads the zero id as None
    assert create(kafka, 7, name=name).error_code == ErrorCode.none  # nothing half-created


def test_defaults_of_unimplemented_keys_are_accepted(kafka):
    result = create(kafka, 7, name=_name("ct-fixed"),
                    configs={"compression.type": "producer", "min.insync.replicas": "1", "cleanup.policy": "delete"})
    assert result.error_code == ErrorCode.none
    sources = {c.name: c.config_source for c in result.configs}
    assert sources["compression.type"] == 1 and sources["cleanup.policy"] == 1


def test_same_name_twice_in_one_request_fails_both(kafka):
    name = _name("ct-twice")
    results = kafka.send(_request(7, {"name": name}, {"name": name}, {"name": name + "-other"})).topics
    assert [r.error_code for r in results] == [ErrorCode.invalid_request, ErrorCode.invalid_request, ErrorCode.none]
    assert create(kafka, 7, name=name).error_code == ErrorCode.none


def test_manual_assignment_on_this_node(kafka):
    result = create(kafka, 7, name=_name("ct-assign"), partitions=-1, replication=-1,
                    assignments={0: [1], 1: [1], 2: [1]})
    assert (result.error_code, result.num_partitions) == (ErrorCode.none, 3)


@pytest.mark.parametrize("topic,code", [
    ({"partitions": 2, "replication": -1, "assignments": {0: [1], 1: [1]}}, ErrorCode.invalid_request),
    ({"partitions": -1, "replication": -1, "assignments": {0: [2]}}, ErrorCode.invalid_replica_assignment),
    ({"partitions": -1, "replication": -1, "assignments": {0: [1, 1]}}, ErrorCode.invalid_replica_assignment),
    ({"partitions": -1, "replication": -1, "assignments": {0: []}}, ErrorCode.invalid_replica_assignment),
    ({"partitions": -1, "replication": -1, "assignments": {1: [1]}}, ErrorCode.invalid_replica_assignment),
])
def test_manual_assignments_that_cannot_be_honoured(kafka, topic, code):
    assert create(kafka, 7, name=_name("ct-badassign"), **topic).error_code == code


def test_existence_is_checked_before_partitions(kafka):
    # Kafka's order: name and existence first, then partitions and replication, then configs.
    name = _name("ct-order")
    assert create(kafka, name=name).error_code == ErrorCode.none
    assert create(kafka, name=name, partitions=0, replication=5).error_code == ErrorCode.topic_already_exists
    assert create(kafka, name="bad name", partitions=0).error_code == ErrorCode.invalid_topic_exception
    assert create(kafka, name=_name("ct-order"), partitions=0,
                  configs={"bogus": "1"}).error_code == ErrorCode.invalid_partitions


def test_absurd_partition_count_is_refused_not_attempted(kafka):
    result = create(kafka, 7, name=_name("ct-huge"), partitions=2**31 - 1)
    assert result.error_code == ErrorCode.invalid_partitions
