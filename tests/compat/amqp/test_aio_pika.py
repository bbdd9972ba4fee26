"""aio-pika (on aiormq and pamqp): the flows an asyncio application runs. pamqp encodes integers
in the smallest field type and opens channels with publisher confirms by default, so this client
also checks that small-width table values and confirm-by-default work."""

from __future__ import annotations

import asyncio
import datetime
import decimal

import aio_pika
import aiormq
import pytest


@pytest.fixture
async def aconn(broker):
    conn = await aio_pika.connect(broker.url(), timeout=10)
    yield conn
    await conn.close()


HEADERS = {
    "byte": 5, "short": -300, "ushort": 60000, "int": -70000, "uint": 4_000_000_000, "long": 2**40,
    "float": 2.5, "decimal": decimal.Decimal("1.25"), "str": "ünï", "true": True, "false": False,
    "ts": datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc),
    "table": {"a": 1, "b": {"c": "d"}}, "array": [1, "two", [3]], "void": None,
}


async def test_publish_consume_ack_with_properties(aconn, names, broker):
    ch = await aconn.channel()
    x = await ch.declare_exchange(names.exchange(), aio_pika.ExchangeType.TOPIC)
    q = await ch.declare_queue(names.queue(), durable=False)
    await q.bind(x, "orders.#")
    sent = []
    for i in range(5):
        msg = aio_pika.Message(
            f"order {i}".encode(), headers=HEADERS, content_type="application/json", content_encoding="utf-8",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT, priority=3, correlation_id=f"c{i}", reply_to="rq",
            expiration=60, message_id=f"id{i}", timestamp=datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc),
            type="order", user_id=broker.user, app_id="aio-test")
        confirmation = await x.publish(msg, routing_key=f"orders.eu.{i}")
        assert isinstance(confirmation, aiormq.spec.Basic.Ack)
        sent.append(msg)
    got = []
    async with q.iterator() as it:
        async for message in it:
            async with message.process():
                got.append(message)
            if len(got) == 5:
                break
    for i, message in enumerate(got):
        assert message.body == f"order {i}".encode()
        assert message.routing_key == f"orders.eu.{i}" and message.exchange == x.name
        assert message.headers == HEADERS
        assert (message.content_type, message.content_encoding, message.priority) == ("application/json", "utf-8", 3)
        assert (message.correlation_id, message.reply_to, message.message_id) == (f"c{i}", "rq", f"id{i}")
        assert message.properties.expiration == "60000"  # aio-pika sends seconds as the ms string
        assert message.timestamp == datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
        assert (message.type, message.user_id, message.app_id) == ("order", broker.user, "aio-test")
        assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
    declared = await ch.declare_queue(q.name, passive=True)
    assert declared.declaration_result.message_count == 0


async def test_server_named_exclusive_queue(aconn):
    ch = await aconn.channel()
    q = await ch.declare_queue(exclusive=True)
    assert q.name.startswith("amq.gen-")
    await ch.default_exchange.publish(aio_pika.Message(b"to myself"), routing_key=q.name)
    message = await q.get(timeout=5)
    await message.ack()
    assert message.body == b"to myself"


async def test_mandatory_unroutable_raises_publish_error(aconn, names):
    ch = await aconn.channel(on_return_raises=True)
    x = await ch.declare_exchange(names.exchange(), aio_pika.ExchangeType.DIRECT)
    with pytest.raises(aio_pika.exceptions.PublishError) as info:
        await x.publish(aio_pika.Message(b"bounce", message_id="bounce-1"), routing_key="nowhere", mandatory=True)
    frame = info.value.message.delivery
    assert (frame.reply_code, frame.reply_text, frame.exchange, frame.routing_key) == (312, "NO_ROUTE", x.name, "nowhere")
    assert info.value.message.body == b"bounce"
    # not mandatory: the broker drops it and still acks
    ack = await x.publish(aio_pika.Message(b"dropped"), routing_key="nowhere", mandatory=False)
    assert isinstance(ack, aiormq.spec.Basic.Ack)


async def test_get_nack_reject_redelivery(aconn, names):
    ch = await aconn.channel()
    q = await ch.declare_queue(names.queue())
    for body in (b"a", b"b"):
        await ch.default_exchange.publish(aio_pika.Message(body), routing_key=q.name)
    first = await q.get(no_ack=False)
    assert (first.body, first.redelivered, first.message_count) == (b"a", False, 1)
    await first.nack(requeue=True)
    again = await q.get(no_ack=False)
    assert (again.body, again.redelivered) == (b"a", True)
    await again.reject(requeue=False)
    second = await q.get(no_ack=True)
    assert second.body == b"b"
    assert await q.get(fail=False) is None


async def test_channel_errors_carry_rabbitmq_texts(aconn, names):
    ch = await aconn.channel()
    missing = names.queue("missing")
    with pytest.raises(aiormq.exceptions.ChannelNotFoundEntity) as info:
        await ch.declare_queue(missing, passive=True)
    assert f"NOT_FOUND - no queue '{missing}' in vhost '/'" in str(info.value)
    ch2 = await aconn.channel()
    q = await ch2.declare_queue(names.queue(), durable=False)
    with pytest.raises(aiormq.exceptions.ChannelPreconditionFailed) as info:
        await ch2.declare_queue(q.name, durable=True)
    assert f"inequivalent arg 'durable' for queue '{q.name}' in vhost '/'" in str(info.value)
    ch3 = await aconn.channel()  # the connection survived both
    assert (await ch3.declare_queue(exclusive=True)).name.startswith("amq.gen-")


async def settles_at(value, expected, timeout: float = 5.0) -> None:
    """Wait until value() == expected, then a little longer to show it stays there."""
    deadline = asyncio.get_running_loop().time() + timeout
    while value() != expected:
        assert asyncio.get_running_loop().time() < deadline, (value(), expected)
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.3)
    assert value() == expected


async def test_qos_and_consumer_cancel(aconn, names):
    pub = await aconn.channel()
    q_name = names.queue()
    await pub.declare_queue(q_name)
    for i in range(10):
        await pub.default_exchange.publish(aio_pika.Message(b"%d" % i), routing_key=q_name)
    ch = await aconn.channel()
    await ch.set_qos(prefetch_count=3)
    q = await ch.declare_queue(q_name, passive=True)
    received: list[aio_pika.abc.AbstractIncomingMessage] = []

    async def on_message(message):
        received.append(message)

    tag = await q.consume(on_message)
    await settles_at(lambda: len(received), 3)
    await received[0].ack()
    await settles_at(lambda: len(received), 4)
    await q.cancel(tag)
    for message in received[1:]:
        await message.ack()
    await asyncio.sleep(0.2)
    assert len(received) == 4
    assert (await pub.declare_queue(q_name, passive=True)).declaration_result.message_count == 6


async def test_transaction_commit_and_rollback(aconn, names):
    ch = await aconn.channel(publisher_confirms=False)
    q = await ch.declare_queue(names.queue())
    tx = ch.transaction()
    await tx.select()
    await ch.default_exchange.publish(aio_pika.Message(b"rolled back"), routing_key=q.name)
    await tx.rollback()
    await ch.default_exchange.publish(aio_pika.Message(b"committed"), routing_key=q.name)
    await tx.commit()
    message = await q.get(no_ack=True)
    assert message.body == b"committed"
    assert await q.get(fail=False) is None


async def test_exchange_to_exchange_and_headers(aconn, names):
    ch = await aconn.channel()
    src = await ch.declare_exchange(names.exchange("src"), aio_pika.ExchangeType.FANOUT)
    dst = await ch.declare_exchange(names.exchange("dst"), aio_pika.ExchangeType.HEADERS)
    await dst.bind(src)
    q = await ch.declare_queue(names.queue())
    await q.bind(dst, arguments={"x-match": "any", "kind": "a", "level": 2})
    await src.publish(aio_pika.Message(b"match", headers={"level": 2}), routing_key="")
    await src.publish(aio_pika.Message(b"no match", headers={"level": 3}), routing_key="")
    message = await q.get(no_ack=True)
    assert message.body == b"match"
    assert await q.get(fail=False) is None
