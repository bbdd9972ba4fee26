"""Issue 7: messages cross between Kafka and AMQP clients (docs/cross-protocol.md). Server only.

pika publishes → a confluent-kafka consumer group reads per key order; kafka-python and kcat
produce (every codec, headers, binary keys) → aio-pika consumes from a queue bound to amq.kafka
with the mapped properties; a Kafka topic is a stream queue for AMQP; a transactional abort is
never forwarded; a cycle is refused; a restart in the middle of forwarding loses nothing.
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
import subprocess
import time
from collections import defaultdict

import aio_pika
import pika
import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic
from kafka import KafkaProducer

from engine.bridge.murmur2 import partition_for

pytestmark = pytest.mark.server_only


def as_bytes(value) -> bytes:
    return value if isinstance(value, bytes) else value.encode()


def unique(prefix: str) -> str:
    return f"{prefix}.{secrets.token_hex(4)}"


def create_topic(bootstrap: str, name: str, partitions: int = 1) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)]).values():
        future.result(10)


def pika_conn(url: str) -> pika.BlockingConnection:
    return pika.BlockingConnection(pika.URLParameters(url))


def kafka_consume(bootstrap: str, topic: str, count: int, timeout: float = 20.0) -> list:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": unique("g"), "auto.offset.reset": "earliest",
                         "enable.auto.commit": False})
    consumer.subscribe([topic])
    got = []
    deadline = time.monotonic() + timeout
    try:
        while len(got) < count and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None or msg.error():
                continue
            got.append(msg)
    finally:
        consumer.close()
    return got


async def amqp_collect(url: str, bind_key: str, produce, count: int, timeout: float = 20.0) -> list:
    """Binds a fresh queue to amq.kafka with `bind_key`, runs `produce()`, returns `count` messages."""
    conn = await aio_pika.connect(url)
    try:
        ch = await conn.channel()
        queue = await ch.declare_queue(exclusive=True)
        await queue.bind("amq.kafka", routing_key=bind_key)
        await asyncio.get_running_loop().run_in_executor(None, produce)
        got = []
        async with asyncio.timeout(timeout):
            async with queue.iterator() as it:
                async for message in it:
                    await message.ack()
                    got.append(message)
                    if len(got) >= count:
                        break
        return got
    finally:
        await conn.close()


def test_pika_publishes_confluent_group_reads_per_key_order(server):
    topic = unique("orders")
    create_topic(server.kafka_bootstrap, topic, partitions=3)
    conn = pika_conn(server.amqp_url)
    ch = conn.channel()
    ch.confirm_delivery()
    ch.exchange_declare(unique("x"), "direct")
    ex = unique("x")
    ch.exchange_declare(ex, "direct")
    ch.queue_bind(topic, ex, routing_key="k")  # the topic's stream queue, bound like any queue
    keys = [b"alice", b"bob", b"carol", b"\xff\x00bin"]
    for i in range(40):
        key = keys[i % len(keys)]
        ch.basic_publish(ex, "k", b"%d" % i, pika.BasicProperties(
            headers={"x-kafka-key": key, "h": "v"}, content_type="text/plain", message_id="m%d" % i))
    conn.close()
    got = kafka_consume(server.kafka_bootstrap, topic, 40)
    assert len(got) == 40
    per_key = defaultdict(list)
    for msg in got:
        per_key[msg.key()].append(int(msg.value()))
        assert msg.partition() == partition_for(msg.key(), 3)  # Kafka's default partitioner
        headers = dict(msg.headers())
        assert headers["h"] == b"v" and headers["content-type"] == b"text/plain"
    assert set(per_key) == set(keys)
    for key, values in per_key.items():
        assert values == sorted(values)


CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]


@pytest.mark.parametrize("codec", CODECS)
def test_kafka_python_produce_reaches_aio_pika_via_amq_kafka(server, codec):
    topic = unique(f"kp.{codec}")
    create_topic(server.kafka_bootstrap, topic)
    key = b"\x00\xfe\xffkey"

    def produce():
        producer = KafkaProducer(bootstrap_servers=server.kafka_bootstrap,
                                 compression_type=None if codec == "none" else codec)
        for i in range(5):
            producer.send(topic, value=b"v%d" % i, key=key, timestamp_ms=1_700_000_000_123 + i,
                          headers=[("content-type", b"application/json"), ("bin", b"\x80\x81"),
                                   ("correlation-id", b"corr")])
        producer.flush()
        producer.close()

    got = asyncio.run(amqp_collect(server.amqp_url, "kp.#", produce, 5))
    assert [m.body for m in got] == [b"v%d" % i for i in range(5)]
    first = got[0]
    assert first.routing_key == topic and first.exchange == "amq.kafka"
    assert first.content_type == "application/json" and first.correlation_id == "corr"
    assert first.headers["x-kafka-key"] == key
    assert first.headers["bin"] == b"\x80\x81"
    assert first.headers["x-kafka-topic"] in (topic, topic.encode())
    assert first.headers["x-kafka-partition"] == 0 and first.headers["x-kafka-offset"] == 0
    assert first.headers["x-kafka-timestamp"] == 1_700_000_000_123
    assert first.timestamp.timestamp() == 1_700_000_000


@pytest.mark.parametrize("codec", ["gzip", "snappy", "lz4", "zstd"])
def test_kcat_produce_reaches_aio_pika_via_amq_kafka(server, codec):
    topic = unique(f"kc.{codec}")
    create_topic(server.kafka_bootstrap, topic)

    def produce():
        subprocess.run([shutil.which("kcat"), "-P", "-b", server.kafka_bootstrap, "-t", topic, "-z", codec,
                        "-K", ":", "-H", "app-id=kcat"], input=b"k1:one\nk2:two\n", check=True, timeout=30)

    got = asyncio.run(amqp_collect(server.amqp_url, f"kc.{codec}.*", produce, 2))
    # pamqp hands a longstr that is valid UTF-8 back as str: the bytes on the wire are the key's
    assert [(as_bytes(m.headers["x-kafka-key"]), m.body) for m in got] == [(b"k1", b"one"), (b"k2", b"two")]
    assert got[0].app_id == "kcat"


def test_kafka_topic_is_a_stream_queue(server):
    topic = unique("visible")
    create_topic(server.kafka_bootstrap, topic)
    producer = Producer({"bootstrap.servers": server.kafka_bootstrap})
    for i in range(3):
        producer.produce(topic, value=b"r%d" % i, key=b"k")
    producer.flush(10)
    conn = pika_conn(server.amqp_url)
    ch = conn.channel()
    assert ch.queue_declare(topic, passive=True).method.queue == topic
    ch.basic_qos(prefetch_count=10)
    got = []
    ch.basic_consume(topic, lambda c, m, p, b: (got.append((b, p.headers["x-stream-offset"])),
                                                c.basic_ack(m.delivery_tag)),
                     arguments={"x-stream-offset": 1})
    deadline = time.monotonic() + 10
    while len(got) < 2 and time.monotonic() < deadline:
        conn.process_data_events(time_limit=0.2)
    conn.close()
    assert got == [(b"r1", 1), (b"r2", 2)]


def test_cycle_is_refused(server):
    topic = unique("cyc")
    create_topic(server.kafka_bootstrap, topic)
    conn = pika_conn(server.amqp_url)
    ch = conn.channel()
    with pytest.raises(pika.exceptions.ChannelClosedByBroker) as err:
        ch.queue_bind(topic, "amq.kafka", routing_key="#")
    assert err.value.reply_code == 406 and "cycle" in err.value.reply_text
    ch = conn.channel()
    ex = unique("x")
    ch.exchange_declare(ex, "fanout")
    ch.queue_bind(topic, ex)
    with pytest.raises(pika.exceptions.ChannelClosedByBroker) as err:
        ch.exchange_bind(ex, "amq.kafka", routing_key="#")
    assert err.value.reply_code == 406
    conn.close()


def test_kafkajs_replays_a_stream_queue_filled_over_amqp(server):
    import json
    import pathlib

    q = unique("filled")
    conn = pika_conn(server.amqp_url)
    ch = conn.channel()
    ch.confirm_delivery()
    ch.queue_declare(q, durable=True, arguments={"x-queue-type": "stream"})
    for i in range(20):
        ch.basic_publish("", q, b"\x00\xff%d" % i, pika.BasicProperties(headers={"n": str(i)}))
    conn.close()
    script = pathlib.Path(__file__).with_name("replay.js")
    out = subprocess.run(["node", str(script), json.dumps({"bootstrap": server.kafka_bootstrap, "topic": q,
                                                          "count": 20})],
                         capture_output=True, timeout=60, check=True).stdout.decode()
    rows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert [bytes.fromhex(r["value"]) for r in rows] == [b"\x00\xff%d" % i for i in range(20)]
    assert [int(r["offset"]) for r in rows] == list(range(20))
    assert bytes.fromhex(rows[3]["headers"]["n"]) == b"3"


def test_transactional_abort_is_never_forwarded(server):
    topic = unique("txn")
    create_topic(server.kafka_bootstrap, topic)

    def produce():
        producer = Producer({"bootstrap.servers": server.kafka_bootstrap, "transactional.id": unique("tid")})
        producer.init_transactions(10)
        producer.begin_transaction()
        producer.produce(topic, value=b"aborted-1")
        producer.produce(topic, value=b"aborted-2")
        producer.flush(10)
        producer.abort_transaction(10)
        producer.begin_transaction()
        producer.produce(topic, value=b"committed")
        producer.commit_transaction(10)
        plain = Producer({"bootstrap.servers": server.kafka_bootstrap})
        plain.produce(topic, value=b"after")
        plain.flush(10)

    got = asyncio.run(amqp_collect(server.amqp_url, topic, produce, 2))
    assert [m.body for m in got] == [b"committed", b"after"]


def test_restart_in_the_middle_of_forwarding_loses_nothing(durable_server):
    server = durable_server
    topic = unique("restart")
    create_topic(server.kafka_bootstrap, topic)
    q = unique("sink")
    conn = pika_conn(server.amqp_url)
    ch = conn.channel()
    ch.queue_declare(q, durable=True)
    ch.queue_bind(q, "amq.kafka", routing_key=topic)
    conn.close()
    producer = Producer({"bootstrap.servers": server.kafka_bootstrap, "acks": "all", "linger.ms": 0})
    total = 3000
    for i in range(total):
        producer.produce(topic, value=b"%d" % i)
        if i % 500 == 0:
            producer.poll(0)
    producer.flush(30)
    server.kill9()  # forwarding of the last records may still be under way
    server.start()
    producer = Producer({"bootstrap.servers": server.kafka_bootstrap})
    producer.produce(topic, value=b"after-restart")
    producer.flush(10)
    conn = pika_conn(server.amqp_url)
    ch = conn.channel()
    seen = set()
    deadline = time.monotonic() + 30
    while b"after-restart" not in seen and time.monotonic() < deadline:
        method, _props, body = ch.basic_get(q, auto_ack=True)
        if method is None:
            time.sleep(0.05)
            continue
        seen.add(body)
    conn.close()
    assert {b"%d" % i for i in range(total)} <= seen  # at-least-once: duplicates allowed, gaps not
    assert b"after-restart" in seen


def test_stream_queue_survives_restart_and_its_bindings_too(durable_server):
    server = durable_server
    q = unique("durable")
    ex = unique("x")
    conn = pika_conn(server.amqp_url)
    ch = conn.channel()
    ch.confirm_delivery()
    ch.queue_declare(q, durable=True, arguments={"x-queue-type": "stream"})
    ch.exchange_declare(ex, "fanout", durable=True)
    ch.queue_bind(q, ex)
    for i in range(3):
        ch.basic_publish(ex, "", b"before%d" % i)
    conn.close()
    server.kill9()
    server.start()
    conn = pika_conn(server.amqp_url)
    ch = conn.channel()
    ch.confirm_delivery()
    ch.basic_publish(ex, "", b"after")  # the binding came back
    ch.basic_qos(prefetch_count=10)
    got = []
    ch.basic_consume(q, lambda c, m, p, b: (got.append(b), c.basic_ack(m.delivery_tag)),
                     arguments={"x-stream-offset": "first"})
    deadline = time.monotonic() + 10
    while len(got) < 4 and time.monotonic() < deadline:
        conn.process_data_events(time_limit=0.2)
    conn.close()
    assert got == [b"before0", b"before1", b"before2", b"after"]


def test_deleting_the_topic_deletes_the_stream_queue(server):
    topic = unique("gone")
    create_topic(server.kafka_bootstrap, topic)
    conn = pika_conn(server.amqp_url)
    ch = conn.channel()
    ch.queue_declare(topic, passive=True)
    admin = AdminClient({"bootstrap.servers": server.kafka_bootstrap})
    for future in admin.delete_topics([topic]).values():
        future.result(10)
    with pytest.raises(pika.exceptions.ChannelClosedByBroker) as err:
        ch.queue_declare(topic, passive=True)
    assert err.value.reply_code == 404
    conn.close()
    assert topic not in AdminClient({"bootstrap.servers": server.kafka_bootstrap}).list_topics(timeout=10).topics


def test_a_stream_whose_topic_was_deleted_stays_deleted_after_restart(durable_server):
    server = durable_server
    q = unique("gone-durable")
    conn = pika_conn(server.amqp_url)
    ch = conn.channel()
    ch.queue_declare(q, durable=True, arguments={"x-queue-type": "stream"})
    conn.close()
    admin = AdminClient({"bootstrap.servers": server.kafka_bootstrap})
    for future in admin.delete_topics([q]).values():
        future.result(10)
    server.stop()
    server.start()
    conn = pika_conn(server.amqp_url)
    ch = conn.channel()
    with pytest.raises(pika.exceptions.ChannelClosedByBroker) as err:
        ch.queue_declare(q, passive=True)
    assert err.value.reply_code == 404
    conn.close()
    assert q not in AdminClient({"bootstrap.servers": server.kafka_bootstrap}).list_topics(timeout=10).topics
