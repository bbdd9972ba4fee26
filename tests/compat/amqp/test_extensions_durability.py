"""What the extensions keep across a restart or kill -9 of the broker: messages delivered before a
crash come back redelivered (as RabbitMQ's classic queue index records deliveries); TTL keeps
counting and expired messages are dead-lettered after the restart; a dead-lettered message keeps
its x-death history; priority and quorum queues come back with their messages in order.

These need to stop and start the broker process, so they run only against our own server
(`server_only`, deselected when AMQP_URL names an outside broker).
"""

from __future__ import annotations

import time

import pika
import pytest

from tests.compat.amqp.conftest import BrokerAddress, Names
from tests.compat.amqp.helpers import get_bodies, wait_for

pytestmark = pytest.mark.server_only

PERSISTENT = pika.BasicProperties(delivery_mode=2)


@pytest.fixture
def durable_broker(durable_server):
    return BrokerAddress.parse(durable_server.amqp_url)


@pytest.fixture
def prefix(request) -> str:
    return Names(request.node.nodeid).prefix


def test_delivered_messages_come_back_redelivered_after_kill9(durable_server, durable_broker, prefix):
    q = f"{prefix}.work"
    conn = durable_broker.connect()
    ch = conn.channel()
    ch.confirm_delivery()
    ch.queue_declare(q, durable=True)
    for n in range(4):
        ch.basic_publish("", q, b"m%d" % n, PERSISTENT)
    taker = conn.channel()
    for n in range(2):  # delivered, never acked
        method, _, body = taker.basic_get(q)
        assert body == b"m%d" % n and not method.redelivered
    taker.basic_qos(prefetch_count=0)  # a round trip after the gets
    durable_server.kill9()
    durable_server.start()

    conn = durable_broker.connect()
    try:
        ch = conn.channel()
        seen = []
        for _ in range(4):
            method, _, body = ch.basic_get(q, auto_ack=True)
            seen.append((body, method.redelivered))
        assert seen == [(b"m0", True), (b"m1", True), (b"m2", False), (b"m3", False)]
    finally:
        conn.close()


def test_ttl_and_dead_letter_history_survive_a_restart(durable_server, durable_broker, prefix):
    q, dlq = f"{prefix}.ttl", f"{prefix}.dlq"
    conn = durable_broker.connect()
    ch = conn.channel()
    ch.confirm_delivery()
    ch.queue_declare(dlq, durable=True)
    ch.queue_declare(q, durable=True, arguments={"x-message-ttl": 1500, "x-dead-letter-exchange": "",
                                                 "x-dead-letter-routing-key": dlq})
    ch.basic_publish("", q, b"expires later", pika.BasicProperties(delivery_mode=2, expiration="60000"))
    kept = f"{prefix}.kept"
    ch.queue_declare(kept, durable=True, arguments={"x-message-ttl": 120_000})
    ch.basic_publish("", kept, b"not yet", PERSISTENT)
    durable_server.stop()
    durable_server.start()

    conn = durable_broker.connect()
    try:
        ch = conn.channel()
        # expiry was fixed at publish time: the timer armed at start-up dead-letters the one due
        wait_for(lambda: ch.queue_declare(dlq, passive=True).method.message_count == 1, timeout=5)
        assert ch.queue_declare(q, passive=True).method.message_count == 0
        assert ch.queue_declare(kept, passive=True).method.message_count == 1
    finally:
        conn.close()
    durable_server.kill9()
    durable_server.start()

    conn = durable_broker.connect()
    try:
        ch = conn.channel()
        method, props, body = ch.basic_get(dlq, auto_ack=True)
        assert body == b"expires later" and props.expiration is None
        (death,) = props.headers["x-death"]
        assert (death["reason"], death["queue"], death["original-expiration"]) == ("expired", q, "60000")
        assert props.headers["x-first-death-queue"] == q
    finally:
        conn.close()


def test_priority_and_quorum_queues_come_back_in_order(durable_server, durable_broker, prefix):
    prio, quorum = f"{prefix}.prio", f"{prefix}.quorum"
    conn = durable_broker.connect()
    ch = conn.channel()
    ch.confirm_delivery()
    ch.queue_declare(prio, durable=True, arguments={"x-max-priority": 9})
    ch.queue_declare(quorum, durable=True, arguments={"x-queue-type": "quorum", "x-delivery-limit": 5})
    for body, priority in ((b"low", 1), (b"high", 9), (b"mid", 5)):
        ch.basic_publish("", prio, body, pika.BasicProperties(delivery_mode=2, priority=priority))
    for n in range(3):  # a quorum queue logs every message, transient ones too
        ch.basic_publish("", quorum, b"q%d" % n, PERSISTENT if n != 1 else pika.BasicProperties(delivery_mode=1))
    durable_server.kill9()
    durable_server.start()

    conn = durable_broker.connect()
    try:
        ch = conn.channel()
        assert get_bodies(ch, prio) == [b"high", b"mid", b"low"]
        assert get_bodies(ch, quorum) == [b"q0", b"q1", b"q2"]
        # equivalence still holds after the restart, with its type
        ch.queue_declare(quorum, durable=True, arguments={"x-queue-type": "quorum", "x-delivery-limit": 5})
    finally:
        conn.close()


def test_x_expires_is_counted_again_after_a_restart(durable_server, durable_broker, prefix):
    q = f"{prefix}.lease"
    conn = durable_broker.connect()
    conn.channel().queue_declare(q, durable=True, arguments={"x-expires": 1000})
    conn.close()
    durable_server.stop()
    durable_server.start()
    # counted from start-up; looking earlier (a passive declare) would renew the lease, so wait
    # well past it even on a loaded machine
    time.sleep(3.0)
    conn = durable_broker.connect()
    try:
        ch = conn.channel()
        with pytest.raises(pika.exceptions.ChannelClosedByBroker) as info:
            ch.queue_declare(q, passive=True)
        assert info.value.reply_code == 404
    finally:
        conn.close()
