"""Channel rules without sockets: publisher nacks among acks, nacks when the store fails, and the
server-wide consumer timeout (RabbitMQ's 30-minute default, configured small here)."""

from __future__ import annotations

import asyncio

from pamqp import commands, frame as pframe
from pamqp.header import ContentHeader
from pamqp.body import ContentBody

from amqp_wire.frames import build

from tests.amqp_wire.test_connection import _settle, method, open_connection


def publish(channel: int, routing_key: str, body: bytes) -> bytes:
    data = method(channel, build(commands.Basic.Publish, exchange="", routing_key=routing_key))
    data += pframe.marshal(ContentHeader(0, len(body), commands.Basic.Properties()), channel)
    return data + pframe.marshal(ContentBody(body), channel)


def names(frames) -> list[tuple]:
    out = []
    for _, m in frames:
        name = getattr(m, "name", None)
        if name in ("Basic.Ack", "Basic.Nack"):
            out.append((name, m.delivery_tag, m.multiple))
    return out


async def test_refused_publishes_are_nacked_in_order_among_acks():
    service, session, link = await open_connection()
    session.data_received(method(1, build(commands.Channel.Open)))
    session.data_received(method(1, build(commands.Confirm.Select)))
    session.data_received(method(1, build(commands.Queue.Declare, queue="q", arguments={
        "x-max-length": 2, "x-overflow": "reject-publish"})))
    await _settle()
    link.frames()
    # one input batch: 1, 2 fit; 3 is refused; an unroutable 4 is acked; 5 refused
    session.data_received(b"".join([publish(1, "q", b"1"), publish(1, "q", b"2"), publish(1, "q", b"3"),
                                    publish(1, "nowhere", b"4"), publish(1, "q", b"5")]))
    await _settle()
    assert names(link.frames()) == [("Basic.Ack", 2, True), ("Basic.Nack", 3, False), ("Basic.Ack", 4, False),
                                    ("Basic.Nack", 5, False)]


async def test_a_failed_store_write_nacks_the_batch():
    service, session, link = await open_connection()
    session.data_received(method(1, build(commands.Channel.Open)))
    session.data_received(method(1, build(commands.Confirm.Select)))
    session.data_received(method(1, build(commands.Queue.Declare, queue="q")))
    await _settle()
    link.frames()
    messaging = service.engine.messaging

    def broken_sync():
        raise OSError(28, "No space left on device")

    messaging.sync = broken_sync
    session.data_received(publish(1, "q", b"a") + publish(1, "q", b"b"))
    await _settle()
    assert names(link.frames()) == [("Basic.Nack", 2, True)]
    assert session.state.name == "RUNNING"  # the connection stays


async def test_server_wide_consumer_timeout_closes_the_channel():
    service, session, link = await open_connection(consumer_timeout_ms=150)
    session.data_received(method(1, build(commands.Channel.Open)))
    session.data_received(method(1, build(commands.Queue.Declare, queue="q")))
    session.data_received(publish(1, "q", b"m"))
    session.data_received(method(1, build(commands.Basic.Consume, queue="q", consumer_tag="c")))
    await _settle()
    link.frames()
    await asyncio.sleep(0.3)
    closes = [m for _, m in link.frames() if getattr(m, "name", "") == "Channel.Close"]
    assert [(c.reply_code, c.reply_text, c.class_id, c.method_id) for c in closes] == [(
        406, "PRECONDITION_FAILED - delivery acknowledgement on channel 1 timed out. Timeout value used: 150 ms. "
             "This timeout value can be configured, see consumers doc guide to learn more", 0, 0)]
    # the delivery went back to the queue
    assert session.vhost.queues["q"].message_count == 1


async def test_acked_deliveries_do_not_time_out():
    service, session, link = await open_connection(consumer_timeout_ms=150)
    session.data_received(method(1, build(commands.Channel.Open)))
    session.data_received(method(1, build(commands.Queue.Declare, queue="q")))
    session.data_received(publish(1, "q", b"m"))
    session.data_received(method(1, build(commands.Basic.Consume, queue="q", consumer_tag="c")))
    await _settle()
    link.frames()
    session.data_received(method(1, build(commands.Basic.Ack, delivery_tag=1)))
    await asyncio.sleep(0.3)
    assert not [m for _, m in link.frames() if getattr(m, "name", "") == "Channel.Close"]
