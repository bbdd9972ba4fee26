"""10,000 idle connections are held with bounded memory, and a well-behaved client still works.

Every connection completes its handshake (ApiVersions for Kafka, the full connection.open
for AMQP), so neither the handshake timeout nor a refusal closes it; they come from several
loopback source addresses, as many clients would, each under the per-source limit. The
server's resident memory is measured before and after; the figure per connection is printed
(`-s`) and asserted under BYTES_PER_CONNECTION_BOUND (docs/operations.md quotes it).
"""

from __future__ import annotations

import resource
import socket
import time

import pika
from kafka import KafkaConsumer, KafkaProducer

from tests.compat.amqp.rawamqp import RawConnection
from tests.compat.kafka_helpers import topic_name
from tests.reliability.support import API_VERSIONS_V0, read_frame, rss_bytes
from tests.server import ServerProcess

KAFKA_CONNECTIONS = 10_000
AMQP_CONNECTIONS = 500
SOURCES = ("127.0.0.2", "127.0.0.3", "127.0.0.4")  # 3,334 each: under the per-source default of 4,096
# Measured ~2.3 KiB per idle Kafka connection, ~5.5 KiB per open AMQP connection (with a
# channel) under uvloop; the bound leaves room for allocator noise, not for a buffer per
# connection.
BYTES_PER_CONNECTION_BOUND = 8 * 1024
AMQP_BYTES_PER_CONNECTION_BOUND = 24 * 1024


def _raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] >= KAFKA_CONNECTIONS + AMQP_CONNECTIONS + 500, \
        "the open-files hard limit is too low for this test"


def _open_kafka(port: int, count: int) -> list[socket.socket]:
    """Connects and completes ApiVersions on `count` connections, a batch at a time."""
    held: list[socket.socket] = []
    batch = 500
    for start in range(0, count, batch):
        fresh = []
        for i in range(start, min(count, start + batch)):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.settimeout(20)
            sock.bind((SOURCES[i % len(SOURCES)], 0))
            sock.connect(("127.0.0.1", port))
            sock.sendall(API_VERSIONS_V0)
            fresh.append(sock)
        for sock in fresh:
            assert read_frame(sock)[:4] == (7).to_bytes(4, "big")
        held += fresh
    return held


def _well_behaved_round_trip(server: ServerProcess) -> None:
    name = topic_name("idle10k")
    producer = KafkaProducer(bootstrap_servers=server.kafka_bootstrap, acks="all")
    for i in range(20):
        producer.send(name, f"m{i}".encode()).get(timeout=20)
    producer.close()
    consumer = KafkaConsumer(name, bootstrap_servers=server.kafka_bootstrap, auto_offset_reset="earliest",
                             consumer_timeout_ms=10_000)
    got = []
    for message in consumer:
        got.append(message.value)
        if len(got) == 20:
            break
    consumer.close()
    assert got == [f"m{i}".encode() for i in range(20)]
    connection = pika.BlockingConnection(pika.URLParameters(server.amqp_url))
    channel = connection.channel()
    queue = channel.queue_declare("", exclusive=True).method.queue
    channel.basic_publish("", queue, b"still here")
    method, _, body = channel.basic_get(queue, auto_ack=True)
    assert body == b"still here"
    connection.close()


def test_ten_thousand_idle_connections_hold_bounded_memory(tmp_path):
    _raise_fd_limit()
    with ServerProcess(tmp_path, memory=True) as server:
        _well_behaved_round_trip(server)  # warm: imports, first topic, first queue
        time.sleep(0.5)
        before = rss_bytes(server.proc.pid)
        started = time.monotonic()
        held = _open_kafka(server.kafka_port, KAFKA_CONNECTIONS)
        opened_in = time.monotonic() - started
        time.sleep(1.0)
        after_kafka = rss_bytes(server.proc.pid)
        amqp = []
        for i in range(AMQP_CONNECTIONS):
            connection = RawConnection("127.0.0.1", server.amqp_port)
            connection.handshake()
            connection.open_channel(1)
            amqp.append(connection)
        time.sleep(0.5)
        peak = rss_bytes(server.proc.pid)
        try:
            per_kafka = (after_kafka - before) / KAFKA_CONNECTIONS
            per_amqp = (peak - after_kafka) / AMQP_CONNECTIONS
            print(f"\n{KAFKA_CONNECTIONS} idle Kafka connections opened in {opened_in:.1f} s: "
                  f"{per_kafka:.0f} bytes each; {AMQP_CONNECTIONS} open AMQP connections: {per_amqp:.0f} bytes each; "
                  f"server RSS {before / 2**20:.1f} MiB -> {peak / 2**20:.1f} MiB")
            assert per_kafka < BYTES_PER_CONNECTION_BOUND
            assert per_amqp < AMQP_BYTES_PER_CONNECTION_BOUND
            # Every held connection is still served, and a new client works alongside them.
            _well_behaved_round_trip(server)
            for sock in held[:: KAFKA_CONNECTIONS // 50]:
                sock.sendall(API_VERSIONS_V0)
                assert read_frame(sock)[:4] == (7).to_bytes(4, "big")
        finally:
            for sock in held:
                sock.close()
            for connection in amqp:
                connection.sock.close()
        assert server.proc.poll() is None
