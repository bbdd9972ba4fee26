"""Exchange class (40) and routing: the four exchange types, the predeclared exchanges, declare
flags and their equivalence checks, exchange-to-exchange bindings, delete, and RabbitMQ's error
texts. Driven through pika's BlockingConnection; routing is observed with basic.get."""

from __future__ import annotations

import pika
import pytest

from tests.compat.amqp.helpers import channel_error, connection_error, get_bodies

VHOST = "/"


def bind_queues(ch, names, exchange, bindings):
    """Declare one queue per binding key (or per headers table) and bind it; returns the queue names."""
    queues = {}
    for label, spec in bindings.items():
        q = names.queue(label)
        ch.queue_declare(q, auto_delete=True)
        if isinstance(spec, dict):
            ch.queue_bind(q, exchange, "", arguments=spec)
        else:
            ch.queue_bind(q, exchange, spec)
        queues[label] = q
    return queues


def routed(ch, queues, publish):
    """Publish via `publish(ch)`, then return the labels of the queues that received it."""
    publish(ch)
    got = set()
    for label, q in queues.items():
        bodies = get_bodies(ch, q)
        assert len(bodies) <= 1
        if bodies:
            got.add(label)
    return got


def test_direct_exchange_routes_by_exact_key(channel, names):
    x = names.exchange()
    channel.exchange_declare(x, "direct", auto_delete=False)
    queues = bind_queues(channel, names, x, {"a1": "a", "a2": "a", "b": "b"})
    assert routed(channel, queues, lambda ch: ch.basic_publish(x, "a", b"m")) == {"a1", "a2"}
    assert routed(channel, queues, lambda ch: ch.basic_publish(x, "b", b"m")) == {"b"}
    assert routed(channel, queues, lambda ch: ch.basic_publish(x, "A", b"m")) == set()


def test_fanout_exchange_ignores_the_key(channel, names):
    x = names.exchange()
    channel.exchange_declare(x, "fanout")
    queues = bind_queues(channel, names, x, {"one": "k1", "two": "whatever"})
    assert routed(channel, queues, lambda ch: ch.basic_publish(x, "zzz", b"m")) == {"one", "two"}


TOPIC_BINDINGS = {"star-orange-star": "*.orange.*", "star-star-rabbit": "*.*.rabbit", "lazy-hash": "lazy.#",
                  "hash": "#", "a-hash-b": "a.#.b", "exact": "quick.brown.fox", "star": "*"}
TOPIC_CASES = [
    ("quick.orange.rabbit", {"star-orange-star", "star-star-rabbit", "hash"}),
    ("lazy.orange.elephant", {"star-orange-star", "lazy-hash", "hash"}),
    ("quick.orange.fox", {"star-orange-star", "hash"}),
    ("lazy.brown.fox", {"lazy-hash", "hash"}),
    ("lazy", {"lazy-hash", "hash", "star"}),
    ("lazy.pink.rabbit", {"lazy-hash", "star-star-rabbit", "hash"}),
    ("quick.brown.fox", {"exact", "hash"}),
    ("orange", {"hash", "star"}),
    ("quick.orange.new.rabbit", {"hash"}),
    ("a.b", {"a-hash-b", "hash"}),
    ("a.x.y.b", {"a-hash-b", "hash"}),
    ("", {"hash"}),
]


def test_topic_exchange_star_and_hash(channel, names):
    x = names.exchange()
    channel.exchange_declare(x, "topic")
    queues = bind_queues(channel, names, x, TOPIC_BINDINGS)
    for key, expected in TOPIC_CASES:
        assert routed(channel, queues, lambda ch: ch.basic_publish(x, key, b"m")) == expected, key


HEADERS_BINDINGS = {
    "all": {"x-match": "all", "format": "pdf", "type": "report"},
    "any": {"x-match": "any", "format": "pdf", "type": "report"},
    "default-is-all": {"format": "pdf", "type": "report"},
    "all-ignores-x": {"x-match": "all", "format": "pdf", "x-tag": "t1"},
    "all-with-x": {"x-match": "all-with-x", "format": "pdf", "x-tag": "t1"},
    "any-with-x": {"x-match": "any-with-x", "x-tag": "t1"},
    "any-ignores-x": {"x-match": "any", "x-tag": "t1"},
    "int-value": {"x-match": "all", "n": 5},
}
HEADERS_CASES = [
    ({"format": "pdf", "type": "report"}, {"all", "any", "default-is-all", "all-ignores-x"}),
    ({"format": "pdf"}, {"any", "all-ignores-x"}),
    ({"format": "pdf", "x-tag": "t1"}, {"any", "all-ignores-x", "all-with-x", "any-with-x"}),
    ({"x-tag": "t1"}, {"any-with-x"}),
    ({"format": "zip", "type": "report", "extra": 1}, {"any"}),
    ({"n": 5}, {"int-value"}),
    ({"n": 6}, set()),
    (None, set()),
]


def test_headers_exchange_match_modes(channel, names):
    x = names.exchange()
    channel.exchange_declare(x, "headers")
    queues = bind_queues(channel, names, x, HEADERS_BINDINGS)
    for headers, expected in HEADERS_CASES:
        props = pika.BasicProperties(headers=headers)
        got = routed(channel, queues, lambda ch: ch.basic_publish(x, "ignored", b"m", props))
        assert got == expected, headers


@pytest.mark.parametrize(("name", "kind"), [("amq.direct", "direct"), ("amq.fanout", "fanout"), ("amq.topic", "topic"),
                                            ("amq.headers", "headers"), ("amq.match", "headers")])
def test_predeclared_exchanges(channel, names, name, kind):
    channel.exchange_declare(name, kind, passive=True)
    # Redeclaring with the same (durable) shape is allowed; the amq. prefix only blocks new ones.
    channel.exchange_declare(name, kind, durable=True)
    q = names.queue()
    channel.queue_declare(q, auto_delete=True)
    if kind == "headers":
        channel.queue_bind(q, name, "", arguments={"x-match": "all", "to": q})
        channel.basic_publish(name, "", b"via " + name.encode(), pika.BasicProperties(headers={"to": q}))
    else:
        channel.queue_bind(q, name, q)
        channel.basic_publish(name, q, b"via " + name.encode())
    assert get_bodies(channel, q) == [b"via " + name.encode()]
    channel.queue_unbind(q, name, q if kind != "headers" else "",
                         arguments={"x-match": "all", "to": q} if kind == "headers" else None)


def test_default_exchange_routes_to_queue_by_name(channel, names):
    q = names.queue()
    channel.queue_declare(q)
    channel.basic_publish("", q, b"direct to queue")
    assert get_bodies(channel, q) == [b"direct to queue"]


def test_passive_declare(connection, channel, names):
    x = names.exchange()
    channel.exchange_declare(x, "topic")
    # A passive declare only checks existence; RabbitMQ does not compare the type.
    channel.exchange_declare(x, "fanout", passive=True)
    missing = names.exchange("missing")
    assert channel_error(connection, lambda ch: ch.exchange_declare(missing, "direct", passive=True)) == (
        404, f"NOT_FOUND - no exchange '{missing}' in vhost '{VHOST}'")


@pytest.mark.parametrize(("field", "first", "second", "received", "current"), [
    ("durable", {"durable": False}, {"durable": True}, "true", "false"),
    ("auto_delete", {"auto_delete": False}, {"auto_delete": True}, "true", "false"),
    ("internal", {"internal": True}, {"internal": False}, "false", "true"),
    ("type", {"exchange_type": "direct"}, {"exchange_type": "fanout"}, "fanout", "direct"),
])
def test_exchange_equivalence_errors(connection, names, field, first, second, received, current):
    x = names.exchange()
    base = {"exchange_type": "direct"}
    connection.channel().exchange_declare(x, **{**base, **first})
    connection.channel().exchange_declare(x, **{**base, **first})  # identical redeclare is fine
    code, text = channel_error(connection, lambda ch: ch.exchange_declare(x, **{**base, **second}))
    assert (code, text) == (406, f"PRECONDITION_FAILED - inequivalent arg '{field}' for exchange '{x}' in vhost "
                                 f"'{VHOST}': received '{received}' but current is '{current}'")


def test_exchange_alternate_exchange_argument_is_compared(connection, names):
    x = names.exchange()
    connection.channel().exchange_declare(x, "direct")
    # Only alternate-exchange takes part in the comparison (rabbit_exchange:assert_args_equivalence).
    connection.channel().exchange_declare(x, "direct", arguments={"x-anything": "else"})
    code, text = channel_error(connection, lambda ch: ch.exchange_declare(
        x, "direct", arguments={"alternate-exchange": "ae"}))
    assert (code, text) == (406, f"PRECONDITION_FAILED - inequivalent arg 'alternate-exchange' for exchange '{x}' "
                                 f"in vhost '{VHOST}': received the value 'ae' of type 'longstr' but current is none")


def test_auto_delete_exchange_goes_with_its_last_binding(connection, channel, names):
    x = names.exchange()
    q = names.queue()
    channel.exchange_declare(x, "direct", auto_delete=True)
    channel.queue_declare(q)
    channel.queue_bind(q, x, "k1")
    channel.queue_bind(q, x, "k2")
    channel.queue_unbind(q, x, "k1")
    channel.exchange_declare(x, "direct", passive=True)
    channel.queue_unbind(q, x, "k2")
    assert channel_error(connection, lambda ch: ch.exchange_declare(x, "direct", passive=True))[0] == 404


def test_internal_exchange_refuses_publish_but_routes_from_exchanges(connection, channel, names):
    inner, outer, q = names.exchange("inner"), names.exchange("outer"), names.queue()
    channel.exchange_declare(inner, "fanout", internal=True)
    channel.exchange_declare(outer, "fanout")
    channel.queue_declare(q)
    channel.queue_bind(q, inner)
    channel.exchange_bind(destination=inner, source=outer)
    channel.basic_publish(outer, "", b"through outer")
    assert get_bodies(channel, q) == [b"through outer"]
    assert channel_error(connection, lambda ch: ch.basic_publish(inner, "", b"x")) == (
        403, f"ACCESS_REFUSED - cannot publish to internal exchange '{inner}' in vhost '{VHOST}'")


def test_exchange_to_exchange_bind_and_unbind(channel, names):
    src, dst, q = names.exchange("src"), names.exchange("dst"), names.queue()
    channel.exchange_declare(src, "topic")
    channel.exchange_declare(dst, "direct")
    channel.queue_declare(q)
    channel.queue_bind(q, dst, "orders.eu")
    channel.exchange_bind(destination=dst, source=src, routing_key="orders.*")
    channel.basic_publish(src, "orders.eu", b"1")
    channel.basic_publish(src, "orders.us", b"2")  # passes src, dropped by dst
    channel.basic_publish(src, "other.eu", b"3")   # dropped by src
    assert get_bodies(channel, q) == [b"1"]
    channel.exchange_unbind(destination=dst, source=src, routing_key="orders.*")
    channel.basic_publish(src, "orders.eu", b"4")
    assert get_bodies(channel, q) == []


def test_exchange_to_exchange_cycle_delivers_once(channel, names):
    a, b, q = names.exchange("a"), names.exchange("b"), names.queue()
    channel.exchange_declare(a, "fanout")
    channel.exchange_declare(b, "fanout")
    channel.exchange_bind(destination=b, source=a)
    channel.exchange_bind(destination=a, source=b)
    channel.queue_declare(q)
    channel.queue_bind(q, b)
    channel.basic_publish(a, "", b"once")
    assert get_bodies(channel, q) == [b"once"]


def test_exchange_delete_if_unused(connection, channel, names):
    x, q = names.exchange(), names.queue()
    channel.exchange_declare(x, "direct")
    channel.queue_declare(q)
    channel.queue_bind(q, x, "k")
    assert channel_error(connection, lambda ch: ch.exchange_delete(x, if_unused=True)) == (
        406, f"PRECONDITION_FAILED - exchange '{x}' in vhost '{VHOST}' in use")
    channel.queue_unbind(q, x, "k")
    channel.exchange_delete(x, if_unused=True)
    assert channel_error(connection, lambda ch: ch.exchange_declare(x, "direct", passive=True))[0] == 404


def test_exchange_delete_removes_its_bindings(channel, names):
    x, q = names.exchange(), names.queue()
    channel.exchange_declare(x, "fanout")
    channel.queue_declare(q)
    channel.queue_bind(q, x)
    channel.exchange_delete(x)
    channel.exchange_declare(x, "fanout")
    channel.basic_publish(x, "", b"after recreate")
    assert get_bodies(channel, q) == []


def test_delete_missing_exchange_is_ok(channel, names):
    channel.exchange_delete(names.exchange("never-declared"))
    channel.exchange_delete(names.exchange("never-declared"), if_unused=True)


def test_unbind_of_missing_binding_is_ok(channel, names):
    x, q = names.exchange(), names.queue()
    channel.exchange_declare(x, "direct")
    channel.queue_declare(q)
    channel.queue_unbind(q, x, "never-bound")


def test_missing_exchange_errors(connection, names):
    missing, q = names.exchange("missing"), names.queue()
    connection.channel().queue_declare(q)
    expected = (404, f"NOT_FOUND - no exchange '{missing}' in vhost '{VHOST}'")
    assert channel_error(connection, lambda ch: ch.basic_publish(missing, "k", b"x")) == expected
    assert channel_error(connection, lambda ch: ch.queue_bind(q, missing, "k")) == expected
    assert channel_error(connection, lambda ch: ch.exchange_bind(destination="amq.direct", source=missing)) == expected
    assert channel_error(connection, lambda ch: ch.exchange_bind(destination=missing, source="amq.direct")) == expected


@pytest.mark.parametrize("operation", ["declare", "delete", "queue.bind", "bind-source", "bind-destination"])
def test_default_exchange_operations_are_refused(connection, names, operation):
    q = names.queue()
    connection.channel().queue_declare(q)
    action = {
        "declare": lambda ch: ch.exchange_declare("", "direct"),
        "delete": lambda ch: ch.exchange_delete(""),
        "queue.bind": lambda ch: ch.queue_bind(q, "", q),
        "bind-source": lambda ch: ch.exchange_bind(destination="amq.fanout", source=""),
        "bind-destination": lambda ch: ch.exchange_bind(destination="", source="amq.fanout"),
    }[operation]
    assert channel_error(connection, action) == (403, "ACCESS_REFUSED - operation not permitted on the default exchange")


def test_amq_prefix_is_reserved(connection, names):
    name = f"amq.{names.prefix}"
    assert channel_error(connection, lambda ch: ch.exchange_declare(name, "direct")) == (
        403, f"ACCESS_REFUSED - exchange name '{name}' contains reserved prefix 'amq.*'")
    assert channel_error(connection, lambda ch: ch.exchange_delete("amq.direct")) == (
        403, f"ACCESS_REFUSED - deletion of system exchange 'amq.direct' in vhost '{VHOST}' not allowed")


def test_unknown_exchange_type(broker, names, legacy_rabbitmq):
    conn = broker.connect()
    x = names.exchange()
    try:
        if legacy_rabbitmq:
            # RabbitMQ 3.x raises command_invalid (a hard error) from rabbit_exchange:check_type;
            # 4.x made it precondition_failed on the channel, which is what we implement.
            assert connection_error(conn, lambda ch: ch.exchange_declare(x, "ZZwwInvalid")) == (
                503, "COMMAND_INVALID - unknown exchange type 'ZZwwInvalid'")
        else:
            assert channel_error(conn, lambda ch: ch.exchange_declare(x, "ZZwwInvalid")) == (
                406, "PRECONDITION_FAILED - unknown exchange type 'ZZwwInvalid'")
    finally:
        if conn.is_open:
            conn.close()
