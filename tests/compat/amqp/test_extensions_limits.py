"""Queue length limits (docs/maxlength): x-max-length and x-max-length-bytes count ready messages
only; x-overflow drop-head (the default), reject-publish (a publisher nack under confirms, a
silent drop without) and reject-publish-dlx. pika, aio-pika (its test_delivery_fail) and amqplib."""

from __future__ import annotations

import asyncio

import aio_pika
import pika
import pytest

from tests.compat.amqp.helpers import channel_error, get_bodies, wait_for

VHOST = "/"


def count(ch, queue: str) -> int:
    return ch.queue_declare(queue, passive=True).method.message_count


def test_drop_head_keeps_the_newest(channel, names):
    q = names.queue()
    channel.queue_declare(q, arguments={"x-max-length": 3})
    for n in range(6):
        channel.basic_publish("", q, b"%d" % n)
    assert get_bodies(channel, q) == [b"3", b"4", b"5"]


def test_only_ready_messages_count(channel, names):
    q = names.queue()
    channel.queue_declare(q, arguments={"x-max-length": 1})
    channel.basic_publish("", q, b"taken")
    method, _, _ = channel.basic_get(q)  # unacked now: does not count
    channel.basic_publish("", q, b"ready")
    assert count(channel, q) == 1
    channel.basic_nack(method.delivery_tag, requeue=True)
    # back among the ready ones: two ready, one too many, so the head ("taken") is dropped
    channel.basic_qos(prefetch_count=0)
    assert get_bodies(channel, q) == [b"ready"]


def test_max_length_bytes_counts_bodies(channel, names):
    q = names.queue()
    channel.queue_declare(q, arguments={"x-max-length-bytes": 10})
    for body in (b"12345", b"67890", b"abcde"):
        channel.basic_publish("", q, body)
    assert get_bodies(channel, q) == [b"67890", b"abcde"]


def test_reject_publish_nacks_the_publisher(channel, names):
    q = names.queue()
    channel.queue_declare(q, arguments={"x-max-length": 1, "x-overflow": "reject-publish"})
    channel.basic_publish("", q, b"fits")
    with pytest.raises(pika.exceptions.NackError):
        channel.basic_publish("", q, b"refused")
    assert get_bodies(channel, q) == [b"fits"]
    channel.basic_publish("", q, b"room again")  # acked once there is room
    assert get_bodies(channel, q) == [b"room again"]


def test_reject_publish_without_confirms_drops_silently(connection, names):
    q = names.queue()
    ch = connection.channel()
    ch.queue_declare(q, arguments={"x-max-length": 1, "x-overflow": "reject-publish"})
    for body in (b"one", b"two", b"three"):
        ch.basic_publish("", q, body)
    wait_for(lambda: count(ch, q) == 1)
    assert ch.is_open and get_bodies(ch, q) == [b"one"]


def test_reject_publish_nack_among_acks(broker, names):
    """Pipelined publishes: the refused ones are nacked, the rest acked (aio-pika waits on each)."""
    q = names.queue()

    async def run():
        conn = await aio_pika.connect(broker.url())
        async with conn:
            ch = await conn.channel()
            await ch.declare_queue(q, arguments={"x-max-length": 2, "x-overflow": "reject-publish"})
            results = await asyncio.gather(
                *(ch.default_exchange.publish(aio_pika.Message(b"%d" % n), routing_key=q) for n in range(4)),
                return_exceptions=True)
            outcome = ["nack" if isinstance(r, aio_pika.exceptions.DeliveryError) else "ack" for r in results]
            assert outcome == ["ack", "ack", "nack", "nack"]

    asyncio.run(run())


def test_aio_pika_delivery_fail(broker, names):
    """aio-pika's test_delivery_fail: x-max-length=1, reject-publish, the second publish raises."""
    q = names.queue()

    async def run():
        conn = await aio_pika.connect(broker.url())
        async with conn:
            ch = await conn.channel()
            queue = await ch.declare_queue(q, arguments={"x-max-length": 1, "x-overflow": "reject-publish"})
            await ch.default_exchange.publish(aio_pika.Message(b"ok"), routing_key=q)
            with pytest.raises(aio_pika.exceptions.DeliveryError):
                await ch.default_exchange.publish(aio_pika.Message(b"fail"), routing_key=q)
            await queue.purge()

    asyncio.run(run())


def test_reject_publish_dlx_nacks_and_dead_letters(channel, names):
    q, dlq = names.queue(), names.queue("dlq")
    channel.queue_declare(dlq)
    channel.queue_declare(q, arguments={"x-max-length": 1, "x-overflow": "reject-publish-dlx",
                                        "x-dead-letter-exchange": "", "x-dead-letter-routing-key": dlq})
    channel.basic_publish("", q, b"kept")
    with pytest.raises(pika.exceptions.NackError):
        channel.basic_publish("", q, b"overflow")
    wait_for(lambda: count(channel, dlq) == 1)
    _, props, body = channel.basic_get(dlq, auto_ack=True)
    assert body == b"overflow" and props.headers["x-death"][0]["reason"] == "maxlen"
    assert get_bodies(channel, q) == [b"kept"]


def test_one_full_queue_nacks_a_message_routed_to_several(channel, names):
    x, full, free = names.exchange(), names.queue("full"), names.queue("free")
    channel.exchange_declare(x, "fanout")
    channel.queue_declare(full, arguments={"x-max-length": 0, "x-overflow": "reject-publish"})
    channel.queue_declare(free)
    channel.queue_bind(full, x)
    channel.queue_bind(free, x)
    with pytest.raises(pika.exceptions.NackError):
        channel.basic_publish(x, "", b"half")
    assert get_bodies(channel, free) == [b"half"]


@pytest.mark.parametrize(("arguments", "key", "problem"), [
    ({"x-max-length": -1}, "x-max-length", "{value_negative,-1}"),
    ({"x-max-length-bytes": "10"}, "x-max-length-bytes", '"expected integer, got longstr"'),
    ({"x-overflow": "drop-tail"}, "x-overflow", "invalid_overflow"),
    ({"x-overflow": 1}, "x-overflow", "{unacceptable_type,signedint}"),
])
def test_limit_argument_validation(connection, names, arguments, key, problem):
    q = names.queue()
    assert channel_error(connection, lambda ch: ch.queue_declare(q, arguments=arguments)) == (
        406, f"PRECONDITION_FAILED - invalid arg '{key}' for queue '{q}' in vhost '{VHOST}': {problem}")
