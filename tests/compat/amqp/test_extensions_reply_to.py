"""Direct reply-to (docs/direct-reply-to.md): the pseudo-queue amq.rabbitmq.reply-to, the reply_to
rewrite, replies delivered to the requester's no-ack consumer, and RabbitMQ's errors. pika, aio-pika.

One difference between RabbitMQ 3.10 and 4.x shows: binding a reply-to name is 404 "no queue" in
3.10 and 403 "cannot bind or unbind to a volatile (direct reply-to) queue" in 4.x (what mqgateway
answers). RabbitMQ 3.10 also sends a mandatory reply back with basic.return even though it was
delivered; no test here depends on that quirk.
"""

from __future__ import annotations

import asyncio

import aio_pika
import pika

from tests.compat.amqp.helpers import channel_error, wait_for

REPLY_TO = "amq.rabbitmq.reply-to"
VHOST = "/"


def test_request_reply_round_trip(connection, names):
    requests = names.queue("requests")
    client = connection.channel()
    replies = []
    reply_tag = client.basic_consume(REPLY_TO, lambda c, m, p, b: replies.append((m, p, b)), auto_ack=True)
    client.queue_declare(requests)
    client.basic_publish("", requests, b"what time is it",
                         pika.BasicProperties(reply_to=REPLY_TO, correlation_id="req-1"))

    server = connection.channel()
    got = []
    wait_for(lambda: got.append(server.basic_get(requests, auto_ack=True)) or got[-1][0] is not None, connection)
    _, props, body = got[-1]
    assert body == b"what time is it" and props.correlation_id == "req-1"
    reply_name = props.reply_to
    assert reply_name.startswith(REPLY_TO + ".") and len(reply_name) > len(REPLY_TO) + 1
    # the rewritten name can be declared (effectively passively): one consumer, nothing ready
    ok = server.queue_declare(reply_name).method
    assert (ok.queue, ok.message_count, ok.consumer_count) == (reply_name, 0, 1)

    server.basic_publish("", reply_name, b"noon", pika.BasicProperties(correlation_id="req-1"))
    wait_for(lambda: len(replies) == 1, connection)
    method, props, body = replies[0]
    assert (body, props.correlation_id) == (b"noon", "req-1")
    assert (method.exchange, method.routing_key, method.redelivered, method.consumer_tag) == (
        "", reply_name, False, reply_tag)
    # replies take the channel's delivery tags; they need no ack
    assert method.delivery_tag == 1

    client.basic_cancel(reply_tag)
    assert channel_error(connection, lambda ch: ch.queue_declare(reply_name)) == (
        404, f"NOT_FOUND - no queue '{reply_name}' in vhost '{VHOST}'")


def test_pseudo_queue_declare(connection):
    ch = connection.channel()
    for passive in (False, True):
        ok = ch.queue_declare(REPLY_TO, passive=passive).method
        assert (ok.queue, ok.message_count, ok.consumer_count) == (REPLY_TO, 0, 1)
    for name in (REPLY_TO + ".bogus", REPLY_TO + "X"):
        assert channel_error(connection, lambda c, n=name: c.queue_declare(n)) == (
            404, f"NOT_FOUND - no queue '{name}' in vhost '{VHOST}'")


def test_reply_consumer_rules(connection):
    assert channel_error(connection, lambda ch: ch.basic_consume(REPLY_TO, lambda *a: None, auto_ack=False)) == (
        406, "PRECONDITION_FAILED - reply consumer cannot acknowledge")

    def twice(ch):
        ch.basic_consume(REPLY_TO, lambda *a: None, auto_ack=True)
        ch.basic_consume(REPLY_TO, lambda *a: None, auto_ack=True)

    assert channel_error(connection, twice) == (406, "PRECONDITION_FAILED - reply consumer already set")
    assert channel_error(connection, lambda ch: ch.basic_publish(
        "", "anything", b"", pika.BasicProperties(reply_to=REPLY_TO))) == (
        406, "PRECONDITION_FAILED - fast reply consumer does not exist")


def test_reply_to_consumer_of_another_channel_is_not_enough(connection, names):
    requests = names.queue()
    owner = connection.channel()
    owner.basic_consume(REPLY_TO, lambda *a: None, auto_ack=True)
    owner.queue_declare(requests)
    # the consumer must be on the publishing channel itself
    assert channel_error(connection, lambda ch: ch.basic_publish(
        "", requests, b"", pika.BasicProperties(reply_to=REPLY_TO))) == (
        406, "PRECONDITION_FAILED - fast reply consumer does not exist")


def test_binding_a_reply_name_is_refused(connection, legacy_rabbitmq):
    code, text = channel_error(connection, lambda ch: ch.queue_bind(REPLY_TO, "amq.direct", "k"))
    if legacy_rabbitmq:
        assert (code, text) == (404, f"NOT_FOUND - no queue '{REPLY_TO}' in vhost '{VHOST}'")
    else:
        assert (code, text) == (403, "ACCESS_REFUSED - cannot bind or unbind to a volatile (direct reply-to) queue")


def test_aio_pika_rpc_with_direct_reply_to(broker, names):
    requests = names.queue("aio-requests")

    async def run():
        conn = await aio_pika.connect(broker.url())
        async with conn:
            server_ch = await conn.channel()
            request_queue = await server_ch.declare_queue(requests)

            async def serve(message: aio_pika.abc.AbstractIncomingMessage) -> None:
                async with message.process():
                    await server_ch.default_exchange.publish(
                        aio_pika.Message(message.body.upper(), correlation_id=message.correlation_id),
                        routing_key=message.reply_to)

            await request_queue.consume(serve)
            client_ch = await conn.channel()
            reply_queue = await client_ch.get_queue(REPLY_TO, ensure=False)
            answers: asyncio.Queue = asyncio.Queue()
            await reply_queue.consume(answers.put, no_ack=True)
            for n in range(3):
                await client_ch.default_exchange.publish(
                    aio_pika.Message(b"call %d" % n, reply_to=REPLY_TO, correlation_id=str(n)), routing_key=requests)
            got = [await asyncio.wait_for(answers.get(), 5) for _ in range(3)]
            assert sorted((m.correlation_id, m.body) for m in got) == [
                ("0", b"CALL 0"), ("1", b"CALL 1"), ("2", b"CALL 2")]

    asyncio.run(run())
