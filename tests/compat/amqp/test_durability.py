"""Durability across broker restarts, as RabbitMQ defines it: durable exchanges, queues and their
bindings come back; persistent messages in durable queues come back, even after kill -9 once
they were confirmed; transient queues, transient exchanges, exclusive queues and non-persistent
messages do not.

These tests must stop and start the broker process, so they run only against our own server
(`server_only`: deselected when AMQP_URL points at an outside broker). The checks themselves are
written against a `restart` callable and were verified against RabbitMQ 3.10 by restarting its node.
"""

from __future__ import annotations

from collections.abc import Callable

import pika
import pytest

from tests.compat.amqp.conftest import BrokerAddress, Names
from tests.compat.amqp.helpers import channel_error, get_bodies

pytestmark = pytest.mark.server_only

PERSISTENT = pika.BasicProperties(delivery_mode=2)
TRANSIENT = pika.BasicProperties(delivery_mode=1)


def check_restart_keeps_durable_topology_and_persistent_messages(broker: BrokerAddress, restart: Callable[[], None],
                                                                 prefix: str) -> None:
    durable_x, transient_x = f"{prefix}.durable-x", f"{prefix}.transient-x"
    durable_q, transient_q, exclusive_q = f"{prefix}.durable-q", f"{prefix}.transient-q", f"{prefix}.exclusive-q"
    conn = broker.connect()
    ch = conn.channel()
    ch.confirm_delivery()
    ch.exchange_declare(durable_x, "topic", durable=True)
    ch.exchange_declare(transient_x, "fanout", durable=False)
    ch.queue_declare(durable_q, durable=True, arguments={"x-mqgw-note": "kept"})
    ch.queue_declare(transient_q, durable=False)
    ch.queue_declare(exclusive_q, exclusive=True)
    ch.queue_bind(durable_q, durable_x, "keep.#")
    ch.queue_bind(transient_q, durable_x, "keep.#")
    ch.queue_bind(durable_q, transient_x)
    ch.basic_publish(durable_x, "keep.a", b"persistent 1", PERSISTENT)
    ch.basic_publish(durable_x, "keep.b", b"transient", TRANSIENT)
    ch.basic_publish(durable_x, "keep.c", b"persistent 2", PERSISTENT)
    # an unacked delivery at restart time is still a message of the queue
    getter = conn.channel()
    method, _, body = getter.basic_get(durable_q, auto_ack=False)
    assert body == b"persistent 1"
    restart()

    conn = broker.connect()
    try:
        ch = conn.channel()
        ch.confirm_delivery()
        ch.exchange_declare(durable_x, "topic", passive=True)
        ok = ch.queue_declare(durable_q, passive=True).method
        assert ok.message_count == 2
        # equivalence still holds for what was declared before the restart
        ch.queue_declare(durable_q, durable=True, arguments={"x-mqgw-note": "kept"})
        ch.exchange_declare(durable_x, "topic", durable=True)
        for gone in (transient_q, exclusive_q):
            assert channel_error(conn, lambda c, q=gone: c.queue_declare(q, passive=True))[0] == 404
        assert channel_error(conn, lambda c: c.exchange_declare(transient_x, "fanout", passive=True))[0] == 404
        got = []
        for _ in range(2):
            method, _, body = ch.basic_get(durable_q, auto_ack=True)
            got.append(body)
        assert sorted(got) == [b"persistent 1", b"persistent 2"]
        # the binding survived with its exchange and queue
        ch.basic_publish(durable_x, "keep.after", b"after restart", PERSISTENT)
        assert get_bodies(ch, durable_q) == [b"after restart"]
        ch.queue_delete(durable_q)
        ch.exchange_delete(durable_x)
    finally:
        conn.close()


def check_confirmed_persistent_messages_survive_kill9(broker: BrokerAddress, crash_and_start: Callable[[], None],
                                                      prefix: str) -> None:
    q = f"{prefix}.kill9-q"
    conn = broker.connect()
    ch = conn.channel()
    ch.queue_declare(q, durable=True)
    ch.confirm_delivery()
    bodies = [b"message %d " % i + b"x" * (i * 37 % 5000) for i in range(300)]
    for body in bodies:
        ch.basic_publish("", q, body, PERSISTENT)  # returns once confirmed
    crash_and_start()

    conn = broker.connect()
    try:
        ch = conn.channel()
        assert ch.queue_declare(q, passive=True).method.message_count == len(bodies)
        assert get_bodies(ch, q) == bodies
        ch.queue_delete(q)
    finally:
        conn.close()


@pytest.fixture
def durable_broker(durable_server):
    return BrokerAddress.parse(durable_server.amqp_url)


@pytest.fixture
def prefix(request) -> str:
    # each test has a server of its own, which it throws away: nothing to clean up
    return Names(request.node.nodeid).prefix


def test_restart_keeps_durable_topology_and_persistent_messages(durable_server, durable_broker, prefix):
    def restart() -> None:
        durable_server.stop()
        durable_server.start()

    check_restart_keeps_durable_topology_and_persistent_messages(durable_broker, restart, prefix)


def test_confirmed_persistent_messages_survive_kill9(durable_server, durable_broker, prefix):
    def crash_and_start() -> None:
        durable_server.kill9()
        durable_server.start()

    check_confirmed_persistent_messages_survive_kill9(durable_broker, crash_and_start, prefix)


def test_exclusive_queue_removed_when_its_connection_closes(durable_broker, prefix):
    owner = durable_broker.connect()
    q = f"{prefix}.exclusive"
    owner.channel().queue_declare(q, exclusive=True, durable=False)
    other = durable_broker.connect()
    try:
        assert channel_error(other, lambda c: c.queue_declare(q, passive=True))[0] == 405
        owner.close()
        assert channel_error(other, lambda c: c.queue_declare(q, passive=True))[0] == 404
    finally:
        other.close()
