"""basic.publish and content: the 14 basic properties and every field-table type round-trip
(value-level through pika, byte-for-byte through a raw socket), bodies split across many frames,
empty bodies, mandatory returns, immediate, and the property checks RabbitMQ makes."""

from __future__ import annotations

import datetime
import decimal
import struct

import amqp
import pika
import pytest
from pamqp import commands

from tests.compat.amqp.helpers import channel_error, get_bodies, settle, wait_for
from tests.compat.amqp.rawamqp import RawConnection, queue_declare_frame, shortstr, table

VHOST = "/"

HEADERS = {
    "str": "text ünïcode",
    "int": 42,
    "negative": -7,
    "big": 2**40,
    "bool-true": True,
    "bool-false": False,
    "decimal": decimal.Decimal("3.14"),
    "timestamp": datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=datetime.timezone.utc),
    "table": {"nested": "yes", "n": 1, "deeper": {"x": "y"}},
    "array": ["a", 1, True, {"k": "v"}, ["inner"]],
    "void": None,
    "bytes": b"\x00\x01binary\xff",
}


def all_pika_properties(user: str) -> pika.BasicProperties:
    return pika.BasicProperties(
        content_type="application/json", content_encoding="gzip", headers=HEADERS, delivery_mode=2,
        priority=7, correlation_id="corr-1", reply_to="reply.queue", expiration="600000",
        message_id="msg-1", timestamp=1_700_000_000, type="order.created", user_id=user,
        app_id="compat-suite", cluster_id="cluster-x")


def test_all_basic_properties_round_trip_with_pika(channel, names, broker):
    q = names.queue()
    channel.queue_declare(q)
    sent = all_pika_properties(broker.user)
    channel.basic_publish("", q, b"payload", sent)
    method, props, body = channel.basic_get(q, auto_ack=True)
    assert body == b"payload"
    for field in ("content_type", "content_encoding", "delivery_mode", "priority", "correlation_id", "reply_to",
                  "expiration", "message_id", "timestamp", "type", "user_id", "app_id", "cluster_id"):
        assert getattr(props, field) == getattr(sent, field), field
    expected = dict(HEADERS, bytes=HEADERS["bytes"])
    assert props.headers == expected


def test_properties_round_trip_to_a_consumer(connection, channel, names, broker):
    q = names.queue()
    channel.queue_declare(q)
    sent = all_pika_properties(broker.user)
    channel.basic_publish("", q, b"to consumer", sent)
    got = []
    channel.basic_consume(q, lambda ch, m, p, b: got.append((m, p, b)), auto_ack=True)
    wait_for(lambda: got, connection)
    method, props, body = got[0]
    assert (method.exchange, method.routing_key, method.redelivered) == ("", q, False)
    assert body == b"to consumer"
    assert props.headers == HEADERS and props.message_id == "msg-1" and props.cluster_id == "cluster-x"


# One value of every field-table type RabbitMQ parses (rabbit_binary_parser), in its exact wire form.
ALL_FIELD_TYPES = (
    ("t", b"t", b"\x01"), ("b", b"b", struct.pack(">b", -5)), ("B", b"B", struct.pack(">B", 250)),
    ("s", b"s", struct.pack(">h", -300)), ("u", b"u", struct.pack(">H", 60000)),
    ("I", b"I", struct.pack(">i", -70000)), ("i", b"i", struct.pack(">I", 4_000_000_000)),
    ("l", b"l", struct.pack(">q", -(2**40))), ("L", b"L", struct.pack(">Q", 2**50)),
    ("f", b"f", struct.pack(">f", 1.5)), ("d", b"d", struct.pack(">d", 2.25)),
    ("D", b"D", b"\x02" + struct.pack(">i", 12345)), ("S", b"S", struct.pack(">I", 5) + b"hello"),
    ("A", b"A", struct.pack(">I", 8) + b"I" + struct.pack(">i", 1) + b"V" + b"t\x00"),
    ("T", b"T", struct.pack(">Q", 1_700_000_000)), ("F", b"F", table(("k", b"S", struct.pack(">I", 1) + b"v"))),
    ("V", b"V", b""), ("x", b"x", struct.pack(">I", 3) + b"\x00\xff\x10"),
)


def all_properties_payload(user: str) -> bytes:
    """property flags with all 14 bits set, then the values in flag order (AMQP 0-9-1 §4.2.6.1)."""
    return (struct.pack(">H", 0xFFFC) + shortstr("application/octet-stream") + shortstr("identity")
            + table(*ALL_FIELD_TYPES) + b"\x02" + b"\x05" + shortstr("corr") + shortstr("rq") + shortstr("60000")
            + shortstr("mid") + struct.pack(">Q", 1_700_000_001) + shortstr("kind") + shortstr(user)
            + shortstr("app") + shortstr("cluster"))


def read_content(c: RawConnection) -> tuple[bytes, bytes]:
    """(raw property bytes of the content header, whole body) of the delivery just announced."""
    frame_type, _, payload = c.recv_raw_frame()
    assert frame_type == 2
    size = struct.unpack(">Q", payload[4:12])[0]
    body = b""
    while len(body) < size:
        frame_type, _, chunk = c.recv_raw_frame()
        assert frame_type == 3
        body += chunk
    return payload[12:], body


def test_every_property_and_field_type_round_trips_byte_for_byte(broker, names):
    q = names.queue()
    props = all_properties_payload(broker.user)
    with RawConnection(broker.host, broker.port) as c:
        c.handshake()
        c.open_channel(1)
        c.send(queue_declare_frame(1, q))
        c.expect(commands.Queue.DeclareOk)
        c.send_frame(commands.Confirm.Select(), 1)
        c.expect(commands.Confirm.SelectOk)
        for _ in range(2):
            c.publish(1, exchange="", routing_key=q, body=b"raw body", properties_payload=props)
        confirmed = 0
        while confirmed < 2:
            ack = c.expect(commands.Basic.Ack)
            confirmed = ack.delivery_tag
        c.send_frame(commands.Basic.Get(queue=q, no_ack=True), 1)
        c.expect(commands.Basic.GetOk)
        assert read_content(c) == (props, b"raw body")
        c.send_frame(commands.Basic.Consume(queue=q, consumer_tag="raw", no_ack=True), 1)
        c.expect(commands.Basic.ConsumeOk)
        c.expect(commands.Basic.Deliver)
        assert read_content(c) == (props, b"raw body")


def test_body_larger_than_frame_max_is_split_and_reassembled(channel, names):
    q = names.queue()
    channel.queue_declare(q)
    bodies = [bytes(range(256)) * 4096, b"y" * (131072 - 8), b"z" * (131072 - 7), b"w" * 3_000_000]
    for body in bodies:
        channel.basic_publish("", q, body)
    assert get_bodies(channel, q) == bodies


def test_server_splits_deliveries_to_the_negotiated_frame_max(broker, names):
    q = names.queue()
    body = bytes(range(256)) * 80  # 20480 bytes
    with RawConnection(broker.host, broker.port) as c:
        c.handshake(frame_max=4096)
        c.open_channel(1)
        c.send(queue_declare_frame(1, q))
        c.expect(commands.Queue.DeclareOk)
        c.send_frame(commands.Basic.Publish(exchange="", routing_key=q), 1)
        c.send(struct.pack(">BHI", 2, 1, 14) + struct.pack(">HHQH", 60, 0, len(body), 0) + b"\xce")
        for start in range(0, len(body), 4088):  # frame_max minus 8 bytes of framing
            chunk = body[start:start + 4088]
            c.send(struct.pack(">BHI", 3, 1, len(chunk)) + chunk + b"\xce")
        c.send_frame(commands.Basic.Get(queue=q, no_ack=True), 1)
        c.expect(commands.Basic.GetOk)
        frame_type, _, header = c.recv_raw_frame()
        assert frame_type == 2 and struct.unpack(">Q", header[4:12])[0] == len(body)
        received = b""
        while len(received) < len(body):
            frame_type, _, chunk = c.recv_raw_frame()
            assert frame_type == 3 and 0 < len(chunk) <= 4096 - 8
            received += chunk
        assert received == body


def test_empty_bodies(channel, names, broker):
    q = names.queue()
    channel.queue_declare(q)
    channel.basic_publish("", q, b"")
    channel.basic_publish("", q, b"", pika.BasicProperties(content_type="text/plain"))
    assert get_bodies(channel, q) == [b"", b""]
    with RawConnection(broker.host, broker.port) as c:
        c.handshake()
        c.open_channel(1)
        c.publish(1, exchange="", routing_key=q, body=b"")  # header frame with body-size 0, no body frame
        c.send_frame(commands.Basic.Consume(queue=q, consumer_tag="raw", no_ack=True), 1)
        c.expect(commands.Basic.ConsumeOk)
        c.expect(commands.Basic.Deliver)
        frame_type, _, header = c.recv_raw_frame()
        assert frame_type == 2 and struct.unpack(">Q", header[4:12])[0] == 0
        # no body frame follows an empty body: the next frame is whatever comes next
        c.send_frame(commands.Basic.Cancel(consumer_tag="raw"), 1)
        c.expect(commands.Basic.CancelOk)


def test_mandatory_unroutable_is_returned_with_312(connection, names):
    ch = connection.channel()
    returned = []
    ch.add_on_return_callback(lambda _ch, method, props, body: returned.append((method, props, body)))
    x = names.exchange()
    ch.exchange_declare(x, "direct")
    ch.basic_publish(x, "nowhere", b"bounce", pika.BasicProperties(message_id="m1", headers={"h": 1}),
                     mandatory=True)
    ch.basic_publish(x, "nowhere", b"dropped silently")  # not mandatory: no return
    ch.basic_publish("", names.queue("missing"), b"bounce 2", mandatory=True)
    wait_for(lambda: len(returned) == 2, connection)
    settle(connection)
    assert len(returned) == 2
    method, props, body = returned[0]
    assert (method.reply_code, method.reply_text, method.exchange, method.routing_key) == (312, "NO_ROUTE", x, "nowhere")
    assert (body, props.message_id, props.headers) == (b"bounce", "m1", {"h": 1})
    assert returned[1][0].routing_key.endswith(".missing") and returned[1][2] == b"bounce 2"


def test_mandatory_routed_is_not_returned(connection, names):
    ch = connection.channel()
    returned = []
    ch.add_on_return_callback(lambda *args: returned.append(args))
    q = names.queue()
    ch.queue_declare(q)
    ch.basic_publish("", q, b"routed", mandatory=True)
    ch.basic_qos(prefetch_count=0)
    settle(connection)
    assert returned == []
    assert get_bodies(ch, q) == [b"routed"]


def test_immediate_is_not_implemented_540(broker):
    conn = amqp.Connection(f"{broker.host}:{broker.port}", userid=broker.user, password=broker.password,
                           virtual_host=broker.vhost, connect_timeout=5)
    conn.connect()
    try:
        ch = conn.channel()
        ch.basic_publish(amqp.Message(b"now!"), "", "anything", immediate=True)
        with pytest.raises(amqp.exceptions.AMQPNotImplementedError) as info:
            ch.queue_declare("", exclusive=True)
        assert info.value.reply_code == 540
        assert info.value.reply_text == "NOT_IMPLEMENTED - immediate=true"
        assert info.value.method_sig == (60, 40)
    finally:
        try:
            conn.close()
        except Exception:  # noqa: BLE001 - already closed by the broker
            pass


def test_user_id_must_match_the_authenticated_user(connection, names, broker):
    q = names.queue()
    connection.channel().queue_declare(q)
    assert channel_error(connection, lambda ch: ch.basic_publish("", q, b"x", pika.BasicProperties(user_id="mallory"))) == (
        406, f"PRECONDITION_FAILED - user_id property set to 'mallory' but authenticated user was '{broker.user}'")


def test_publish_to_missing_queue_via_default_exchange_is_dropped(channel, names):
    channel.basic_publish("", names.queue("missing"), b"nobody home")
    assert channel.is_open
