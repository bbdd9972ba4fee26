"""IncrementalAlterConfigs v0–1 over a real socket: SET, DELETE, APPEND, SUBTRACT."""

from __future__ import annotations

import importlib
import uuid

import pytest
from kio.schema.errors import ErrorCode

from tests.kafka_wire.rawkafka import RawKafka
from tests.kafka_wire.test_k19_create_topics import create
from tests.kafka_wire.test_k32_describe_configs import BROKER, TOPIC
from tests.kafka_wire.test_k33_alter_configs import overrides

SET, DELETE, APPEND, SUBTRACT = 0, 1, 2, 3


@pytest.fixture
def kafka(server):
    with RawKafka(server.kafka_bootstrap) as connection:
        yield connection


@pytest.fixture
def topic(kafka):
    name = f"iac-{uuid.uuid4().hex[:8]}"
    assert create(kafka, name=name, configs={"retention.ms": "3600000"}).error_code == ErrorCode.none
    return name


def alter(kafka, version: int, *resources: tuple, validate_only: bool = False):
    m = importlib.import_module(f"kio.schema.incremental_alter_configs.v{version}.request")
    response = kafka.send(m.IncrementalAlterConfigsRequest(resources=tuple(
        m.AlterConfigsResource(resource_type=kind, resource_name=name, configs=tuple(
            m.AlterableConfig(name=k, config_operation=op, value=v) for k, op, v in changes))
        for kind, name, changes in resources), validate_only=validate_only))
    return [r.error_code for r in response.responses]


@pytest.mark.parametrize("version", [0, 1])
def test_set_and_delete_touch_only_their_keys(kafka, topic, version):
    assert alter(kafka, version, (TOPIC, topic, [("retention.bytes", SET, "5000")])) == [ErrorCode.none]
    assert overrides(kafka, topic) == {"retention.ms": "3600000", "retention.bytes": "5000"}
    assert alter(kafka, version, (TOPIC, topic, [("retention.ms", DELETE, None),
                                                 ("max.message.bytes", SET, "4096")])) == [ErrorCode.none]
    assert overrides(kafka, topic) == {"retention.bytes": "5000", "max.message.bytes": "4096"}


def test_append_and_subtract_on_lists(kafka, topic):
    assert alter(kafka, 1, (TOPIC, topic, [("cleanup.policy", APPEND, "delete")])) == [ErrorCode.none]
    assert overrides(kafka, topic)["cleanup.policy"] == "delete"
    assert alter(kafka, 1, (TOPIC, topic, [("cleanup.policy", APPEND, "compact")])) == [ErrorCode.invalid_config]
    assert alter(kafka, 1, (TOPIC, topic, [("retention.ms", APPEND, "1")])) == [ErrorCode.invalid_config]
    assert overrides(kafka, topic) == {"retention.ms": "3600000", "cleanup.policy": "delete"}


def test_validate_only_and_refusals_change_nothing(kafka, topic):
    assert alter(kafka, 0, (TOPIC, topic, [("retention.ms", SET, "1")]), validate_only=True) == [ErrorCode.none]
    assert alter(kafka, 0, (TOPIC, topic, [("retention.ms", SET, "1"), ("cleanup.policy", SET, "compact")])) == [
        ErrorCode.invalid_config]
    assert alter(kafka, 0, (TOPIC, topic, [("retention.ms", SET, "1"), ("retention.ms", DELETE, None)])) == [
        ErrorCode.invalid_request]
    assert alter(kafka, 0, (TOPIC, topic, [("retention.ms", 9, "1")])) == [ErrorCode.invalid_request]
    assert alter(kafka, 0, (TOPIC, topic, [("retention.ms", SET, None)])) == [ErrorCode.invalid_config]
    assert overrides(kafka, topic) == {"retention.ms": "3600000"}


def test_unknown_topic_and_brokers(kafka):
    assert alter(kafka, 1, (TOPIC, "no-such-topic", [("retention.ms", SET, "1")]),
                 (BROKER, "1", [("log.retention.ms", SET, "1")]),
                 (BROKER, "1", [("log.retention.ms", DELETE, None)])) == [
        ErrorCode.unknown_topic_or_partition, ErrorCode.invalid_request, ErrorCode.invalid_request]
    assert alter(kafka, 1, (BROKER, "1", [("log.retention.ms", SET, "1")])) == [ErrorCode.invalid_config]
    assert alter(kafka, 1, (BROKER, "1", [("log.retention.ms", DELETE, None)])) == [ErrorCode.none]
