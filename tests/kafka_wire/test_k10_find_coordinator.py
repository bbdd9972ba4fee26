"""FindCoordinator v0–4 over a real socket: this node for group and transaction keys, batched v4."""

from __future__ import annotations

import pytest
from kio.schema.errors import ErrorCode

from kafka_wire.build import make
from tests.kafka_wire.groupraw import schema
from tests.kafka_wire.rawkafka import RawKafka


@pytest.fixture
def kafka(server):
    with RawKafka(server.kafka_bootstrap) as connection:
        yield connection


# v0 has no key type: its key is always a group.
CASES = [(0, 0)] + [(version, key_type) for version in range(1, 4) for key_type in (0, 1)]


@pytest.mark.parametrize(("version", "key_type"), CASES)
def test_this_node_coordinates_every_key(kafka, server, version, key_type):
    m = schema("find_coordinator", version)
    response = kafka.send(make(m.FindCoordinatorRequest, key="some-group", key_type=key_type))
    assert response.error_code == ErrorCode.none
    assert (response.node_id, response.host, response.port) == (1, "127.0.0.1", server.kafka_port)


def test_v4_answers_each_batched_key(kafka, server):
    m = schema("find_coordinator", 4)
    response = kafka.send(m.FindCoordinatorRequest(key_type=0, coordinator_keys=("a", "b", "")))
    assert [c.key for c in response.coordinators] == ["a", "b", ""]
    assert {(c.error_code, c.node_id, c.host, c.port) for c in response.coordinators} == {
        (ErrorCode.none, 1, "127.0.0.1", server.kafka_port)}


@pytest.mark.parametrize("version", [1, 3])
def test_unknown_key_type_is_invalid_request(kafka, version):
    m = schema("find_coordinator", version)
    response = kafka.send(m.FindCoordinatorRequest(key="g", key_type=7))
    assert response.error_code == ErrorCode.invalid_request
    assert response.node_id == -1


def test_unknown_key_type_in_a_batch(kafka):
    m = schema("find_coordinator", 4)
    (coordinator,) = kafka.send(m.FindCoordinatorRequest(key_type=2, coordinator_keys=("g",))).coordinators
    assert coordinator.error_code == ErrorCode.invalid_request
