"""AMQP clients against `mqgateway serve --fsync always`: confirms and tx.commit-ok still come,
and what they acknowledged is there after kill -9 (the fsync ordering itself is proven
without a socket in tests/amqp_wire/test_durable_confirms.py)."""

from __future__ import annotations

import pika
import pytest

from tests.server import ServerProcess


@pytest.fixture
def always_server(tmp_path):
    proc = ServerProcess(tmp_path, extra_args=("--fsync", "always")).start()
    yield proc
    proc.stop()


def _drain(channel, queue: str) -> list[bytes]:
    bodies = []
    while True:
        method, _props, body = channel.basic_get(queue, auto_ack=True)
        if method is None:
            return bodies
        bodies.append(body)


def test_confirmed_and_committed_messages_survive_kill9_under_fsync_always(always_server):
    persistent = pika.BasicProperties(delivery_mode=2)
    conn = pika.BlockingConnection(pika.URLParameters(always_server.amqp_url))
    ch = conn.channel()
    ch.queue_declare("fsync-confirm", durable=True)
    ch.queue_declare("fsync-tx", durable=True)
    ch.confirm_delivery()
    for i in range(200):
        ch.basic_publish("", "fsync-confirm", b"c%d" % i, persistent)  # raises unless acked
    tx = conn.channel()
    tx.tx_select()
    for i in range(50):
        tx.basic_publish("", "fsync-tx", b"t%d" % i, persistent)
    tx.tx_commit()
    always_server.kill9()
    always_server.start()
    conn = pika.BlockingConnection(pika.URLParameters(always_server.amqp_url))
    ch = conn.channel()
    assert _drain(ch, "fsync-confirm") == [b"c%d" % i for i in range(200)]
    assert _drain(ch, "fsync-tx") == [b"t%d" % i for i in range(50)]
    conn.close()
