"""Consuming and acknowledging (basic class, 60): consume/cancel, server consumer tags, exclusive
consumers, no-ack, cancel notifications, basic.get, ack/nack/reject with multiple and requeue,
recover, redelivery order, unacked messages going back on close, QoS as RabbitMQ defines it,
and round-robin between competing consumers. pika (blocking), py-amqp and a raw socket."""

from __future__ import annotations

import re

import amqp
import pytest
from pamqp import commands

from tests.compat.amqp.helpers import channel_error, connection_error, get_bodies, settle, wait_for
from tests.compat.amqp.rawamqp import RawConnection

VHOST = "/"


def fill(ch, q, count, start=0):
    for i in range(start, start + count):
        ch.basic_publish("", q, str(i).encode())


class Recorder:
    """Collects deliveries of a pika consumer as (delivery_tag, redelivered, body, consumer_tag)."""

    def __init__(self) -> None:
        self.items: list[tuple[int, bool, bytes, str]] = []

    def __call__(self, ch, method, props, body) -> None:
        self.items.append((method.delivery_tag, method.redelivered, body, method.consumer_tag))

    @property
    def bodies(self) -> list[bytes]:
        return [item[2] for item in self.items]


def test_server_generated_consumer_tag_py_amqp(broker, names):
    conn = amqp.Connection(f"{broker.host}:{broker.port}", userid=broker.user, password=broker.password,
                           virtual_host=broker.vhost, connect_timeout=5)
    conn.connect()
    try:
        ch = conn.channel()
        q = names.queue()
        ch.queue_declare(q, auto_delete=False)
        tag = ch.basic_consume(q, consumer_tag="", callback=lambda m: None)
        assert re.fullmatch(r"amq\.ctag-[A-Za-z0-9_-]{22}", tag), tag
        ch.basic_cancel(tag)
    finally:
        conn.close()


def test_server_generated_consumer_tag_raw(broker, names):
    q = names.queue()
    with RawConnection(broker.host, broker.port) as c:
        c.handshake()
        c.open_channel(1)
        c.send_frame(commands.Queue.Declare(queue=q), 1)
        c.expect(commands.Queue.DeclareOk)
        tags = set()
        for _ in range(2):
            c.send_frame(commands.Basic.Consume(queue=q, consumer_tag=""), 1)
            tags.add(c.expect(commands.Basic.ConsumeOk).consumer_tag)
        assert len(tags) == 2 and all(t.startswith("amq.ctag-") for t in tags)


def test_consumer_tag_reuse_on_a_channel_is_530(broker, names):
    q = names.queue()
    with RawConnection(broker.host, broker.port) as c:
        c.handshake()
        c.open_channel(1)
        c.send_frame(commands.Queue.Declare(queue=q), 1)
        c.expect(commands.Queue.DeclareOk)
        c.send_frame(commands.Basic.Consume(queue=q, consumer_tag="mine"), 1)
        c.expect(commands.Basic.ConsumeOk)
        c.send_frame(commands.Basic.Consume(queue=q, consumer_tag="mine"), 1)
        close = c.expect_close_then_eof()
        assert (close.reply_code, close.reply_text) == (530, "NOT_ALLOWED - attempt to reuse consumer tag 'mine'")
        assert (close.class_id, close.method_id) == (60, 20)


def test_consume_missing_queue_is_404(connection, names):
    missing = names.queue("missing")
    assert channel_error(connection, lambda ch: ch.basic_consume(missing, lambda *a: None)) == (
        404, f"NOT_FOUND - no queue '{missing}' in vhost '{VHOST}'")


def test_exclusive_consumer(connection, channel, names):
    q = names.queue()
    channel.queue_declare(q)
    in_use = (403, f"ACCESS_REFUSED - queue '{q}' in vhost '{VHOST}' in exclusive use")
    tag = channel.basic_consume(q, lambda *a: None, exclusive=True)
    assert channel_error(connection, lambda ch: ch.basic_consume(q, lambda *a: None)) == in_use
    assert channel_error(connection, lambda ch: ch.basic_consume(q, lambda *a: None, exclusive=True)) == in_use
    channel.basic_cancel(tag)
    channel.basic_consume(q, lambda *a: None)
    # the reverse: an exclusive consume on a queue that already has a consumer
    assert channel_error(connection, lambda ch: ch.basic_consume(q, lambda *a: None, exclusive=True)) == in_use


def test_no_ack_consumer(connection, channel, names):
    q = names.queue()
    channel.queue_declare(q)
    fill(channel, q, 3)
    rec = Recorder()
    consumer = connection.channel()
    consumer.basic_consume(q, rec, auto_ack=True)
    wait_for(lambda: len(rec.items) == 3, connection)
    assert rec.bodies == [b"0", b"1", b"2"]
    assert [item[0] for item in rec.items] == [1, 2, 3]
    consumer.close()  # nothing was unacked, so nothing comes back
    assert channel.queue_declare(q, passive=True).method.message_count == 0


def test_cancel_stops_deliveries(connection, channel, names):
    q = names.queue()
    channel.queue_declare(q)
    rec = Recorder()
    consumer = connection.channel()
    tag = consumer.basic_consume(q, rec, auto_ack=True)
    fill(channel, q, 1)
    wait_for(lambda: rec.items, connection)
    consumer.basic_cancel(tag)
    fill(channel, q, 2, start=1)
    settle(connection)
    assert rec.bodies == [b"0"]
    assert get_bodies(channel, q) == [b"1", b"2"]
    # cancelling an unknown tag is answered with cancel-ok (rabbit_channel basic.cancel)
    consumer.basic_cancel("no-such-consumer")


def test_consumer_cancel_notification_when_queue_is_deleted(connection, channel, names):
    q = names.queue()
    channel.queue_declare(q)
    consumer = connection.channel()
    cancelled = []
    consumer.add_on_cancel_callback(lambda frame: cancelled.append(frame.method.consumer_tag))
    tag = consumer.basic_consume(q, lambda *a: None)
    other = connection.channel()
    other.queue_delete(q)
    wait_for(lambda: cancelled, connection)
    assert cancelled == [tag]
    assert consumer.is_open


def test_basic_get(connection, channel, names, broker):
    q = names.queue()
    channel.queue_declare(q)
    channel.queue_bind(q, "amq.direct", "get-key")
    channel.basic_publish("amq.direct", "get-key", b"a")
    channel.basic_publish("", q, b"b")
    method, props, body = channel.basic_get(q, auto_ack=False)
    assert (method.exchange, method.routing_key, method.redelivered, method.message_count, body) == (
        "amq.direct", "get-key", False, 1, b"a")
    method2, _, body2 = channel.basic_get(q, auto_ack=False)
    assert (method2.message_count, body2, method2.delivery_tag) == (0, b"b", method.delivery_tag + 1)
    assert channel.basic_get(q) == (None, None, None)  # get-empty
    channel.basic_nack(method.delivery_tag, multiple=True, requeue=True)
    method3, _, body3 = channel.basic_get(q, auto_ack=True)
    assert (body3, method3.redelivered) == (b"a", True)
    channel.basic_publish("", q, b"c")
    with RawConnection(broker.host, broker.port) as c:
        c.handshake()
        c.open_channel(1)
        c.send_frame(commands.Basic.Get(queue=q), 1)
        c.expect(commands.Basic.GetOk)
        c.recv_raw_frame()
        c.recv_raw_frame()
        c.send_frame(commands.Basic.Get(queue=q), 1)
        empty = c.expect(commands.Basic.GetEmpty)
        assert empty.cluster_id == ""


def test_ack_multiple(connection, channel, names):
    q = names.queue()
    channel.queue_declare(q)
    fill(channel, q, 5)
    ch = connection.channel()
    tags = [ch.basic_get(q)[0].delivery_tag for _ in range(5)]
    ch.basic_ack(tags[2], multiple=True)  # acks 1..3
    ch.close()  # 4 and 5 go back
    assert get_bodies(channel, q) == [b"3", b"4"]


def test_nack_and_reject(connection, channel, names):
    q = names.queue()
    channel.queue_declare(q)
    fill(channel, q, 6)
    ch = connection.channel()
    tags = [ch.basic_get(q)[0].delivery_tag for _ in range(6)]
    ch.basic_nack(tags[1], multiple=True, requeue=False)  # 0, 1 discarded
    ch.basic_reject(tags[2], requeue=False)                # 2 discarded
    ch.basic_reject(tags[3], requeue=True)                 # 3 back
    ch.basic_nack(tags[5], multiple=True, requeue=True)    # 4, 5 back
    redelivered = []
    for _ in range(3):
        method, _, body = ch.basic_get(q, auto_ack=True)
        redelivered.append((body, method.redelivered))
    assert redelivered == [(b"3", True), (b"4", True), (b"5", True)]
    assert ch.basic_get(q) == (None, None, None)


@pytest.mark.parametrize("method", ["ack", "nack", "reject", "double-ack"])
def test_unknown_delivery_tag_is_406(connection, channel, names, method):
    q = names.queue()
    channel.queue_declare(q)
    fill(channel, q, 1)

    def action(ch):
        if method == "double-ack":
            tag = ch.basic_get(q)[0].delivery_tag
            ch.basic_ack(tag)
            ch.basic_ack(tag)
            return
        {"ack": lambda: ch.basic_ack(42), "nack": lambda: ch.basic_nack(42),
         "reject": lambda: ch.basic_reject(42)}[method]()

    tag = 1 if method == "double-ack" else 42
    assert channel_error(connection, action) == (406, f"PRECONDITION_FAILED - unknown delivery tag {tag}")


def test_ack_of_a_no_ack_delivery_is_406(connection, channel, names):
    q = names.queue()
    channel.queue_declare(q)
    fill(channel, q, 1)

    def action(ch):
        method, _, _ = ch.basic_get(q, auto_ack=True)
        ch.basic_ack(method.delivery_tag)

    assert channel_error(connection, action) == (406, "PRECONDITION_FAILED - unknown delivery tag 1")


def test_recover_requeues_unacked_deliveries(connection, channel, names):
    q = names.queue()
    channel.queue_declare(q)
    fill(channel, q, 3)
    rec = Recorder()
    consumer = connection.channel()
    consumer.basic_consume(q, rec)
    wait_for(lambda: len(rec.items) == 3, connection)
    consumer.basic_ack(rec.items[0][0])
    consumer.basic_recover(requeue=True)
    wait_for(lambda: len(rec.items) == 5, connection)
    assert [(body, redelivered) for _, redelivered, body, _ in rec.items[3:]] == [(b"1", True), (b"2", True)]


def test_recover_without_requeue_is_540(connection):
    assert connection_error(connection, lambda ch: ch.basic_recover(requeue=False)) == (
        540, "NOT_IMPLEMENTED - requeue=false")


def test_requeued_messages_keep_their_queue_order(connection, channel, names):
    q = names.queue()
    channel.queue_declare(q)
    fill(channel, q, 5)
    ch = connection.channel()
    tags = {}
    for _ in range(5):
        method, _, body = ch.basic_get(q)
        tags[body] = method.delivery_tag
    ch.basic_nack(tags[b"3"], requeue=True)
    ch.basic_nack(tags[b"1"], requeue=True)
    fill(channel, q, 1, start=5)
    ch.basic_nack(tags[b"4"], requeue=True)
    # classic queues put requeued messages back in publish order, ahead of newer ones
    order = []
    for _ in range(4):
        method, _, body = ch.basic_get(q, auto_ack=True)
        order.append((body, method.redelivered))
    assert order == [(b"1", True), (b"3", True), (b"4", True), (b"5", False)]


def test_unacked_messages_return_when_channel_closes(connection, channel, names):
    q = names.queue()
    channel.queue_declare(q)
    fill(channel, q, 3)
    consumer = connection.channel()
    rec = Recorder()
    consumer.basic_consume(q, rec)
    wait_for(lambda: len(rec.items) == 3, connection)
    consumer.basic_ack(rec.items[1][0])
    consumer.close()
    got = []
    for _ in range(2):
        method, _, body = channel.basic_get(q, auto_ack=True)
        got.append((body, method.redelivered))
    assert got == [(b"0", True), (b"2", True)]


def test_unacked_messages_return_when_connection_closes(broker, channel, names):
    q = names.queue()
    channel.queue_declare(q)
    fill(channel, q, 2)
    other = broker.connect()
    och = other.channel()
    och.basic_get(q)
    och.basic_get(q)
    other.close()
    assert channel.queue_declare(q, passive=True).method.message_count == 2
    method, _, body = channel.basic_get(q, auto_ack=True)
    assert (body, method.redelivered) == (b"0", True)


def test_redelivered_flag_on_consumer_redelivery(connection, channel, names):
    q = names.queue()
    channel.queue_declare(q)
    fill(channel, q, 1)
    consumer = connection.channel()
    rec = Recorder()
    consumer.basic_consume(q, rec)
    wait_for(lambda: rec.items, connection)
    consumer.basic_reject(rec.items[0][0], requeue=True)
    wait_for(lambda: len(rec.items) == 2, connection)
    assert [(body, redelivered) for _, redelivered, body, _ in rec.items] == [(b"0", False), (b"0", True)]


def consume_all(ch, queues):
    recs = {}
    for q in queues:
        recs[q] = Recorder()
        ch.basic_consume(q, recs[q])
    return recs


def counts_settle_at(connection, counts, expected) -> None:
    """Wait until `counts()` reaches `expected`, then keep pumping a while to show no more come."""
    wait_for(lambda: counts() == expected, connection)
    settle(connection)
    assert counts() == expected


def test_qos_per_consumer(connection, channel, names):
    q1, q2 = names.queue("a"), names.queue("b")
    for q in (q1, q2):
        channel.queue_declare(q)
        fill(channel, q, 10)
    ch = connection.channel()
    ch.basic_qos(prefetch_count=2)  # global=false: each consumer created after this gets 2
    recs = consume_all(ch, (q1, q2))
    counts = lambda: [len(recs[q].items) for q in (q1, q2)]  # noqa: E731
    counts_settle_at(connection, counts, [2, 2])
    ch.basic_ack(recs[q1].items[0][0])
    counts_settle_at(connection, counts, [3, 2])


def test_qos_global_is_shared_by_the_channel(connection, channel, names):
    q1, q2 = names.queue("a"), names.queue("b")
    for q in (q1, q2):
        channel.queue_declare(q)
        fill(channel, q, 10)
    ch = connection.channel()
    ch.basic_qos(prefetch_count=3, global_qos=True)
    recs = consume_all(ch, (q1, q2))
    total = lambda: sum(len(r.items) for r in recs.values())  # noqa: E731
    counts_settle_at(connection, total, 3)
    tag = (recs[q1].items or recs[q2].items)[0][0]
    ch.basic_ack(tag)
    counts_settle_at(connection, total, 4)


def test_qos_global_and_per_consumer_combined(connection, channel, names):
    q1, q2, q3 = names.queue("a"), names.queue("b"), names.queue("c")
    for q in (q1, q2, q3):
        channel.queue_declare(q)
        fill(channel, q, 10)
    ch = connection.channel()
    # the order of RabbitMQ's consumer-prefetch documentation: per-consumer first, then the shared
    # limit (a later global=false call lifts the channel limit: rabbit_limiter:unlimit_prefetch)
    ch.basic_qos(prefetch_count=2, global_qos=False)
    ch.basic_qos(prefetch_count=5, global_qos=True)
    recs = consume_all(ch, (q1, q2, q3))
    total = lambda: sum(len(r.items) for r in recs.values())  # noqa: E731
    counts_settle_at(connection, total, 5)
    counts = [len(recs[q].items) for q in (q1, q2, q3)]
    assert max(counts) <= 2, counts


def test_qos_only_affects_consumers_created_after_it(connection, channel, names):
    q1, q2 = names.queue("a"), names.queue("b")
    for q in (q1, q2):
        channel.queue_declare(q)
        fill(channel, q, 10)
    ch = connection.channel()
    early = Recorder()
    ch.basic_consume(q1, early)
    ch.basic_qos(prefetch_count=1)
    late = Recorder()
    ch.basic_consume(q2, late)
    counts_settle_at(connection, lambda: (len(early.items), len(late.items)), (10, 1))


def test_qos_prefetch_size_is_not_implemented(connection):
    assert connection_error(connection, lambda ch: ch.basic_qos(prefetch_size=1000, prefetch_count=1)) == (
        540, "NOT_IMPLEMENTED - prefetch_size!=0 (1000)")


def test_competing_consumers_round_robin(connection, channel, names):
    q = names.queue()
    channel.queue_declare(q)
    recs = [Recorder() for _ in range(3)]
    for rec in recs:
        connection.channel().basic_consume(q, rec, auto_ack=True)
    fill(channel, q, 9)
    wait_for(lambda: sum(len(r.items) for r in recs) == 9, connection)
    assert [r.bodies for r in recs] == [[b"0", b"3", b"6"], [b"1", b"4", b"7"], [b"2", b"5", b"8"]]


def test_prefetch_one_consumers_share_work_as_they_ack(connection, channel, names):
    q = names.queue()
    channel.queue_declare(q)
    fill(channel, q, 6)
    chans = [connection.channel() for _ in range(2)]
    recs = [Recorder() for _ in range(2)]
    for ch, rec in zip(chans, recs):
        ch.basic_qos(prefetch_count=1)
        ch.basic_consume(q, rec)
    counts_settle_at(connection, lambda: [len(r.items) for r in recs], [1, 1])
    for _ in range(2):  # only the first consumer acks: it gets the rest, one at a time
        chans[0].basic_ack(recs[0].items[-1][0])
        wait_for(lambda n=len(recs[0].items): len(recs[0].items) == n + 1, connection)
    assert [len(r.items) for r in recs] == [3, 1]
