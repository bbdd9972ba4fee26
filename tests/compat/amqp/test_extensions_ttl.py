"""Message TTL and queue TTL (docs/ttl.md): x-message-ttl, the per-message expiration property
(the lower wins), x-message-ttl=0, expiry at the head of the queue only, expired messages never
delivered, x-expires for unused queues, and RabbitMQ's 406 texts for bad values. pika and kombu."""

from __future__ import annotations

import time

import kombu
import pika
import pytest

from tests.compat.amqp.helpers import channel_error, get_bodies, settle, wait_for

VHOST = "/"


def count(ch, queue: str) -> int:
    return ch.queue_declare(queue, passive=True).method.message_count


def test_queue_ttl_expires_messages_without_a_consumer(channel, names):
    q = names.queue()
    channel.queue_declare(q, arguments={"x-message-ttl": 200})
    channel.basic_publish("", q, b"gone soon")
    assert count(channel, q) == 1
    wait_for(lambda: count(channel, q) == 0, timeout=3)
    assert channel.basic_get(q)[0] is None


def test_per_message_ttl_lower_of_the_two_wins(channel, names):
    q = names.queue()
    channel.queue_declare(q, arguments={"x-message-ttl": 60_000})
    channel.basic_publish("", q, b"short", pika.BasicProperties(expiration="150"))
    channel.basic_publish("", q, b"queue ttl", pika.BasicProperties(expiration="3600000"))
    wait_for(lambda: count(channel, q) == 1, timeout=3)
    method, props, body = channel.basic_get(q, auto_ack=True)
    # delivered messages keep their expiration property
    assert (body, props.expiration) == (b"queue ttl", "3600000")


def test_expiry_happens_at_the_head_only(channel, names):
    q = names.queue()
    channel.queue_declare(q)
    channel.basic_publish("", q, b"long", pika.BasicProperties(expiration="100000"))
    channel.basic_publish("", q, b"short", pika.BasicProperties(expiration="1"))
    time.sleep(0.3)
    assert count(channel, q) == 2  # "short" has expired but is not at the head yet
    assert channel.basic_get(q, auto_ack=True)[2] == b"long"
    # now at the head, it is dropped rather than delivered
    assert channel.basic_get(q, auto_ack=True)[0] is None
    assert count(channel, q) == 0


def test_ttl_zero_delivers_only_to_a_waiting_consumer(connection, channel, names):
    q = names.queue()
    channel.queue_declare(q, arguments={"x-message-ttl": 0})
    channel.basic_publish("", q, b"no one waiting")
    assert count(channel, q) == 0
    got = []
    consumer = connection.channel()
    consumer.basic_consume(q, lambda c, m, p, b: got.append(b), auto_ack=True)
    channel.basic_publish("", q, b"taken at once")
    wait_for(lambda: got == [b"taken at once"], connection)


def test_expired_messages_are_never_delivered_to_a_consumer(connection, channel, names):
    q = names.queue()
    channel.queue_declare(q)
    for n in range(3):
        channel.basic_publish("", q, b"old %d" % n, pika.BasicProperties(expiration="50"))
    channel.basic_publish("", q, b"fresh")
    time.sleep(0.2)
    got = []
    consumer = connection.channel()
    consumer.basic_consume(q, lambda c, m, p, b: got.append(b), auto_ack=True)
    wait_for(lambda: got == [b"fresh"], connection)
    settle(connection)
    assert got == [b"fresh"]


def test_requeued_message_keeps_its_original_expiry(connection, channel, names):
    q = names.queue()
    channel.queue_declare(q, arguments={"x-message-ttl": 300})
    channel.basic_publish("", q, b"m")
    method, _, _ = channel.basic_get(q)
    time.sleep(0.4)
    channel.basic_nack(method.delivery_tag, requeue=True)
    channel.basic_qos(prefetch_count=0)  # round trip: the nack is processed
    assert get_bodies(channel, q) == []  # back at the head, past its time: dropped


def test_unused_queue_expires_and_use_renews_it(connection, names):
    ch = connection.channel()
    q = names.queue()
    ch.queue_declare(q, arguments={"x-expires": 600})
    for _ in range(3):  # each redeclare renews the lease
        time.sleep(0.3)
        ch.queue_declare(q, arguments={"x-expires": 600})
    time.sleep(0.3)
    ch.basic_get(q)  # so does basic.get
    time.sleep(0.4)
    assert ch.queue_declare(q, passive=True).method.queue == q
    tag = ch.basic_consume(q, lambda *a: None)
    time.sleep(0.9)  # a queue with a consumer is in use
    assert ch.queue_declare(q, passive=True).method.queue == q
    ch.basic_cancel(tag)
    # Unused from now on. Looking at it (a passive declare) would renew the lease too, so wait
    # well past it and look once.
    time.sleep(2.5)
    assert channel_error(connection, lambda c: c.queue_declare(q, passive=True)) == (
        404, f"NOT_FOUND - no queue '{q}' in vhost '{VHOST}'")


def test_expired_queue_does_not_dead_letter_its_messages(channel, names):
    q, dlq = names.queue(), names.queue("dlq")
    channel.queue_declare(dlq)
    channel.queue_declare(q, arguments={"x-expires": 200, "x-dead-letter-exchange": "",
                                        "x-dead-letter-routing-key": dlq})
    channel.basic_publish("", q, b"stays behind")
    time.sleep(0.8)
    assert count(channel, dlq) == 0


@pytest.mark.parametrize(("arguments", "problem"), [
    ({"x-message-ttl": -1}, "{value_negative,-1}"),
    ({"x-message-ttl": 315360000001}, "{value_too_large,315360000001}"),
    ({"x-message-ttl": "1000"}, '"expected integer, got longstr"'),
    ({"x-expires": 0}, "{value_zero,0}"),
    ({"x-expires": -5}, "{value_negative,-5}"),
])
def test_ttl_argument_validation(connection, names, arguments, problem):
    q = names.queue()
    (key,) = arguments
    assert channel_error(connection, lambda ch: ch.queue_declare(q, arguments=arguments)) == (
        406, f"PRECONDITION_FAILED - invalid arg '{key}' for queue '{q}' in vhost '{VHOST}': {problem}")


@pytest.mark.parametrize(("expiration", "problem"), [
    ("abc", "no_integer"), (" 100", "no_integer"), ("-1", "{value_negative,-1}"),
    ("10x", '{leftover_string,"x"}'), ("315360000001", "{value_too_large,315360000001}"),
])
def test_bad_expiration_property(connection, names, expiration, problem):
    q = names.queue()
    connection.channel().queue_declare(q)
    assert channel_error(connection, lambda ch: ch.basic_publish("", q, b"", pika.BasicProperties(
        expiration=expiration))) == (406, f"PRECONDITION_FAILED - invalid expiration '{expiration}': {problem}")


def test_kombu_queue_with_message_ttl_and_dead_letter(broker, names):
    q, dlq = names.queue("kombu"), names.queue("kombu-dlq")
    with kombu.Connection(broker.url(), transport="pyamqp") as conn:
        dead = kombu.Queue(dlq, exchange=kombu.Exchange("", type="direct"), routing_key=dlq, channel=conn)
        dead.declare()
        work = kombu.Queue(q, exchange=kombu.Exchange("", type="direct"), routing_key=q,
                           queue_arguments={"x-message-ttl": 100, "x-dead-letter-exchange": "",
                                            "x-dead-letter-routing-key": dlq}, channel=conn)
        work.declare()
        conn.Producer().publish({"task": "late"}, routing_key=q, serializer="json")
        deadline = time.monotonic() + 5
        message = None
        while message is None and time.monotonic() < deadline:
            message = dead.get(no_ack=True)
            time.sleep(0.05)
        assert message is not None and message.payload == {"task": "late"}
        assert message.headers["x-death"][0]["reason"] == "expired"
