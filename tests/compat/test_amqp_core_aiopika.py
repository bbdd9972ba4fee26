"""Core AMQP flows through aio-pika (aiormq) against a real `mqgateway serve`."""

from __future__ import annotations

import asyncio

import aio_pika
import aiormq
import pytest


async def test_pipelined_confirms_and_manual_acks(server):
    conn = await aio_pika.connect(server.amqp_url)
    async with conn:
        ch = await conn.channel()  # aio-pika turns publisher confirms on by default
        q = await ch.declare_queue("", exclusive=True)
        await asyncio.gather(*(ch.default_exchange.publish(aio_pika.Message(b"m%d" % i), q.name) for i in range(200)))
        got = []
        async with q.iterator() as it:
            async for message in it:
                got.append(message.body)
                await message.ack()
                if len(got) == 200:
                    break
        assert got == [b"m%d" % i for i in range(200)]


async def test_consumer_is_cancelled_when_its_queue_is_deleted(server):
    conn = await aiormq.connect(server.amqp_url)
    try:
        ch = await conn.channel()
        await ch.queue_declare("cancel-me")
        ok = await ch.basic_consume("cancel-me", lambda m: None)
        assert ok.consumer_tag in ch.consumers
        other = await conn.channel()
        await other.queue_delete("cancel-me")
        for _ in range(100):  # aiormq drops the consumer when basic.cancel arrives
            if ok.consumer_tag not in ch.consumers:
                break
            await asyncio.sleep(0.02)
        assert ok.consumer_tag not in ch.consumers, "no basic.cancel reached the client"
        assert not ch.is_closed
    finally:
        await conn.close()


async def test_exclusive_queue_goes_with_its_connection(server):
    first = await aio_pika.connect(server.amqp_url)
    ch = await first.channel()
    await ch.declare_queue("mine-only", exclusive=True)
    other = await aio_pika.connect(server.amqp_url)
    async with other:
        och = await other.channel()
        with pytest.raises(aiormq.exceptions.ChannelLockedResource):
            await och.declare_queue("mine-only", passive=True)
        await first.close()
        och = await other.channel()
        with pytest.raises(aiormq.exceptions.ChannelNotFoundEntity):
            await och.declare_queue("mine-only", passive=True)


async def test_heartbeats_keep_an_idle_connection_open(server):
    conn = await aio_pika.connect(server.amqp_url + "?heartbeat=1")
    async with conn:
        ch = await conn.channel()
        await asyncio.sleep(3.5)  # well past two heartbeat intervals with nothing else sent
        q = await ch.declare_queue("", exclusive=True)
        assert q.name.startswith("amq.gen-")


async def test_transactions_buffer_publishes_and_acks(server):
    conn = await aio_pika.connect(server.amqp_url)
    async with conn:
        ch = await conn.channel(publisher_confirms=False)
        q = await ch.declare_queue("", exclusive=True)
        tx = ch.transaction()
        await tx.select()
        await ch.default_exchange.publish(aio_pika.Message(b"in tx"), q.name)
        assert (await ch.declare_queue(q.name, passive=True)).declaration_result.message_count == 0
        await tx.rollback()
        await ch.default_exchange.publish(aio_pika.Message(b"committed"), q.name)
        await tx.commit()
        message = await q.get()
        assert message.body == b"committed"
        await message.ack()
        await tx.rollback()  # the ack goes back: the message is unacked again
        await ch.close()
        ch = await conn.channel()
        message = await (await ch.declare_queue(q.name, passive=True)).get()
        assert message.body == b"committed" and message.redelivered


async def test_recover_requeues_unacked(server):
    conn = await aio_pika.connect(server.amqp_url)
    async with conn:
        ch = await conn.channel()
        q = await ch.declare_queue("", exclusive=True)
        await ch.default_exchange.publish(aio_pika.Message(b"again"), q.name)
        first = await q.get()
        assert not first.redelivered
        await ch.channel.basic_recover(requeue=True)
        second = await q.get()
        assert second.body == b"again" and second.redelivered
        # The ack is asynchronous: wait for the channel.close it brings (a later RPC could
        # race with that close and fail with aiormq's own ChannelInvalidStateError instead).
        closing = ch.channel.closing
        await first.ack()
        with pytest.raises(aiormq.exceptions.ChannelPreconditionFailed) as info:
            await asyncio.wait_for(closing, 5)
        assert "unknown delivery tag 1" in str(info.value)
