"""Queue class (50): declare (server-named, passive, durable, exclusive, auto-delete, argument
validation and equivalence), bind/unbind, purge, delete, and the counts in declare-ok. pika's
BlockingConnection, plus a raw socket where a test needs to choose the wire type of an argument."""

from __future__ import annotations

import asyncio
import re
import struct

import aio_pika
import pika
import pytest
from pamqp import commands

from tests.compat.amqp.helpers import channel_error, get_bodies, reply_text, settle
from tests.compat.amqp.rawamqp import RawConnection, queue_declare_frame, table

VHOST = "/"


def locked(q: str) -> tuple[int, str]:
    return (405, reply_text(f"RESOURCE_LOCKED - cannot obtain exclusive access to locked queue '{q}' in vhost '{VHOST}'. "
                 "It could be originally declared on another connection or the exclusive property value does "
                 "not match that of the original declaration."))


def test_server_named_queue(channel):
    ok = channel.queue_declare("", exclusive=True).method
    # amq.gen- followed by base64url of 16 random bytes (rabbit_guid:binary/2)
    assert re.fullmatch(r"amq\.gen-[A-Za-z0-9_-]{22}", ok.queue), ok.queue
    assert (ok.message_count, ok.consumer_count) == (0, 0)
    other = channel.queue_declare("", exclusive=True).method.queue
    assert other != ok.queue


def test_empty_queue_name_means_last_declared_on_channel(channel):
    q = channel.queue_declare("", exclusive=True).method.queue
    channel.queue_bind("", "amq.direct", routing_key=q)
    channel.basic_publish("amq.direct", q, b"1")
    channel.basic_publish("", q, b"2")
    assert channel.queue_purge("").method.message_count == 2
    channel.basic_publish("", q, b"3")
    method, _, body = channel.basic_get("", auto_ack=True)
    assert body == b"3"


def test_empty_queue_name_without_declared_queue_is_404(connection):
    expected = (404, "NOT_FOUND - no previously declared queue")
    assert channel_error(connection, lambda ch: ch.queue_bind("", "amq.direct", "k")) == expected
    assert channel_error(connection, lambda ch: ch.queue_purge("")) == expected


def test_passive_declare(connection, channel, names):
    q = names.queue()
    channel.queue_declare(q, durable=False)
    channel.basic_publish("", q, b"a")
    channel.basic_publish("", q, b"b")
    # passive ignores the other flags and returns the counts
    ok = channel.queue_declare(q, passive=True, durable=True).method
    assert (ok.queue, ok.message_count, ok.consumer_count) == (q, 2, 0)
    missing = names.queue("missing")
    assert channel_error(connection, lambda ch: ch.queue_declare(missing, passive=True)) == (
        404, f"NOT_FOUND - no queue '{missing}' in vhost '{VHOST}'")


def test_declare_ok_counts_ready_messages_and_consumers(channel, names):
    q = names.queue()
    channel.queue_declare(q)
    for i in range(3):
        channel.basic_publish("", q, str(i).encode())
    channel.basic_get(q, auto_ack=False)  # one unacked: no longer counted as ready
    consumer_ch = channel.connection.channel()
    consumer_ch.basic_qos(prefetch_count=1)
    consumer_ch.basic_consume(q, lambda *a: None)
    consumer_ch.basic_consume(q, lambda *a: None)
    settle(channel.connection)
    ok = channel.queue_declare(q, passive=True).method
    assert (ok.message_count, ok.consumer_count) == (0, 2)
    ok = channel.queue_declare(q).method  # a non-passive redeclare reports the same
    assert (ok.message_count, ok.consumer_count) == (0, 2)


def test_exclusive_queue_is_locked_to_its_connection(broker, names):
    owner, other = broker.connect(), broker.connect()
    q = names.queue()
    try:
        och = owner.channel()
        och.queue_declare(q, exclusive=True)
        for action in (lambda ch: ch.queue_declare(q, passive=True),
                       lambda ch: ch.queue_declare(q),
                       lambda ch: ch.queue_declare(q, exclusive=True),
                       lambda ch: ch.queue_bind(q, "amq.direct", "k"),
                       lambda ch: ch.queue_purge(q),
                       lambda ch: ch.queue_delete(q),
                       lambda ch: ch.basic_get(q),
                       lambda ch: ch.basic_consume(q, lambda *a: None)):
            assert channel_error(other, action) == locked(q)
        # anyone may publish to it
        pub = other.channel()
        pub.confirm_delivery()
        pub.basic_publish("", q, b"from other")
        assert get_bodies(och, q) == [b"from other"]
    finally:
        owner.close()
    # deleted together with its connection (errata §5: synchronously)
    assert channel_error(other, lambda ch: ch.queue_declare(q, passive=True)) == (
        404, f"NOT_FOUND - no queue '{q}' in vhost '{VHOST}'")
    other.close()


def test_exclusive_flag_mismatch_on_same_connection_is_405(connection, channel, names):
    q = names.queue()
    channel.queue_declare(q)
    assert channel_error(connection, lambda ch: ch.queue_declare(q, exclusive=True)) == locked(q)


def test_auto_delete_queue_goes_with_its_last_consumer(connection, channel, names):
    q = names.queue()
    channel.queue_declare(q, auto_delete=True)
    channel.basic_publish("", q, b"x")
    channel.basic_get(q, auto_ack=True)  # basic.get does not count as a consumer
    channel.queue_declare(q, passive=True)
    tag1 = channel.basic_consume(q, lambda *a: None)
    tag2 = channel.basic_consume(q, lambda *a: None)
    channel.basic_cancel(tag1)
    channel.queue_declare(q, passive=True)
    channel.basic_cancel(tag2)
    assert channel_error(connection, lambda ch: ch.queue_declare(q, passive=True))[0] == 404


@pytest.mark.parametrize(("field", "first", "second", "received", "current"), [
    ("durable", {"durable": False}, {"durable": True}, "true", "false"),
    ("durable", {"durable": True}, {"durable": False}, "false", "true"),
    ("auto_delete", {"auto_delete": False}, {"auto_delete": True}, "true", "false"),
])
def test_queue_flag_equivalence(connection, names, field, first, second, received, current):
    q = names.queue()
    connection.channel().queue_declare(q, **first)
    connection.channel().queue_declare(q, **first)
    assert channel_error(connection, lambda ch: ch.queue_declare(q, **second)) == (
        406, f"PRECONDITION_FAILED - inequivalent arg '{field}' for queue '{q}' in vhost '{VHOST}': "
             f"received '{received}' but current is '{current}'")


def test_queue_argument_equivalence(connection, names, legacy_rabbitmq):
    q = names.queue()
    connection.channel().queue_declare(q, arguments={"x-message-ttl": 1000, "x-foo": "a"})
    # unknown x- arguments are neither validated nor compared (rabbit_classic_queue:651)
    connection.channel().queue_declare(q, arguments={"x-message-ttl": 1000, "x-foo": "b", "x-bar": 1})
    code, text = channel_error(connection, lambda ch: ch.queue_declare(q, arguments={"x-message-ttl": 2000}))
    head = f"PRECONDITION_FAILED - inequivalent arg 'x-message-ttl' for queue '{q}' in vhost '{VHOST}': "
    if legacy_rabbitmq:
        # 3.x words a value mismatch without types; 4.x (what we match) names both types.
        assert (code, text) == (406, head + "received '2000' but current is '1000'")
    else:
        assert (code, text) == (406, head + "received the value '2000' of type 'signedint' "
                                            "but current is the value '1000' of type 'signedint'")
    assert channel_error(connection, lambda ch: ch.queue_declare(q)) == (
        406, head + "received none but current is the value '1000' of type 'signedint'")
    q2 = names.queue("q2")
    connection.channel().queue_declare(q2)
    head2 = f"PRECONDITION_FAILED - inequivalent arg 'x-max-length' for queue '{q2}' in vhost '{VHOST}': "
    assert channel_error(connection, lambda ch: ch.queue_declare(q2, arguments={"x-max-length": 5})) == (
        406, head2 + "received the value '5' of type 'signedint' but current is none")


# Integer field types RabbitMQ accepts for an integer argument; all must compare equal to each other.
INT_ENCODINGS = {
    "b": struct.pack(">b", 100), "B": struct.pack(">B", 100), "s": struct.pack(">h", 100),
    "u": struct.pack(">H", 100), "I": struct.pack(">i", 100), "i": struct.pack(">I", 100),
    "l": struct.pack(">q", 100),
}


def test_integer_arguments_compare_across_wire_widths(broker, names):
    q = names.queue()
    with RawConnection(broker.host, broker.port) as c:
        c.handshake()
        c.open_channel(1)
        for kind, value in INT_ENCODINGS.items():
            c.send(queue_declare_frame(1, q, arguments=table(("x-message-ttl", kind.encode(), value),
                                                             ("x-max-length", kind.encode(), value))))
            ok = c.expect(commands.Queue.DeclareOk)
            assert ok.queue == q, kind
        c.send(queue_declare_frame(1, q, arguments=table(("x-message-ttl", b"l", struct.pack(">q", 101)),
                                                         ("x-max-length", b"b", struct.pack(">b", 100)))))
        close = c.expect(commands.Channel.Close)
        assert (close.reply_code, close.class_id, close.method_id) == (406, 50, 10)
        assert close.reply_text.startswith(f"PRECONDITION_FAILED - inequivalent arg 'x-message-ttl' for queue '{q}'")


def test_aio_pika_and_pika_argument_widths_are_equivalent(broker, names):
    """aio-pika (pamqp) sends 100 as a signed byte, pika as a signed 32-bit int."""
    q = names.queue()

    async def declare():
        conn = await aio_pika.connect(broker.url())
        async with conn:
            ch = await conn.channel()
            await ch.declare_queue(q, arguments={"x-message-ttl": 100, "x-max-length": 40000})

    asyncio.run(declare())
    conn = broker.connect()
    try:
        ok = conn.channel().queue_declare(q, arguments={"x-message-ttl": 100, "x-max-length": 40000}).method
        assert ok.queue == q
    finally:
        conn.close()


@pytest.mark.parametrize(("arguments", "explanation"), [
    ({"x-max-priority": 300}, "invalid arg 'x-max-priority' for queue '{q}' in vhost '/': {{max_value_exceeded,300}}"),
    ({"x-expires": 0}, "invalid arg 'x-expires' for queue '{q}' in vhost '/': {{value_zero,0}}"),
    ({"x-message-ttl": -1}, "invalid arg 'x-message-ttl' for queue '{q}' in vhost '/': {{value_negative,-1}}"),
    ({"x-dead-letter-routing-key": "rk"},
     "invalid arg 'x-dead-letter-routing-key' for queue '{q}' in vhost '/': routing_key_but_no_dlx_defined"),
])
def test_invalid_queue_arguments(connection, names, arguments, explanation):
    q = names.queue()
    assert channel_error(connection, lambda ch: ch.queue_declare(q, arguments=arguments)) == (
        406, "PRECONDITION_FAILED - " + explanation.format(q=q))


def test_amq_prefix_is_reserved_for_queues(connection, names):
    name = f"amq.{names.prefix}"
    assert channel_error(connection, lambda ch: ch.queue_declare(name)) == (
        403, f"ACCESS_REFUSED - queue name '{name}' contains reserved prefix 'amq.*'")
    assert channel_error(connection, lambda ch: ch.queue_declare(name, passive=True)) == (
        404, f"NOT_FOUND - no queue '{name}' in vhost '{VHOST}'")


def test_bind_and_unbind(channel, names):
    x, q = names.exchange(), names.queue()
    channel.exchange_declare(x, "direct")
    channel.queue_declare(q)
    channel.queue_bind(q, x, "k1")
    channel.queue_bind(q, x, "k1")  # binding twice is idempotent
    channel.queue_bind(q, x, "k2")
    channel.basic_publish(x, "k1", b"1")
    channel.basic_publish(x, "k2", b"2")
    channel.basic_publish(x, "k3", b"3")
    assert get_bodies(channel, q) == [b"1", b"2"]
    channel.queue_unbind(q, x, "k1")
    channel.basic_publish(x, "k1", b"4")
    channel.basic_publish(x, "k2", b"5")
    assert get_bodies(channel, q) == [b"5"]


def test_bind_missing_queue_is_404(connection, names):
    missing = names.queue("missing")
    assert channel_error(connection, lambda ch: ch.queue_bind(missing, "amq.direct", "k")) == (
        404, f"NOT_FOUND - no queue '{missing}' in vhost '{VHOST}'")


def test_purge_returns_count(connection, channel, names):
    q = names.queue()
    channel.queue_declare(q)
    for i in range(5):
        channel.basic_publish("", q, str(i).encode())
    method, _, _ = channel.basic_get(q, auto_ack=False)  # unacked messages are not purged
    assert channel.queue_purge(q).method.message_count == 4
    assert channel.queue_purge(q).method.message_count == 0
    channel.basic_nack(method.delivery_tag, requeue=True)
    assert get_bodies(channel, q) == [b"0"]
    missing = names.queue("missing")
    assert channel_error(connection, lambda ch: ch.queue_purge(missing)) == (
        404, f"NOT_FOUND - no queue '{missing}' in vhost '{VHOST}'")


def test_delete_if_unused_and_if_empty(connection, channel, names):
    q = names.queue()
    channel.queue_declare(q)
    channel.basic_publish("", q, b"x")
    assert channel_error(connection, lambda ch: ch.queue_delete(q, if_empty=True)) == (
        406, f"PRECONDITION_FAILED - queue '{q}' in vhost '{VHOST}' not empty")
    consumer = connection.channel()
    tag = consumer.basic_consume(q, lambda *a: None, auto_ack=True)
    settle(connection)
    assert channel_error(connection, lambda ch: ch.queue_delete(q, if_unused=True)) == (
        406, f"PRECONDITION_FAILED - queue '{q}' in vhost '{VHOST}' in use")
    consumer.basic_cancel(tag)
    assert channel.queue_delete(q, if_unused=True, if_empty=True).method.message_count == 0


def test_delete_returns_message_count_and_removes_bindings(connection, channel, names):
    q = names.queue()
    channel.queue_declare(q)
    channel.queue_bind(q, "amq.fanout")
    for i in range(3):
        channel.basic_publish("", q, b"x")
    assert channel.queue_delete(q).method.message_count == 3
    assert channel_error(connection, lambda ch: ch.queue_declare(q, passive=True))[0] == 404
    channel.queue_declare(q)  # recreated queue has no old binding
    channel.basic_publish("amq.fanout", "", b"y")
    assert get_bodies(channel, q) == []


def test_delete_missing_queue_is_ok(channel, names):
    assert channel.queue_delete(names.queue("never")).method.message_count == 0


def test_queue_names_may_use_any_utf8(channel, names):
    q = names.queue("ünï cødé/with spaces#*")
    channel.queue_declare(q)
    channel.basic_publish("", q, b"ok")
    assert get_bodies(channel, q) == [b"ok"]


def test_pika_blocking_declare_nowait_style_errors_still_arrive(connection, names):
    # nowait does not suppress a passive declare's 404 (errata §9)
    missing = names.queue("missing")

    def passive_nowait(ch):
        ch._impl.queue_declare(missing, passive=True, callback=None)

    assert channel_error(connection, passive_nowait) == (404, f"NOT_FOUND - no queue '{missing}' in vhost '{VHOST}'")


def test_message_count_of_get_ok(channel, names):
    q = names.queue()
    channel.queue_declare(q)
    for i in range(3):
        channel.basic_publish("", q, str(i).encode(), pika.BasicProperties(delivery_mode=1))
    counts = []
    for _ in range(3):
        method, _, _ = channel.basic_get(q, auto_ack=True)
        counts.append(method.message_count)
    assert counts == [2, 1, 0]
