"""Dead-letter exchanges (docs/dlx.md): reasons, the x-death header as RabbitMQ builds it, the
x-first-death-* / x-last-death-* headers, routing with and without a dead-letter routing key,
CC/BCC, a missing DLX, cycles. pika (blocking) and aio-pika.

RabbitMQ 3.10 and 4.x differ in two visible ways, and these tests expect 4.x from mqgateway:
3.10 sets no x-last-death-* headers (4.x records them with every death, `mc:record_death/4`),
and 3.10 removes the CC header when a dead-letter routing key is set (4.x leaves the message's
headers alone and only routes with that key, `rabbit_dead_letter:publish/5`).
"""

from __future__ import annotations

import asyncio
import datetime

import aio_pika
import pika

from tests.compat.amqp.helpers import wait_for


def declared_count(ch, queue: str) -> int:
    return ch.queue_declare(queue, passive=True).method.message_count


def get_one(ch, queue: str, timeout: float = 5.0):
    """basic.get until a message is there (dead-lettering is asynchronous in RabbitMQ)."""
    got = []
    wait_for(lambda: got.append(ch.basic_get(queue, auto_ack=True)) or got[-1][0] is not None, timeout=timeout)
    return got[-1]


def assert_recent(time: datetime.datetime) -> None:
    now = datetime.datetime.now(datetime.timezone.utc)
    assert abs((now - time).total_seconds()) < 120, time


def test_rejected_message_carries_x_death_and_keeps_its_routing(channel, names, legacy_rabbitmq):
    ch = channel
    inbound, dlx = names.exchange("in"), names.exchange("dlx")
    src, dlq, bcc_q = names.queue("src"), names.queue("dlq"), names.queue("bcc")
    ch.exchange_declare(inbound, "direct")
    ch.exchange_declare(dlx, "direct")
    ch.queue_declare(dlq)
    ch.queue_declare(bcc_q)
    for key in ("rk", "cc1", "bcc1"):
        ch.queue_bind(dlq, dlx, key)
    ch.queue_declare(src, arguments={"x-dead-letter-exchange": dlx})
    for key in ("rk", "cc1", "bcc1"):
        ch.queue_bind(src, inbound, key)
    ch.queue_bind(bcc_q, inbound, "bcc1")
    ch.basic_publish(inbound, "rk", b"body", pika.BasicProperties(
        expiration="60000", headers={"CC": ["cc1"], "BCC": ["bcc1"], "app": 1}))
    # BCC routes but is never delivered; CC stays
    _, props, _ = ch.basic_get(bcc_q, auto_ack=True)
    assert props.headers == {"CC": ["cc1"], "app": 1}
    method, props, body = ch.basic_get(src)
    assert props.headers == {"CC": ["cc1"], "app": 1} and props.expiration == "60000"
    ch.basic_reject(method.delivery_tag, requeue=False)

    method, props, body = get_one(ch, dlq)
    assert (body, method.exchange, method.routing_key, method.redelivered) == (b"body", dlx, "rk", False)
    assert props.expiration is None  # removed on dead-lettering, recorded as original-expiration
    headers = dict(props.headers)
    (death,) = headers.pop("x-death")
    assert_recent(death.pop("time"))
    assert death == {"count": 1, "reason": "rejected", "queue": src, "exchange": inbound,
                     "routing-keys": ["rk", "cc1"], "original-expiration": "60000"}
    expected = {"CC": ["cc1"], "app": 1, "x-first-death-exchange": inbound, "x-first-death-queue": src,
                "x-first-death-reason": "rejected"}
    if not legacy_rabbitmq:
        expected.update({"x-last-death-exchange": inbound, "x-last-death-queue": src,
                         "x-last-death-reason": "rejected"})
    assert headers == expected
    # dead-lettered without a routing key: to every key it had, BCC included, still once per queue
    assert declared_count(ch, dlq) == 0


def test_expired_message_with_dead_letter_routing_key(channel, names, legacy_rabbitmq):
    ch = channel
    dlx, dlq, q = names.exchange("dlx"), names.queue("dlq"), names.queue("ttl")
    ch.exchange_declare(dlx, "direct")
    ch.queue_declare(dlq)
    ch.queue_bind(dlq, dlx, "dl")
    ch.queue_declare(q, arguments={"x-message-ttl": 100, "x-dead-letter-exchange": dlx,
                                   "x-dead-letter-routing-key": "dl"})
    ch.basic_publish("", q, b"late", pika.BasicProperties(headers={"CC": ["elsewhere"]}))
    # nobody consumes: the head expires on the queue's own timer
    method, props, body = get_one(ch, dlq)
    assert (body, method.exchange, method.routing_key) == (b"late", dlx, "dl")
    (death,) = props.headers["x-death"]
    assert (death["reason"], death["queue"], death["exchange"], death["routing-keys"], death["count"]) == (
        "expired", q, "", [q, "elsewhere"], 1)
    assert "original-expiration" not in death  # the queue's TTL, not the message's
    assert props.headers["x-first-death-reason"] == "expired"
    # 3.10 drops CC when a dead-letter routing key is set; 4.x keeps the headers as they were
    assert ("CC" in props.headers) is (not legacy_rabbitmq)
    assert declared_count(ch, q) == 0


def test_counts_per_queue_and_reason_newest_first(channel, names, legacy_rabbitmq):
    ch = channel
    q1, q2 = names.queue("one"), names.queue("two")
    ch.queue_declare(q1, arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": q2})
    ch.queue_declare(q2, arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": q1})
    ch.basic_publish("", q1, b"ping-pong")
    for queue in (q1, q2, q1):  # reject three times: q1, q2, q1 again
        method, _, _ = get_one_unacked(ch, queue)
        ch.basic_reject(method.delivery_tag, requeue=False)
    method, props, _ = get_one_unacked(ch, q2)
    deaths = props.headers["x-death"]
    assert [(d["queue"], d["reason"], d["count"]) for d in deaths] == [(q1, "rejected", 2), (q2, "rejected", 1)]
    # a record keeps what it saw the first time: q2's death came from the default exchange, key q2
    assert deaths[1]["routing-keys"] == [q2] and deaths[1]["exchange"] == ""
    assert props.headers["x-first-death-queue"] == q1
    if not legacy_rabbitmq:
        assert (props.headers["x-last-death-queue"], props.headers["x-last-death-reason"]) == (q1, "rejected")
    ch.basic_ack(method.delivery_tag)


def get_one_unacked(ch, queue: str):
    got = []
    wait_for(lambda: got.append(ch.basic_get(queue, auto_ack=False)) or got[-1][0] is not None)
    return got[-1]


def test_maxlen_reason_and_missing_dlx_drops(channel, names):
    ch = channel
    dlq, q = names.queue("dlq"), names.queue("limited")
    ch.queue_declare(dlq)
    ch.queue_declare(q, arguments={"x-max-length": 1, "x-dead-letter-exchange": "",
                                   "x-dead-letter-routing-key": dlq})
    for body in (b"first", b"second"):
        ch.basic_publish("", q, body)
    method, props, body = get_one(ch, dlq)
    assert body == b"first" and props.headers["x-death"][0]["reason"] == "maxlen"
    nowhere = names.queue("nowhere")
    ch.queue_declare(nowhere, arguments={"x-max-length": 1, "x-dead-letter-exchange": names.exchange("missing")})
    for body in (b"a", b"b"):
        ch.basic_publish("", nowhere, body)
    assert declared_count(ch, nowhere) == 1  # "a" went to a DLX that does not exist: dropped


def test_automatic_cycle_is_dropped_but_rejections_go_round(channel, names):
    ch = channel
    loop = names.queue("loop")
    # expired messages dead-letter back to the same queue through the default exchange: a cycle
    ch.queue_declare(loop, arguments={"x-message-ttl": 50, "x-dead-letter-exchange": ""})
    ch.basic_publish("", loop, b"round")
    wait_for(lambda: declared_count(ch, loop) == 0)
    ch.queue_declare(loop, passive=True)
    # a consumer rejecting into the same queue is not a cycle RabbitMQ stops
    again = names.queue("again")
    ch.queue_declare(again, arguments={"x-dead-letter-exchange": ""})
    ch.basic_publish("", again, b"again")
    for count in (1, 2, 3):
        method, props, _ = get_one_unacked(ch, again)
        ch.basic_reject(method.delivery_tag, requeue=False)
    method, props, _ = get_one_unacked(ch, again)
    assert props.headers["x-death"][0]["count"] == 3
    ch.basic_ack(method.delivery_tag)


def test_headers_exchange_as_dlx_routes_on_the_message_headers(channel, names):
    ch = channel
    dlx, dlq, src = names.exchange("hdlx"), names.queue("hdlq"), names.queue("hsrc")
    ch.exchange_declare(dlx, "headers")
    ch.queue_declare(dlq)
    ch.queue_bind(dlq, dlx, arguments={"x-match": "all", "kind": "error"})
    ch.queue_declare(src, arguments={"x-dead-letter-exchange": dlx})
    ch.basic_publish("", src, b"err", pika.BasicProperties(headers={"kind": "error"}))
    ch.basic_publish("", src, b"ok", pika.BasicProperties(headers={"kind": "fine"}))
    for _ in range(2):
        method, _, _ = get_one_unacked(ch, src)
        ch.basic_nack(method.delivery_tag, requeue=False)
    _, _, body = get_one(ch, dlq)
    assert body == b"err"
    assert declared_count(ch, dlq) == 0


def test_aio_pika_sees_original_expiration(broker, names):
    """aio-pika's own test_amqp.py asserts x-death[0]["original-expiration"] == "500"."""
    q, dlq = names.queue("aio-src"), names.queue("aio-dlq")

    async def run():
        conn = await aio_pika.connect(broker.url())
        async with conn:
            ch = await conn.channel()
            dead = await ch.declare_queue(dlq)
            await ch.declare_queue(q, arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": dlq})
            await ch.default_exchange.publish(aio_pika.Message(b"x", expiration=0.5), routing_key=q)
            # the queue has no TTL of its own, so the message's expiration only acts at the head:
            # it expires there and goes to the DLX without anyone consuming
            for _ in range(100):
                message = await dead.get(fail=False)
                if message is not None:
                    break
                await asyncio.sleep(0.05)
            assert message is not None
            await message.ack()
            death = message.headers["x-death"][0]
            assert death["original-expiration"] == "500" and death["reason"] == "expired"
            assert message.expiration is None

    asyncio.run(run())
