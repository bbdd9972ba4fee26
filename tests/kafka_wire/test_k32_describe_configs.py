"""DescribeConfigs v1–4 over a real socket: topic and broker resources, defaults, synonyms, types, docs."""

from __future__ import annotations

import importlib
import uuid

import pytest
from kio.schema.errors import ErrorCode

from tests.kafka_wire.rawkafka import RawKafka
from tests.kafka_wire.test_k19_create_topics import create

TOPIC, BROKER, BROKER_LOGGER = 2, 4, 8
DYNAMIC_TOPIC_CONFIG, STATIC_BROKER_CONFIG, DEFAULT_CONFIG = 1, 4, 5


@pytest.fixture
def kafka(server):
    with RawKafka(server.kafka_bootstrap) as connection:
        yield connection


@pytest.fixture
def topic(kafka):
    name = f"dc-{uuid.uuid4().hex[:8]}"
    assert create(kafka, name=name, configs={"retention.ms": "3600000"}).error_code == ErrorCode.none
    return name


def describe(kafka, version: int, *resources: tuple, synonyms: bool = False, documentation: bool = False):
    m = importlib.import_module(f"kio.schema.describe_configs.v{version}.request")
    fields = {"include_synonyms": synonyms}
    if version >= 3:
        fields["include_documentation"] = documentation
    response = kafka.send(m.DescribeConfigsRequest(resources=tuple(
        m.DescribeConfigsResource(resource_type=kind, resource_name=name, configuration_keys=keys)
        for kind, name, keys in resources), **fields))
    return response.results


@pytest.mark.parametrize("version", [1, 2, 3, 4])
def test_topic_lists_every_config_with_defaults(kafka, topic, version):
    (result,) = describe(kafka, version, (TOPIC, topic, None))
    assert (result.error_code, result.resource_type, result.resource_name) == (ErrorCode.none, TOPIC, topic)
    configs = {c.name: c for c in result.configs}
    assert len(configs) >= 30
    assert (configs["retention.ms"].value, configs["retention.ms"].config_source) == ("3600000", DYNAMIC_TOPIC_CONFIG)
    assert (configs["cleanup.policy"].value, configs["cleanup.policy"].config_source) == ("delete", DEFAULT_CONFIG)
    assert configs["max.message.bytes"].value == "1048588"
    assert configs["min.insync.replicas"].value == "1"
    assert all(c.synonyms == () for c in configs.values())  # not asked for
    if version >= 3:
        assert configs["retention.ms"].config_type == 5  # LONG
        assert configs["cleanup.policy"].config_type == 7  # LIST
        assert all(c.documentation is None for c in configs.values())  # not asked for


def test_synonyms_and_documentation(kafka, topic):
    (result,) = describe(kafka, 4, (TOPIC, topic, ("retention.ms", "segment.bytes")), synonyms=True,
                         documentation=True)
    configs = {c.name: c for c in result.configs}
    assert set(configs) == {"retention.ms", "segment.bytes"}
    assert [(s.name, s.value, s.source) for s in configs["retention.ms"].synonyms] == [
        ("retention.ms", "3600000", DYNAMIC_TOPIC_CONFIG), ("log.retention.hours", "168", DEFAULT_CONFIG)]
    assert [(s.name, s.source) for s in configs["segment.bytes"].synonyms] == [("log.segment.bytes", DEFAULT_CONFIG)]
    assert configs["segment.bytes"].documentation


def test_unknown_keys_are_left_out(kafka, topic):
    (result,) = describe(kafka, 2, (TOPIC, topic, ("no.such.key", "retention.bytes")))
    assert [c.name for c in result.configs] == ["retention.bytes"]


def test_unknown_topic_and_illegal_name(kafka):
    unknown, illegal = describe(kafka, 4, (TOPIC, "no-such-topic", None), (TOPIC, "no such topic", None))
    assert unknown.error_code == ErrorCode.unknown_topic_or_partition and unknown.configs == ()
    assert illegal.error_code == ErrorCode.invalid_topic_exception and illegal.configs == ()


def test_empty_key_list_means_every_key(kafka, topic):
    # Kafka's ConfigHelper treats an empty configuration_keys like null.
    (result,) = describe(kafka, 1, (TOPIC, topic, ()))
    assert len(result.configs) >= 30


@pytest.mark.parametrize("version", [1, 4])
def test_broker_lists_what_clients_look_for(kafka, version):
    (result,) = describe(kafka, version, (BROKER, "1", None))
    assert result.error_code == ErrorCode.none
    configs = {c.name: c for c in result.configs}
    assert (configs["num.partitions"].value, configs["num.partitions"].config_source) == ("1", STATIC_BROKER_CONFIG)
    assert configs["default.replication.factor"].value == "1"
    assert configs["min.insync.replicas"].value == "1"
    assert configs["auto.create.topics.enable"].value == "true"
    assert configs["message.max.bytes"].value == "1048588"
    assert configs["log.retention.hours"].value == "168"
    assert configs["log.retention.ms"].value is None  # unset, as in Kafka
    assert configs["advertised.listeners"].value.startswith("PLAINTEXT://127.0.0.1:")
    assert all(c.read_only for c in configs.values())


def test_broker_resource_names(kafka):
    empty, other, junk, logger = describe(kafka, 3, (BROKER, "", None), (BROKER, "2", None), (BROKER, "x", None),
                                          (BROKER_LOGGER, "1", None))
    assert (empty.error_code, empty.configs) == (ErrorCode.none, ())  # no dynamic cluster defaults
    assert other.error_code == ErrorCode.invalid_request
    assert junk.error_code == ErrorCode.invalid_request
    assert logger.error_code == ErrorCode.invalid_request


def test_one_request_many_resources(kafka, topic):
    results = describe(kafka, 1, (TOPIC, topic, ("retention.ms",)), (BROKER, "1", ("num.partitions",)),
                       (TOPIC, "no-such-topic", None))
    assert [(r.resource_name, r.error_code) for r in results] == [
        (topic, ErrorCode.none), ("1", ErrorCode.none), ("no-such-topic", ErrorCode.unknown_topic_or_partition)]


def test_unknown_resource_types(kafka):
    results = describe(kafka, 4, (-1, "x", None), (0, "x", None), (32, "group", None), (TOPIC, "", None))
    assert [r.error_code for r in results] == [ErrorCode.invalid_request] * 3 + [ErrorCode.invalid_topic_exception]
