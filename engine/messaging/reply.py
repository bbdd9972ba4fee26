"""Direct reply-to destinations: `amq.rabbitmq.reply-to.<suffix>` (RabbitMQ's docs/direct-reply-to.md).

A requester consumes from the pseudo-queue `amq.rabbitmq.reply-to` (no-ack) and publishes
with `reply_to = amq.rabbitmq.reply-to`; the broker rewrites that property to a name of
its own, `amq.rabbitmq.reply-to.<suffix>`, which is registered here. A reply published to
the default exchange with that name as routing key is handed straight to the requester's
consumer: no queue, no credit, no store (RabbitMQ 4.x models it as a volatile queue
type, `rabbit_volatile_queue`). When the consumer goes, the name is forgotten and a reply
to it routes nowhere.

`ReplyQueue` is a destination the vhost's publish path treats like a queue: `enqueue`
delivers at once. It is never listed among the vhost's queues, so it can be neither
declared, bound, purged nor deleted; `queue.declare` of its name reports it as existing
with one consumer.
"""

from __future__ import annotations

import base64
import os

from engine.messaging.types import Consumer, Entry, Message

PREFIX = "amq.rabbitmq.reply-to"


def is_reply_name(name: str) -> bool:
    return name.startswith(PREFIX)


def new_reply_name() -> str:
    return f"{PREFIX}.{base64.urlsafe_b64encode(os.urandom(18)).decode()}"


class ReplyQueue:
    """The volatile destination behind one channel's direct reply-to consumer."""

    def __init__(self, name: str, vhost: str, consumer: Consumer, on_gone) -> None:
        self.name = name
        self.vhost = vhost
        self.consumer = consumer
        self._on_gone = on_gone
        self.deleted = False
        self.delivered = 0
        self.message_count = 0
        self.unacked_count = 0

    def __repr__(self) -> str:
        return f"<ReplyQueue {self.name!r}>"

    @property
    def consumer_count(self) -> int:
        return 0 if self.deleted else 1

    def enqueue(self, message: Message) -> Entry | None:
        if self.deleted:
            return None
        entry = Entry(0, message, len(message.body))
        self.delivered += 1
        self.consumer.deliver(self, entry, message)
        return entry

    def dispatch(self) -> None:
        """Nothing waits here: replies are delivered on arrival."""

    def ack(self, entry: Entry) -> None:
        """Replies are delivered no-ack; nothing to settle."""

    def remove_consumer(self, consumer: Consumer) -> None:
        if self.deleted:
            return
        self.deleted = True
        self._on_gone(self)
