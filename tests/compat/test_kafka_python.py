"""kafka-python 3 against a real server: admin, keyed produce with headers, assign/seek consume, offsets.

kafka-python 3 negotiates the flexible versions (ApiVersions v4, Produce v9, Fetch v12,
Metadata v12 capped by us) and is idempotent by default, so every producer here sends
InitProducerId and sequence numbers.
"""

from __future__ import annotations

import time

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic

from tests.compat.kafka_helpers import keyed_records, topic_name


@pytest.fixture
def admin(kafka_bootstrap):
    client = KafkaAdminClient(bootstrap_servers=kafka_bootstrap, request_timeout_ms=10000)
    yield client
    client.close()


def consume_all(bootstrap: str, topic: str, partitions: int, expected: int, **config) -> list:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None, **config)
    tps = [TopicPartition(topic, p) for p in range(partitions)]
    consumer.assign(tps)
    consumer.seek_to_beginning(*tps)
    records = []
    deadline = time.monotonic() + 20
    while len(records) < expected and time.monotonic() < deadline:
        for batch in consumer.poll(timeout_ms=500).values():
            records.extend(batch)
    consumer.close()
    return records


def test_create_produce_consume_keyed_with_headers(admin, kafka_bootstrap):
    topic = topic_name("kp")
    admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", linger_ms=5)
    sent = keyed_records(60)
    futures = [producer.send(topic, key=k, value=v, headers=h) for k, v, h in sent]
    metas = [f.get(timeout=20) for f in futures]
    producer.close()
    assert {m.partition for m in metas} == {0, 1, 2}

    received = consume_all(kafka_bootstrap, topic, 3, len(sent))
    assert len(received) == len(sent)
    by_partition: dict[int, list] = {}
    for r in received:
        by_partition.setdefault(r.partition, []).append(r)
    for partition, records in by_partition.items():
        # Order per partition: offsets consecutive from 0, values in send order.
        assert [r.offset for r in records] == list(range(len(records)))
        expected = [(m, s) for m, s in zip(metas, sent) if m.partition == partition]
        assert [(r.key, r.value, list(r.headers)) for r in records] == [(k, v, h) for _, (k, v, h) in expected]
        assert [r.offset for r in records] == [m.offset for m, _ in expected]
    admin.delete_topics([topic])
    assert topic not in admin.list_topics()


def test_offsets_by_timestamp_and_seek(admin, kafka_bootstrap):
    topic = topic_name("kp-ts")
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    base = int(time.time() * 1000) - 100_000
    for i in range(10):
        producer.send(topic, value=b"v%d" % i, timestamp_ms=base + i * 1000).get(timeout=20)
    producer.close()

    consumer = KafkaConsumer(bootstrap_servers=kafka_bootstrap, enable_auto_commit=False, group_id=None)
    tp = TopicPartition(topic, 0)
    consumer.assign([tp])
    assert consumer.beginning_offsets([tp]) == {tp: 0}
    assert consumer.end_offsets([tp]) == {tp: 10}
    found = consumer.offsets_for_times({tp: base + 4500})[tp]
    assert (found.offset, found.timestamp) == (5, base + 5000)
    assert consumer.offsets_for_times({tp: base + 100_000})[tp] is None
    consumer.seek(tp, 7)
    records = []
    deadline = time.monotonic() + 10
    while len(records) < 3 and time.monotonic() < deadline:
        for batch in consumer.poll(timeout_ms=500).values():
            records.extend(batch)
    consumer.close()
    assert [(r.offset, r.value, r.timestamp) for r in records] == [
        (i, b"v%d" % i, base + i * 1000) for i in (7, 8, 9)]


def test_consumer_long_poll_receives_later_records(admin, kafka_bootstrap):
    topic = topic_name("kp-lp")
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    consumer = KafkaConsumer(bootstrap_servers=kafka_bootstrap, enable_auto_commit=False, group_id=None,
                             fetch_max_wait_ms=5000)
    tp = TopicPartition(topic, 0)
    consumer.assign([tp])
    consumer.seek_to_beginning(tp)
    assert consumer.poll(timeout_ms=300) == {}
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
    producer.send(topic, value=b"late").get(timeout=20)
    producer.close()
    started = time.monotonic()
    records = []
    while not records and time.monotonic() - started < 10:
        for batch in consumer.poll(timeout_ms=500).values():
            records.extend(batch)
    consumer.close()
    assert [r.value for r in records] == [b"late"]
    # Woken by the append, not by the 5 s max wait.
    assert time.monotonic() - started < 4
