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

- consume arguments (`rabbit_amqqueue:check_consume_arguments/3`): `x-priority` (any
  integer; 406 "invalid arg 'x-priority' for queue 'q' in vhost '/': \"expected
  integer, got longstr\"" otherwise) sets the consumer priority; `x-consumer-timeout`
  (quorum queues) its ack timeout; a key only another queue type knows
  (`x-stream-offset` on a classic queue) is 406 "... of queue type rabbit_classic_queue".
- global QoS on a quorum queue is 540 "queue 'q' in vhost '/' does not support global
  qos" (a connection error, as RabbitMQ raises it); basic.get on a quorum queue with
  single active consumer is 405.
- direct reply-to: basic.consume on `amq.rabbitmq.reply-to` must be no-ack (406 "reply
  consumer cannot acknowledge") and once per channel (406 "reply consumer already set");
  the consumer gets the replies sent to the channel's `amq.rabbitmq.reply-to.<suffix>`
  name (engine/messaging/reply.py); basic.cancel of its tag ends it.
"""

from __future__ import annotations

import time

from pamqp import commands

from engine.messaging import QueueType, server_name
from engine.messaging.fields import INTEGER_KINDS

from amqp_wire import frames, stream_rules
from amqp_wire.consumer import WireConsumer
from amqp_wire.errors import AmqpError, ReplyCode, rs
from amqp_wire.handlers import channel_method
from amqp_wire.handlers.c50_queue import queue_name
from amqp_wire.properties import annotated

REPLY_TO = "amq.rabbitmq.reply-to"


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
    if method.queue == REPLY_TO:
        _consume_replies(channel, method)
        return
    name = queue_name(channel, method.queue)
    queue = session.vhost.queue(name, owner=session)
    tag = method.consumer_tag or server_name("amq.ctag")
    if tag in channel.consumers:
        raise AmqpError(ReplyCode.NOT_ALLOWED, f"attempt to reuse consumer tag '{tag}'")
    arguments = method.arguments or {}
    session.vhost.check_consume(queue, arguments)
    if stream_rules.is_stream(queue):
        stream_rules.check_consume(channel, queue, method, channel.prefetch)
    if queue.type is QueueType.QUORUM and channel.global_limit:
        raise AmqpError(ReplyCode.NOT_IMPLEMENTED,
                        f"{rs('queue', queue.name, session.vhost_name)} does not support global qos")
    priority = arguments.get("x-priority")
    timeout = arguments.get("x-consumer-timeout") if queue.type is QueueType.QUORUM else None
    consumer = WireConsumer(tag, channel, queue, no_ack=method.no_ack, exclusive=method.exclusive,
                            limit=channel.prefetch, priority=int(priority.value) if priority is not None else 0,
                            timeout=_positive_int(timeout))
    consumer.stream_offset = arguments.get("x-stream-offset")
    consumer.stream_arguments = arguments
    queue.add_consumer(consumer, exclusive=method.exclusive)
    channel.consumers[tag] = consumer
    if not method.nowait:
        session.send_method(channel.id, frames.build(commands.Basic.ConsumeOk, consumer_tag=tag))
    queue.dispatch()


def _positive_int(field) -> int:
    if field is None or field.kind not in INTEGER_KINDS or field.value <= 0:
        return 0
    return int(field.value)


def _consume_replies(channel, method) -> None:
    """basic.consume on amq.rabbitmq.reply-to (rabbit_channel's reply consumer clause)."""
    session = channel.session
    tag = method.consumer_tag or server_name("amq.ctag")
    if tag in channel.consumers:
        raise AmqpError(ReplyCode.NOT_ALLOWED, f"attempt to reuse consumer tag '{tag}'")
    if not method.no_ack:
        raise AmqpError(ReplyCode.PRECONDITION_FAILED, "reply consumer cannot acknowledge")
    if channel.reply_consumer is not None:
        raise AmqpError(ReplyCode.PRECONDITION_FAILED, "reply consumer already set")
    consumer = WireConsumer(tag, channel, None, no_ack=True, exclusive=False, limit=0)
    consumer.queue = session.vhost.open_reply_queue(consumer)
    channel.reply_consumer = consumer
    channel.consumers[tag] = consumer
    if not method.nowait:
        session.send_method(channel.id, frames.build(commands.Basic.ConsumeOk, consumer_tag=tag))


@channel_method(commands.Basic.Cancel)
def cancel(channel, method) -> None:
    consumer = channel.consumers.pop(method.consumer_tag, None)
    if not method.nowait:
        channel.session.send_method(channel.id, frames.build(commands.Basic.CancelOk,
                                                             consumer_tag=method.consumer_tag))
    if consumer is not None:
        consumer.cancelled = True
        if channel.reply_consumer is consumer:
            channel.reply_consumer = None
        consumer.queue.remove_consumer(consumer)


@channel_method(commands.Basic.CancelOk)
def cancel_ok(channel, method) -> None:
    pass  # the client confirming a server-sent basic.cancel (RabbitMQ accepts it)


@channel_method(commands.Basic.Get)
def get(channel, method) -> None:
    session = channel.session
    queue = session.vhost.queue(queue_name(channel, method.queue), owner=session)
    if stream_rules.is_stream(queue):
        stream_rules.check_get(channel, queue)
    queue.check_get()
    got = queue.get(no_ack=method.no_ack)
    if got is None:
        session.send_method(channel.id, frames.build(commands.Basic.GetEmpty))
        return
    entry, message = got
    tag = channel.take_tag()
    if not method.no_ack:
        channel.unacked[tag] = (queue, entry, None, time.monotonic())
        if channel.timeout_timer is None:
            channel.arm_timeout(channel.timeout_of(queue, None) / 1000.0)
    props = message.properties
    if message.deaths is not None or entry.deliveries:
        props = annotated(props, message.deaths, entry.deliveries)
    session.send(b"".join([
        frames.method_frame(channel.id, frames.build(
            commands.Basic.GetOk, delivery_tag=tag, redelivered=entry.redelivered, exchange=message.exchange,
            routing_key=message.routing_key, message_count=queue.message_count)),
        *frames.content_frames(channel.id, props, message.body, session.frame_max),
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
