"""A basic.consume subscription: the engine's `Consumer` implemented for one channel.

Credit (`has_credit`) is the consumer's own prefetch window (basic.qos global=false at the
time it was created), the channel's shared window (global=true), and a writable
connection (the writer is not holding more than its high-water mark). Deliveries are
framed at once into the connection's writer, which sends a tick's worth in one write.

A message the broker annotated (a dead-letter history, a quorum delivery count) is
delivered with those rendered as headers (amqp_wire/properties.py `annotated`); all other
messages go out with the property bytes they were published with. Each unacknowledged
delivery is stamped with the time it left, for the consumer timeout
(amqp_wire/channel.py).
"""

from __future__ import annotations

from time import monotonic
from typing import TYPE_CHECKING

from amqp_wire import frames
from amqp_wire.properties import annotated
from amqp_wire.stream_delivery import stream_delivery
from engine.messaging.stream_queue import StreamEntry

if TYPE_CHECKING:
    from amqp_wire.channel import Channel


class WireConsumer:
    __slots__ = ("tag", "tag_bytes", "channel", "queue", "no_ack", "exclusive", "limit", "unacked", "cancelled",
                 "priority", "timeout", "stream_offset", "stream_arguments")

    def __init__(self, tag: str, channel: "Channel", queue, *, no_ack: bool, exclusive: bool, limit: int,
                 priority: int = 0, timeout: int = 0) -> None:
        self.tag = tag
        self.tag_bytes = frames.shortstr(tag)
        self.channel = channel
        self.queue = queue
        self.no_ack = no_ack
        self.exclusive = exclusive
        self.limit = limit
        self.unacked = 0
        self.cancelled = False
        self.priority = priority  # x-priority
        self.timeout = timeout  # x-consumer-timeout (ms), 0: the queue's or the server's
        self.stream_offset = None  # x-stream-offset (a Field) for a stream queue consumer
        self.stream_arguments = None  # basic.consume arguments (x-stream-filter, ...) for a stream queue consumer

    def has_credit(self) -> bool:
        channel = self.channel
        if not channel.session.writable():
            return False
        if self.no_ack:
            return True
        if self.limit and self.unacked >= self.limit:
            return False
        if channel.global_limit and channel.global_unacked >= channel.global_limit:
            return False
        return True

    def deliver(self, queue, entry, message) -> None:
        channel = self.channel
        tag = channel.next_tag
        channel.next_tag = tag + 1
        if not self.no_ack:
            channel.unacked[tag] = (queue, entry, self, monotonic())
            self.unacked += 1
            channel.global_unacked += 1
            if channel.timeout_timer is None:
                channel.arm_timeout(channel.timeout_of(queue, self) / 1000.0)
        session = channel.session
        if entry.__class__ is StreamEntry:
            exchange, routing_key, props = stream_delivery(entry.record, entry.partition)
            session.send(frames.deliver_frames(
                channel.id, self.tag_bytes, tag, False, exchange, routing_key, props, entry.record.value or b"",
                session.frame_max))
            return
        props = message.properties
        if message.deaths is not None or entry.deliveries:
            props = annotated(props, message.deaths, entry.deliveries)
        session.send(frames.deliver_frames(
            channel.id, self.tag_bytes, tag, entry.redelivered, message.exchange, message.routing_key,
            props, message.body, session.frame_max))

    def queue_deleted(self, queue) -> None:
        channel = self.channel
        if self.cancelled:
            return
        self.cancelled = True
        channel.consumers.pop(self.tag, None)
        if channel.reply_consumer is self:
            channel.reply_consumer = None
        if channel.session.capabilities.get("consumer_cancel_notify"):
            from pamqp import commands

            channel.session.send_after_reply(channel.id, frames.build(
                commands.Basic.Cancel, consumer_tag=self.tag, nowait=True))
