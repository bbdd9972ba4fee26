"""Priority queues (x-max-priority, docs/priority.md), consumer priorities (x-priority,
docs/consumer-priority.md) and single active consumer (x-single-active-consumer). pika, aio-pika."""

from __future__ import annotations

import asyncio

import aio_pika
import pika

from tests.compat.amqp.helpers import channel_error, get_bodies, wait_for

VHOST = "/"


def test_priority_order_missing_counts_as_zero_and_above_max_as_max(channel, names):
    q = names.queue()
    channel.queue_declare(q, arguments={"x-max-priority": 5})
    for priority in (None, 1, 9, 3, 5, 0):
        channel.basic_publish("", q, b"p%s" % str(priority).encode(), pika.BasicProperties(priority=priority))
    # 9 counts as 5 and came before the real 5; no priority is 0 and came before the real 0
    assert get_bodies(channel, q) == [b"p9", b"p5", b"p3", b"p1", b"pNone", b"p0"]


def test_requeued_messages_go_back_to_their_priority_in_order(channel, names):
    q = names.queue()
    channel.queue_declare(q, arguments={"x-max-priority": 10})
    for body, priority in ((b"low-1", 1), (b"low-2", 1), (b"high-1", 8), (b"high-2", 8)):
        channel.basic_publish("", q, body, pika.BasicProperties(priority=priority))
    taken = [channel.basic_get(q) for _ in range(3)]  # high-1, high-2, low-1
    assert [body for _, _, body in taken] == [b"high-1", b"high-2", b"low-1"]
    channel.basic_nack(taken[2][0].delivery_tag, requeue=True)
    channel.basic_nack(taken[0][0].delivery_tag, requeue=True)
    channel.basic_qos(prefetch_count=0)
    assert get_bodies(channel, q) == [b"high-1", b"low-1", b"low-2"]


def test_non_priority_queue_ignores_message_priority(channel, names):
    q = names.queue()
    channel.queue_declare(q)
    for n, priority in enumerate((1, 9, 5)):
        channel.basic_publish("", q, b"%d" % n, pika.BasicProperties(priority=priority))
    assert get_bodies(channel, q) == [b"0", b"1", b"2"]


def test_max_priority_validation(connection, names):
    q = names.queue()
    assert channel_error(connection, lambda ch: ch.queue_declare(q, arguments={"x-max-priority": 256})) == (
        406, f"PRECONDITION_FAILED - invalid arg 'x-max-priority' for queue '{q}' in vhost '{VHOST}': "
             "{max_value_exceeded,256}")
    assert channel_error(connection, lambda ch: ch.queue_declare(q, arguments={"x-max-priority": -1})) == (
        406, f"PRECONDITION_FAILED - invalid arg 'x-max-priority' for queue '{q}' in vhost '{VHOST}': "
             "{value_negative,-1}")


def test_consumer_priorities(connection, channel, names):
    q = names.queue()
    channel.queue_declare(q)
    got = []
    high = connection.channel()
    high.basic_qos(prefetch_count=2)
    high.basic_consume(q, lambda c, m, p, b: got.append(("high", b)), arguments={"x-priority": 10})
    low = connection.channel()
    low.basic_consume(q, lambda c, m, p, b: got.append(("low", b)))
    for n in range(5):
        channel.basic_publish("", q, b"%d" % n)
    wait_for(lambda: len(got) == 5, connection)
    # the high-priority consumer takes what its prefetch allows; only then does the low one get any
    assert got == [("high", b"0"), ("high", b"1"), ("low", b"2"), ("low", b"3"), ("low", b"4")]


def test_equal_priorities_share_round_robin(connection, channel, names):
    q = names.queue()
    channel.queue_declare(q)
    got = []
    for label in ("a", "b"):
        ch = connection.channel()
        ch.basic_consume(q, lambda c, m, p, b, label=label: got.append(label), auto_ack=True,
                         arguments={"x-priority": 5})
    idle = connection.channel()
    idle.basic_consume(q, lambda c, m, p, b: got.append("idle"), auto_ack=True, arguments={"x-priority": -3})
    for n in range(4):
        channel.basic_publish("", q, b"%d" % n)
    wait_for(lambda: len(got) == 4, connection)
    assert sorted(got) == ["a", "a", "b", "b"]


def test_consumer_priority_must_be_an_integer(connection, names):
    q = names.queue()
    connection.channel().queue_declare(q)
    assert channel_error(connection, lambda ch: ch.basic_consume(
        q, lambda *a: None, arguments={"x-priority": "high"})) == (
        406, f"PRECONDITION_FAILED - invalid arg 'x-priority' for queue '{q}' in vhost '{VHOST}': "
             '"expected integer, got longstr"')


def test_capabilities_advertise_consumer_priorities_and_direct_reply_to(server_properties):
    capabilities = server_properties["capabilities"]
    assert capabilities["consumer_priorities"] is True
    assert capabilities["direct_reply_to"] is True


def test_single_active_consumer(connection, channel, names):
    q = names.queue()
    channel.queue_declare(q, arguments={"x-single-active-consumer": True})
    got = []
    first = connection.channel()
    first_tag = first.basic_consume(q, lambda c, m, p, b: got.append(("first", b)), auto_ack=True)
    second = connection.channel()
    second.basic_consume(q, lambda c, m, p, b: got.append(("second", b)), auto_ack=True)
    for n in range(3):
        channel.basic_publish("", q, b"%d" % n)
    wait_for(lambda: len(got) == 3, connection)
    assert channel.queue_declare(q, passive=True).method.consumer_count == 2
    first.basic_cancel(first_tag)
    for n in range(3, 5):
        channel.basic_publish("", q, b"%d" % n)
    wait_for(lambda: len(got) == 5, connection)
    assert got == [("first", b"0"), ("first", b"1"), ("first", b"2"), ("second", b"3"), ("second", b"4")]


def test_single_active_consumer_unacked_go_to_the_next_one(connection, channel, names):
    q = names.queue()
    channel.queue_declare(q, arguments={"x-single-active-consumer": True})
    got = []
    first = connection.channel()
    first.basic_consume(q, lambda c, m, p, b: got.append(("first", b, m.redelivered)))
    second = connection.channel()
    second.basic_consume(q, lambda c, m, p, b: (got.append(("second", b, m.redelivered)),
                                                c.basic_ack(m.delivery_tag)))
    channel.basic_publish("", q, b"work")
    wait_for(lambda: len(got) == 1, connection)
    first.close()  # never acked: back to the queue, to the consumer now active
    wait_for(lambda: len(got) == 2, connection)
    assert got == [("first", b"work", False), ("second", b"work", True)]


def test_single_active_consumer_must_be_a_bool(connection, names):
    q = names.queue()
    assert channel_error(connection, lambda ch: ch.queue_declare(q, arguments={"x-single-active-consumer": 1})) == (
        406, f"PRECONDITION_FAILED - invalid arg 'x-single-active-consumer' for queue '{q}' in vhost '{VHOST}': "
             "{unacceptable_type,signedint}")


def test_aio_pika_priority_queue(broker, names):
    q = names.queue()

    async def run():
        conn = await aio_pika.connect(broker.url())
        async with conn:
            ch = await conn.channel()
            queue = await ch.declare_queue(q, arguments={"x-max-priority": 3})
            for body, priority in ((b"a", 0), (b"b", 3), (b"c", 2)):
                await ch.default_exchange.publish(aio_pika.Message(body, priority=priority), routing_key=q)
            bodies = []
            for _ in range(3):
                message = await queue.get()
                await message.ack()
                bodies.append(message.body)
            assert bodies == [b"b", b"c", b"a"]

    asyncio.run(run())
