"""Quorum queues (x-queue-type=quorum, docs/quorum-queues): declaration rules and texts, the
arguments each queue type accepts, x-delivery-limit with the x-delivery-count header and poison
messages dead-lettered with reason delivery_limit, single active consumer, global QoS, and the
consumer timeout. pika and aio-pika.

Differences between RabbitMQ 3.10 and the 4.x behaviour mqgateway follows, keyed on the server's
version: 4.x gives quorum queues a default x-delivery-limit of 20 (3.10: unlimited); 3.10 puts
`x-delivery-count: 0` on a first delivery where 4.x (before 4.3) sets the header only on
redeliveries; 3.10 knows no x-consumer-timeout argument (added in 3.12; 4.x accepts it on quorum
queues only and refuses it on classic ones); 3.10 serves returned messages after the waiting ones,
4.x before them.
"""

from __future__ import annotations

import time

import pika
import pytest

from tests.compat.amqp.helpers import channel_error, get_bodies, wait_for

VHOST = "/"
QUORUM = {"x-queue-type": "quorum"}


def get_unacked(ch, queue: str):
    got = []
    wait_for(lambda: got.append(ch.basic_get(queue, auto_ack=False)) or got[-1][0] is not None)
    return got[-1]


@pytest.mark.parametrize(("kwargs", "prop"), [
    ({"durable": False}, "non-durable"),
    ({"durable": True, "exclusive": True}, "exclusive-owner"),
    ({"durable": True, "auto_delete": True}, "auto-delete"),
    ({"durable": False, "exclusive": True, "auto_delete": True}, "auto-delete"),
])
def test_quorum_queues_are_durable_shared_and_kept(connection, names, kwargs, prop):
    q = names.queue()
    assert channel_error(connection, lambda ch: ch.queue_declare(q, arguments=QUORUM, **kwargs)) == (
        406, f"PRECONDITION_FAILED - invalid property '{prop}' for queue '{q}' in vhost '{VHOST}'")


def test_quorum_queues_cannot_be_server_named(connection):
    assert channel_error(connection, lambda ch: ch.queue_declare("", durable=True, arguments=QUORUM)) == (
        406, "PRECONDITION_FAILED - Cannot declare a server-named queue for type rabbit_quorum_queue")


@pytest.mark.parametrize(("arguments", "queue_type"), [
    ({**QUORUM, "x-max-priority": 5}, "rabbit_quorum_queue"),
    ({**QUORUM, "x-queue-mode": "lazy"}, "rabbit_quorum_queue"),
    ({"x-delivery-limit": 5}, "rabbit_classic_queue"),
    ({"x-queue-type": "classic", "x-dead-letter-strategy": "at-least-once"}, "rabbit_classic_queue"),
])
def test_arguments_of_another_queue_type(connection, names, arguments, queue_type):
    q = names.queue()
    key = [k for k in arguments if k != "x-queue-type"][0]
    assert channel_error(connection, lambda ch: ch.queue_declare(q, durable=True, arguments=arguments)) == (
        406, f"PRECONDITION_FAILED - invalid arg '{key}' for queue '{q}' in vhost '{VHOST}' of queue type {queue_type}")


def test_queue_type_is_compared_on_redeclare(connection, names):
    quorum, classic = names.queue("quorum"), names.queue("classic")
    connection.channel().queue_declare(quorum, durable=True, arguments=QUORUM)
    connection.channel().queue_declare(classic, durable=True)
    # classic and no type at all are the same thing
    connection.channel().queue_declare(classic, durable=True, arguments={"x-queue-type": "classic"})
    head = "PRECONDITION_FAILED - inequivalent arg 'x-queue-type' for queue '{q}' in vhost '/': "
    assert channel_error(connection, lambda ch: ch.queue_declare(quorum, durable=True)) == (
        406, head.format(q=quorum) + "received none but current is the value 'quorum' of type 'longstr'")
    assert channel_error(connection, lambda ch: ch.queue_declare(classic, durable=True, arguments=QUORUM)) == (
        406, head.format(q=classic) + "received the value 'quorum' of type 'longstr' but current is none")
    assert channel_error(connection, lambda ch: ch.queue_declare(
        quorum, durable=True, arguments={**QUORUM, "x-delivery-limit": 3})) == (
        406, f"PRECONDITION_FAILED - inequivalent arg 'x-delivery-limit' for queue '{quorum}' in vhost '/': "
             "received the value '3' of type 'signedint' but current is none")


def test_poison_message_is_dead_lettered_after_the_delivery_limit(channel, names, legacy_rabbitmq):
    q, dlq = names.queue("qq"), names.queue("poison")
    channel.queue_declare(dlq)
    channel.queue_declare(q, durable=True, arguments={**QUORUM, "x-delivery-limit": 2, "x-dead-letter-exchange": "",
                                                      "x-dead-letter-routing-key": dlq})
    channel.basic_publish("", q, b"poison", pika.BasicProperties(headers={"app": "x"}))
    seen = []
    for _ in range(3):
        method, props, _ = get_unacked(channel, q)
        seen.append((method.redelivered, (props.headers or {}).get("x-delivery-count")))
        channel.basic_nack(method.delivery_tag, requeue=True)
    first = 0 if legacy_rabbitmq else None  # 4.x sets the header on redeliveries only
    assert seen == [(False, first), (True, 1), (True, 2)]
    method, props, body = get_unacked(channel, dlq)
    channel.basic_ack(method.delivery_tag)
    assert body == b"poison" and channel.basic_get(q)[0] is None
    death = props.headers["x-death"][0]
    assert (death["reason"], death["queue"], death["count"]) == ("delivery_limit", q, 1)
    assert "x-delivery-count" not in props.headers and props.headers["app"] == "x"


def test_default_delivery_limit(channel, names, legacy_rabbitmq):
    q = names.queue("qq")
    channel.queue_declare(q, durable=True, arguments=QUORUM)
    channel.basic_publish("", q, b"m")
    for attempt in range(21):
        method, _, _ = get_unacked(channel, q)
        channel.basic_reject(method.delivery_tag, requeue=True)
    channel.basic_qos(prefetch_count=0)
    method, props, _ = channel.basic_get(q)
    if legacy_rabbitmq:
        # 3.10: no limit unless one is set
        assert method is not None and props.headers["x-delivery-count"] == 21
    else:
        # 4.x: x-delivery-limit defaults to 20; the 21st return drops it (no DLX here)
        assert method is None


def test_returned_messages_are_served_first(channel, names, legacy_rabbitmq):
    q = names.queue("qq")
    channel.queue_declare(q, durable=True, arguments=QUORUM)
    for n in range(4):
        channel.basic_publish("", q, b"%d" % n)
    taken = [channel.basic_get(q) for _ in range(3)]
    channel.basic_nack(taken[2][0].delivery_tag, requeue=True)
    channel.basic_nack(taken[0][0].delivery_tag, requeue=True)
    channel.basic_ack(taken[1][0].delivery_tag)
    # a quorum queue applies settlements through its log, after the channel answered: wait for them
    wait_for(lambda: channel.queue_declare(q, passive=True).method.message_count == 3)
    if legacy_rabbitmq:
        # measured on 3.10.8: returned messages come after the ones that were waiting
        assert get_bodies(channel, q) == [b"3", b"2", b"0"]
    else:
        # 4.x rabbit_fifo:take_next_msg/1 serves its `returns` queue first, in return order
        assert get_bodies(channel, q) == [b"2", b"0", b"3"]


def test_quorum_ttl_and_length_limit(channel, names):
    q, dlq = names.queue("qq"), names.queue("dlq")
    channel.queue_declare(dlq)
    channel.queue_declare(q, durable=True, arguments={**QUORUM, "x-message-ttl": 100, "x-dead-letter-exchange": "",
                                                      "x-dead-letter-routing-key": dlq})
    channel.basic_publish("", q, b"expires")
    wait_for(lambda: channel.queue_declare(dlq, passive=True).method.message_count == 1)
    capped = names.queue("capped")
    channel.queue_declare(capped, durable=True, arguments={**QUORUM, "x-max-length": 2})
    for n in range(4):
        channel.basic_publish("", capped, b"%d" % n)
    wait_for(lambda: channel.queue_declare(capped, passive=True).method.message_count == 2)
    assert get_bodies(channel, capped) == [b"2", b"3"]


def test_basic_get_on_single_active_consumer_quorum_queue(connection, names):
    q = names.queue("qq")
    connection.channel().queue_declare(q, durable=True, arguments={**QUORUM, "x-single-active-consumer": True})
    assert channel_error(connection, lambda ch: ch.basic_get(q)) == (
        405, f"RESOURCE_LOCKED - cannot obtain access to locked queue '{q}' in vhost '{VHOST}'. "
             "basic.get operations are not supported by quorum queues with single active consumer")


def test_global_qos_is_not_supported(broker, names):
    q = names.queue("qq")
    conn = broker.connect()
    try:
        conn.channel().queue_declare(q, durable=True, arguments=QUORUM)
        ch = conn.channel()
        ch.basic_qos(prefetch_count=5, global_qos=True)
        with pytest.raises(pika.exceptions.ConnectionClosedByBroker) as info:
            ch.basic_consume(q, lambda *a: None)
        assert (info.value.reply_code, info.value.reply_text) == (
            540, f"NOT_IMPLEMENTED - queue '{q}' in vhost '{VHOST}' does not support global qos")
    finally:
        if conn.is_open:
            conn.close()


def test_consumer_timeout_closes_the_channel(connection, channel, names, legacy_rabbitmq):
    q = names.queue("qq")
    channel.queue_declare(q, durable=True, arguments={**QUORUM, "x-consumer-timeout": 500})
    channel.basic_publish("", q, b"slow")
    consumer = connection.channel()
    got = []
    consumer.basic_consume(q, lambda c, m, p, b: got.append(b))
    wait_for(lambda: got == [b"slow"], connection)
    deadline = time.monotonic() + (2.0 if legacy_rabbitmq else 5.0)
    while consumer.is_open and time.monotonic() < deadline:
        connection.process_data_events(time_limit=0.05)
    if legacy_rabbitmq:
        assert consumer.is_open  # 3.10 does not know x-consumer-timeout (only the server-wide 30 min)
        return
    assert consumer.is_closed
    reason = consumer._closing_reason
    assert (reason.reply_code, reason.reply_text) == (
        406, f"PRECONDITION_FAILED - delivery acknowledgement on channel {consumer.channel_number} timed out. "
             "Timeout value used: 500 ms. This timeout value can be configured, see consumers doc guide to "
             "learn more")
    # the message went back, and counts as a delivery attempt
    method, props, _ = get_unacked(channel, q)
    assert method.redelivered and props.headers["x-delivery-count"] == 1
    channel.basic_ack(method.delivery_tag)


def test_consumer_argument_timeout(connection, channel, names, legacy_rabbitmq):
    q = names.queue("qq")
    channel.queue_declare(q, durable=True, arguments=QUORUM)
    channel.basic_publish("", q, b"slow")
    consumer = connection.channel()
    consumer.basic_consume(q, lambda *a: None, arguments={"x-consumer-timeout": 300})
    deadline = time.monotonic() + 3.0
    while consumer.is_open and time.monotonic() < deadline:
        connection.process_data_events(time_limit=0.05)
    assert consumer.is_open is legacy_rabbitmq


def test_consumer_timeout_argument_is_for_quorum_queues(connection, names, legacy_rabbitmq):
    q = names.queue()
    if legacy_rabbitmq:
        connection.channel().queue_declare(q, arguments={"x-consumer-timeout": 1000})  # unknown to 3.10
        return
    assert channel_error(connection, lambda ch: ch.queue_declare(q, arguments={"x-consumer-timeout": 1000})) == (
        406, f"PRECONDITION_FAILED - invalid arg 'x-consumer-timeout' for queue '{q}' in vhost '{VHOST}' "
             "of queue type rabbit_classic_queue")
