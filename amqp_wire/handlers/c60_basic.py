"""Class 60, basic: qos, consume, cancel, publish, get, ack, reject, nack, recover.

Served with RabbitMQ's semantics (`rabbit_channel`):
- qos: prefetch_size must be 0 (540 "prefetch_size!=0 (N)"); global=false sets the
  prefetch of consumers created afterwards, global=true one window for the whole channel
  (amqp_wire/channel.py). 0 is unlimited.
- consume: server-generated `amq.ctag-…` tags; a tag already used on the channel is 530
  "attempt to reuse consumer tag 'x'" (hard); exclusive consumers (403 "… in exclusive
  use" both ways); no-ack; nowait. consume-ok goes out before the first delivery.
  Consumers of one queue are served round-robin. A deleted queue sends basic.cancel to
  its consumers when the client advertised `consumer_cancel_notify`.
- cancel: cancel-ok even for an unknown tag (the spec says to ignore it); an auto-delete
  queue goes when its last consumer does.
- publish and ack are decoded on the hot path in amqp_wire/connection.py and served by
  amqp_wire/channel.py: mandatory unroutable messages come back with basic.return 312
  NO_ROUTE; `immediate=true` is 540 NOT_IMPLEMENTED "immediate=true" (RabbitMQ dropped
  it in 3.0); the user-id property must be the authenticated user and expiration a
  non-negative integer string (406); bodies above the configured max message size are
  refused (406).
- get: get-ok with the remaining ready count, or get-empty; shares the delivery-tag
  counter with consumers.
- ack/reject/nack: `multiple` (0 with multiple = everything), `requeue`; an unknown or
  already settled tag is 406 "unknown delivery tag N"; requeued messages return to their
  place in the queue marked redelivered.
- recover / recover-async with requeue=true requeue every unacked delivery of the
  channel; requeue=false is 540 "requeue=false" as in RabbitMQ.

Not done (issue 5): consumer priorities (`x-priority` is refused with 406 rather than
ignored), direct reply-to (`amq.rabbitmq.reply-to` is not special yet).
"""

from __future__ import annotations

from pamqp import commands

from engine.messaging import server_name

from amqp_wire import frames
from amqp_wire.consumer import WireConsumer
from amqp_wire.errors import AmqpError, ReplyCode, rs
from amqp_wire.handlers import channel_method
from amqp_wire.handlers.c50_queue import queue_name

UNSUPPORTED_CONSUMER_ARGS = ("x-priority",)


@channel_method(commands.Basic.Qos)
def qos(channel, method) -> None:
    if method.prefetch_size:
        raise AmqpError(ReplyCode.NOT_IMPLEMENTED, f"prefetch_size!=0 ({method.prefetch_size})")
    if method.global_:
        channel.global_limit = method.prefetch_count
    else:
        channel.prefetch = method.prefetch_count
    channel.session.send_method(channel.id, frames.build(commands.Basic.QosOk))
    for consumer in channel.consumers.values():
        channel.session.dirty_queues.add(consumer.queue)


@channel_method(commands.Basic.Consume)
def consume(channel, method) -> None:
    session = channel.session
    name = queue_name(channel, method.queue)
    queue = session.vhost.queue(name, owner=session)
    tag = method.consumer_tag or server_name("amq.ctag")
    if tag in channel.consumers:
        raise AmqpError(ReplyCode.NOT_ALLOWED, f"attempt to reuse consumer tag '{tag}'")
    for key in UNSUPPORTED_CONSUMER_ARGS:
        if key in (method.arguments or {}):
            raise AmqpError(ReplyCode.PRECONDITION_FAILED, (
                f"invalid arg '{key}' for {rs('queue', name, session.vhost_name)}: not yet supported by mqgateway"))
    consumer = WireConsumer(tag, channel, queue, no_ack=method.no_ack, exclusive=method.exclusive,
                            limit=channel.prefetch)
    queue.add_consumer(consumer, exclusive=method.exclusive)
    channel.consumers[tag] = consumer
    if not method.nowait:
        session.send_method(channel.id, frames.build(commands.Basic.ConsumeOk, consumer_tag=tag))
    queue.dispatch()


@channel_method(commands.Basic.Cancel)
def cancel(channel, method) -> None:
    consumer = channel.consumers.pop(method.consumer_tag, None)
    if not method.nowait:
        channel.session.send_method(channel.id, frames.build(commands.Basic.CancelOk,
                                                             consumer_tag=method.consumer_tag))
    if consumer is not None:
        consumer.cancelled = True
        consumer.queue.remove_consumer(consumer)


@channel_method(commands.Basic.CancelOk)
def cancel_ok(channel, method) -> None:
    pass  # the client confirming a server-sent basic.cancel (RabbitMQ accepts it)


@channel_method(commands.Basic.Get)
def get(channel, method) -> None:
    session = channel.session
    queue = session.vhost.queue(queue_name(channel, method.queue), owner=session)
    got = queue.get(no_ack=method.no_ack)
    if got is None:
        session.send_method(channel.id, frames.build(commands.Basic.GetEmpty))
        return
    entry, message = got
    tag = channel.take_tag()
    if not method.no_ack:
        channel.unacked[tag] = (queue, entry, None)
    session.send(b"".join([
        frames.method_frame(channel.id, frames.build(
            commands.Basic.GetOk, delivery_tag=tag, redelivered=entry.redelivered, exchange=message.exchange,
            routing_key=message.routing_key, message_count=queue.message_count)),
        *frames.content_frames(channel.id, message.properties, message.body, session.frame_max),
    ]))


@channel_method(commands.Basic.Publish)
def publish(channel, method) -> None:
    # Normally decoded on the hot path (connection.py); kept so the registry is complete.
    channel.begin_publish((method.exchange or "", method.routing_key or "", method.mandatory, method.immediate))


@channel_method(commands.Basic.Ack)
def ack(channel, method) -> None:
    channel.ack(method.delivery_tag, method.multiple)


@channel_method(commands.Basic.Reject)
def reject(channel, method) -> None:
    channel.reject(method.delivery_tag, False, method.requeue)


@channel_method(commands.Basic.Nack)
def nack(channel, method) -> None:
    channel.reject(method.delivery_tag, method.multiple, method.requeue)


@channel_method(commands.Basic.Recover)
def recover(channel, method) -> None:
    if not method.requeue:
        raise AmqpError(ReplyCode.NOT_IMPLEMENTED, "requeue=false")
    channel.recover()
    channel.session.send_method(channel.id, frames.build(commands.Basic.RecoverOk))


@channel_method(commands.Basic.RecoverAsync)
def recover_async(channel, method) -> None:
    if not method.requeue:
        raise AmqpError(ReplyCode.NOT_IMPLEMENTED, "requeue=false")
    channel.recover()
