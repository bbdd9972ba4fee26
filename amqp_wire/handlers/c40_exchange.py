"""Class 40, exchange: declare, delete, bind, unbind (exchange-to-exchange).

Served as RabbitMQ serves them (`rabbit_channel:handle_method/3`); the rules live in the
engine (engine/messaging/vhost.py) and the texts in amqp_wire/errors.py:
- declare: types direct, fanout, topic, headers (406 "unknown exchange type 'x'", the
  RabbitMQ 4.x behaviour; 3.10 closed the connection with 503); passive declares check
  existence only; `amq.*` names are reserved (403); redeclare must match type, durable,
  auto-delete, internal and `alternate-exchange` (406 "inequivalent arg …"); other
  arguments are kept and not compared.
- delete: idempotent for missing exchanges; if-unused refuses an exchange with bindings
  as source (406); the default and `amq.*` exchanges cannot be deleted (403).
- bind/unbind: destination and source must exist (404); the default exchange may be
  neither (403); unbinding what is not bound succeeds.
`nowait` suppresses the reply only; errors are still raised (errata §9).
"""

from __future__ import annotations

from pamqp import commands

from engine.messaging import ExchangeSpec

from amqp_wire import frames
from amqp_wire.handlers import channel_method


def _reply(channel, method, ok_cls) -> None:
    if not method.nowait:
        channel.session.send_method(channel.id, frames.build(ok_cls))


@channel_method(commands.Exchange.Declare)
def declare(channel, method) -> None:
    channel.session.vhost.exchange_declare(ExchangeSpec(
        name=method.exchange or "", type=method.exchange_type or "direct", durable=method.durable,
        auto_delete=method.auto_delete, internal=method.internal, arguments=method.arguments or {},
    ), passive=method.passive)
    _reply(channel, method, commands.Exchange.DeclareOk)


@channel_method(commands.Exchange.Delete)
def delete(channel, method) -> None:
    channel.session.vhost.exchange_delete(method.exchange or "", if_unused=method.if_unused)
    _reply(channel, method, commands.Exchange.DeleteOk)


@channel_method(commands.Exchange.Bind)
def bind(channel, method) -> None:
    channel.session.vhost.exchange_bind(method.destination or "", method.source or "", method.routing_key or "",
                                        method.arguments or {})
    _reply(channel, method, commands.Exchange.BindOk)


@channel_method(commands.Exchange.Unbind)
def unbind(channel, method) -> None:
    channel.session.vhost.exchange_unbind(method.destination or "", method.source or "", method.routing_key or "",
                                          method.arguments or {})
    _reply(channel, method, commands.Exchange.UnbindOk)
