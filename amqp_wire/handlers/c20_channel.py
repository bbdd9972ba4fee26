"""Class 20, channel: open, flow, close, close-ok.

Served: channel.open (in amqp_wire/connection.py, which owns the channel table: a second
open of the same number is 504 "second 'channel.open' seen", an open once channel_max
channels are open 530); channel.close from the client (close-ok; the channel's consumers are cancelled and
its unacked deliveries requeued); close-ok for a close we sent (the number is free again
only then, §4.2.1 / RabbitMQ); channel.flow active=true answered flow-ok.

Deliberately refused as RabbitMQ refuses it: channel.flow active=false is 540
NOT_IMPLEMENTED "active=false" (RabbitMQ stopped honouring client flow control in 3.x).
"""

from __future__ import annotations

from pamqp import commands

from amqp_wire import frames
from amqp_wire.errors import AmqpError, ReplyCode
from amqp_wire.handlers import channel_method


@channel_method(commands.Channel.Open)
def open_(channel, method) -> None:
    raise AmqpError(ReplyCode.CHANNEL_ERROR, "second 'channel.open' seen")


@channel_method(commands.Channel.Flow)
def flow(channel, method) -> None:
    if not method.active:
        raise AmqpError(ReplyCode.NOT_IMPLEMENTED, "active=false")
    channel.session.send_method(channel.id, frames.build(commands.Channel.FlowOk, active=True))


@channel_method(commands.Channel.FlowOk)
def flow_ok(channel, method) -> None:
    pass  # the server never sends channel.flow, so there is nothing to confirm


@channel_method(commands.Channel.Close)
def close(channel, method) -> None:
    session = channel.session
    channel.release()
    session.channels.pop(channel.id, None)
    session.send_method(channel.id, frames.build(commands.Channel.CloseOk))


@channel_method(commands.Channel.CloseOk)
def close_ok(channel, method) -> None:
    # close-ok for a close we never sent: RabbitMQ treats it as a protocol violation
    raise AmqpError(ReplyCode.CHANNEL_ERROR, "unexpected channel.close-ok")
