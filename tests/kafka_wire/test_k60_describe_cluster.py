"""DescribeCluster v0–2 over a real socket."""

from __future__ import annotations

import importlib

import pytest
from kio.schema.errors import ErrorCode

from tests.kafka_wire.rawkafka import RawKafka


@pytest.fixture
def kafka(server):
    with RawKafka(server.kafka_bootstrap) as connection:
        yield connection


def describe(kafka, version: int, *, operations: bool = False, **fields):
    m = importlib.import_module(f"kio.schema.describe_cluster.v{version}.request")
    if version >= 2:
        fields.setdefault("include_fenced_brokers", True)
    return kafka.send(m.DescribeClusterRequest(include_cluster_authorized_operations=operations, **fields))


@pytest.mark.parametrize("version", [0, 1, 2])
def test_this_node_is_the_cluster(kafka, server, version):
    response = describe(kafka, version)
    assert response.error_code == ErrorCode.none
    assert response.cluster_id == "mqgateway-cluster-0001"
    assert response.controller_id == 1
    (broker,) = response.brokers
    assert (broker.broker_id, broker.host, broker.port, broker.rack) == (1, "127.0.0.1", server.kafka_port, None)
    assert response.cluster_authorized_operations == -(2**31)
    if version >= 2:
        assert broker.is_fenced is False


def test_authorized_operations_without_an_authorizer(kafka):
    operations = describe(kafka, 1, operations=True).cluster_authorized_operations
    # CREATE, ALTER, DESCRIBE, CLUSTER_ACTION, DESCRIBE_CONFIGS, ALTER_CONFIGS, IDEMPOTENT_WRITE
    assert operations == sum(1 << op for op in (5, 7, 8, 9, 10, 11, 12))


def test_controller_endpoints_are_not_served_on_a_broker_listener(kafka):
    response = describe(kafka, 1, endpoint_type=2)
    assert response.error_code == ErrorCode.mismatched_endpoint_type
    assert (response.cluster_id, response.brokers) == ("", ())
    assert describe(kafka, 2, endpoint_type=7).error_code == ErrorCode.unsupported_endpoint_type
