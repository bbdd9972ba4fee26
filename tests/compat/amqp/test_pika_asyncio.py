"""pika's AsyncioConnection adapter (callback style on an asyncio loop): connect, declare,
publish with confirms, consume with manual acks, server-initiated channel close, and a clean
close. The blocking adapter is exercised by the other modules."""

from __future__ import annotations

import asyncio

import pika
from pika.adapters.asyncio_connection import AsyncioConnection


class AsyncPika:
    """Turns pika's callbacks into awaitables for one connection."""

    def __init__(self, params: pika.ConnectionParameters) -> None:
        self.loop = asyncio.get_running_loop()
        self.params = params
        self.closed: asyncio.Future = self.loop.create_future()
        self.conn: AsyncioConnection | None = None

    async def open(self) -> "AsyncPika":
        opened = self.loop.create_future()
        self.conn = AsyncioConnection(
            self.params,
            on_open_callback=lambda conn: opened.set_result(conn),
            on_open_error_callback=lambda conn, err: opened.set_exception(err),
            on_close_callback=lambda conn, reason: self.closed.done() or self.closed.set_result(reason),
            custom_ioloop=self.loop)
        await asyncio.wait_for(opened, 10)
        return self

    def callback(self) -> tuple[asyncio.Future, object]:
        fut = self.loop.create_future()
        return fut, lambda *args: fut.done() or fut.set_result(args[-1] if args else None)

    async def channel(self):
        fut, cb = self.callback()
        self.conn.channel(on_open_callback=cb)
        return await asyncio.wait_for(fut, 5)

    async def call(self, method, *args, **kwargs):
        fut, cb = self.callback()
        method(*args, callback=cb, **kwargs)
        return await asyncio.wait_for(fut, 5)

    async def close(self) -> None:
        if self.conn.is_open:
            self.conn.close()
        await asyncio.wait_for(self.closed, 10)


async def test_asyncio_adapter_publish_confirm_consume_ack(broker, names):
    client = await AsyncPika(broker.pika_params()).open()
    try:
        assert client.conn.server_properties["capabilities"]["publisher_confirms"] is True
        ch = await client.channel()
        q = names.queue()
        ok = await client.call(ch.queue_declare, q)
        assert ok.method.queue == q

        confirms: list[pika.frame.Method] = []
        await client.call(ch.confirm_delivery, ack_nack_callback=confirms.append)
        for i in range(10):
            ch.basic_publish("", q, f"m{i}".encode(), pika.BasicProperties(message_id=str(i)))
        for _ in range(100):
            acked = {tag for f in confirms for tag in
                     (range(1, f.method.delivery_tag + 1) if f.method.multiple else [f.method.delivery_tag])}
            if len(acked) == 10:
                break
            await asyncio.sleep(0.02)
        assert acked == set(range(1, 11))
        assert all(isinstance(f.method, pika.spec.Basic.Ack) for f in confirms)

        received: list[tuple[str, bytes]] = []
        done = asyncio.get_running_loop().create_future()

        def on_message(channel, method, props, body):
            received.append((props.message_id, body))
            channel.basic_ack(method.delivery_tag)
            if len(received) == 10 and not done.done():
                done.set_result(None)

        await client.call(ch.basic_qos, prefetch_count=3)
        ch.basic_consume(q, on_message)
        await asyncio.wait_for(done, 10)
        assert received == [(str(i), f"m{i}".encode()) for i in range(10)]
        declare_ok = await client.call(ch.queue_declare, q, passive=True)
        assert declare_ok.method.message_count == 0
    finally:
        await client.close()


async def test_asyncio_adapter_channel_closed_by_broker(broker, names):
    client = await AsyncPika(broker.pika_params()).open()
    try:
        ch = await client.channel()
        closed = asyncio.get_running_loop().create_future()
        ch.add_on_close_callback(lambda channel, reason: closed.set_result(reason))
        missing = names.queue("missing")
        ch.queue_declare(missing, passive=True, callback=lambda frame: None)
        reason = await asyncio.wait_for(closed, 5)
        assert isinstance(reason, pika.exceptions.ChannelClosedByBroker)
        assert (reason.reply_code, reason.reply_text) == (404, f"NOT_FOUND - no queue '{missing}' in vhost '/'")
        assert client.conn.is_open
        again = await client.channel()
        ok = await client.call(again.queue_declare, "", exclusive=True)
        assert ok.method.queue.startswith("amq.gen-")
    finally:
        await client.close()


async def test_asyncio_adapter_mandatory_return(broker, names):
    client = await AsyncPika(broker.pika_params()).open()
    try:
        ch = await client.channel()
        returned = asyncio.get_running_loop().create_future()
        ch.add_on_return_callback(lambda channel, method, props, body: returned.set_result((method, body)))
        ch.basic_publish("amq.direct", names.prefix, b"nobody", mandatory=True)
        method, body = await asyncio.wait_for(returned, 5)
        assert (method.reply_code, method.reply_text, method.exchange, body) == (312, "NO_ROUTE", "amq.direct", b"nobody")
    finally:
        await client.close()
