"""Class 90, tx: select, commit, rollback.

Served as RabbitMQ does: after tx.select, publishes and acks/rejects are buffered (an ack's
tag is checked and taken out of the unacked set at once, so a second ack of it is 406);
commit routes the buffered publishes (basic.return for unroutable mandatory ones) and
applies the buffered settlements, in order; rollback drops the publishes and puts the
acknowledged deliveries back among the unacked. A confirm channel cannot switch (406
"cannot switch from confirm to tx mode"); commit or rollback without select is 406
"channel is not transactional".

All-or-nothing across queues, and across a crash: the commit is applied in one synchronous
step (no other client sees half of it), and `Channel.tx_commit` has the engine write one
intent record of the whole commit to the transaction journal before applying it, flush the
queues, then empty the journal (engine/messaging/txlog.py); recovery re-applies an intent
left behind. tx.commit-ok is queued only after that, and the wire sends it at the end of
the input batch, so a client that saw commit-ok will find the whole commit after kill -9.
Under `--fsync always` commit-ok waits also for the fsync round covering those writes
(`Session.after_durable`), so it survives a power loss too.
"""

from __future__ import annotations

from pamqp import commands

from amqp_wire import frames
from amqp_wire.channel import ChannelState
from amqp_wire.errors import AmqpError, ReplyCode
from amqp_wire.handlers import channel_method


def _not_transactional() -> AmqpError:
    return AmqpError(ReplyCode.PRECONDITION_FAILED, "channel is not transactional")


@channel_method(commands.Tx.Select)
def select(channel, method) -> None:
    if channel.confirm:
        raise AmqpError(ReplyCode.PRECONDITION_FAILED, "cannot switch from confirm to tx mode")
    channel.tx = True
    channel.session.send_method(channel.id, frames.build(commands.Tx.SelectOk))


@channel_method(commands.Tx.Commit)
def commit(channel, method) -> None:
    if not channel.tx:
        raise _not_transactional()
    channel.tx_commit()
    # Under --fsync always, commit-ok waits for the fsync of the journal and the segments.
    # Nothing else on this channel waits behind it: tx.commit is synchronous, so the client
    # sends no other synchronous method on the channel before commit-ok arrives.
    channel.session.after_durable(lambda: _commit_ok(channel), lambda exc: None)


def _commit_ok(channel) -> None:
    if channel.state is ChannelState.OPEN:
        channel.session.send_method(channel.id, frames.build(commands.Tx.CommitOk))


@channel_method(commands.Tx.Rollback)
def rollback(channel, method) -> None:
    if not channel.tx:
        raise _not_transactional()
    channel.tx_rollback()
    channel.session.send_method(channel.id, frames.build(commands.Tx.RollbackOk))
