"""Abusive clients meet the listener's limits (docs/operations.md), over real sockets to a real process."""

from __future__ import annotations

import socket
import struct
import threading
import time

import pika
import pytest

from tests.compat.kafka_helpers import topic_name
from tests.kafka_wire.kafka_requests import fetch, metadata, produce
from tests.kafka_wire.rawkafka import RawKafka, record_batch
from tests.reliability.support import (
    AMQP_HEADER, API_VERSIONS_V0, api_versions_ok, closed_within, connect, kafka_frame, read_frame, rss_bytes,
)
from tests.server import ServerProcess


@pytest.fixture
def limited(tmp_path, request):
    proc = ServerProcess(tmp_path, memory=True, extra_args=tuple(request.param)).start()
    time.sleep(0.3)  # the start-up probes' connections are released in the server
    yield proc
    proc.stop()


@pytest.mark.parametrize("limited", [("--max-connections-per-source", "3")], indirect=True)
def test_per_source_limit_refuses_with_one_log_line_and_frees_on_close(limited):
    held = [connect(limited.kafka_port) for _ in range(2)] + [connect(limited.amqp_port)]
    try:
        for sock in held[:2]:
            sock.sendall(API_VERSIONS_V0)
            assert read_frame(sock)[:4] == (7).to_bytes(4, "big")
        refused = [connect(limited.kafka_port) for _ in range(4)]
        for sock in refused:
            assert closed_within(sock, 5), "a connection over the per-source limit must be closed"
            sock.close()
        # Another source address is counted on its own.
        assert api_versions_ok(limited.kafka_port, source="127.0.0.2")
        # A freed slot is usable again.
        held.pop().close()
        deadline = time.monotonic() + 5
        while not api_versions_ok(limited.kafka_port) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert api_versions_ok(limited.kafka_port)
    finally:
        for sock in held:
            sock.close()
    log = limited.log()
    line = "refused kafka connection from 127.0.0.1: 127.0.0.1 holds its maximum of 3 connections " \
           "(max_connections_per_source)"
    assert log.count(line) == 1, log  # four refusals, one line a minute


@pytest.mark.parametrize("limited", [("--max-connections", "3")], indirect=True)
def test_total_limit_counts_both_listeners(limited):
    held = [connect(limited.kafka_port), connect(limited.amqp_port, source="127.0.0.2"),
            connect(limited.amqp_port, source="127.0.0.3")]
    try:
        time.sleep(0.2)  # the accepts are counted in the server
        for port in (limited.kafka_port, limited.amqp_port):
            with connect(port, source="127.0.0.4") as extra:
                assert closed_within(extra, 5)
        assert "holds its maximum of 3 connections (max_connections)" in limited.log()
        held[0].sendall(API_VERSIONS_V0)
        assert read_frame(held[0])[:4] == (7).to_bytes(4, "big")
    finally:
        for sock in held:
            sock.close()


@pytest.mark.parametrize("limited", [("--handshake-timeout-ms", "400")], indirect=True)
def test_slowloris_connections_are_closed_after_the_handshake_timeout(limited):
    silent = connect(limited.kafka_port)
    partial = connect(limited.kafka_port, source="127.0.0.2")
    partial.sendall(API_VERSIONS_V0[:6])  # a request that never completes
    amqp_silent = connect(limited.amqp_port)
    spoke = connect(limited.kafka_port, source="127.0.0.3")
    spoke.sendall(API_VERSIONS_V0)
    assert read_frame(spoke)[:4] == (7).to_bytes(4, "big")
    # AMQP: the handshake ends at connection.open-ok, so a client that sends the protocol
    # header and then stalls before connection.open is closed like a silent one ...
    amqp_stalled = connect(limited.amqp_port, source="127.0.0.3")
    amqp_stalled.sendall(AMQP_HEADER)
    # ... while a fully opened connection (heartbeats off) that then says nothing is not.
    opened = pika.BlockingConnection(pika.URLParameters(limited.amqp_url + "?heartbeat=0"))
    try:
        started = time.monotonic()
        for sock in (silent, partial, amqp_silent, amqp_stalled):
            assert closed_within(sock, 5)
        assert time.monotonic() - started < 3
        # A connection that completed its handshake is left alone well past the timeout.
        assert not closed_within(spoke, 1.5)
        spoke.sendall(API_VERSIONS_V0)
        assert read_frame(spoke)[:4] == (7).to_bytes(4, "big")
        assert opened.is_open
        channel = opened.channel()  # a round trip: the server has not dropped it
        channel.queue_declare("", exclusive=True)
    finally:
        for sock in (silent, partial, amqp_silent, spoke, amqp_stalled):
            sock.close()
        opened.close()
    log = limited.log()
    assert "closing kafka connection from 127.0.0.1: no protocol handshake within 0.4 s (handshake_timeout_ms)" in log
    assert "closing amqp connection from 127.0.0.1: no protocol handshake within 0.4 s" in log
    assert "closing amqp connection from 127.0.0.3: no protocol handshake within 0.4 s" in log


@pytest.mark.parametrize("limited", [("--kafka-idle-timeout-ms", "600")], indirect=True)
def test_idle_kafka_connections_are_closed_but_not_while_an_answer_is_owed(limited):
    name = topic_name("idle")
    with RawKafka(limited.kafka_bootstrap) as kafka:
        kafka.send(metadata(12, [name]))  # auto-creates the topic
        kafka.produce(name, 0, [b"x"])
    with connect(limited.kafka_port) as idle, connect(limited.kafka_port) as polling:
        idle.sendall(API_VERSIONS_V0)
        read_frame(idle)
        # A long poll at the end of the log: nothing comes for 2 s, well past the idle timeout.
        polling.sendall(kafka_frame(fetch(12, [(name, 0, 1)], max_wait_ms=2000, min_bytes=1), correlation_id=9))
        started = time.monotonic()
        assert closed_within(idle, 5)
        assert 0.5 < time.monotonic() - started < 3.5
        frame = read_frame(polling)
        assert frame[:4] == (9).to_bytes(4, "big") and time.monotonic() - started > 1.5
        assert closed_within(polling, 5)  # and idle after that
    assert "closing idle kafka connection from 127.0.0.1: nothing received for 0.6 s (kafka_idle_timeout_ms)" \
        in limited.log()


@pytest.mark.parametrize("limited", [("--kafka-max-request-bytes", "4096")], indirect=True)
def test_max_request_bytes_is_configurable(limited):
    name = topic_name("maxreq")
    with RawKafka(limited.kafka_bootstrap) as kafka:
        kafka.send(metadata(12, [name]))
        kafka.produce(name, 0, [b"a" * 1000])
    with connect(limited.kafka_port) as big:
        big.sendall(kafka_frame(produce(9, name, record_batch([b"b" * 8000]))))
        assert closed_within(big, 5)
    assert "declared request size" in limited.log()


def test_a_client_that_does_not_read_cannot_make_the_broker_buffer(tmp_path):
    """Pipelined fetches of 1 MiB each, never read: the broker stops reading instead of buffering."""
    with ServerProcess(tmp_path, memory=True) as server:
        name = topic_name("slowreader")
        with RawKafka(server.kafka_bootstrap) as kafka:
            kafka.send(metadata(12, [name]))
            for _ in range(4):
                kafka.produce(name, 0, [b"v" * 256 * 1024])
        requests = 300  # 300 MiB of answers if the broker buffered them
        request = kafka_frame(fetch(12, [(name, 0, 0)], partition_max_bytes=1 << 20), correlation_id=1)
        sock = connect(server.kafka_port, timeout=60)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        before = rss_bytes(server.proc.pid)
        sent = threading.Event()
        sender = threading.Thread(target=lambda: (sock.sendall(request * requests), sent.set()), daemon=True)
        sender.start()
        time.sleep(3)
        grown = rss_bytes(server.proc.pid) - before
        # The requests themselves fit in the socket buffers; what must not happen is the
        # broker answering them all into its write buffer: its high-water mark (4 MiB) plus
        # a response or two, not 300 MiB (without the session's flow control: ~230 MiB).
        assert grown < 48 * 1024 * 1024, f"server grew {grown / 2**20:.1f} MiB"
        # Another client is served meanwhile.
        assert api_versions_ok(server.kafka_port)
        # Reading resumes the flow; every answer arrives, in order.
        for _ in range(requests):
            frame = read_frame(sock)
            assert frame[:4] == (1).to_bytes(4, "big") and len(frame) > 512 * 1024
        sender.join(10)
        assert sent.is_set()
        sock.close()
