"""Compression passes through the broker untouched: each codec produced by one client, consumed by another.

The broker stores compressed batches verbatim (it never decompresses on produce or fetch),
so what matters is that every client reads what every other client wrote.
"""

from __future__ import annotations

import asyncio
import subprocess
import time

import pytest
from aiokafka import AIOKafkaProducer
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
from kafka import KafkaConsumer, KafkaProducer
from kafka import TopicPartition as KpTopicPartition

from tests.compat.kafka_helpers import topic_name
from tests.kafka_wire.kafka_requests import fetch
from tests.kafka_wire.rawkafka import RawKafka

CODECS = ["gzip", "snappy", "lz4", "zstd"]
CODEC_IDS = {"gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}
VALUES = [(b"k%d" % i, (b"compressible %d " % i) * 20) for i in range(40)]


def produce_confluent(bootstrap, topic, codec):
    producer = Producer({"bootstrap.servers": bootstrap, "compression.codec": codec, "linger.ms": 20})
    for k, v in VALUES:
        producer.produce(topic, key=k, value=v, partition=0)
    assert producer.flush(20) == 0


def produce_kafka_python(bootstrap, topic, codec):
    producer = KafkaProducer(bootstrap_servers=bootstrap, compression_type=codec, linger_ms=20)
    for k, v in VALUES:
        producer.send(topic, key=k, value=v, partition=0)
    producer.flush(20)
    producer.close()


def produce_aiokafka(bootstrap, topic, codec):
    async def run():
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, compression_type=codec, linger_ms=20)
        await producer.start()
        try:
            batch = [await producer.send(topic, key=k, value=v, partition=0) for k, v in VALUES]
            await asyncio.gather(*batch)
        finally:
            await producer.stop()

    asyncio.run(run())


def consume_kafka_python(bootstrap, topic):
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    tp = KpTopicPartition(topic, 0)
    consumer.assign([tp])
    consumer.seek_to_beginning(tp)
    out, deadline = [], time.monotonic() + 20
    while len(out) < len(VALUES) and time.monotonic() < deadline:
        for batch in consumer.poll(timeout_ms=500).values():
            out.extend((r.key, r.value) for r in batch)
    consumer.close()
    return out


def consume_confluent(bootstrap, topic):
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "unused", "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    out, deadline = [], time.monotonic() + 20
    while len(out) < len(VALUES) and time.monotonic() < deadline:
        for m in consumer.consume(num_messages=1000, timeout=0.5):
            assert m.error() is None, m.error()
            out.append((m.key(), m.value()))
    consumer.close()
    return out


def consume_kcat(bootstrap, topic):
    proc = subprocess.run(["kcat", "-b", bootstrap, "-C", "-t", topic, "-o", "beginning", "-e", "-f", "%k|%s\n"],
                          capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return [tuple(part.encode() for part in line.split("|", 1)) for line in proc.stdout.decode().splitlines()]


PAIRS = [
    (produce_confluent, consume_kafka_python),
    (produce_kafka_python, consume_confluent),
    (produce_aiokafka, consume_kcat),
]


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("produce, consume", PAIRS, ids=lambda f: f.__name__.split("_", 1)[1])
def test_codec_round_trip_between_clients(kafka_bootstrap, codec, produce, consume):
    topic = topic_name(f"codec-{codec}")
    produce(kafka_bootstrap, topic, codec)
    # The broker stored the producer's compressed batches as they came (attributes bits 0-2).
    with RawKafka(kafka_bootstrap) as raw:
        (t,) = raw.send(fetch(12, [(topic, 0, 0)])).responses
    records = t.partitions[0].records
    assert records and records[22] & 0x07 == CODEC_IDS[codec]
    assert consume(kafka_bootstrap, topic) == VALUES
