"""A basic.consume subscription: the engine's `Consumer` implemented for one channel.

Credit (`has_credit`) is the consumer's own prefetch window (basic.qos global=false at the
time it was created), the channel's shared window (global=true), and a writable
connection (the writer is not holding more than its high-water mark). Deliveries are
framed at once into the connection's writer, which sends a tick's worth in one write.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from amqp_wire import frames

if TYPE_CHECKING:
    from amqp_wire.channel import Channel


class WireConsumer:
    __slots__ = ("tag", "tag_bytes", "channel", "queue", "no_ack", "exclusive", "limit", "unacked", "cancelled")

    def __init__(self, tag: str, channel: "Channel", queue, *, no_ack: bool, exclusive: bool, limit: int) -> None:
        self.tag = tag
        self.tag_bytes = frames.shortstr(tag)
        self.channel = channel
        self.queue = queue
        self.no_ack = no_ack
        self.exclusive = exclusive
        self.limit = limit
        self.unacked = 0
        self.cancelled = False

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
            channel.unacked[tag] = (queue, entry, self)
            self.unacked += 1
            channel.global_unacked += 1
        session = channel.session
        session.send(frames.deliver_frames(
            channel.id, self.tag_bytes, tag, entry.redelivered, message.exchange, message.routing_key,
            message.properties, message.body, session.frame_max))

    def queue_deleted(self, queue) -> None:
        channel = self.channel
        if self.cancelled:
            return
        self.cancelled = True
        channel.consumers.pop(self.tag, None)
        if channel.session.capabilities.get("consumer_cancel_notify"):
            from pamqp import commands

            channel.session.send_method(channel.id, frames.build(
                commands.Basic.Cancel, consumer_tag=self.tag, nowait=True))
