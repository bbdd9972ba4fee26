"""Core AMQP flows through pika's blocking adapter against a real `mqgateway serve`.

The broad differential suite is tests/compat/amqp/; these are the listener's own smoke
tests, including what needs control of the server process (kill -9, restart, settings,
a non-loopback address).
"""

from __future__ import annotations

import datetime
import os
import resource
import socket
import time

import pika
import pika.exceptions
import pytest

from tests.server import ServerProcess


def connect(url: str) -> pika.BlockingConnection:
    return pika.BlockingConnection(pika.URLParameters(url))


def test_publish_consume_ack_with_every_property(server):
    conn = connect(server.amqp_url)
    try:
        ch = conn.channel()
        q = ch.queue_declare("", exclusive=True).method.queue
        props = pika.BasicProperties(
            content_type="application/json", content_encoding="gzip",
            headers={"s": "x", "i": 7, "big": 2 ** 40, "b": True, "l": [1, "two"], "t": {"n": None}},
            delivery_mode=2, priority=5, correlation_id="corr", reply_to="rq", expiration="60000",
            message_id="mid", timestamp=1_700_000_000, type="kind", user_id="guest", app_id="app")
        ch.basic_publish("", q, b'{"hello": 1}', props)
        ch.basic_publish("", q, b"", pika.BasicProperties())  # empty body, no properties
        method, got, body = ch.basic_get(q)
        assert body == b'{"hello": 1}' and got == props
        assert method.message_count == 1 and not method.redelivered
        ch.basic_nack(method.delivery_tag, requeue=True)
        method, got, body = ch.basic_get(q)
        assert body == b'{"hello": 1}' and method.redelivered
        ch.basic_ack(method.delivery_tag)
        method, _, body = ch.basic_get(q, auto_ack=True)
        assert body == b"" and method.message_count == 0
        assert ch.basic_get(q) == (None, None, None)
    finally:
        conn.close()


def pump(conn: pika.BlockingConnection, done, timeout: float = 5.0, linger: float = 0.3) -> None:
    """Processes events until `done()` holds, then a little longer so that extra deliveries would show."""
    deadline = time.monotonic() + timeout
    while not done() and time.monotonic() < deadline:
        conn.process_data_events(time_limit=0.05)
    end = time.monotonic() + linger
    while (left := end - time.monotonic()) > 0:
        conn.process_data_events(time_limit=left)


def test_round_robin_and_prefetch(server):
    conn = connect(server.amqp_url)
    try:
        ch = conn.channel()
        q = ch.queue_declare("", exclusive=True).method.queue
        ch.basic_qos(prefetch_count=2)
        seen = {"a": [], "b": []}
        ch.basic_consume(q, lambda c, m, p, b: seen["a"].append((m.delivery_tag, b)), consumer_tag="a")
        ch.basic_consume(q, lambda c, m, p, b: seen["b"].append((m.delivery_tag, b)), consumer_tag="b")
        for i in range(10):
            ch.basic_publish("", q, b"%d" % i)
        # process_data_events returns once anything arrived: pump until the windows are full
        pump(conn, lambda: len(seen["a"]) + len(seen["b"]) >= 4)
        assert [b for _, b in seen["a"]] == [b"0", b"2"]  # each consumer holds its own window of 2
        assert [b for _, b in seen["b"]] == [b"1", b"3"]
        for tag, _ in seen["a"]:  # tags are per channel: a multiple-ack would settle b's too
            ch.basic_ack(tag)
        pump(conn, lambda: len(seen["a"]) >= 4)
        assert [b for _, b in seen["a"]] == [b"0", b"2", b"4", b"5"]
    finally:
        conn.close()


def test_unacked_messages_return_redelivered_when_the_channel_closes(server):
    conn = connect(server.amqp_url)
    try:
        ch = conn.channel()
        q = ch.queue_declare("", exclusive=True).method.queue
        for i in range(3):
            ch.basic_publish("", q, b"%d" % i)
        other = conn.channel()
        assert other.basic_get(q)[2] == b"0"
        assert other.basic_get(q)[2] == b"1"
        other.close()
        bodies = [(m.redelivered, b) for m, _, b in (ch.basic_get(q, auto_ack=True) for _ in range(3))]
        assert bodies == [(True, b"0"), (True, b"1"), (False, b"2")]
    finally:
        conn.close()


def test_mandatory_return_then_confirm(server):
    conn = connect(server.amqp_url)
    try:
        ch = conn.channel()
        ch.confirm_delivery()
        with pytest.raises(pika.exceptions.UnroutableError):
            ch.basic_publish("amq.direct", "nobody-home", b"x", mandatory=True)
        ch.basic_publish("amq.direct", "nobody-home", b"x")  # not mandatory: just confirmed
    finally:
        conn.close()


def test_soft_error_closes_channel_hard_error_closes_connection(server):
    conn = connect(server.amqp_url)
    try:
        ch = conn.channel()
        with pytest.raises(pika.exceptions.ChannelClosedByBroker) as info:
            ch.queue_declare("missing-queue", passive=True)
        assert (info.value.reply_code, info.value.reply_text) == (404, "NOT_FOUND - no queue 'missing-queue' in vhost '/'")
        ch = conn.channel()
        with pytest.raises(pika.exceptions.ConnectionClosedByBroker) as info:
            ch.basic_qos(prefetch_size=1)
        assert (info.value.reply_code, info.value.reply_text) == (540, "NOT_IMPLEMENTED - prefetch_size!=0 (1)")
    finally:
        if conn.is_open:
            conn.close()


def test_persistent_messages_survive_kill_9_once_confirmed(durable_server):
    url = durable_server.amqp_url
    conn = connect(url)
    ch = conn.channel()
    ch.confirm_delivery()
    ch.exchange_declare("dx", "topic", durable=True)
    ch.queue_declare("dq", durable=True)
    ch.queue_bind("dq", "dx", "k.#")
    ch.queue_declare("transient-q")
    ch.queue_bind("transient-q", "dx", "k.#")
    for i in range(300):
        ch.basic_publish("dx", "k.a", b"p%d" % i, pika.BasicProperties(delivery_mode=2))
    ch.basic_publish("dx", "k.a", b"not persistent", pika.BasicProperties(delivery_mode=1))
    durable_server.kill9()
    durable_server.start()
    conn = connect(url)
    ch = conn.channel()
    assert ch.queue_declare("dq", passive=True).method.message_count == 300
    ch.exchange_declare("dx", "topic", passive=True)
    with pytest.raises(pika.exceptions.ChannelClosedByBroker):
        ch.queue_declare("transient-q", passive=True)
    ch = conn.channel()
    ch.basic_publish("dx", "k.b", b"bound again", pika.BasicProperties(delivery_mode=2))  # the binding survived
    bodies = [ch.basic_get("dq", auto_ack=True)[2] for _ in range(301)]
    assert bodies == [b"p%d" % i for i in range(300)] + [b"bound again"]
    conn.close()


def test_a_backlog_lives_on_disk_not_in_ram(durable_server):
    conn = connect(durable_server.amqp_url)
    ch = conn.channel()
    ch.queue_declare("backlog")
    body = os.urandom(8192)
    for _ in range(12_000):  # ~100 MB
        ch.basic_publish("", "backlog", body)
    assert ch.queue_declare("backlog", passive=True).method.message_count == 12_000
    rss_kb = int(open(f"/proc/{durable_server.proc.pid}/status").read().split("VmRSS:")[1].split()[0])
    assert rss_kb < 90_000, f"server RSS {rss_kb} kB with a 100 MB backlog"
    method, _, got = ch.basic_get("backlog", auto_ack=True)
    assert got == body and method.message_count == 11_999
    ch.queue_delete("backlog")
    conn.close()


def _non_loopback_address() -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the outbound interface
        return s.getsockname()[0]


def test_guest_only_from_loopback_and_a_configured_user_from_anywhere(tmp_path):
    address = _non_loopback_address()
    assert not address.startswith("127."), "this test needs a non-loopback interface"
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    guest = ServerProcess(tmp_path / "a", memory=True)
    guest.extra_args = ("--amqp", f"0.0.0.0:{guest.amqp_port}")
    with guest:
        with pytest.raises(pika.exceptions.ProbableAuthenticationError) as info:
            connect(f"amqp://guest:guest@{address}:{guest.amqp_port}/")
        assert "403" in str(info.value) and "ACCESS_REFUSED - Login was refused" in str(info.value)
        connect(guest.amqp_url).close()  # loopback is fine
    other = ServerProcess(tmp_path / "b", memory=True)
    other.extra_args = ("--amqp", f"0.0.0.0:{other.amqp_port}", "--amqp-user", "app", "--amqp-password", "s3cret")
    with other:
        connect(f"amqp://app:s3cret@{address}:{other.amqp_port}/").close()
        with pytest.raises(pika.exceptions.ProbableAuthenticationError):
            connect(f"amqp://app:wrong@127.0.0.1:{other.amqp_port}/")


def test_message_size_limit(tmp_path, monkeypatch):
    monkeypatch.setenv("MQGW_AMQP_MAX_MESSAGE_SIZE", "100000")
    with ServerProcess(tmp_path, memory=True) as srv:
        conn = connect(srv.amqp_url)
        ch = conn.channel()
        q = ch.queue_declare("", exclusive=True).method.queue
        ch.basic_publish("", q, b"y" * 100000)
        assert ch.basic_get(q, auto_ack=True)[2] == b"y" * 100000
        with pytest.raises(pika.exceptions.ChannelClosedByBroker) as info:
            ch.basic_publish("", q, b"y" * 100001)
            ch.basic_get(q)
        assert (info.value.reply_code, info.value.reply_text) == (
            406, "PRECONDITION_FAILED - message size 100001 is larger than configured max size 100000")
        conn.close()
