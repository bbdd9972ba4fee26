"""Class 50, queue: declare, bind, unbind, purge, delete.

Served as RabbitMQ serves them (rules in engine/messaging/vhost.py and arguments.py):
- declare: an empty name makes a server-named `amq.gen-…` queue; passive declares check
  existence (404) and exclusivity (405); exclusive queues belong to this connection, are
  never durable, and go when it closes; redeclare checks exclusivity first, then durable,
  auto-delete and the compared arguments (406); declare-ok reports ready messages and
  consumers.
- The channel remembers the last queue it declared: an empty queue name in bind, unbind,
  purge, delete, consume and get means that queue (404 "no previously declared queue"
  when there is none), `rabbit_channel:expand_queue_name_shortcut/2`.
- purge drops ready messages (not unacked ones) and reports how many.
- delete is idempotent for missing queues, honours if-unused / if-empty (406), sends
  basic.cancel to the queue's consumers, and reports the ready messages dropped.
- queue types and arguments (engine/messaging/arguments.py): quorum queues must be durable,
  shared and kept (406 "invalid property 'auto-delete' ..."), cannot be server-named; every
  argument is validated for the declared type, with RabbitMQ's 406 texts; streams are
  refused (406 "... not yet supported by mqgateway").
- direct reply-to names (`amq.rabbitmq.reply-to`, `amq.rabbitmq.reply-to.<suffix>`) are
  always declared passively: (0 messages, 1 consumer) or 404; binding them is 403.
`nowait` suppresses the reply only; errors are still raised (errata §9).
"""

from __future__ import annotations

from pamqp import commands

from engine.messaging import QueueSpec

from amqp_wire import frames, stream_rules
from amqp_wire.errors import no_previous_queue
from amqp_wire.handlers import channel_method


def queue_name(channel, name: str | None) -> str:
    """`expand_queue_name_shortcut`: "" is the queue this channel declared last."""
    if name:
        return name
    if channel.last_queue is None:
        raise no_previous_queue()
    return channel.last_queue


@channel_method(commands.Queue.Declare)
def declare(channel, method) -> None:
    session = channel.session
    status = session.vhost.queue_declare(QueueSpec(
        name=method.queue or "", durable=method.durable, exclusive=method.exclusive,
        auto_delete=method.auto_delete, arguments=method.arguments or {},
    ), passive=method.passive, owner=session)
    channel.last_queue = status.name
    if not method.nowait:
        session.send_method(channel.id, frames.build(
            commands.Queue.DeclareOk, queue=status.name, message_count=status.message_count,
            consumer_count=status.consumer_count))


@channel_method(commands.Queue.Bind)
def bind(channel, method) -> None:
    session = channel.session
    session.vhost.queue_bind(queue_name(channel, method.queue), method.exchange or "", method.routing_key or "",
                             method.arguments or {}, owner=session)
    if not method.nowait:
        session.send_method(channel.id, frames.build(commands.Queue.BindOk))


@channel_method(commands.Queue.Unbind)
def unbind(channel, method) -> None:
    session = channel.session
    session.vhost.queue_unbind(queue_name(channel, method.queue), method.exchange or "", method.routing_key or "",
                               method.arguments or {}, owner=session)
    session.send_method(channel.id, frames.build(commands.Queue.UnbindOk))


@channel_method(commands.Queue.Purge)
def purge(channel, method) -> None:
    session = channel.session
    target = session.vhost.queues.get(queue_name(channel, method.queue))
    if stream_rules.is_stream(target):
        stream_rules.check_purge(channel, target)
    count = session.vhost.queue_purge(queue_name(channel, method.queue), owner=session)
    if not method.nowait:
        session.send_method(channel.id, frames.build(commands.Queue.PurgeOk, message_count=count))


@channel_method(commands.Queue.Delete)
def delete(channel, method) -> None:
    session = channel.session
    count = session.vhost.queue_delete(queue_name(channel, method.queue), owner=session,
                                       if_unused=method.if_unused, if_empty=method.if_empty)
    if not method.nowait:
        session.send_method(channel.id, frames.build(commands.Queue.DeleteOk, message_count=count))
