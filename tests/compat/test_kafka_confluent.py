"""confluent-kafka (librdkafka 2.x) against a real server: flexible ApiVersions v3, Produce up to
v10, Fetch v12 (no topic ids), read_committed consumption by default — so the last stable
offset must be right — admin create/delete, offsets by timestamp, seek.
"""

from __future__ import annotations

import time

from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from tests.compat.kafka_helpers import keyed_records, topic_name


def consumer_for(bootstrap: str, **extra) -> Consumer:
    return Consumer({"bootstrap.servers": bootstrap, "group.id": "unused-no-commits",
                     "enable.auto.commit": False, "enable.auto.offset.store": False, **extra})


def consume_assigned(bootstrap: str, tps: list[TopicPartition], expected: int) -> list:
    consumer = consumer_for(bootstrap)
    consumer.assign(tps)
    out = []
    deadline = time.monotonic() + 20
    while len(out) < expected and time.monotonic() < deadline:
        for message in consumer.consume(num_messages=1000, timeout=0.5):
            assert message.error() is None, message.error()
            out.append(message)
    consumer.close()
    return out


def test_create_produce_consume_keyed_with_headers(kafka_bootstrap):
    topic = topic_name("ck")
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])[topic].result(timeout=20)
    producer = Producer({"bootstrap.servers": kafka_bootstrap, "acks": "all", "linger.ms": 5,
                         "enable.idempotence": True})
    delivered = []
    sent = keyed_records(60)
    for k, v, h in sent:
        producer.produce(topic, key=k, value=v, headers=h,
                         on_delivery=lambda err, msg: delivered.append((err, msg)))
    assert producer.flush(20) == 0
    assert all(err is None for err, _ in delivered)
    assert {m.partition() for _, m in delivered} == {0, 1, 2}

    received = consume_assigned(kafka_bootstrap, [TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(3)],
                                len(sent))
    assert len(received) == len(sent)
    sent_by_value = {v: (k, h) for k, v, h in sent}
    for partition in range(3):
        got = [m for m in received if m.partition() == partition]
        assert [m.offset() for m in got] == list(range(len(got)))
        want = [m.value() for _, m in delivered if m.partition() == partition]
        assert [m.value() for m in got] == want
        for m in got:
            key, headers = sent_by_value[m.value()]
            assert m.key() == key and m.headers() == headers
    admin.delete_topics([topic])[topic].result(timeout=20)
    assert topic not in admin.list_topics(timeout=10).topics


def test_offsets_by_timestamp_watermarks_and_seek(kafka_bootstrap):
    topic = topic_name("ck-ts")
    producer = Producer({"bootstrap.servers": kafka_bootstrap, "acks": "all"})
    base = int(time.time() * 1000) - 100_000
    for i in range(10):
        producer.produce(topic, value=b"v%d" % i, timestamp=base + i * 1000)
    assert producer.flush(20) == 0
    consumer = consumer_for(kafka_bootstrap)
    assert consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10) == (0, 10)
    [found] = consumer.offsets_for_times([TopicPartition(topic, 0, base + 6500)], timeout=10)
    assert found.offset == 7
    [past] = consumer.offsets_for_times([TopicPartition(topic, 0, base + 100_000)], timeout=10)
    assert past.offset == -1  # OFFSET_END: no record that late
    consumer.assign([TopicPartition(topic, 0, 7)])
    out = []
    deadline = time.monotonic() + 20
    while len(out) < 3 and time.monotonic() < deadline:
        out.extend(m for m in consumer.consume(num_messages=100, timeout=0.5) if m.error() is None)
    consumer.close()
    assert [(m.offset(), m.value(), m.timestamp()[1]) for m in out] == [
        (i, b"v%d" % i, base + i * 1000) for i in (7, 8, 9)]
