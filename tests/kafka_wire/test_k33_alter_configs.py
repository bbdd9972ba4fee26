"""AlterConfigs v0–2 over a real socket: the override set is replaced; refusals leave it untouched."""

from __future__ import annotations

import importlib
import uuid

import pytest
from kio.schema.errors import ErrorCode

from tests.kafka_wire.rawkafka import RawKafka
from tests.kafka_wire.test_k19_create_topics import create
from tests.kafka_wire.test_k32_describe_configs import BROKER, TOPIC, describe


@pytest.fixture
def kafka(server):
    with RawKafka(server.kafka_bootstrap) as connection:
        yield connection


@pytest.fixture
def topic(kafka):
    name = f"ac-{uuid.uuid4().hex[:8]}"
    assert create(kafka, name=name, configs={"retention.ms": "3600000"}).error_code == ErrorCode.none
    return name


def alter(kafka, version: int, *resources: tuple, validate_only: bool = False):
    m = importlib.import_module(f"kio.schema.alter_configs.v{version}.request")
    response = kafka.send(m.AlterConfigsRequest(resources=tuple(
        m.AlterConfigsResource(resource_type=kind, resource_name=name, configs=tuple(
            m.AlterableConfig(name=k, value=v) for k, v in configs.items()))
        for kind, name, configs in resources), validate_only=validate_only))
    return [(r.resource_type, r.resource_name, r.error_code) for r in response.responses]


def overrides(kafka, topic: str) -> dict[str, str]:
    (result,) = describe(kafka, 4, (TOPIC, topic, None))
    return {c.name: c.value for c in result.configs if c.config_source == 1}


@pytest.mark.parametrize("version", [0, 1, 2])
def test_replaces_the_whole_override_set(kafka, topic, version):
    assert alter(kafka, version, (TOPIC, topic, {"retention.bytes": "1048576", "segment.bytes": "1048576"})) == [
        (TOPIC, topic, ErrorCode.none)]
    # retention.ms was left out: it is back to its default.
    assert overrides(kafka, topic) == {"retention.bytes": "1048576", "segment.bytes": "1048576"}
    assert alter(kafka, version, (TOPIC, topic, {})) == [(TOPIC, topic, ErrorCode.none)]
    assert overrides(kafka, topic) == {}


def test_validate_only_changes_nothing(kafka, topic):
    assert alter(kafka, 1, (TOPIC, topic, {"retention.ms": "1"}), validate_only=True)[0][2] == ErrorCode.none
    assert overrides(kafka, topic) == {"retention.ms": "3600000"}


@pytest.mark.parametrize("configs", [
    {"cleanup.policy": "compact"},
    {"retention.ms": "1000", "unknown.key": "1"},
    {"segment.ms": "1000"},
    {"retention.bytes": "lots"},
])
def test_refusals_leave_the_overrides_untouched(kafka, topic, configs):
    assert alter(kafka, 2, (TOPIC, topic, configs))[0][2] == ErrorCode.invalid_config
    assert overrides(kafka, topic) == {"retention.ms": "3600000"}


def test_null_value_counts_as_left_out(kafka, topic):
    assert alter(kafka, 0, (TOPIC, topic, {"retention.ms": None, "retention.bytes": "5000"}))[0][2] == ErrorCode.none
    assert overrides(kafka, topic) == {"retention.bytes": "5000"}


def test_unknown_topic_duplicates_and_brokers(kafka, topic):
    results = alter(kafka, 0,
                    (TOPIC, "no-such-topic", {}),
                    (BROKER, "1", {"num.partitions": "3"}),
                    (BROKER, "", {}),
                    (BROKER, "9", {}),
                    (TOPIC, topic, {"retention.ms": "5"}),
                    (TOPIC, topic, {"retention.ms": "6"}))
    assert [r[2] for r in results] == [ErrorCode.unknown_topic_or_partition, ErrorCode.invalid_config,
                                       ErrorCode.none, ErrorCode.invalid_request,
                                       ErrorCode.invalid_request, ErrorCode.invalid_request]
    assert overrides(kafka, topic) == {"retention.ms": "3600000"}
