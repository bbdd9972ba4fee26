"""Shared fixtures: a real server process per module (memory) or per test (files)."""

from __future__ import annotations

import os

import pytest

from tests.server import ServerProcess


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One `mqgateway serve --memory` process shared by a test module."""
    with ServerProcess(tmp_path_factory.mktemp("server"), memory=True) as proc:
        yield proc


@pytest.fixture
def durable_server(tmp_path):
    """A `mqgateway serve --data-dir` process of its own, for restart and kill -9 tests."""
    proc = ServerProcess(tmp_path)
    proc.start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def kafka_bootstrap(server):
    """A real Kafka when KAFKA_BOOTSTRAP is set, else our server."""
    return os.environ.get("KAFKA_BOOTSTRAP") or server.kafka_bootstrap


@pytest.fixture(scope="module")
def amqp_url(server):
    """A real RabbitMQ when AMQP_URL is set, else our server."""
    return os.environ.get("AMQP_URL") or server.amqp_url
