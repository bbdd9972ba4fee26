"""Connection class (10) and channel class (20): handshake, auth, tuning, heartbeats, close both
ways, flow, update-secret, and what a broken peer gets. pika (blocking), py-amqp and a raw
socket (tests/compat/amqp/rawamqp.py) where a library would hide the bytes under test."""

from __future__ import annotations

import struct
import time

import amqp
import pika
import pytest
from pamqp import commands

from tests.compat.amqp.rawamqp import (CLIENT_PROPERTIES, PROTOCOL_HEADER, PeerClosed, RawConnection,
                                       amqplain_response, plain_response, raw_frame)

REQUIRED_CAPABILITIES = ("publisher_confirms", "exchange_exchange_bindings", "basic.nack",
                         "consumer_cancel_notify", "authentication_failure_close", "per_consumer_qos")


def raw(broker) -> RawConnection:
    return RawConnection(broker.host, broker.port)


def test_server_properties_and_capabilities(broker):
    conn = broker.connect()
    try:
        props = conn._impl.server_properties
        assert isinstance(props["product"], str) and props["product"]
        assert isinstance(props["version"], str) and props["version"][0].isdigit()
        assert "host" not in props  # errata §23: RabbitMQ sends no host key
        caps = props["capabilities"]
        for key in REQUIRED_CAPABILITIES:
            assert caps.get(key) is True, key
        assert all(value is True for value in caps.values()), caps
        # pika reads these to decide what it may use
        assert conn._impl.publisher_confirms and conn._impl.basic_nack
        assert conn._impl.consumer_cancel_notify and conn._impl.exchange_exchange_bindings
    finally:
        conn.close()


def test_connection_start_and_tune_fields(broker):
    with raw(broker) as c:
        c.handshake()
        start, tune = c.start, c.tune
        assert (start.version_major, start.version_minor) == (0, 9)
        assert {"PLAIN", "AMQPLAIN"} <= set(start.mechanisms.split())
        assert "en_US" in start.locales.split()
        assert start.server_properties["capabilities"]["publisher_confirms"] is True
        # RabbitMQ's defaults (deps/rabbit/Makefile): frame_max 128 KiB, channel_max 2047, heartbeat 60 s
        assert (tune.frame_max, tune.channel_max, tune.heartbeat) == (131072, 2047, 60)


def test_plain_auth_with_pika(broker):
    conn = broker.connect(credentials=pika.PlainCredentials(broker.user, broker.password))
    assert conn.is_open
    conn.channel().close()
    conn.close()


def test_amqplain_auth_with_py_amqp(broker):
    conn = amqp.Connection(f"{broker.host}:{broker.port}", userid=broker.user, password=broker.password,
                           virtual_host=broker.vhost, login_method="AMQPLAIN", connect_timeout=5)
    conn.connect()
    try:
        ch = conn.channel()
        queue, _, _ = ch.queue_declare("", exclusive=True)
        assert queue.startswith("amq.gen-")
    finally:
        conn.close()


def test_amqplain_auth_raw(broker):
    with raw(broker) as c:
        c.handshake(mechanism="AMQPLAIN")
        c.open_channel(1)


@pytest.mark.parametrize("mechanism", ["PLAIN", "AMQPLAIN"])
def test_bad_credentials_are_refused_with_403(broker, mechanism):
    with raw(broker) as c:
        c.send(PROTOCOL_HEADER)
        c.expect(commands.Connection.Start)
        response = (plain_response if mechanism == "PLAIN" else amqplain_response)(broker.user, "wrong")
        c.send_frame(commands.Connection.StartOk(client_properties=CLIENT_PROPERTIES, mechanism=mechanism,
                                                 response=response, locale="en_US"))
        close = c.expect(commands.Connection.Close)
        assert close.reply_code == 403
        assert close.reply_text == (f"ACCESS_REFUSED - Login was refused using authentication mechanism "
                                    f"{mechanism}. For details see the broker logfile.")


def test_bad_credentials_with_pika(broker):
    with pytest.raises(pika.exceptions.ProbableAuthenticationError) as info:
        broker.connect(credentials=pika.PlainCredentials("nobody-here", "wrong"))
    assert ("(403) 'ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN. "
            "For details see the broker logfile.'") in str(info.value)


def test_unknown_vhost_is_530(broker):
    with pytest.raises(pika.exceptions.ProbableAccessDeniedError) as info:
        broker.connect(virtual_host="no-such-vhost")
    assert "(530) 'NOT_ALLOWED - vhost no-such-vhost not found'" in str(info.value)
    with raw(broker) as c:
        c.handshake(open_vhost=False)
        c.send_frame(commands.Connection.Open(virtual_host="no-such-vhost"))
        close = c.expect(commands.Connection.Close)
        assert (close.reply_code, close.reply_text) == (530, "NOT_ALLOWED - vhost no-such-vhost not found")
        assert (close.class_id, close.method_id) == (10, 40)


def test_frame_max_above_server_maximum_is_refused(broker, legacy_rabbitmq):
    with raw(broker) as c:
        c.handshake(frame_max=131073, open_vhost=False)
        if legacy_rabbitmq:
            # RabbitMQ 3.10 has no tuning-state clause in rabbit_reader:handle_exception, so it
            # drops the socket silently (after its 3 s SILENT_CLOSE_DELAY); 4.x sends the close.
            with pytest.raises(PeerClosed):
                c.recv_frame(timeout=10)
            return
        close = c.expect(commands.Connection.Close)
        assert close.reply_code == 530
        assert close.reply_text == ("NOT_ALLOWED - negotiated frame_max = 131073 is higher than "
                                    "the maximum allowed value (131072)")


def test_heartbeat_proposal_and_negotiation_with_pika(broker):
    proposed = []

    def choose(_conn, server_value):
        proposed.append(server_value)
        return 5

    conn = broker.connect(heartbeat=choose)
    try:
        assert proposed == [60]
        assert conn._impl.params.heartbeat == 5
        conn.process_data_events(time_limit=0.2)
        assert conn.is_open
    finally:
        conn.close()


def test_server_sends_heartbeats_and_drops_a_silent_client(broker):
    with raw(broker) as c:
        c.handshake(heartbeat_s=1)
        began = time.monotonic()
        for _ in range(2):
            frame_type, channel, payload = c.recv_raw_frame(timeout=3)
            # errata §12: a heartbeat is exactly 08 0000 00000000 CE
            assert (frame_type, channel, payload) == (8, 0, b"")
        # We never answer: after missing heartbeats for ~2 intervals the server closes the socket.
        c.read_to_eof(timeout=10)
        assert time.monotonic() - began < 10


def test_client_closes_channel_and_reopens_it(broker):
    conn = broker.connect()
    try:
        ch = conn.channel(channel_number=7)
        ch.close()
        assert ch.is_closed
        again = conn.channel(channel_number=7)
        q = again.queue_declare("", exclusive=True).method.queue
        assert q.startswith("amq.gen-")
    finally:
        conn.close()


def test_server_closes_channel_and_connection_survives(broker):
    conn = broker.connect()
    try:
        ch = conn.channel()
        with pytest.raises(pika.exceptions.ChannelClosedByBroker) as info:
            ch.queue_declare("mqgw-certainly-missing-queue", passive=True)
        assert info.value.reply_code == 404
        assert conn.is_open
        assert conn.channel().queue_declare("", exclusive=True).method.queue.startswith("amq.gen-")
    finally:
        conn.close()


def test_server_channel_close_is_answered_and_channel_id_reused(broker):
    with raw(broker) as c:
        c.handshake()
        c.open_channel(3)
        c.send_frame(commands.Queue.Declare(queue="mqgw-certainly-missing-queue", passive=True), 3)
        close = c.expect(commands.Channel.Close)
        assert (close.reply_code, close.class_id, close.method_id) == (404, 50, 10)
        assert close.reply_text == "NOT_FOUND - no queue 'mqgw-certainly-missing-queue' in vhost '/'"
        c.send_frame(commands.Channel.CloseOk(), 3)
        c.open_channel(3)
        c.send_frame(commands.Channel.Close(reply_code=200, reply_text="bye", class_id=0, method_id=0), 3)
        c.expect(commands.Channel.CloseOk)


def test_client_closes_connection(broker):
    with raw(broker) as c:
        c.handshake()
        c.open_channel(1)
        c.send_frame(commands.Connection.Close(reply_code=200, reply_text="bye", class_id=0, method_id=0))
        c.expect(commands.Connection.CloseOk)


def test_channel_flow(broker):
    conn = broker.connect()
    try:
        assert conn.channel().flow(True) is True
        # RabbitMQ never supported a client pausing the server's deliveries (rabbit_channel: 540 active=false)
        with pytest.raises(pika.exceptions.ConnectionClosedByBroker) as info:
            conn.channel().flow(False)
        assert (info.value.reply_code, info.value.reply_text) == (540, "NOT_IMPLEMENTED - active=false")
    finally:
        if conn.is_open:
            conn.close()


def test_update_secret_with_pika(broker):
    conn = broker.connect()
    try:
        conn.update_secret(broker.password, "rotated by test")
        assert conn.channel().queue_declare("", exclusive=True).method.queue.startswith("amq.gen-")
    finally:
        conn.close()


def test_update_secret_raw(broker):
    with raw(broker) as c:
        c.handshake()
        c.send_frame(commands.Connection.UpdateSecret(new_secret=broker.password, reason="rotation"))
        c.expect(commands.Connection.UpdateSecretOk)
        c.open_channel(1)


@pytest.mark.parametrize("header", [b"AMQP\x00\x00\x08\x00", b"AMQP\x00\x00\x09\x02", b"AMQP\x01\x01\x00\x0a"])
def test_wrong_amqp_protocol_header_gets_091_header_and_close(broker, header):
    with raw(broker) as c:
        c.send(header)
        assert c.read_to_eof() == b"AMQP\x00\x00\x09\x01"


@pytest.mark.parametrize("junk", [b"HELO\n\n\n\n", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"])
def test_non_amqp_bytes_get_an_amqp_header_and_close(broker, junk):
    # amqplib's CI probes readiness with `echo HELO | nc host 5672 | grep AMQP`. RabbitMQ 3.10
    # answers with the 0-9-1 header, 4.x with the AMQP 1.0 SASL one; either is an AMQP header.
    with raw(broker) as c:
        c.send(junk)
        reply = c.read_to_eof()
        assert reply in (b"AMQP\x00\x00\x09\x01", b"AMQP\x03\x01\x00\x00")


# (frame bytes, expected code, reply-text prefix). RabbitMQ's explanation for frame errors
# quotes Erlang terms, so only the "<NAME> - " part of those is compared.
BAD_FRAMES = {
    "unknown-frame-type": (raw_frame(9, 0, b"xxxx"), 501, "FRAME_ERROR - "),
    "bad-frame-end": (raw_frame(1, 0, b"\x00\x0a\x00\x33", end=b"\x00"), 501, "FRAME_ERROR - "),
    "frame-larger-than-frame-max": (raw_frame(1, 0, b"\x00" * 200_000), 501, "FRAME_ERROR - "),
    "garbage-after-handshake": (b"\xff" * 40, 501, "FRAME_ERROR - "),
    "body-frame-on-channel-0": (raw_frame(3, 0, b"abc"), 505, "UNEXPECTED_FRAME - "),
}


@pytest.mark.parametrize("case", sorted(BAD_FRAMES))
def test_bad_frame_closes_only_that_connection(broker, names, case):
    data, code, prefix = BAD_FRAMES[case]
    other = broker.connect()
    try:
        och = other.channel()
        och.confirm_delivery()
        q = names.queue()
        och.queue_declare(q, auto_delete=False)
        with raw(broker) as c:
            c.handshake()
            c.send(data)
            close = c.expect_close_then_eof()
            assert close.reply_code == code
            assert close.reply_text.startswith(prefix)
        och.basic_publish("", q, b"still here")
        method, _, body = och.basic_get(q, auto_ack=True)
        assert body == b"still here"
    finally:
        other.close()


def test_content_header_without_method_is_unexpected_frame(broker):
    with raw(broker) as c:
        c.handshake()
        c.open_channel(1)
        c.send(raw_frame(2, 1, struct.pack(">HHQH", 60, 0, 3, 0)))
        close = c.expect_close_then_eof()
        assert close.reply_code == 505
        assert close.reply_text == "UNEXPECTED_FRAME - expected method frame, got non method frame instead"


def test_truncated_method_is_frame_error(broker):
    with raw(broker) as c:
        c.handshake()
        c.open_channel(1)
        c.send(raw_frame(1, 1, b"\x00\x32\x00\x0a\x00"))  # queue.declare cut after one byte
        close = c.expect_close_then_eof()
        assert (close.reply_code, close.class_id, close.method_id) == (501, 50, 10)
        assert close.reply_text.startswith("FRAME_ERROR - ")


def test_method_before_channel_open_is_504(broker):
    with raw(broker) as c:
        c.handshake()
        c.send_frame(commands.Queue.Declare(queue="zz"), 5)
        close = c.expect_close_then_eof()
        assert (close.reply_code, close.reply_text) == (504, "CHANNEL_ERROR - expected 'channel.open'")


def test_second_channel_open_is_504(broker):
    with raw(broker) as c:
        c.handshake()
        c.open_channel(1)
        c.send_frame(commands.Channel.Open(), 1)
        close = c.expect_close_then_eof()
        assert (close.reply_code, close.reply_text) == (504, "CHANNEL_ERROR - second 'channel.open' seen")
        assert (close.class_id, close.method_id) == (20, 10)


def test_more_channels_than_channel_max_is_530(broker):
    with raw(broker) as c:
        c.handshake(channel_max=2)
        c.open_channel(1)
        c.open_channel(2)
        c.send_frame(commands.Channel.Open(), 3)
        close = c.expect_close_then_eof()
        assert close.reply_code == 530
        assert close.reply_text == ("NOT_ALLOWED - number of channels opened (2) has reached "
                                    "the negotiated channel_max (2)")
