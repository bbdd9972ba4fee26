"""Stream queues (x-queue-type=stream, RabbitMQ docs/streams.md) over AMQP 0-9-1 with pika.

Green against RabbitMQ 3.10 (which serves streams over AMQP 0-9-1) and mqgateway: declare
rules, consumer rules and their texts, every x-stream-offset form, the x-stream-offset header on
each delivery, acks as credit, independent consumers, live appends reaching waiting consumers.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone

import pika
import pytest

from tests.compat.amqp.helpers import channel_error, connection_error, settle, wait_for

STREAM = {"x-queue-type": "stream"}


def declare_stream(ch, name: str, **arguments) -> None:
    ch.queue_declare(name, durable=True, arguments={**STREAM, **arguments})


def publish(ch, queue: str, bodies, **props) -> None:
    for body in bodies:
        ch.basic_publish("", queue, body, pika.BasicProperties(**props))


def consume(conn, queue: str, count: int, *, offset=None, prefetch: int = 10, ack: bool = True,
            timeout: float = 10.0) -> list:
    """Consumes `count` deliveries on a fresh channel: [(body, x-stream-offset header, properties)]."""
    ch = conn.channel()
    ch.basic_qos(prefetch_count=prefetch)
    got: list = []

    def on_message(channel, method, properties, body):
        got.append((body, (properties.headers or {}).get("x-stream-offset"), properties))
        if ack:
            channel.basic_ack(method.delivery_tag)

    arguments = {} if offset is None else {"x-stream-offset": offset}
    tag = ch.basic_consume(queue, on_message, arguments=arguments)
    wait_for(lambda: len(got) >= count, conn, timeout=timeout)
    ch.basic_cancel(tag)
    ch.close()
    return got


@pytest.mark.parametrize(("kwargs", "prop"), [
    ({"durable": False}, "non-durable"),
    ({"durable": True, "exclusive": True}, "exclusive-owner"),
    ({"durable": True, "auto_delete": True}, "auto-delete"),
])
def test_streams_are_durable_shared_and_kept(connection, names, kwargs, prop):
    q = names.queue()
    assert channel_error(connection, lambda ch: ch.queue_declare(q, arguments=STREAM, **kwargs)) == (
        406, f"PRECONDITION_FAILED - invalid property '{prop}' for queue '{q}' in vhost '/'")


def test_streams_cannot_be_server_named(connection):
    assert channel_error(connection, lambda ch: ch.queue_declare("", durable=True, arguments=STREAM)) == (
        406, "PRECONDITION_FAILED - Cannot declare a server-named queue for type rabbit_stream_queue")


def test_stream_declare_arguments_accepted_and_redeclare_equivalent(channel, names):
    q = names.queue()
    args = {"x-max-length-bytes": 10_000_000, "x-max-age": "1D", "x-stream-max-segment-size-bytes": 1_000_000}
    declare_stream(channel, q, **args)
    declare_stream(channel, q, **args)
    assert channel.queue_declare(q, passive=True).method.queue == q


def test_replay_from_first_carries_offsets_and_properties(connection, channel, names):
    q = names.queue()
    declare_stream(channel, q)
    publish(channel, q, [b"m%d" % i for i in range(5)], content_type="text/plain", headers={"h": "v"},
            correlation_id="c1")
    got = consume(connection, q, 5, offset="first")
    assert [body for body, _, _ in got] == [b"m%d" % i for i in range(5)]
    offsets = [off for _, off, _ in got]
    assert offsets == sorted(offsets) and len(set(offsets)) == 5
    props = got[0][2]
    assert props.content_type == "text/plain" and props.correlation_id == "c1" and props.headers["h"] == "v"


def test_offset_forms(connection, channel, names):
    q = names.queue()
    declare_stream(channel, q)
    publish(channel, q, [b"a%d" % i for i in range(10)])
    first = consume(connection, q, 10, offset="first")
    offsets = [off for _, off, _ in first]
    # integer offset: starts there
    got = consume(connection, q, 4, offset=offsets[6])
    assert [b for b, _, _ in got] == [b"a6", b"a7", b"a8", b"a9"]
    # "last": the last chunk, which includes the last message
    got = consume(connection, q, 1, offset="last")
    assert got[0][1] <= offsets[-1]
    # timestamp and interval: everything published in the last hour
    an_hour_ago = datetime.fromtimestamp(time.time() - 3600, tz=timezone.utc)
    assert [b for b, _, _ in consume(connection, q, 10, offset=an_hour_ago)][:1] == [b"a0"]
    assert [b for b, _, _ in consume(connection, q, 10, offset="1h")][:1] == [b"a0"]


def test_next_waits_for_new_appends_and_consumers_are_independent(connection, channel, names):
    q = names.queue()
    declare_stream(channel, q)
    publish(channel, q, [b"old"])
    ch = connection.channel()
    ch.basic_qos(prefetch_count=5)
    nexts, firsts = [], []
    ch.basic_consume(q, lambda c, m, p, b: (nexts.append(b), c.basic_ack(m.delivery_tag)),
                     arguments={"x-stream-offset": "next"})
    ch.basic_consume(q, lambda c, m, p, b: (firsts.append(b), c.basic_ack(m.delivery_tag)),
                     arguments={"x-stream-offset": "first"})
    wait_for(lambda: firsts == [b"old"], connection)
    settle(connection, 0.3)
    assert nexts == []
    publish(channel, q, [b"new1", b"new2"])
    wait_for(lambda: len(nexts) == 2 and len(firsts) == 3, connection)
    assert nexts == [b"new1", b"new2"] and firsts == [b"old", b"new1", b"new2"]


def test_acks_are_credit(connection, channel, names):
    q = names.queue()
    declare_stream(channel, q)
    publish(channel, q, [b"x%d" % i for i in range(6)])
    ch = connection.channel()
    ch.basic_qos(prefetch_count=2)
    got = []
    ch.basic_consume(q, lambda c, m, p, b: got.append(m.delivery_tag), arguments={"x-stream-offset": "first"})
    wait_for(lambda: len(got) == 2, connection)
    settle(connection, 0.3)
    assert len(got) == 2  # no more without acks
    ch.basic_ack(got[-1], multiple=True)
    wait_for(lambda: len(got) == 4, connection)


def test_consume_without_prefetch_is_refused(connection, channel, names):
    q = names.queue()
    declare_stream(channel, q)
    assert channel_error(connection, lambda ch: ch.basic_consume(q, lambda *a: None)) == (
        406, f"PRECONDITION_FAILED - consumer prefetch count is not set for 'queue '{q}' in vhost '/''")


def test_consume_with_auto_ack_is_refused(connection, channel, names, broker):
    q = names.queue()
    declare_stream(channel, q)

    def action(ch):
        ch.basic_qos(prefetch_count=10)
        ch.basic_consume(q, lambda *a: None, auto_ack=True)

    code, text = connection_error(connection, action)
    assert (code, text) == (
        540, f"NOT_IMPLEMENTED - automatic acknowledgement not supported by stream queues queue '{q}' in vhost '/'")


def test_basic_get_is_refused(connection, channel, names):
    q = names.queue()
    declare_stream(channel, q)
    code, text = connection_error(connection, lambda ch: ch.basic_get(q))
    assert (code, text) == (540, f"NOT_IMPLEMENTED - basic.get not supported by stream queues queue '{q}' in vhost '/'")


def test_purge_is_refused(connection, channel, names):
    q = names.queue()
    declare_stream(channel, q)
    code, text = connection_error(connection, lambda ch: ch.queue_purge(q))
    assert (code, text) == (540, f"NOT_IMPLEMENTED - queue.purge not supported by stream queues queue '{q}' in vhost '/'")


def test_global_qos_is_refused(connection, channel, names):
    q = names.queue()
    declare_stream(channel, q)

    def action(ch):
        ch.basic_qos(prefetch_count=10)
        ch.basic_qos(prefetch_count=10, global_qos=True)
        ch.basic_consume(q, lambda *a: None)

    assert connection_error(connection, action) == (
        540, f"NOT_IMPLEMENTED - queue '{q}' in vhost '/' does not support global qos")


def test_global_qos_alone_is_no_consumer_prefetch(connection, channel, names):
    q = names.queue()
    declare_stream(channel, q)

    def action(ch):
        ch.basic_qos(prefetch_count=10, global_qos=True)
        ch.basic_consume(q, lambda *a: None)

    assert channel_error(connection, action) == (
        406, f"PRECONDITION_FAILED - consumer prefetch count is not set for 'queue '{q}' in vhost '/''")


def bad_offset(connection, q: str, value) -> tuple[int, str]:
    def action(ch):
        ch.basic_qos(prefetch_count=10)
        ch.basic_consume(q, lambda *a: None, arguments={"x-stream-offset": value})
    return channel_error(connection, action)


@pytest.mark.parametrize("value", ["1x", "0s", "10"])
def test_a_bad_interval_offset_is_refused(connection, channel, names, value):
    # rabbit_amqqueue:check_stream_offset_arg/2: check_max_age/1 refuses it
    q = names.queue()
    declare_stream(channel, q)
    assert bad_offset(connection, q, value) == (406, (
        f"PRECONDITION_FAILED - invalid arg 'x-stream-offset' for queue '{q}' in vhost '/': "
        f'{{invalid_stream_offset_arg,{{longstr,<<"{value}">>}}}}'))


@pytest.mark.server_only  # RabbitMQ 3.10 crashes the channel on these (541 INTERNAL_ERROR, connection closed)
@pytest.mark.parametrize(("value", "term"), [
    ("bogus", '{longstr,<<"bogus">>}'), ("", '{longstr,<<"">>}'), ("First", '{longstr,<<"First">>}'),
    (True, "{bool,true}"),
])
def test_an_unparsable_offset_is_refused_not_read_as_next(connection, channel, names, value, term):
    q = names.queue()
    declare_stream(channel, q)
    assert bad_offset(connection, q, value) == (406, (
        f"PRECONDITION_FAILED - invalid arg 'x-stream-offset' for queue '{q}' in vhost '/': "
        f"{{invalid_stream_offset_arg,{term}}}"))
