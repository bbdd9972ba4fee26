"""Issue 7: a multi-partition Kafka topic consumed over AMQP as a stream queue reads every partition.

kafka-python produces keyed records to a 3-partition topic; a pika consumer with
x-stream-offset=first gets all of them, per-partition order intact, each with x-stream-offset (its
partition's offset) and x-kafka-partition; an aio-pika consumer with `next` gets only records
produced after it started, from every partition; AMQP publishes keyed by x-kafka-key land in
murmur2's partition and come back with that partition. Server only (RabbitMQ has no topics).
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict

import aio_pika
import pika
import pytest
from kafka import KafkaProducer

from engine.bridge.murmur2 import partition_for
from tests.compat.cross.test_bridge import create_topic, kafka_consume, unique

pytestmark = pytest.mark.server_only
KEYS = [b"alice", b"bob", b"carol", b"dave", b"\xff\x00bin"]


def produce(bootstrap: str, topic: str, start: int, count: int) -> dict[int, list[tuple[int, bytes]]]:
    """Keyed records; returns {partition: [(offset, value)]} as the broker acknowledged them."""
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    futures = [producer.send(topic, key=KEYS[i % len(KEYS)], value=b"v%d" % i) for i in range(start, start + count)]
    producer.flush(10)
    written = defaultdict(list)
    for i, future in zip(range(start, start + count), futures):
        meta = future.get(10)
        written[meta.partition].append((meta.offset, b"v%d" % i))
    producer.close()
    return written


def pika_consume(url: str, topic: str, count: int, offset, prefetch: int = 7) -> list:
    conn = pika.BlockingConnection(pika.URLParameters(url))
    ch = conn.channel()
    ch.basic_qos(prefetch_count=prefetch)
    got = []

    def on_message(channel, method, properties, body):
        got.append((body, properties.headers))
        channel.basic_ack(method.delivery_tag)

    ch.basic_consume(topic, on_message, arguments={"x-stream-offset": offset})
    deadline = time.monotonic() + 15
    while len(got) < count and time.monotonic() < deadline:
        conn.process_data_events(time_limit=0.2)
    conn.process_data_events(time_limit=0.3)  # nothing more may arrive
    conn.close()
    return got


def by_partition(got: list) -> dict[int, list[tuple[int, bytes]]]:
    parts = defaultdict(list)
    for body, headers in got:
        parts[headers["x-kafka-partition"]].append((headers["x-stream-offset"], body))
    return dict(parts)


def test_first_reads_every_partition_in_order_with_headers(server):
    topic = unique("parted")
    create_topic(server.kafka_bootstrap, topic, partitions=3)
    written = produce(server.kafka_bootstrap, topic, 0, 60)
    assert len(written) == 3  # the keys spread over all three partitions
    got = pika_consume(server.amqp_url, topic, 60, "first")
    assert len(got) == 60
    assert by_partition(got) == dict(written)  # every record, in its partition's order, right offsets
    for body, headers in got:
        key = headers["x-kafka-key"]  # pika hands a longstr back as str when it is UTF-8
        assert partition_for(key if isinstance(key, bytes) else key.encode(), 3) == headers["x-kafka-partition"]
        assert isinstance(headers["x-kafka-timestamp"], int)


def test_integer_offset_applies_to_every_partition(server):
    topic = unique("parted")
    create_topic(server.kafka_bootstrap, topic, partitions=3)
    written = produce(server.kafka_bootstrap, topic, 0, 60)
    expected = {p: [(o, v) for o, v in records if o >= 5] for p, records in written.items()}
    got = pika_consume(server.amqp_url, topic, sum(map(len, expected.values())), 5)
    assert by_partition(got) == expected


def test_next_gets_only_new_records_from_every_partition(server):
    topic = unique("parted")
    create_topic(server.kafka_bootstrap, topic, partitions=3)
    produce(server.kafka_bootstrap, topic, 0, 30)

    async def run() -> tuple[list, dict]:
        conn = await aio_pika.connect(server.amqp_url)
        try:
            ch = await conn.channel()
            await ch.set_qos(prefetch_count=5)
            queue = await ch.get_queue(topic, ensure=False)
            got: list = []
            done = asyncio.Event()

            async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
                await message.ack()
                got.append((message.body, message.headers))
                if len(got) >= 30:
                    done.set()

            await queue.consume(on_message, arguments={"x-stream-offset": "next"})
            await asyncio.sleep(0.3)
            written = await asyncio.get_running_loop().run_in_executor(
                None, produce, server.kafka_bootstrap, topic, 100, 30)
            await asyncio.wait_for(done.wait(), 15)
            await asyncio.sleep(0.3)
            return got, written
        finally:
            await conn.close()

    got, written = asyncio.run(run())
    assert len(got) == 30 and len(written) == 3
    assert by_partition(got) == dict(written)


def test_amqp_keyed_publish_lands_in_murmur2_partition_and_comes_back(server):
    topic = unique("parted")
    create_topic(server.kafka_bootstrap, topic, partitions=3)
    conn = pika.BlockingConnection(pika.URLParameters(server.amqp_url))
    ch = conn.channel()
    ch.confirm_delivery()
    ch.queue_declare(topic, passive=True)  # the topic's stream queue appears when first named
    for i in range(20):
        ch.basic_publish("", topic, b"a%d" % i, pika.BasicProperties(headers={"x-kafka-key": KEYS[i % 4]}))
    conn.close()
    records = kafka_consume(server.kafka_bootstrap, topic, 20)
    assert len(records) == 20
    for msg in records:
        assert msg.partition() == partition_for(msg.key(), 3)
    got = pika_consume(server.amqp_url, topic, 20, "first")
    assert len(got) == 20
    for body, headers in got:
        i = int(body[1:])
        assert headers["x-kafka-partition"] == partition_for(KEYS[i % 4], 3)
    for partition, records in by_partition(got).items():
        values = [int(body[1:]) for _, body in records]
        assert values == sorted(values)
