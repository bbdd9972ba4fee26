"""Class 85, confirm (RabbitMQ extension): select.

Served: confirm.select (with nowait) puts the channel in confirm mode; from then on every
publish is acknowledged with basic.ack carrying the channel's publish sequence number,
`multiple` covering runs (amqp_wire/channel.py). A persistent message routed to a durable
queue is confirmed only after its record was handed to the OS. A transactional channel
cannot switch: 406 "cannot switch from tx to confirm mode".

A message some queue refused (x-overflow reject-publish / reject-publish-dlx) is nacked
instead, in sequence among the acks, and so is every publish of a batch whose store write
failed (RabbitMQ nacks on internal errors).
"""

from __future__ import annotations

from pamqp import commands

from amqp_wire import frames
from amqp_wire.errors import AmqpError, ReplyCode
from amqp_wire.handlers import channel_method


@channel_method(commands.Confirm.Select)
def select(channel, method) -> None:
    if channel.tx:
        raise AmqpError(ReplyCode.PRECONDITION_FAILED, "cannot switch from tx to confirm mode")
    channel.confirm = True
    if not method.nowait:
        channel.session.send_method(channel.id, frames.build(commands.Confirm.SelectOk))
