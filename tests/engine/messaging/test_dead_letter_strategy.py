"""At-least-once dead-lettering (rabbit_fifo_dlx) with the memory backend and a fake clock:
kept while the DLX cannot place them, retried on the timer and on topology changes, in order;
the fallback to at-most-once without reject-publish."""

from __future__ import annotations

from engine.messaging import ExchangeSpec, PublishResult
from engine.messaging.fields import longstr

from tests.engine.messaging.test_features import advance, bodies, declare, i, publish

QUORUM = dict(x_queue_type=longstr("quorum"), x_overflow=longstr("reject-publish"),
              x_dead_letter_strategy=longstr("at-least-once"))


def expire_into(vhost, messaging, q, *messages):
    for body in messages:
        publish(vhost, q.name, body)
    advance(messaging, 100)  # x-message-ttl=50: they die (expired) with the queue's DLX unable to take them


def test_kept_until_a_queue_appears_then_delivered_in_order(messaging, vhost):
    q = declare(vhost, "q", durable=True, x_message_ttl=i(50), x_dead_letter_exchange=longstr(""),
                x_dead_letter_routing_key=longstr("dlq"), **QUORUM)
    assert q.config.dead_letter_at_least_once
    expire_into(vhost, messaging, q, b"a", b"b")
    assert (q.message_count, q.dead_letters_pending) == (0, 2)
    dlq = declare(vhost, "dlq")  # the default exchange routes to it by name from now on
    assert q.dead_letters_pending == 0
    assert bodies(dlq) == [b"a", b"b"]


def test_retried_on_the_timer_when_a_target_has_room_again(messaging, vhost):
    dlq = declare(vhost, "dlq", x_max_length=i(1), x_overflow=longstr("reject-publish"))
    q = declare(vhost, "q", durable=True, x_message_ttl=i(50), x_dead_letter_exchange=longstr(""),
                x_dead_letter_routing_key=longstr("dlq"), **QUORUM)
    expire_into(vhost, messaging, q, b"a", b"b")
    assert (q.dead_letters_pending, bodies(dlq)) == (1, [b"a"])
    advance(messaging, 1000)
    assert (q.dead_letters_pending, bodies(dlq)) == (0, [b"b"])


def test_kept_ones_count_against_the_limit(messaging, vhost):
    q = declare(vhost, "q", durable=True, x_message_ttl=i(50), x_max_length=i(1),
                x_dead_letter_exchange=longstr("nowhere"), **QUORUM)
    expire_into(vhost, messaging, q, b"a")
    publish(vhost, "q", b"b")  # 1 kept + 0 ready: not over the limit yet (judged before the publish)
    assert publish(vhost, "q", b"c") & PublishResult.REJECTED


def test_without_reject_publish_it_is_at_most_once(messaging, vhost):
    q = declare(vhost, "q", durable=True, x_message_ttl=i(50), x_dead_letter_exchange=longstr("dlx"),
                x_queue_type=longstr("quorum"), x_dead_letter_strategy=longstr("at-least-once"))
    assert not q.config.dead_letter_at_least_once
    expire_into(vhost, messaging, q, b"a")
    vhost.exchange_declare(ExchangeSpec(name="dlx", type="fanout"), passive=False)
    dlq = declare(vhost, "dlq")
    vhost.queue_bind("dlq", "dlx", "", {}, owner=None)
    assert (q.dead_letters_pending, bodies(dlq)) == (0, [])
