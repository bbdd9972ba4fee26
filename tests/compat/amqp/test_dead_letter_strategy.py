"""x-dead-letter-strategy=at-least-once (quorum queues, RabbitMQ 3.10+, rabbit_fifo_dlx), with pika.

In effect only on a quorum queue with x-overflow=reject-publish and a DLX (rabbit_quorum_queue:dlh/5;
with drop-head RabbitMQ falls back to at-most-once); refused on classic queues (406, in
test_extensions_quorum.py). A dead letter the DLX cannot place is kept by the source queue: not
ready (not in the declare-ok count) but counted against its length limit, as rabbit_fifo:is_over_limit
counts it (green against RabbitMQ 3.10); it reaches the DLX's queues once the topology lets it, in
order. The retry timing is ours (at once on a topology change, else every second; RabbitMQ's dlx
worker retries on its own timer), so those tests are server only.
"""

from __future__ import annotations

import pika
import pytest

from tests.compat.amqp.helpers import get_bodies, wait_for

QUORUM = {"x-queue-type": "quorum"}
AT_LEAST_ONCE = {**QUORUM, "x-overflow": "reject-publish", "x-dead-letter-strategy": "at-least-once"}


def reject_all(ch, queue: str, count: int) -> None:
    for _ in range(count):
        method = None
        wait_for(lambda: (method := ch.basic_get(queue)[0]) is not None and not reject(ch, method))


def reject(ch, method) -> bool:
    ch.basic_reject(method.delivery_tag, requeue=False)
    return False


def publish_all(ch, queue: str, bodies) -> list[str]:
    """Publishes with confirms; 'ok' or 'nack' per message."""
    out = []
    for body in bodies:
        try:
            ch.basic_publish("", queue, body)
            out.append("ok")
        except pika.exceptions.NackError:
            out.append("nack")
    return out


def count(ch, queue: str) -> int:
    return ch.queue_declare(queue, passive=True).method.message_count





def test_quorum_reject_publish_judges_the_length_before_the_publish(channel, names):
    # rabbit_fifo: over the limit only once the queue is *already* past it (3.10 and later)
    q = names.queue()
    channel.queue_declare(q, durable=True, arguments={**QUORUM, "x-overflow": "reject-publish", "x-max-length": 2})
    channel.confirm_delivery()
    assert publish_all(channel, q, [b"m0", b"m1", b"m2", b"m3"]) == ["ok", "ok", "ok", "nack"]
    assert count(channel, q) == 3


def test_kept_dead_letters_count_against_the_limit_not_the_ready_count(channel, names):
    q = names.queue()
    channel.queue_declare(q, durable=True, arguments={
        **AT_LEAST_ONCE, "x-max-length": 2, "x-dead-letter-exchange": names.exchange("missing")})
    channel.confirm_delivery()
    publish_all(channel, q, [b"dead"])
    reject_all(channel, q, 1)
    assert count(channel, q) == 0
    assert publish_all(channel, q, [b"m0", b"m1", b"m2"]) == ["ok", "ok", "nack"]
    assert count(channel, q) == 2


def test_at_most_once_drops_so_the_limit_is_not_taken(channel, names):
    q = names.queue()
    channel.queue_declare(q, durable=True, arguments={
        **QUORUM, "x-overflow": "reject-publish", "x-max-length": 2, "x-dead-letter-exchange": names.exchange("m")})
    channel.confirm_delivery()
    publish_all(channel, q, [b"dead"])
    reject_all(channel, q, 1)
    assert publish_all(channel, q, [b"m0", b"m1", b"m2", b"m3"]) == ["ok", "ok", "ok", "nack"]


@pytest.mark.server_only
def test_missing_dlx_keeps_them_until_it_exists_then_in_order(channel, names):
    q, dlq, dlx = names.queue(), names.queue("dlq"), names.exchange("dlx")
    channel.queue_declare(q, durable=True, arguments={**AT_LEAST_ONCE, "x-dead-letter-exchange": dlx})
    channel.confirm_delivery()
    publish_all(channel, q, [b"a", b"b", b"c"])
    reject_all(channel, q, 3)
    assert count(channel, q) == 0
    channel.exchange_declare(dlx, "fanout")
    channel.queue_declare(dlq, durable=True)
    channel.queue_bind(dlq, dlx)
    wait_for(lambda: count(channel, dlq) == 3)
    method, props, body = channel.basic_get(dlq, auto_ack=True)
    death = props.headers["x-death"][0]
    assert (body, death["reason"], death["queue"], death["count"]) == (b"a", "rejected", q, 1)
    assert props.headers["x-first-death-reason"] == "rejected"
    assert get_bodies(channel, dlq) == [b"b", b"c"]


@pytest.mark.server_only
def test_dlx_without_binding_keeps_them_until_bound(channel, names):
    q, dlq, dlx = names.queue(), names.queue("dlq"), names.exchange("dlx")
    channel.exchange_declare(dlx, "direct")
    channel.queue_declare(dlq, durable=True)
    channel.queue_declare(q, durable=True, arguments={
        **AT_LEAST_ONCE, "x-dead-letter-exchange": dlx, "x-dead-letter-routing-key": "dead", "x-message-ttl": 50})
    channel.confirm_delivery()
    publish_all(channel, q, [b"x1", b"x2"])  # they expire (reason expired) with nowhere to go
    wait_for(lambda: count(channel, q) == 0)
    channel.queue_bind(dlq, dlx, routing_key="dead")
    wait_for(lambda: count(channel, dlq) == 2)
    method, props, body = channel.basic_get(dlq, auto_ack=True)
    assert (body, props.headers["x-death"][0]["reason"]) == (b"x1", "expired")


@pytest.mark.server_only
def test_at_most_once_and_drop_head_fallback_lose_them(channel, names):
    dlx, dlq = names.exchange("dlx"), names.queue("dlq")
    queues = {
        names.queue("amo"): {**QUORUM, "x-overflow": "reject-publish", "x-dead-letter-exchange": dlx},
        # at-least-once needs reject-publish; with drop-head it is at-most-once (rabbit_quorum_queue:dlh/5)
        names.queue("dh"): {**QUORUM, "x-dead-letter-strategy": "at-least-once", "x-dead-letter-exchange": dlx},
    }
    channel.confirm_delivery()
    for q, arguments in queues.items():
        channel.queue_declare(q, durable=True, arguments=arguments)
        publish_all(channel, q, [b"lost"])
        reject_all(channel, q, 1)
    channel.exchange_declare(dlx, "fanout")
    channel.queue_declare(dlq, durable=True)
    channel.queue_bind(dlq, dlx)
    publish_all(channel, list(queues)[0], [b"later"])
    reject_all(channel, list(queues)[0], 1)
    wait_for(lambda: count(channel, dlq) == 1)
    assert get_bodies(channel, dlq) == [b"later"]


@pytest.mark.server_only
def test_a_full_target_is_retried_until_it_has_room(channel, names):
    q, dlq, dlx = names.queue(), names.queue("dlq"), names.exchange("dlx")
    channel.exchange_declare(dlx, "fanout")
    channel.queue_declare(dlq, durable=True, arguments={"x-max-length": 1, "x-overflow": "reject-publish"})
    channel.queue_bind(dlq, dlx)
    channel.queue_declare(q, durable=True, arguments={**AT_LEAST_ONCE, "x-dead-letter-exchange": dlx})
    channel.confirm_delivery()
    publish_all(channel, q, [b"first", b"second"])
    reject_all(channel, q, 2)
    wait_for(lambda: count(channel, dlq) == 1)
    assert get_bodies(channel, dlq) == [b"first"]
    wait_for(lambda: count(channel, dlq) == 1, timeout=5)  # the timer retries it
    assert get_bodies(channel, dlq) == [b"second"]
