"""Queue features with the memory backend and a fake clock: TTL, x-expires, length limits,
priorities, consumer priorities, single active consumer, quorum delivery limits, dead-lettering."""

from __future__ import annotations

from engine.messaging import DeathReason, PublishResult, QueueSpec
from engine.messaging.types import make_message
from engine.messaging.fields import Field, FieldKind, longstr

from tests.engine.messaging.conftest import Recorder, msg


def i(value: int) -> Field:
    return Field(FieldKind.SIGNEDINT, value)


def declare(vhost, name="q", *, durable=False, **arguments):
    args = {k.replace("_", "-"): v for k, v in arguments.items()}
    vhost.queue_declare(QueueSpec(name=name, durable=durable, arguments=args), passive=False, owner=None)
    return vhost.queues[name]


def publish(vhost, queue, body=b"x", **kw) -> PublishResult:
    return vhost.publish(vhost.exchanges[""], queue, make_message("", queue, b"\x00\x00", body, **kw))


def bodies(queue) -> list[bytes]:
    out = []
    while (got := queue.get(no_ack=True)) is not None:
        out.append(got[1].body)
    return out


def advance(messaging, ms):
    messaging.clock.advance(ms)
    messaging.run_due()


# -- TTL ----------------------------------------------------------------------------------

def test_queue_ttl_expires_at_the_head_on_a_timer_and_dead_letters(messaging, vhost):
    dlq = declare(vhost, "dlq")
    q = declare(vhost, "q", x_message_ttl=i(1000), x_dead_letter_exchange=longstr(""),
                x_dead_letter_routing_key=longstr("dlq"))
    publish(vhost, "q", b"a")
    advance(messaging, 500)
    publish(vhost, "q", b"b")
    advance(messaging, 500)  # a expires on the timer, with no consumer and no get
    assert (q.message_count, dlq.message_count) == (1, 1)
    advance(messaging, 500)
    assert (q.message_count, dlq.message_count) == (0, 2)
    entry, dead = dlq.get(no_ack=True)
    assert dead.body == b"a" and dead.exchange == "" and dead.routing_key == "dlq"
    (death,) = dead.deaths.records
    assert (death.queue, death.reason, death.count, death.routing_keys) == ("q", DeathReason.EXPIRED, 1, ("q",))


def test_per_message_ttl_lower_wins_and_expires_only_at_the_head(messaging, vhost):
    q = declare(vhost, "q", x_message_ttl=i(10_000))
    publish(vhost, "q", b"long", expiration_ms=60_000)  # queue TTL (10 s) wins
    publish(vhost, "q", b"short", expiration_ms=10)
    advance(messaging, 100)
    assert q.message_count == 2  # "short" is not at the head: classic queues expire at the head only
    advance(messaging, 10_000)
    assert q.message_count == 0


def test_ttl_zero_delivers_to_a_waiting_consumer_else_drops(messaging, vhost):
    q = declare(vhost, "q", x_message_ttl=i(0))
    publish(vhost, "q", b"nobody")
    assert q.message_count == 0
    c = Recorder()
    q.add_consumer(c, exclusive=False)
    publish(vhost, "q", b"taken")
    assert c.bodies == [b"taken"]


def test_expired_messages_are_never_delivered(messaging, vhost):
    q = declare(vhost, "q")
    publish(vhost, "q", b"old", expiration_ms=5)
    publish(vhost, "q", b"new")
    messaging.clock.advance(10)  # no timer run: the dispatch itself must skip the expired head
    c = Recorder()
    q.add_consumer(c, exclusive=False)
    q.dispatch()
    assert c.bodies == [b"new"]


# -- x-expires ----------------------------------------------------------------------------

def test_unused_queue_is_deleted_and_use_renews_the_lease(messaging, vhost):
    declare(vhost, "q", x_expires=i(1000))
    advance(messaging, 800)
    declare(vhost, "q", x_expires=i(1000))  # a redeclare renews
    advance(messaging, 800)
    assert "q" in vhost.queues
    vhost.queues["q"].get(no_ack=True)  # so does basic.get
    advance(messaging, 999)
    assert "q" in vhost.queues
    c = Recorder()
    vhost.queues["q"].add_consumer(c, exclusive=False)
    advance(messaging, 5000)
    assert "q" in vhost.queues  # a consumer keeps it
    vhost.queues["q"].remove_consumer(c)
    advance(messaging, 1000)
    assert "q" not in vhost.queues


# -- length limits ------------------------------------------------------------------------

def test_drop_head_dead_letters_with_reason_maxlen(vhost):
    dlq = declare(vhost, "dlq")
    q = declare(vhost, "q", x_max_length=i(2), x_dead_letter_exchange=longstr(""),
                x_dead_letter_routing_key=longstr("dlq"))
    for n in range(4):
        publish(vhost, "q", b"%d" % n)
    assert bodies(q) == [b"2", b"3"]
    dead = [m for _, m in iter(lambda: dlq.get(no_ack=True), None)]
    assert [m.body for m in dead] == [b"0", b"1"]
    assert {m.deaths.records[0].reason for m in dead} == {DeathReason.MAXLEN}


def test_max_length_bytes_counts_ready_bodies_only(vhost):
    q = declare(vhost, "q", x_max_length_bytes=i(10))
    publish(vhost, "q", b"12345")
    taken, _ = q.get(no_ack=False)  # unacked: no longer counted
    publish(vhost, "q", b"67890")
    publish(vhost, "q", b"abcde")
    assert q.message_count == 2
    publish(vhost, "q", b"f")
    assert bodies(q) == [b"abcde", b"f"]


def test_reject_publish_refuses_and_reject_publish_dlx_also_dead_letters(vhost):
    q = declare(vhost, "q", x_max_length=i(1), x_overflow=longstr("reject-publish"))
    assert publish(vhost, "q", b"a") == PublishResult.ROUTED
    assert publish(vhost, "q", b"b") == PublishResult.ROUTED | PublishResult.REJECTED
    assert bodies(q) == [b"a"]
    dlq = declare(vhost, "dlq")
    declare(vhost, "r", x_max_length=i(0), x_overflow=longstr("reject-publish-dlx"),
            x_dead_letter_exchange=longstr(""), x_dead_letter_routing_key=longstr("dlq"))
    assert publish(vhost, "r", b"c") & PublishResult.REJECTED
    (_, dead), = [dlq.get(no_ack=True)]
    assert dead.body == b"c" and dead.deaths.records[0].reason is DeathReason.MAXLEN


# -- priorities ---------------------------------------------------------------------------

def test_priority_queue_order_and_requeue(vhost):
    q = declare(vhost, "q", x_max_priority=i(5))
    for p in (0, 1, 9, 3, 5, 0):
        publish(vhost, "q", b"p%d" % p, priority=p)
    first, second = q.get(no_ack=False)[0], q.get(no_ack=False)[0]  # p9 (as 5), p5
    q.requeue([second, first])
    assert bodies(q) == [b"p9", b"p5", b"p3", b"p1", b"p0", b"p0"]


def test_consumer_priorities_prefer_higher_until_blocked(vhost):
    q = declare(vhost, "q")
    low, high = Recorder(), Recorder(credit=2)
    low.priority, high.priority = 0, 10
    q.add_consumer(low, exclusive=False)
    q.add_consumer(high, exclusive=False)
    for n in range(5):
        publish(vhost, "q", b"%d" % n)
    assert high.bodies == [b"0", b"1"] and low.bodies == [b"2", b"3", b"4"]


def test_single_active_consumer_hands_over_in_registration_order(vhost):
    q = declare(vhost, "q", x_single_active_consumer=Field(FieldKind.BOOL, True))
    a, b = Recorder(), Recorder()
    q.add_consumer(a, exclusive=False)
    q.add_consumer(b, exclusive=False)
    publish(vhost, "q", b"1")
    publish(vhost, "q", b"2")
    q.remove_consumer(a)
    publish(vhost, "q", b"3")
    assert (a.bodies, b.bodies) == ([b"1", b"2"], [b"3"])


# -- quorum queues ------------------------------------------------------------------------

def test_quorum_delivery_limit_dead_letters_poison_messages(vhost):
    dlq = declare(vhost, "dlq")
    q = declare(vhost, "qq", durable=True, x_queue_type=longstr("quorum"), x_delivery_limit=i(2),
                x_dead_letter_exchange=longstr(""), x_dead_letter_routing_key=longstr("dlq"))
    publish(vhost, "qq", b"poison")
    counts = []
    while (got := q.get(no_ack=False)) is not None:
        entry, _ = got
        counts.append((entry.deliveries, entry.redelivered))
        q.requeue([entry])
    assert counts == [(0, False), (1, True), (2, True)]
    _, dead = dlq.get(no_ack=True)
    assert dead.deaths.records[0].reason is DeathReason.DELIVERY_LIMIT


def test_quorum_default_delivery_limit_is_20(vhost):
    q = declare(vhost, "qq", durable=True, x_queue_type=longstr("quorum"))
    assert q.config.delivery_limit == 20
    publish(vhost, "qq")
    deliveries = 0
    while (got := q.get(no_ack=False)) is not None:
        deliveries += 1
        q.requeue([got[0]])
    assert deliveries == 21


def test_quorum_returns_are_served_first_in_return_order(vhost):
    q = declare(vhost, "qq", durable=True, x_queue_type=longstr("quorum"))
    for n in range(4):
        publish(vhost, "qq", b"%d" % n)
    e0, e1, e2 = (q.get(no_ack=False)[0] for _ in range(3))
    q.requeue([e2])
    q.requeue([e0])
    assert bodies(q) == [b"2", b"0", b"3"]


# -- dead-letter history and cycles -------------------------------------------------------

def test_x_death_counts_per_queue_and_reason_newest_first(messaging, vhost):
    q = declare(vhost, "q", x_dead_letter_exchange=longstr(""))  # back to itself by its own name
    publish(vhost, "q", b"m", expiration_ms=500)
    for _ in range(2):
        entry, _ = q.get(no_ack=False)
        q.discard(entry)  # rejected: no cycle check, the message comes back
    entry, message = q.get(no_ack=False)
    deaths = message.deaths
    assert [(d.queue, d.reason, d.count) for d in deaths.records] == [("q", DeathReason.REJECTED, 2)]
    assert deaths.records[0].ttl == 500 and message.expiration_ms is None
    assert (deaths.first_queue, deaths.last_queue, deaths.first_reason) == ("q", "q", DeathReason.REJECTED)


def test_automatic_cycles_are_dropped(messaging, vhost):
    a = declare(vhost, "a", x_message_ttl=i(10), x_dead_letter_exchange=longstr(""),
                x_dead_letter_routing_key=longstr("b"))
    b = declare(vhost, "b", x_message_ttl=i(10), x_dead_letter_exchange=longstr(""),
                x_dead_letter_routing_key=longstr("a"))
    publish(vhost, "a", b"loop")
    advance(messaging, 10)
    assert (a.message_count, b.message_count) == (0, 1)
    advance(messaging, 10)  # b -> a would close the loop a -> b -> a: dropped
    assert (a.message_count, b.message_count) == (0, 0)


def test_cc_and_bcc_route_and_death_keys_leave_out_bcc(vhost):
    for name in ("q", "c", "d"):
        declare(vhost, name)
    dlq = declare(vhost, "dlq")
    vhost.queue_bind("dlq", "amq.direct", "c", {}, owner=None)
    vhost.queues["c"].config  # noqa: B018 - plain queues
    message = make_message("", "q", b"\x00\x00", b"m", cc=("c",), bcc=("d",))
    vhost.publish(vhost.exchanges[""], "q", message)
    assert [vhost.queues[n].message_count for n in ("q", "c", "d")] == [1, 1, 1]
    declare(vhost, "src", x_dead_letter_exchange=longstr("amq.direct"))
    vhost.publish(vhost.exchanges[""], "src", make_message("", "src", b"\x00\x00", b"n", cc=("c",), bcc=("d",)))
    entry, _ = vhost.queues["src"].get(no_ack=False)
    vhost.queues["src"].discard(entry)
    _, dead = dlq.get(no_ack=True)
    assert dead.deaths.records[0].routing_keys == ("src", "c")
    assert dead.routing_keys == ("src", "c", "d")
