"""A classic queue's per-message state: round-robin, credit, requeue order, get, purge."""

from __future__ import annotations

from engine.messaging import QueueSpec

from tests.engine.messaging.conftest import Recorder, msg


def _queue(vhost, name="q", **kw):
    vhost.queue_declare(QueueSpec(name=name, **kw), passive=False, owner=None)
    return vhost.queues[name]


def test_round_robin_across_consumers(vhost):
    q = _queue(vhost)
    a, b = Recorder(), Recorder()
    q.add_consumer(a, exclusive=False)
    q.add_consumer(b, exclusive=False)
    for i in range(6):
        q.enqueue(msg(b"%d" % i))
    assert a.bodies == [b"0", b"2", b"4"]
    assert b.bodies == [b"1", b"3", b"5"]
    assert (q.message_count, q.unacked_count) == (0, 6)


def test_credit_limits_deliveries_and_dispatch_resumes(vhost):
    q = _queue(vhost)
    c = Recorder(credit=2)
    q.add_consumer(c, exclusive=False)
    for i in range(5):
        q.enqueue(msg(b"%d" % i))
    assert c.bodies == [b"0", b"1"]
    assert q.message_count == 3
    q.ack(c.got[0][0])
    c.credit = 3
    q.dispatch()
    assert c.bodies == [b"0", b"1", b"2"]
    assert q.unacked_count == 2


def test_requeue_puts_messages_back_in_publish_order_marked_redelivered(vhost):
    q = _queue(vhost)
    for i in range(5):
        q.enqueue(msg(b"%d" % i))
    taken = [q.get(no_ack=False) for _ in range(3)]  # 0, 1, 2 out; 3, 4 ready
    q.requeue([taken[2][0], taken[0][0]])
    order = []
    while (got := q.get(no_ack=True)) is not None:
        order.append((got[1].body, got[0].redelivered))
    assert order == [(b"0", True), (b"2", True), (b"3", False), (b"4", False)]
    assert q.unacked_count == 1  # "1" is still out


def test_requeue_merges_with_earlier_requeued_messages(vhost):
    q = _queue(vhost)
    for i in range(4):
        q.enqueue(msg(b"%d" % i))
    e0, e1, e2 = (q.get(no_ack=False)[0] for _ in range(3))
    q.requeue([e1])           # ready: 1, 3
    q.requeue([e2, e0])       # ready: 0, 1, 2, 3
    assert [q.get(no_ack=True)[1].body for _ in range(4)] == [b"0", b"1", b"2", b"3"]


def test_no_ack_consumer_settles_on_delivery(vhost):
    q = _queue(vhost)
    c = Recorder(no_ack=True)
    q.add_consumer(c, exclusive=False)
    q.enqueue(msg())
    assert (q.message_count, q.unacked_count) == (0, 0)


def test_get_reports_and_purge_drops_only_ready(vhost):
    q = _queue(vhost)
    for i in range(3):
        q.enqueue(msg(b"%d" % i))
    entry, message = q.get(no_ack=False)
    assert message.body == b"0" and q.message_count == 2
    assert q.purge() == 2
    assert (q.message_count, q.unacked_count) == (0, 1)
    assert q.get(no_ack=False) is None


def test_auto_delete_queue_goes_with_its_last_consumer_only_if_it_had_one(vhost):
    q = _queue(vhost, auto_delete=True)
    q.get(no_ack=True)  # basic.get does not count as a consumer
    a, b = Recorder(), Recorder()
    q.add_consumer(a, exclusive=False)
    q.add_consumer(b, exclusive=False)
    q.remove_consumer(a)
    assert "q" in vhost.queues
    q.remove_consumer(b)
    assert "q" not in vhost.queues and q.deleted


def test_deleting_a_queue_tells_its_consumers(vhost):
    q = _queue(vhost)
    c = Recorder()
    q.add_consumer(c, exclusive=False)
    assert vhost.queue_delete("q", owner=None, if_unused=False, if_empty=False) == 0
    assert c.deleted and q.deleted


def test_ack_after_delete_is_harmless(vhost):
    q = _queue(vhost)
    q.enqueue(msg())
    entry, _ = q.get(no_ack=False)
    vhost.queue_delete("q", owner=None, if_unused=False, if_empty=False)
    q.ack(entry)
    q.requeue([entry])
    assert q.message_count == 0
