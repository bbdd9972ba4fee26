"""Publisher confirms (confirm class 85, a RabbitMQ extension) and transactions (tx class 90):
delivery tags and `multiple`, the return-then-ack order for mandatory unroutables, commit and
rollback of publishes and acks, and the mode-switch errors. pika (blocking) and a raw socket,
which can see every ack frame and its order relative to basic.return."""

from __future__ import annotations

import pika
import pytest
from pamqp import commands

from tests.compat.amqp.helpers import channel_error, get_bodies
from tests.compat.amqp.rawamqp import RawConnection


def confirm_channel(broker, channel_id: int = 1) -> RawConnection:
    c = RawConnection(broker.host, broker.port)
    c.handshake()
    c.open_channel(channel_id)
    c.send_frame(commands.Confirm.Select(), channel_id)
    c.expect(commands.Confirm.SelectOk)
    return c


def test_pipelined_confirms_cover_every_tag_once(broker, names):
    q = names.queue()
    with confirm_channel(broker) as c:
        c.send_frame(commands.Queue.Declare(queue=q), 1)
        c.expect(commands.Queue.DeclareOk)
        for i in range(200):
            c.publish(1, exchange="", routing_key=q, body=b"%d" % i)
        confirmed: set[int] = set()
        while len(confirmed) < 200:
            ack = c.expect(commands.Basic.Ack)
            tags = set(range(1, ack.delivery_tag + 1)) - confirmed if ack.multiple else {ack.delivery_tag}
            assert tags and not tags & confirmed, f"ack {ack.delivery_tag} multiple={ack.multiple} confirms nothing new"
            confirmed |= tags
        assert confirmed == set(range(1, 201))
        c.send_frame(commands.Queue.Declare(queue=q, passive=True), 1)
        assert c.expect(commands.Queue.DeclareOk).message_count == 200


def test_mandatory_unroutable_gets_return_then_ack(broker, names):
    x = names.exchange()
    with confirm_channel(broker) as c:
        c.send_frame(commands.Exchange.Declare(exchange=x, exchange_type="direct"), 1)
        c.expect(commands.Exchange.DeclareOk)
        c.publish(1, exchange=x, routing_key="nowhere", body=b"bounce", mandatory=True)
        returned = c.expect(commands.Basic.Return)
        assert (returned.reply_code, returned.reply_text, returned.exchange, returned.routing_key) == (
            312, "NO_ROUTE", x, "nowhere")
        frame_type, _, _ = c.recv_raw_frame()
        assert frame_type == 2
        assert c.recv_raw_frame()[2] == b"bounce"
        ack = c.expect(commands.Basic.Ack)
        assert ack.delivery_tag == 1
        # an unroutable message that is not mandatory is simply confirmed
        c.publish(1, exchange=x, routing_key="nowhere", body=b"dropped")
        assert c.expect(commands.Basic.Ack).delivery_tag == 2


def test_pika_blocking_confirms(channel, names):
    q = names.queue()
    channel.queue_declare(q)
    channel.basic_publish("", q, b"confirmed")  # returns only after basic.ack
    with pytest.raises(pika.exceptions.UnroutableError):
        channel.basic_publish("", names.queue("missing"), b"bounce", mandatory=True)
    assert get_bodies(channel, q) == [b"confirmed"]


def test_delivery_tags_are_per_channel(broker, names):
    q = names.queue()
    with RawConnection(broker.host, broker.port) as c:
        c.handshake()
        for ch in (1, 2):
            c.open_channel(ch)
            c.send_frame(commands.Confirm.Select(), ch)
            c.expect(commands.Confirm.SelectOk)
        c.send_frame(commands.Queue.Declare(queue=q), 1)
        c.expect(commands.Queue.DeclareOk)
        c.publish(1, exchange="", routing_key=q, body=b"a")
        ack1 = c.expect(commands.Basic.Ack)
        c.publish(2, exchange="", routing_key=q, body=b"b")
        ack2 = c.expect(commands.Basic.Ack)
        assert (ack1.delivery_tag, ack2.delivery_tag) == (1, 1)


def test_tx_commit_makes_publishes_visible(connection, channel, names):
    q = names.queue()
    channel.queue_declare(q)
    tx = connection.channel()
    tx.tx_select()
    tx.basic_publish("", q, b"1")
    tx.basic_publish("", q, b"2")
    assert channel.basic_get(q) == (None, None, None)
    tx.tx_commit()
    assert get_bodies(tx, q) == [b"1", b"2"]


def test_tx_rollback_discards_publishes(connection, channel, names):
    q = names.queue()
    channel.queue_declare(q)
    tx = connection.channel()
    tx.tx_select()
    tx.basic_publish("", q, b"discarded")
    tx.tx_rollback()
    tx.basic_publish("", q, b"kept")
    tx.tx_commit()
    assert get_bodies(tx, q) == [b"kept"]


def test_tx_acks_apply_on_commit_only(connection, channel, names):
    q = names.queue()
    channel.queue_declare(q)
    channel.basic_publish("", q, b"m")
    tx = connection.channel()
    tx.tx_select()
    method, _, _ = tx.basic_get(q)
    tx.basic_ack(method.delivery_tag)
    tx.tx_rollback()  # the ack is dropped: the message is unacked again
    tx.basic_ack(method.delivery_tag)
    tx.tx_commit()
    tx.close()  # had the ack been lost, the message would come back now
    assert channel.basic_get(q) == (None, None, None)


def test_tx_rolled_back_ack_is_requeued_on_close(connection, channel, names):
    q = names.queue()
    channel.queue_declare(q)
    channel.basic_publish("", q, b"m")
    tx = connection.channel()
    tx.tx_select()
    method, _, _ = tx.basic_get(q)
    tx.basic_ack(method.delivery_tag)
    tx.tx_rollback()
    tx.close()
    method, _, body = channel.basic_get(q, auto_ack=True)
    assert (body, method.redelivered) == (b"m", True)


@pytest.mark.parametrize("method", ["commit", "rollback"])
def test_tx_without_select_is_406(connection, method):
    assert channel_error(connection, lambda ch: getattr(ch, f"tx_{method}")()) == (
        406, "PRECONDITION_FAILED - channel is not transactional")


def test_cannot_switch_between_confirm_and_tx(connection):
    def confirm_then_tx(ch):
        ch.confirm_delivery()
        ch.tx_select()

    def tx_then_confirm(ch):
        ch.tx_select()
        ch.confirm_delivery()

    assert channel_error(connection, confirm_then_tx) == (406, "PRECONDITION_FAILED - cannot switch from confirm to tx mode")
    assert channel_error(connection, tx_then_confirm) == (406, "PRECONDITION_FAILED - cannot switch from tx to confirm mode")
