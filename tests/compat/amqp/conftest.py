"""Fixtures for the AMQP compat suite: the broker address, unique names, pika connections.

Every test here runs unchanged against a real RabbitMQ (`AMQP_URL=amqp://guest:guest@127.0.0.1:5673/`,
see `.ci/rabbitmq.sh`) and against `mqgateway serve`, so every expectation is RabbitMQ's own.
Tests marked `server_only` (restart and kill -9 durability, which need to control the broker
process) are deselected, not skipped, when AMQP_URL is set.
"""

from __future__ import annotations

import os
import re
import secrets
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pika
import pytest

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config, items):
    if not os.environ.get("AMQP_URL"):
        return
    keep, drop = [], []
    for item in items:
        ours = HERE in Path(str(item.fspath)).resolve().parents
        (drop if ours and item.get_closest_marker("server_only") else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@dataclass(frozen=True, slots=True, kw_only=True)
class BrokerAddress:
    """An AMQP URL taken apart, so each client can be given it in its own way."""

    host: str
    port: int
    user: str
    password: str
    vhost: str

    @classmethod
    def parse(cls, url: str) -> "BrokerAddress":
        parts = urllib.parse.urlsplit(url)
        path = parts.path[1:] if parts.path.startswith("/") else parts.path
        return cls(host=parts.hostname or "127.0.0.1", port=parts.port or 5672,
                   user=urllib.parse.unquote(parts.username or "guest"),
                   password=urllib.parse.unquote(parts.password or "guest"),
                   vhost=urllib.parse.unquote(path) or "/")

    def url(self, **changes) -> str:
        """amqp:// URL, with `user`, `password` or `vhost` optionally replaced."""
        a = replace(self, **changes)
        q = lambda s: urllib.parse.quote(s, safe="")  # noqa: E731
        return f"amqp://{q(a.user)}:{q(a.password)}@{a.host}:{a.port}/{q(a.vhost)}"

    def pika_params(self, **kwargs) -> pika.ConnectionParameters:
        kwargs.setdefault("credentials", pika.PlainCredentials(self.user, self.password))
        kwargs.setdefault("virtual_host", self.vhost)
        kwargs.setdefault("connection_attempts", 1)
        kwargs.setdefault("socket_timeout", 5)
        kwargs.setdefault("blocked_connection_timeout", 30)
        return pika.ConnectionParameters(host=self.host, port=self.port, **kwargs)

    def connect(self, **kwargs) -> pika.BlockingConnection:
        return pika.BlockingConnection(self.pika_params(**kwargs))


@pytest.fixture(scope="module")
def amqp_url(request):
    """A real RabbitMQ when AMQP_URL is set, else our server (started only when needed)."""
    return os.environ.get("AMQP_URL") or request.getfixturevalue("server").amqp_url


@pytest.fixture(scope="module")
def broker(amqp_url) -> BrokerAddress:
    return BrokerAddress.parse(amqp_url)


@pytest.fixture(scope="module")
def server_properties(broker) -> dict:
    conn = broker.connect()
    try:
        return dict(conn._impl.server_properties)
    finally:
        conn.close()


def is_legacy_rabbitmq(server_properties: dict) -> bool:
    """RabbitMQ 3.x, where a few behaviours differ from the 4.x we match (see the reference)."""
    product = server_properties.get("product")
    version = server_properties.get("version")
    product = product.decode() if isinstance(product, bytes) else product
    version = version.decode() if isinstance(version, bytes) else (version or "")
    return product == "RabbitMQ" and version.split(".")[0].isdigit() and int(version.split(".")[0]) < 4


@pytest.fixture(scope="module")
def legacy_rabbitmq(server_properties) -> bool:
    return is_legacy_rabbitmq(server_properties)


class Names:
    """Unique queue and exchange names for one test; whatever was handed out is deleted after it."""

    def __init__(self, nodeid: str) -> None:
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", nodeid.rsplit("::", 1)[-1])[:40].strip("-")
        self.prefix = f"mqgw.{slug}.{secrets.token_hex(3)}"
        self.queues: list[str] = []
        self.exchanges: list[str] = []

    def queue(self, suffix: str = "q") -> str:
        name = f"{self.prefix}.{suffix}"
        self.queues.append(name)
        return name

    def exchange(self, suffix: str = "x") -> str:
        name = f"{self.prefix}.{suffix}"
        self.exchanges.append(name)
        return name

    def cleanup(self, broker: BrokerAddress) -> None:
        if not (self.queues or self.exchanges):
            return
        conn = broker.connect()
        try:
            for kind, items in (("queue", self.queues), ("exchange", self.exchanges)):
                for name in items:
                    ch = conn.channel()
                    try:
                        getattr(ch, f"{kind}_delete")(name)
                        ch.close()
                    except pika.exceptions.ChannelClosedByBroker:
                        pass  # e.g. still exclusive to a connection the test leaked
        finally:
            conn.close()


@pytest.fixture
def names(request, broker) -> Iterator[Names]:
    n = Names(request.node.nodeid)
    yield n
    n.cleanup(broker)


@pytest.fixture
def connection(broker) -> Iterator[pika.BlockingConnection]:
    conn = broker.connect()
    yield conn
    if conn.is_open:
        conn.close()


@pytest.fixture
def channel(connection):
    """A pika channel in confirm mode: basic_publish returns once the broker has enqueued the
    message. RabbitMQ hands publishes to queues asynchronously, so without this a basic.get or
    a declare-ok count right after a publish can miss it."""
    ch = connection.channel()
    ch.confirm_delivery()
    return ch
